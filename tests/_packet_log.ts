/**
 * What went through a {@linkcode FaultProxy}, packet by packet, for fault
 * tests that must say whose doing a duplicate or a lost message is: each
 * connection's packets in each direction, the client each connection
 * belongs to (from its CONNECT), and what the test notes in between (cuts,
 * messages handed to the application).
 *
 * Give {@linkcode PacketLog.tap} as the proxy's `tap`. A packet is recorded
 * when it leaves the proxy (the tap's `leave` event, before the write), so
 * nothing its receiver does with it can be recorded before it; it is marked
 * `written` once the proxy's completed writes have carried all of its bytes
 * (`written` events), that is when its receiver could read it. A packet cut
 * in half is not recorded. Each check says which of the two it reads:
 *
 * - {@linkcode PacketLog.senderBreaches}: a client's PUBLISHes against the
 *   sender's rules (one packet id per message, none after its PUBREL);
 * - {@linkcode PacketLog.unexplainedDuplicates}: QoS 2 messages handed to
 *   the application twice that the broker's resends do not explain;
 * - {@linkcode PacketLog.losses}: whose each lost QoS 1 message is, ours or
 *   the broker's, with a packet-level account of the broker's.
 *
 * `lines()` writes it all out (`FAULT_TRACE=FILE` in the fault test).
 * Messages are told apart by their payload, so a test that uses it gives
 * each message a payload of its own.
 *
 * @example
 * ```ts ignore
 * const log = new PacketLog();
 * const proxy = await FaultProxy.start(broker, { tap: log.tap });
 * // … clients through the proxy; log.delivered(id, payload) for each message handed out …
 * assert.deepEqual(log.gaps(), []);
 * assert.deepEqual(log.senderBreaches(publisher.client_id), []);
 * assert.deepEqual(log.unexplainedDuplicates(subscriber.client_id), []);
 * assert.deepEqual(log.losses(publisher.client_id, subscriber.client_id, settled).ours, []);
 * ```
 *
 * @module
 */
import {
  type ConnackPacket,
  type Packet,
  PacketDecoder,
  type PublishPacket,
} from "../lib/codec/mod.ts";
import type { Direction, TapEvent } from "./_fault_proxy.ts";

/** One packet, as it left the proxy. */
export interface PacketEntry {
  /** Milliseconds since the log was made, when the packet left the proxy. */
  at: number;
  /** The proxy's connection number. */
  link: number;
  /** `"up"`: client → broker; `"down"`: broker → client. */
  dir: Direction;
  /** The packet. */
  packet: Packet;
  /** Whether the proxy's writes carried all of it: its receiver could read it. */
  written: boolean;
}

type Entry =
  | PacketEntry
  | { at: number; link: number; event: "open" | "close"; cutInside: Direction[] }
  | { at: number; note: string }
  | { at: number; client: string; delivered: string };

/** A CONNACK's entry. */
export type Connack = PacketEntry & { packet: ConnackPacket };

/** A QoS 1 PUBLISH and the PUBACK that answered it on its link, if one did. */
export interface Exchange {
  /** The PUBLISH. */
  publish: PacketEntry & { packet: PublishPacket };
  /** The PUBACK for its packet id that came back on its link. */
  puback?: PacketEntry;
}

/** Whose the lost QoS 1 messages are: see {@linkcode PacketLog.losses}. */
export interface LossReport {
  /** Promises our clients broke, one line each; none is the expected answer. */
  ours: string[];
  /**
   * Lost messages whose PUBACK from the broker reached the publisher and
   * that the subscriber never acknowledged: the broker still owed them.
   */
  broker: string[];
  /** Of those, how many last went to the subscriber under a packet id it later acknowledged for another message. */
  idReused: number;
  /** A packet-level account of the first of `broker`. */
  evidence: string[];
}

/** One way of one link: its bytes decoded as they leave, and as they are written. */
interface Stream {
  leave: PacketDecoder | null | undefined;
  written: PacketDecoder | null | undefined;
  /** The packets that left, in order; the first `writtenCount` were written. */
  packets: PacketEntry[];
  writtenCount: number;
}

const decoder = new TextDecoder();
const text = (payload: Uint8Array) => decoder.decode(payload);
const payloadOf = (e: PacketEntry) => text((e.packet as PublishPacket).payload);

/** A record of the MQTT traffic through a proxy, for checks and traces. */
export class PacketLog {
  readonly #t0 = performance.now();
  readonly #entries: Entry[] = [];
  readonly #streams = new Map<string, Stream>();
  // Which client each connection belongs to, and its protocol version, from its CONNECT.
  readonly #client = new Map<number, string>();
  readonly #version = new Map<number, 4 | 5>();
  readonly #gaps: string[] = [];

  /** The proxy's `tap`: give it to {@linkcode FaultProxy.start}. */
  readonly tap = (e: TapEvent): void => {
    const at = performance.now() - this.#t0;
    if (e.type === "open" || e.type === "close") {
      const cutInside = (["up", "down"] as const)
        .filter((d) => this.#streams.get(`${e.link} ${d}`)?.leave?.pending);
      this.#entries.push({ at, link: e.link, event: e.type, cutInside });
      return;
    }
    const key = `${e.link} ${e.dir}`;
    let s = this.#streams.get(key);
    if (!s) {
      s = { leave: undefined, written: undefined, packets: [], writtenCount: 0 };
      this.#streams.set(key, s);
    }
    if (e.type === "leave") {
      for (let packet of this.#decode(s, "leave", e.link, e.dir, e.bytes)) {
        // A payload decoded in place is a view into the proxy's read buffer: kept, it would keep all of it.
        if (packet.type === "publish") packet = { ...packet, payload: packet.payload.slice() };
        if (packet.type === "connect") {
          this.#client.set(e.link, packet.clientId);
          this.#version.set(e.link, packet.protocolVersion ?? 4);
        }
        const entry: PacketEntry = { at, link: e.link, dir: e.dir, packet, written: false };
        s.packets.push(entry);
        this.#entries.push(entry);
      }
      return;
    }
    // The written bytes are a prefix of those that left: their n-th packet is the n-th that left.
    for (const packet of this.#decode(s, "written", e.link, e.dir, e.bytes)) {
      const entry = s.packets[s.writtenCount++];
      if (entry?.packet.type !== packet.type) {
        this.#gaps.push(`L${e.link} ${e.dir}: a ${packet.type} written that did not leave`);
        s.written = null;
        return;
      }
      entry.written = true;
    }
  };

  /**
   * Decodes the next bytes of one way of a link; a stream that breaks the
   * protocol is given up (and reported by {@linkcode PacketLog.gaps}), as
   * the tap must not throw into the proxy.
   */
  #decode(s: Stream, kind: "leave" | "written", link: number, dir: Direction, bytes: Uint8Array) {
    let d = s[kind];
    if (d === null) return [];
    if (d === undefined) {
      // The client's way decodes as a server does, at the version its CONNECT
      // gives; the broker answers at that version.
      const version = dir === "up" ? 5 : this.#version.get(link) ?? 4;
      d = s[kind] = new PacketDecoder({ protocolVersion: version });
    }
    try {
      return d.push(bytes);
    } catch (err) {
      this.#gaps.push(
        `L${link} ${dir}: the bytes that ${kind === "leave" ? "left" : "were written"} ` +
          `stopped decoding: ${(err as Error).message}`,
      );
      s[kind] = null;
      return [];
    }
  }

  /** Notes an event of the test (a cut, say) at its place among the packets. */
  note(text: string): void {
    this.#entries.push({ at: performance.now() - this.#t0, note: text });
  }

  /** `clientId` handed the message with this payload to the application. */
  delivered(clientId: string, payload: string): void {
    this.#entries.push({ at: performance.now() - this.#t0, client: clientId, delivered: payload });
  }

  /**
   * Where the record cannot be trusted: a stream whose bytes stopped
   * decoding, or written bytes that did not match those that left. The
   * checks assume none; one line each.
   */
  gaps(): string[] {
    return [...this.#gaps];
  }

  /** The links whose CONNECT named `clientId`, in order. */
  linksOf(clientId: string): number[] {
    return [...this.#client].filter(([, id]) => id === clientId).map(([link]) => link);
  }

  /** The CONNACK that left for each link of `clientId`, in order; undefined where none did. */
  connacks(clientId: string): (Connack | undefined)[] {
    const acks = new Map<number, Connack>();
    for (const e of this.#entries) {
      if ("packet" in e && e.packet.type === "connack") acks.set(e.link, e as Connack);
    }
    return this.linksOf(clientId).map((link) => acks.get(link));
  }

  /**
   * Where `clientId`'s PUBLISHes broke the sender's rules (MQTT 3.1.1
   * section 4.3): one message published under two packet ids (a retry as a
   * new message), or a QoS 2 message published again after its PUBREL went
   * out (MQTT-4.3.3, "MUST NOT re-send the PUBLISH once it has sent the
   * corresponding PUBREL"). Reads every packet the client sent, written or
   * not. One line per breach; none is the expected answer.
   */
  senderBreaches(clientId: string): string[] {
    const breaches: string[] = [];
    const idOf = new Map<string, number>(); // message → the packet id it went out under
    const released = new Map<number, string>(); // packet id → message whose PUBREL went out
    const current = new Map<number, string>(); // packet id → message last published under it
    for (const e of this.#entries) {
      if (!("packet" in e) || e.dir !== "up" || this.#client.get(e.link) !== clientId) continue;
      const p = e.packet;
      if (p.type === "publish" && p.qos > 0) {
        const msg = text(p.payload);
        const id = p.packetId!;
        const first = idOf.get(msg);
        if (first === undefined) idOf.set(msg, id);
        else if (first !== id) {
          breaches.push(`${e.at.toFixed(1)} L${e.link}: "${msg}" under id ${id}, first ${first}`);
        }
        if (released.get(id) === msg) {
          breaches.push(`${e.at.toFixed(1)} L${e.link}: "${msg}" (id ${id}) after its PUBREL`);
        }
        current.set(id, msg);
      } else if (p.type === "pubrel") {
        const msg = current.get(p.packetId);
        if (msg !== undefined) released.set(p.packetId, msg);
      }
    }
    return breaches;
  }

  /**
   * QoS 2 messages the broker sent `clientId` again after it had sent their
   * PUBREL: a breach of MQTT-4.3.3 by the broker, written to the client or
   * not. A receiver that got that PUBREL released the packet id, so it must
   * take such a PUBLISH for a new message ("MUST treat any subsequent
   * PUBLISH packet that contains that Packet Identifier as being a new
   * publication"). In order, one line each.
   */
  brokerResendsAfterPubrel(clientId: string): string[] {
    return this.#brokerResends(clientId).map((r) => r.line);
  }

  /**
   * Messages handed to the application more often than the broker sent them
   * as new, in order: each repeat delivery is explained only by a PUBLISH of
   * that message the broker sent after its PUBREL (see
   * {@linkcode PacketLog.brokerResendsAfterPubrel}) that left before the
   * repeat, was written to the client, came after a PUBREL of it that was
   * written too (else the client still held the id, and had to take the
   * resend for one), and was not already spent on another repeat. Each one
   * left is a message the client itself delivered twice.
   */
  unexplainedDuplicates(clientId: string): string[] {
    const resends = new Set(
      this.#brokerResends(clientId).filter((r) => r.explains).map((r) => r.entry),
    );
    const seen = new Set<string>();
    const excuses = new Map<string, number>();
    const left: string[] = [];
    for (const e of this.#entries) {
      if ("packet" in e && resends.has(e)) {
        const msg = payloadOf(e);
        excuses.set(msg, (excuses.get(msg) ?? 0) + 1);
      } else if ("delivered" in e && e.client === clientId) {
        const msg = e.delivered;
        const excused = excuses.get(msg) ?? 0;
        if (!seen.has(msg)) seen.add(msg);
        else if (excused > 0) excuses.set(msg, excused - 1);
        else left.push(`${e.at.toFixed(1)}: "${msg}" delivered again`);
      }
    }
    return left;
  }

  #brokerResends(clientId: string): { entry: PacketEntry; line: string; explains: boolean }[] {
    const out: { entry: PacketEntry; line: string; explains: boolean }[] = [];
    // Packet id → the message whose PUBREL went out, and whether one of its PUBRELs was written.
    const released = new Map<number, { msg: string; written: boolean }>();
    const current = new Map<number, string>();
    for (const e of this.#entries) {
      if (!("packet" in e) || e.dir !== "down" || this.#client.get(e.link) !== clientId) continue;
      const p = e.packet;
      if (p.type === "publish" && p.qos === 2) {
        const msg = text(p.payload);
        const id = p.packetId!;
        const r = released.get(id);
        if (r?.msg === msg) {
          const line = `${e.at.toFixed(1)} L${e.link}: "${msg}" (id ${id}) after its PUBREL` +
            (e.written ? "" : " (not written)");
          out.push({ entry: e, line, explains: e.written && r.written });
        } else released.delete(id);
        current.set(id, msg);
      } else if (p.type === "pubrel") {
        const msg = current.get(p.packetId);
        if (msg === undefined) continue;
        const r = released.get(p.packetId);
        released.set(p.packetId, { msg, written: e.written || (r?.msg === msg && r.written) });
      }
    }
    return out;
  }

  /**
   * Every QoS 1 PUBLISH that left in `dir`, with the PUBACK that answered
   * it: on its link, the PUBACKs for an id answer that id's PUBLISHes in
   * the order they came (a broker that sends two PUBLISHes under one id
   * gets two PUBACKs for it). Written or not, both.
   */
  exchanges(dir: Direction): Exchange[] {
    const out: Exchange[] = [];
    // Per link and packet id, the exchanges still waiting for their PUBACK.
    const open = new Map<string, Exchange[]>();
    for (const e of this.#entries) {
      if (!("packet" in e)) continue;
      const p = e.packet;
      if (p.type === "publish" && p.qos === 1 && e.dir === dir) {
        const x: Exchange = { publish: e as Exchange["publish"] };
        out.push(x);
        const key = `${e.link}:${p.packetId}`;
        const waiting = open.get(key);
        if (waiting) waiting.push(x);
        else open.set(key, [x]);
      } else if (p.type === "puback" && e.dir !== dir) {
        const x = open.get(`${e.link}:${p.packetId}`)?.shift();
        if (x) x.puback = e;
      }
    }
    return out;
  }

  /** One line for each QoS 1 PUBLISH of `payload`, either way, and what answered it. */
  story(payload: string): string[] {
    return (["up", "down"] as const).flatMap((dir) =>
      this.exchanges(dir).filter((x) => payloadOf(x.publish) === payload).map(
        ({ publish, puback }) => {
          const p = publish.packet;
          const way = dir === "up" ? "client → broker" : "broker → client";
          const ack = puback
            ? `PUBACK at ${puback.at.toFixed(0)} ms${puback.written ? "" : " (not written)"}`
            : "no PUBACK on that link";
          return `${publish.at.toFixed(0)} ms, link ${publish.link} (${
            this.#client.get(publish.link)
          }): ` +
            `${way} PUBLISH "${payload}" id ${p.packetId}${p.dup ? " DUP" : ""}` +
            `${publish.written ? "" : " (not written)"}; ${ack}`;
        },
      )
    );
  }

  /**
   * Whose each lost QoS 1 message is, `publisher` publishing to
   * `subscriber`, given the payloads whose publish settled; a message is
   * lost when the subscriber never handed it to the application
   * ({@linkcode PacketLog.delivered}).
   *
   * Ours, whether the message was lost or not: a PUBACK the subscriber sent
   * (written or not) for a message it never handed over, or a publish that
   * settled though no PUBACK for it was written to the publisher. The
   * broker's: a lost message whose PUBACK was written to the publisher and
   * that the subscriber never acknowledged, so the broker still owed it
   * through every reconnect with session present.
   */
  losses(publisher: string, subscriber: string, settled: Iterable<string>): LossReport {
    const pubLinks = new Set(this.linksOf(publisher));
    const subLinks = new Set(this.linksOf(subscriber));
    const handed = new Set<string>();
    for (const e of this.#entries) {
      if ("delivered" in e && e.client === subscriber) handed.add(e.delivered);
    }
    // The PUBACK that reached the publisher for each message, if one did.
    const accepted = new Map<string, Exchange>();
    for (const x of this.exchanges("up")) {
      if (pubLinks.has(x.publish.link) && x.puback?.written) accepted.set(payloadOf(x.publish), x);
    }
    const toSub = this.exchanges("down").filter((x) => subLinks.has(x.publish.link));
    const ours: string[] = [];
    const acknowledged = new Set<string>();
    // Where each message last went to the subscriber, and each id's PUBLISHes, in order.
    const lastTo = new Map<string, number>();
    const byId = new Map<number, number[]>();
    toSub.forEach(({ publish, puback }, i) => {
      const msg = payloadOf(publish);
      const id = publish.packet.packetId!;
      lastTo.set(msg, i);
      const same = byId.get(id);
      if (same) same.push(i);
      else byId.set(id, [i]);
      if (!puback) return;
      acknowledged.add(msg);
      if (!handed.has(msg)) {
        ours.push(
          `the subscriber acknowledged "${msg}" (link ${publish.link}, id ${id}) ` +
            "but never handed it to the application",
        );
      }
    });
    const broker: string[] = [];
    let idReused = 0;
    let evidence: string[] = [];
    for (const msg of settled) {
      const ack = accepted.get(msg);
      if (!ack) {
        ours.push(`the publish of "${msg}" settled, but no PUBACK for it reached the publisher`);
        continue;
      }
      if (handed.has(msg) || acknowledged.has(msg)) continue;
      broker.push(msg);
      const i = lastTo.get(msg);
      const last = i === undefined ? undefined : toSub[i].publish;
      // A later PUBLISH of another message under the id this one last went
      // out with, which the subscriber acknowledged.
      const later = last && byId.get(last.packet.packetId!)!.find((j) => j > i! && toSub[j].puback);
      const reuse = later === undefined ? undefined : toSub[later].publish;
      if (reuse) idReused++;
      if (evidence.length > 0) continue;
      const after = last?.at ?? ack.puback!.at;
      const resumed = this.connacks(subscriber)
        .filter((c) => c && c.at > after && c.packet.sessionPresent).length;
      const then = reuse
        ? `Then the broker sent "${payloadOf(reuse)}" under the same id ${reuse.packet.packetId} ` +
          `(link ${reuse.link}, ${
            reuse.at.toFixed(0)
          } ms), and the subscriber acknowledged that one.`
        : last
        ? `No other message went to the subscriber under id ${last.packet.packetId} after that.`
        : "No PUBLISH of it ever left the proxy whole for the subscriber.";
      evidence = [
        `"${msg}": the broker acknowledged it to the publisher; the subscriber never acknowledged it.`,
        ...this.story(msg),
        then,
        `Afterwards the subscriber resumed its session ${resumed} times (CONNACK session present), ` +
        "and the broker did not send it again.",
      ];
    }
    return { ours, broker, idReused, evidence };
  }

  /** The record as text, one line per packet, event or delivery. */
  lines(): string[] {
    return this.#entries.map((e) => {
      const at = e.at.toFixed(1);
      if ("note" in e) return `${at} ${e.note}`;
      if ("delivered" in e) return `${at} ${e.client} delivered "${e.delivered}"`;
      if ("event" in e) {
        const cut = e.cutInside.length ? ` (cut inside ${e.cutInside.join(" and ")})` : "";
        return `${at} L${e.link} ${e.event}${cut}`;
      }
      return `${at} L${e.link} ${e.dir} ${describe(e.packet)}${e.written ? "" : " (not written)"}`;
    });
  }
}

function describe(p: Packet): string {
  switch (p.type) {
    case "publish":
      return `PUBLISH id=${p.packetId} qos=${p.qos} dup=${+p.dup} "${text(p.payload)}"`;
    case "connect":
      return `CONNECT ${p.clientId} clean=${+p.cleanSession}`;
    case "connack":
      return `CONNACK sp=${+p.sessionPresent} rc=${p.returnCode}`;
    default:
      return "packetId" in p ? `${p.type.toUpperCase()} id=${p.packetId}` : p.type.toUpperCase();
  }
}
