// Whose turn it is, for the protocol state (lib/_protocol.ts): the packet ids in use and the next
// one to take (a new packet takes one not in use, MQTT-2.3.1-2), and the requests waiting for one.
import { Ordered } from "./_ordered.ts";
import type { InFlight, Request } from "./_protocol_types.ts";

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
}

// Never written to: a client with nothing waiting carries no Map of its own.
const NONE = new Ordered<Request, number>();

/**
 * Requests waiting for their turn, each with its call's number: publishes wait for room (MQTT 5's
 * Receive Maximum, 3.1.1's maxInflightQoS2) and an id, a SUBSCRIBE or UNSUBSCRIBE for an id alone
 * (MQTT-3.3.4-8 counts PUBLISH packets only). In two queues, so that one that needs only an id is
 * not stuck behind a publish waiting for room while ids are free; among those that may go, the
 * oldest call takes the next id.
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
    if (r.keep && this.publishes === NONE) this.publishes = new Ordered();
    if (!r.keep && this.#others === NONE) this.#others = new Ordered();
    (r.keep ? this.publishes : this.#others).set(r, ++this.#calls);
  }

  /** Takes `r` out; whether it was waiting. */
  delete(r: Request): boolean {
    return this.publishes.delete(r) || this.#others.delete(r);
  }

  /** Every request waiting, in call order. */
  all(): Request[] {
    const calls = (r: Request) => this.publishes.get(r) ?? this.#others.get(r)!;
    return [...this.publishes.keys(), ...this.#others.keys()].sort((a, b) => calls(a) - calls(b));
  }

  /**
   * The oldest request that may take an id now (a publish only with `room`), if any; those at the
   * front whose signal aborted are dropped on the way.
   */
  next(room: boolean): Request | undefined {
    let p, o;
    while ((p = this.publishes.first())?.signal?.aborted) this.drop(p);
    while ((o = this.#others.first())?.signal?.aborted) this.drop(o);
    const older = p && (!o || this.publishes.get(p)! < this.#others.get(o)!);
    return room && older ? p : o ?? (room ? p : undefined);
  }

  /** Drops `r` if it still waits, rejected with `why` (default: its signal's reason). */
  drop(r: Request, why: unknown = r.signal?.reason): void {
    if (this.delete(r)) r.reject(why);
  }
}
