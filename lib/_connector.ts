// How a client gets connected: to which server (the list and its failover),
// with which credentials and which CONNECT, one attempt at a time, and
// stopped by disconnect().
import { encodeConnect } from "./codec/connect.ts";
import type { Will } from "./codec/packet.ts";
import { MQTTConnectionError } from "./errors.ts";
import type { Connection } from "./_connection.ts";
import type { ClientConfig } from "./_client_config.ts";
import type { DisconnectOptions } from "./options.ts";
import { CREDENTIAL_FAILURES, credentials } from "./_credentials.ts";
import type { ConnackPacket } from "./codec/packet.ts";
import { checkDisconnect } from "./_checks.ts";
import { checkStore } from "./_store_check.ts";
import { OWN_FAILURES, Servers } from "./_servers.ts";
import { abortable, onAbort, timeLimit, WORKERD } from "./_abortable.ts";
import { dropKept } from "./_uncancelled.ts";
import type { Endpoint } from "./transports/endpoint.ts";

type Credentials = Awaited<ReturnType<typeof credentials>>;

// The client that last connected with each session store (see #checkStore).
const HOLDERS = new WeakMap<object, Connector>();

/** Makes a client's connections. */
export class Connector {
  /** The servers, and the one in use. */
  readonly servers: Servers;
  /** The will sent in every CONNECT. */
  will: Will | undefined;
  /** MQTT 5: the Session Expiry Interval of the last CONNECT sent (0 when it had none). */
  sessionExpiry: number | undefined;
  readonly #config: ClientConfig;
  readonly #conn: Connection;
  #clientId: string;
  // A connect() is under way (from before its first attempt to after its last).
  #connecting = false;
  // workerd: by when (performance.now()) its attempt must have settled, timed out at the latest.
  // One that has not was left by an ended request, whose timers and sockets never settle.
  // Set in workerd only: elsewhere it stays a small integer, not a boxed number per client.
  #due = 0;
  // Counts disconnect() calls, joined ones too: a connect() that sees it change stops trying.
  #stops = 0;
  // The disconnect() under way, which a second call joins.
  #leaving: Promise<void> | null = null;
  // The DISCONNECT of the disconnect() under way, as a string ("undefined": the plain one).
  #chosen: string | null = null;
  // Told by disconnect(): what a connect() awaits of the user's (credentials) ends with it.
  // Made only while one waits: an idle client holds no AbortController.
  #onStop: ((error: Error) => void) | null = null;

  constructor(config: ClientConfig, conn: Connection, clientId: string) {
    this.#config = config;
    this.#conn = conn;
    this.#clientId = clientId;
    this.servers = new Servers(config.servers);
    // Known as the current server by the time anyone hears of the connection.
    conn.acceptor = this.servers;
  }

  /** The client identifier: with MQTT 5, the one the broker assigned for an empty one. */
  get clientId(): string {
    return this.#conn.acceptedProps?.assignedClientIdentifier ?? this.#clientId;
  }

  /**
   * connect(): the servers in order until one accepts; `referred` names
   * those a refusal's Server Reference points to (the robust client's).
   * A disconnect() under way, not awaited, ends its connection first; one
   * called after this call ends this call; so does `signal`, meanwhile.
   */
  async connect(
    clean: boolean,
    signal: AbortSignal | undefined,
    referred?: (error: unknown, server: Endpoint) => Endpoint[],
  ): Promise<boolean> {
    // Awaited only then: a disconnect() right after this call must find it under way.
    if (this.#leaving) await abortable(this.#leaving.catch(() => {}), signal).then(this.since());
    this.#checkStore(clean);
    const stops = this.#begin(false), { list } = this.servers;
    try {
      // One server and no reference to follow: first()'s own shortcut, without its closures.
      const ack = list.length === 1 && !referred
        ? this.#attempt(list[0], clean, signal, stops)
        : this.servers.first(
          (server) => this.#attempt(server, clean, signal, stops),
          () => stops !== this.#stops || signal?.aborted === true,
          referred,
        );
      return (await ack).sessionPresent;
    } catch (e) {
      // Failed, it keeps no Deno TLS handshake for later (_uncancelled.ts): no loop waits for it.
      void dropKept(this.#conn);
      throw e;
    } finally {
      this.#connecting = false;
    }
  }

  /** One attempt to one server (the robust client's reconnect loop). */
  async connectTo(server: Endpoint, clean: boolean, signal?: AbortSignal): Promise<boolean> {
    this.#checkStore(clean);
    const stops = this.#begin(true);
    try {
      return (await this.#attempt(server, clean, signal, stops)).sessionPresent;
    } finally {
      this.#connecting = false;
    }
  }

  /**
   * The session store is this client's from now on, unless another client connected or connecting
   * holds it. connect(false): a store filled since the client was made (an asynchronous load) is
   * checked before any connection opens; the protocol state takes its packets when one does.
   *
   * @throws {TypeError} Naming the entry that is wrong; the store of another client connected or
   * connecting.
   */
  #checkStore(clean: boolean): void {
    const store = this.#config.store, h = store && HOLDERS.get(store);
    // Two clients' packets under one packet id: one's ack took the other's out (never resent).
    if (h && h !== this && h.#busy(false)) {
      throw new TypeError(
        "Invalid sessionStore: another client connected or connecting uses it; one store serves one client",
      );
    }
    if (store) HOLDERS.set(store, this);
    if (!clean && store) checkStore(store);
  }

  /**
   * Connected or connecting. In workerd a connection of another request is not (given up, with
   * `takeOver`: see forsaken()), nor a connect() of an ended one, which will never settle (see #due).
   */
  #busy(takeOver: boolean): boolean {
    const stranded = WORKERD && this.#due > 0 && performance.now() > this.#due;
    return this.#conn.connected && !this.#conn.forsaken(takeOver) || this.#connecting && !stranded;
  }

  /**
   * disconnect()'s options checked, and encoded: the DISCONNECT they make.
   * Throws before anything changes, in the simple and the robust client alike;
   * else, with `count` (a disconnect() the user called), counts the call, which
   * a connect() made before it must see (see `since`). A call that would join
   * one under way may not ask for another DISCONNECT: it would go unsent.
   */
  checkDisconnect(options: DisconnectOptions | undefined, count: boolean): Uint8Array | undefined {
    const max = this.#conn.core.broker.maximumPacketSize;
    const bytes = checkDisconnect(options, this.#config.version, this.sessionExpiry, max);
    if (count) {
      const key = String(bytes ?? "224,0"); // none: the plain DISCONNECT, as { reasonCode: 0 }
      if (this.#chosen === null) this.#chosen = key;
      else if (bytes && key !== this.#chosen) {
        throw new TypeError(
          "Invalid disconnect() options: a disconnect() under way sends its own DISCONNECT",
        );
      }
      this.#stops++;
    }
    return bytes;
  }

  /**
   * For a connect() that waits (for a disconnect() under way, which a second
   * disconnect() joins): a check that throws once disconnect() is called after it.
   */
  since(): () => void {
    const stops = this.#stops;
    return () => {
      if (stops !== this.#stops) {
        throw new MQTTConnectionError("Disconnected: disconnect() was called");
      }
    };
  }

  /**
   * disconnect(): a connect() under way tries no further, publishes kept
   * across connections (robust client) reject, and the connection ends
   * with the DISCONNECT `options` ask for (checked, as `checkDisconnect`; a
   * rejection when wrong) as its last write. A second call while one runs joins it.
   */
  disconnect(options: DisconnectOptions | undefined, count: boolean): Promise<void> {
    let bytes: Uint8Array | undefined;
    try {
      bytes = this.checkDisconnect(options, count);
    } catch (e) {
      return Promise.reject(e);
    }
    return this.#leaving ??= this.#stop(bytes).finally(() => this.#leaving = this.#chosen = null);
  }

  async #stop(bytes: Uint8Array | undefined): Promise<void> {
    const error = new MQTTConnectionError("Disconnected: disconnect() was called");
    this.#onStop?.(error);
    // After the close: acks read until then settle what they acknowledge (see Connection.stop).
    await this.#conn.stop(error, bytes);
    this.rejectKept(error);
  }

  /**
   * Rejects what waits across connections: the publishes kept for a
   * reconnect, and requests waiting for their replies (a live connection's
   * end rejects those, but a robust client keeps them while offline); and
   * lets go of Deno's TLS handshakes kept for its next attempts.
   */
  rejectKept(error: Error): void {
    this.#conn.core.rejectKept(error);
    this.#conn.replies?.lost(error, false);
    void dropKept(this.#conn);
  }

  /**
   * One connect at a time: a connect() (or with `loop`, the reconnect loop's
   * attempt) begins, until the caller's `finally` ends it. Returns the
   * disconnect() count, which its attempts watch.
   */
  #begin(loop: boolean): number {
    // workerd: a connection, or a connect(), of another request is given up (see #busy).
    if (this.#busy(true)) {
      // The reconnect loop retries: in workerd, another request's loop may be connecting it.
      if (loop) throw new MQTTConnectionError("Cannot reconnect: already connected or connecting");
      throw new TypeError("Cannot connect: this client is already connected or connecting");
    }
    this.#connecting = true;
    return this.#stops;
  }

  /**
   * Credentials from the user's functions, within `connectTimeout`: a function
   * that never settles must not hold connect(), nor the client, for good.
   * The signal and disconnect() end the wait too.
   */
  #fetch(given: Promise<Credentials>, signal: AbortSignal | undefined): Promise<Credentials> {
    const ms = this.#config.connectTimeout;
    return new Promise((resolve, reject) => {
      let off: (() => void) | undefined;
      const end = () => {
        cancel();
        off?.();
        if (this.#onStop === stopped) this.#onStop = null;
      };
      const aborted = () => (end(), reject(signal!.reason));
      const stopped = (error: Error) => (end(), reject(error));
      const cancel = timeLimit(ms, () => {
        end();
        const error = new MQTTConnectionError(
          `Connection attempt timed out: the user${
            this.#config.authenticationData ? ", password or authenticationData" : " or password"
          } function did not settle within ${ms} ms (connectTimeout)`,
        );
        // The client's own, as what the function throws: no other server would change it (no
        // failover), and the robust client asks again later, as for a function that threw.
        OWN_FAILURES.add(error);
        CREDENTIAL_FAILURES.add(error);
        reject(error);
      });
      given.then((v) => (end(), resolve(v)), (e) => (end(), reject(e)));
      if (signal?.aborted) return aborted();
      if (signal) off = onAbort(signal, aborted);
      this.#onStop = stopped;
    });
  }

  /** One connection attempt to `server`, with credentials fetched for it. */
  async #attempt(
    server: Endpoint,
    clean: boolean,
    signal: AbortSignal | undefined,
    stops: number,
  ): Promise<ConnackPacket> {
    const c = this.#config;
    const { authenticationData, authenticationMethod } = c.connectProperties;
    if ((authenticationData ?? c.authenticationData) && authenticationMethod === undefined) {
      throw new TypeError(
        "Invalid CONNECT: authenticationData needs an authenticationMethod (MQTT 5.0 section 3.1.2.11.10)",
      );
    }
    // Only credentials given as functions are awaited: with none, the
    // transport starts opening in the caller's turn. connectTimeout bounds
    // the whole attempt: what the wait for them took is not given again.
    let given = credentials(c), left = c.connectTimeout;
    // A time limit fires late by as much as it waited, at most (timeLimit): twice it, then.
    if (WORKERD) this.#due = performance.now() + 2 * left;
    if (given instanceof Promise) {
      const t0 = performance.now();
      given = await this.#fetch(given, signal);
      left -= performance.now() - t0;
    }
    const { user, password, data } = given;
    // MQTT 5: umqtt's sessions in both versions, said outright (issue 15): connect(false)
    // keeps the session (0xFFFFFFFF: it never expires), connect(true) ends it with the connection.
    const expiry = c.sessionExpiryInterval ?? (clean ? 0 : 0xffffffff);
    const connect = encodeConnect({
      type: "connect",
      protocolVersion: c.version,
      clientId: this.clientId,
      cleanSession: clean,
      keepalive: c.keepalive,
      username: user,
      password,
      will: this.will,
      properties: c.version === 5
        ? {
          ...c.connectProperties,
          // This attempt's, from the authenticationData function.
          ...data && { authenticationData: data },
          // umqtt's meaning in both versions: connect(false) keeps the session.
          sessionExpiryInterval: expiry,
        }
        : undefined,
    }, c.version);
    // Fetching credentials may have taken a while.
    if (stops !== this.#stops) {
      throw new MQTTConnectionError("Disconnected: disconnect() was called");
    }
    signal?.throwIfAborted();
    this.sessionExpiry = expiry ?? 0;
    const ack = await this.#conn.start(server, connect, clean, signal, left);
    this.#clientId = this.clientId;
    return ack;
  }
}
