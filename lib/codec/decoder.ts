/**
 * A streaming decoder: feed it bytes split anywhere, get whole packets.
 *
 * @module
 */
import { packetBody } from "./decode.ts";
import { Framer } from "./_framer.ts";
import type { Packet, ProtocolVersion } from "./packet.ts";
import { readable } from "./_strings.ts";

/** Options for {@linkcode PacketDecoder}. */
export interface PacketDecoderOptions {
  /**
   * Largest whole packet accepted, in bytes (fixed header included). A packet
   * whose header says more is refused before its body is buffered. Default 1 MiB.
   */
  maxPacketSize?: number;
  /**
   * 4 (MQTT 3.1.1, the default) or 5 (MQTT 5.0). A server's decoder starts at
   * 5: it then takes a CONNECT of either level, and decodes what follows at
   * the level the CONNECT gave. At 4 a CONNECT of level 5 is refused.
   */
  protocolVersion?: ProtocolVersion;
}

/** Default {@linkcode PacketDecoderOptions.maxPacketSize}: 1 MiB. */
export const DEFAULT_MAX_PACKET_SIZE = 1_048_576;

/**
 * A resumable MQTT packet decoder. Give it chunks as they arrive, in order;
 * it returns the packets each chunk completes and keeps any partial packet
 * for the next chunk.
 *
 * A packet that lies whole inside one chunk is decoded in place, so its
 * payload is a view into that chunk: do not reuse a chunk's memory after
 * pushing it. A packet split across chunks is gathered into a buffer of its
 * own. After an error, the decoder is spent: the byte stream can no longer be
 * framed, and every later `push` throws the same error.
 *
 * @example Decode a PINGRESP fed one byte at a time
 * ```ts
 * import { PacketDecoder } from "@umqtt/umqtt/codec";
 * const decoder = new PacketDecoder();
 * console.assert(decoder.push(Uint8Array.of(0xd0)).length === 0);
 * const [packet] = decoder.push(Uint8Array.of(0x00));
 * console.assert(packet.type === "pingresp");
 * ```
 *
 * @example A server's decoder: MQTT 5.0 or 3.1.1, as the CONNECT says
 * ```ts
 * import { encode, PacketDecoder } from "@umqtt/umqtt/codec";
 * const decoder = new PacketDecoder({ protocolVersion: 5 });
 * decoder.push(encode({ type: "connect", clientId: "a", cleanSession: true, keepalive: 60 }));
 * console.assert(decoder.protocolVersion === 4);
 * ```
 */
export class PacketDecoder {
  readonly #framer: Framer;

  /**
   * Makes a decoder.
   *
   * @param options `maxPacketSize` in bytes (default 1 MiB); `protocolVersion` 4 (default) or 5.
   * @throws {RangeError} When `maxPacketSize` is not an integer of at least 2, or
   * `protocolVersion` is neither 4 nor 5.
   */
  constructor(options: PacketDecoderOptions = {}) {
    const version = options.protocolVersion ?? 4;
    if (version !== 4 && version !== 5) {
      throw new RangeError(
        `Invalid protocolVersion ${version}: must be 4 (MQTT 3.1.1) or 5 (MQTT 5.0)`,
      );
    }
    this.#framer = new Framer(
      options.maxPacketSize ?? DEFAULT_MAX_PACKET_SIZE,
      (byte1, body, version) => {
        const packet = packetBody(byte1, body, version);
        if (packet.type === "connect") this.#framer.version = packet.protocolVersion ?? 4;
        return packet;
      },
      version,
    );
  }

  /** The protocol version packets are decoded at (see {@linkcode PacketDecoderOptions.protocolVersion}). */
  get protocolVersion(): ProtocolVersion {
    return this.#framer.version;
  }

  /** Whether a packet has been started but not finished. */
  get pending(): boolean {
    return this.#framer.pending;
  }

  /**
   * Feeds bytes to the decoder.
   *
   * @param chunk The next bytes of the stream; not to be modified afterwards.
   * @returns The packets this chunk completed, in order (often none or one).
   * When malformed bytes follow packets in one chunk, those packets are
   * returned, and the next `push()` throws.
   * @throws {MQTTProtocolError} On malformed bytes, a packet over `maxPacketSize`
   * or a reserved packet type.
   * @throws {TypeError} When `chunk` is not a Uint8Array (a Node Buffer is one), or its
   * ArrayBuffer was detached or resized below it; the decoder stays usable.
   */
  push(chunk: Uint8Array): Packet[] {
    return this.#framer.push(readable(chunk, "chunk"));
  }
}
