/**
 * The client's options and the shapes its calls take and give: what
 * {@linkcode MQTTClient}'s constructor accepts, the options objects of its
 * methods, and {@linkcode Message}. Also the checks that turn the
 * constructor's arguments into a validated configuration.
 *
 * @module
 */
import type { QoS } from "./codec/packet.ts";
import { payloadBytes, utf8 } from "./codec/_strings.ts";
import { MemorySessionStore, type SessionStore } from "./session_store.ts";
import { type Endpoint, parseServer } from "./transports/default.ts";
import type { SslParams, Transport } from "./transports/types.ts";
import { checkBool, checkInt } from "./_checks.ts";

/** A message received from the broker; the same shape everywhere one surfaces. */
export interface Message {
  /** The topic it was published to. */
  topic: string;
  /** The payload bytes. */
  payload: Uint8Array;
  /** The QoS it was delivered with. */
  qos: QoS;
  /** Whether it came from the broker's retained store. */
  retain: boolean;
  /** Whether the broker marked it as a redelivery. */
  dup: boolean;
}

/** umqtt's message callback: topic and payload; awaited before the message is acknowledged. */
export type MessageCallback = (topic: string, msg: Uint8Array) => void | Promise<void>;

/** The constructor's options: umqtt's parameters under umqtt's names, new ones in camelCase. */
export interface MQTTClientOptions {
  /** Broker port; 0 (default) means the URL's port, else 1883, or 8883 with `ssl`. */
  port?: number;
  /**
   * User name; or a function called on every connection attempt for the
   * current one (rotating tokens).
   */
  user?: string | Credential<string>;
  /**
   * Password (text or bytes); or a function called on every connection
   * attempt for the current one (a JWT, a cloud IoT custom authorizer's token).
   */
  password?: string | Uint8Array | Credential<string | Uint8Array>;
  /** Keep-alive interval in seconds, 0–65535; 0 (default) turns it off. */
  keepalive?: number;
  /** Use TLS (also implied by an `mqtts://` server URL). */
  ssl?: boolean;
  /** TLS parameters with MicroPython's names. */
  ssl_params?: SslParams;
  /** Makes the connection instead of the built-in socket; the core's only view of the network. */
  transport?: Transport;
  /** Largest incoming packet accepted, in bytes; default 1 MiB. */
  maxPacketSize?: number;
  /**
   * Most messages held for `wait_msg`/`check_msg`; default 1000. Past it, QoS 0
   * messages are dropped oldest first and counted in
   * {@linkcode MQTTClient.droppedMessages}. QoS 1 messages are never dropped:
   * they are acknowledged only once handled, so the broker's in-flight window
   * bounds them.
   */
  maxQueuedMessages?: number;
  /** Milliseconds to wait for the connection and its CONNACK; default 30 000. */
  connectTimeout?: number;
  /**
   * Where unacknowledged outgoing packets and QoS 2 receive state are kept;
   * default in memory. See {@linkcode SessionStore} to keep a session across restarts.
   */
  sessionStore?: SessionStore;
}

/** Cancels a wait: the call rejects with the signal's reason, and the client stays usable. */
export interface SignalOptions {
  /** Aborting it stops the wait. */
  signal?: AbortSignal;
}

/** Options for {@linkcode MQTTClient.publish} and {@linkcode MQTTClient.set_last_will}. */
export interface PublishOptions extends SignalOptions {
  /** Ask the broker to retain the message (default false). */
  retain?: boolean;
  /** Quality of service, 0, 1 or 2 (default 0). */
  qos?: QoS;
}

/** Options for {@linkcode MQTTClient.connect}. */
export interface ConnectOptions extends SignalOptions {
  /** Start a fresh session (default true) or resume the broker's stored one. */
  clean_session?: boolean;
}

/** Options for {@linkcode MQTTClient.subscribe}. */
export interface SubscribeOptions extends SignalOptions {
  /** Maximum QoS asked for (default 0). */
  qos?: QoS;
}

/** A credential computed on every connection attempt. */
export type Credential<T> = () => T | Promise<T>;

/** The constructor's arguments, checked; what the client runs on. */
export interface ClientConfig {
  servers: Endpoint[];
  user: string | Credential<string> | undefined;
  password: Uint8Array | Credential<string | Uint8Array> | undefined;
  keepalive: number;
  ssl_params: SslParams;
  transport: Transport | undefined;
  maxPacketSize: number;
  maxQueued: number;
  connectTimeout: number;
  store: SessionStore;
}

const SSL_KEYS = ["server_hostname", "cadata", "cert", "key"];

type Credentials = { user: string | undefined; password: Uint8Array | undefined };

/** The user name and password for one connection attempt: at once, or once the functions answer. */
export function credentials(c: ClientConfig): Credentials | Promise<Credentials> {
  const { user, password } = c;
  if (typeof user !== "function" && typeof password !== "function") return { user, password };
  return (async () => {
    let u = user;
    if (typeof u === "function") {
      u = await u();
      if (typeof u !== "string") {
        throw new TypeError(`Invalid user: the user function returned ${typeof u}, not a string`);
      }
      utf8(u, "user");
    }
    return {
      user: u,
      password: typeof password === "function" ? checkPassword(await password()) : password,
    };
  })();
}

/** The password's bytes, once it is text or bytes within the limit. */
export function checkPassword(password: unknown): Uint8Array {
  if (typeof password !== "string" && !(password instanceof Uint8Array)) {
    throw new TypeError("Invalid password: must be a string or a Uint8Array");
  }
  const bytes = payloadBytes(password);
  if (bytes.length > 65535) {
    throw new RangeError("Invalid password: over the limit of 65535 bytes");
  }
  return bytes;
}

/**
 * Checks the constructor's arguments (umqtt's positional ones, or an options
 * object in place of `port`).
 *
 * @throws {TypeError} A parameter of the wrong type, an unsupported URL scheme or `ssl_params` key.
 * @throws {RangeError} A number out of range (port, keepalive, limits).
 */
export function clientConfig(
  client_id: string,
  server: string | string[],
  o: MQTTClientOptions,
): ClientConfig {
  if (typeof client_id !== "string") {
    throw new TypeError(`Invalid client_id: must be a string, got ${typeof client_id}`);
  }
  utf8(client_id, "client_id");
  const explicitPort = o.port ?? 0;
  checkInt("port", explicitPort, 0, 65535);
  const ssl = checkBool("ssl", o.ssl ?? false);
  if (Array.isArray(server) && server.length === 0) {
    throw new TypeError("Invalid server: an empty list; give at least one host or URL");
  }
  const servers = (Array.isArray(server) ? server : [server]).map((s) =>
    parseServer(s, explicitPort, ssl)
  );
  if (o.user !== undefined && typeof o.user !== "string" && typeof o.user !== "function") {
    throw new TypeError(`Invalid user: must be a string or a function, got ${typeof o.user}`);
  }
  let password: ClientConfig["password"];
  if (o.password !== undefined) {
    if (o.user === undefined) {
      throw new TypeError(
        "Invalid password: MQTT 3.1.1 needs a user with a password (MQTT-3.1.2-22)",
      );
    }
    password = typeof o.password === "function" ? o.password : checkPassword(o.password);
  }
  if (typeof o.user === "string") utf8(o.user, "user");
  const keepalive = o.keepalive ?? 0;
  checkInt("keepalive", keepalive, 0, 65535);
  const sp = o.ssl_params ?? {};
  if (typeof sp !== "object" || sp === null) {
    throw new TypeError("Invalid ssl_params: must be an object");
  }
  for (const [k, v] of Object.entries(sp)) {
    if (!SSL_KEYS.includes(k)) {
      throw new TypeError(
        `Invalid ssl_params key "${k}": accepted keys are ${
          SSL_KEYS.join(", ")
        } (certificate verification is always on)`,
      );
    }
    if (v !== undefined && typeof v !== "string") {
      throw new TypeError(`Invalid ssl_params.${k}: must be a string (PEM text or a host name)`);
    }
  }
  if ((sp.cert === undefined) !== (sp.key === undefined)) {
    throw new TypeError("Invalid ssl_params: cert and key go together");
  }
  if (o.transport !== undefined && typeof o.transport !== "function") {
    throw new TypeError("Invalid transport: must be a function returning a StreamPair");
  }
  const maxPacketSize = o.maxPacketSize ?? 1_048_576;
  checkInt("maxPacketSize", maxPacketSize, 2, 268_435_460);
  const maxQueued = o.maxQueuedMessages ?? 1000;
  checkInt("maxQueuedMessages", maxQueued, 1, Number.MAX_SAFE_INTEGER);
  const connectTimeout = o.connectTimeout ?? 30_000;
  checkInt("connectTimeout", connectTimeout, 1, 2_147_483_647);
  const store = o.sessionStore ?? new MemorySessionStore();
  if (!(store?.outgoing instanceof Map) || !(store.incoming instanceof Set)) {
    throw new TypeError("Invalid sessionStore: needs an outgoing Map and an incoming Set");
  }
  return {
    servers,
    user: o.user,
    password,
    keepalive,
    ssl_params: sp,
    transport: o.transport,
    maxPacketSize,
    maxQueued,
    connectTimeout,
    store,
  };
}
