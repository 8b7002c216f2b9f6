/**
 * Decodes one MQTT 3.1.1 or 5.0 packet from its first byte and its body.
 *
 * @module
 */
import { MQTTProtocolError } from "../errors.ts";
import { NAMES } from "./_names.ts";
import { decodeDisconnectOrAuth } from "./auth.ts";
import { decodeConnack, decodeConnect } from "./connect.ts";
import type { Packet, ProtocolVersion } from "./packet.ts";
import { decodeAck, decodePublish } from "./publish.ts";
import { decodeCodes, decodeSubscribe, decodeUnsubscribe } from "./subscribe.ts";
import { keyName, readable } from "./_strings.ts";

/**
 * Decodes a whole packet given the fixed header's first byte and the body
 * (the Remaining Length bytes after the header). Payloads and binary fields
 * are views into `body`.
 *
 * @param byte1 The fixed header's first byte: packet type and flags.
 * @param body Exactly the packet's body.
 * @param version 4 (MQTT 3.1.1, the default) or 5 (MQTT 5.0). With 5 a
 * CONNECT may be of either level; with 4 only of level 4.
 * @returns The packet.
 * @throws {MQTTProtocolError} Bytes that break the specification; the message names the rule.
 * @throws {TypeError} A `body` that is not a Uint8Array (a Node Buffer is one), or whose
 * ArrayBuffer was detached or resized below it.
 * @throws {RangeError} A `byte1` that is not an integer from 0 to 255, a `version` other than 4 or 5.
 *
 * @example
 * ```ts
 * import { decodePacket } from "@umqtt/umqtt/codec";
 * const p = decodePacket(0x20, Uint8Array.of(0x00, 0x00));
 * console.assert(p.type === "connack" && p.returnCode === 0);
 * ```
 *
 * @example An MQTT 5.0 PUBACK with reason code 0x10, no matching subscribers
 * ```ts
 * import { decodePacket } from "@umqtt/umqtt/codec";
 * const p = decodePacket(0x40, Uint8Array.of(0x00, 0x07, 0x10), 5);
 * console.assert(p.type === "puback" && p.reasonCode === 0x10);
 * ```
 */
export function decodePacket(
  byte1: number,
  body: Uint8Array,
  version: ProtocolVersion = 4,
): Packet {
  checkArguments(byte1, body, version);
  return packetBody(byte1, body, version);
}

/**
 * {@linkcode decodePacket} without its argument checks, for the framer, which
 * gives it a byte it read and a body it cut.
 */
export function packetBody(byte1: number, body: Uint8Array, version: ProtocolVersion): Packet {
  if (version === 5) {
    try {
      return anyPacket(byte1, body, 5);
    } catch (e) {
      throw renumber(e);
    }
  }
  return anyPacket(byte1, body, 4);
}

function anyPacket(byte1: number, body: Uint8Array, version: ProtocolVersion): Packet {
  switch (checkHeader(byte1, version)) {
    case 1:
      return decodeConnect(body, version);
    case 8:
      return decodeSubscribe(body, version);
    case 10:
      return decodeUnsubscribe(body, version);
    case 12:
      return empty(12, body, { type: "pingreq" });
    case 14:
      if (version !== 5) return empty(14, body, { type: "disconnect" });
  }
  return fromBroker(byte1 >> 4, byte1, body, version);
}

/**
 * Decodes a packet a broker may send to a client, as {@linkcode decodePacket}
 * does, and refuses the others (CONNECT, SUBSCRIBE, UNSUBSCRIBE, PINGREQ, and
 * in MQTT 3.1.1 DISCONNECT) as a protocol error. The client uses this one, so
 * that its bundle carries no decoder for packets it must never receive.
 *
 * @param byte1 The fixed header's first byte: packet type and flags.
 * @param body Exactly the packet's body.
 * @param version 4 (MQTT 3.1.1, the default) or 5 (MQTT 5.0, where a broker may also send
 * DISCONNECT and AUTH).
 * @returns The packet.
 * @throws {MQTTProtocolError} Bytes that break the specification, or a packet only a client sends.
 * @throws {TypeError} A `body` that is not a Uint8Array (a Node Buffer is one), or whose
 * ArrayBuffer was detached or resized below it.
 * @throws {RangeError} A `byte1` that is not an integer from 0 to 255, a `version` other than 4 or 5.
 *
 * @example
 * ```ts
 * import { decodeFromBroker } from "@umqtt/umqtt/codec";
 * const p = decodeFromBroker(0x40, Uint8Array.of(0x00, 0x07));
 * console.assert(p.type === "puback" && p.packetId === 7);
 * ```
 *
 * @example An MQTT 5.0 DISCONNECT with reason code 0x8B, server shutting down
 * ```ts
 * import { decodeFromBroker } from "@umqtt/umqtt/codec";
 * const p = decodeFromBroker(0xe0, Uint8Array.of(0x8b), 5);
 * console.assert(p.type === "disconnect" && p.reasonCode === 0x8b);
 * ```
 */
export function decodeFromBroker(
  byte1: number,
  body: Uint8Array,
  version: ProtocolVersion = 4,
): Packet {
  checkArguments(byte1, body, version);
  return brokerBody(byte1, body, version);
}

/** {@linkcode decodeFromBroker} without its argument checks, for the client's framer. */
export function brokerBody(byte1: number, body: Uint8Array, version: ProtocolVersion): Packet {
  if (version === 5) {
    try {
      return fromBroker(checkHeader(byte1, 5), byte1, body, 5);
    } catch (e) {
      throw renumber(e);
    }
  }
  return fromBroker(checkHeader(byte1, 4), byte1, body, 4);
}

/** {@linkcode decodeFromBroker} once the header is checked. */
function fromBroker(
  type: number,
  byte1: number,
  body: Uint8Array,
  version: ProtocolVersion,
): Packet {
  switch (type) {
    case 2:
      return decodeConnack(body, version);
    case 3:
      return decodePublish(byte1, body, version);
    case 4:
      return decodeAck("puback", body, version);
    case 5:
      return decodeAck("pubrec", body, version);
    case 6:
      return decodeAck("pubrel", body, version);
    case 7:
      return decodeAck("pubcomp", body, version);
    case 9:
      return decodeCodes(9, body, version);
    case 11:
      return version === 5 ? decodeCodes(11, body, 5) : decodeAck("unsuback", body);
    case 13:
      return empty(13, body, { type: "pingresp" });
  }
  if (type > 13 && version === 5) return decodeDisconnectOrAuth(type as 14 | 15, body);
  // Well-formed, but not allowed from a broker: MQTT 5 calls that a protocol error.
  throw new MQTTProtocolError(
    `${NAMES[type]} is a packet a broker must never send to a client`,
    "MQTT 3.1.1 section 2.2.1",
    0x82,
  );
}

/**
 * Throws unless the arguments are a byte, a Uint8Array and 4 or 5: a number[]
 * body was read as no bytes at all (a view of its `buffer`, which it has not),
 * a byte1 of 0x1E0 as an AUTH, a version 3 as 4.
 */
function checkArguments(byte1: unknown, body: unknown, version: unknown): void {
  readable(body, "body");
  if (!Number.isInteger(byte1) || (byte1 as number) < 0 || (byte1 as number) > 255) {
    throw new RangeError(
      `Invalid byte1 ${
        keyName(byte1)
      }: must be a fixed header's first byte, an integer from 0 to 255`,
    );
  }
  if (version !== 4 && version !== 5) {
    throw new RangeError(
      `Invalid version ${keyName(version)}: must be 4 (MQTT 3.1.1) or 5 (MQTT 5.0)`,
    );
  }
}

/** The packet type of `byte1`, once the type is not reserved and the flags are right. */
function checkHeader(byte1: number, version: ProtocolVersion): number {
  const type = byte1 >> 4;
  if (type === 0 || (type === 15 && version !== 5)) {
    throw new MQTTProtocolError(`Reserved packet type ${type}`, "MQTT 3.1.1 section 2.2.1");
  }
  // PUBLISH has flags of its own; PUBREL, SUBSCRIBE and UNSUBSCRIBE carry
  // 0010, every other type 0000.
  const flags = type === 6 || type === 8 || type === 10 ? 0x02 : 0x00;
  if (type !== 3 && (byte1 & 0x0f) !== flags) {
    throw new MQTTProtocolError(
      `${NAMES[type]} fixed header flags are 0x${(byte1 & 0x0f).toString(16)}, must be 0x${flags}`,
      "MQTT-2.2.2-1",
    );
  }
  return type;
}

/** `packet`, for a type whose body must be empty. */
function empty<P extends Packet>(type: number, body: Uint8Array, packet: P): P {
  if (body.length !== 0) {
    throw new MQTTProtocolError(
      `Malformed ${NAMES[type]}: remaining length is ${body.length}, must be 0`,
      "MQTT 3.1.1 section 2.2.3",
    );
  }
  return packet;
}

// The code shared by both versions names MQTT 3.1.1's rules; an MQTT 5.0
// packet's error names the same rule as MQTT 5.0 numbers it. Rules that only
// MQTT 5.0 code raises are named right where they are raised.
const V5_RULES: Record<string, string> = {
  "MQTT 3.1.1 section 2.2.1": "MQTT 5.0 section 2.1.2",
  "MQTT 3.1.1 section 2.2.3": "MQTT 5.0 section 2.1.4",
  "MQTT 3.1.1 section 3.2.2.1": "MQTT-3.2.2-1",
  "MQTT-2.2.2-1": "MQTT-2.1.3-1",
  "MQTT-1.5.3-1": "MQTT-1.5.4-1",
  "MQTT-1.5.3-2": "MQTT-1.5.4-2",
  "MQTT-2.3.1-1": "MQTT-2.2.1-3",
  "MQTT-3.8.3-3": "MQTT-3.8.3-2",
  "MQTT-4.7.1-2": "MQTT-4.7.1-1",
  "MQTT-4.7.1-3": "MQTT-4.7.1-2",
};

/** `e` with its MQTT 3.1.1 rule replaced by MQTT 5.0's number for it. */
function renumber(e: unknown): unknown {
  const rule = e instanceof MQTTProtocolError && V5_RULES[e.rule];
  return rule
    ? new MQTTProtocolError(e.message.slice(0, -e.rule.length - 3), rule, e.reasonCode)
    : e;
}
