/**
 * A packet-level record of what crossed a {@linkcode FaultProxy}, for tests
 * that must say where a message went missing: give {@linkcode MqttTrace.tap}
 * as the proxy's `tap`, and each link's bytes each way are decoded into
 * packets (CONNECT, CONNACK, PUBLISH and PUBACK are kept, with the link, the
 * direction and the time). {@linkcode MqttTrace.exchanges} pairs each QoS 1
 * PUBLISH with the PUBACK that answered it on its link, and
 * {@linkcode MqttTrace.story} tells one message's story in lines.
 *
 * Bytes are recorded as the proxy delivered them, so "delivered" means
 * written to the receiver's socket: a receiver that closed at that moment
 * may not have read them. A packet cut in half by a fault is not recorded.
 *
 * @example
 * ```ts ignore
 * const trace = new MqttTrace();
 * const proxy = await FaultProxy.start(broker, { tap: trace.tap });
 * // … run the clients through the proxy …
 * console.log(trace.story("42").join("\n"));
 * ```
 *
 * @module
 */
import { PacketDecoder } from "../lib/codec/mod.ts";
import type { Direction, TapEvent } from "./_fault_proxy.ts";

/** One recorded packet. */
export interface TraceEvent {
  /** Milliseconds since the trace started. */
  t: number;
  /** The proxy's link number. */
  link: number;
  /** `"up"`: client → broker; `"down"`: broker → client. */
  dir: Direction;
  /** Packet type. */
  type: "connect" | "connack" | "publish" | "puback";
  /** Packet id (PUBLISH with QoS > 0, PUBACK). */
  id?: number;
  /** PUBLISH payload, as text. */
  payload?: string;
  /** PUBLISH DUP flag. */
  dup?: boolean;
  /** CONNECT client id. */
  clientId?: string;
  /** CONNACK session-present flag. */
  sessionPresent?: boolean;
}

/** A PUBLISH and the PUBACK that answered it on the same link, if one did. */
export interface Exchange {
  /** The PUBLISH. */
  publish: TraceEvent;
  /** The PUBACK for its id that came back on its link. */
  puback?: TraceEvent;
}

const text = new TextDecoder();

/** Decodes and records the packets a {@linkcode FaultProxy} delivers. */
export class MqttTrace {
  /** Every recorded packet, in the order the proxy delivered them. */
  readonly events: TraceEvent[] = [];
  /** The client id each link's CONNECT named. */
  readonly clientOf: Map<number, string> = new Map();
  readonly #decoders = new Map<string, PacketDecoder | null>();
  readonly #start = performance.now();

  /** The proxy's `tap`: decodes the bytes of each completed write, the next ones delivered on their link. */
  readonly tap = (e: TapEvent): void => {
    if (e.type !== "written") return;
    const { link, dir, bytes } = e;
    const key = `${link}${dir}`;
    let decoder = this.#decoders.get(key);
    if (decoder === null) return; // a stream that broke the protocol: nothing more to learn
    if (decoder === undefined) this.#decoders.set(key, decoder = new PacketDecoder());
    let packets;
    try {
      packets = decoder.push(bytes);
    } catch {
      this.#decoders.set(key, null);
      return;
    }
    const t = Math.round(performance.now() - this.#start);
    for (const p of packets) {
      if (p.type === "connect") {
        this.clientOf.set(link, p.clientId);
        this.events.push({ t, link, dir, type: p.type, clientId: p.clientId });
      } else if (p.type === "connack") {
        this.events.push({ t, link, dir, type: p.type, sessionPresent: p.sessionPresent });
      } else if (p.type === "publish") {
        const payload = text.decode(p.payload);
        this.events.push({ t, link, dir, type: p.type, id: p.packetId, dup: p.dup, payload });
      } else if (p.type === "puback") {
        this.events.push({ t, link, dir, type: p.type, id: p.packetId });
      }
    }
  };

  /** The links whose CONNECT named `clientId`, in order. */
  linksOf(clientId: string): number[] {
    return [...this.clientOf].filter(([, id]) => id === clientId).map(([link]) => link);
  }

  /** The CONNACK of each link of `clientId`, in order; undefined where none came. */
  connacks(clientId: string): (TraceEvent | undefined)[] {
    const links = new Set(this.linksOf(clientId));
    const acks = new Map<number, TraceEvent>();
    for (const e of this.events) if (e.type === "connack" && links.has(e.link)) acks.set(e.link, e);
    return [...links].map((link) => acks.get(link));
  }

  /**
   * Every QoS 1 PUBLISH sent in `dir`, with the PUBACK that answered it: on
   * its link, the PUBACKs for an id answer that id's PUBLISHes in the order
   * they came (a broker that sends two PUBLISHes under one id gets two
   * PUBACKs for it).
   */
  exchanges(dir: Direction): Exchange[] {
    const out: Exchange[] = [];
    // Per link and packet id, the exchanges still waiting for their PUBACK.
    const open = new Map<string, Exchange[]>();
    for (const e of this.events) {
      if (e.type === "publish" && e.dir === dir && e.id !== undefined) {
        const x: Exchange = { publish: e };
        out.push(x);
        const key = `${e.link}:${e.id}`;
        const waiting = open.get(key);
        if (waiting) waiting.push(x);
        else open.set(key, [x]);
      } else if (e.type === "puback" && e.dir !== dir) {
        const x = open.get(`${e.link}:${e.id}`)?.shift();
        if (x) x.puback = e;
      }
    }
    return out;
  }

  /** One line for each PUBLISH of `payload`, either way, and what answered it. */
  story(payload: string): string[] {
    return (["up", "down"] as const).flatMap((dir) =>
      this.exchanges(dir).filter((x) => x.publish.payload === payload).map((
        { publish: p, puback },
      ) =>
        `${p.t} ms, link ${p.link} (${this.clientOf.get(p.link)}): ${
          dir === "up" ? "client → broker" : "broker → client"
        } PUBLISH "${payload}" id ${p.id}${p.dup ? " DUP" : ""}; ${
          puback ? `PUBACK at ${puback.t} ms` : "no PUBACK on that link"
        }`
      )
    );
  }
}
