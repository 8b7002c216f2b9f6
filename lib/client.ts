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
// The API room: umqtt's names, argument checks and options, wired to the
// parts that do the work: the protocol state (_protocol.ts: packet ids,
// acknowledgements, QoS flows, the session), the connection's life
// (_connection.ts, with _writer.ts and _keepalive.ts) and the queue of
// received messages (_inbox.ts). CONTRIBUTING.md has the map.
import { encodeConnect } from "./codec/connect.ts";
import type { ConnackPacket, QoS, Subscription, Will } from "./codec/packet.ts";
import { encodeSubscribe, encodeUnsubscribe } from "./codec/subscribe.ts";
import { utf8 } from "./codec/_strings.ts";
import { MQTTConnectionError, MQTTException } from "./errors.ts";
import { validateTopicFilter, validateTopicName } from "./topic.ts";
import { access, type CoreHooks } from "./_internal.ts";
import type { SslParams } from "./transports/types.ts";
import type { Endpoint } from "./transports/default.ts";
import { endpointUrl, Servers } from "./_servers.ts";
import { abortable } from "./_abortable.ts";
import type { AckKind, Protocol } from "./_protocol.ts";
import type { Inbox } from "./_inbox.ts";
import { Connection } from "./_connection.ts";
import {
  checkBool,
  type CheckedPublish,
  checkPayload,
  checkPublish,
  checkSubscribe,
  publishArgs,
} from "./_checks.ts";
import {
  type ClientConfig,
  clientConfig,
  type ConnectOptions,
  credentials,
  type Message,
  type MessageCallback,
  type MQTTClientOptions,
  type PublishOptions,
  type SignalOptions,
  type SubscribeOptions,
} from "./options.ts";

export type {
  ConnectOptions,
  Credential,
  Message,
  MessageCallback,
  MQTTClientOptions,
  PublishOptions,
  SignalOptions,
  SubscribeOptions,
} from "./options.ts";

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
  /** User name, if any (undefined when `user` is a function). */
  readonly user: string | undefined;
  /** Keep-alive interval in seconds (0: off). */
  readonly keepalive: number;
  /** TLS parameters. */
  readonly ssl_params: SslParams;

  readonly #config: ClientConfig;
  readonly #servers: Servers;
  readonly #hooks: CoreHooks;
  readonly #core: Protocol;
  readonly #inbox: Inbox;
  readonly #conn: Connection;
  #callback: MessageCallback | undefined;
  #will: Will | undefined;
  // The disconnect() under way, which a second call joins.
  #disconnecting: Promise<void> | null = null;
  // A connect() is under way (from before its first attempt to after its last).
  #connecting = false;
  // Counts disconnect() calls: a connect() that sees it change stops trying.
  #stops = 0;

  /**
   * Makes a client; nothing is sent until {@linkcode MQTTClient.connect}.
   *
   * @param client_id Client identifier (may be empty with a clean session).
   * @param server Host name, IP address, or URL `mqtt://host[:port]` / `mqtts://host[:port]`
   * (`ws://`, `wss://`); or a list of them, tried in order by `connect()`.
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
    server: string | string[],
    port?: number | MQTTClientOptions,
    user?: string,
    password?: string | Uint8Array,
    keepalive?: number,
    ssl?: boolean,
    ssl_params?: SslParams,
  ) {
    super();
    const c = clientConfig(
      client_id,
      server,
      typeof port === "object" && port !== null
        ? port
        : { port, user, password, keepalive, ssl, ssl_params },
    );
    this.#config = c;
    this.#servers = new Servers(c.servers);
    this.client_id = client_id;
    this.user = typeof c.user === "string" ? c.user : undefined;
    this.keepalive = c.keepalive;
    this.ssl_params = c.ssl_params;
    this.#hooks = { keepPending: false };
    this.#conn = new Connection(c, this.#hooks, this);
    this.#core = this.#conn.core;
    this.#inbox = this.#conn.inbox;
  }

  static {
    // For the robust client (lib/_internal.ts): one set of functions for all clients.
    access.hooks = (c) => (c as MQTTClient).#hooks;
    access.rejectKept = (c, e) => (c as MQTTClient).#core.rejectKept(e);
    access.servers = (c) => (c as MQTTClient).#servers.fromCurrent();
    access.connectTo = async (client, server, clean, signal) => {
      const c = client as MQTTClient;
      c.#startConnecting();
      try {
        return (await c.#attempt(server, clean, signal, c.#stops)).sessionPresent;
      } finally {
        c.#connecting = false;
      }
    };
    access.resubscribe = (c, subscriptions, signal) =>
      (c as MQTTClient).#subscribeNow(
        encodeSubscribe({ type: "subscribe", packetId: 1, subscriptions }),
        subscriptions.length,
        signal,
      );
  }

  /** Host name or address of the server connected to, or last connected to (else the first given). */
  get server(): string {
    return this.#servers.current.hostname;
  }

  /** TCP port of that server. */
  get port(): number {
    return this.#servers.current.port;
  }

  /** Whether TLS is used with that server. */
  get ssl(): boolean {
    return this.#servers.current.ssl;
  }

  /** URL of that server, `scheme://host:port`. */
  get url(): string {
    return endpointUrl(this.#servers.current);
  }

  /** True between CONNACK and the end of the connection. */
  get connected(): boolean {
    return this.#conn.connected;
  }

  /** QoS 0 messages dropped because more than `maxQueuedMessages` were waiting to be handled. */
  get droppedMessages(): number {
    return this.#inbox.dropped;
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
    this.#startConnecting();
    const stops = this.#stops;
    try {
      const ack = await this.#servers.first(
        (server) => this.#attempt(server, clean, signal, stops),
        () => stops !== this.#stops || signal?.aborted === true,
      );
      return ack.sessionPresent;
    } finally {
      this.#connecting = false;
    }
  }

  #startConnecting(): void {
    if (this.#conn.connected || this.#connecting) {
      throw new TypeError("Cannot connect: this client is already connected or connecting");
    }
    this.#connecting = true;
  }

  /** One connection attempt to `server`, with credentials fetched for it. */
  async #attempt(
    server: Endpoint,
    clean: boolean,
    signal: AbortSignal | undefined,
    stops: number,
  ): Promise<ConnackPacket> {
    // Only credentials given as functions are awaited: with none, the
    // transport starts opening in the caller's turn.
    const given = credentials(this.#config);
    const { user, password } = given instanceof Promise ? await given : given;
    const connect = encodeConnect({
      type: "connect",
      clientId: this.client_id,
      cleanSession: clean,
      keepalive: this.keepalive,
      username: user,
      password,
      will: this.#will,
    });
    // Fetching credentials may have taken a while.
    if (stops !== this.#stops) {
      throw new MQTTConnectionError("Disconnected: disconnect() was called");
    }
    signal?.throwIfAborted();
    const ack = await this.#conn.start(server, connect, clean, signal);
    this.#servers.use(server);
    return ack;
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
    this.#stops++;
    const error = new MQTTConnectionError("Disconnected: disconnect() was called");
    // Publishes kept awaiting across connections (robust client) end here.
    this.#core.rejectKept(error);
    await this.#conn.stop(error);
  }

  /**
   * Sends PINGREQ and resolves when the broker's PINGRESP arrives.
   *
   * @throws {MQTTConnectionError} When not connected, or the connection ends first.
   */
  async ping(): Promise<void> {
    const offline = this.#conn.unusable("ping");
    if (offline) throw offline;
    const pong = new Promise<void>((resolve, reject) => this.#core.expectPong({ resolve, reject }));
    await Promise.all([this.#conn.writer.send(Uint8Array.of(0xc0, 0x00)), pong]);
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
  publish(
    topic: string,
    msg: string | Uint8Array,
    retain: boolean | PublishOptions = false,
    qos: QoS = 0,
    options: SignalOptions = {},
  ): Promise<void> {
    let p: CheckedPublish;
    try {
      p = checkPublish(topic, msg, retain, qos, options);
    } catch (e) {
      return Promise.reject(e);
    }
    const run = this.#hooks.run;
    return run ? run(() => this.#publish(p), p.payloadLength) : this.#publish(p);
  }

  #publish({ bytes, qos, idAt, signal }: CheckedPublish): Promise<void> {
    const offline = this.#conn.unusable("publish");
    if (offline) return Promise.reject(offline);
    if (qos === 0) return this.#conn.writer.send(bytes);
    return abortable(
      this.#send(qos === 1 ? "puback" : "pubrec", bytes, idAt, signal, true),
      signal,
    );
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
  subscribe(
    topic: string | [string, QoS][],
    qos: QoS | SubscribeOptions = 0,
    options: SignalOptions = {},
  ): Promise<number | number[]> {
    let subscriptions: Subscription[], signal: AbortSignal | undefined, bytes: Uint8Array;
    try {
      ({ subscriptions, signal } = checkSubscribe(topic, qos, options));
      bytes = encodeSubscribe({ type: "subscribe", packetId: 1, subscriptions });
    } catch (e) {
      return Promise.reject(e);
    }
    return this.#run(async () => {
      const codes = await this.#subscribeNow(bytes, subscriptions.length, signal);
      this.#hooks.subscribed?.(subscriptions, codes);
      if (Array.isArray(topic)) return codes;
      if (codes[0] === 0x80) {
        throw new MQTTException(
          `Subscription to "${topic}" refused by the broker (SUBACK return code 0x80)`,
          0x80,
        );
      }
      return codes[0];
    });
  }

  #subscribeNow(
    bytes: Uint8Array,
    filters: number,
    signal: AbortSignal | undefined,
  ): Promise<number[]> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    const offline = this.#conn.unusable("subscribe");
    if (offline) return Promise.reject(offline);
    return abortable(
      this.#send("suback", bytes, headerLength(bytes), signal, false, filters),
      signal,
    );
  }

  /**
   * Unsubscribes from one topic filter or several, in one UNSUBSCRIBE.
   *
   * @param topic A topic filter or a list of them.
   * @throws {TypeError} A malformed filter.
   * @throws {MQTTConnectionError} Not connected, or the connection ended before UNSUBACK.
   */
  unsubscribe(topic: string | string[]): Promise<void> {
    const topics = Array.isArray(topic) ? topic : [topic];
    let bytes: Uint8Array;
    try {
      for (const t of topics) validateTopicFilter(t, "unsubscribe");
      bytes = encodeUnsubscribe({ type: "unsubscribe", packetId: 1, topics });
    } catch (e) {
      return Promise.reject(e);
    }
    return this.#run(async () => {
      const offline = this.#conn.unusable("unsubscribe");
      if (offline) throw offline;
      await this.#send("unsuback", bytes, headerLength(bytes));
      this.#hooks.unsubscribed?.(topics);
    });
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
  wait_msg(options: SignalOptions = {}): Promise<Message> {
    const run = this.#hooks.run;
    return run
      ? run(() => this.#inbox.receive(options.signal, this.#callback))
      : this.#inbox.receive(options.signal, this.#callback);
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
  messages(options: SignalOptions = {}): AsyncGenerator<Message, void, undefined> {
    return this.#inbox.messages(options.signal);
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
    return this.#inbox.check(this.#callback);
  }

  /** camelCase twin of {@linkcode MQTTClient.check_msg}. @returns The message or `undefined`. */
  checkMsg(): Promise<Message | undefined> {
    return this.check_msg();
  }

  // ---- plumbing ----------------------------------------------------------

  /** Runs a call that needs the connection: at once, or as the robust client rides it. */
  #run<T>(op: () => Promise<T>): Promise<T> {
    return this.#hooks.run ? this.#hooks.run(op) : op();
  }

  /** Sends a packet that takes a packet id; settles on its acknowledgement. */
  #send<T>(
    kind: AckKind,
    bytes: Uint8Array,
    idAt: number,
    signal?: AbortSignal,
    keep = false,
    filters?: number,
  ): Promise<T> {
    return new Promise<T>((resolve, reject) =>
      this.#core.send({
        kind,
        bytes,
        idAt,
        keep,
        filters,
        signal,
        resolve: resolve as (v: unknown) => void,
        reject,
      })
    );
  }
}

/** Where a packet's variable header starts: after its fixed header. */
function headerLength(bytes: Uint8Array): number {
  let at = 1;
  while (bytes[at] & 0x80) at++;
  return at + 1;
}
