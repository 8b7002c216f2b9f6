/**
 * {@linkcode MQTTClient}: MicroPython's `umqtt.simple` API over any byte
 * stream pair, with promises.
 *
 * @example Subscribe, publish, receive
 * ```ts ignore
 * import { MQTTClient } from "@umqtt/umqtt";
 *
 * const client = new MQTTClient("umqtt-demo", "mqtt://127.0.0.1:1883");
 * client.set_callback((topic, msg) => console.log(topic, new TextDecoder().decode(msg)));
 * await client.connect();
 * await client.subscribe("demo/#", 1);
 * await client.publish("demo/hello", "hi", false, 1);
 * await client.wait_msg();
 * await client.disconnect();
 * ```
 *
 * @module
 */
import { type Channel, channel, CLOSE_WAIT_MS } from "./_channel.ts";
import { encodeConnect } from "./codec/connect.ts";
import { Framer } from "./codec/_framer.ts";
import { decodeFromBroker } from "./codec/decode.ts";
import type { Packet, PublishPacket, QoS, Will } from "./codec/packet.ts";
import { connackReturnCodeMessage } from "./codec/packet.ts";
import { encodeAck, encodePublish } from "./codec/publish.ts";
import { encodeSubscribe, encodeUnsubscribe } from "./codec/subscribe.ts";
import { payloadBytes, utf8 } from "./codec/_strings.ts";
import { MQTTConnectionError, MQTTException, MQTTProtocolError } from "./errors.ts";
import { validateTopicFilter, validateTopicName } from "./topic.ts";
import { type CoreHooks, hooks } from "./_internal.ts";
import { MemorySessionStore, type SessionStore } from "./session_store.ts";
import { connectDefault, type Endpoint, parseServer } from "./transports/default.ts";
import type { SslParams, StreamPair, Transport } from "./transports/types.ts";
import { concat } from "./_bytes.ts";
import { abortable } from "./_abortable.ts";

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
  /** User name. */
  user?: string;
  /** Password (text or bytes). */
  password?: string | Uint8Array;
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

interface Deferred<T> {
  resolve(value: T): void;
  reject(error: unknown): void;
}

/**
 * A packet id in use, and the acknowledgement it waits for: PUBACK (QoS 1),
 * PUBREC then PUBCOMP (QoS 2), SUBACK or UNSUBACK. Publishes also sit in the
 * session store, to be resent after a reconnect.
 */
interface InFlight extends Deferred<unknown> {
  kind: "puback" | "pubrec" | "pubcomp" | "suback" | "unsuback";
  /** Number of filters in the SUBSCRIBE, to check the SUBACK against. */
  filters?: number;
}

/** A received PUBLISH waiting to be handed out, with the connection and session it came in. */
interface Queued {
  packet: PublishPacket;
  generation: number;
  session: number;
}

const DEFAULTS = {
  maxPacketSize: 1_048_576,
  maxQueuedMessages: 1000,
  connectTimeout: 30_000,
};

const SSL_KEYS = ["server_hostname", "cadata", "cert", "key"];
const noop = () => {};

/**
 * An MQTT 3.1.1 client with MicroPython `umqtt.simple`'s API: same names,
 * same positional parameters, with promises for I/O. Each umqtt method also
 * has a camelCase twin (`setCallback`, `waitMsg`, …), and trailing umqtt
 * parameters may be given as one options object.
 *
 * One reader pulls from the connection all the time: acknowledgements settle
 * their promises as they arrive, and incoming messages wait in a queue for
 * {@linkcode MQTTClient.wait_msg} or {@linkcode MQTTClient.check_msg}.
 *
 * @example Publish with QoS 1
 * ```ts ignore
 * import { MQTTClient } from "@umqtt/umqtt";
 * const client = new MQTTClient("sensor-1", "127.0.0.1", 1883);
 * await client.connect();
 * await client.publish("sensors/1/temp", "21.5", { qos: 1 }); // resolves on PUBACK
 * await client.disconnect();
 * ```
 */
export class MQTTClient extends EventTarget {
  /** The client identifier sent in CONNECT. */
  readonly client_id: string;
  /** Host name or address connected to. */
  readonly server: string;
  /** TCP port connected to. */
  readonly port: number;
  /** User name, if any. */
  readonly user: string | undefined;
  /** Keep-alive interval in seconds (0: off). */
  readonly keepalive: number;
  /** Whether TLS is used. */
  readonly ssl: boolean;
  /** TLS parameters. */
  readonly ssl_params: SslParams;

  readonly #endpoint: Endpoint;
  readonly #password: Uint8Array | undefined;
  readonly #transport: Transport | undefined;
  readonly #maxPacketSize: number;
  readonly #maxQueued: number;
  readonly #connectTimeout: number;
  readonly #store: SessionStore;
  readonly #hooks: CoreHooks;

  #callback: MessageCallback | undefined;
  #will: Will | undefined;

  // Connection state; `#generation` counts connections so that stale work
  // (an ack for a message from an earlier connection) is recognised.
  #ch: Channel | null = null;
  #generation = 0;
  // Counts clean starts: a QoS 2 message from an earlier session is not acknowledged in this one.
  #session = 0;
  #connected = false;
  // Set while a connect() is under way; fails it (disconnect() calls it).
  #abortConnect: ((error: Error) => void) | null = null;
  // The disconnect() under way, which a second call joins.
  #disconnecting: Promise<void> | null = null;
  // DISCONNECT is queued: nothing more goes out on this connection (MQTT-3.14.4-2).
  #sealed = false;
  #closeError: MQTTConnectionError | null = null;
  #userClosed = false;
  #readLoop: Promise<void> = Promise.resolve();
  // The closing of the last connection's transport (a WebSocket's closing handshake).
  #closing: Promise<void> = Promise.resolve();
  #connack: Deferred<Packet> | null = null;

  // Packet ids this client allocated, in allocation order (Map keeps it), so
  // kept publishes are resent in their original order.
  #inflight = new Map<number, InFlight>();
  #lastId = 0;
  #idWaiters: Deferred<number>[] = [];
  // PINGREQs awaiting their PINGRESP, in order; null for the keepalive's own.
  #pings: (Deferred<void> | null)[] = [];

  // Incoming messages and the wait_msg calls waiting for them.
  #queue: Queued[] = [];
  #queueHead = 0;
  #waiters: Deferred<Queued>[] = [];
  #dropped = 0;
  // Incoming QoS 2 ids queued and not yet handled (the store has the handled ones).
  #qos2Queued = new Set<number>();

  // Keepalive: when bytes last went out and came in, and when our PINGREQ went.
  #kaTimer: ReturnType<typeof setTimeout> | undefined;
  #lastWrite = 0;
  #lastRead = 0;
  #pingSentAt = 0;

  // Writes issued while one is under way go out together in the next one,
  // and so do those issued while the reader hands out a chunk's packets.
  #out: Uint8Array[] = [];
  #outBatch: (Deferred<void> & { promise: Promise<void> }) | null = null;
  // The channel a write loop runs for: a write stuck on a dead connection
  // must not hold back the next connection's CONNECT.
  #flushing: Channel | null = null;
  #corked = false;

  /**
   * Makes a client; nothing is sent until {@linkcode MQTTClient.connect}.
   *
   * @param client_id Client identifier (may be empty with a clean session).
   * @param server Host name, IP address, or URL `mqtt://host[:port]` / `mqtts://host[:port]`.
   * @param port Port (0: the URL's, else 1883, or 8883 with ssl), or all options as one object.
   * @param user User name.
   * @param password Password.
   * @param keepalive Keep-alive in seconds, 0–65535.
   * @param ssl Use TLS.
   * @param ssl_params TLS parameters: `server_hostname`, `cadata`, `cert`, `key`.
   * @throws {TypeError} A parameter of the wrong type, an unsupported URL scheme or `ssl_params` key.
   * @throws {RangeError} A number out of range (port, keepalive, limits).
   */
  constructor(
    client_id: string,
    server: string,
    port?: number | MQTTClientOptions,
    user?: string,
    password?: string | Uint8Array,
    keepalive?: number,
    ssl?: boolean,
    ssl_params?: SslParams,
  ) {
    super();
    const o: MQTTClientOptions = typeof port === "object" && port !== null
      ? port
      : { port, user, password, keepalive, ssl, ssl_params };
    if (typeof client_id !== "string") {
      throw new TypeError(`Invalid client_id: must be a string, got ${typeof client_id}`);
    }
    utf8(client_id, "client_id");
    const explicitPort = o.port ?? 0;
    checkInt("port", explicitPort, 0, 65535);
    const endpoint = parseServer(server, explicitPort, checkBool("ssl", o.ssl ?? false));
    this.#endpoint = endpoint;
    this.client_id = client_id;
    this.server = endpoint.hostname;
    this.port = endpoint.port;
    this.ssl = endpoint.ssl;
    if (o.user !== undefined && typeof o.user !== "string") {
      throw new TypeError(`Invalid user: must be a string, got ${typeof o.user}`);
    }
    this.user = o.user;
    if (o.password !== undefined) {
      if (typeof o.password !== "string" && !(o.password instanceof Uint8Array)) {
        throw new TypeError("Invalid password: must be a string or a Uint8Array");
      }
      if (o.user === undefined) {
        throw new TypeError(
          "Invalid password: MQTT 3.1.1 needs a user with a password (MQTT-3.1.2-22)",
        );
      }
      this.#password = payloadBytes(o.password);
      if (this.#password.length > 65535) {
        throw new RangeError("Invalid password: over the limit of 65535 bytes");
      }
    }
    if (o.user !== undefined) utf8(o.user, "user");
    this.keepalive = o.keepalive ?? 0;
    checkInt("keepalive", this.keepalive, 0, 65535);
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
    this.ssl_params = sp;
    if (o.transport !== undefined && typeof o.transport !== "function") {
      throw new TypeError("Invalid transport: must be a function returning a StreamPair");
    }
    this.#transport = o.transport;
    this.#maxPacketSize = o.maxPacketSize ?? DEFAULTS.maxPacketSize;
    checkInt("maxPacketSize", this.#maxPacketSize, 2, 268_435_460);
    this.#maxQueued = o.maxQueuedMessages ?? DEFAULTS.maxQueuedMessages;
    checkInt("maxQueuedMessages", this.#maxQueued, 1, Number.MAX_SAFE_INTEGER);
    this.#connectTimeout = o.connectTimeout ?? DEFAULTS.connectTimeout;
    checkInt("connectTimeout", this.#connectTimeout, 1, 2_147_483_647);
    const store = o.sessionStore ?? new MemorySessionStore();
    if (!(store?.outgoing instanceof Map) || !(store.incoming instanceof Set)) {
      throw new TypeError("Invalid sessionStore: needs an outgoing Map and an incoming Set");
    }
    this.#store = store;
    // Ids of a stored session stay taken until their acknowledgements come.
    for (const [id, bytes] of store.outgoing) {
      const kind = bytes[0] >> 4 === 6
        ? "pubcomp"
        : ((bytes[0] >> 1) & 3) === 2
        ? "pubrec"
        : "puback";
      this.#inflight.set(id, { kind, resolve: noop, reject: noop });
    }
    this.#hooks = { keepPending: false, rejectKept: (e) => this.#rejectKept(e) };
    hooks.set(this, this.#hooks);
  }

  /** True between CONNACK and the end of the connection. */
  get connected(): boolean {
    return this.#connected;
  }

  /** QoS 0 messages dropped because more than `maxQueuedMessages` were waiting to be handled. */
  get droppedMessages(): number {
    return this.#dropped;
  }

  /**
   * Sets the function called for each message that `wait_msg`/`check_msg`
   * handle. It is awaited before the message is acknowledged.
   *
   * @param f Called as `f(topic, msg)`.
   * @throws {TypeError} When `f` is not a function.
   */
  set_callback(f: MessageCallback): void {
    if (typeof f !== "function") {
      throw new TypeError(`Invalid callback: must be a function, got ${typeof f}`);
    }
    this.#callback = f;
  }

  /** camelCase twin of {@linkcode MQTTClient.set_callback}. @param f Called as `f(topic, msg)`. */
  setCallback(f: MessageCallback): void {
    this.set_callback(f);
  }

  /**
   * Sets the will: the message the broker publishes if this client vanishes
   * without `disconnect()`. Call before `connect()`.
   *
   * @param topic Topic name (no wildcards).
   * @param msg Payload.
   * @param retain Retain flag, or `{ retain, qos }`.
   * @param qos QoS 0, 1 or 2.
   * @throws {TypeError} A bad topic or payload.
   * @throws {RangeError} A QoS out of range, or a payload over 65535 bytes.
   */
  set_last_will(
    topic: string,
    msg: string | Uint8Array,
    retain: boolean | PublishOptions = false,
    qos: QoS = 0,
  ): void {
    const o = publishArgs(retain, qos);
    validateTopicName(topic, "set the will");
    utf8(topic, "will topic");
    const payload = checkPayload(msg);
    if (payload.length > 65535) {
      throw new RangeError(
        `Invalid will message: ${payload.length} bytes, over the limit of 65535 (MQTT 3.1.1 section 3.1.3.3)`,
      );
    }
    this.#will = { topic, payload, qos: o.qos, retain: o.retain };
  }

  /**
   * camelCase twin of {@linkcode MQTTClient.set_last_will}.
   * @param topic Topic name. @param msg Payload. @param retain Retain flag or options. @param qos QoS.
   */
  setLastWill(
    topic: string,
    msg: string | Uint8Array,
    retain: boolean | PublishOptions = false,
    qos: QoS = 0,
  ): void {
    this.set_last_will(topic, msg, retain, qos);
  }

  /**
   * Connects, sends CONNECT and waits for CONNACK. With a persistent session
   * (`clean_session = false`), QoS 1 messages left unacknowledged by the last
   * connection are resent first, with DUP=1, in their original order.
   *
   * @param clean_session Start a fresh session (default) or resume the stored one; or `{ clean_session, signal }`.
   * @param options `signal`: aborting it closes the connection attempt.
   * @returns CONNACK's session-present flag: whether the broker had a session for this client.
   * @throws {MQTTException} The broker refused: `code` is the CONNACK return code.
   * @throws {MQTTConnectionError} No connection, or no CONNACK within `connectTimeout`.
   * @throws {TypeError} An empty client id with a persistent session (MQTT-3.1.3-7), or already connected.
   */
  async connect(
    clean_session: boolean | ConnectOptions = true,
    options: SignalOptions = {},
  ): Promise<boolean> {
    const asObject = typeof clean_session === "object" && clean_session !== null;
    const clean = checkBool(
      "clean_session",
      asObject ? clean_session.clean_session ?? true : clean_session,
    );
    const signal = (asObject ? clean_session.signal : undefined) ?? options.signal;
    signal?.throwIfAborted();
    if (this.#connected || this.#abortConnect) {
      throw new TypeError("Cannot connect: this client is already connected or connecting");
    }
    const connect = encodeConnect({
      type: "connect",
      clientId: this.client_id,
      cleanSession: clean,
      keepalive: this.keepalive,
      username: this.user,
      password: this.#password,
      will: this.#will,
    });
    let timer: ReturnType<typeof setTimeout> | undefined;
    let onAbort = noop;
    let timedOut = false;
    let ch: Channel | null = null;
    // Aborted when this attempt is given up, so that a transport still
    // opening (a TLS or WebSocket handshake) closes what it opened.
    const attempt = new AbortController();
    try {
      // Rejects on the connect timeout, on abort or on disconnect(), whichever comes first.
      const timeout = new Promise<never>((_, reject) => {
        const giveUp = (error: unknown) => {
          timedOut = true;
          attempt.abort(error);
          reject(error);
        };
        timer = setTimeout(() =>
          giveUp(
            new MQTTConnectionError(
              `Connection to ${this.server}:${this.port} timed out: no CONNACK within ${this.#connectTimeout} ms`,
            ),
          ), this.#connectTimeout);
        onAbort = () => giveUp(signal!.reason);
        signal?.addEventListener("abort", onAbort, { once: true });
        this.#abortConnect = giveUp;
      });
      const opening = this.#open(attempt.signal);
      // A connection that opens after the timeout must still be closed.
      opening.then((pair) => {
        if (timedOut) void channel(pair).close();
      }, noop);
      const pair = await Promise.race([opening, timeout]);
      ch = channel(pair);
      this.#startConnection(ch, clean);
      const connack = new Promise<Packet>((resolve, reject) => {
        this.#connack = { resolve, reject };
      });
      this.#write(connect);
      const ack = await Promise.race([connack, timeout]);
      if (ack.type !== "connack") throw new Error("unreachable");
      if (ack.returnCode !== 0) {
        throw new MQTTException(connackReturnCodeMessage(ack.returnCode), ack.returnCode);
      }
      // Bytes read with the CONNACK (a second CONNACK, say) may have ended the connection already.
      if (this.#ch !== ch) throw this.#closeError ?? this.#notConnected("connect");
      this.#connected = true;
      this.#userClosed = false;
      this.#resendInflight();
      this.#keepalive();
      this.dispatchEvent(
        new CustomEvent("connected", { detail: { sessionPresent: ack.sessionPresent } }),
      );
      return ack.sessionPresent;
    } catch (e) {
      const error = e instanceof MQTTException || e instanceof MQTTConnectionError ||
          (signal?.aborted && e === signal.reason)
        ? e
        : new MQTTConnectionError(
          `Cannot connect to ${this.server}:${this.port}: ${(e as Error)?.message ?? e}`,
          { cause: e },
        );
      if (ch) {
        this.#teardown(
          error instanceof MQTTConnectionError ? error : new MQTTConnectionError(
            `Connection not completed: ${(error as Error)?.message ?? error}`,
            {
              cause: error,
            },
          ),
        );
        await this.#readLoop;
      }
      throw error;
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      this.#abortConnect = null;
    }
  }

  /**
   * Sends DISCONNECT (so the broker discards the will) and closes the
   * connection. Pending operations, a waiting `wait_msg` and a `connect()`
   * under way included, reject with {@linkcode MQTTConnectionError}; nothing
   * is written after DISCONNECT. Does nothing when not connected. A second
   * call while one runs joins it. Resolves once the transport is closed (a
   * WebSocket after its closing handshake; the DISCONNECT write and the close
   * each wait at most 2 s), so the process may exit right after.
   *
   * @returns When the connection is closed.
   */
  disconnect(): Promise<void> {
    return this.#disconnecting ??= this.#disconnect().finally(() => (this.#disconnecting = null));
  }

  async #disconnect(): Promise<void> {
    this.#userClosed = true;
    const error = new MQTTConnectionError("Disconnected: disconnect() was called");
    // Publishes kept awaiting across connections (robust client) end here.
    this.#rejectKept(error);
    // A connect() still opening its transport or waiting for CONNACK fails.
    this.#abortConnect?.(error);
    const ch = this.#ch;
    if (!ch) return;
    if (this.#connected) {
      // From here on requests fail with `error`, and nothing is written after DISCONNECT.
      this.#closeError = error;
      const sent = this.#send(Uint8Array.of(0xe0, 0x00)).catch(noop);
      this.#sealed = true;
      // Bounded: a write stuck behind a broker that stopped reading must not
      // hold disconnect() for as long as TCP takes to give up.
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([sent, new Promise((r) => (timer = setTimeout(r, CLOSE_WAIT_MS)))]);
      clearTimeout(timer);
    }
    this.#teardown(error);
    // Resolves once the transport is closed, so that the DISCONNECT is out
    // even if the process exits next (the broker would publish the will).
    await Promise.all([this.#readLoop, this.#closing]);
  }

  /**
   * Sends PINGREQ and resolves when the broker's PINGRESP arrives.
   *
   * @throws {MQTTConnectionError} When not connected, or the connection ends first.
   */
  async ping(): Promise<void> {
    this.#requireConnected("ping");
    const pong = new Promise<void>((resolve, reject) => this.#pings.push({ resolve, reject }));
    await Promise.all([this.#send(Uint8Array.of(0xc0, 0x00)), pong]);
  }

  /**
   * Publishes a message. QoS 0 resolves once written; QoS 1 once the broker's
   * PUBACK arrives.
   *
   * @param topic Topic name (no wildcards).
   * @param msg Payload: text (sent as UTF-8) or bytes.
   * @param retain Retain flag, or `{ retain, qos, signal }`.
   * @param qos 0, 1 or 2. QoS 2 resolves on PUBCOMP.
   * @param options `signal`: aborting it stops the wait for the acknowledgement
   * (the message may already be on its way).
   * @throws {TypeError} A bad topic or payload.
   * @throws {RangeError} A QoS out of range, or a packet over the protocol's limit.
   * @throws {MQTTConnectionError} Not connected, or the connection ended before the ack.
   */
  async publish(
    topic: string,
    msg: string | Uint8Array,
    retain: boolean | PublishOptions = false,
    qos: QoS = 0,
    options: SignalOptions = {},
  ): Promise<void> {
    const o = publishArgs(retain, qos);
    const signal = (typeof retain === "object" ? retain?.signal : undefined) ?? options.signal;
    signal?.throwIfAborted();
    validateTopicName(topic);
    const payload = checkPayload(msg);
    // Encoded with a stand-in id, patched below, so that every encoding
    // error is raised before an id is taken or a byte written.
    const bytes = encodePublish({
      type: "publish",
      topic,
      payload,
      qos: o.qos,
      retain: o.retain,
      dup: false,
      packetId: 1,
    });
    this.#requireConnected("publish");
    if (o.qos === 0) return this.#send(bytes);
    const id = this.#takeId() ?? await this.#waitForId();
    if (signal?.aborted) {
      this.#release(id);
      throw signal.reason;
    }
    const at = bytes.length - payload.length - 2;
    bytes[at] = id >> 8;
    bytes[at + 1] = id & 0xff;
    const kind = o.qos === 1 ? "puback" : "pubrec";
    return abortable(this.#request<void>(id, { kind }, bytes, true), signal);
  }

  /**
   * Subscribes to one topic filter, or to several in one SUBSCRIBE.
   *
   * @param topic A topic filter, or a list of `[filter, qos]` pairs.
   * @param qos Maximum QoS asked for (0, 1 or 2), or `{ qos, signal }`.
   * @param options `signal`: aborting it stops the wait for SUBACK.
   * @returns The granted QoS; with a list, the list of SUBACK return codes (0x80 entries included).
   * @throws {MQTTException} The broker refused a single filter (`code` 0x80).
   * @throws {TypeError} A malformed filter.
   * @throws {RangeError} A QoS out of range.
   * @throws {MQTTConnectionError} Not connected, or the connection ended before SUBACK.
   */
  subscribe(topic: string, qos?: QoS | SubscribeOptions, options?: SignalOptions): Promise<number>;
  /**
   * Subscribes to several filters in one SUBSCRIBE.
   *
   * @param topics `[filter, qos]` pairs.
   * @param options `signal`: aborting it stops the wait for SUBACK.
   * @returns The SUBACK return codes, one per filter: the granted QoS, or 0x80 for a refusal.
   */
  subscribe(topics: [string, QoS][], options?: SignalOptions): Promise<number[]>;
  async subscribe(
    topic: string | [string, QoS][],
    qos: QoS | SubscribeOptions = 0,
    options: SignalOptions = {},
  ): Promise<number | number[]> {
    const single = !Array.isArray(topic);
    const asObject = typeof qos === "object" && qos !== null;
    const q = asObject ? qos.qos ?? 0 : qos;
    const signal = (asObject ? qos.signal : undefined) ?? options.signal;
    signal?.throwIfAborted();
    const pairs: [string, QoS][] = single ? [[topic as string, q]] : topic as [string, QoS][];
    if (pairs.length === 0) {
      throw new TypeError(
        "Cannot subscribe to an empty list: at least one filter is needed (MQTT-3.8.3-3)",
      );
    }
    const subscriptions = pairs.map((pair) => {
      if (!Array.isArray(pair) || pair.length !== 2) {
        throw new TypeError("Invalid subscription: each entry must be a [filter, qos] pair");
      }
      validateTopicFilter(pair[0]);
      checkQos(pair[1]);
      return { topic: pair[0], qos: pair[1] };
    });
    const bytes = encodeSubscribe({ type: "subscribe", packetId: 1, subscriptions });
    this.#requireConnected("subscribe");
    const id = this.#takeId() ?? await this.#waitForId();
    setId(bytes, id);
    const codes = await abortable(
      this.#request<number[]>(id, { kind: "suback", filters: subscriptions.length }, bytes),
      signal,
    );
    if (!single) return codes;
    if (codes[0] === 0x80) {
      throw new MQTTException(
        `Subscription to "${
          subscriptions[0].topic
        }" refused by the broker (SUBACK return code 0x80)`,
        0x80,
      );
    }
    return codes[0];
  }

  /**
   * Unsubscribes from one topic filter or several, in one UNSUBSCRIBE.
   *
   * @param topic A topic filter or a list of them.
   * @throws {TypeError} A malformed filter.
   * @throws {MQTTConnectionError} Not connected, or the connection ended before UNSUBACK.
   */
  async unsubscribe(topic: string | string[]): Promise<void> {
    const topics = Array.isArray(topic) ? topic : [topic];
    for (const t of topics) validateTopicFilter(t, "unsubscribe");
    const bytes = encodeUnsubscribe({ type: "unsubscribe", packetId: 1, topics });
    this.#requireConnected("unsubscribe");
    const id = this.#takeId() ?? await this.#waitForId();
    setId(bytes, id);
    await this.#request<void>(id, { kind: "unsuback" }, bytes);
  }

  /**
   * Waits for the next incoming message, runs the callback if one is set,
   * sends the message's acknowledgement, and resolves with it. Concurrent
   * calls are served in call order, one message each.
   *
   * @param options `signal`: aborting it stops the wait (rejecting with the
   * signal's reason); no message is lost, and the client stays usable.
   * @returns The message.
   * @throws {MQTTConnectionError} When the connection is gone and no message is left in the queue.
   */
  async wait_msg(options: SignalOptions = {}): Promise<Message> {
    options.signal?.throwIfAborted();
    const queued = this.#dequeue() ?? await this.#waitQueued(options.signal, "wait_msg");
    if (this.#callback) return this.#handle(queued);
    // No callback to await: skip #handle's promise and the ticks it costs.
    const msg = this.#message(queued.packet);
    this.#ack(queued);
    return msg;
  }

  /** camelCase twin of {@linkcode MQTTClient.wait_msg}. @param options `signal`. @returns The message. */
  waitMsg(options: SignalOptions = {}): Promise<Message> {
    return this.wait_msg(options);
  }

  /**
   * Incoming messages as an async iterable, from the same queue as
   * `wait_msg`: each message goes to exactly one consumer, whichever asked
   * first. The callback set by `set_callback` does not run for these; a QoS 1
   * or 2 message is acknowledged once its body has run: when the loop asks
   * for the next one, or is left by `break`, `return` or a throw (to have a
   * message redelivered when handling it fails, use `wait_msg` with a
   * callback that throws). The iteration ends after `disconnect()`, and
   * throws `MQTTConnectionError` when the connection is lost.
   *
   * @param options `signal`: aborting it ends the iteration with the signal's reason.
   * @returns An async iterable of messages.
   *
   * @example
   * ```ts ignore
   * for await (const msg of client.messages()) {
   *   console.log(msg.topic, msg.payload.length);
   * }
   * ```
   */
  async *messages(options: SignalOptions = {}): AsyncGenerator<Message, void, undefined> {
    const signal = options.signal;
    for (;;) {
      signal?.throwIfAborted();
      let queued = this.#dequeue();
      if (!queued) {
        try {
          queued = await this.#waitQueued(signal, "iterate messages");
        } catch (e) {
          if (this.#userClosed && e instanceof MQTTConnectionError) return;
          throw e;
        }
      }
      try {
        yield this.#message(queued.packet);
      } finally {
        // The loop asks for the next message, or is left (break, return,
        // throw): the body had the message either way.
        this.#ack(queued);
      }
    }
  }

  /**
   * Disconnects, for `await using client = new MQTTClient(…)`.
   *
   * @returns When the connection is closed.
   */
  [Symbol.asyncDispose](): Promise<void> {
    return this.disconnect();
  }

  /**
   * Handles at most one message already in the client's queue, as
   * {@linkcode MQTTClient.wait_msg} does; never waits on the network.
   *
   * @returns The message, or `undefined` at once when none is queued.
   * @throws {MQTTConnectionError} When the connection is gone and no message is left in the queue.
   */
  check_msg(): Promise<Message | undefined> {
    const queued = this.#dequeue();
    if (queued) return this.#handle(queued);
    return this.#ch ? Promise.resolve(undefined) : Promise.reject(this.#notConnected("check_msg"));
  }

  /** camelCase twin of {@linkcode MQTTClient.check_msg}. @returns The message or `undefined`. */
  checkMsg(): Promise<Message | undefined> {
    return this.check_msg();
  }

  // ---- connection ------------------------------------------------------

  async #open(signal: AbortSignal): Promise<StreamPair> {
    return this.#transport
      ? await this.#transport(signal)
      : await connectDefault(this.#endpoint, this.ssl_params, signal);
  }

  #startConnection(ch: Channel, clean: boolean): void {
    this.#ch = ch;
    this.#closeError = null;
    this.#sealed = false;
    const generation = ++this.#generation;
    if (clean) {
      // Queued QoS 2 messages of the old session are still handed out, but
      // not acknowledged in the new one, where their ids mean other messages.
      this.#session++;
      this.#qos2Queued.clear();
      // A clean session forgets what the last one left unacknowledged.
      const error = new MQTTConnectionError("Dropped: connect() started a clean session");
      for (const id of this.#store.outgoing.keys()) {
        this.#inflight.get(id)?.reject(error);
        this.#inflight.delete(id);
      }
      this.#store.outgoing.clear();
      this.#store.incoming.clear();
    }
    this.#readLoop = this.#read(
      ch,
      generation,
      new Framer(this.#maxPacketSize, decodeFromBroker),
    );
  }

  async #read(ch: Channel, generation: number, decoder: Framer): Promise<void> {
    try {
      while (generation === this.#generation && this.#ch === ch) {
        const chunk = await ch.read();
        if (chunk === null) {
          this.#teardown(new MQTTConnectionError("Connection closed by the broker"), ch);
          return;
        }
        this.#lastRead = Date.now();
        // What the packets of one chunk cause goes out in one write: their
        // acks, and what the code they resumed sends. Two turns let that code
        // run (publish()'s own promise, then its caller's await): a publish
        // that awaited its PUBACK sends the next PUBLISH before the next read
        // is set up, and 1000 pipelined ones go out together, so the broker
        // too reads them in one go.
        this.#corked = true;
        for (const packet of decoder.push(chunk)) this.#dispatch(packet);
        await null;
        await null;
        this.#corked = false;
        if (this.#out.length > 0 && this.#flushing !== ch) void this.#flush(ch);
      }
    } catch (e) {
      this.#teardown(
        e instanceof MQTTProtocolError
          ? new MQTTConnectionError(
            `Connection closed: the broker broke the protocol: ${e.message}`,
            {
              cause: e,
            },
          )
          : new MQTTConnectionError(`Connection lost: ${(e as Error)?.message ?? e}`, { cause: e }),
        ch,
      );
    }
  }

  #dispatch(p: Packet): void {
    if (this.#connack) {
      if (p.type !== "connack") {
        throw new MQTTProtocolError(
          `Expected CONNACK first, got ${p.type.toUpperCase()}`,
          "MQTT-3.2.0-1",
        );
      }
      const d = this.#connack;
      this.#connack = null;
      d.resolve(p);
      return;
    }
    switch (p.type) {
      case "publish":
        return this.#receive(p);
      case "puback":
      case "pubrec":
      case "pubcomp":
      case "suback":
      case "unsuback": {
        const f = this.#inflight.get(p.packetId);
        // A PUBREC may come again for a PUBREL already sent: send it again.
        const rerec = p.type === "pubrec" && f?.kind === "pubcomp";
        if (!f || (f.kind !== p.type && !rerec)) {
          throw new MQTTProtocolError(
            `${p.type.toUpperCase()} for packet id ${p.packetId}, which has no ${
              WAITS_FOR[p.type]
            } in flight`,
          );
        }
        if (p.type === "pubrec") {
          // QoS 2, step two: the broker has the message; release it (MQTT-4.3.3).
          const pubrel = encodeAck({ type: "pubrel", packetId: p.packetId });
          this.#store.outgoing.set(p.packetId, pubrel);
          f.kind = "pubcomp";
          this.#write(pubrel);
          return;
        }
        if (p.type === "suback" && p.returnCodes.length !== f.filters) {
          throw new MQTTProtocolError(
            `SUBACK has ${p.returnCodes.length} return codes for a SUBSCRIBE of ${f.filters} filters`,
            "MQTT-3.8.4-5",
          );
        }
        this.#release(p.packetId);
        f.resolve(p.type === "suback" ? p.returnCodes : undefined);
        return;
      }
      case "pubrel":
        // Releases an incoming QoS 2 id; answered even when unknown, as the
        // broker may resend a PUBREL whose PUBCOMP was lost (MQTT-4.3.3).
        this.#store.incoming.delete(p.packetId);
        this.#write(encodeAck({ type: "pubcomp", packetId: p.packetId }));
        return;
      case "pingresp":
        // Answers come in order: the first goes to the oldest PINGREQ.
        this.#pings.shift()?.resolve();
        return;
      case "connack":
        throw new MQTTProtocolError("A second CONNACK on one connection", "MQTT-3.2.0-1");
        // The decoder refuses the packets only a client sends.
    }
  }

  #receive(p: PublishPacket): void {
    if (p.qos === 2) {
      // A resend of a QoS 2 message already delivered or queued is never
      // delivered twice (MQTT-4.3.3-2); a delivered one is answered again.
      // Known by its id alone: a broker may not reuse it before our PUBCOMP,
      // and not every broker sets DUP=1 on a resend (aedes does not).
      if (this.#store.incoming.has(p.packetId!)) {
        this.#write(encodeAck({ type: "pubrec", packetId: p.packetId! }));
        return;
      }
      if (this.#qos2Queued.has(p.packetId!)) return;
      this.#qos2Queued.add(p.packetId!);
    }
    const queued = { packet: p, generation: this.#generation, session: this.#session };
    const waiter = this.#waiters.shift();
    if (waiter) return waiter.resolve(queued);
    if (this.#queue.length - this.#queueHead >= this.#maxQueued && p.qos === 0) {
      // Full: drop the oldest QoS 0 message, which may be this one.
      let i = this.#queueHead;
      while (i < this.#queue.length && this.#queue[i].packet.qos !== 0) i++;
      this.#dropped++;
      if (i === this.#queue.length) return;
      this.#queue.splice(i, 1);
    }
    this.#queue.push(queued);
  }

  #dequeue(): Queued | undefined {
    if (this.#queueHead === this.#queue.length) return undefined;
    const q = this.#queue[this.#queueHead++];
    if (this.#queueHead > 1024 && this.#queueHead * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#queueHead);
      this.#queueHead = 0;
    }
    return q;
  }

  #waitQueued(signal: AbortSignal | undefined, what: string): Promise<Queued> {
    if (!this.#ch) return Promise.reject(this.#notConnected(what));
    if (!signal) return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
    return new Promise((resolve, reject) => {
      const done = () => signal.removeEventListener("abort", onAbort);
      const waiter: Deferred<Queued> = {
        resolve: (q) => (done(), resolve(q)),
        reject: (e) => (done(), reject(e)),
      };
      // Only a waiter still waiting is withdrawn: one already handed a
      // message resolves with it, so no message is lost to an abort.
      const onAbort = () => {
        const i = this.#waiters.indexOf(waiter);
        if (i !== -1) {
          this.#waiters.splice(i, 1);
          reject(signal.reason);
        }
      };
      signal.addEventListener("abort", onAbort, { once: true });
      this.#waiters.push(waiter);
    });
  }

  async #handle(queued: Queued): Promise<Message> {
    const msg = this.#message(queued.packet);
    try {
      if (this.#callback) await this.#callback(msg.topic, msg.payload);
    } catch (e) {
      // Not acknowledged: the broker's resend of a QoS 2 message, after a
      // reconnect, must be delivered again rather than taken for a duplicate.
      if (queued.packet.qos === 2) this.#qos2Queued.delete(queued.packet.packetId!);
      throw e;
    }
    this.#ack(queued);
    return msg;
  }

  #message(p: PublishPacket): Message {
    return { topic: p.topic, payload: p.payload, qos: p.qos, retain: p.retain, dup: p.dup };
  }

  /** Acknowledges a message the application has handled. */
  #ack({ packet: p, generation, session }: Queued): void {
    if (p.qos === 0) return;
    const id = p.packetId!;
    if (p.qos === 2) {
      // A clean start since: the broker forgot this message, and its id may
      // now be another's.
      if (session !== this.#session) return;
      // Delivered: from now on a resend of this id is answered, not delivered.
      this.#qos2Queued.delete(id);
      this.#store.incoming.add(id);
      this.#write(encodeAck({ type: "pubrec", packetId: id }));
    } else if (generation === this.#generation && this.#ch) {
      // A QoS 1 ack goes only on the connection the message came on.
      this.#write(encodeAck({ type: "puback", packetId: id }));
    }
  }

  /** Ends the connection once: closes the transport and settles what waited on it. */
  #teardown(error: MQTTConnectionError, ch: Channel | null = this.#ch): void {
    if (ch === null || ch !== this.#ch) return;
    const wasConnected = this.#connected;
    this.#ch = null;
    this.#connected = false;
    this.#closeError = error;
    clearTimeout(this.#kaTimer);
    this.#pingSentAt = 0;
    this.#closing = ch.close().catch(noop);
    this.#connack?.reject(error);
    this.#connack = null;
    for (const p of this.#pings.splice(0)) p?.reject(error);
    for (const w of this.#waiters.splice(0)) w.reject(error);
    for (const w of this.#idWaiters.splice(0)) w.reject(error);
    this.#outBatch?.reject(error);
    this.#outBatch = null;
    this.#out = [];
    this.#corked = false;
    for (const [id, f] of this.#inflight) {
      if (!this.#store.outgoing.has(id)) {
        this.#inflight.delete(id);
        f.reject(error);
      } else if (!this.#hooks.keepPending) {
        // Kept for the next connect(false); nobody awaits it any more.
        f.reject(error);
        f.resolve = f.reject = noop;
      }
    }
    if (wasConnected) this.dispatchEvent(new CustomEvent("disconnected", { detail: { error } }));
    // Only an established connection is "lost"; a failed attempt is its caller's to retry.
    if (wasConnected && !this.#userClosed) this.#hooks.onLost?.(error);
  }

  #rejectKept(error: Error): void {
    for (const id of this.#store.outgoing.keys()) {
      const f = this.#inflight.get(id);
      if (f) {
        f.reject(error);
        f.resolve = f.reject = noop;
      }
    }
  }

  /** Resends the session's unacknowledged packets, in their order (MQTT-4.4.0-1). */
  #resendInflight(): void {
    for (const bytes of this.#store.outgoing.values()) {
      let packet = bytes;
      if (bytes[0] >> 4 === 3) {
        packet = bytes.slice();
        packet[0] |= 0x08; // a PUBLISH again: DUP=1 (MQTT-3.3.1-1)
      }
      this.#write(packet);
    }
  }

  // ---- keepalive -----------------------------------------------------------

  /**
   * Sends PINGREQ when nothing has been sent for the keepalive interval, and
   * declares the connection dead when, half an interval after a PINGREQ,
   * not a byte has come back. Timer-driven, so a slow message handler does
   * not delay it.
   */
  #keepalive(): void {
    const k = this.keepalive * 1000;
    if (k === 0 || !this.#connected) return;
    const now = Date.now();
    if (this.#pingSentAt && this.#lastRead < this.#pingSentAt && now - this.#pingSentAt >= k / 2) {
      this.#teardown(
        new MQTTConnectionError(
          `Connection dead: no answer to PINGREQ within ${
            k / 2
          } ms (keepalive ${this.keepalive} s)`,
        ),
      );
      return;
    }
    if (this.#pingSentAt && this.#lastRead >= this.#pingSentAt) this.#pingSentAt = 0;
    if (!this.#pingSentAt && now - this.#lastWrite >= k) {
      this.#pingSentAt = now;
      this.#pings.push(null);
      this.#write(Uint8Array.of(0xc0, 0x00));
    }
    const next = this.#pingSentAt ? this.#pingSentAt + k / 2 : this.#lastWrite + k;
    this.#kaTimer = setTimeout(() => this.#keepalive(), Math.max(next - now, 10));
  }

  // ---- packet ids and requests -------------------------------------------

  // A request takes a free id at once, with no await in between, so that its
  // packet goes out in the caller's turn, in call order; it waits only when
  // all 65535 ids are in use.

  /** The next free packet id, or undefined when all are in use. */
  #takeId(): number | undefined {
    if (this.#inflight.size >= 65535) return undefined;
    let id = this.#lastId;
    do id = id === 65535 ? 1 : id + 1; while (this.#inflight.has(id));
    this.#lastId = id;
    return id;
  }

  /** A packet id, once a release frees one. */
  #waitForId(): Promise<number> {
    return new Promise((resolve, reject) => this.#idWaiters.push({ resolve, reject }));
  }

  #release(id: number): void {
    this.#inflight.delete(id);
    this.#store.outgoing.delete(id);
    const w = this.#idWaiters.shift();
    if (w) {
      const next = this.#takeId()!;
      // Hold the id for the waiter until its request takes it over.
      this.#inflight.set(next, { kind: "puback", resolve: noop, reject: noop });
      w.resolve(next);
    }
  }

  #request<T>(
    id: number,
    f: Omit<InFlight, "resolve" | "reject">,
    bytes: Uint8Array,
    keep = false,
  ): Promise<T> {
    if (!this.#ch) {
      // The connection ended while this request waited for a packet id.
      this.#inflight.delete(id);
      return Promise.reject(this.#notConnected("send"));
    }
    const done = new Promise<T>((resolve, reject) => {
      this.#inflight.set(id, { ...f, resolve: resolve as (v: unknown) => void, reject });
    });
    if (keep) this.#store.outgoing.set(id, bytes);
    // Reserve the id at once (the loop above must skip it) even if the write fails.
    this.#write(bytes);
    return done;
  }

  /**
   * Queues `bytes` to go out in the next write, when nobody awaits the
   * writing: a failed write ends the connection, and that settles whatever
   * waits on it. Does nothing when not connected.
   */
  #write(bytes: Uint8Array): void {
    const ch = this.#ch;
    if (!ch || this.#sealed) return;
    this.#out.push(bytes);
    if (this.#flushing !== ch && !this.#corked) void this.#flush(ch);
  }

  /** Queues `bytes` as `#write` does; resolves once they are written. */
  #send(bytes: Uint8Array): Promise<void> {
    if (!this.#ch) return Promise.reject(this.#notConnected("write"));
    // One promise for all the bytes going out together, made only when awaited.
    if (!this.#outBatch) {
      let d!: Deferred<void>;
      const promise = new Promise<void>((resolve, reject) => (d = { resolve, reject }));
      this.#outBatch = { ...d, promise };
    }
    const promise = this.#outBatch.promise;
    this.#write(bytes);
    return promise;
  }

  async #flush(ch: Channel): Promise<void> {
    this.#flushing = ch;
    try {
      while (this.#out.length > 0 && this.#ch === ch) {
        const chunks = this.#out;
        const batch = this.#outBatch;
        this.#out = [];
        this.#outBatch = null;
        try {
          await ch.write(chunks.length === 1 ? chunks[0] : concat(chunks));
          this.#lastWrite = Date.now();
          batch?.resolve();
        } catch (e) {
          const error = new MQTTConnectionError(
            `Connection lost while writing: ${(e as Error)?.message ?? e}`,
            {
              cause: e,
            },
          );
          batch?.reject(error);
          this.#teardown(error, ch);
        }
      }
    } finally {
      if (this.#flushing === ch) this.#flushing = null;
    }
  }

  #requireConnected(what: string): void {
    if (!this.#connected || this.#sealed) throw this.#notConnected(what);
  }

  #notConnected(what: string): MQTTConnectionError {
    return this.#closeError
      ? new MQTTConnectionError(`Cannot ${what}: ${this.#closeError.message}`, {
        cause: this.#closeError,
      })
      : new MQTTConnectionError(`Cannot ${what}: not connected; call connect() first`);
  }
}

const WAITS_FOR = {
  puback: "QoS 1 PUBLISH",
  pubrec: "QoS 2 PUBLISH",
  pubcomp: "PUBREL",
  suback: "SUBSCRIBE",
  unsuback: "UNSUBSCRIBE",
};

function setId(bytes: Uint8Array, id: number): void {
  // SUBSCRIBE and UNSUBSCRIBE: the packet id follows the fixed header.
  let at = 1;
  while (bytes[at] & 0x80) at++;
  bytes[at + 1] = id >> 8;
  bytes[at + 2] = id & 0xff;
}

function publishArgs(retain: boolean | PublishOptions, qos: QoS) {
  const o = typeof retain === "object" && retain !== null
    ? { retain: retain.retain ?? false, qos: retain.qos ?? 0 }
    : { retain, qos };
  checkBool("retain", o.retain);
  checkQos(o.qos);
  return o as { retain: boolean; qos: QoS };
}

function checkQos(qos: unknown): void {
  if (typeof qos !== "number") {
    throw new TypeError(`Invalid qos: must be 0, 1 or 2, got ${typeof qos} (MQTT-3.3.1-4)`);
  }
  if (qos !== 0 && qos !== 1 && qos !== 2) {
    throw new RangeError(`Invalid qos ${String(qos)}: must be 0, 1 or 2 (MQTT-3.3.1-4)`);
  }
}

function checkBool(name: string, v: unknown): boolean {
  if (typeof v !== "boolean") {
    throw new TypeError(`Invalid ${name}: must be a boolean, got ${typeof v}`);
  }
  return v;
}

function checkInt(name: string, v: unknown, min: number, max: number): void {
  if (typeof v !== "number") {
    throw new TypeError(
      `Invalid ${name}: must be an integer from ${min} to ${max}, got ${typeof v}`,
    );
  }
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new RangeError(`Invalid ${name} ${String(v)}: must be an integer from ${min} to ${max}`);
  }
}

function checkPayload(msg: unknown): Uint8Array {
  if (typeof msg !== "string" && !(msg instanceof Uint8Array)) {
    throw new TypeError(`Invalid msg: must be a string or a Uint8Array, got ${typeof msg}`);
  }
  return payloadBytes(msg);
}
