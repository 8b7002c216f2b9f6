// The keepalive's arithmetic, part of the protocol state: when a PINGREQ is
// due and when a connection is dead, from the times it is given (no timer,
// no clock), so that tests drive it with numbers; and the PINGREQs awaiting
// their PINGRESP.
import type { Pending } from "./_protocol_types.ts";

const NONE: never[] = [];

/** What the clock watches: the connection's last bytes each way, and where its PINGREQ goes. */
export interface PingLink {
  /** When bytes last came in (ms, on a monotonic clock). */
  readonly lastRead: number;
  /** When bytes last went out. */
  readonly lastWrite: number;
  /** Queues a PINGREQ: the writer's count for it, 0 when it cannot go. */
  pingreq(): number;
}

/** When the keepalive's PINGREQs went and what answered them; made while one is due or awaited. */
export class PingClock {
  /** PINGREQs awaiting their PINGRESP, in order; null for the keepalive's own. */
  pings: (Pending<void> | null)[] = NONE;
  #sentAt = 0;
  // The writer's count for the PINGREQ until it is written (behind a large PUBLISH).
  #ticket = 0;
  // When the oldest PINGREQ that no PINGRESP has followed went out.
  #askedAt = 0;

  /** Bytes went out at `now`: `sent` packets so far for a whole write. */
  wrote(now: number, sent: number): void {
    // The PINGREQ is out: the wait for its answer starts now.
    if (!this.#ticket || sent < this.#ticket) return;
    this.#sentAt = now;
    this.#askedAt ||= now;
    this.#ticket = 0;
  }

  /** A PINGREQ is going out; `pong` settles on its PINGRESP (null: the keepalive's own). */
  expect(pong: Pending<void> | null): void {
    (this.pings === NONE ? this.pings = [] : this.pings).push(pong);
  }

  /**
   * A PINGRESP came: the broker reads what we send. Answers come in order: the oldest's.
   * Returns whether nothing is awaited now (see `idle`).
   */
  answered(): boolean {
    this.pings.shift()?.resolve();
    this.#askedAt = 0;
    // None left awaited: the keepalive's went too, though its write may be reported after this.
    if (!this.pings.length) this.#ticket = 0;
    // Read after the PINGREQ went, even in its millisecond (decide() wants a later one).
    if (!this.#ticket) this.#sentAt = 0;
    return this.idle;
  }

  /** Nothing is awaited nor due to be: the state of a new clock, which the protocol state drops. */
  get idle(): boolean {
    return !this.#sentAt && !this.#ticket && !this.#askedAt && !this.pings.length;
  }

  /** The connection ended with `error`: its PINGREQs reject, nothing is waited for on the next. */
  reset(error: Error): void {
    for (const p of this.pings.splice(0)) p?.reject(error);
    this.#sentAt = this.#ticket = this.#askedAt = 0;
  }

  /**
   * The keepalive's decision at `now`, with an interval of `ms`, on `link`:
   * sends PINGREQ when nothing has been sent, or nothing received, for the
   * interval, and declares the connection dead when, half an interval after
   * a PINGREQ went, not a byte has come back. Until it goes (behind a large
   * PUBLISH on a slow link) that half interval counts from the last bytes
   * written: a write stuck that long is a dead connection too, whatever is
   * read meanwhile. Dead too when a whole interval after a PINGREQ went no
   * PINGRESP has come, whatever else did: a link dead towards the broker
   * only (MQTT 3.1.2.10). Returns when to look again, or -1 (no byte) or -2
   * (no PINGRESP) for a dead connection.
   */
  decide(now: number, ms: number, link: PingLink): number {
    const read = link.lastRead, written = link.lastWrite;
    const asked = this.#askedAt && this.#askedAt + ms;
    if (asked && now >= asked) return -2;
    // A byte read since it went answers it; one read in its millisecond may have come before it.
    if (!this.#ticket && read > this.#sentAt) this.#sentAt = 0;
    // Idle either way: writes into a stalled broker's socket buffer still
    // succeed, so a client that keeps publishing must ask too (as
    // libmosquitto does), or it never learns the broker is gone.
    const idleSince = Math.min(written, read);
    if (!this.#sentAt && now - idleSince >= ms) {
      this.#sentAt = now;
      this.#ticket = link.pingreq();
      if (!this.#ticket) this.#askedAt ||= now;
    }
    const sent = this.#sentAt;
    if (!sent) return asked ? Math.min(idleSince + ms, asked) : idleSince + ms;
    const due = (this.#ticket ? Math.max(sent, written) : sent) + ms / 2;
    return now >= due ? -1 : due;
  }
}
