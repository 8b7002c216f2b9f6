/**
 * The MQTT 3.1.1 and MQTT 5.0 codec: every control packet as a plain object,
 * an encoder, and a streaming decoder that takes bytes split anywhere. No
 * I/O; use it to build brokers, proxies, test peers or your own client.
 *
 * MQTT 3.1.1 is the default; pass version 5 to {@linkcode encode},
 * {@linkcode decodePacket} and {@linkcode decodeFromBroker}, or
 * `protocolVersion: 5` to {@linkcode PacketDecoder}, for MQTT 5.0: the same
 * packets with properties, reason codes, subscription options, and AUTH.
 * Malformed bytes raise {@linkcode MQTTProtocolError} naming the rule broken.
 *
 * {@linkcode encode} refuses an MQTT 5.0 field (properties, a reason code,
 * subscription options, AUTH) at version 4. The per-packet encoders it
 * calls (`encodePublish`, `encodeAck`, `encodeConnack`, `encodeSubscribe`,
 * `encodeSuback`…) do not: they write what the version has and leave the
 * rest out, so `encodeAck({ type: "puback", packetId: 1, reasonCode: 0x87 })`
 * is a plain MQTT 3.1.1 PUBACK. Use `encode` unless the packet already fits
 * its version.
 *
 * @example Encode a PUBLISH and decode it again, one byte at a time
 * ```ts
 * import { encode, PacketDecoder } from "@umqtt/umqtt/codec";
 *
 * const bytes = encode({
 *   type: "publish",
 *   topic: "a/b",
 *   payload: new TextEncoder().encode("hi"),
 *   qos: 1,
 *   retain: false,
 *   dup: false,
 *   packetId: 7,
 * });
 * const decoder = new PacketDecoder({ maxPacketSize: 1024 });
 * const packets = [];
 * for (const byte of bytes) packets.push(...decoder.push(Uint8Array.of(byte)));
 * console.assert(packets.length === 1 && packets[0].type === "publish");
 * ```
 *
 * @example MQTT 5.0: a PUBLISH with a topic alias and a user property, and a PUBACK's reason
 * ```ts
 * import { decodeFromBroker, encode, PacketDecoder, reasonCodeMessage } from "@umqtt/umqtt/codec";
 *
 * const bytes = encode({
 *   type: "publish",
 *   topic: "sensors/1/temp",
 *   payload: new TextEncoder().encode("21.5"),
 *   qos: 1,
 *   retain: false,
 *   dup: false,
 *   packetId: 7,
 *   properties: { topicAlias: 1, userProperties: [["unit", "C"]] },
 * }, 5);
 * const [packet] = new PacketDecoder({ protocolVersion: 5 }).push(bytes);
 * console.assert(packet.type === "publish" && packet.properties?.topicAlias === 1);
 *
 * // PUBACK 7 with reason code 0x87.
 * const ack = decodeFromBroker(0x40, Uint8Array.of(0x00, 0x07, 0x87), 5);
 * console.assert(ack.type === "puback" && reasonCodeMessage(ack.reasonCode!) === "Not authorized");
 * ```
 *
 * @module
 */
export * from "./packet.ts";
export type {
  AckProperties,
  AuthProperties,
  ConnackProperties,
  ConnectProperties,
  DisconnectProperties,
  MessageProperties,
  PublishProperties,
  SubscribeProperties,
  UnsubscribeProperties,
  UserProperty,
  WillProperties,
} from "./properties.ts";
export * from "./encode.ts";
export { decodeFromBroker, decodePacket } from "./decode.ts";
export * from "./decoder.ts";
export { reasonCodeMessage } from "./reason_codes.ts";
export { encodeConnack, encodeConnect } from "./connect.ts";
export { encodeAck, encodePublish } from "./publish.ts";
export { encodeSuback, encodeSubscribe, encodeUnsuback, encodeUnsubscribe } from "./subscribe.ts";
export { encodeAuth, encodeDisconnect } from "./auth.ts";
export { MQTTProtocolError } from "../errors.ts";
