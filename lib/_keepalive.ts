// The keepalive's clock: asks the protocol state when to look again, and
// looks then. Timer-driven, so a slow message handler does not delay it.
import type { Protocol } from "./_protocol.ts";
import { MQTTConnectionError } from "./errors.ts";

/** Runs one connection's keepalive until stopped or the connection is found dead. */
export class Keepalive {
  readonly #core: Protocol;
  readonly #dead: (error: MQTTConnectionError) => void;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #seconds = 0;

  /**
   * @param core Whose PINGREQs to send and whose reads and writes to watch.
   * @param dead Called when no answer came to a PINGREQ in time.
   */
  constructor(core: Protocol, dead: (error: MQTTConnectionError) => void) {
    this.#core = core;
    this.#dead = dead;
  }

  /** Starts watching with an interval of `seconds` (0: off). */
  start(seconds: number): void {
    this.#seconds = seconds;
    this.#check();
  }

  /** Stops watching. */
  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #check(): void {
    const k = this.#seconds * 1000;
    if (k === 0) return;
    const now = Date.now();
    const next = this.#core.keepalive(now, k);
    if (next < 0) {
      this.#dead(
        new MQTTConnectionError(
          `Connection dead: no answer to PINGREQ within ${k / 2} ms (keepalive ${this.#seconds} s)`,
        ),
      );
      return;
    }
    this.#timer = setTimeout(() => this.#check(), Math.max(next - now, 10));
  }
}
