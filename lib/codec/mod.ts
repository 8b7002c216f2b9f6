/**
 * The MQTT 3.1.1 codec: every control packet as a plain object, an encoder,
 * and a streaming decoder that takes bytes split anywhere. No I/O; use it to
 * build brokers, proxies, test peers or your own client.
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
 * @module
 */
export * from "./packet.ts";
export type * from "./properties.ts";
export * from "./encode.ts";
export { decodeFromBroker, decodePacket } from "./decode.ts";
export * from "./decoder.ts";
export { reasonCodeMessage } from "./reason_codes.ts";
export { encodeConnack, encodeConnect } from "./connect.ts";
export { encodeAck, encodePublish } from "./publish.ts";
export { encodeSuback, encodeSubscribe, encodeUnsuback, encodeUnsubscribe } from "./subscribe.ts";
export { encodeAuth, encodeDisconnect } from "./auth.ts";
export { MQTTProtocolError } from "../errors.ts";
