/**
 * What went through a {@linkcode FaultProxy}, packet by packet: each
 * connection's packets in each direction, decoded as they leave the proxy,
 * the client each connection belongs to (from its CONNECT), and what the
 * test notes in between (cuts, messages handed to the application). A fault
 * test uses it to tell whose doing a duplicate is, and to check the QoS 2
 * sender's rules on the wire; `FAULT_TRACE=FILE` writes it out (`lines()`).
 *
 * Messages are told apart by their payload, so a test that uses it gives
 * each message a payload of its own.
 *
 * @example
 * ```ts ignore
 * const log = new PacketLog();
 * const proxy = await FaultProxy.start(broker, { tap: log.tap });
 * // … clients through the proxy; log.delivered(id, payload) for each message handed out …
 * assert.deepEqual(log.senderBreaches(publisher.client_id), []);
 * assert.deepEqual(log.unexplainedDuplicates(subscriber.client_id), []);
 * ```
 *
 * @module
 */
import { type Packet, PacketDecoder } from "../lib/codec/mod.ts";
import type { Direction, TapEvent } from "./_fault_proxy.ts";

type Entry =
  | { at: number; link: number; dir: Direction; packet: Packet }
  | { at: number; link: number; event: "open" | "close"; cutInside: Direction[] }
  | { at: number; note: string }
  | { at: number; client: string; delivered: string };

const text = (payload: Uint8Array) => new TextDecoder().decode(payload);

/** A record of the MQTT traffic through a proxy, for checks and traces. */
export class PacketLog {
  readonly #t0 = performance.now();
  readonly #entries: Entry[] = [];
  readonly #decoders = new Map<string, PacketDecoder>();
  // Which client each connection belongs to, from its CONNECT.
  readonly #client = new Map<number, string>();

  /** The proxy's `tap`: give it to {@linkcode FaultProxy.start}. */
  readonly tap = (e: TapEvent): void => {
    const at = performance.now() - this.#t0;
    if (e.type === "open" || e.type === "close") {
      const cutInside = (["up", "down"] as const)
        .filter((d) => this.#decoders.get(`${e.link} ${d}`)?.pending);
      this.#entries.push({ at, link: e.link, event: e.type, cutInside });
      return;
    }
    if (e.type !== "leave") return;
    const key = `${e.link} ${e.dir}`;
    let decoder = this.#decoders.get(key);
    if (!decoder) this.#decoders.set(key, decoder = new PacketDecoder());
    for (const packet of decoder.push(e.bytes)) {
      if (packet.type === "connect") this.#client.set(e.link, packet.clientId);
      this.#entries.push({ at, link: e.link, dir: e.dir, packet });
    }
  };

  /** Notes an event of the test (a cut, say) at its place among the packets. */
  note(text: string): void {
    this.#entries.push({ at: performance.now() - this.#t0, note: text });
  }

  /** `clientId` handed the message with this payload to the application. */
  delivered(clientId: string, payload: string): void {
    this.#entries.push({ at: performance.now() - this.#t0, client: clientId, delivered: payload });
  }

  /**
   * Where `clientId`'s PUBLISHes broke the sender's rules (MQTT 3.1.1
   * section 4.3): one message published under two packet ids (a retry as a
   * new message), or a QoS 2 message published again after its PUBREL went
   * out (MQTT-4.3.3, "MUST NOT re-send the PUBLISH once it has sent the
   * corresponding PUBREL"). One line per breach; none is the expected answer.
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
   * PUBREL: a breach of MQTT-4.3.3 by the broker. The receiver released the
   * packet id on that PUBREL, so it must take such a PUBLISH for a new
   * message ("MUST treat any subsequent PUBLISH packet that contains that
   * Packet Identifier as being a new publication"). In order, one line each.
   */
  brokerResendsAfterPubrel(clientId: string): string[] {
    return this.#brokerResends(clientId).map((r) => r.line);
  }

  /**
   * Messages handed to the application more often than the broker sent them
   * as new, in order: each repeat delivery is explained only by a PUBLISH of
   * that message the broker sent after its PUBREL (see
   * {@linkcode PacketLog.brokerResendsAfterPubrel}), sent before the repeat
   * and not already spent on another. Each one left is a message the client
   * itself delivered twice.
   */
  unexplainedDuplicates(clientId: string): string[] {
    const resends = new Set(this.#brokerResends(clientId).map((r) => r.entry));
    const seen = new Set<string>();
    const excuses = new Map<string, number>();
    const left: string[] = [];
    for (const e of this.#entries) {
      if (resends.has(e) && "packet" in e && e.packet.type === "publish") {
        const msg = text(e.packet.payload);
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

  #brokerResends(clientId: string): { entry: Entry; line: string }[] {
    const out: { entry: Entry; line: string }[] = [];
    const released = new Map<number, string>();
    const current = new Map<number, string>();
    for (const e of this.#entries) {
      if (!("packet" in e) || e.dir !== "down" || this.#client.get(e.link) !== clientId) continue;
      const p = e.packet;
      if (p.type === "publish" && p.qos === 2) {
        const msg = text(p.payload);
        const id = p.packetId!;
        if (released.get(id) === msg) {
          const line = `${e.at.toFixed(1)} L${e.link}: "${msg}" (id ${id}) after its PUBREL`;
          out.push({ entry: e, line });
        } else released.delete(id);
        current.set(id, msg);
      } else if (p.type === "pubrel") {
        const msg = current.get(p.packetId);
        if (msg !== undefined) released.set(p.packetId, msg);
      }
    }
    return out;
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
      return `${at} L${e.link} ${e.dir} ${describe(e.packet)}`;
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
