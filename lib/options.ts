/**
 * The client's options and the shapes its calls take and give: what
 * {@linkcode MQTTClient}'s constructor accepts, the options objects of its
 * methods, and {@linkcode Message}. The checks that turn the constructor's
 * arguments into a validated configuration are in `_client_config.ts`.
 *
 * @module
 */
import type { ProtocolVersion, QoS } from "./codec/packet.ts";
import type { ConnackProperties, UserProperty } from "./codec/properties.ts";
import type { SessionStore } from "./session_store.ts";
import type { SslParams, Transport } from "./transports/types.ts";

export type { ConnackProperties, UserProperty };

/** A message received from the broker; the same shape everywhere one surfaces. */
export interface Message {
  /** The topic it was published to (always the full topic, also when it came as a topic alias). */
  topic: string;
  /**
   * The payload bytes: a view into a buffer that holds other bytes too (the
   * chunk read, or a slab shared by small ones, other clients' included).
   * Keep the view, or a `slice()` of it: the client never writes into it
   * again. Never its `.buffer`: it shows those other bytes, and transferring
   * it (`postMessage(p, [p.buffer])`) empties the messages still queued that
   * share it; transfer a `slice()`'s.
   */
  payload: Uint8Array;
  /** The QoS it was delivered with. */
  qos: QoS;
  /** Whether it came from the broker's retained store. */
  retain: boolean;
  /** Whether the broker marked it as a redelivery. */
  dup: boolean;
  /**
   * MQTT 5: the message's properties (absent with MQTT 3.1.1). A message with
   * none has `{}`: one frozen object that all such messages share.
   */
  properties?: MessageProperties;
}

/**
 * MQTT 5: the properties a `publish()` may give (section 3.3.2.3). The
 * topic alias is the client's own business (`autoTopicAlias`); subscription
 * identifiers come only from brokers.
 */
export interface PublishProperties {
  /** True when the payload is UTF-8 text, false (or absent) for unspecified bytes. */
  payloadFormatIndicator?: boolean | undefined;
  /**
   * Lifetime of the message in seconds; absent, it does not expire. It
   * counts from when the PUBLISH goes out: one kept while offline (the robust
   * client) or sent again after a reconnect goes with the whole interval.
   */
  messageExpiryInterval?: number | undefined;
  /** Content type of the payload, e.g. a MIME type. */
  contentType?: string | undefined;
  /** Topic name a response to this request goes to. */
  responseTopic?: string | undefined;
  /** Bytes that match a response to its request; a string is sent as UTF-8. */
  correlationData?: Uint8Array | string | undefined;
  /** Name/value pairs for the application, in order; a name may appear more than once. */
  userProperties?: UserProperty[] | undefined;
}

/**
 * MQTT 5: the properties of a received message, its topic alias resolved;
 * `messageExpiryInterval` is the lifetime left when the broker sent it: it
 * does not count down while the message waits in the client's queue.
 */
export interface MessageProperties extends Omit<PublishProperties, "correlationData"> {
  /** Bytes that match a response to its request: a view, as {@linkcode Message.payload} is. */
  correlationData?: Uint8Array;
  /** The identifiers of the subscriptions the message matched, one per matching subscription. */
  subscriptionIdentifiers?: number[];
}

/** MQTT 5: the properties of a will: a message's, and how long the broker waits before publishing it. */
export interface WillProperties extends PublishProperties {
  /** Seconds the broker waits after the connection is lost before it publishes the will. */
  willDelayInterval?: number | undefined;
}

/**
 * umqtt's message callback: topic and payload, and the whole message (with
 * its MQTT 5 properties); what it returns (an async callback's promise) is
 * awaited before the message is acknowledged. Any return type is accepted:
 * `(t, m) => list.push(m)` is a callback too.
 */
export type MessageCallback = (
  topic: string,
  msg: Uint8Array,
  message: Message,
) => unknown;

/** What the broker's CONNACK said, as {@linkcode MQTTClient.connack} keeps it (frozen, properties too). */
export interface Connack {
  /** Whether the broker had a session for this client. */
  sessionPresent: boolean;
  /** 0 when accepted (the 3.1.1 return code, or the MQTT 5 reason code). */
  reasonCode: number;
  /** MQTT 5: its properties (`{}` with 3.1.1). */
  properties: ConnackProperties;
}

/**
 * MQTT 5 enhanced authentication: one step the broker asked for (AUTH, reason
 * 0x18), with the properties its AUTH carried; one it left out is absent.
 */
export interface AuthChallenge {
  /** 0x18, continue authentication. */
  reasonCode: number;
  /** The method, as the broker names it. */
  authenticationMethod?: string;
  /** The broker's data for this step: a view, as {@linkcode Message.payload} is. */
  authenticationData?: Uint8Array;
  /** What the broker said of this step (for a human, not to be parsed), when it said something. */
  reasonString?: string;
  /** The broker's User Properties of this step, `[name, value]` pairs in order, when it sent some. */
  userProperties?: UserProperty[];
}

/** MQTT 5: answers the broker's AUTH challenge with the data for the next step. */
export type AuthHandler = (challenge: AuthChallenge) => Uint8Array | Promise<Uint8Array>;

/** The constructor's options: umqtt's parameters under umqtt's names, new ones in camelCase. */
export interface MQTTClientOptions {
  /**
   * Broker port; 0 (default) means the URL's port, else 1883, or 8883 with `ssl` (80 for
   * `ws://`, 443 for `wss://`).
   */
  port?: number | undefined;
  /**
   * User name (`null`, umqtt's `None`: none); or a function called on
   * every connection attempt for the current one (rotating tokens).
   */
  user?: string | Credential<string> | null | undefined;
  /**
   * Password (text or bytes, copied: the caller may wipe its buffer); or a
   * function called on every connection attempt for the current one (a JWT,
   * a cloud IoT custom authorizer's token).
   */
  password?: string | Uint8Array | Credential<string | Uint8Array> | null | undefined;
  /** Keep-alive interval in seconds, 0–65535; 0 (default) turns it off. */
  keepalive?: number | undefined;
  /** Use TLS (also implied by an `mqtts://` server URL). */
  ssl?: boolean | undefined;
  /** TLS parameters with MicroPython's names. */
  ssl_params?: SslParams | undefined;
  /** Makes the connection instead of the built-in socket; the core's only view of the network. */
  transport?: Transport | undefined;
  /** Largest incoming packet accepted, in bytes; default 1 MiB. */
  maxPacketSize?: number | undefined;
  /**
   * Most messages held for `wait_msg`/`check_msg`; default 1000. Past it, QoS 0
   * messages are dropped oldest first and counted in
   * {@linkcode MQTTClient.droppedMessages}. QoS 1 and 2 messages are never dropped:
   * they are acknowledged only once handled, so the broker's in-flight window
   * bounds them (a broker past 65 535 unacknowledged is refused: the client closes).
   */
  maxQueuedMessages?: number | undefined;
  /**
   * Milliseconds one connection attempt may take: credential functions
   * settling, the connection, its CONNACK; default 30 000. It also bounds the
   * wait for the broker's answer to a re-authentication and, with keepalive 0,
   * to a `ping()`: none in time ends the connection.
   */
  connectTimeout?: number | undefined;
  /**
   * Where unacknowledged outgoing packets and QoS 2 receive state are kept;
   * default in memory. See {@linkcode SessionStore} to keep a session across restarts.
   */
  sessionStore?: SessionStore | undefined;
  /**
   * MQTT 3.1.1 only: most QoS 2 publishes unacknowledged at once, each from when it is written
   * until its PUBCOMP; default 20. While that many are out, further QoS 1 and 2 publishes wait,
   * in call order (QoS 1 ones alone never wait). 3.1.1 has no Receive Maximum: mosquitto's
   * `max_inflight_messages` (default 20) answers QoS 2 publishes past it with a PUBREC and
   * discards them, and QoS 1 ones while it is full. 20 is that default, and Paho Python's.
   * With MQTT 5 the broker's Receive Maximum rules, and this option is a TypeError.
   */
  maxInflightQoS2?: number | undefined;
  /** 4 for MQTT 3.1.1 (the default), 5 for MQTT 5.0. The options below are MQTT 5's. */
  protocolVersion?: ProtocolVersion | undefined;
  /**
   * Seconds the broker keeps the session after the connection ends. Unless
   * given, `connect(false)` asks for 0xFFFFFFFF (the session outlives the
   * connection, as in 3.1.1) and `connect(true)` for 0.
   */
  sessionExpiryInterval?: number | undefined;
  /** How many QoS 1 and 2 messages the broker may send at once, unacknowledged; default 65535. */
  receiveMaximum?: number | undefined;
  /**
   * Highest topic alias the broker may use towards this client; default 0 (none).
   * Each alias keeps its topic for the connection: up to this many topics held.
   */
  topicAliasMaximum?: number | undefined;
  /** Ask for the broker's Response Information (a base for response topics); default false. */
  requestResponseInformation?: boolean | undefined;
  /** False asks the broker to leave reason strings and user properties out of failures; default true. */
  requestProblemInformation?: boolean | undefined;
  /** User properties of the CONNECT: `[name, value]` pairs, in order, names may repeat. */
  userProperties?: UserProperty[] | undefined;
  /** Enhanced authentication: the method's name (e.g. `"SCRAM-SHA-256"`). */
  authenticationMethod?: string | undefined;
  /**
   * Enhanced authentication: the first step's data (copied: the caller may
   * wipe its buffer); or a function called on every connection attempt for
   * that attempt's (a SCRAM client-first with a new nonce: the same bytes on
   * every reconnect would reuse it), as `password`'s is.
   */
  authenticationData?: Uint8Array | Credential<Uint8Array> | undefined;
  /**
   * Enhanced authentication: answers each challenge (AUTH 0x18) of the broker. One that throws,
   * or answers what is not a `Uint8Array`, fails the connection as the client's own failure: the
   * robust client does not reconnect after it.
   */
  onAuth?: AuthHandler | undefined;
  /** Send repeated topics as topic aliases when the broker allows them; default true. */
  autoTopicAlias?: boolean | undefined;
}

/** Cancels a wait: the call rejects with the signal's reason, and the client stays usable. */
export interface SignalOptions {
  /** Aborting it stops the wait. */
  signal?: AbortSignal | undefined;
}

/** Options for {@linkcode MQTTClient.publish}. */
export interface PublishOptions extends SignalOptions {
  /** Ask the broker to retain the message (default false). */
  retain?: boolean | undefined;
  /** Quality of service, 0, 1 or 2 (default 0). */
  qos?: QoS | undefined;
  /** MQTT 5: the message's properties. */
  properties?: PublishProperties | undefined;
}

/** Options for {@linkcode MQTTClient.set_last_will}: a publish's, without a signal. */
export interface WillOptions {
  /** Ask the broker to retain the will (default false). */
  retain?: boolean | undefined;
  /** Quality of service, 0, 1 or 2 (default 0). */
  qos?: QoS | undefined;
  /** MQTT 5: the will's properties, `willDelayInterval` included. */
  properties?: WillProperties | undefined;
}

/** Options for {@linkcode MQTTClient.connect}. */
export interface ConnectOptions extends SignalOptions {
  /** Start a fresh session (default true) or resume the broker's stored one. */
  clean_session?: boolean | undefined;
}

/** One subscription's options: its QoS and, with MQTT 5, its subscription options. */
export interface SubscriptionOptions {
  /** Maximum QoS asked for (default 0). */
  qos?: QoS | undefined;
  /** MQTT 5: do not send this client's own publishes back to it (not on a `$share` filter). */
  noLocal?: boolean | undefined;
  /** MQTT 5: keep the RETAIN flag as published, not 0, on forwarded messages. */
  retainAsPublished?: boolean | undefined;
  /** MQTT 5: retained messages on subscribing: 0 always (default), 1 only if new, 2 never. */
  retainHandling?: 0 | 1 | 2 | undefined;
}

/**
 * Options for the list form of {@linkcode MQTTClient.subscribe}: the
 * SUBSCRIBE's own (each filter's options are in the list).
 */
export interface SubscribeListOptions extends SignalOptions {
  /** MQTT 5: returned with every message these filters match (1 to 268 435 455). */
  subscriptionIdentifier?: number | undefined;
  /** MQTT 5: the SUBSCRIBE's user properties. */
  userProperties?: UserProperty[] | undefined;
}

/** Options for {@linkcode MQTTClient.subscribe}: the subscription's and the SUBSCRIBE's. */
export interface SubscribeOptions extends SubscriptionOptions, SignalOptions {
  /** MQTT 5: returned with every message these filters match (1 to 268 435 455). */
  subscriptionIdentifier?: number | undefined;
  /** MQTT 5: the SUBSCRIBE's user properties. */
  userProperties?: UserProperty[] | undefined;
}

/** Options for {@linkcode MQTTClient.unsubscribe}. */
export interface UnsubscribeOptions extends SignalOptions {
  /** MQTT 5: the UNSUBSCRIBE's user properties. */
  userProperties?: UserProperty[] | undefined;
}

/** MQTT 5: what {@linkcode MQTTClient.disconnect}'s DISCONNECT says. */
export interface DisconnectOptions {
  /** 0x00 normal (default); 0x04 makes the broker publish the will; others per the spec's table 3-10. */
  reasonCode?: number | undefined;
  /** A new session expiry, in seconds (not if CONNECT's was 0: MQTT 5.0 section 3.14.2.2.2). */
  sessionExpiryInterval?: number | undefined;
  /** Why, for the broker's logs. */
  reasonString?: string | undefined;
  /** User properties of the DISCONNECT. */
  userProperties?: UserProperty[] | undefined;
}

/** Options for {@linkcode MQTTClient.request}. */
export interface RequestOptions {
  /** Milliseconds to wait for the reply; default 30 000. */
  timeout?: number | undefined;
  /** QoS of the request's PUBLISH (default 0). */
  qos?: QoS | undefined;
  /** More properties of the request (its Response Topic and Correlation Data are the client's). */
  properties?: Omit<PublishProperties, "responseTopic" | "correlationData"> | undefined;
  /** Aborting it stops the wait. */
  signal?: AbortSignal | undefined;
}

/** A credential computed on every connection attempt. */
export type Credential<T> = () => T | Promise<T>;
