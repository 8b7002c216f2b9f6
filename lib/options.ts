/**
 * The client's options and the shapes its calls take and give: what
 * {@linkcode MQTTClient}'s constructor accepts, the options objects of its
 * methods, and {@linkcode Message}. Also the checks that turn the
 * constructor's arguments into a validated configuration.
 *
 * @module
 */
import type { ProtocolVersion, QoS } from "./codec/packet.ts";
import type { ConnackProperties, ConnectProperties, UserProperty } from "./codec/properties.ts";
import { writeProperties } from "./codec/properties.ts";
import { passwordWithin } from "./codec/connect.ts";
import { utf8 } from "./codec/_strings.ts";
import type { SessionStore } from "./session_store.ts";
import { type Endpoint, parseServer } from "./transports/default.ts";
import { endpointUrl } from "./transports/endpoint.ts";
import type { SslParams, Transport } from "./transports/types.ts";
import { checkBool, checkInt, checkOptions, checkPayload, invalid, v5Only } from "./_checks.ts";
import { checkStore } from "./_store_check.ts";
import { QOS2_WINDOW } from "./_protocol_types.ts";

export type { ConnackProperties, UserProperty };

// 3.1.1's CONNECT has no properties: every such client shares this one.
const NO_CONNECT_PROPERTIES: ConnectProperties = Object.freeze({});

/** A message received from the broker; the same shape everywhere one surfaces. */
export interface Message {
  /** The topic it was published to (always the full topic, also when it came as a topic alias). */
  topic: string;
  /**
   * The payload bytes: a view into a buffer that holds other bytes too (the
   * chunk read, or a slab shared by small ones). Keep the view, or a
   * `slice()` of it, never its `.buffer`.
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
  /** Bytes that match a response to its request. */
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

/** What the broker's CONNACK said, as {@linkcode MQTTClient.connack} keeps it. */
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
  /** The broker's data for this step. */
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

/** The constructor's arguments, checked; what the client runs on. */
export interface ClientConfig {
  version: ProtocolVersion;
  /** MQTT 5: CONNECT's properties but the session expiry, which depends on `connect()`'s argument. */
  connectProperties: ConnectProperties;
  sessionExpiryInterval: number | undefined;
  receiveMaximum: number;
  topicAliasMaximum: number;
  onAuth: AuthHandler | undefined;
  autoTopicAlias: boolean;
  servers: Endpoint[];
  user: string | Credential<string> | undefined;
  password: Uint8Array | Credential<string | Uint8Array> | undefined;
  /** MQTT 5: the function giving each attempt's Authentication Data (bytes: connectProperties). */
  authenticationData: Credential<Uint8Array> | undefined;
  keepalive: number;
  ssl_params: SslParams;
  transport: Transport | undefined;
  maxPacketSize: number;
  maxQueued: number;
  connectTimeout: number;
  /** 3.1.1: most QoS 2 publishes unacknowledged at once. */
  maxInflightQoS2: number;
  /** Null: a MemorySessionStore, made on first use. */
  store: SessionStore | null;
}

const SSL_KEYS = ["server_hostname", "cadata", "cert", "key"];
const NO_SSL: SslParams = Object.freeze({}); // every client given none (frozen, as each copy is)
const V5_OPTIONS = [
  "sessionExpiryInterval",
  "receiveMaximum",
  "topicAliasMaximum",
  "requestResponseInformation",
  "requestProblemInformation",
  "userProperties",
  "authenticationMethod",
  "authenticationData",
  "onAuth",
  "autoTopicAlias",
] as const;

/** The constructor's options: a misspelt one is a TypeError, not a setting silently left out. */
const OPTIONS = [
  "port",
  "user",
  "password",
  "keepalive",
  "ssl",
  "ssl_params",
  "transport",
  "maxPacketSize",
  "maxQueuedMessages",
  "connectTimeout",
  "sessionStore",
  "maxInflightQoS2",
  "protocolVersion",
  ...V5_OPTIONS,
];
/** The reconnecting client's, besides (it checks their values). */
const ROBUST_OPTIONS = [
  ...OPTIONS,
  "reconnectMaxDelay",
  "maxOfflineMessages",
  "maxOfflineBytes",
  "whenOfflineFull",
  "signal",
  "followServerReference",
];

/** The password's bytes, once it is text or bytes within the limit. */
export function checkPassword(password: unknown): Uint8Array {
  return passwordWithin(checkPayload(password, "password"));
}

/**
 * The TLS parameters a client shows as `ssl_params` (frozen): all but the private key (`key`),
 * which stays in its config, as the password does, so that no `inspect()` or JSON shows it.
 */
export function shownSsl(params: SslParams): SslParams {
  if (params.key === undefined) return params; // shared, as the config's: nothing to leave out
  const { key: _key, ...shown } = params;
  return Object.freeze(shown);
}

/**
 * Checks the constructor's arguments: umqtt's positional ones (`port` and
 * `rest`), or an options object in place of `port`, with nothing after it.
 *
 * @throws {TypeError} A parameter of the wrong type, an unsupported URL scheme or `ssl_params` key.
 * @throws {RangeError} A number out of range (port, keepalive, limits).
 */
export function clientConfig(
  client_id: string,
  server: string | readonly string[],
  port: number | MQTTClientOptions | undefined,
  rest: MQTTClientOptions,
  reconnecting = false,
): ClientConfig {
  const o = typeof port === "object" && port !== null ? port : { port, ...rest };
  // new MQTTClient(id, server, { port }, user, password): that user would go unused.
  if (o === port) {
    for (const k in rest) {
      if (rest[k as keyof MQTTClientOptions] !== undefined) {
        throw new TypeError(`Invalid ${k}: give it in the options object`);
      }
    }
  }
  if (typeof client_id !== "string") throw invalid("client_id", client_id, "a string");
  checkOptions(o, reconnecting ? ROBUST_OPTIONS : OPTIONS, "the client");
  utf8(client_id, "client_id");
  const explicitPort = checkInt("port", o.port ?? 0, 0, 65535);
  const ssl = checkBool("ssl", o.ssl ?? false);
  if (Array.isArray(server) && server.length === 0) {
    throw new TypeError("Invalid server: an empty list; give at least one host or URL");
  }
  // Spread: a hole in the list is an entry too, refused as any non-string. (Not Array.from,
  // whose result keeps spare room, 20-30 bytes for each client.)
  const servers = Array.isArray(server)
    ? [...server].map((s) => parseServer(s, explicitPort, ssl))
    : [parseServer(server as string, explicitPort, ssl)];
  // null is umqtt's None, "no user" (or password), as port, keepalive and ssl take it.
  const user = o.user ?? undefined, pass = o.password ?? undefined;
  if (user !== undefined && typeof user !== "string" && typeof user !== "function") {
    throw invalid("user", user, "a string or a function");
  }
  const version = o.protocolVersion ?? 4;
  if (version !== 4 && version !== 5) {
    throw invalid("protocolVersion", version, "4 (MQTT 3.1.1) or 5 (MQTT 5.0)", 1);
  }
  if (version === 4) {
    for (const k of V5_OPTIONS) {
      if (o[k] !== undefined) throw v5Only([k]);
    }
  }
  let password: ClientConfig["password"];
  if (pass !== undefined) {
    if (user === undefined && version === 4) {
      throw new TypeError(
        "Invalid password: MQTT 3.1.1 needs a user with a password (MQTT-3.1.2-22)",
      );
    }
    // Bytes copied: a secret is commonly wiped once handed over, and every CONNECT sends it.
    // (Not by slice(): a Node Buffer's is a view of the same memory.)
    password = typeof pass === "function" ? pass : new Uint8Array(checkPassword(pass));
  }
  if (typeof user === "string") utf8(user, "user");
  const keepalive = checkInt("keepalive", o.keepalive ?? 0, 0, 65535);
  const sp = o.ssl_params ?? NO_SSL;
  if (typeof sp !== "object" || sp === null) throw invalid("ssl_params", sp, "an object");
  for (const [k, v] of Object.entries(sp)) {
    if (!SSL_KEYS.includes(k)) {
      throw new TypeError(
        `Invalid ssl_params key "${k}": accepted keys are ${
          SSL_KEYS.join(", ")
        } (certificate verification is always on)`,
      );
    }
    if (v !== undefined && typeof v !== "string") {
      throw invalid(`ssl_params.${k}`, v, "a string (PEM text or a host name)");
    }
    // Runtimes differ on an empty value (Deno verified another name, Node sent no certificate)
    // and on a cadata that is no PEM, a file's path (Node blamed the broker's chain, Bun the CA);
    // one with no certificate (a key's PEM) each ignores, then refuses the broker's certificate.
    const ca = k === "cadata" && v ? v : "";
    const no = v?.trim() === ""
      ? "empty; leave it out instead"
      : ca && !ca.includes("-----BEGIN ")
      ? "no PEM in it (a path? give the file's text)"
      : ca && !ca.includes("CERTIFICATE-----") && "no certificate in it (a key? give the CA's)";
    if (no) throw new TypeError(`Invalid ssl_params.${k}: ${no}`);
  }
  const tls = sp !== NO_SSL && Object.values(sp).some((v) => v !== undefined); // any given
  // A WebSocket's TLS is the runtime's (its CA store, the URL's host name): none of these applies.
  const ws = tls && servers.find((e) => e.scheme === "ws" || e.scheme === "wss");
  if (ws && tls) {
    throw new TypeError(
      `Invalid ssl_params for ${
        endpointUrl(ws)
      }: they do not apply to ws:// and wss://, where the runtime verifies the server itself`,
    );
  }
  if ((sp.cert === undefined) !== (sp.key === undefined)) {
    throw new TypeError("Invalid ssl_params: cert and key go together");
  }
  // Where no server uses TLS they would go unused, and the connection, with
  // the password, in clear: a contradiction, as with ws:// above.
  if (tls && !servers.some((e) => e.ssl)) {
    throw new TypeError(
      `Invalid ssl_params for ${
        endpointUrl(servers[0])
      }: no server uses TLS; give mqtts:// or ssl: true, or leave them out`,
    );
  }
  if (o.transport !== undefined && typeof o.transport !== "function") {
    throw invalid("transport", o.transport, "a function returning a StreamPair");
  }
  const maxPacketSize = checkInt("maxPacketSize", o.maxPacketSize ?? 1_048_576, 2, 268_435_460);
  const maxQueued = checkInt(
    "maxQueuedMessages",
    o.maxQueuedMessages ?? 1000,
    1,
    Number.MAX_SAFE_INTEGER,
  );
  const connectTimeout = checkInt("connectTimeout", o.connectTimeout ?? 30_000, 1, 2_147_483_647);
  if (version === 5 && o.maxInflightQoS2 !== undefined) {
    throw new TypeError(
      "Invalid option maxInflightQoS2: it is MQTT 3.1.1's; MQTT 5 keeps to the broker's Receive Maximum",
    );
  }
  const maxInflightQoS2 = checkInt("maxInflightQoS2", o.maxInflightQoS2 ?? QOS2_WINDOW, 1, 65535);
  // None given: the protocol state makes one when it first keeps something.
  const store = o.sessionStore ?? null;
  if (store !== null && (!(store?.outgoing instanceof Map) || !(store.incoming instanceof Set))) {
    throw new TypeError("Invalid sessionStore: needs an outgoing Map and an incoming Set");
  }
  if (store) checkStore(store);
  if (o.authenticationMethod === "") {
    // The codec takes it (an empty string is a string); as the client's method it names nothing.
    throw new TypeError("Invalid authenticationMethod: an empty string; give the method's name");
  }
  if (o.onAuth !== undefined && typeof o.onAuth !== "function") {
    throw invalid("onAuth", o.onAuth, "a function");
  }
  // A function gives each attempt's (_credentials.ts); bytes are copied, as the password.
  const first = o.authenticationData, asked = typeof first === "function" ? first : undefined;
  const receiveMaximum = o.receiveMaximum ?? 65535;
  const topicAliasMaximum = o.topicAliasMaximum ?? 0;
  // 3.1.1 sends none: every such client shares one empty object.
  const connectProperties: ConnectProperties = version !== 5 ? NO_CONNECT_PROPERTIES : {
    receiveMaximum: receiveMaximum === 65535 ? undefined : receiveMaximum,
    maximumPacketSize: maxPacketSize,
    topicAliasMaximum: topicAliasMaximum || undefined,
    requestResponseInformation: o.requestResponseInformation || undefined,
    requestProblemInformation: o.requestProblemInformation === false ? false : undefined,
    userProperties: o.userProperties,
    authenticationMethod: o.authenticationMethod,
    // The codec refuses what is neither bytes nor a function.
    authenticationData: first instanceof Uint8Array
      ? new Uint8Array(first)
      : (asked ? undefined : first) as Uint8Array | undefined,
  };
  if (version === 5) {
    // The codec checks each value's type and range, naming the property; userProperties copied.
    writeProperties({ ...connectProperties, sessionExpiryInterval: o.sessionExpiryInterval }, 1);
    connectProperties.userProperties &&= connectProperties.userProperties.map(([k, v]) => [k, v]);
    checkBool("requestResponseInformation", o.requestResponseInformation ?? false);
    checkBool("requestProblemInformation", o.requestProblemInformation ?? true);
    checkBool("autoTopicAlias", o.autoTopicAlias ?? true);
    // 0 is left out of CONNECT (its meaning when absent), so it is checked here.
    checkInt("topicAliasMaximum", topicAliasMaximum, 0, 65535);
  }
  return {
    version,
    connectProperties,
    sessionExpiryInterval: o.sessionExpiryInterval,
    receiveMaximum,
    topicAliasMaximum,
    onAuth: o.onAuth,
    autoTopicAlias: o.autoTopicAlias ?? true,
    servers,
    user,
    password,
    authenticationData: asked,
    keepalive,
    ssl_params: sp === NO_SSL ? sp : Object.freeze({ ...sp }), // the caller may reuse its object
    transport: o.transport,
    maxPacketSize,
    maxQueued,
    connectTimeout,
    maxInflightQoS2,
    store,
  };
}
