/**
 * A reconnecting {@linkcode MQTTClient}, as MicroPython's `umqtt.robust`
 * extends `umqtt.simple`: the same API, plus `DELAY`, `DEBUG`, `delay(i)`,
 * `log(in_reconnect, e)` and `reconnect()`, and `publish`, `subscribe`,
 * `unsubscribe`, `wait_msg`, `check_msg` and `messages()` that ride out a
 * lost connection by reconnecting.
 *
 * Beyond umqtt.robust: a publish resolves once acknowledged however many
 * reconnects that takes, and is never published twice under a new packet id
 * (a message already written waits for the session's DUP=1 resend, or with
 * MQTT 5 after Session Present 0 goes anew under its id, DUP=0); the
 * connection is re-established in the background as soon as it is lost;
 * subscriptions are renewed when the broker has no session; backoff is
 * exponential with full jitter; publishing while offline is bounded; the
 * `signal` option ends reconnecting (the connection stays until `disconnect()`).
 *
 * @example Port of umqtt.robust's example
 * ```ts ignore
 * import { MQTTClient } from "@umqtt/umqtt/robust";
 *
 * const c = new MQTTClient("umqtt_client", "mqtt://127.0.0.1");
 * c.DEBUG = true;
 * c.set_callback((topic, msg) => console.log(topic, msg));
 * await c.connect(false);
 * // umqtt.robust subscribes only if connect() found no session; subscribe
 * // whatever it returns, so that this client knows the subscription and
 * // renews it when a broker has lost the session.
 * await c.subscribe("foo_topic");
 * while (true) await c.wait_msg();
 * ```
 *
 * @module
 */
import { abortable, never, readable, watchWeakly } from "./_abortable.ts";
import { checkConnect, checkDelay, copied, positive, v5Only } from "./_checks.ts";
import { access } from "./_internal.ts";
import { denied, movesOn, Referrals, UNANSWERED } from "./_servers.ts";
import type { Endpoint } from "./transports/endpoint.ts";
import { MQTTClient as SimpleClient } from "./client.ts";
import type { ConnectOptions, Credential, DisconnectOptions, Message } from "./options.ts";
import type { SignalOptions } from "./options.ts";
import { credentialFailure } from "./_credentials.ts";
import type { QoS } from "./codec/packet.ts";
import { MQTTConnectionError } from "./errors.ts";
import { Offline } from "./_offline.ts";
import { Backoff, napFor, reconnecting, ReconnectOnce, stopped, stopping } from "./_reconnects.ts";
import { disposable } from "./_inbox.ts";
import { Subscriptions } from "./_renew.ts";
import type { RobustClientEventMap as Events, RobustClientOptions } from "./_robust_options.ts";
import type { ListenerArgs } from "./_events.ts";
import type { SslParams } from "./transports/types.ts";

// Its options and events, and the simple client's option types (a module of types only; not
// `export type *`, which TypeScript before 5.0 refuses in the npm package's .d.ts).
export * from "./_robust_options.ts";

const noop = () => {};

export { SimpleClient as SimpleMQTTClient };
export type { QoS, SslParams };
export { MQTTConnectionError, MQTTException, MQTTProtocolError } from "./errors.ts";

/** Its listeners typed by event name (types only): `e.detail` of `reconnecting` too. */
export interface MQTTClient {
  /** Adds a listener; a `connected`, `disconnected` or `reconnecting` one gets its event typed. */
  addEventListener<K extends keyof Events>(...args: ListenerArgs<Events, K>): void;
  /** Adds a listener, as `EventTarget` does: any event name, a listener object. */
  addEventListener(...args: Parameters<EventTarget["addEventListener"]>): void;
  /** Removes a listener. */
  removeEventListener<K extends keyof Events>(...args: ListenerArgs<Events, K>): void;
  /** Removes a listener, as `EventTarget` does. */
  removeEventListener(...args: Parameters<EventTarget["removeEventListener"]>): void;
}

/**
 * The reconnecting client. Existing `umqtt.robust` code ports line by line;
 * see the module documentation for what it adds.
 *
 * `publish`, `subscribe`, `unsubscribe` and `wait_msg` take the simple client's arguments, checked
 * at once; then, while the connection is lost, they wait for the reconnect and retry. A publish
 * resolves once acknowledged, however many reconnects that takes. While offline, at most
 * `maxOfflineMessages` publishes (`maxOfflineBytes` of payload) wait; a payload larger than
 * `maxOfflineBytes` published offline rejects with a `RangeError`, and with `whenOfflineFull:
 * "reject"` a publish that finds the offline queue full rejects with an `MQTTConnectionError`.
 * Subscriptions are remembered and renewed after a reconnect to a broker that lost the session. All
 * of them reject after `disconnect()`. `ping()` does not wait: while offline it rejects at once
 * with an `MQTTConnectionError`.
 *
 * A publish, subscribe or unsubscribe the broker reset 3 connections in a row on (MQTT 3.1.1
 * cannot say it refuses one: mosquitto's `max_packet_size`) rejects with a `RangeError` rather than
 * be retried for ever (README "How messages flow" has the rule).
 *
 * Events (an `EventTarget`): `connected` (`detail.sessionPresent`; `detail.dropped`, the errors of
 * kept publishes given up: MQTT 5 over the CONNACK's limits, or refused by reset 3 times),
 * `disconnected` (`detail.error`), `reconnecting` ({@linkcode ReconnectingDetail}).
 *
 * @example
 * ```ts ignore
 * import { MQTTClient } from "@umqtt/umqtt/robust";
 * const client = new MQTTClient("meter-7", "mqtt://127.0.0.1", { keepalive: 30 });
 * client.DELAY = 0.5; // seconds, as in umqtt.robust
 * client.addEventListener("reconnecting", (e) => console.log(e.detail.server, e.detail.delay));
 * await client.connect(false);
 * await client.publish("meters/7", "42", { qos: 1 }); // resolves on PUBACK, across reconnects
 * ```
 */
export class MQTTClient extends SimpleClient {
  #delay = 2;
  /** Base delay between reconnect attempts, in seconds (umqtt.robust's `DELAY`); read on each use. */
  get DELAY(): number {
    return this.#delay;
  }
  /** @throws {RangeError} Anything but a finite number ≥ 0 (which would mean no backoff). */
  set DELAY(seconds: number) {
    this.#delay = checkDelay(seconds);
  }
  /** Print connection errors to the console (umqtt.robust's `DEBUG`); read on each use. */
  DEBUG = false;

  // The wait before each reconnect attempt, from DELAY up to reconnectMaxDelay (lib/_reconnects.ts).
  readonly #backoff: Backoff;
  // Calls waiting for the connection, and the offline limits; none waits while #online: no
  // reconnect under way, nor a reconnect() override's connect() (lib/_reconnects.ts).
  readonly #offline: Offline;
  readonly #online = () => this.connected && !this.#reconnecting && !this.#attempting();
  readonly #attempting = () => this.#attempt ?? (this.#once.running && this.#appConnecting);
  readonly #looping = () => this.#reconnecting ?? this.#once.running; // (an override's too)
  readonly #signal: AbortSignal | undefined;
  #stopper: AbortController | null = null; // see #stop
  #closed = false;
  #leaving: Promise<void> | null = null; // disconnect() while it runs
  #reconnecting: Promise<boolean> | null = null;
  readonly #once = new ReconnectOnce(this, MQTTClient.prototype.reconnect, () => this.#losses);
  // The application's connect() while it runs (not while it waits for a reconnect).
  #appConnecting: Promise<boolean> | null = null;
  // The reconnect loop's attempt under way (connect, then renew), and its wait before one.
  #attempt: Promise<boolean> | null = null;
  #nap: AbortController | null = null;
  // Why the connection, or the last attempt, failed.
  #lastError: unknown;
  #losses = 0; // connections lost so far (see #lost)
  #cut = 0; // #losses as the last disconnect() counted it: no call begun before is retried
  #hookFailed: { error: unknown } | null = null; // log() threw on the loss: the reconnect ends
  #endedWith: Error | null = null; // what the last reconnect that gave up ended with
  readonly #subscriptions = new Subscriptions(); // renewed after a reconnect without the session
  // A broker without our session was met, or an attempt's CONNECT went unanswered (the broker may
  // yet make a session of it), and the subscriptions are not all renewed yet: the next connection
  // renews them even if its broker says Session Present 1 (of the session that CONNECT made).
  #renewOwed = false;
  #renewing: Promise<void> | undefined; // started by h.accepted, awaited by #attemptTo
  #cutShort = false; // the last attempt's renewal went ahead of its resends, and failed
  // MQTT 5: servers a CONNACK or DISCONNECT referred to, tried first by the next reconnect.
  readonly #referred: Referrals;
  // MQTT 3.1.1 with an empty client id: every connection starts a clean session (MQTT-3.1.3-7).
  readonly #anonymous: boolean;

  /**
   * Makes a reconnecting client; the parameters are umqtt's (see the simple
   * client), or an options object with {@linkcode RobustClientOptions}.
   *
   * @param client_id Client identifier; reconnects resume its session.
   * @param server Host, IP address or `mqtt://`/`mqtts://`/`ws://`/`wss://` URL, or a list of them.
   * @param port Port, or all options as one object.
   * @param user User name.
   * @param password Password.
   * @param keepalive Keep-alive in seconds.
   * @param ssl Use TLS.
   * @param ssl_params TLS parameters.
   * @throws {TypeError} A parameter of the wrong type, an MQTT 5 option with 3.1.1.
   * @throws {RangeError} A number out of range.
   */
  constructor(
    client_id: string,
    server: string | readonly string[],
    port?: number | RobustClientOptions,
    user?: string | Credential<string> | null,
    password?: string | Uint8Array | Credential<string | Uint8Array> | null,
    keepalive?: number,
    ssl?: boolean,
    ssl_params?: SslParams,
  ) {
    super(client_id, server, port, user, password, keepalive, ssl, ssl_params);
    const o: RobustClientOptions = typeof port === "object" && port !== null ? port : {};
    // No longer than a timer can wait: past it setTimeout fires at once, a hot loop.
    const maxDelay = positive("reconnectMaxDelay", o.reconnectMaxDelay ?? 30_000, 2_147_483_647);
    this.#backoff = new Backoff(this, maxDelay);
    this.#offline = new Offline(o, { reconnect: () => this.#once.call(), online: this.#online });
    if (o.followServerReference !== undefined && o.protocolVersion !== 5) {
      // As the simple client's MQTT 5 options: there are no Server References in 3.1.1.
      throw v5Only(["followServerReference"]);
    }
    this.#referred = new Referrals(o.followServerReference ?? true);
    this.#anonymous = client_id === "" && o.protocolVersion !== 5;
    this.#signal = o.signal;
    // Watched weakly, by a function without `this`: a long-lived signal must not keep the client.
    if (this.#signal) watchWeakly(this.#signal, this, MQTTClient.#aborted);
    const h = access.hooks(this);
    h.keepPending = true;
    // Lost without disconnect(): reconnect at once, so that kept publishes go even unasked.
    h.onLost = (error) => {
      this.#losses++;
      this.#lastError = error;
      // None left from an earlier outage.
      if (!this.#referred.refer(error, access.servers(this)[0])) this.#referred.clear();
      try {
        this.log(false, error);
      } catch (e) {
        // Not into the connection's teardown or a keepalive timer: the reconnect ends with it.
        this.#hookFailed = { error: e };
      }
      void this.#once.call().catch(noop);
    };
    // publish, subscribe, unsubscribe and wait_msg (their arguments checked there) run through
    // #ride; an unsubscribe() made offline, or cut off, is left out of renewals (Subscriptions).
    h.run = (op, offlineBytes, signal, leaving) => {
      const at = this.connected ? this.#losses : -1;
      return this.#subscriptions.leaving(leaving, at, this.#ride(op, offlineBytes, signal));
    };
    // Remembered to be renewed after a reconnect to a broker that lost the session.
    h.subscribed = (subs, codes, p) => this.#subscriptions.subscribed(subs, codes, p);
    h.unsubscribed = (topics) => this.#subscriptions.unsubscribed(topics);
    // A reconnect's CONNACK (an application's connect(false) as the reconnect runs is its attempt)
    // with publishes to resend: renewed subscriptions go first, or the resends reach none that a
    // broker without the session has; after one cut short so (a 3.1.1 broker's reset), first.
    h.accepted = (present, resending, clean) => {
      const attempt = this.#attempt ?? (clean || !this.#looping() ? null : this.#appConnecting);
      if (attempt && !present) this.#renewOwed = true;
      if (!attempt || !resending || this.#cutShort) return;
      (this.#renewing = this.#renew())?.catch(noop);
    };
    // connect() follows a refusal's Server Reference too, before the rest of the list.
    h.referred = (error, server) =>
      this.#referred.refer(error, server) ? this.#referred.take() : [];
  }

  /** On the client's signal: reconnecting stops for good, and what waits for it rejects. */
  static #aborted(c: MQTTClient, reason: unknown): void {
    c.#stop.abort(reason);
    c.#offline.wakeAll();
    access.rejectKept(c, reason as Error);
  }

  // Aborted by disconnect(): ends a running attempt and any delay. Made on first use (workerd
  // allows none at top level), and anew in another workerd request: the old one's waits never end.
  get #stop(): AbortController {
    const s = this.#stopper;
    if (s && readable(s.signal)) return s;
    if (s) this.#reconnecting = this.#attempt = this.#appConnecting = null;
    this.#nap = null;
    return (this.#stopper = new AbortController());
  }

  /**
   * Waits before reconnect attempt `i` (from 1). The default waits, before
   * the first server of round `r` of the server list, a random time between
   * 0 and `DELAY * 2^(r-2)` seconds (`DELAY` before the first round too),
   * capped at `reconnectMaxDelay` (exponential backoff with full jitter), and
   * not at all before the other servers of a round. A connection lost within
   * 10 s of the reconnect that made it goes on from the round after the one
   * that reconnect began in.
   * Override it to decide alone, as with umqtt.robust (an override that
   * returns no promise, JavaScript's `delay(i) {}`, means no wait).
   *
   * @param i The attempt about to be made.
   * @returns When the wait is over (early if the client's `signal` aborts).
   * @throws {MQTTConnectionError} The client is disconnected: an override of `reconnect()` that
   * awaits it ends there, as the client's own reconnect does.
   * @throws An override's rejection ends the reconnect, as `log()`'s error does.
   * @throws {RangeError} `i` is not a number.
   */
  delay(i: number): Promise<void> {
    return stopping(napFor(this.#backoff.take(i), i, this.#stop.signal), () => this.#closed);
  }

  /**
   * Reports a connection error when `DEBUG` is on (umqtt.robust's `log`).
   *
   * An override that throws ends the reconnect under way, as an exception out of
   * umqtt.robust's `reconnect()` would: `reconnect()`, the calls waiting for it and the
   * publishes kept in the session reject with its error; the next call reconnects anew.
   *
   * @param in_reconnect Whether the error came from a reconnect attempt.
   * @param e The error.
   */
  log(in_reconnect: boolean, e: unknown): void {
    if (this.DEBUG) console.error(in_reconnect ? "mqtt reconnect:" : "mqtt:", String(e));
  }

  /**
   * Connects, as the simple client does; the client then keeps itself connected.
   * A `disconnect()` under way, not awaited, ends its connection first, as with the
   * simple client. While a reconnect attempt is under way, waits for it first (the `signal`
   * ends that wait): when it connected, resolves with its session-present
   * flag if `clean_session` is false, and throws the simple client's
   * `TypeError` (already connected) if it is true; when it failed, or while
   * the reconnect waits before its next attempt, connects, and the reconnect
   * waits for this. While a `reconnect()` override runs, `connect(false)` on a
   * connected client resolves with the session-present flag, as such a wait does.
   *
   * @param clean_session Start a fresh session or resume one; or `{ clean_session, signal }`.
   * @param options `signal`.
   * @returns CONNACK's session-present flag.
   * @throws {MQTTException} The broker refused.
   * @throws {MQTTConnectionError} No connection.
   * @throws {TypeError} Already connected or connecting, a bad argument, or a `sessionStore` another
   * client, connected or connecting, uses.
   */
  override async connect(
    clean_session: boolean | ConnectOptions = true,
    options: SignalOptions = {},
  ): Promise<boolean> {
    const { clean, signal } = checkConnect(clean_session, options), ended = access.since(this);
    this.#signal?.throwIfAborted(); // stopped for good
    // A disconnect() under way, not awaited: the connection it ends first, as the simple client.
    if (this.#leaving) await abortable(this.#leaving.catch(noop), signal);
    // Ours would collide with the reconnect's attempt (an override's too), or its ending loop.
    for (let r; (r = this.#stop.signal.aborted ? this.#reconnecting : this.#attempting());) {
      let present: boolean | undefined;
      try {
        present = await abortable(r, signal);
      } catch (e) {
        if (signal?.aborted && e === signal.reason) throw e;
      }
      if (present !== undefined && this.connected && clean === false) return present;
    }
    ended(); // a disconnect() called since this call ends it, as the simple client's
    // An override's connect(false) after yours connected: as the own loop, it has its connection.
    if (!clean && this.connected && this.#once.running) return this.connack!.sessionPresent;
    const wasClosed = this.#closed;
    this.#closed = false;
    if (this.#stop.signal.aborted && !this.#signal?.aborted) this.#stopper = new AbortController();
    // The reconnect loop waits for it rather than collide; connect(false) is then its attempt.
    // What was checked at the call, not the caller's object read again after the waits above.
    const given = super.connect(clean, { signal });
    const connecting = !clean && this.#looping() ? this.#attemptTo(given) : given;
    this.#appConnecting = connecting;
    // A reconnect loop between attempts wakes, and waits for this one.
    this.#nap?.abort();
    const done = () => {
      if (this.#appConnecting === connecting) this.#appConnecting = null;
    };
    // One that fails (a disconnect() under way, say) leaves a disconnected client disconnected.
    // One that succeeds starts the backoff over (see Backoff).
    connecting.then(
      () => (done(), this.#backoff.reset()),
      () => (done(), this.#closed ||= wasClosed),
    );
    return connecting;
  }

  /**
   * Retries `connect(false)` until it succeeds: through the server list,
   * from the server that worked last, each attempt announced by a
   * `reconnecting` event and preceded by `delay(i)`; renews every
   * subscription when the broker reports no session. Concurrent calls share
   * one attempt. Resolves at once when connected. An override (umqtt.robust's
   * README advises one) is what the client calls, one call at a time; one that
   * returns without connecting fails the calls that waited for it.
   *
   * @returns CONNACK's session-present flag.
   * @throws {MQTTException} The broker refused the client itself (bad
   * credentials, not authorized…; as umqtt.robust, not retried). A refusal that speaks of
   * the server (unavailable, busy, quota or rate exceeded, use another, moved) moves on.
   * @throws {MQTTConnectionError} After `disconnect()`; every server forbidden by permissions.
   */
  reconnect(): Promise<boolean> {
    return this.#reconnecting ??= (async () => {
      await null; // #reconnecting set first: a listener of the first event must join this loop
      try {
        for (;;) {
          const present = await this.#reconnect();
          // Lost again before the loop ended: checked and cleared in one turn (a later loss: anew).
          if (this.connected) return present;
        }
      } catch (e) {
        // Ended by what is not retried (a refusal of the client itself; log() or delay() that
        // failed, as out of umqtt.robust's reconnect()): kept publishes wait for no loop now.
        const gaveUp = !this.#closed && !this.#signal?.aborted;
        if (gaveUp) access.rejectKept(this, this.#endedWith = e as Error);
        throw e;
      } finally {
        this.#reconnecting = null;
        this.#hookFailed = null;
        // Stopped for good by the client's signal: nothing kept is waited for any more.
        if (this.#signal?.aborted) access.rejectKept(this, this.#signal.reason);
      }
    })();
  }

  async #reconnect(): Promise<boolean> {
    // An application connect() under way: a call made meanwhile waits for it, not for a backoff.
    const app = this.#appConnecting;
    const appPresent = app && await abortable(app, this.#stop.signal).catch(noop);
    if (this.connected) return appPresent ?? this.connack?.sessionPresent ?? true;
    const first = this.#backoff.first();
    for (let attempt = 1, round = first;; round++) {
      // A server the broker referred us to first, once; then the list, from the last that worked.
      const servers = [...this.#referred.take(), ...access.servers(this)];
      let referred = false, forbidden = 0;
      for (let k = 0; k < servers.length; k++, attempt++) {
        if (this.connected) return true;
        this.#stopped();
        // Full jitter before the first attempt too; exponential between rounds, none within one.
        const wait = this.#backoff.plan(k, round);
        // disconnect() ends an overridden delay() too, which cannot see #stop; so does an
        // application connect() (a listener's, even), which this loop then waits for.
        const stop = this.#stop.signal, nap = (this.#nap = new AbortController()).signal;
        this.dispatchEvent(reconnecting(attempt, wait, this.#lastError, servers[k]));
        // An override may return no promise (JavaScript's `delay(i) {}`): no wait, then.
        await abortable(abortable(Promise.resolve(this.delay(attempt)), stop), nap)
          .catch((e) => stop.aborted || nap.aborted || Promise.reject(e));
        this.#nap = null;
        // An application connect() under way (ours would be refused, "already connecting"): wait.
        let present: boolean | undefined;
        while (this.#appConnecting && !this.#stop.signal.aborted) {
          present = await abortable(this.#appConnecting, this.#stop.signal).catch(() => undefined);
        }
        if (this.connected) return present ?? true;
        this.#stopped();
        try {
          const present = await (this.#attempt = this.#attemptTo(servers[k]));
          this.#backoff.connected(first);
          return present;
        } catch (e) {
          this.#lastError = e; // the next attempt's event tells of it, also one a refusal ended
          // A credential function's failure is tried again too: its service may come back. Not a
          // round of servers that the runtime's permissions all forbid: no later round differs.
          const all = denied(e) && ++forbidden === servers.length;
          if (!movesOn(e) && !credentialFailure(e) || all || this.#stop.signal.aborted) {
            this.#signal?.throwIfAborted();
            if (this.#closed) this.#stopped();
            this.log(true, e);
            throw e;
          }
          if (UNANSWERED.has(e as Error)) this.#renewOwed = true;
          // A refusal naming other servers: those next, before the rest of the list; once a round,
          // so that servers referring to each other wait for the next round's backoff.
          if (this.#referred.refer(e, servers[k]) && !referred) {
            referred = true;
            servers.splice(k + 1, 0, ...this.#referred.take());
          }
          this.log(true, e);
        } finally {
          this.#attempt = null;
        }
      }
    }
  }

  /** One reconnect attempt (to a server, or an application's connect()); renews what is lacking. */
  async #attemptTo(to: Endpoint | Promise<boolean>): Promise<boolean> {
    await null; // #attempt set first: a credential function calling connect() must find it
    this.#renewing = undefined; // none of an earlier attempt's (a CONNACK is no microtask away)
    const present =
      await (to instanceof Promise
        ? to
        : access.connectTo(this, to, this.#anonymous, this.#stop.signal));
    this.#cutShort = this.#renewing !== undefined; // until it is through
    await (this.#renewing ?? this.#renew()); // the hook's went ahead of the session's resends
    this.#renewOwed = this.#cutShort = false;
    return present;
  }

  // Renews what a new session lacks; disconnect() awaits it (#stop: no wait for a lost SUBACK).
  #renew(): Promise<void> | undefined {
    const subs = this.#subscriptions, log = (e: unknown) => this.log(true, e);
    if (this.#renewOwed && subs.size) return subs.renew(this, this.#losses, this.#stop.signal, log);
  }

  /** Throws when reconnecting must stop: disconnect(), the client's signal, log() that threw. */
  #stopped(): void {
    if (this.#closed) throw stopped();
    this.#signal?.throwIfAborted();
    const failed = this.#hookFailed;
    this.#hookFailed = null;
    if (failed) throw failed.error;
  }

  /**
   * Runs `op`, reconnecting and retrying while it fails for want of a connection, until the
   * call's `signal` aborts (its reason, even an MQTTConnectionError, is the caller's). Only a
   * publish, which gives its payload's size in bytes, counts against the offline limits.
   */
  async #ride<T>(op: () => Promise<T>, offlineBytes?: number, signal?: AbortSignal): Promise<T> {
    for (;;) {
      // In call order, with a signal or without; a call as a reconnect ends waits for it too.
      if (!this.#online()) {
        await this.#offline.wait(offlineBytes, signal ?? never(), this.#stop.signal);
      }
      signal?.throwIfAborted(); // aborted while it waited: nothing of it goes out
      const losses = this.#losses; // connections lost before it: see #lost
      try {
        return await op();
      } catch (e) {
        // Ending under a DISCONNECT of ours (still "connected"): lost once it has ended.
        const ending = e instanceof MQTTConnectionError ? access.ending(this) : undefined;
        if (ending) await ending; // (not a turn more otherwise: the reconnect may end meanwhile)
        if (!this.#lost(e, losses)) throw e;
        signal?.throwIfAborted();
        this.#signal?.throwIfAborted();
        this.log(false, e);
      }
    }
  }

  // Whether `e` lost the connection: not after disconnect(), nor the call's own if still up (a
  // callback's), nor what a reconnect gave up with; one lost since may fail late (a stuck write),
  // but a call begun before a disconnect() is not retried, even on a connect() made since.
  #lost(e: unknown, losses = this.#losses): boolean {
    const lost = e instanceof MQTTConnectionError && e !== this.#endedWith && losses >= this.#cut;
    return lost && !this.#closed && (!this.connected || losses !== this.#losses);
  }

  /**
   * At most one queued message; on a lost connection, reconnects and tries again, `attempts`
   * tries in all (umqtt.robust's `check_msg(attempts=2)`; 1: no reconnect), a positive integer.
   *
   * @returns The message, or `undefined`.
   */
  override async check_msg(attempts = 2): Promise<Message | undefined> {
    for (let left = positive("attempts", attempts);; left--) {
      try {
        return await super.check_msg();
      } catch (e) {
        if (!this.#lost(e) || left === 1) throw e;
        this.log(false, e);
      }
      await this.#once.call();
    }
  }

  /**
   * Messages as an async iterable that survives lost connections; ends after `disconnect()`.
   *
   * @param options `signal`.
   * @returns An async iterable of messages, which `await using` ends (on Node 20 and 22 too).
   */
  override messages(options: SignalOptions = {}): AsyncGenerator<Message, void, undefined> {
    return disposable(this.#messages(options));
  }

  async *#messages(options: SignalOptions): AsyncGenerator<Message, void, undefined> {
    for (;;) {
      try {
        return yield* super.messages(options);
      } catch (e) {
        if (!(e instanceof MQTTConnectionError)) throw e;
        if (this.#closed) return;
        options.signal?.throwIfAborted();
        this.log(false, e);
      }
      try {
        await abortable(this.#once.call(), options.signal);
      } catch (e) {
        // disconnect() during the outage: the iteration ends, as documented.
        if (this.#closed && e instanceof MQTTConnectionError) return;
        throw e;
      }
    }
  }

  /**
   * Disconnects for good: no reconnect follows; kept publishes reject.
   *
   * @param options MQTT 5: what the DISCONNECT says (see the simple client's).
   * @returns When the connection is closed.
   * @throws {TypeError} Options with MQTT 3.1.1; {@linkcode RangeError} as the simple client's.
   * Either rejects before anything changes: the client stays connected, or reconnecting.
   */
  override disconnect(options?: DisconnectOptions): Promise<void> {
    try {
      // Invalid options reject before anything changes: the client keeps running, and reconnecting.
      options = (access.checkDisconnect(this, options), copied(options)); // sent a turn later at least
    } catch (e) {
      return Promise.reject(e);
    }
    // Marked at once, as the simple client's: a connect() right after this call waits for it.
    return this.#leaving ??= (async () => {
      this.#closed = true;
      this.#cut = ++this.#losses; // the calls made so far fail with it, even late
      this.#stop.abort(new MQTTConnectionError("Disconnected: disconnect() was called"));
      this.#offline.wakeAll();
      await this.#reconnecting?.catch(noop);
      await super.disconnect(options);
    })().finally(() => this.#leaving = null);
  }
}
