// One client's connections, one after another, and the parts that serve them (as rumqttc's
// event loop drives its MqttState): opening within the connect timeout, the CONNECT/CONNACK
// exchange, the reader that feeds the protocol state, the writer its bytes go to, the inbox its
// messages go to, the keepalive, and ending each connection exactly once.
import { type Channel, channel, CLOSE_WAIT_MS, type ReadSink } from "./_channel.ts";
import { Framer } from "./codec/_framer.ts";
import { encodeAuth, encodeDisconnect } from "./codec/auth.ts";
import type { AuthPacket, ConnackPacket, DisconnectPacket } from "./codec/packet.ts";
import type { AuthProperties, ConnackProperties } from "./codec/properties.ts";
import { MQTTConnectionError, MQTTProtocolError } from "./errors.ts";
import { Inbox } from "./_inbox.ts";
import type { CoreHooks } from "./_internal.ts";
import { Keepalive, type KeepaliveOwner, msNow } from "./_keepalive.ts";
import { type Incoming, type Pending, Protocol, type ProtocolOutput } from "./_protocol.ts";
import { Writer, type WriterOwner } from "./_writer.ts";
import type { ClientConfig } from "./_client_config.ts";
import { connectDefault, type Endpoint } from "./transports/default.ts";
import type { StreamPair } from "./transports/types.ts";
import { connackRefusal, connackStart, disconnectError, SHOWN, UNACKED } from "./_acks.ts";
import { isReset, RESET } from "./_refusals.ts";
import { checkReauth } from "./_checks.ts";
import { authFailed, checkBrokerAuth, checkConnackAuth } from "./_auth.ts";
import { AuthSteps } from "./_auth_steps.ts";
import { brokerDecoder, sized } from "./_limits.ts";
import { answerWithin, onAbort, readable, within, WORKERD } from "./_abortable.ts";
import { type Settleable, settleable } from "./_abortable.ts";
import { afterKept, dropKept } from "./_uncancelled.ts";
import { attemptError, lateOpen, notCompleted, timedOutError } from "./_attempt.ts";

const noop = () => {};
// What waits on nothing: one settled promise for every client.
const DONE: Promise<unknown> = Promise.resolve();
const FORSAKEN = "Connection opened by another request: Workers let no request use another's I/O;" +
  " connect in each request, or keep the client in a Durable Object";
const same = <T>(x: T): T => x;
// After a chunk's two turns: one function for every connection, which the channel leads to.
const handed = (ch: Channel): void => (ch.sink as Connection).handed(ch);
// What waits for a channel's reader to end, made only when something does.
const readEnds = new WeakMap<Channel, Settleable<void>>();

/**
 * A client's link to the broker, re-established by each `start()`. It owns
 * the protocol state, and is its output: bytes go to the writer, messages
 * to the inbox.
 */
export class Connection implements ProtocolOutput, KeepaliveOwner, WriterOwner, ReadSink {
  /** True between CONNACK and the end of the connection. */
  connected = false;
  /** `disconnect()` was called and no `open()` succeeded since. */
  userClosed = false;
  /** The properties of the last accepting CONNACK (client.connack's: see `shownConnack`); null before one. */
  acceptedProps: ConnackProperties | null = null;
  /** Its Session Present. */
  present = false;
  /** Told which server accepted, before the `connected` event, and which sent the client away. */
  acceptor: { accepted(server: Endpoint): void; left(): void } | null = null;
  /** Takes replies to `request()` before the inbox sees them; set by the client when needed. */
  replies: {
    take(message: Incoming): boolean;
    lost(error: MQTTConnectionError, keep: boolean): void;
  } | null = null;
  /** The protocol state. */
  readonly core: Protocol;
  /** Received messages waiting for the application. */
  readonly inbox: Inbox;
  /** Where the protocol state's bytes go. */
  readonly writer: Writer;
  readonly #config: ClientConfig;
  readonly #hooks: CoreHooks;
  readonly #target: EventTarget;
  readonly #keepalive: Keepalive;
  #ch: Channel | null = null;
  // Set while an open() is under way; fails it (disconnect() calls it).
  #abortOpen: ((error: Error) => void) | null = null;
  #closeError: MQTTConnectionError | null = null;
  // The channel the last reader started reads, until that reader ends.
  #reading: Channel | null = null;
  #framer: Framer | null = null;
  // The closing of the last transport (a WebSocket's closing handshake); while a DISCONNECT
  // of #close's goes out, the teardown that follows it.
  #closing: Promise<unknown> = DONE;
  #connack: Pending<ConnackPacket> | null = null;
  // MQTT 5: a reauthenticate() waiting for the broker's AUTH 0x00.
  #reauth: Pending<AuthProperties> | null = null;
  // disconnect(): reading, bytes discarded, until the broker closes after our DISCONNECT.
  #linger: Settleable<void> | null = null;
  // MQTT 5: onAuth's answers to the broker's AUTH 0x18 in this exchange; made by the first,
  // dropped when the exchange ends (an idle client holds none).
  #steps: AuthSteps | null = null;
  // The last attempt's transport, closed if it opens after the attempt was given up.
  #late: Promise<unknown> = DONE;
  // workerd: the connecting request's signal while connected, which another request cannot read.
  #owner: AbortSignal | null = null;

  /**
   * @param config Transport, endpoint, session store, limits and timeouts.
   * @param hooks The robust client's hooks: `keepPending`, `onLost`.
   * @param target Where `connected` and `disconnected` events are dispatched.
   */
  constructor(config: ClientConfig, hooks: CoreHooks, target: EventTarget) {
    this.#config = config;
    this.#hooks = hooks;
    this.#target = target;
    // The config has the protocol's options under their names: no copy of them per client.
    const core = new Protocol(config.store, this, config);
    this.core = core;
    this.inbox = new Inbox(config.maxQueued, this);
    this.writer = new Writer(this);
    this.#keepalive = new Keepalive(this);
  }

  /** Sends bytes on the current connection (the protocol state's output). */
  write(bytes: Uint8Array): number {
    return this.writer.write(bytes);
  }

  /** Bytes went out (the writer and the channel say): `sent` packets so far for a whole write. */
  written(sent?: number): void {
    this.core.wrote(msNow(), sent);
  }

  /** A write failed (the writer says): the connection on `ch` is lost. */
  writeFailed(error: MQTTConnectionError, ch: Channel): void {
    this.#teardown(error, ch);
  }

  /**
   * The keepalive found the connection dead. One already ending under its
   * DISCONNECT (disconnect()'s, or #close's over a protocol error) ends as it
   * would have had the wait for that DISCONNECT run out: with why it was ending.
   */
  dead(error: MQTTConnectionError): void {
    this.#teardown(this.writer.sealed && this.#closeError || error);
  }

  /** Hands a received message to the inbox (the protocol state's output). */
  deliver(message: Incoming): void {
    // A reply to request() goes only there, acknowledged at once.
    if (this.replies?.take(message)) this.core.ack(message);
    else this.inbox.push(message);
  }

  /** MQTT 5: the broker's DISCONNECT ends the connection (the protocol state's output). */
  disconnected(p: DisconnectPacket): void {
    const error = disconnectError(p), code = error.reasonCode;
    // Use another server, server moved: not the one just accepted (with its CONNACK: not yet).
    if ((code === 0x9c || code === 0x9d) && this.connected) this.acceptor?.left();
    this.#teardown(error);
  }

  /**
   * MQTT 5: an AUTH from the broker (the protocol state's output). 0x18
   * asks the next step of enhanced authentication of `onAuth`; 0x00 ends a
   * re-authentication.
   *
   * @throws {MQTTProtocolError} An AUTH this client cannot take: the reader
   * stops there (a CONNACK after it must not connect) and closes.
   */
  auth(p: AuthPacket): void {
    const ch = this.#ch;
    const props = p.properties ?? {};
    const method = this.#config.connectProperties.authenticationMethod!;
    const onAuth = this.#config.onAuth!;
    checkBrokerAuth(p, method, !!onAuth, this.#reauth !== null, this.#connack !== null);
    if (p.reasonCode === 0) {
      // Its data (SCRAM's server-final) is the application's to verify, as a CONNACK's.
      this.#reauth!.resolve(props);
      this.#steps = null; // as in connack()
      return void (this.#reauth = null);
    }
    // The exchange it belongs to (the CONNECT's, or a re-authentication): once the broker has
    // ended it, an answer would be out of turn (mosquitto closes over it) and a failure moot.
    const exchange = this.#connack ?? this.#reauth;
    const live = () => this.#ch === ch && (this.#connack ?? this.#reauth) === exchange;
    // The client gives up with DISCONNECT 0x80 (unspecified error): it may
    // during the CONNECT exchange and should in a re-authentication (MQTT-4.12.1-2).
    const giveUp = (why: string, cause: unknown) =>
      live() && this.#close(authFailed(why, cause), 0x80, ch!);
    (this.#steps ??= new AuthSteps()).ask(
      onAuth,
      // What it carries, as it came: an AUTH has no property but AuthChallenge's (the decoder).
      { reasonCode: p.reasonCode, ...props },
      live,
      (data) => this.writer.write(this.#auth(0x18, method, data, "answer the broker's AUTH")),
      giveUp,
    );
  }

  /** Our AUTH, within the broker's Maximum Packet Size (else a RangeError saying we cannot `what`). */
  #auth(reasonCode: number, method: string, data: Uint8Array | undefined, what: string) {
    const properties = { authenticationMethod: method, authenticationData: data };
    return sized(this.core.broker, encodeAuth({ type: "auth", reasonCode, properties }), what);
  }

  /** MQTT 5: starts a re-authentication (AUTH 0x19); resolves with the broker's AUTH 0x00's. */
  async reauthenticate(data: Uint8Array | undefined): Promise<AuthProperties> {
    const method = checkReauth(this.#config.connectProperties.authenticationMethod, data);
    const offline = this.unusable("reauthenticate");
    if (offline) throw offline;
    // One at a time: the broker's AUTH 0x00 does not say which one it ends.
    if (this.#reauth) {
      throw new TypeError("Cannot reauthenticate: a re-authentication is under way");
    }
    const auth = this.#auth(0x19, method, data, "reauthenticate");
    const mine = this.#reauth = settleable<AuthProperties>(), done = mine.promise;
    const written = this.writer.send(auth);
    // Bounded as a connect is: one that a broker or an onAuth never ends
    // fails as MQTT-4.12.1-2 has it, with a DISCONNECT. From when the AUTH
    // goes out (see answerWithin): not while it waits behind a large PUBLISH.
    const ms = this.#config.connectTimeout, ch = this.#ch!;
    await answerWithin(done, written, ms, this.core);
    if (this.#reauth === mine) {
      const why = `Re-authentication failed: not ended within ${ms} ms (connectTimeout)${
        this.#steps?.unanswered ?? ""
      }`;
      this.#close(new MQTTConnectionError(why), 0x80, ch);
    }
    return await done;
  }

  /** Why no message can come for `what` now: null while a connection is open (the inbox asks). */
  closed(what: string): MQTTConnectionError | null {
    return this.#ch && !this.forsaken() ? null : this.notConnected(what);
  }

  /**
   * The broker answered CONNECT (the protocol state's output).
   * @throws {MQTTProtocolError} It accepts for another Authentication Method: the reader closes.
   */
  connack(packet: ConnackPacket): void {
    checkConnackAuth(packet, this.#config.connectProperties.authenticationMethod);
    if (packet.sessionPresent && packet.returnCode === 0) this.inbox.resumed(this.core);
    this.#connack?.resolve(packet);
    this.#connack = null;
    this.#steps = null; // the exchange is over
  }

  /**
   * Opens a transport to `server`, sends `connect` and waits for an
   * accepting CONNACK, all within `ms` (what is left of the connect timeout).
   *
   * @throws {MQTTException} The broker refused: `code` is the CONNACK return code.
   * @throws {MQTTConnectionError} No connection, or no CONNACK in time.
   */
  async start(
    server: Endpoint,
    connect: Uint8Array,
    clean: boolean,
    signal: AbortSignal | undefined,
    ms: number,
  ): Promise<ConnackPacket> {
    let off = noop;
    let timedOut = false;
    let ch: Channel | null = null;
    // Aborted when this attempt is given up, so that a transport still
    // opening (a TLS or WebSocket handshake) closes what it opened.
    const attempt = new AbortController();
    try {
      let opening: Promise<StreamPair> | null = null;
      // Rejects on the connect timeout, on abort or on disconnect(), first come; so does the CONNACK.
      const timeout = new Promise<never>((_, reject) => {
        const giveUp = (error: unknown) => {
          timedOut = true;
          attempt.abort(error);
          reject(error);
          this.#connack?.reject(error);
          // Given up while opening (only then: nothing else opens late), closed once open.
          const until = this.#hooks.keepPending && signal;
          if (!ch && opening) this.#late = lateOpen(this, opening, server, attempt.signal, until);
        };
        // The keepalive's clock, which CONNACK hands over to the keepalive.
        const limit = this.#config.connectTimeout;
        const expired = () => giveUp(timedOutError(this, server, limit, ch !== null, this.#steps));
        this.#keepalive.deadline(ms, expired, limit);
        // One listener on a signal that many clients' connect() share (Node warns past 10).
        if (signal) off = onAbort(signal, () => giveUp(signal.reason));
        this.#abortOpen = giveUp;
      });
      opening = this.#transport(server, attempt.signal);
      const pair = await Promise.race([opening, timeout]);
      // Given up in the turns since it opened: with the give-up's error (#late closes it).
      if (timedOut) await timeout;
      // It opened in time: nothing opens late (and an idle client keeps no promise for it).
      this.#late = DONE;
      ch = channel(pair);
      this.#ch = ch;
      this.#closeError = null;
      this.#steps = null; // not behind an onAuth of the last connection that never settled
      this.writer.attach(ch);
      this.core.start(clean);
      this.#framer = ch.framer = new Framer(
        this.#config.maxPacketSize,
        brokerDecoder(this.#config.connectProperties),
        this.#config.version,
        true,
      );
      this.#reading = ch;
      ch.read(this);
      const connack = new Promise<ConnackPacket>((resolve, reject) => {
        this.#connack = { resolve, reject };
      });
      this.writer.write(connect);
      const ack = await connack;
      const code = ack.returnCode;
      if (code !== 0) throw connackRefusal(ack, this.#config.version);
      // Bytes read with the CONNACK (a second CONNACK, say) may have ended the connection already.
      if (this.#ch !== ch) throw this.#closeError ?? this.notConnected("connect");
      this.connected = true;
      this.userClosed = false;
      if (WORKERD) this.#owner = attempt.signal;
      // The core's copy: `{}` shared by every client whose broker sent none (3.1.1's).
      this.acceptedProps = this.core.broker;
      this.present = ack.sessionPresent;
      SHOWN.delete(this);
      this.acceptor?.accepted(server);
      this.#hooks.accepted?.(ack.sessionPresent, this.core.inflight > 0, clean);
      // MQTT 5: `dropped` (kept publishes its limits refuse); its keepalive (MQTT-3.2.2-21).
      const detail = { sessionPresent: ack.sessionPresent, ...this.core.resend() };
      this.#keepalive.start(ack.properties?.serverKeepAlive ?? this.#config.keepalive);
      this.#target.dispatchEvent(new CustomEvent("connected", { detail }));
      return ack;
    } catch (e) {
      const error = attemptError(e, server, signal);
      if (ch) {
        // Its CONNECT went out: the broker may yet act on it.
        this.#teardown(notCompleted(error));
        await this.#readEnded();
      }
      // Given up while still opening: wait (bounded) until what was opening is closed or cancelled.
      if (!ch && timedOut) await within(this.#late, CLOSE_WAIT_MS);
      throw error;
    } finally {
      this.#keepalive.cancel();
      off();
      this.#abortOpen = null;
    }
  }

  /**
   * Ends the connection for the user: fails an `open()` under way, sends
   * DISCONNECT when connected (nothing is written after it), closes the
   * transport, and resolves once it is closed.
   */
  async stop(
    error: MQTTConnectionError,
    disconnect: Uint8Array = Uint8Array.of(0xe0, 0x00),
  ): Promise<void> {
    this.userClosed = true;
    this.forsaken(true);
    this.#abortOpen?.(error);
    // One still opening is closed once open; kept TLS handshakes let go (each ≤ CLOSE_WAIT_MS).
    const late = within(Promise.all([this.#late, dropKept(this)]), CLOSE_WAIT_MS);
    if (!this.#ch) return void await late;
    if (this.connected) {
      // From here on requests fail with `error`, and nothing is written after DISCONNECT.
      this.#closeError = error;
      const sent = this.writer.send(disconnect).catch(noop);
      this.writer.sealed = true;
      this.core.closing(); // acks still settle what they acknowledge: the broker has those
      // Bounded: a write stuck behind a broker that stopped reading must not
      // hold disconnect() for as long as TCP takes to give up.
      await within(sent, CLOSE_WAIT_MS);
      // Acks coming after our close would make it a reset, which makes the broker drop what it
      // has not read, the DISCONNECT too (and publish the will): read until it closes, for 1 s.
      if (this.core.inflight && this.#ch) {
        await within((this.#linger = settleable()).promise, CLOSE_WAIT_MS / 2);
      }
      this.#linger = null;
    }
    this.#teardown(error);
    // Resolves once the transport is closed, so that the DISCONNECT is out
    // even if the process exits next (the broker would publish the will).
    await Promise.all([this.#readEnded(), this.#closing, late]);
  }

  /** Ending under its own DISCONNECT (#close), not disconnect()'s: settles once it has ended. */
  ending(): Promise<unknown> | undefined {
    return this.connected && this.writer.sealed && !this.userClosed ? this.#closing : undefined;
  }

  /** Why `what` cannot be done now, or null when connected and still writing. */
  unusable(what: string): MQTTConnectionError | null {
    return !this.connected || this.writer.sealed || this.forsaken()
      ? this.notConnected(what)
      : null;
  }

  /**
   * workerd: whether the connection was opened by another request (ended, or
   * running beside this one), which this one may not use. Taken over (by
   * connect(), disconnect(), or any call of the robust client, which
   * reconnects in each request), it is given up at once, its I/O untouched:
   * workerd would settle none of it here. Else it is left to the request
   * that may still be using it.
   */
  forsaken(takeOver = this.#hooks.keepPending): boolean {
    if (!this.#owner || readable(this.#owner)) return false;
    if (takeOver) this.#teardown(new MQTTConnectionError(FORSAKEN), this.#ch, true);
    return true;
  }

  /** The error for `what` when there is no connection, naming why it ended. */
  notConnected(what: string): MQTTConnectionError {
    const e = this.forsaken(false) ? new MQTTConnectionError(FORSAKEN) : this.#closeError;
    return e
      ? new MQTTConnectionError(`Cannot ${what}: ${e.message}`, {
        cause: e,
        // MQTT 5: what the broker's DISCONNECT said, as the calls it ended were told.
        reasonCode: e.reasonCode,
        reasonString: e.reasonString,
        serverReference: e.serverReference,
      })
      : new MQTTConnectionError(`Cannot ${what}: not connected; call connect() first`);
  }

  #transport(server: Endpoint, signal: AbortSignal): Promise<StreamPair> {
    const { transport: t, ssl_params: p } = this.#config;
    // The user's may return a pair or throw, rather than resolve or reject; -d's uses Deno's TLS.
    const open = () =>
      t ? new Promise<StreamPair>((r) => r(t(signal, server))) : connectDefault(server, p, signal);
    return afterKept(this, server, signal, open);
  }

  /** Bytes read on `ch` at `at`, null at its end (the channel calls it, once per read). */
  data(ch: Channel, chunk: Uint8Array | null, at?: number): void {
    if (this.#linger && ch === this.#ch && !chunk) return this.#endRead(ch);
    try {
      if (chunk === null) {
        const before = this.#connack ? UNACKED : "";
        this.#teardown(new MQTTConnectionError(`Connection closed by the broker${before}`), ch);
        return this.#endRead(ch);
      }
      this.core.lastRead = at === undefined ? msNow() : Math.floor(at);
      // What the packets of one chunk cause goes out in one write: their acks, and what
      // the code they resumed sends. Two turns let that code run (publish()'s own promise,
      // then its caller's await): a publish that awaited its PUBACK sends the next PUBLISH
      // before the next read is set up, and 1000 pipelined ones go out together, so the
      // broker too reads them in one go.
      this.writer.cork();
      // A connection that ended takes nothing more: its bytes would reach the next one's framer.
      if (this.#ch === ch) {
        if (this.#connack && !this.#framer!.pending) connackStart(chunk);
        for (const packet of this.#framer!.push(chunk)) {
          // After the broker's DISCONNECT nothing counts (it must send nothing more, MQTT-3.14.4-1).
          if (this.#ch !== ch) break;
          this.core.handle(packet);
        }
        // Malformed bytes after those packets: handled first, they stand.
        if (this.#ch === ch && this.#framer!.error) throw this.#framer!.error;
      }
    } catch (e) {
      return this.failed(ch, e);
    }
    // Two turns without a closure: the first passes `ch` on, the second takes it.
    Promise.resolve(ch).then(same).then(handed);
  }

  /** Reading `ch` failed, or what it read broke the protocol: the connection on it ends. */
  failed(ch: Channel, e: unknown): void {
    if (this.#linger && ch === this.#ch) return this.#endRead(ch);
    if (e instanceof MQTTProtocolError) this.#fail(e, ch);
    else {
      const error = new MQTTConnectionError(`Connection lost: ${(e as Error)?.message ?? e}`, {
        cause: e,
      });
      // Reset by the broker: closed with bytes of ours unread (see _refusals.ts).
      if (isReset(e)) RESET.add(error);
      this.#teardown(error, ch);
    }
    this.#endRead(ch);
  }

  /** A chunk read on `ch` was handed out: writes what it caused, then reads on. */
  handed(ch: Channel): void {
    this.writer.uncork();
    // Reads that complete at once would outrun the consumer: let it take these first.
    const drained = this.#ch === ch ? this.inbox.drained() : undefined;
    if (drained) drained.then(() => this.#readOn(ch));
    else this.#readOn(ch);
  }

  #readOn(ch: Channel): void {
    // Answers the broker does not take wait in memory: no more reads until they move on.
    const held = this.#ch === ch && this.writer.held();
    if (held) void held.then(() => this.#readOn(ch));
    else if (this.#ch === ch) ch.read(this);
    else this.#endRead(ch);
  }

  /** The reader of `ch` ended. */
  #endRead(ch: Channel): void {
    this.#linger?.resolve(); // the broker closed after our DISCONNECT (or reset it)
    if (this.#reading === ch) this.#reading = null;
    const end = readEnds.get(ch);
    readEnds.delete(ch);
    end?.resolve();
  }

  /** Resolves once the last reader started has ended. */
  #readEnded(): Promise<unknown> {
    const ch = this.#reading;
    if (!ch) return DONE;
    let end = readEnds.get(ch);
    if (!end) readEnds.set(ch, end = settleable());
    return end.promise;
  }

  /**
   * Closes the connection on `ch` because the broker broke the protocol;
   * with MQTT 5 a DISCONNECT first says why (MQTT-4.13.1-1).
   */
  #fail(e: MQTTProtocolError, ch: Channel): void {
    const error = new MQTTConnectionError(
      `Connection closed: the broker broke the protocol: ${e.message}`,
      { cause: e },
    );
    this.#close(error, e.reasonCode, ch);
  }

  /**
   * Ends the connection on `ch` with `error`, unless it is gone already;
   * with MQTT 5 a DISCONNECT with `reasonCode` goes first.
   */
  #close(error: MQTTConnectionError, reasonCode: number, ch: Channel): void {
    // Gone, or a DISCONNECT already queued (whoever queued it ends the connection).
    if (this.#ch !== ch || this.writer.sealed) return;
    if (this.#config.version !== 5) return this.#teardown(error, ch);
    // Nothing goes out after the DISCONNECT; what was queued goes before it.
    this.#closeError = error;
    this.writer.uncork();
    const sent = this.writer.send(encodeDisconnect({ type: "disconnect", reasonCode }, 5))
      .catch(noop);
    this.writer.sealed = true;
    this.#closing = within(sent, CLOSE_WAIT_MS).then(() => this.#teardown(error, ch));
  }

  /** Ends the connection once: closes the transport and settles what waited on it. */
  #teardown(error: MQTTConnectionError, ch: Channel | null = this.#ch, foreign = false): void {
    if (ch === null || ch !== this.#ch) return;
    const wasConnected = this.connected;
    this.#ch = null;
    this.connected = false;
    this.#closeError = error;
    this.#owner = null;
    this.#keepalive.stop();
    // Another request's (workerd): closed when it ended; its reads and close are not ours to await.
    if (foreign) this.#reading = null;
    this.#closing = foreign ? DONE : ch.close().catch(noop);
    this.#connack?.reject(error);
    this.#connack = null;
    this.#reauth?.reject(error);
    this.#reauth = null;
    this.inbox.fail(error);
    this.writer.detach(error);
    this.core.end(error, this.#hooks.keepPending);
    // disconnect() ends requests too, though the robust client rides out a loss.
    this.replies?.lost(error, this.#hooks.keepPending && !this.userClosed);
    if (!wasConnected) return;
    this.#target.dispatchEvent(
      new CustomEvent("disconnected", {
        detail: {
          error,
          reasonCode: error.reasonCode,
          reasonString: error.reasonString,
          serverReference: error.serverReference,
        },
      }),
    );
    // Only an established connection is "lost"; a failed attempt is its caller's to retry.
    if (!this.userClosed) this.#hooks.onLost?.(error);
  }
}
