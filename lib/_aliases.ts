// MQTT 5 topic aliases of one connection (section 3.3.2.3.4): numbers that
// stand for topic names, ours towards the broker and the broker's towards us.
// Part of the protocol state: no I/O.
import type { PublishPacket } from "./codec/packet.ts";
import { encodePublish } from "./codec/publish.ts";
import {
  allocPacket,
  headerLength,
  SHORT_LIVED,
  varintAt,
  varintSize,
  writeFixedHeader,
  writeVarint,
} from "./codec/_varint.ts";
import { MQTTProtocolError } from "./errors.ts";

/** The topic aliases of one connection, both ways; a new connection starts with none. */
export class TopicAliases {
  #out: Map<string, number> | null = null;
  #in: Map<number, string> | null = null;

  /**
   * The bytes of `packet` (whose full encoding is `full`) to write: with a
   * topic alias while fewer than `max` are in use — the first time a topic
   * goes out with the alias that will stand for it, then the alias alone —
   * unless that would take it over `maxSize` bytes (the alias property adds
   * 3, and the Property Length and Remaining Length may each grow a byte:
   * measured on the bytes built). The session keeps `full`: aliases do not
   * outlive a connection.
   * The aliased packet is built from `full`, the message as it was given at
   * the call: a publish that waited for its turn must not read the caller's
   * payload, user properties or correlation data again (they may have been
   * reused, or the payload's buffer handed on). With `reuse` (a QoS 0
   * publish, written once and not kept), a known alias's packet is built at
   * the end of `full` itself, which is then spent. Without `full` (a QoS 0
   * publish with no properties, not encoded yet), a known alias's packet is
   * built from `packet` alone, and no full one.
   */
  out(
    packet: PublishPacket,
    full: Uint8Array | undefined,
    _packetId: number | undefined, // in `full` already
    max: number,
    maxSize = Infinity,
    reuse = false,
  ): Uint8Array {
    if (!max) return full ?? encodePublish(packet, 5);
    const aliases = this.#out ??= new Map();
    let alias = aliases.get(packet.topic);
    const known = alias !== undefined;
    // No `full` is left out under a Maximum Packet Size: this is smaller anyway.
    if (known && !full) return aliased(packet, alias!);
    full ??= encodePublish(packet, 5);
    if (!known) {
      if (aliases.size >= max) return full;
      alias = aliases.size + 1;
    }
    const bytes = (reuse && known && packet.qos === 0 && aliasInPlace(full, alias)) ||
      withAlias(full, packet.qos, alias!, known);
    // In full, it fits (checked before): an alias not set now stays free.
    if (bytes.length > maxSize) return full;
    if (!known) aliases.set(packet.topic, alias);
    return bytes;
  }

  /**
   * Resolves the broker's topic alias in `p`, so that nobody sees one
   * (MQTT-3.3.2-10, -11, -12): a topic with an alias sets it, an empty topic
   * takes the one set before.
   *
   * @throws {MQTTProtocolError} An alias over `max` or one that names no topic (reason 0x94).
   */
  in(p: PublishPacket, max: number): void {
    const alias = p.properties?.topicAlias;
    if (alias === undefined) return;
    delete p.properties!.topicAlias;
    if (alias > max) {
      throw new MQTTProtocolError(
        `PUBLISH with topic alias ${alias}, over our Topic Alias Maximum ${max}`,
        "MQTT-3.3.2-11",
        0x94,
      );
    }
    const aliases = this.#in ??= new Map();
    if (p.topic) return void aliases.set(alias, p.topic);
    const topic = aliases.get(alias);
    if (topic === undefined) {
      // The section names 0x82 (protocol error) for this one; umqtt's contract
      // gives every misused alias 0x94 (topic alias invalid).
      throw new MQTTProtocolError(
        `PUBLISH with an empty topic and topic alias ${alias}, which names no topic yet`,
        "MQTT 5.0 section 3.3.2.3.4",
        0x94,
      );
    }
    p.topic = topic;
  }
}

/**
 * `full`, a PUBLISH, with the Topic Alias property after its own properties
 * (what `encodePublish` makes of its packet with `topicAlias` added, without
 * encoding it again) and, when the alias is `known`, an empty topic name. Per
 * publish, on the hot path.
 */
function withAlias(full: Uint8Array, qos: number, alias: number, known: boolean): Uint8Array {
  const h = headerLength(full);
  const n = (full[h] << 8) | full[h + 1];
  const idAt = h + 2 + n; // the packet identifier follows the topic name
  const lengthAt = idAt + (qos > 0 ? 2 : 0); // then the Property Length, a Variable Byte Integer
  const props = varintAt(full, lengthAt), propsAt = lengthAt + varintSize(props);
  const payloadAt = propsAt + props;
  const from = known ? idAt : h + 2; // the topic name unless known, and the id, are copied
  const length = props + 3, payload = full.length - payloadAt;
  const remaining = 2 + lengthAt - from + varintSize(length) + length + payload;
  const [buf, start] = allocPacket(full[0], remaining, SHORT_LIVED);
  let at = start;
  buf[at++] = (idAt - from) >> 8;
  buf[at++] = (idAt - from) & 0xff;
  // Byte by byte: a view to copy from costs more than copying a few bytes.
  for (let i = from; i < lengthAt; i++) buf[at++] = full[i];
  at = writeVarint(buf, at, length); // the Property Length
  for (let i = propsAt; i < payloadAt; i++) buf[at++] = full[i];
  buf[at++] = 0x23; // Topic Alias, a two-byte integer (MQTT 5.0 section 3.3.2.3.4)
  buf[at++] = alias >> 8;
  buf[at++] = alias & 0xff;
  if (payload > 32) buf.set(full.subarray(payloadAt), at);
  else for (let i = payloadAt; i < full.length; i++) buf[at++] = full[i];
  return buf;
}

/**
 * A QoS 0 `packet` with no properties, under the known `alias`: an empty
 * topic name and the Topic Alias property (MQTT 5.0 section 3.3.2.3.4).
 */
function aliased(packet: PublishPacket, alias: number): Uint8Array {
  const payload = packet.payload;
  const [buf, start] = allocPacket(0x30 | (packet.retain ? 1 : 0), 6 + payload.length, SHORT_LIVED);
  let at = start;
  buf[at++] = 0; // an empty topic name
  buf[at++] = 0;
  buf.set(payload, writeAliasProperty(buf, at, alias));
  return buf;
}

/**
 * A QoS 0 PUBLISH (`full`) under a known `alias`, built in `full`'s own
 * bytes, ending where it ends: an empty topic name and the Topic Alias
 * property take the place of the topic name when it has 3 bytes or more and
 * no properties follow it (else undefined). The payload stays where it is, uncopied.
 */
function aliasInPlace(full: Uint8Array, alias: number): Uint8Array | undefined {
  const h = headerLength(full);
  const n = (full[h] << 8) | full[h + 1];
  // Property Length 0 (no properties) after the topic name (QoS 0: no packet id).
  if (n < 3 || full[h + 2 + n] !== 0) return undefined;
  const payloadAt = h + 2 + n + 1;
  const remaining = 6 + full.length - payloadAt;
  const bytes = full.subarray(payloadAt - 7 - varintSize(remaining));
  let at = writeFixedHeader(bytes, full[0], remaining);
  bytes[at++] = 0; // an empty topic name
  bytes[at++] = 0;
  writeAliasProperty(bytes, at, alias);
  return bytes;
}

/**
 * Writes Property Length 3 and the Topic Alias property (0x23, a two-byte
 * integer; MQTT 5.0 section 3.3.2.3.4) at `at`; returns the offset after it.
 */
function writeAliasProperty(buf: Uint8Array, at: number, alias: number): number {
  buf[at] = 3;
  buf[at + 1] = 0x23;
  buf[at + 2] = alias >> 8;
  buf[at + 3] = alias & 0xff;
  return at + 4;
}
