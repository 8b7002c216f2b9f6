// The MQTT protocol state of one client, apart from all I/O (the "sans-I/O"
// pattern of h11, and of rumqttc's MqttState): packet ids, what is in flight
// and what acknowledges it, the QoS 1 and 2 flows in both directions, the
// session store, the order of PINGREQs, and the keepalive's clock; with
// MQTT 5 also reason codes, flow control (Receive Maximum both ways), topic
// aliases both ways, the broker's limits and DISCONNECT and AUTH from it.
//
// It is driven from outside: the client hands it decoded packets (`handle`)
// and requests (`send`, `ack`, …), tells it when a connection starts and
// ends, and passes time in as an argument. It answers by calling its output:
// bytes to write, messages to deliver, the CONNACK to settle. It opens no
// socket, sets no timer and reads no clock, so tests drive it packet by packet.
import type { Packet, ProtocolVersion, PublishPacket } from "./codec/packet.ts";
import type { ConnackProperties } from "./codec/properties.ts";
import { encodeAck, encodePublish, NO_PROPERTIES } from "./codec/publish.ts";
import { ackRefusal } from "./codec/reason_codes.ts";
import { MemorySessionStore, type SessionStore } from "./session_store.ts";
import { TopicAliases } from "./_aliases.ts";
import { dropRefused, overrun, refuseWaiting } from "./_limits.ts";
import { AckOrder } from "./_ack_order.ts";
import { ackCodes, again, connackFirst, kept, misplaced, order, unexpectedAck } from "./_acks.ts";
import { closedOn, givenUp } from "./_refusals.ts";
import { Fifo } from "./_ordered.ts";
import { PacketIds, Waiting } from "./_ids.ts";
import { PingClock } from "./_ping_clock.ts";
import { forget, renew, stored, unsaved } from "./_store_check.ts";
export type * from "./_protocol_types.ts";
import {
  type Incoming,
  type Pending,
  type ProtocolOptions,
  type ProtocolOutput,
  QOS2_WINDOW,
  type Request,
  V4,
} from "./_protocol_types.ts";

const noop = () => {};
let recs = 0; // PUBRECs read, to resend the PUBRELs they released in their order

// Empty collections every client shares until it needs its own: an idle client carries no
// empty Map, Set or array. Never written to: the session store, the id map and the arrays are
// replaced before their first set, add or push.
const NO_SESSION: SessionStore = { outgoing: new Map(), incoming: new Set() };
const NO_IDS = new PacketIds();
const NO_WAITING = new Waiting();
const EMPTY = new Fifo<never>();
// The broker's limits before its CONNACK, or when it sent none: never written to.
const NO_PROPS: ConnackProperties = Object.freeze({});
// A connection its CONNACK refused (see #taint).
const REFUSED = -2;

/** The protocol state of one client, across its connections. */
export class Protocol {
  /** When bytes last came in (a time the driver passes in, in ms, on a monotonic clock). */
  lastRead = 0;
  /** When bytes last went out. */
  lastWrite = 0;
  /** MQTT 5: the properties of this connection's CONNACK (the broker's limits); `{}` before one. */
  broker: ConnackProperties = NO_PROPS;
  /** MQTT 5: `broker` has a limit a publish may break (Maximum QoS, Retain, Maximum Packet Size). */
  limited = false;
  /** MQTT 5: a QoS 0 PUBLISH without properties goes as built, as 3.1.1's (no limit, no alias). */
  plain = true;
  /** MQTT 5: times the broker sent more unacknowledged QoS 1/2 messages than our Receive Maximum. */
  overruns = 0;

  #store: SessionStore;
  readonly #out: ProtocolOutput;
  readonly #options: ProtocolOptions;
  // MQTT 5 flow control: how many QoS 1/2 publishes may be unacknowledged
  // (the broker's Receive Maximum), and how many of its we have not acked.
  #window = 65535;
  #unacked = 0;
  // MQTT 5 topic aliases of this connection, both ways (made on first use); whether we use ours.
  #aliases: TopicAliases | null = null;
  #aliasing = false;
  // Packet ids this client allocated, in allocation order (Map keeps it), so
  // kept publishes are resent in their original order.
  #inflight = NO_IDS;
  // Requests waiting for a free packet id (or, publishes, for room: see #room()).
  #waiting = NO_WAITING;
  // Ids of kept publishes not yet resent on this connection, for want of Receive Maximum (MQTT 5)
  // or of room under maxInflightQoS2 (3.1.1).
  #held: Fifo<number> = EMPTY;
  // 3.1.1: this connection's QoS 2 publishes written and not yet completed (see #full()).
  #qos2: Set<number> | null = null;
  // The keepalive's times and PINGREQs awaiting PINGRESP: made when one is due, dropped when idle.
  #clock: PingClock | null = null;
  // Incoming QoS 2 ids queued, not yet handled (the store has those), each with the resend held
  // back meanwhile, if one came (see unhandled()); made on first use.
  #qos2Queued: Map<number, PublishPacket | undefined> | null = null;
  // Incoming QoS 2 ids of this connection PUBREC'd and awaiting PUBREL: they
  // count against our Receive Maximum until our PUBCOMP (MQTT 5 section 4.9).
  #qos2Released: Set<number> | null = null;
  // The order our acks go in on this connection (made on its first QoS 1/2 message).
  #acks: AckOrder | null = null;
  // Counts connections, so that stale work (an ack for a message from an
  // earlier connection) is recognised; and clean starts, so that a QoS 2
  // message of an earlier session is not acknowledged in this one.
  #generation = 0;
  #session = 0;
  // The last connection that ended with its CONNECT unanswered (see resends()).
  #doubt = 0;
  #online = false;
  #awaitingConnack = false;
  // Which packet the broker may refuse by resetting this connection (_refusals.ts): 0, the oldest
  // unacknowledged; an id, only that one (a QoS 0 PUBLISH went after it); -1, none (so until
  // resend()). REFUSED: its CONNACK refused it, and the broker closes it and may send nothing more.
  #taint = -1;
  // This connection asked for a clean start.
  #clean = false;
  // The session kept is a clean one's, ended with its connection (MQTT-3.1.2-6).
  #ended = false;
  // MQTT 5: the broker had no session for this connect(false): kept
  // publishes go out as new ones, not as retransmissions.
  #renewed = false;

  /**
   * @param store The session: unacknowledged outgoing packets and delivered
   * incoming QoS 2 ids. Ids it holds stay taken until acknowledged. Null: a
   * {@linkcode MemorySessionStore}, made when something is first kept.
   * @param out Where bytes, messages and the CONNACK go.
   * @param options The protocol version and, with MQTT 5, the client's own limits.
   */
  constructor(store: SessionStore | null, out: ProtocolOutput, options: ProtocolOptions = V4) {
    this.#store = store ?? NO_SESSION;
    this.#out = out;
    this.#options = options;
    this.#adopt();
  }

  /** The store's packets not yet in flight join the session: their ids are taken, acks awaited. */
  #adopt(): void {
    for (const [id, bytes] of this.#store.outgoing) {
      if (!this.#inflight.has(id)) this.#ids().set(id, kept(bytes));
    }
  }

  /** The session store, to write to. */
  #kept(): SessionStore {
    if (this.#store === NO_SESSION) this.#store = new MemorySessionStore();
    return this.#store;
  }

  /** The packet ids in flight, to write to. */
  #ids(): PacketIds {
    if (this.#inflight === NO_IDS) this.#inflight = new PacketIds();
    return this.#inflight;
  }

  /** 4 (MQTT 3.1.1) or 5. */
  get version(): ProtocolVersion {
    return this.#options.version;
  }

  /**
   * On Session Present 1: whether the broker sends `m`, a message received
   * before, again (MQTT-4.4.0-1). Not if it came in a session ended since,
   * nor before a CONNECT that went unanswered: that one may have made the
   * session that is present now (a broker restarted without persistence).
   */
  resends(m: Incoming): boolean {
    return m.session === this.#session && m.generation > this.#doubt;
  }

  /** Packet ids in use. */
  get inflight(): number {
    return this.#inflight.size;
  }

  // ---- connections -----------------------------------------------------

  /**
   * A connection starts; CONNECT goes out next. A clean start forgets the
   * session: what it left unacknowledged rejects.
   */
  start(clean: boolean): void {
    // A store filled after the client was made (an asynchronous load; the connector checked it).
    if (!clean) this.#adopt();
    this.#online = true;
    this.#awaitingConnack = true;
    this.#taint = -1;
    this.#clean = clean;
    this.#renewed = false;
    this.#generation++;
    // Aliases, flow control and limits belong to one connection.
    this.#aliases = null;
    this.#limits(NO_PROPS);
    this.#held = EMPTY;
    this.#qos2 = null;
    this.#unacked = 0;
    this.#qos2Released = this.#acks = null;
    if (clean) {
      // Queued QoS 2 messages of the old session are still handed out, but
      // not acknowledged in the new one, where their ids mean other messages.
      this.#session++;
      this.#qos2Queued = null;
      forget(this.#store, this.#inflight);
    }
  }

  /**
   * CONNACK accepted: resends the session's unacknowledged packets, in order
   * (MQTT-4.4.0-1); MQTT 5 after Session Present 0, its publishes as new ones.
   * Returns the errors of the kept publishes the broker's limits refuse, if any.
   */
  resend(): { dropped: RangeError[] } | undefined {
    // MQTT 5: one the broker's new limits refuse would close every connection; it is dropped.
    const dropped = givenUp(
      this,
      this.limited ? dropRefused(this.broker, this.#store, this.#inflight) : undefined,
    );
    this.#taint = 0;
    let sent = 0;
    for (const [id, bytes] of order(this.#store.outgoing, this.#inflight, this.#renewed)) {
      // Once one waits, the later publishes wait behind it: they keep their order.
      if (bytes[0] >> 4 === 3 && (this.#held.size > 0 || this.#full(bytes, sent))) {
        (this.#held === EMPTY ? this.#held = new Fifo() : this.#held).add(id);
      } else {
        sent++;
        this.#again(id, bytes);
      }
    }
    // Publishes that waited for their turn on an earlier connection (see end()).
    refuseWaiting(this.broker, this.#waiting.publishes);
    this.#drain();
    return dropped && { dropped };
  }

  /**
   * The connection ended. What waited on it rejects with `error`, but for
   * publishes kept in the session: with `keepPending` they stay awaited,
   * to settle on the next connection; otherwise they reject and are kept
   * for the next `connect(false)` with nobody awaiting them. With
   * `keepPending`, publishes still waiting for their turn (Receive Maximum)
   * keep it too: they go on the next connection, after the session's, in
   * call order, ahead of anything published from then on.
   */
  end(error: Error, keepPending: boolean): void {
    // Closed by the broker on a packet that it may refuse, the oldest unacknowledged: counted.
    closedOn(this, error, this.#store, this.#inflight, this.#taint, this.#held, this.#clock?.pings);
    this.#online = false;
    if (this.#awaitingConnack) this.#doubt = this.#generation;
    this.#awaitingConnack = false;
    this.#clock?.reset(error); // (idle now: dropped by the next look)
    for (const r of this.#waiting.all()) if (!keepPending || !r.keep) this.drop(r, error);
    if (!this.#waiting.size) this.#waiting = NO_WAITING;
    this.#inflight.end(this.#store.outgoing, error, keepPending);
  }

  /** connect(false) met Session Present 0, so the session goes: see renew() (_store_check.ts). */
  #renew(): void {
    // As after a clean start: a queued QoS 2 message of the old session is not acknowledged.
    this.#session++;
    this.#qos2Queued = null;
    // 3.1.1 keeps the resend (as the spec has it for a session it takes as present),
    // but for a clean session's: the broker ended that one, as the client asked.
    const v5 = this.#options.version === 5;
    this.#renewed = renew(this.#store, this.#inflight, v5 || this.#ended);
  }

  /**
   * Rejects every publish kept awaiting in the session; they stay in it,
   * unawaited. Those still waiting for their turn go.
   */
  rejectKept(error: Error): void {
    for (const r of this.#waiting.all()) this.drop(r, error);
    for (const id of this.#store.outgoing.keys()) {
      const f = this.#inflight.get(id);
      if (f) {
        f.reject(error);
        f.resolve = f.reject = noop;
      }
    }
  }

  // ---- requests --------------------------------------------------------

  /**
   * Sends a packet that takes a packet id — a QoS 1 or 2 PUBLISH, a SUBSCRIBE or an
   * UNSUBSCRIBE — and settles the request when its acknowledgement comes: `undefined` for a
   * publish or an UNSUBACK, the return codes for a SUBACK. The id goes into `request.bytes` at
   * `request.idAt`. With `keep`, the packet joins the session, to be resent after a reconnect.
   * It goes out at once, in the caller's turn, when an id is free (a publish: and there is room,
   * see #room()); if not, it waits, in call order, and is dropped if its signal aborts first.
   * Only publishes wait for room (MQTT-3.3.4-8): a SUBSCRIBE or UNSUBSCRIBE goes when an id is
   * free.
   */
  send(request: Request): void {
    const first = this.#waiting.size === 0 || !request.keep;
    const id = first && (!request.keep || this.#room()) ? this.#ids().take() : undefined;
    if (id !== undefined) return this.#sendAs(id, request);
    if (this.#waiting === NO_WAITING) this.#waiting = new Waiting();
    this.#waiting.add(request);
  }

  /** Drops `r` if it still waits for its turn (its signal aborted): a stalled broker keeps none. */
  drop(r: Request, why: unknown = r.signal?.reason): void {
    this.#waiting.drop(r, why);
  }

  /**
   * Whether a publish may go now: MQTT 5, within the broker's Receive Maximum (the session's
   * publishes count); 3.1.1, if none is held and fewer than maxInflightQoS2 QoS 2 are out.
   */
  #room(): boolean {
    if (this.#options.version === 5) return this.#store.outgoing.size < this.#window;
    return !this.#held.size && !this.#qos2Full();
  }

  /** 3.1.1: maxInflightQoS2 QoS 2 publishes are out (see options.ts). */
  #qos2Full(): boolean {
    return (this.#qos2?.size ?? 0) >= (this.#options.maxInflightQoS2 ?? QOS2_WINDOW);
  }

  /**
   * Whether a kept PUBLISH must wait, `sent` of the session's being out: MQTT 5, beyond the
   * broker's Receive Maximum; 3.1.1, a QoS 2 one while maxInflightQoS2 are (see options.ts).
   */
  #full(bytes: Uint8Array, sent: number): boolean {
    if (this.#options.version === 5) return sent >= this.#window;
    return (bytes[0] & 6) === 4 && this.#qos2Full();
  }

  /** Writes the kept packet `bytes` again; 3.1.1: a QoS 2 PUBLISH or a PUBREL counts as out. */
  #again(id: number, bytes: Uint8Array): void {
    const b = again(bytes, id, this.#inflight.get(id)?.kind, this.#renewed);
    if (this.#options.version !== 5 && (b[0] >> 4 === 6 || (b[0] & 0xf6) === 0x34)) {
      (this.#qos2 ??= new Set()).add(id);
    }
    this.#out.write(b);
  }

  #sendAs(id: number, r: Request): void {
    r.bytes[r.idAt] = id >> 8;
    r.bytes[r.idAt + 1] = id & 0xff;
    // A save that throws: the publish rejects, neither sent nor kept for a later connection.
    const failed = r.keep && unsaved(this.#kept(), id, r.bytes);
    if (failed) return r.reject(failed.error);
    this.#ids().set(id, r);
    if (r.kind === "pubrec" && this.#options.version !== 5) (this.#qos2 ??= new Set()).add(id);
    this.#out.write(r.packet ? this.wire(r.packet, r.bytes, id) : r.bytes);
  }

  /**
   * MQTT 5: the bytes of a PUBLISH to write on this connection, under a topic
   * alias if it may; with `reuse` (QoS 0), perhaps built in `full` itself,
   * and built here if not given (a QoS 0 publish's).
   */
  wire(packet: PublishPacket, full?: Uint8Array, packetId?: number, reuse?: boolean): Uint8Array {
    const b = this.broker;
    return this.#aliasing
      ? (this.#aliases ??= new TopicAliases())
        .out(packet, full, packetId, b.topicAliasMaximum!, b.maximumPacketSize, reuse)
      : full ?? encodePublish(packet, 5);
  }

  /** Takes the broker's limits: its CONNACK's properties (`NO_PROPS` before one). */
  #limits(b: ConnackProperties): void {
    this.broker = b;
    this.#window = b.receiveMaximum ?? 65535;
    this.#aliasing = !!b.topicAliasMaximum && this.#options.autoTopicAlias;
    this.limited = b.maximumQoS !== undefined || b.retainAvailable === false ||
      b.maximumPacketSize !== undefined;
    this.plain = !this.limited && !this.#aliasing;
  }

  /** Frees `id`, acknowledged: requests waiting for an id or for room go, in call order. */
  #release(id: number): void {
    this.#store.outgoing.delete(id); // first: if its save throws, end() settles the request
    this.#qos2?.delete(id);
    this.#inflight.free(id);
    this.#drain();
  }

  /**
   * Sends what may go now, oldest first, until one may not: the session's publishes held back
   * (see #full()), then the waiting requests, a SUBSCRIBE or UNSUBSCRIBE past publishes with no room.
   */
  #drain(): void {
    if (!this.#online) return; // not after our DISCONNECT: nothing more goes on this connection
    const held = this.#held, kept = this.#store.outgoing;
    for (let id; (id = held.first()) !== undefined;) {
      const bytes = kept.get(id);
      if (bytes && this.#full(bytes, kept.size - held.size)) break;
      if (held.delete(id) && bytes) this.#again(id, bytes);
    }
    // (Per ack: an empty queue costs no look at the room.)
    for (let r; this.#waiting.size && (r = this.#waiting.next(this.#room()));) {
      const id = this.#ids().take();
      if (id === undefined) return;
      this.#waiting.delete(r);
      this.#sendAs(id, r);
    }
  }

  /** Our DISCONNECT went: acks read until the broker closes still settle, nothing else counts. */
  closing(): void {
    this.#online = false;
  }

  /** A QoS 0 PUBLISH went out: nothing will say the broker took it, nor the packets after it. */
  wroteQoS0(): void {
    if (this.#taint < 0) return; // (hot: no iterator made once nothing is suspect)
    const first = this.#inflight.first(), t = this.#taint;
    this.#taint = first && (t === 0 || t === first) ? first : -1;
  }

  /** A PINGREQ is going out; `pong` settles on its PINGRESP (null: the keepalive's own). */
  expectPong(pong: Pending<void> | null): void {
    (this.#clock ??= new PingClock()).expect(pong);
  }

  // ---- incoming --------------------------------------------------------

  /**
   * Takes one packet from the broker: settles what it acknowledges, answers
   * what needs an answer, delivers messages.
   *
   * @throws {MQTTProtocolError} A packet the broker must not send now; the
   * connection must be closed.
   */
  handle(p: Packet): void {
    if (this.#taint === REFUSED) throw misplaced(p, this.#options.version, true);
    if (this.#awaitingConnack) {
      // MQTT 5: an AUTH may come before the CONNACK (enhanced authentication).
      if (p.type === "auth") return this.#out.auth(p);
      connackFirst(p, this.#options.version === 5 && this.#clean);
      if (!this.#clean && !p.sessionPresent && p.returnCode === 0) this.#renew();
      this.#awaitingConnack = false;
      if (p.returnCode !== 0) this.#taint = REFUSED;
      if (p.returnCode === 0) this.#ended = this.#clean;
      this.#limits(p.properties ?? NO_PROPS);
      this.#out.connack(p);
      return;
    }
    switch (p.type) {
      case "publish": // not after our DISCONNECT: no ack could go (a kept session has it resent)
        return void (this.#online && this.#receive(p));
      case "puback":
      case "pubrec":
      case "pubcomp":
      case "suback":
      case "unsuback": {
        const f = this.#inflight.get(p.packetId);
        // A PUBREC may come again for a PUBREL already sent: send it again.
        const rerec = p.type === "pubrec" && f?.kind === "pubcomp";
        if (!f || (f.kind !== p.type && !rerec)) throw unexpectedAck(p.type, p.packetId);
        // The broker read past an older packet: it refused none of this connection's by closing.
        if (this.#taint >= 0 && this.#inflight.first() !== p.packetId) this.#taint = -1;
        const reason = "reasonCode" in p ? p.reasonCode ?? 0 : 0;
        if (reason >= 0x80 && p.type !== "pubcomp") {
          // MQTT 5: the broker refused the PUBLISH; a QoS 2 one ends at its PUBREC.
          this.#release(p.packetId);
          return f.reject(ackRefusal(p.type, reason, p.properties));
        }
        if (p.type === "pubrec") {
          // Release (MQTT-4.3.3); a 3.1.1 clean session stores the PUBLISH, anew if restarted.
          const id = p.packetId, pubrel = encodeAck({ type: "pubrel", packetId: id });
          f.kind = "pubcomp"; // first: if the save throws, the next connection sends PUBREL
          f.rec = ++recs;
          const s = !this.#clean || this.#options.version === 5 ? this.#kept() : null;
          s?.outgoing.set(id, stored(s, pubrel));
          this.#out.write(pubrel);
          return;
        }
        const value = p.type === "suback" || p.type === "unsuback"
          ? ackCodes(p, f.filters!)
          : undefined;
        this.#release(p.packetId);
        f.resolve(value, p.properties);
        return;
      }
      case "pubrel": {
        // Releases an incoming QoS 2 id; an unknown one (a resent PUBREL whose PUBCOMP was
        // lost: MQTT-4.3.3-11) is answered too, in MQTT 5 as such: 0x92 (section 3.7.2.1).
        const id = p.packetId, reasonCode = this.#store.incoming.delete(id) ? 0 : 0x92;
        if (this.#qos2Released?.delete(id)) this.#unacked--;
        this.#out.write(encodeAck({ type: "pubcomp", packetId: id, reasonCode }, this.version));
        return;
      }
      case "pingresp":
        if (this.#clock?.answered()) this.#clock = null;
        if (this.#inflight.size) this.#taint = -1; // perhaps read past the oldest unacknowledged
        return;
      case "disconnect":
        return this.#out.disconnected(p);
      case "auth":
        return this.#out.auth(p);
      case "connack":
        throw misplaced(p, this.#options.version);
        // The decoder refuses the packets only a client sends.
    }
  }

  #receive(p: PublishPacket): void {
    if (this.#options.version === 5) {
      // Every message gets properties: when it has none, the shared frozen `{}`.
      p.properties ??= NO_PROPERTIES;
      (this.#aliases ??= new TopicAliases()).in(p, this.#options.topicAliasMaximum);
    }
    const acks = p.qos > 0 ? this.#acks ??= new AckOrder() : undefined;
    // Over our Receive Maximum: counted, and tolerated up to the 65 535 packet ids.
    if (p.qos > 0 && overrun(++this.#unacked, this.#options.receiveMaximum, p.qos, this.version)) {
      this.overruns++;
    }
    if (p.qos === 2) {
      // A resend of a QoS 2 message already delivered or queued is never delivered twice
      // (MQTT-4.3.3-2); a delivered one is answered again. Known by its id alone: a broker may not
      // reuse it before our PUBCOMP, and not every broker sets DUP=1 on a resend (aedes does not).
      if (this.#store.incoming.has(p.packetId!)) {
        this.#unacked--;
        return acks!.again(encodeAck({ type: "pubrec", packetId: p.packetId! }), this.#out);
      }
      const queued = this.#qos2Queued ??= new Map();
      // Answered when the one queued is handled: no ack of its own, no place in the acks' order.
      if (queued.has(p.packetId!)) return void (this.#unacked--, queued.set(p.packetId!, p));
      queued.set(p.packetId!, undefined);
    }
    const seq = acks?.next() ?? 0;
    this.#out.deliver({ packet: p, generation: this.#generation, session: this.#session, seq });
  }

  /** Acknowledges a message the application has handled. */
  ack({ packet: p, generation, session, seq }: Incoming): void {
    if (p.qos === 0) return;
    const id = p.packetId!;
    // This connection's: in the order the messages came. Counted until
    // acknowledged; a QoS 2 message until its PUBREL is answered.
    const current = generation === this.#generation, counted = current && this.#unacked > 0;
    if (counted && p.qos === 1) this.#unacked--;
    if (p.qos === 2) {
      // A clean start since: the broker forgot it, and its id may now be another's.
      if (session !== this.#session) return;
      // Delivered: from now on a resend of this id is answered, not delivered.
      this.#qos2Queued?.delete(id);
      this.#kept().incoming.add(id);
      if (counted) (this.#qos2Released ??= new Set()).add(id);
      const pubrec = encodeAck({ type: "pubrec", packetId: id });
      if (current) this.#acks!.settle(seq, pubrec, this.#out);
      // Not before the CONNACK (MQTT-3.1.2-30): the broker's resend is answered then.
      else if (!this.#awaitingConnack) this.#out.write(pubrec);
    } else if (current) {
      // A QoS 1 ack goes only on the connection the message came on.
      const puback = this.#online ? encodeAck({ type: "puback", packetId: id }) : null;
      this.#acks!.settle(seq, puback, this.#out);
    }
  }

  /**
   * The application failed to handle a message: it is not acknowledged, and
   * the broker's resend of a QoS 2 one, after a reconnect, must be delivered
   * again rather than taken for a duplicate.
   */
  unhandled({ packet: p, session, generation, seq }: Incoming): void {
    // Only in its own session: after a clean start the id may be another message's.
    const queued = p.qos === 2 && session === this.#session ? this.#qos2Queued : null;
    const again = queued?.get(p.packetId!);
    queued?.delete(p.packetId!);
    // No ack of its own: the later ones go without it.
    if (p.qos > 0 && generation === this.#generation) this.#acks!.settle(seq, null, this.#out);
    // The broker's resend, held back while this one was handled, is handed out in its place;
    // the broker sends it again after a CONNACK to come (MQTT-4.4.0-1).
    if (again && this.#online && !this.#awaitingConnack) this.#receive(again);
  }

  // ---- keepalive -------------------------------------------------------

  /** Bytes went out at `now` (part of a large write, or a whole one: `sent` packets so far). */
  wrote(now: number, sent = 0): void {
    this.lastWrite = now;
    this.#clock?.wrote(now, sent);
  }

  /**
   * The keepalive's decision at `now`, with an interval of `ms` (see
   * {@linkcode PingClock.decide}): sends PINGREQ when due; returns when to
   * look again, or -1 (no byte back) or -2 (no PINGRESP) for a dead connection.
   */
  keepalive(now: number, ms: number): number {
    const clock = this.#clock ??= new PingClock(), next = clock.decide(now, ms, this);
    if (clock.idle) this.#clock = null;
    return next;
  }

  /** Queues the keepalive's PINGREQ: the writer's count for it, 0 when it cannot go. */
  pingreq(): number {
    this.expectPong(null);
    return this.#out.write(Uint8Array.of(0xc0, 0x00)) || 0;
  }
}
