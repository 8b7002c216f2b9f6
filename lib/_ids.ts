// Whose turn it is, for the protocol state (lib/_protocol.ts): the packet ids in use and the next
// one to take (a new packet takes one not in use, MQTT-2.3.1-2).
import { Ordered } from "./_ordered.ts";
import type { InFlight } from "./_protocol_types.ts";

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
