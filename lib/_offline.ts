// The robust client's calls waiting for the connection to come back, and
// the limits on the publishes among them (maxOfflineMessages,
// maxOfflineBytes, whenOfflineFull). An outage may last long, and calls
// given a signal may be aborted by the thousand meanwhile: a wait that ends
// leaves nothing behind.
import { abortable } from "./_abortable.ts";
import { positive } from "./_checks.ts";
import { MQTTConnectionError } from "./errors.ts";
import { Fifo } from "./_ordered.ts";

/** The offline limits, from the robust client's options. */
export interface OfflineLimits {
  maxOfflineMessages?: number;
  maxOfflineBytes?: number;
  whenOfflineFull?: "wait" | "reject";
}

/** What the waits wait for. */
export interface OfflineLink {
  /** Resolves once connected (the robust client's `reconnect()`). */
  reconnect(): Promise<unknown>;
  /**
   * Whether calls go at once now: connected, and no reconnect under way (one
   * still renewing subscriptions, connected, is not over).
   */
  online(): boolean;
}

// Shared by every client until one waits for room: never added to.
const NONE = new Fifo<never>();

/** Publishes and other calls waiting for the connection. */
export class Offline {
  readonly #max: number;
  readonly #maxBytes: number;
  readonly #rejectWhenFull: boolean;
  readonly #link: OfflineLink;
  // Publishes waiting, and their bytes.
  #count = 0;
  #bytes = 0;
  // Publishes waiting for room, in call order (a Fifo: 100 000 of them, aborted
  // or woken one by one, took 4 s in an array, whose splice() and shift() move the rest).
  #room: Fifo<() => void> = NONE;

  /**
   * @param o The limits.
   * @param link The client.
   * @throws {RangeError} A limit that is not a positive integer.
   * @throws {TypeError} `whenOfflineFull` neither "wait" nor "reject".
   */
  constructor(o: OfflineLimits, link: OfflineLink) {
    this.#max = positive("maxOfflineMessages", o.maxOfflineMessages ?? 1000);
    this.#maxBytes = positive("maxOfflineBytes", o.maxOfflineBytes ?? 16 * 1024 * 1024);
    const full = o.whenOfflineFull;
    if (full !== undefined && full !== "wait" && full !== "reject") {
      throw new TypeError(`Invalid whenOfflineFull "${String(full)}": must be "wait" or "reject"`);
    }
    this.#rejectWhenFull = full === "reject";
    this.#link = link;
  }

  /**
   * Waits for the connection, a publish (`bytes` given) within the limits;
   * `signal` and `stop` (disconnect(), the client's signal) end the wait,
   * which then takes its place in the limits with it.
   */
  async wait(bytes: number | undefined, signal: AbortSignal, stop: AbortSignal): Promise<void> {
    if (bytes === undefined) return void await abortable(this.#link.reconnect(), signal);
    if (bytes > this.#maxBytes) {
      // Waiting for room would never end: even an empty queue has too little.
      throw new RangeError(
        `Cannot publish while offline: the message is ${bytes} bytes, over maxOfflineBytes ${this.#maxBytes}`,
      );
    }
    while (this.#count >= this.#max || this.#bytes + bytes > this.#maxBytes) {
      if (this.#rejectWhenFull) {
        throw new MQTTConnectionError(
          `Offline queue full: ${this.#count} messages (${this.#bytes} bytes) wait for the connection (maxOfflineMessages ${this.#max}, maxOfflineBytes ${this.#maxBytes})`,
        );
      }
      if (stop.aborted) throw stop.reason;
      let wake!: () => void;
      if (this.#room === NONE) this.#room = new Fifo();
      const room = new Promise<void>((resolve) => this.#room.add(wake = resolve));
      try {
        await abortable(room, signal);
      } finally {
        this.#room.delete(wake);
      }
      if (stop.aborted) throw stop.reason;
      if (this.#link.online()) {
        // Back online: no queue to wait in. Pass the wake-up on, in call order. (Connected, but
        // still reconnecting: it waits for the reconnect, after those that waited before it.)
        this.#room.shift()?.();
        return;
      }
    }
    this.#count++;
    this.#bytes += bytes;
    try {
      await abortable(this.#link.reconnect(), signal);
    } finally {
      this.#count--;
      this.#bytes -= bytes;
      this.#room.shift()?.();
    }
  }

  /** Wakes every publish waiting for room (disconnect(), the client's signal: they see `stop`). */
  wakeAll(): void {
    for (const wake of this.#room.keys()) this.#room.delete(wake), wake();
  }
}
