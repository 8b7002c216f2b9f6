// The constructor's arguments checked and turned into the configuration a client runs on
// (`clientConfig`, `ClientConfig`): the option names each client accepts, umqtt's positional
// parameters or an options object, the servers, credentials, TLS parameters, limits and MQTT 5's
// CONNECT properties; and what the client shows of them (`shownSsl`). The option types themselves
// are public, in options.ts.
import type { ProtocolVersion } from "./codec/packet.ts";
import type { ConnectProperties } from "./codec/properties.ts";
import { writeProperties } from "./codec/properties.ts";
import { passwordWithin } from "./codec/connect.ts";
import { intact, utf8 } from "./codec/_strings.ts";
import type { SessionStore } from "./session_store.ts";
import { type Endpoint, parseServer } from "./transports/default.ts";
import { endpointUrl } from "./transports/endpoint.ts";
import type { SslParams, Transport } from "./transports/types.ts";
import { checkBool, checkInt, checkOptions, checkPayload, invalid, v5Only } from "./_checks.ts";
import { checkStore } from "./_store_check.ts";
import { QOS2_WINDOW } from "./_protocol_types.ts";
import type { AuthHandler, Credential, MQTTClientOptions } from "./options.ts";

// 3.1.1's CONNECT has no properties: every such client shares this one.
const NO_CONNECT_PROPERTIES: ConnectProperties = Object.freeze({});

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
      ? new Uint8Array(intact(first, "authenticationData"))
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
