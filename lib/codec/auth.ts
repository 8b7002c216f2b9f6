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

/**
 * Encodes a DISCONNECT packet. In MQTT 3.1.1 it is always the two bytes
 * E0 00; in MQTT 5.0 it carries a reason code and properties, both left out
 * for 0x00 (normal disconnection) without properties.
 *
 * @param p The packet: in MQTT 5.0 `reasonCode` (default 0) and `properties`.
 * @param version 4 (MQTT 3.1.1, the default) or 5 (MQTT 5.0).
 * @returns The whole packet, fixed header included.
 * @throws {TypeError} A property DISCONNECT does not allow, or of the wrong type.
 * @throws {RangeError} A reason code DISCONNECT does not allow (MQTT-3.14.2-1), a value out of range.
 *
 * @example Disconnect and ask the broker to publish the will (0x04)
 * ```ts
 * import { encodeDisconnect } from "@umqtt/umqtt/codec";
 * const bytes = encodeDisconnect({ type: "disconnect", reasonCode: 0x04 }, 5);
 * console.assert(bytes.join() === [0xe0, 0x01, 0x04].join());
 * ```
 */
export function encodeDisconnect(p: DisconnectPacket, version: ProtocolVersion = 4): Uint8Array {
  return version === 5
    ? writeReasoned(0xe0, undefined, p.reasonCode, p.properties)
    : Uint8Array.of(0xe0, 0);
}

/**
 * Encodes an AUTH packet, a step of MQTT 5.0's extended authentication
 * (section 4.12). There is no AUTH in MQTT 3.1.1.
 *
 * @param p The packet: `reasonCode` 0x00, 0x18 or 0x19, and `properties`
 * (the authentication method and data).
 * @returns The whole packet, fixed header included.
 * @throws {TypeError} A property AUTH does not allow, or of the wrong type.
 * @throws {RangeError} Another reason code (MQTT-3.15.2-1), a value out of range.
 *
 * @example Continue a SCRAM exchange
 * ```ts
 * import { encodeAuth } from "@umqtt/umqtt/codec";
 * const bytes = encodeAuth({
 *   type: "auth",
 *   reasonCode: 0x18,
 *   properties: { authenticationMethod: "SCRAM-SHA-1", authenticationData: Uint8Array.of(1) },
 * });
 * console.assert(bytes[0] === 0xf0 && bytes[2] === 0x18);
 * ```
 */
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
