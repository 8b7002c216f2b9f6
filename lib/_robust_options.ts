// The robust client's options and its events' types, apart from lib/robust.ts
// so that the client's file holds its behaviour; re-exported from there, with
// the simple client's option and event types.
import type { MQTTClientOptions } from "./options.ts";
import type { DetailEvent, MQTTClientEventMap } from "./_events.ts";

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
} from "./options.ts";
export type { DisconnectReason } from "./errors.ts";
export type { AckProperties, AuthProperties, UnsubscribeProperties } from "./codec/properties.ts";
export type { ProtocolVersion } from "./codec/packet.ts";
export type { SessionStore } from "./session_store.ts";
export type { Endpoint, StreamPair, Transport } from "./transports/types.ts";
export type {
  ConnectedDetail,
  DetailEvent,
  DisconnectedDetail,
  ListenerArgs,
  MQTTClientEventMap,
} from "./_events.ts";

/** Options of the reconnecting client: the simple client's, and these. */
export interface RobustClientOptions extends MQTTClientOptions {
  /** Longest wait between reconnect attempts, in milliseconds; default 30 000. */
  reconnectMaxDelay?: number | undefined;
  /** Most publishes waiting for the connection to come back; default 1000. */
  maxOfflineMessages?: number | undefined;
  /**
   * Most payload bytes (UTF-8 for a string) waiting for the connection to come
   * back; default 16 MiB. A larger payload published offline rejects with a `RangeError`.
   */
  maxOfflineBytes?: number | undefined;
  /**
   * What a publish does when the offline limits are reached: `"wait"`
   * (default) until there is room, or `"reject"` with an `MQTTConnectionError`.
   */
  whenOfflineFull?: "wait" | "reject" | undefined;
  /** Aborting it ends reconnecting for good; what waits for a connection rejects with its reason. */
  signal?: AbortSignal | undefined;
  /**
   * MQTT 5: on a CONNACK or DISCONNECT with reason 0x9C (use another server)
   * or 0x9D (server moved), try the servers of its Server Reference first;
   * default true.
   */
  followServerReference?: boolean | undefined;
}

/** What a `reconnecting` event carries: one event before each attempt, one per server tried. */
export interface ReconnectingDetail {
  /** Attempt number, from 1. */
  attempt: number;
  /** Milliseconds the default `delay()` waits before this attempt. */
  delay: number;
  /**
   * Why the last attempt (or the connection) failed; `undefined` when nothing has failed yet (the
   * first attempt of a `reconnect()` called before any connection).
   */
  error: unknown;
  /** URL of the server about to be tried, `scheme://host:port`. */
  server: string;
}

/** The reconnecting client's events by name: the simple client's, and `reconnecting`. */
export interface RobustClientEventMap extends MQTTClientEventMap {
  /** Before each reconnect attempt, one per server tried. */
  reconnecting: DetailEvent<ReconnectingDetail>;
}
