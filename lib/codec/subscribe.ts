/**
 * SUBSCRIBE, SUBACK and UNSUBSCRIBE (MQTT 3.1.1 sections 3.8–3.10), and MQTT
 * 5.0's UNSUBACK, which lists reason codes as SUBACK does (MQTT 5.0 sections
 * 3.8–3.11).
 *
 * @module
 */
import { MQTTProtocolError } from "../errors.ts";
import { validateTopicFilter } from "../topic.ts";
import { BodyReader, typeName, utf8 } from "./_strings.ts";
import { buildPacket, field, u16 } from "./_varint.ts";
import { NAMES } from "./_names.ts";
import { checkPacketId, nonZeroId } from "./publish.ts";
import type {
  ProtocolVersion,
  QoS,
  SubackPacket,
  SubscribePacket,
  Subscription,
  UnsubackPacket,
  UnsubscribePacket,
} from "./packet.ts";
import { readProperties, writeProperties } from "./properties.ts";
import { checkReasonCode } from "./reason_codes.ts";

/**
 * Encodes a SUBSCRIBE packet; with `version` 5 its properties and each
 * subscription's options (No Local, Retain As Published, Retain Handling).
 * Throws `TypeError`/`RangeError` on fields MQTT forbids.
 */
export function encodeSubscribe(p: SubscribePacket, version: ProtocolVersion = 4): Uint8Array {
  return encodeList(8, p, p.subscriptions, version, (s) => {
    const { topic, qos } = s;
    validateTopicFilter(topic);
    if (qos !== 0 && qos !== 1 && qos !== 2) {
      throw new RangeError(`Invalid QoS ${qos} for "${topic}": must be 0, 1 or 2 (MQTT-3.8.3-4)`);
    }
    const options = version === 5 ? subscriptionOptions(s) : qos;
    return [...field(utf8(topic, "topic filter")), [options]];
  });
}

/**
 * SUBSCRIBE (`type` 8) or UNSUBSCRIBE (10): checks the packet identifier and
 * that `list` is an array of at least one item (SUBSCRIBE: of objects),
 * then writes the identifier, in MQTT 5.0 the properties, and each item as
 * `write` gives it (its checks made first, in order, then the properties').
 */
function encodeList<T>(
  type: 8 | 10,
  p: { packetId: number; properties?: object },
  list: T[],
  version: ProtocolVersion,
  write: (item: T) => ArrayLike<number>[],
): Uint8Array {
  const sub = type === 8;
  checkPacketId(p.packetId, NAMES[type]);
  if (!Array.isArray(list) || sub && list.some((s) => !s || typeof s !== "object")) {
    throw new TypeError(
      sub
        ? "Invalid SUBSCRIBE: subscriptions must be an array of { topic, qos }"
        : "Invalid UNSUBSCRIBE: topics must be an array of topic filters",
    );
  }
  if (list.length === 0) {
    throw new TypeError(
      `Cannot ${
        sub ? "subscribe to" : "unsubscribe from"
      } no topic: at least one filter is needed (MQTT-3.${sub ? "8.3-3" : "10.3-2"})`,
    );
  }
  const items = list.flatMap(write);
  return buildPacket(type << 4 | 2, [
    u16(p.packetId),
    version === 5 ? writeProperties(p.properties, type) : [],
    ...items,
  ]);
}

/** The MQTT 5.0 Subscription Options byte of `s` (section 3.8.3.1). */
function subscriptionOptions(s: Subscription): number {
  const rh = s.retainHandling ?? 0;
  if (rh !== 0 && rh !== 1 && rh !== 2) {
    const rule = `for "${s.topic}": must be 0, 1 or 2`;
    // Another type than a number (a "1" from a form, say) is named, not shown as if 1 were wrong.
    throw typeof rh === "number"
      ? new RangeError(`Invalid retainHandling ${rh} ${rule} (MQTT 5.0 section 3.8.3.1)`)
      : new TypeError(
        `Invalid retainHandling ${rule}, got ${typeName(rh)} (MQTT 5.0 section 3.8.3.1)`,
      );
  }
  if (s.noLocal && s.topic.startsWith("$share/")) {
    throw new TypeError(
      `Cannot subscribe to "${s.topic}" with noLocal: not on a shared subscription (MQTT-3.8.3-4)`,
    );
  }
  return s.qos | (s.noLocal ? 4 : 0) | (s.retainAsPublished ? 8 : 0) | (rh << 4);
}

/** Decodes a SUBSCRIBE body; in MQTT 5.0 with properties and subscription options. */
export function decodeSubscribe(body: Uint8Array, version: ProtocolVersion = 4): SubscribePacket {
  const r = new BodyReader(body, "SUBSCRIBE");
  const packetId = nonZeroId(r);
  const packet: SubscribePacket = { type: "subscribe", packetId, subscriptions: [] };
  if (version === 5) readProperties(r, 8, packet);
  const subscriptions = packet.subscriptions;
  while (r.left > 0) {
    const topic = readFilter(r, "SUBSCRIBE");
    if (version !== 5) {
      const qos = r.u8("requested QoS");
      if (qos > 2) {
        throw new MQTTProtocolError(`SUBSCRIBE requested QoS byte is ${qos}`, "MQTT-3.8.3-4");
      }
      subscriptions.push({ topic, qos: qos as QoS });
      continue;
    }
    const o = r.u8("subscription options");
    const qos = o & 3, rh = (o >> 4) & 3;
    // Reserved bits 7-6 set; QoS 3 or retain handling 3; No Local on a shared subscription.
    const rule = o & 0xc0
      ? "MQTT-3.8.3-5"
      : qos === 3 || rh === 3
      ? "MQTT 5.0 section 3.8.3.1"
      : o & 4 && topic.startsWith("$share/")
      ? "MQTT-3.8.3-4"
      : "";
    if (rule) {
      throw new MQTTProtocolError(
        `SUBSCRIBE "${topic}" has subscription options 0x${o.toString(16)}`,
        rule,
        // Maximum QoS 3, Retain handling 3 and No Local on a shared subscription
        // are Protocol Errors; reserved bits set, a Malformed Packet.
        o & 0xc0 ? 0x81 : 0x82,
      );
    }
    subscriptions.push({
      topic,
      qos: qos as QoS,
      noLocal: (o & 4) !== 0,
      retainAsPublished: (o & 8) !== 0,
      retainHandling: rh as 0 | 1 | 2,
    });
  }
  if (subscriptions.length === 0) {
    throw new MQTTProtocolError("SUBSCRIBE without a topic filter", "MQTT-3.8.3-3");
  }
  return packet;
}

/** Encodes a SUBACK packet; in MQTT 5.0 with properties, its reason codes checked. */
export function encodeSuback(p: SubackPacket, version: ProtocolVersion = 4): Uint8Array {
  return encodeCodes(0x90, p.packetId, p.returnCodes, version === 5 ? p.properties : null);
}

/**
 * Encodes an MQTT 5.0 UNSUBACK packet: its properties and one reason code per
 * filter of the UNSUBSCRIBE answered. (An MQTT 3.1.1 UNSUBACK has only a
 * packet identifier: {@linkcode encodeAck}.)
 *
 * @param p The packet, with `reasonCodes` (0x00 success, 0x11 no subscription existed…).
 * @returns The whole packet, fixed header included.
 * @throws {TypeError} No reason code, or a property UNSUBACK does not allow.
 * @throws {RangeError} A packet id outside 1–65535, a reason code UNSUBACK does not allow
 * (MQTT-3.11.3-2).
 *
 * @example
 * ```ts
 * import { encodeUnsuback } from "@umqtt/umqtt/codec";
 * const bytes = encodeUnsuback({ type: "unsuback", packetId: 3, reasonCodes: [0x00, 0x11] });
 * console.assert(bytes.join() === [0xb0, 0x05, 0x00, 0x03, 0x00, 0x00, 0x11].join());
 * ```
 */
export function encodeUnsuback(p: UnsubackPacket): Uint8Array {
  return encodeCodes(0xb0, p.packetId, p.reasonCodes ?? [], p.properties);
}

/** SUBACK or UNSUBACK: packet id, properties unless `props` is null (MQTT 3.1.1), codes. */
function encodeCodes(
  byte1: number,
  packetId: number,
  codes: number[],
  props: object | null | undefined,
): Uint8Array {
  const type = byte1 >> 4;
  checkPacketId(packetId, NAMES[type]);
  if (!Array.isArray(codes)) {
    const field = type === 9 ? "returnCodes" : "reasonCodes";
    throw new TypeError(`Invalid ${NAMES[type]}: ${field} must be an array of codes`);
  }
  const bytes = props === null ? undefined : writeProperties(props, type);
  if (codes.length === 0) {
    throw new TypeError(
      `Invalid ${NAMES[type]}: at least one ${bytes ? "reason" : "return"} code is needed (MQTT ${
        bytes ? "5.0" : "3.1.1"
      } section 3.${type}.3)`,
    );
  }
  for (const c of codes) {
    if (bytes) checkReasonCode(c, type, true);
    else if (c !== 0 && c !== 1 && c !== 2 && c !== 0x80) {
      throw new RangeError(`Invalid SUBACK: return code ${String(c)} is reserved (MQTT-3.9.3-2)`);
    }
  }
  return buildPacket(byte1, [u16(packetId), bytes ?? [], codes]);
}

/**
 * Decodes the body of a SUBACK (`type` 9) or an MQTT 5.0 UNSUBACK (11):
 * packet identifier, in MQTT 5.0 properties, and at least one return code
 * (0, 1, 2 or 0x80; MQTT-3.9.3-2) or in MQTT 5.0 reason code, checked.
 */
export function decodeCodes(
  type: 9 | 11,
  body: Uint8Array,
  version: ProtocolVersion,
): SubackPacket | UnsubackPacket {
  const v5 = version === 5;
  const r = new BodyReader(body, NAMES[type]);
  const packet: Record<string, unknown> = {
    type: type === 9 ? "suback" : "unsuback",
    packetId: nonZeroId(r),
  };
  if (v5) readProperties(r, type, packet);
  const codes = Array.from(r.rest(), (c) => {
    if (v5) return checkReasonCode(c, type);
    if (c > 2 && c !== 0x80) {
      throw new MQTTProtocolError(
        `SUBACK return code 0x${c.toString(16)} is reserved`,
        "MQTT-3.9.3-2",
      );
    }
    return c;
  });
  if (codes.length === 0) {
    throw new MQTTProtocolError(
      `${r.packet} without a ${v5 ? "reason" : "return"} code`,
      `MQTT ${v5 ? "5.0" : "3.1.1"} section 3.${type}.3`,
    );
  }
  packet[type === 9 ? "returnCodes" : "reasonCodes"] = codes;
  return packet as unknown as SubackPacket | UnsubackPacket;
}

/** Encodes an UNSUBSCRIBE packet; in MQTT 5.0 with properties. */
export function encodeUnsubscribe(p: UnsubscribePacket, version: ProtocolVersion = 4): Uint8Array {
  return encodeList(10, p, p.topics, version, (t) => {
    validateTopicFilter(t, "unsubscribe");
    return field(utf8(t, "topic filter"));
  });
}

/** Decodes an UNSUBSCRIBE body; in MQTT 5.0 with properties. */
export function decodeUnsubscribe(
  body: Uint8Array,
  version: ProtocolVersion = 4,
): UnsubscribePacket {
  const r = new BodyReader(body, "UNSUBSCRIBE");
  const packetId = nonZeroId(r);
  const packet: UnsubscribePacket = { type: "unsubscribe", packetId, topics: [] };
  if (version === 5) readProperties(r, 10, packet);
  while (r.left > 0) packet.topics.push(readFilter(r, "UNSUBSCRIBE"));
  if (packet.topics.length === 0) {
    throw new MQTTProtocolError("UNSUBSCRIBE without a topic filter", "MQTT-3.10.3-2");
  }
  return packet;
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
