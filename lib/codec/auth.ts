/**
 * MQTT 5.0's AUTH and DISCONNECT (sections 3.15 and 3.14), which share a
 * shape: a reason code and properties, both left out when the code is 0x00
 * and there are no properties (remaining length 0). An MQTT 3.1.1
 * DISCONNECT is always empty.
 *
 * @module
 */
import { NAMES } from "./_names.ts";
import { BodyReader } from "./_strings.ts";
import type { AuthPacket, DisconnectPacket, ProtocolVersion } from "./packet.ts";
import { readReasoned, writeReasoned } from "./reason_codes.ts";

/** Encodes a DISCONNECT packet; in MQTT 5.0 with its reason code and properties. */
export function encodeDisconnect(p: DisconnectPacket, version: ProtocolVersion = 4): Uint8Array {
  return version === 5
    ? writeReasoned(0xe0, undefined, p.reasonCode, p.properties)
    : Uint8Array.of(0xe0, 0);
}

/** Encodes an AUTH packet (MQTT 5.0 only). */
export function encodeAuth(p: AuthPacket): Uint8Array {
  return writeReasoned(0xf0, undefined, p.reasonCode, p.properties);
}

/** Decodes the body of an MQTT 5.0 DISCONNECT (`type` 14) or AUTH (15). */
export function decodeDisconnectOrAuth(
  type: 14 | 15,
  body: Uint8Array,
): DisconnectPacket | AuthPacket {
  return readReasoned<DisconnectPacket | AuthPacket>(new BodyReader(body, NAMES[type]), type, {
    type: type === 14 ? "disconnect" : "auth",
    reasonCode: 0,
  });
}
