/**
 * umqtt: an MQTT 3.1.1 and MQTT 5 client for Deno, Bun, Node, Cloudflare Workers and
 * browsers, with MicroPython `umqtt.simple`'s API, zero dependencies, on a
 * core that speaks MQTT over any pair of web byte streams.
 *
 * @example The shortest useful program
 * ```ts ignore
 * import { MQTTClient } from "@umqtt/umqtt";
 *
 * const client = new MQTTClient("my-app", "mqtt://test.mosquitto.org");
 * await client.connect();
 * await client.subscribe("umqtt/demo");
 * await client.publish("umqtt/demo", "hello", false, 1);
 * const msg = await client.wait_msg();
 * console.log(msg.topic, new TextDecoder().decode(msg.payload));
 * await client.disconnect();
 * ```
 *
 * @module
 */
export * from "./lib/client.ts";
export type {
  AuthChallenge,
  AuthHandler,
  Connack,
  ConnackProperties,
  ConnectOptions,
  Credential,
  DisconnectOptions,
  Message,
  MessageCallback,
  MessageProperties,
  MQTTClientOptions,
  PublishOptions,
  PublishProperties,
  RequestOptions,
  SignalOptions,
  SubscribeListOptions,
  SubscribeOptions,
  SubscriptionOptions,
  UnsubscribeOptions,
  UserProperty,
  WillOptions,
  WillProperties,
} from "./lib/options.ts";
export type { DisconnectReason } from "./lib/errors.ts";
export type {
  ConnectedDetail,
  DetailEvent,
  DisconnectedDetail,
  ListenerArgs,
  MQTTClientEventMap,
} from "./lib/_events.ts";
export type {
  AckProperties,
  AuthProperties,
  UnsubscribeProperties,
} from "./lib/codec/properties.ts";
export * from "./lib/errors.ts";
export * from "./lib/topic.ts";
export * from "./lib/session_store.ts";
export type { Endpoint, SslParams, StreamPair, Transport } from "./lib/transports/types.ts";
export type { ProtocolVersion, QoS } from "./lib/codec/packet.ts";
