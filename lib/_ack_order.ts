// The order of our acknowledgements. A PUBACK or PUBREC goes once the
// application has handled its message, and messages may be handled out of
// order (two wait_msg() calls with async callbacks, a request()'s reply
// acknowledged at once while an older message waits in the queue); yet the
// acks must go in the order their PUBLISHes came (MQTT-4.6.0-2, -3). One
// finished early waits here for those before it; one whose message will
// never be acknowledged on this connection (its handler threw) lets the
// later ones go.

/** Where acks are written. */
export interface AckWriter {
  write(bytes: Uint8Array): unknown;
}

/** One connection's QoS 1 and 2 messages, counted as they came, and their acks. */
export class AckOrder {
  #arrived = 0;
  // How many of the first messages are acknowledged, or never will be.
  #done = 0;
  // Acks (null: none) of messages after the first not done, by their place.
  #early: Map<number, Uint8Array | null> | null = null;
  // By packet id: the place of the last ack taken by `again`.
  #again: Map<number, number> | null = null;

  /** A QoS 1 or 2 PUBLISH came: its place in the order, from 1. */
  next(): number {
    return ++this.#arrived;
  }

  /**
   * The ack of a broker's resend of a message already answered (a QoS 2
   * PUBLISH after its PUBREC): it takes a place in the order and goes in it,
   * unless one for the same packet id still waits there. A broker that resent
   * one id without end while an older message waited to be handled had every
   * PUBREC kept until then (20 000 resends: 20 000 PUBRECs); now at most one
   * per packet id, 65 535 in all.
   *
   * @param bytes The ack: a 4-byte PUBACK, PUBREC, PUBREL or PUBCOMP, its packet id in bytes 2–3.
   */
  again(bytes: Uint8Array, out: AckWriter): void {
    const id = (bytes[2] << 8) | bytes[3], waiting = this.#again?.get(id);
    if (waiting !== undefined && waiting > this.#done) return;
    const seq = this.next();
    (this.#again ??= new Map()).set(id, seq);
    this.settle(seq, bytes, out);
  }

  /**
   * Message `seq` is settled: `bytes`, its ack (null when it gets none), go
   * to `out` as soon as every message before it is settled too.
   */
  settle(seq: number, bytes: Uint8Array | null, out: AckWriter): void {
    if (seq !== this.#done + 1) return void (this.#early ??= new Map()).set(seq, bytes);
    this.#done = seq;
    if (bytes) out.write(bytes);
    while (this.#early?.has(this.#done + 1)) {
      const next = this.#early.get(++this.#done);
      this.#early.delete(this.#done);
      if (next) out.write(next);
    }
  }
}
