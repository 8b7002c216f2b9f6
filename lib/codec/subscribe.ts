/**
 * SUBSCRIBE, SUBACK and UNSUBSCRIBE (MQTT 3.1.1 sections 3.8–3.10).
 *
 * @module
 */
import { MQTTProtocolError } from "../errors.ts";
import { validateTopicFilter } from "../topic.ts";
import { BodyReader, utf8, writeBytes, writeU16 } from "./_strings.ts";
import { allocPacket } from "./_varint.ts";
import { checkPacketId } from "./publish.ts";
import type { QoS, SubackPacket, SubscribePacket, UnsubscribePacket } from "./packet.ts";

/** Encodes a SUBSCRIBE packet. */
export function encodeSubscribe(p: SubscribePacket): Uint8Array {
  checkPacketId(p.packetId, "SUBSCRIBE");
  if (p.subscriptions.length === 0) {
    throw new TypeError(
      "Cannot subscribe to no topic: at least one filter is needed (MQTT-3.8.3-3)",
    );
  }
  const filters = p.subscriptions.map(({ topic, qos }) => {
    validateTopicFilter(topic);
    if (qos !== 0 && qos !== 1 && qos !== 2) {
      throw new RangeError(`Invalid QoS ${qos} for "${topic}": must be 0, 1 or 2 (MQTT-3.8.3-4)`);
    }
    return utf8(topic, "topic filter");
  });
  let remaining = 2;
  for (const f of filters) remaining += 2 + f.length + 1;
  const [buf, start] = allocPacket(0x82, remaining);
  let at = writeU16(buf, start, p.packetId);
  filters.forEach((f, i) => {
    at = writeBytes(buf, at, f);
    buf[at++] = p.subscriptions[i].qos;
  });
  return buf;
}

/** Decodes a SUBSCRIBE body. */
export function decodeSubscribe(body: Uint8Array): SubscribePacket {
  const r = new BodyReader(body, "SUBSCRIBE");
  const packetId = nonZeroId(r, "SUBSCRIBE");
  const subscriptions = [];
  while (r.left > 0) {
    const topic = readFilter(r, "SUBSCRIBE");
    const qos = r.u8("requested QoS");
    if (qos > 2) {
      throw new MQTTProtocolError(`SUBSCRIBE requested QoS byte is ${qos}`, "MQTT-3.8.3-4");
    }
    subscriptions.push({ topic, qos: qos as QoS });
  }
  if (subscriptions.length === 0) {
    throw new MQTTProtocolError("SUBSCRIBE without a topic filter", "MQTT-3.8.3-3");
  }
  return { type: "subscribe", packetId, subscriptions };
}

/** Encodes a SUBACK packet. */
export function encodeSuback(p: SubackPacket): Uint8Array {
  checkPacketId(p.packetId, "SUBACK");
  const [buf, start] = allocPacket(0x90, 2 + p.returnCodes.length);
  const at = writeU16(buf, start, p.packetId);
  buf.set(p.returnCodes, at);
  return buf;
}

/** Decodes a SUBACK body. */
export function decodeSuback(body: Uint8Array): SubackPacket {
  const r = new BodyReader(body, "SUBACK");
  const packetId = nonZeroId(r, "SUBACK");
  const returnCodes = Array.from(r.rest());
  if (returnCodes.length === 0) {
    throw new MQTTProtocolError("SUBACK without a return code", "MQTT 3.1.1 section 3.9.3");
  }
  for (const c of returnCodes) {
    if (c > 2 && c !== 0x80) {
      throw new MQTTProtocolError(
        `SUBACK return code 0x${c.toString(16)} is reserved`,
        "MQTT-3.9.3-2",
      );
    }
  }
  return { type: "suback", packetId, returnCodes };
}

/** Encodes an UNSUBSCRIBE packet. */
export function encodeUnsubscribe(p: UnsubscribePacket): Uint8Array {
  checkPacketId(p.packetId, "UNSUBSCRIBE");
  if (p.topics.length === 0) {
    throw new TypeError(
      "Cannot unsubscribe from no topic: at least one filter is needed (MQTT-3.10.3-2)",
    );
  }
  const filters = p.topics.map((t) => {
    validateTopicFilter(t, "unsubscribe");
    return utf8(t, "topic filter");
  });
  let remaining = 2;
  for (const f of filters) remaining += 2 + f.length;
  const [buf, start] = allocPacket(0xa2, remaining);
  let at = writeU16(buf, start, p.packetId);
  for (const f of filters) at = writeBytes(buf, at, f);
  return buf;
}

/** Decodes an UNSUBSCRIBE body. */
export function decodeUnsubscribe(body: Uint8Array): UnsubscribePacket {
  const r = new BodyReader(body, "UNSUBSCRIBE");
  const packetId = nonZeroId(r, "UNSUBSCRIBE");
  const topics = [];
  while (r.left > 0) topics.push(readFilter(r, "UNSUBSCRIBE"));
  if (topics.length === 0) {
    throw new MQTTProtocolError("UNSUBSCRIBE without a topic filter", "MQTT-3.10.3-2");
  }
  return { type: "unsubscribe", packetId, topics };
}

/**
 * Reads a topic filter held to the rules the encoder enforces (MQTT-4.7.1-2,
 * MQTT-4.7.1-3, MQTT-4.7.3-1), so that whatever decodes also encodes again.
 */
function readFilter(r: BodyReader, packet: string): string {
  const filter = r.string("topic filter");
  try {
    validateTopicFilter(filter, packet.toLowerCase());
  } catch (e) {
    // "Cannot subscribe to "a+": ... (MQTT-4.7.1-3)": keep the words, move the rule to `rule`.
    const [, words, rule] = /^(.*?)(?: \(([^()]+)\))?$/s.exec((e as Error).message)!;
    throw new MQTTProtocolError(`Malformed ${packet}: ${words}`, rule ?? "");
  }
  return filter;
}

function nonZeroId(r: BodyReader, what: string): number {
  const id = r.u16("packet identifier");
  if (id === 0) throw new MQTTProtocolError(`${what} with packet identifier 0`, "MQTT-2.3.1-1");
  return id;
}
