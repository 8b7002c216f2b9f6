// The keepalive's clock: asks the protocol state when to look again, and
// looks then. Timer-driven, so a slow message handler does not delay it.
//
// All the clients of a process share one timer, set for the earliest of
// their deadlines (a pending timer costs ~1 KB per client; 10 000 idle
// clients need one). In a Worker each keeps a timer of its own: there a
// timer belongs to the request that set it. Before CONNACK the same clock
// keeps the connect timeout, so opening a connection sets no timer either.
//
// Times are performance.now(), never Date.now(): the wall clock may be set
// back or forward (NTP, a user) while a connection is open, and a keepalive
// on it would then stay silent that long, or find a live connection dead.
// Kept in whole milliseconds (msNow()): a fraction makes each field that
// holds one a boxed number, 16 bytes more per idle client for each.
import type { Protocol } from "./_protocol.ts";
import { MQTTConnectionError } from "./errors.ts";
import { LATE_MS, WORKERD } from "./_abortable.ts";

/**
 * `performance.now()` in whole milliseconds: a small integer (for the first 24
 * days of the process; 12 where V8's small integers have 31 bits, as in
 * Chrome), which a field holds unboxed, where a fraction costs
 * a heap number per client and field (lastRead, lastWrite, due).
 */
export const msNow = (): number => Math.floor(performance.now());

/** Whose keepalive it is. */
export interface KeepaliveOwner {
  /** Whose PINGREQs to send and whose reads and writes to watch. */
  readonly core: Protocol;
  /** No answer came to a PINGREQ in time: the connection is dead. */
  dead(error: MQTTConnectionError): void;
}

/** Runs one client's keepalive until stopped or the connection is found dead. */
export class Keepalive {
  /** When to look next (ms, `msNow()`); the shared schedule orders by it. */
  due = 0;
  /** Position in the shared schedule's heap, -1 when not in it. */
  slot = -1;
  readonly #owner: KeepaliveOwner;
  #seconds = 0;
  // Only where each client keeps its own timer (Workers).
  #timer: ReturnType<typeof setTimeout> | undefined;
  // Set while a deadline() runs instead of the keepalive, and its length (ms).
  #expired: (() => void) | null = null;
  #span = 0;
  // This look is the second, after one that ran late (see LATE_MS).
  #again = false;

  /** @param owner The connection it watches. */
  constructor(owner: KeepaliveOwner) {
    this.#owner = owner;
  }

  /** Starts watching with an interval of `seconds` (0: off). */
  start(seconds: number): void {
    this.cancel();
    this.#seconds = seconds;
    this.check(this.due = msNow());
  }

  /** Stops watching. */
  stop(): void {
    this.#expired = null;
    this.#again = false;
    if (OWN_TIMERS) clearTimeout(this.#timer);
    else schedule.remove(this);
  }

  /**
   * Calls `expired` in `ms`, unless `start()`, `stop()` or `cancel()` comes
   * first: the connect timeout, before there is a keepalive to keep. `ms` is
   * what is left of a limit of `span` (0 or less: held up past it), which
   * caps the time a late look gives back.
   */
  deadline(ms: number, expired: () => void, span = ms): void {
    this.stop();
    this.#expired = expired;
    this.#span = span;
    this.#lookIn(ms, msNow());
  }

  /** Ends a `deadline()` still running; does nothing otherwise. */
  cancel(): void {
    if (this.#expired) this.stop();
  }

  /** Looks now: sends a PINGREQ, finds the connection dead, or plans the next look. */
  check(now: number): void {
    const late = now - this.due;
    if (late > LATE_MS && !this.#again) {
      // The event loop was held up past the deadline: the answer may be read
      // but not handled yet (a PINGRESP, a CONNACK). Look again after it,
      // once; a deadline (the connect timeout) gives back the time it was
      // held up, at most its length, since the CONNECT itself may have gone
      // out late (as timeLimit() does).
      this.#again = true;
      // A PINGREQ due goes now, only the verdict waits: a hidden page's timers wake once a
      // second (or minute), and a second wake-up before it would put it off by one more.
      if (!this.#expired && this.#seconds) this.#owner.core.keepalive(now, this.#seconds * 1000);
      return this.#lookIn(this.#expired ? Math.min(late, this.#span) : 1, now);
    }
    this.#again = false;
    const expired = this.#expired;
    if (expired) {
      this.#expired = null;
      return expired();
    }
    const k = this.#seconds * 1000;
    if (k === 0) return;
    const next = this.#owner.core.keepalive(now, k);
    if (next < 0) {
      const why = next === -1
        ? `no answer to PINGREQ within ${k / 2} ms`
        : `no PINGRESP within ${k} ms of a PINGREQ, though other packets came`;
      this.#owner.dead(
        new MQTTConnectionError(`Connection dead: ${why} (keepalive ${this.#seconds} s)`),
      );
      return;
    }
    this.#lookIn(Math.max(next - now, 10), now);
  }

  /** Looks again `ms` after `now`: on the shared schedule, or (Workers) a timer of its own. */
  #lookIn(ms: number, now: number): void {
    // Rounded up: a connect timeout's `ms` (what is left of it) may have a fraction.
    this.due = Math.ceil(now + ms);
    if (OWN_TIMERS) this.#timer = setTimeout(() => this.check(msNow()), ms);
    else schedule.add(this);
  }
}

/** The process's keepalives, earliest deadline first (a binary heap), and its one timer. */
class Schedule {
  #heap: Keepalive[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  #armedFor = Infinity;
  // While due keepalives are looked at: the timer is set once, after.
  #firing = false;

  /** Adds `k` at its `due`, or moves it there. */
  add(k: Keepalive): void {
    if (k.slot === -1) {
      k.slot = this.#heap.length;
      this.#heap.push(k);
    }
    this.#up(k.slot);
    this.#down(k.slot);
    this.#arm();
  }

  remove(k: Keepalive): void {
    const i = k.slot;
    if (i === -1) return;
    const last = this.#heap.pop()!;
    k.slot = -1;
    if (last !== k) {
      this.#heap[i] = last;
      last.slot = i;
      this.#up(i);
      this.#down(i);
    }
    this.#arm();
  }

  #fire(): void {
    this.#timer = undefined;
    this.#armedFor = Infinity;
    this.#firing = true;
    const now = msNow();
    try {
      // Each check re-adds its keepalive, further on (at least 10 ms later).
      for (let k = this.#heap[0]; k && k.due <= now; k = this.#heap[0]) {
        this.remove(k);
        k.check(now);
      }
    } finally {
      this.#firing = false;
      this.#arm();
    }
  }

  /** A timer set for no later than the earliest deadline, or none when none is left. */
  #arm(): void {
    if (this.#firing) return;
    const first = this.#heap[0];
    if (!first) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
      this.#armedFor = Infinity;
      return;
    }
    // A timer set for no later than the first deadline serves: firing early
    // only sets it again. So a connect timeout cancelled at CONNACK, earlier
    // than every keepalive, costs no second timer.
    if (this.#timer !== undefined && this.#armedFor <= first.due) return;
    clearTimeout(this.#timer);
    this.#armedFor = first.due;
    this.#timer = setTimeout(() => this.#fire(), Math.max(first.due - performance.now(), 0));
  }

  #up(i: number): void {
    const h = this.#heap;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (h[parent].due <= h[i].due) return;
      this.#swap(i, parent);
      i = parent;
    }
  }

  #down(i: number): void {
    const h = this.#heap;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let least = i;
      if (l < h.length && h[l].due < h[least].due) least = l;
      if (r < h.length && h[r].due < h[least].due) least = r;
      if (least === i) return;
      this.#swap(i, least);
      i = least;
    }
  }

  #swap(i: number, j: number): void {
    // Not [a, b] = [b, a]: that allocates an array per swap, and a connect
    // timeout, due before every keepalive, climbs the whole heap and back.
    const h = this.#heap, k = h[i];
    h[i] = h[j];
    h[j] = k;
    h[i].slot = i;
    k.slot = j;
  }
}

// In workerd a timer set while one request runs belongs to that request.
const OWN_TIMERS = WORKERD;
const schedule = new Schedule();
