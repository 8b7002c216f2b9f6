// The framing half of the decoder: splits a byte stream into packets and
// hands each body to a packet decoder. The client gives it the decoder for
// what a broker may send; the public PacketDecoder gives it every packet.
import { MQTTProtocolError } from "../errors.ts";
import { decodePublishIn } from "./publish.ts";
import type { Packet, ProtocolVersion } from "./packet.ts";
import { view } from "./_varint.ts";

/**
 * The first buffer for a body split across chunks holds its whole length up
 * to this; a longer one grows as its bytes come (see #grow). So a header
 * alone does not make the decoder allocate all that `maxPacketSize` lets a
 * packet declare (up to 256 MiB) before any of it arrives, the class of
 * mosquitto's CVE-2023-0809; what a packet costs follows what was sent.
 */
const FIRST_BODY = 65_536;

/** Decodes one packet's body, as `decodePacket` and `decodeFromBroker` do. */
export type BodyDecoder = (byte1: number, body: Uint8Array, version: ProtocolVersion) => Packet;

export class Framer {
  readonly #decode: BodyDecoder;
  readonly #max: number;
  /**
   * The protocol version the stream speaks. A server's decoder sets it once
   * the CONNECT says which; MQTT 5.0 packets are decoded by `#decode`.
   */
  version: ProtocolVersion;
  // Fixed header in progress.
  #byte1 = -1;
  #length = 0;
  #multiplier = 1;
  #lengthBytes = 0;
  // Body being gathered across chunks (#length bytes in all), and how much of it has come.
  #body: Uint8Array | null = null;
  #filled = 0;
  #error: MQTTProtocolError | null = null;

  /**
   * MQTT 5: give every PUBLISH decoded in place `properties`, `{}` when it has
   * none (the client's, whose messages all have them): set in its literal,
   * an object keeps its shape, smaller than one given the field after.
   */
  readonly fill: boolean;

  constructor(max: number, decode: BodyDecoder, version: ProtocolVersion = 4, fill = false) {
    this.#decode = decode;
    this.version = version;
    this.fill = fill;
    if (!Number.isInteger(max) || max < 2) {
      throw new RangeError(
        `Invalid maxPacketSize ${max}: must be an integer of at least 2 bytes`,
      );
    }
    this.#max = max;
  }

  /** Whether a packet has been started but not finished. */
  get pending(): boolean {
    return this.#byte1 !== -1;
  }

  /**
   * Feeds bytes to the decoder.
   *
   * @param chunk The next bytes of the stream; not to be modified afterwards.
   * @returns The packets this chunk completed, in order (often none or one).
   * @throws {MQTTProtocolError} On malformed bytes, a packet over `maxPacketSize`
   * or a reserved packet type.
   */
  push(chunk: Uint8Array): Packet[] {
    if (this.#error) throw this.#error;
    const out: Packet[] = [];
    try {
      this.#push(chunk, out);
    } catch (e) {
      if (!(e instanceof MQTTProtocolError)) throw e;
      this.#error = e;
      // The packets before the malformed bytes stand, however the stream was split.
      if (out.length === 0) throw e;
    }
    return out;
  }

  /** What broke the stream after the packets the last `push()` returned, thrown by the next. */
  get error(): MQTTProtocolError | null {
    return this.#error;
  }

  #push(chunk: Uint8Array, out: Packet[]): void {
    const n = chunk.length;
    let i = 0;
    while (i < n) {
      if (this.#body !== null) {
        // Gathering a body split across chunks.
        const take = Math.min(n - i, this.#length - this.#filled);
        if (this.#filled + take > this.#body.length) this.#grow(this.#filled + take);
        // A chunk read into room() is in place already.
        if (chunk.buffer !== this.#body.buffer) {
          this.#body.set(view(chunk, i, i + take), this.#filled);
        }
        this.#filled += take;
        i += take;
        if (this.#filled === this.#length) {
          const body = this.#body;
          this.#body = null;
          out.push(this.#finish(body));
        }
        continue;
      }
      if (this.#byte1 === -1) {
        const byte1 = chunk[i++];
        if (byte1 >> 4 === 0 || (byte1 >> 4 === 15 && this.version !== 5)) {
          // Refuse a reserved type from its first byte, before buffering anything.
          throw new MQTTProtocolError(
            `Reserved packet type ${byte1 >> 4}`,
            this.version === 5 ? "MQTT 5.0 section 2.1.2" : "MQTT 3.1.1 section 2.2.1",
          );
        }
        this.#byte1 = byte1;
        this.#length = 0;
        this.#multiplier = 1;
        this.#lengthBytes = 0;
        continue;
      }
      // Remaining Length, one varint byte at a time (section 2.2.3).
      const b = chunk[i++];
      this.#length += (b & 0x7f) * this.#multiplier;
      this.#multiplier *= 128;
      if (++this.#lengthBytes === 4 && b & 0x80) {
        throw new MQTTProtocolError(
          "Malformed Remaining Length: more than 4 bytes",
          this.version === 5 ? "MQTT 5.0 section 1.5.5" : "MQTT 3.1.1 section 2.2.3",
        );
      }
      if (b & 0x80) continue;
      if (b === 0 && this.#lengthBytes > 1 && this.version === 5) {
        throw new MQTTProtocolError(
          "Malformed Remaining Length: more bytes than its value needs",
          "MQTT-1.5.5-1",
        );
      }
      const total = 1 + this.#lengthBytes + this.#length;
      if (total > this.#max) {
        throw new MQTTProtocolError(
          `Incoming packet of ${total} bytes exceeds maxPacketSize ${this.#max}`,
          // MQTT 5: our Maximum Packet Size, sent in CONNECT; 3.1.1 has no rule for it.
          this.version === 5 ? "MQTT-3.1.2-24" : "",
          0x95, // MQTT 5: Packet too large
        );
      }
      const len = this.#length;
      if (n - i >= len) {
        // Whole body inside this chunk (an empty one always is): decode in
        // place (a PUBLISH without even a view of its body). MQTT 5: a
        // malformed one goes again through the decoder, which numbers the
        // error by MQTT 5.0's rules.
        if (this.#byte1 >> 4 === 3) {
          const byte1 = this.#byte1;
          if (this.version === 4) {
            this.#byte1 = -1;
            out.push(decodePublishIn(byte1, chunk, i, i + len));
          } else {
            let p: Packet;
            try {
              p = decodePublishIn(byte1, chunk, i, i + len, 5, this.fill);
            } catch {
              p = this.#finish(view(chunk, i, i + len));
            }
            this.#byte1 = -1;
            out.push(p);
          }
        } else {
          out.push(this.#finish(view(chunk, i, i + len)));
        }
        i += len;
      } else {
        this.#body = new Uint8Array(Math.min(len, FIRST_BODY));
        this.#filled = 0;
      }
    }
  }

  /**
   * Where the next `min` bytes or more of the body being gathered may be read
   * in place, to be pushed then (no copy of them into the body): its free
   * part, grown for them (to at most eight times what came and `min`). Null when
   * no body is being gathered, or less than `min` of it is to come.
   */
  room(min: number): Uint8Array | null {
    if (this.#body === null || this.#length - this.#filled < min) return null;
    if (this.#body.length - this.#filled < min) this.#grow(this.#filled + min);
    return view(this.#body, this.#filled, this.#body.length);
  }

  /**
   * A body buffer for at least `need` bytes: twice as large, or once `need`
   * is an eighth of the body, all of it. Doubling to the end allocated about
   * three times a 64 MiB body (its last step, short of the length by the
   * header's bytes, one more), and copied it twice over.
   */
  #grow(need: number): void {
    const n = this.#length;
    const body = new Uint8Array(n <= need * 8 ? n : Math.max(need, this.#body!.length * 2));
    body.set(view(this.#body!, 0, this.#filled));
    this.#body = body;
  }

  #finish(body: Uint8Array): Packet {
    const byte1 = this.#byte1;
    this.#byte1 = -1;
    return this.#decode(byte1, body, this.version);
  }
}
