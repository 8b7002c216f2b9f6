/**
 * Encodes any MQTT 3.1.1 packet to its bytes.
 *
 * @module
 */
import { encodeConnack, encodeConnect } from "./connect.ts";
import type { Packet } from "./packet.ts";
import { encodeAck, encodePublish } from "./publish.ts";
import { encodeSuback, encodeSubscribe, encodeUnsubscribe } from "./subscribe.ts";

const PINGREQ = Uint8Array.of(0xc0, 0x00);
const PINGRESP = Uint8Array.of(0xd0, 0x00);
const DISCONNECT = Uint8Array.of(0xe0, 0x00);

/**
 * Encodes a packet to the bytes that go on the wire, one new buffer each call.
 *
 * @param packet The packet, e.g. `{ type: "publish", topic, payload, qos, retain, dup }`.
 * @returns The whole packet, fixed header included.
 * @throws {TypeError} A field MQTT forbids (wildcards in a topic name, U+0000, an empty filter list…).
 * @throws {RangeError} A number or length out of range (QoS, packet id, strings over 65535 bytes).
 *
 * @example
 * ```ts
 * import { encode } from "@umqtt/umqtt/codec";
 * const bytes = encode({ type: "puback", packetId: 10 });
 * console.assert(bytes.join() === [0x40, 0x02, 0x00, 0x0a].join());
 * ```
 */
export function encode(packet: Packet): Uint8Array {
  switch (packet.type) {
    case "publish":
      return encodePublish(packet);
    case "puback":
    case "pubrec":
    case "pubrel":
    case "pubcomp":
    case "unsuback":
      return encodeAck(packet);
    case "connect":
      return encodeConnect(packet);
    case "connack":
      return encodeConnack(packet);
    case "subscribe":
      return encodeSubscribe(packet);
    case "suback":
      return encodeSuback(packet);
    case "unsubscribe":
      return encodeUnsubscribe(packet);
    case "pingreq":
      return PINGREQ.slice();
    case "pingresp":
      return PINGRESP.slice();
    case "disconnect":
      return DISCONNECT.slice();
    default:
      throw new TypeError(`Cannot encode packet type ${(packet as { type: unknown }).type}`);
  }
}
