/**
 * PUBLISH and its acknowledgements PUBACK, PUBREC, PUBREL, PUBCOMP (MQTT 3.1.1
 * and MQTT 5.0 sections 3.3–3.7), and UNSUBACK, which has the same shape in
 * MQTT 3.1.1.
 *
 * @module
 */
import { MQTTProtocolError } from "../errors.ts";
import { validateTopicName } from "../topic.ts";
import {
  BodyReader,
  decodeUtf8,
  intact,
  typeName,
  utf8,
  writeBytes,
  writeU16,
} from "./_strings.ts";
import { allocPacket, KEPT, SHORT_LIVED, view } from "./_varint.ts";
import type { AckPacket, AckType, ProtocolVersion, PublishPacket, QoS } from "./packet.ts";
import { type PublishProperties, readProperties, writeProperties } from "./properties.ts";
import { readReasoned, writeReasoned } from "./reason_codes.ts";

// Publishers tend to repeat one topic: keep its bytes from the last call.
let lastTopic = "";
let lastTopicBytes: Uint8Array = new Uint8Array(0);

/** Throws `RangeError` unless `id` is a packet identifier (1–65535, MQTT-2.3.1-1). */
export function checkPacketId(id: unknown, what: string): void {
  // Number.isInteger() is false for anything not a number.
  if (!Number.isInteger(id) || (id as number) < 1 || (id as number) > 65535) {
    throw new RangeError(
      `Invalid packet id ${id} for ${what}: must be an integer from 1 to 65535 (MQTT-2.3.1-1)`,
    );
  }
}

/**
 * Reads a packet identifier, which must not be 0 (MQTT-2.3.1-1); with `end`,
 * the body must end after it, which is checked first.
 */
export function nonZeroId(r: BodyReader, end?: boolean): number {
  const id = r.u16("packet identifier");
  if (end) r.end();
  if (id === 0) {
    throw new MQTTProtocolError(`${r.packet} with packet identifier 0`, "MQTT-2.3.1-1");
  }
  return id;
}

/**
 * Whether `topic` is the topic name that {@linkcode encodePublish} encoded
 * last: it is valid, and its bytes are at hand.
 */
export function topicEncoded(topic: string): boolean {
  return topic === lastTopic && lastTopicBytes.length !== 0;
}

/**
 * Encodes a PUBLISH packet; in MQTT 5.0 with its properties, after the packet
 * identifier, so that the identifier is at the same offset in both versions.
 * A small one is a view into a buffer shared with other packets.
 */
export function encodePublish(p: PublishPacket, version: ProtocolVersion = 4): Uint8Array {
  // No properties (the usual case) is a Property Length of 0, one byte, built from nothing.
  const props = version === 5 && hasAny(p.properties)
    ? writeProperties(p.properties, 3)
    : undefined;
  const propsLength = props ? props.length : version === 5 ? 1 : 0;
  let topic = lastTopicBytes;
  // Empty cached bytes mean nothing is cached yet: "" must not match the initial lastTopic.
  if (p.topic !== lastTopic || topic.length === 0) {
    if (p.topic === "" && props && p.properties?.topicAlias) {
      // An alias stands for the topic the receiver mapped to it (MQTT 5.0 section 3.3.2.3.4).
      topic = new Uint8Array(0);
    } else {
      validateTopicName(p.topic);
      // Kept only until the next topic: a slab view (which it keeps alive until then).
      topic = utf8(p.topic, "topic", SHORT_LIVED);
      lastTopic = p.topic;
      lastTopicBytes = topic;
    }
  }
  const qos = p.qos;
  if (qos !== 0 && qos !== 1 && qos !== 2) {
    throw new RangeError(`Invalid QoS ${qos}: must be 0, 1 or 2 (MQTT-3.3.1-4)`);
  }
  if (qos > 0) checkPacketId(p.packetId, "PUBLISH");
  if (p.dup && qos === 0) {
    throw new TypeError("Invalid PUBLISH: the DUP flag must be 0 at QoS 0 (MQTT-3.3.1-2)");
  }
  const payload = p.payload;
  if (!(payload instanceof Uint8Array)) {
    throw new TypeError(`Invalid PUBLISH payload: must be a Uint8Array, got ${typeName(payload)}`);
  }
  intact(payload, "PUBLISH payload");
  const remaining = 2 + topic.length + (qos > 0 ? 2 : 0) + propsLength + payload.length;
  const byte1 = 0x30 | (p.dup ? 0x08 : 0) | (qos << 1) | (p.retain ? 1 : 0);
  const [buf, start] = allocPacket(byte1, remaining, qos === 0 ? SHORT_LIVED : KEPT);
  let at = writeBytes(buf, start, topic);
  if (qos > 0) at = writeU16(buf, at, p.packetId!);
  if (props) buf.set(props, at), at += props.length;
  else if (propsLength) buf[at++] = 0;
  buf.set(payload, at);
  return buf;
}

/** Whether `o` has an own key (its properties are then encoded, and checked, one by one). */
export function hasAny(o: object | undefined): boolean {
  if (o !== undefined) { for (const _ in o) return true; }
  return false;
}

/** Decodes a PUBLISH from its fixed header's first byte and its body. */
export function decodePublish(
  byte1: number,
  body: Uint8Array,
  version: ProtocolVersion = 4,
): PublishPacket {
  return decodePublishIn(byte1, body, 0, body.length, version);
}

/**
 * Decodes a PUBLISH whose body is `buf[start..end)`. The streaming decoder
 * calls this directly, so that a message costs one view (its payload), not two.
 */
export function decodePublishIn(
  byte1: number,
  buf: Uint8Array,
  start: number,
  end: number,
  version: ProtocolVersion = 4,
  fill = false,
): PublishPacket {
  const qos = (byte1 >> 1) & 0x03;
  if (qos === 3) throw new MQTTProtocolError("PUBLISH with QoS 3", "MQTT-3.3.1-4");
  const dup = (byte1 & 0x08) !== 0;
  if (dup && qos === 0) {
    throw new MQTTProtocolError("PUBLISH with QoS 0 has the DUP flag set", "MQTT-3.3.1-2");
  }
  const length = end - start;
  // With fewer than 2 bytes, `n` is whatever they make (0 past the buffer's
  // end): 2 + n is over the length all the same, and names the topic name.
  const n = (buf[start] << 8) | buf[start + 1];
  const idLen = qos > 0 ? 2 : 0;
  if (length < 2 + n + idLen) {
    const field = length < 2 + n ? "topic name" : "packet identifier";
    throw new MQTTProtocolError(
      `Malformed PUBLISH: the packet ends inside its ${field}`,
      "MQTT 3.1.1 section 2.2.3",
    );
  }
  let payloadAt = start + 2 + n + idLen;
  let props: PublishProperties | undefined;
  if (version === 5) {
    // Properties follow the packet identifier (MQTT 5.0 section 3.3.2);
    // a Property Length of 0, the usual case, is read without a reader.
    if (payloadAt < end && buf[payloadAt] === 0) payloadAt++;
    else {
      const r = new BodyReader(view(buf, start, end), "PUBLISH");
      r.pos = payloadAt - start;
      props = readProperties<PublishProperties>(r, 3);
      payloadAt = start + r.pos;
    }
    if (n === 0 && !props?.topicAlias) {
      throw new MQTTProtocolError(
        "PUBLISH with an empty topic name and no topicAlias",
        "MQTT 5.0 section 3.3.2.1",
        0x82, // "It is a Protocol Error if the Topic Name is zero length and there is no Topic Alias"
      );
    }
  }
  const topic = n === 0 && props ? "" : decodeTopic(buf, start + 2, n);
  const retain = (byte1 & 0x01) !== 0, payload = view(buf, payloadAt, end);
  // With `fill` (the client's framer), `properties` in the literal, `{}` when there are none.
  const packet: PublishPacket = props || (fill && version === 5)
    ? {
      type: "publish",
      topic,
      payload,
      qos: qos as QoS,
      retain,
      dup,
      properties: props ?? NO_PROPERTIES,
    }
    : { type: "publish", topic, payload, qos: qos as QoS, retain, dup };
  if (qos > 0) {
    const id = (buf[start + 2 + n] << 8) | buf[start + 3 + n];
    if (id === 0) throw new MQTTProtocolError("PUBLISH with packet identifier 0", "MQTT-2.3.1-1");
    packet.packetId = id;
  }
  return packet;
}

/**
 * The properties of every received message that has none: one frozen empty
 * object, shared, rather than one allocated per message (8% of the CPU of
 * receiving in MQTT 5).
 */
export const NO_PROPERTIES: PublishProperties = Object.freeze({});

// Subscribers tend to see one topic many times over: keep the last one
// decoded, its bytes and its (already validated) string.
let seenTopicBytes: Uint8Array = new Uint8Array(0);
let seenTopic = "";

/** The topic name in `buf[at..at+n)`, validated. */
function decodeTopic(buf: Uint8Array, at: number, n: number): string {
  const seen = seenTopicBytes;
  if (n === seen.length && n !== 0) {
    let i = 0;
    while (i < n && buf[at + i] === seen[i]) i++;
    if (i === n) return seenTopic;
  }
  const bytes = view(buf, at, at + n);
  const topic = decodeUtf8(bytes, "PUBLISH topic name");
  if (n === 0) throw new MQTTProtocolError("PUBLISH with an empty topic name", "MQTT-4.7.3-1");
  if (topic.includes("+") || topic.includes("#")) {
    throw new MQTTProtocolError(`PUBLISH topic name "${topic}" has a wildcard`, "MQTT-3.3.2-2");
  }
  if (n <= 256) {
    // A copy (the chunk is the user's to keep), in a slab: a buffer of its own costs ~1 us.
    seenTopicBytes = SHORT_LIVED.copy(bytes);
    seenTopic = topic;
  }
  return topic;
}

const ACK_BYTE1: Record<AckType, number> = {
  puback: 0x40,
  pubrec: 0x50,
  pubrel: 0x62,
  pubcomp: 0x70,
  unsuback: 0xb0,
};

/**
 * Encodes PUBACK, PUBREC, PUBREL, PUBCOMP, or an MQTT 3.1.1 UNSUBACK (an
 * MQTT 5.0 UNSUBACK has a list of reason codes: `encodeUnsuback`). In MQTT
 * 5.0 the reason code and properties follow the packet identifier, unless
 * the code is 0 and there are no properties (remaining length 2).
 */
export function encodeAck(p: AckPacket<AckType>, version: ProtocolVersion = 4): Uint8Array {
  const id = p.packetId;
  // Checked inline: the packet's name is needed only for the error.
  if (!(id >= 1 && id <= 65535 && Number.isInteger(id))) {
    checkPacketId(id, p.type.toUpperCase());
  }
  const byte1 = ACK_BYTE1[p.type];
  if (version === 5 && (p.reasonCode || p.properties)) {
    return writeReasoned(byte1, id, p.reasonCode, p.properties);
  }
  // From a slab, as small PUBLISH packets are: a buffer of its own costs
  // more than all the rest of an ack. A PUBREL stays in the session until its PUBCOMP.
  const buf = (p.type === "pubrel" ? KEPT : SHORT_LIVED).take(4);
  buf[0] = byte1;
  buf[1] = 0x02;
  buf[2] = id >> 8;
  buf[3] = id & 0xff;
  return buf;
}

/**
 * Decodes the body of an acknowledgement: a packet identifier, and in MQTT
 * 5.0 a reason code (0x00 when absent) and properties.
 */
export function decodeAck<T extends AckType>(
  type: T,
  body: Uint8Array,
  version: ProtocolVersion = 4,
): AckPacket<T> {
  // The well-formed case, once per QoS 1 publish: no reader, no name string;
  // in MQTT 5.0 success with no properties, the reason code left out or (as
  // mosquitto sends it) given.
  const n = body.length;
  if ((body[0] | body[1]) !== 0) {
    if (version !== 5) {
      if (n === 2) return { type, packetId: (body[0] << 8) | body[1] };
    } else if (n === 2 || (n === 3 && body[2] === 0)) {
      return { type, packetId: (body[0] << 8) | body[1], reasonCode: 0 };
    }
  }
  return readAck(type, body, version);
}

/**
 * {@linkcode decodeAck} but for its usual cases, with a reader; apart, so
 * that the function the framer calls for every ack stays small.
 */
function readAck<T extends AckType>(
  type: T,
  body: Uint8Array,
  version: ProtocolVersion,
): AckPacket<T> {
  const r = new BodyReader(body, type.toUpperCase());
  // MQTT 3.1.1: nothing may follow, and that is checked before the id.
  const packetId = nonZeroId(r, version !== 5);
  // MQTT 5.0: a reason code and properties may follow (section 3.4.2).
  return version === 5
    ? readReasoned<AckPacket<T>>(r, ACK_BYTE1[type] >> 4, { type, packetId })
    : { type, packetId };
}
