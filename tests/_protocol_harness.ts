// Drives the protocol state (lib/_protocol.ts) without I/O, for its own
// tests: a recording output, connections as calls, requests whose outcome
// can be read without awaiting.
import { encode } from "../lib/codec/encode.ts";
import { PacketDecoder } from "../lib/codec/decoder.ts";
import type { ConnackPacket, Packet, PublishPacket, QoS } from "../lib/codec/packet.ts";
import type { ConnackProperties } from "../lib/codec/properties.ts";
import { MQTTConnectionError } from "../lib/errors.ts";
import { MemorySessionStore } from "../lib/session_store.ts";
import { type AckKind, type Incoming, Protocol, type ProtocolOptions } from "../lib/_protocol.ts";

/**
 * A protocol state with its output recorded, connected unless told otherwise.
 * With `counted`, its output counts the packets written, as the client's
 * writer does, so that `core.wrote(now, n)` can say they went out; without,
 * they go out at once.
 */
export function harness(
  store = new MemorySessionStore(),
  options?: ProtocolOptions,
  counted = false,
) {
  let queued = 0;
  const written: Packet[] = [];
  const delivered: Incoming[] = [];
  const connacks: ConnackPacket[] = [];
  // DISCONNECT and AUTH from the broker (MQTT 5).
  const others: Packet[] = [];
  let online = false;
  const core = new Protocol(store, {
    // As the writer: bytes written while no connection is up go nowhere.
    write: (bytes) => {
      if (online) written.push(...new PacketDecoder().push(bytes));
      if (counted) return ++queued;
    },
    deliver: (m) => delivered.push(m),
    connack: (p) => connacks.push(p),
    disconnected: (p) => others.push(p),
    auth: (p) => others.push(p),
  }, options);
  return {
    core,
    store,
    written,
    delivered,
    connacks,
    others,
    /** A new connection: start, CONNACK accepted (MQTT 5: with `properties`), resends. */
    connect(clean: boolean, sessionPresent = !clean, properties?: ConnackProperties) {
      online = true;
      core.start(clean);
      core.handle({ type: "connack", sessionPresent, returnCode: 0, properties });
      core.resend();
    },
    /** The connection ends. */
    cut(keepPending = false, error = new MQTTConnectionError("cut")) {
      online = false;
      core.end(error, keepPending);
    },
    /** What went out since the last call. */
    sent(): Packet[] {
      return written.splice(0);
    },
  };
}

/** A request's outcome, observable without awaiting. */
export interface Tracked {
  state: "pending" | "resolved" | "rejected";
  value?: unknown;
  error?: unknown;
  settled: number;
}

/** Sends a QoS 1/2 PUBLISH, SUBSCRIBE or UNSUBSCRIBE through `core.send`, tracking its outcome. */
export function request(
  core: Protocol,
  kind: AckKind,
  opts: { payload?: string; filters?: number; signal?: AbortSignal; retain?: boolean } = {},
): Tracked {
  const t: Tracked = { state: "pending", settled: 0 };
  let bytes: Uint8Array;
  let idAt: number;
  if (kind === "puback" || kind === "pubrec") {
    const payload = new TextEncoder().encode(opts.payload ?? "m");
    const qos: QoS = kind === "puback" ? 1 : 2;
    bytes = encode({
      type: "publish",
      topic: "t",
      payload,
      qos,
      retain: opts.retain ?? false,
      dup: false,
      packetId: 1,
    });
    idAt = bytes.length - payload.length - 2;
  } else if (kind === "suback") {
    const n = opts.filters ?? 1;
    const subscriptions = Array.from({ length: n }, (_, i) => ({ topic: `f${i}`, qos: 1 as QoS }));
    bytes = encode({ type: "subscribe", packetId: 1, subscriptions });
    idAt = 2;
  } else {
    bytes = encode({ type: "unsubscribe", packetId: 1, topics: ["f"] });
    idAt = 2;
  }
  core.send({
    kind,
    bytes,
    idAt,
    keep: kind === "puback" || kind === "pubrec",
    filters: kind === "suback" || kind === "unsuback" ? opts.filters ?? 1 : undefined,
    signal: opts.signal,
    resolve: (value) => {
      t.settled++;
      if (t.state === "pending") Object.assign(t, { state: "resolved", value });
    },
    reject: (error) => {
      t.settled++;
      if (t.state === "pending") Object.assign(t, { state: "rejected", error });
    },
  });
  return t;
}

/** An incoming PUBLISH on topic `in`. */
export function publishIn(packetId: number, qos: QoS, payload = "x", dup = false): PublishPacket {
  return {
    type: "publish",
    topic: "in",
    payload: new TextEncoder().encode(payload),
    qos,
    retain: false,
    dup,
    packetId: qos > 0 ? packetId : undefined,
  };
}

/** The protocol state's options for MQTT 5, with no topic aliases. */
export const V5 = {
  version: 5,
  receiveMaximum: 65535,
  topicAliasMaximum: 0,
  autoTopicAlias: false,
} as const;

/** Each packet as its type, packet id and dup flag: what a test compares. */
export function ids(packets: Packet[]): string[] {
  return packets.map((p) =>
    `${p.type}${"packetId" in p && p.packetId !== undefined ? ` ${p.packetId}` : ""}${
      p.type === "publish" && p.dup ? " dup" : ""
    }`
  );
}
