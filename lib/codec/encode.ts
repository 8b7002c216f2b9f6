/**
 * Encodes any MQTT 3.1.1 or 5.0 packet to its bytes.
 *
 * @module
 */
import { encodeAuth, encodeDisconnect } from "./auth.ts";
import { encodeConnack, encodeConnect } from "./connect.ts";
import type { Packet, ProtocolVersion } from "./packet.ts";
import { encodeAck, encodePublish } from "./publish.ts";
import { encodeSuback, encodeSubscribe, encodeUnsuback, encodeUnsubscribe } from "./subscribe.ts";

const PINGREQ = Uint8Array.of(0xc0, 0x00);
const PINGRESP = Uint8Array.of(0xd0, 0x00);

/**
 * Encodes a packet to the bytes that go on the wire, new bytes each call. A
 * small PUBLISH is a view into a buffer shared with other packets (views
 * never overlap): use the view, not its `buffer`.
 *
 * @param packet The packet, e.g. `{ type: "publish", topic, payload, qos, retain, dup }`.
 * @param version 4 (MQTT 3.1.1, the default) or 5 (MQTT 5.0). A CONNECT is
 * encoded at its own `protocolVersion` when it has one.
 * @returns The whole packet, fixed header included.
 * @throws {TypeError} A field MQTT forbids (wildcards in a topic name, U+0000, an empty filter
 * list, a property the packet does not allow…), or an MQTT 5.0 field or packet (properties, a
 * reason code, subscription options, AUTH) with `version` 4.
 * @throws {RangeError} A number or length out of range (QoS, packet id, strings over 65535 bytes,
 * a topic alias of 0, a reason code the packet does not allow), or a `version` other than 4 or 5.
 *
 * @example
 * ```ts
 * import { encode } from "@umqtt/umqtt/codec";
 * const bytes = encode({ type: "puback", packetId: 10 });
 * console.assert(bytes.join() === [0x40, 0x02, 0x00, 0x0a].join());
 * ```
 *
 * @example An MQTT 5.0 PUBACK that says "No matching subscribers" (0x10)
 * ```ts
 * import { encode } from "@umqtt/umqtt/codec";
 * const bytes = encode({ type: "puback", packetId: 10, reasonCode: 0x10 }, 5);
 * console.assert(bytes.join() === [0x40, 0x03, 0x00, 0x0a, 0x10].join());
 * ```
 */
export function encode(packet: Packet, version: ProtocolVersion = 4): Uint8Array {
  if (version !== 5) {
    if (version !== 4) {
      // A number here is most likely an array index: `packets.map(encode)`.
      throw new RangeError(
        `Invalid version ${version}: must be 4 (MQTT 3.1.1) or 5 (MQTT 5.0); as a map() callback, write packets.map((p) => encode(p))`,
      );
    }
    const field = v5Field(packet);
    if (field) {
      throw new TypeError(
        `Cannot encode ${packet.type.toUpperCase()} with ${field} in MQTT 3.1.1: it is MQTT 5.0 only; encode with version 5`,
      );
    }
  }
  switch (packet.type) {
    case "publish":
      return encodePublish(packet, version);
    case "puback":
    case "pubrec":
    case "pubrel":
    case "pubcomp":
      return encodeAck(packet, version);
    case "unsuback":
      return version === 5 ? encodeUnsuback(packet) : encodeAck(packet);
    case "connect":
      return encodeConnect(packet, version);
    case "connack":
      return encodeConnack(packet, version);
    case "subscribe":
      return encodeSubscribe(packet, version);
    case "suback":
      return encodeSuback(packet, version);
    case "unsubscribe":
      return encodeUnsubscribe(packet, version);
    case "pingreq":
      return PINGREQ.slice();
    case "pingresp":
      return PINGRESP.slice();
    case "disconnect":
      return encodeDisconnect(packet, version);
    case "auth":
      return encodeAuth(packet);
    default:
      throw new TypeError(`Cannot encode packet type ${(packet as { type: unknown }).type}`);
  }
}

/**
 * The first MQTT 5.0 field `packet` uses, or "" if none: encoding it as MQTT
 * 3.1.1 would drop it without a word. A CONNECT says its own version.
 */
function v5Field(packet: Packet): string {
  if (packet.type === "connect" && packet.protocolVersion === 5) return "";
  if (packet.type === "auth") return "AUTH";
  const p = packet as {
    properties?: unknown;
    reasonCode?: number;
    reasonCodes?: unknown;
    will?: { properties?: unknown };
    subscriptions?: { noLocal?: boolean; retainAsPublished?: boolean; retainHandling?: number }[];
  };
  if (p.properties !== undefined) return "properties";
  if (p.will?.properties !== undefined) return "will properties";
  if (p.reasonCode) return "reasonCode";
  if (p.reasonCodes !== undefined) return "reasonCodes";
  // Not an array, or an item not an object: encodeSubscribe() names that.
  for (const s of Array.isArray(p.subscriptions) ? p.subscriptions : []) {
    if (s?.noLocal || s?.retainAsPublished || s?.retainHandling) return "subscription options";
  }
  return "";
}
