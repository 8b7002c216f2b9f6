/**
 * MQTT 5.0 reason codes (section 2.4): what each means, which packets may
 * carry it, and the reason code and properties that end PUBACK, PUBREC,
 * PUBREL, PUBCOMP, DISCONNECT and AUTH.
 *
 * @module
 */
import { MQTTException, MQTTProtocolError } from "../errors.ts";
import { NAMES } from "./_names.ts";
import { type BodyReader, typeName } from "./_strings.ts";
import { buildPacket, u16 } from "./_varint.ts";
import { type AckProperties, readProperties, writeProperties } from "./properties.ts";
import {
  AUTH,
  CD,
  CONNACK,
  DISCONNECT,
  ERR,
  PUB,
  PUBCOMP,
  PUBREL,
  SUBACK,
  UNSUBACK,
} from "./_sets.ts";

// Table 2-6 (its packet sets, a bit per packet type, are in _sets.ts), each
// code's packets checked against that packet's own table (3-1, 3-4 to
// 3-11). Two differences: table 2-6 gives 0x8C to DISCONNECT, table 3-10
// does not; DISCONNECT may carry it here (a failed re-authentication,
// section 4.12.1, has no better code). And PUBACK and
// PUBREC may carry 0x95, which mosquitto 2.0 sends for a PUBLISH over its
// message_size_limit: read as the refusal it is, rather than closing the
// connection over it (a robust client would resend that PUBLISH for ever).
const CODES: [code: number, packets: number, message: string][] = [
  [0x00, CD | PUB | PUBREL | PUBCOMP | SUBACK | UNSUBACK | AUTH, "Success"],
  [0x01, SUBACK, "Granted QoS 1"],
  [0x02, SUBACK, "Granted QoS 2"],
  [0x04, DISCONNECT, "Disconnect with Will Message"],
  [0x10, PUB, "No matching subscribers"],
  [0x11, UNSUBACK, "No subscription existed"],
  [0x18, AUTH, "Continue authentication"],
  [0x19, AUTH, "Re-authenticate"],
  [0x80, ERR, "Unspecified error"],
  [0x81, CD, "Malformed Packet"],
  [0x82, CD, "Protocol Error"],
  [0x83, ERR, "Implementation specific error"],
  [0x84, CONNACK, "Unsupported Protocol Version"],
  [0x85, CONNACK, "Client Identifier not valid"],
  [0x86, CONNACK, "Bad User Name or Password"],
  [0x87, ERR, "Not authorized"],
  [0x88, CONNACK, "Server unavailable"],
  [0x89, CD, "Server busy"],
  [0x8a, CONNACK, "Banned"],
  [0x8b, DISCONNECT, "Server shutting down"],
  [0x8c, CD, "Bad authentication method"],
  [0x8d, DISCONNECT, "Keep Alive timeout"],
  [0x8e, DISCONNECT, "Session taken over"],
  [0x8f, SUBACK | UNSUBACK | DISCONNECT, "Topic Filter invalid"],
  [0x90, CD | PUB, "Topic Name invalid"],
  [0x91, PUB | SUBACK | UNSUBACK, "Packet Identifier in use"],
  [0x92, PUBREL | PUBCOMP, "Packet Identifier not found"],
  [0x93, DISCONNECT, "Receive Maximum exceeded"],
  [0x94, DISCONNECT, "Topic Alias invalid"],
  [0x95, CD | PUB, "Packet too large"],
  [0x96, DISCONNECT, "Message rate too high"],
  [0x97, CD | PUB | SUBACK, "Quota exceeded"],
  [0x98, DISCONNECT, "Administrative action"],
  [0x99, CD | PUB, "Payload format invalid"],
  [0x9a, CD, "Retain not supported"],
  [0x9b, CD, "QoS not supported"],
  [0x9c, CD, "Use another server"],
  [0x9d, CD, "Server moved"],
  [0x9e, SUBACK | DISCONNECT, "Shared Subscriptions not supported"],
  [0x9f, CD, "Connection rate exceeded"],
  [0xa0, DISCONNECT, "Maximum connect time"],
  [0xa1, SUBACK | DISCONNECT, "Subscription Identifiers not supported"],
  [0xa2, SUBACK | DISCONNECT, "Wildcard Subscriptions not supported"],
];

const PACKETS: number[] = [];
const MESSAGES: string[] = [];
for (const [code, packets, message] of CODES) {
  PACKETS[code] = packets;
  MESSAGES[code] = message;
}

/**
 * Says in words what an MQTT 5.0 reason code means (table 2-6), for error
 * messages. Code 0x00 reads "Success", its meaning in most packets (in
 * DISCONNECT it is a normal disconnection, in SUBACK QoS 0 granted).
 *
 * @param code A reason code from CONNACK, PUBACK, PUBREC, PUBREL, PUBCOMP, SUBACK, UNSUBACK,
 * DISCONNECT or AUTH.
 * @returns The specification's name for it, e.g. `"Not authorized"`.
 *
 * @example
 * ```ts
 * import { reasonCodeMessage } from "@umqtt/umqtt/codec";
 * console.assert(reasonCodeMessage(0x87) === "Not authorized");
 * console.assert(reasonCodeMessage(0x7f) === "Reserved reason code 0x7f");
 * ```
 */
export function reasonCodeMessage(code: number): string {
  return MESSAGES[code] ?? `Reserved reason code 0x${code.toString(16)}`;
}

/**
 * How a broker's MQTT 5 reason code reads in an error: `${head}: ${its
 * message}${: reasonString} (${packet} reason code 0x${code})`.
 */
export function reasonText(
  head: string,
  code: number,
  packet: string,
  reasonString?: string,
): string {
  const why = reasonString ? `: ${reasonString}` : "";
  return `${head}: ${reasonCodeMessage(code)}${why} (${packet} reason code 0x${code.toString(16)})`;
}

/** The error for a PUBLISH the broker refused in its PUBACK or PUBREC (MQTT 5). */
export function ackRefusal(type: string, code: number, props?: AckProperties): MQTTException {
  const why = props?.reasonString;
  return new MQTTException(
    reasonText("Publish refused by the broker", code, type.toUpperCase(), why),
    code,
    why,
  );
}

/**
 * Returns `code` if packet `type` may carry it. Otherwise throws: a
 * `RangeError` when `encoding`, else an `MQTTProtocolError`.
 */
export function checkReasonCode(code: number, type: number, encoding?: boolean): number {
  if (encoding && !(code >= 0 && code < 256 && Number.isInteger(code))) {
    // CONNACK's is its returnCode (MQTT 5.0: the Connect Reason Code).
    const field = type === 2 ? "returnCode" : "reasonCode";
    const int = Number.isInteger(code);
    // Its type named: `reasonCode 4 is not a reason code` would read as if 0x04 were wrong.
    // An integer past one byte is no code at all, not a reserved one ("0x-1").
    throw new (int ? RangeError : TypeError)(
      `Invalid ${NAMES[type]}: ${field} ${String(code)} is not a reason code${
        int ? ": must be an integer from 0x00 to 0xff" : ` (${typeName(code)})`
      }`,
    );
  }
  if (!((PACKETS[code] >> type) & 1)) {
    // CONNACK's list is MQTT-3.2.2-8; SUBACK's and UNSUBACK's MQTT-3.x.3-2; the others MQTT-3.x.2-1.
    const rule = `MQTT-3.${type}.${type === 2 ? "2-8" : type === 9 || type === 11 ? "3-2" : "2-1"}`;
    const message = `Reserved reason code 0x${code.toString(16)} in ${NAMES[type]}`;
    throw encoding ? new RangeError(`${message} (${rule})`) : new MQTTProtocolError(message, rule);
  }
  return code;
}

/**
 * Reads the end of an MQTT 5.0 PUBACK, PUBREC, PUBREL, PUBCOMP, DISCONNECT
 * or AUTH into `packet`: a reason code (0x00 when the packet ends before it),
 * then properties (none when it ends before them).
 */
export function readReasoned<P extends { reasonCode?: number; properties?: object }>(
  r: BodyReader,
  type: number,
  packet: P,
): P {
  packet.reasonCode = r.left ? checkReasonCode(r.u8("reason code"), type) : 0;
  if (r.left) readProperties(r, type, packet);
  r.end();
  return packet;
}

/**
 * Encodes such a packet: `byte1`, the packet identifier if any, then the
 * reason code and properties. Both are left out when the code is 0x00 and
 * there are no properties, and the Property Length alone when there are no
 * properties, except in AUTH, whose section does not allow that.
 */
export function writeReasoned(
  byte1: number,
  id: number | undefined,
  code = 0,
  properties: object | undefined,
): Uint8Array {
  const type = byte1 >> 4;
  checkReasonCode(code, type, true);
  const props = writeProperties(properties, type);
  return buildPacket(byte1, [
    id === undefined ? [] : u16(id),
    props.length > 1 ? [code, ...props] : code ? (type === 15 ? [code, 0] : [code]) : [],
  ]);
}
