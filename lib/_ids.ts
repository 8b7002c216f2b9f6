// Whose turn it is, for the protocol state (lib/_protocol.ts): the packet ids in use and the next
// one to take (a new packet takes one not in use, MQTT-2.3.1-2), what the requests holding them
// become when a connection ends, and the requests waiting for one.
import { Fifo, Ordered } from "./_ordered.ts";
import type { InFlight, Request } from "./_protocol_types.ts";

const noop = () => {};

/** The packet ids in use, each with what it awaits, in the order they were taken. */
export class PacketIds extends Ordered<number, InFlight> {
  #last = 0;

  /** The next free packet id, or undefined when all 65 535 are in use. */
  take(): number | undefined {
    if (this.size >= 65535) return undefined;
    let id = this.#last;
    do id = id === 65535 ? 1 : id + 1; while (this.has(id));
    return this.#last = id;
  }

  /** Frees `id`, acknowledged. */
  free(id: number): void {
    // All were in use: `id` is the one free, so the next is taken there, not after 65 535 looks.
    if (this.delete(id) && this.size === 65534) this.#last = id - 1 || 65535;
  }

  /**
   * The connection ended with `error`: what is not kept in the session (`kept`: the
   * session store's outgoing packets) rejects and frees its id; a kept publish rejects too
   * unless `keepPending`, and is then awaited no more.
   */
  end(kept: Map<number, Uint8Array>, error: Error, keepPending: boolean): void {
    for (const [id, f] of this) {
      if (!kept.has(id)) {
        this.delete(id);
        f.reject(error);
      } else if (!keepPending) {
        f.reject(error);
        f.resolve = f.reject = noop;
      }
    }
  }
}

// Never written to: a client with nothing waiting carries no queue of its own.
const NONE = new Fifo<Request>();

/**
 * Requests waiting for their turn: publishes wait for room (MQTT 5's Receive Maximum, 3.1.1's
 * maxInflightQoS2) and an id, a SUBSCRIBE or UNSUBSCRIBE for an id alone (MQTT-3.3.4-8 counts
 * PUBLISH packets only). In two queues, so that one that needs only an id is not stuck behind a
 * publish waiting for room while ids are free; of those that may go, the oldest call goes first.
 */
export class Waiting {
  /** The publishes, in call order. */
  publishes = NONE;
  #others = NONE;
  #calls = 0;

  get size(): number {
    return this.publishes.size + this.#others.size;
  }

  /** `r` waits, last. */
  add(r: Request): void {
    r.turn = ++this.#calls;
    if (r.keep) (this.publishes === NONE ? this.publishes = new Fifo() : this.publishes).add(r);
    else (this.#others === NONE ? this.#others = new Fifo() : this.#others).add(r);
  }

  /** Takes `r` out; whether it was waiting. */
  delete(r: Request): boolean {
    return this.publishes.delete(r) || this.#others.delete(r);
  }

  /** Every request waiting, in call order. */
  all(): Request[] {
    return [...this.publishes.keys(), ...this.#others.keys()].sort((a, b) => a.turn! - b.turn!);
  }

  /**
   * The oldest request that may take an id now (a publish only with `room`), if any; those first
   * in line whose signal aborted are dropped on the way.
   */
  next(room: boolean): Request | undefined {
    let p, o;
    while ((p = this.publishes.first())?.signal?.aborted) this.drop(p);
    while ((o = this.#others.first())?.signal?.aborted) this.drop(o);
    return room && p && !(o && o.turn! < p.turn!) ? p : o;
  }

  /** Drops `r` if it still waits, rejected with `why` (default: its signal's reason). */
  drop(r: Request, why: unknown = r.signal?.reason): void {
    if (this.delete(r)) r.reject(why);
  }
}
