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
  const type = byte1 >> 4;
  if (type === 3) return decodePublish(byte1, body);
  if (type === 0 || type === 15) {
    throw new MQTTProtocolError(`Reserved packet type ${type}`, "MQTT 3.1.1 section 2.2.1");
  }
  // PUBREL, SUBSCRIBE and UNSUBSCRIBE carry flags 0010, every other type 0000.
  const flags = type === 6 || type === 8 || type === 10 ? 0x02 : 0x00;
  if ((byte1 & 0x0f) !== flags) {
    throw new MQTTProtocolError(
      `${NAMES[type]} fixed header flags are 0x${(byte1 & 0x0f).toString(16)}, must be 0x${flags}`,
      "MQTT-2.2.2-1",
    );
  }
  switch (type) {
    case 1:
      return decodeConnect(body);
    case 2:
      return decodeConnack(body);
    case 4:
      return decodeAck("puback", body);
    case 5:
      return decodeAck("pubrec", body);
    case 6:
      return decodeAck("pubrel", body);
    case 7:
      return decodeAck("pubcomp", body);
    case 8:
      return decodeSubscribe(body);
    case 9:
      return decodeSuback(body);
    case 10:
      return decodeUnsubscribe(body);
    case 11:
      return decodeAck("unsuback", body);
  }
  if (body.length !== 0) {
    throw new MQTTProtocolError(
      `Malformed ${NAMES[type]}: remaining length is ${body.length}, must be 0`,
      "MQTT 3.1.1 section 2.2.3",
    );
  }
  return type === 12
    ? { type: "pingreq" }
    : type === 13
    ? { type: "pingresp" }
    : { type: "disconnect" };
}
