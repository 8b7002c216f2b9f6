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
// The API room: umqtt's names, argument checks and options, wired to the parts doing the work;
// CONTRIBUTING.md has the map (_protocol.ts, _connection.ts, _connector.ts, _outbox.ts, _inbox.ts).
import type { QoS } from "./codec/packet.ts";
import type { AuthProperties } from "./codec/properties.ts";
import { access, type CoreHooks, NO_HOOKS } from "./_internal.ts";
import type { SslParams } from "./transports/types.ts";
import { endpointUrl } from "./_servers.ts";
import { Connector } from "./_connector.ts";
import { Outbox } from "./_outbox.ts";
import { shownConnack } from "./_acks.ts";
import { Connection } from "./_connection.ts";
import {
  checkConnect,
  type CheckedPublish,
  checkPublish,
  checkSubscribe,
  checkUnsubscribe,
  checkWill,
  granted,
  invalid,
  NO_OPTIONS,
  signalOptionsError,
} from "./_checks.ts";
import { Requests, respond } from "./_requests.ts";
import type { ListenerArgs, MQTTClientEventMap as Events } from "./_events.ts";
import { type ClientConfig, clientConfig, shownSsl } from "./_client_config.ts";
import type {
  Connack,
  ConnectOptions,
  Credential,
  DisconnectOptions,
  Message,
  MessageCallback,
  MQTTClientOptions,
  PublishOptions,
  RequestOptions,
  SignalOptions,
  SubscribeListOptions,
  SubscribeOptions,
  SubscriptionOptions,
  UnsubscribeOptions,
  WillOptions,
} from "./options.ts";

/** Its listeners typed by event name (types only): `e.detail` of `connected`, `disconnected`. */
export interface MQTTClient {
  /** Adds a listener; a `connected` or `disconnected` one gets its event typed. */
  addEventListener<K extends keyof Events>(...args: ListenerArgs<Events, K>): void;
  /** Adds a listener, as `EventTarget` does: any event name, a listener object. */
  addEventListener(...args: Parameters<EventTarget["addEventListener"]>): void;
  /** Removes a listener. */
  removeEventListener<K extends keyof Events>(...args: ListenerArgs<Events, K>): void;
  /** Removes a listener, as `EventTarget` does. */
  removeEventListener(...args: Parameters<EventTarget["removeEventListener"]>): void;
}

/**
 * An MQTT 3.1.1 and MQTT 5 client with MicroPython `umqtt.simple`'s API: same names,
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
  /** User name, if any (undefined when `user` is a function). */
  readonly user: string | undefined;
  /** TLS parameters, but the private key (`key`): the client keeps it to itself. Frozen. */
  readonly ssl_params: SslParams;

  readonly #config: ClientConfig;
  readonly #hooks: CoreHooks;
  readonly #conn: Connection;
  readonly #link: Connector;
  readonly #out: Outbox;
  readonly #requests: Requests | undefined;

  /**
   * Makes a client; nothing is sent until {@linkcode MQTTClient.connect}.
   *
   * @param client_id Client identifier (may be empty with a clean session).
   * @param server Host name, IP address, or URL `mqtt://host[:port]` / `mqtts://host[:port]`
   * (`ws://`, `wss://`); or a list of them, tried in order by `connect()`.
   * @param port Port (0: the URL's, else 1883, or 8883 with ssl; 80 `ws://`, 443 `wss://`), or all options as one object.
   * @param user User name (`null`, umqtt's `None`, or left out: none).
   * @param password Password (`null` or left out: none).
   * @param keepalive Keep-alive in seconds, 0–65535.
   * @param ssl Use TLS.
   * @param ssl_params TLS parameters: `server_hostname`, `cadata`, `cert`, `key`.
   * @throws {TypeError} A parameter of the wrong type, an unsupported URL scheme or `ssl_params` key.
   * @throws {RangeError} A number out of range (port, keepalive, limits).
   */
  constructor(
    client_id: string,
    server: string | readonly string[],
    port?: number | MQTTClientOptions,
    user?: string | Credential<string> | null,
    password?: string | Uint8Array | Credential<string | Uint8Array> | null,
    keepalive?: number,
    ssl?: boolean,
    ssl_params?: SslParams,
  ) {
    super();
    const c = clientConfig(
      client_id,
      server,
      port,
      { user, password, keepalive, ssl, ssl_params },
      new.target !== MQTTClient, // the reconnecting client's options are its own
    );
    this.#config = c;
    this.user = typeof c.user === "string" ? c.user : undefined;
    this.ssl_params = shownSsl(c.ssl_params);
    this.#hooks = new.target === MQTTClient ? NO_HOOKS : { keepPending: false }; // robust: its own
    this.#conn = new Connection(c, this.#hooks, this);
    this.#link = new Connector(c, this.#conn, client_id);
    this.#out = new Outbox(this.#conn, this.#hooks);
    // From the start: a kept session may bring replies to the last run's requests.
    if (c.version === 5) this.#conn.replies = this.#requests = new Requests(this, this.#out);
  }

  static {
    // For the robust client (lib/_internal.ts): one set of functions for all clients.
    access.hooks = (c) => (c as MQTTClient).#hooks;
    access.rejectKept = (c, e) => (c as MQTTClient).#link.rejectKept(e);
    access.checkDisconnect = (c, options) => (c as MQTTClient).#link.checkDisconnect(options, true);
    access.since = (c) => (c as MQTTClient).#link.since();
    access.servers = (c) => (c as MQTTClient).#link.servers.fromCurrent();
    access.connectTo = (c, server, clean, signal) =>
      (c as MQTTClient).#link.connectTo(server, clean, signal);
    access.ending = (c) => (c as MQTTClient).#conn.ending();
    access.resubscribe = (c, subscriptions, signal, properties) =>
      (c as MQTTClient).#out.subscribe(subscriptions, signal, properties);
  }

  /**
   * The client identifier sent in CONNECT; with MQTT 5, once the broker has
   * assigned one for an empty identifier, that one (it is sent from then on).
   */
  get client_id(): string {
    return this.#link.clientId;
  }

  /** Host name or address of the server connected to, or last connected to (else the first given). */
  get server(): string {
    return this.#link.servers.current.hostname;
  }

  /** TCP port of that server. */
  get port(): number {
    return this.#link.servers.current.port;
  }

  /** Whether TLS is used with that server. */
  get ssl(): boolean {
    return this.#link.servers.current.ssl;
  }

  /** URL of that server, `scheme://host:port`. */
  get url(): string {
    return endpointUrl(this.#link.servers.current);
  }

  /** Keep-alive in seconds (0: off): as given, or MQTT 5's Server Keep Alive once set (MQTT-3.2.2-21). */
  get keepalive(): number {
    return this.#conn.acceptedProps?.serverKeepAlive ?? this.#config.keepalive;
  }

  /** True between CONNACK and the end of the connection. */
  get connected(): boolean {
    return this.#conn.connected && !this.#conn.forsaken();
  }

  /**
   * What the last accepting CONNACK said (frozen): session present, reason code and, with MQTT 5, its
   * properties (the broker's limits, an assigned client identifier, …); undefined before the first.
   */
  get connack(): Connack | undefined {
    return shownConnack(this.#conn);
  }

  /**
   * MQTT 5: times the broker had more unacknowledged QoS 1/2 messages in
   * flight to this client than its `receiveMaximum` allows. They are
   * delivered all the same, up to 65 535 unacknowledged (past that the client
   * closes, reason code 0x93); this counts the broker's overrun.
   */
  get receiveMaximumExceeded(): number {
    return this.#conn.core.overruns;
  }

  /** QoS 0 messages dropped because more than `maxQueuedMessages` were waiting to be handled. */
  get droppedMessages(): number {
    return this.#conn.inbox.dropped;
  }

  /**
   * Sets the function called for each message that `wait_msg`/`check_msg`
   * handle (a `wait_msg` already waiting included). It is awaited before the
   * message is acknowledged.
   *
   * @param f Called as `f(topic, msg, message)`: umqtt's two arguments, then the whole
   * {@linkcode Message} (with its MQTT 5 properties).
   * @throws {TypeError} When `f` is not a function.
   */
  set_callback(f: MessageCallback): void {
    if (typeof f !== "function") throw invalid("callback", f, "a function");
    this.#conn.inbox.callback = f;
  }

  /** camelCase twin of {@linkcode MQTTClient.set_callback}. @param f Called as `f(topic, msg, message)`. */
  setCallback(f: MessageCallback): void {
    this.set_callback(f);
  }

  /**
   * Sets the will: the message the broker publishes if this client vanishes without
   * `disconnect()`. Call before `connect()`: set while connected, it goes with the next one.
   *
   * @param topic Topic name (no wildcards).
   * @param msg Payload.
   * @param retain Retain flag, or `{ retain, qos, properties }`.
   * @param qos QoS 0, 1 or 2; after an options object, 0 (its `qos` is the one taken).
   * @param options MQTT 5: `properties` of the will, `willDelayInterval` included.
   * @throws {TypeError} A bad topic or payload, properties with MQTT 3.1.1 or an unknown one.
   * @throws {RangeError} A QoS or property value out of range; a topic or message over 65535 bytes.
   */
  set_last_will(
    topic: string,
    msg: string | Uint8Array,
    retain: boolean | WillOptions = false,
    qos: QoS = 0,
    options: Pick<WillOptions, "properties"> = {},
  ): void {
    this.#link.will = checkWill(topic, msg, retain, qos, options, this.#config.version);
  }

  /** camelCase twin of {@linkcode MQTTClient.set_last_will}. @param args Its arguments. */
  setLastWill(...args: Parameters<MQTTClient["set_last_will"]>): void {
    this.set_last_will(...args);
  }

  /**
   * Connects, sends CONNECT and waits for CONNACK: to the servers in order
   * until one accepts. With a persistent session (`clean_session = false`),
   * QoS 1/2 publishes left unacknowledged go first, in their order: DUP=1, or
   * the PUBREL past a PUBREC (anew, DUP=0, after a clean session or MQTT 5's
   * Session Present 0). With MQTT 5, `connect(false)` asks for a session that
   * outlives the connection (Session Expiry Interval 0xFFFFFFFF unless
   * `sessionExpiryInterval` is given), `connect(true)` for one that ends with
   * it; what the CONNACK allows is obeyed from then on (see
   * {@linkcode MQTTClient.connack}). A `disconnect()` still under way ends first;
   * one called after this call ends this call.
   *
   * @param clean_session Start a fresh session (default) or resume the stored one; or `{ clean_session, signal }`.
   * @param options `signal`: aborting it closes the connection attempt (or ends the wait for a
   * `disconnect()` under way).
   * @returns CONNACK's session-present flag: whether the broker had a session for this client.
   * @throws {MQTTException} The broker refused: `code` is the CONNACK return (MQTT 5: reason) code.
   * @throws {MQTTConnectionError} No connection, or no CONNACK within `connectTimeout`.
   * @throws {TypeError} MQTT 3.1.1: an empty client id with a persistent session (MQTT-3.1.3-7);
   * already connected; a `sessionStore` another client, connected or connecting, uses.
   */
  connect(
    clean_session: boolean | ConnectOptions = true,
    options: SignalOptions = NO_OPTIONS,
  ): Promise<boolean> {
    try {
      const { clean, signal } = checkConnect(clean_session, options); // (not async: a frame less)
      return this.#link.connect(clean, signal, this.#hooks.referred);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /**
   * Sends DISCONNECT (so the broker discards the will) and closes the connection. Pending
   * operations, a waiting `wait_msg` and a `connect()` under way included, reject with
   * {@linkcode MQTTConnectionError}, but for those the broker acknowledges before it closes (read
   * while acks are due, up to 1 s: a publish it took resolves); nothing is written after
   * DISCONNECT. Does nothing when not connected. A second call while one runs joins it (MQTT 5:
   * asking for another DISCONNECT, it is a TypeError). Resolves once the transport is closed (a
   * WebSocket after its closing handshake; the DISCONNECT write and our close wait at most 2 s
   * each, the broker's close while acks are due 1 s), so the process may exit right after.
   *
   * @param options MQTT 5: what the DISCONNECT says; `{ reasonCode: 0x04 }` makes the broker
   * publish the will.
   * @returns When the connection is closed.
   * @throws {TypeError} Options with MQTT 3.1.1; {@linkcode RangeError} a reason code a Client
   * may not send, a session expiry when the CONNECT had none (MQTT 5.0 section 3.14.2.2.2).
   */
  disconnect(options?: DisconnectOptions): Promise<void> {
    return this.#link.disconnect(options, !this.#hooks.run);
  }

  /**
   * MQTT 5: re-authenticates on the open connection (AUTH 0x19) with the `authenticationMethod`
   * given to the constructor; `onAuth` answers the broker's challenges. Resolves with the properties
   * of the broker's AUTH 0x00: its final `authenticationData` (SCRAM's server signature) is the
   * application's to verify. A broker that refuses ends the connection with a DISCONNECT.
   *
   * @param data The first step's Authentication Data.
   * @throws {TypeError} MQTT 3.1.1, no `authenticationMethod`, `data` not bytes, or one under way.
   * @throws {MQTTConnectionError} Not connected, the connection lost, or not done in `connectTimeout`.
   */
  reauthenticate(data?: Uint8Array): Promise<AuthProperties> {
    return this.#conn.reauthenticate(data);
  }

  /**
   * Sends PINGREQ and resolves on the broker's PINGRESP; with keepalive 0, none
   * within `connectTimeout` ends the connection (the keepalive bounds it otherwise).
   * @throws {MQTTConnectionError} When not connected, or the connection ends first.
   */
  ping(): Promise<void> {
    return this.#out.ping(this.keepalive === 0 ? this.#config.connectTimeout : 0);
  }

  /**
   * Publishes a message. QoS 0 resolves once written; QoS 1 once the broker's
   * PUBACK arrives; QoS 2 on PUBCOMP. At most the broker's Receive Maximum (MQTT 5) of QoS 1/2
   * publishes, or `maxInflightQoS2` (3.1.1) of QoS 2 ones, are unacknowledged at once: further QoS
   * 1/2 ones wait their turn, in call order. MQTT 5: a repeated topic goes out as a topic alias
   * when the broker allows them (`autoTopicAlias`).
   *
   * @param topic Topic name (no wildcards).
   * @param msg Payload: text (sent as UTF-8) or bytes.
   * @param retain Retain flag, or `{ retain, qos, properties, signal }`.
   * @param qos 0, 1 or 2; after an options object, 0 (its `qos` is the one taken).
   * @param options `signal`: aborting it stops the wait for the acknowledgement
   * (QoS 0: for the write; the message may already be on its way); MQTT 5: `properties`.
   * @throws {TypeError} A bad topic, payload or property.
   * @throws {RangeError} A QoS out of range, a packet over the protocol's limit; with MQTT 5
   * a QoS over the broker's Maximum QoS, retain where it has none, or a packet over its Maximum
   * Packet Size (before any byte is written).
   * @throws {MQTTException} MQTT 5: the broker refused it (PUBACK/PUBREC reason 0x80 or above).
   * @throws {MQTTConnectionError} Not connected, or the connection ended before the ack.
   */
  publish(
    topic: string,
    msg: string | Uint8Array,
    retain: boolean | PublishOptions = false,
    qos: QoS = 0,
    options: Omit<PublishOptions, "retain" | "qos"> = NO_OPTIONS,
  ): Promise<void> {
    let p: CheckedPublish;
    const run = this.#hooks.run, plain = !run && this.#conn.core.plain;
    try {
      p = checkPublish(topic, msg, retain, qos, options, this.#config.version, !run, plain);
    } catch (e) {
      return Promise.reject(e);
    }
    return run ? run(() => this.#out.publish(p), p.payloadLength, p.signal) : this.#out.publish(p);
  }

  /**
   * Subscribes to one topic filter, or to several in one SUBSCRIBE.
   *
   * @param topic A topic filter (`$share/{group}/{filter}` for a shared subscription).
   * @param qos Maximum QoS asked for (0, 1 or 2), or {@linkcode SubscribeOptions}: `qos`,
   * `signal` and, with MQTT 5, `noLocal`, `retainAsPublished`, `retainHandling`,
   * `subscriptionIdentifier`, `userProperties`.
   * @param options `signal`: aborting it stops the wait for SUBACK.
   * @returns The granted QoS.
   * @throws {MQTTException} The broker refused it (`code` 0x80; MQTT 5: the reason code, and
   * the SUBACK's `reasonString`).
   * @throws {TypeError} A malformed filter or option, an MQTT 5 option with 3.1.1.
   * @throws {RangeError} A QoS out of range; MQTT 5: a wildcard, shared subscription or
   * subscription identifier the broker lacks, a packet over its Maximum Packet Size.
   * @throws {MQTTConnectionError} Not connected, or the connection ended before SUBACK.
   */
  subscribe(topic: string, qos?: QoS | SubscribeOptions, options?: SignalOptions): Promise<number>;
  /**
   * Subscribes to several filters in one SUBSCRIBE.
   *
   * @param topics `[filter, qos | options]` pairs.
   * @param options `signal`; MQTT 5: the SUBSCRIBE's `subscriptionIdentifier` and `userProperties`.
   * @returns The SUBACK's codes, one per filter: the granted QoS, or 0x80 and above for a refusal.
   */
  subscribe(
    topics: readonly (readonly [string, QoS | SubscriptionOptions])[],
    options?: SubscribeListOptions,
  ): Promise<number[]>;
  subscribe(
    topic: string | readonly (readonly [string, QoS | SubscriptionOptions])[],
    qos: QoS | SubscribeOptions = 0,
    options: SubscribeOptions = {},
  ): Promise<number | number[]> {
    const list = Array.isArray(topic);
    let s: ReturnType<typeof checkSubscribe>;
    try {
      // After a list the second argument is the options (0, its default, meaning none).
      const o = list ? (qos === 0 ? {} : qos as SubscribeOptions) : options;
      s = checkSubscribe(topic, list ? 0 : qos, o, this.#config.version);
    } catch (e) {
      return Promise.reject(e);
    }
    const { subscriptions, signal, properties } = s;
    return this.#run(async () => {
      const acked = await this.#out.subscribe(subscriptions, signal, properties, s.bytes);
      return list ? acked.codes : granted("Subscription to", topic as string, "SUBACK", acked);
    }, signal);
  }

  /**
   * Unsubscribes from one topic filter or several, in one UNSUBSCRIBE.
   *
   * @param topic A topic filter.
   * @param options `signal`: aborting it stops the wait for UNSUBACK; MQTT 5: `userProperties`.
   * @throws {TypeError} A malformed filter or option. {@linkcode RangeError}: over the Maximum Packet Size.
   * @throws {MQTTException} MQTT 5: the broker refused it (UNSUBACK reason 0x80 or above; 0x11,
   * no subscription existed, resolves).
   * @throws {MQTTConnectionError} Not connected, or the connection ended before UNSUBACK.
   */
  unsubscribe(topic: string, options?: UnsubscribeOptions): Promise<void>;
  /**
   * Unsubscribes from several filters in one UNSUBSCRIBE.
   *
   * @param topics The filters.
   * @param options As for one filter.
   * @returns The UNSUBACK's reason codes, one per filter (MQTT 3.1.1: all 0).
   */
  unsubscribe(topics: readonly string[], options?: UnsubscribeOptions): Promise<number[]>;
  unsubscribe(topic: string | readonly string[], o?: UnsubscribeOptions): Promise<void | number[]> {
    const topics = Array.isArray(topic) ? [...topic] : [topic]; // the caller may reuse its list
    let bytes: Uint8Array;
    try {
      bytes = checkUnsubscribe(topics, this.#config.version, o);
    } catch (e) {
      return Promise.reject(e);
    }
    const op = async () => {
      const acked = await this.#out.unsubscribe(bytes, topics, o?.signal);
      if (Array.isArray(topic)) return acked.codes;
      granted("Unsubscribe from", topic as string, "UNSUBACK", acked);
    };
    return this.#run(op, o?.signal, topics); // (the robust client renews none of `topics` meanwhile)
  }

  /**
   * MQTT 5 request/response: publishes a request with a Response Topic and
   * a fresh Correlation Data and resolves with the matching reply. The
   * client subscribes once to its response topic (built from the broker's
   * Response Information when it gave one, else `<client_id>/responses/…`;
   * the same for each client object of one client identifier). Replies go
   * only to their request, never to the callback, `wait_msg` or `messages()`;
   * a late or unmatched one is acknowledged and dropped, also one to an
   * earlier client object's request that a kept session brings. Many
   * requests may be in flight at once.
   *
   * @param topic Where the request goes.
   * @param payload The request.
   * @param options `timeout` in ms (default 30 000), `qos`, more `properties`, `signal`.
   * @returns The reply.
   * @throws {DOMException} `TimeoutError` when no reply came in time.
   * @throws {MQTTConnectionError} The connection was lost (the robust client keeps waiting).
   * @throws {TypeError} MQTT 3.1.1, or a bad argument; {@linkcode RangeError} a `timeout` or `qos` out of range.
   */
  request(
    topic: string,
    payload: string | Uint8Array,
    options: RequestOptions = {},
  ): Promise<Message> {
    return this.#requests?.request(topic, payload, options) ??
      Promise.reject(new TypeError("Cannot request: request/response is MQTT 5's"));
  }

  /**
   * MQTT 5: answers a request received as a message: publishes `payload` to
   * its Response Topic with its Correlation Data.
   *
   * @param request The request, as `wait_msg`, `messages()` or the callback gave it.
   * @param payload The reply.
   * @param options As {@linkcode MQTTClient.publish}'s (its properties are added to the reply's).
   * @throws {TypeError} A request without a Response Topic.
   */
  respond(
    request: Message,
    payload: string | Uint8Array,
    options: PublishOptions = {},
  ): Promise<void> {
    return respond(this, request, payload, options);
  }

  /**
   * Waits for the next incoming message, runs the callback if one is set, sends the message's
   * acknowledgement, and resolves with it (or rejects with what the callback threw, the message
   * unacknowledged). Concurrent calls are served in call order, one message each.
   *
   * @param options `signal`: aborting it stops the wait (rejecting with the
   * signal's reason); no message is lost, and the client stays usable.
   * @returns The message.
   * @throws {MQTTConnectionError} When the connection is gone and no message is left in the queue.
   */
  wait_msg(options: SignalOptions = NO_OPTIONS): Promise<Message> {
    const bad = signalOptionsError(options, "wait_msg");
    if (bad) return Promise.reject(bad);
    // A message already queued needs no connection: the robust client's too.
    const run = this.#hooks.run;
    return run && !this.#conn.inbox.queued
      ? run(() => this.#conn.inbox.receive(options.signal), undefined, options.signal)
      : this.#conn.inbox.receive(options.signal);
  }

  /** camelCase twin of {@linkcode MQTTClient.wait_msg}. @param options `signal`. @returns The message. */
  waitMsg(options: SignalOptions = NO_OPTIONS): Promise<Message> {
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
  messages(options: SignalOptions = NO_OPTIONS): AsyncGenerator<Message, void, undefined> {
    const bad = signalOptionsError(options, "messages");
    if (bad) throw bad;
    return this.#conn.inbox.messages(options.signal);
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
   * @returns The message, or `undefined`, after a timer turn, when none is queued.
   * @throws {MQTTConnectionError} When the connection is gone and no message is left in the queue.
   */
  check_msg(): Promise<Message | undefined> {
    return this.#conn.inbox.check();
  }

  /** camelCase twin of {@linkcode MQTTClient.check_msg}. @returns The message or `undefined`. */
  checkMsg(): Promise<Message | undefined> {
    return this.check_msg();
  }

  // ---- plumbing ----------------------------------------------------------

  /** Runs a call that needs the connection: at once, or as the robust client rides it. */
  #run<T>(op: () => Promise<T>, signal?: AbortSignal, leaving?: readonly string[]): Promise<T> {
    return this.#hooks.run ? this.#hooks.run(op, undefined, signal, leaving) : op();
  }
}
