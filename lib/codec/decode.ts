/**
 * Decodes one MQTT 3.1.1 packet from its first byte and its body.
 *
 * @module
 */
import { MQTTProtocolError } from "../errors.ts";
import { decodeConnack, decodeConnect } from "./connect.ts";
import type { Packet } from "./packet.ts";
import { decodeAck, decodePublish } from "./publish.ts";
import { decodeSuback, decodeSubscribe, decodeUnsubscribe } from "./subscribe.ts";

const NAMES = [
  "",
  "CONNECT",
  "CONNACK",
  "PUBLISH",
  "PUBACK",
  "PUBREC",
  "PUBREL",
  "PUBCOMP",
  "SUBSCRIBE",
  "SUBACK",
  "UNSUBSCRIBE",
  "UNSUBACK",
  "PINGREQ",
  "PINGRESP",
  "DISCONNECT",
];

/**
 * Decodes a whole packet given the fixed header's first byte and the body
 * (the Remaining Length bytes after the header). Payloads and binary fields
 * are views into `body`.
 *
 * @param byte1 The fixed header's first byte: packet type and flags.
 * @param body Exactly the packet's body.
 * @returns The packet.
 * @throws {MQTTProtocolError} Bytes that break the specification; the message names the rule.
 *
 * @example
 * ```ts
 * import { decodePacket } from "@umqtt/umqtt/codec";
 * const p = decodePacket(0x20, Uint8Array.of(0x00, 0x00));
 * console.assert(p.type === "connack" && p.returnCode === 0);
 * ```
 */
export function decodePacket(byte1: number, body: Uint8Array): Packet {
  switch (checkHeader(byte1)) {
    case 1:
      return decodeConnect(body);
    case 8:
      return decodeSubscribe(body);
    case 10:
      return decodeUnsubscribe(body);
    case 12:
      return empty(12, body, { type: "pingreq" });
    case 14:
      return empty(14, body, { type: "disconnect" });
  }
  return fromBroker(byte1 >> 4, byte1, body);
}

/**
 * Decodes a packet a broker may send to a client, as {@linkcode decodePacket}
 * does, and refuses the others (CONNECT, SUBSCRIBE, UNSUBSCRIBE, PINGREQ,
 * DISCONNECT) as a protocol error. The client uses this one, so that its
 * bundle carries no decoder for packets it must never receive.
 *
 * @param byte1 The fixed header's first byte: packet type and flags.
 * @param body Exactly the packet's body.
 * @returns The packet.
 * @throws {MQTTProtocolError} Bytes that break the specification, or a packet only a client sends.
 *
 * @example
 * ```ts
 * import { decodeFromBroker } from "@umqtt/umqtt/codec";
 * const p = decodeFromBroker(0x40, Uint8Array.of(0x00, 0x07));
 * console.assert(p.type === "puback" && p.packetId === 7);
 * ```
 */
export function decodeFromBroker(byte1: number, body: Uint8Array): Packet {
  return fromBroker(checkHeader(byte1), byte1, body);
}

/** {@linkcode decodeFromBroker} once the header is checked. */
function fromBroker(type: number, byte1: number, body: Uint8Array): Packet {
  switch (type) {
    case 2:
      return decodeConnack(body);
    case 3:
      return decodePublish(byte1, body);
    case 4:
      return decodeAck("puback", body);
    case 5:
      return decodeAck("pubrec", body);
    case 6:
      return decodeAck("pubrel", body);
    case 7:
      return decodeAck("pubcomp", body);
    case 9:
      return decodeSuback(body);
    case 11:
      return decodeAck("unsuback", body);
    case 13:
      return empty(13, body, { type: "pingresp" });
  }
  throw new MQTTProtocolError(
    `${NAMES[type]} is a packet a broker must never send to a client`,
    "MQTT 3.1.1 section 2.2.1",
  );
}

/** The packet type of `byte1`, once the type is not reserved and the flags are right. */
function checkHeader(byte1: number): number {
  const type = byte1 >> 4;
  if (type === 0 || type === 15) {
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
