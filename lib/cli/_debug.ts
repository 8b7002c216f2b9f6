// -d: a transport that prints every packet in and out, one line each, on
// stderr. It decodes a copy of the bytes with the codec's streaming decoder;
// the connection underneath is Deno's own, as the built-in transport makes it.
// Never prints a payload or a password: only their presence and lengths.
import {
  encode,
  type Packet,
  PacketDecoder,
  type ProtocolVersion,
  reasonCodeMessage,
} from "../codec/mod.ts";
import { mosquittoName } from "./_props.ts";
import type { SslParams, StreamPair, Transport } from "../../mod.ts";
import { connectDeno } from "../transports/deno.ts";
import { connectWebSocket } from "../transports/websocket.ts";

function flags(p: { dup: boolean; qos: number; retain: boolean }): string {
  return `d${p.dup ? 1 : 0} q${p.qos} r${p.retain ? 1 : 0}`;
}

const q = JSON.stringify;

/**
 * MQTT 5 properties in brackets, by mosquitto's names, after a space; ""
 * when there are none. Binary data (correlation, authentication) shows only
 * its length.
 */
export function describeProperties(props: object | undefined): string {
  const parts: string[] = [];
  for (const [key, value] of Object.entries(props ?? {})) {
    const name = mosquittoName(key);
    for (
      const v of key === "userProperties" || key === "subscriptionIdentifiers" ? value : [value]
    ) {
      parts.push(
        key === "userProperties"
          ? `${name} ${q(v[0])}:${q(v[1])}`
          : v instanceof Uint8Array
          ? `${name} ${v.length} bytes`
          : typeof v === "string"
          ? `${name} ${q(v)}`
          : `${name} ${typeof v === "boolean" ? +v : v}`,
      );
    }
  }
  return parts.length ? ` [${parts.join(", ")}]` : "";
}

function code(c: number, version: ProtocolVersion): string {
  return version === 5 && c !== 0
    ? `0x${c.toString(16).padStart(2, "0")} ${reasonCodeMessage(c)}`
    : String(c);
}

/** ", rc …" for an MQTT 5 reason code other than success; "" otherwise. */
function reason(c: number | undefined, version: ProtocolVersion): string {
  return version === 5 && c ? `, rc ${code(c, version)}` : "";
}

/**
 * One line for a packet: type, flags, packet id, topic, lengths and, with
 * MQTT 5, reason codes and properties; never a payload or password.
 */
export function describePacket(p: Packet, version: ProtocolVersion = 4): string {
  const size = `(${encode(p, version).length} bytes)`;
  switch (p.type) {
    case "connect": {
      const parts = [`id ${q(p.clientId)}`, `clean ${p.cleanSession ? 1 : 0}`];
      parts.push(`keepalive ${p.keepalive}`);
      if (p.username !== undefined) parts.push(`user ${q(p.username)}`);
      if (p.password !== undefined) parts.push("password ***");
      if (p.will) {
        parts.push(
          `will ${q(p.will.topic)} q${p.will.qos} r${p.will.retain ? 1 : 0} ` +
            `${p.will.payload.length}-byte payload${describeProperties(p.will.properties)}`,
        );
      }
      if (version === 5) parts.push("MQTT 5");
      return `CONNECT ${parts.join(", ")}${describeProperties(p.properties)} ${size}`;
    }
    case "connack":
      return `CONNACK session ${p.sessionPresent ? 1 : 0}, rc ${code(p.returnCode, version)}${
        describeProperties(p.properties)
      } ${size}`;
    case "publish":
      return `PUBLISH ${flags(p)}${p.packetId === undefined ? "" : `, id ${p.packetId}`}, ` +
        `${q(p.topic)}, ${p.payload.length}-byte payload${
          describeProperties(p.properties)
        } ${size}`;
    case "subscribe":
      return `SUBSCRIBE id ${p.packetId}, ${
        p.subscriptions.map((s) =>
          `${q(s.topic)} q${s.qos}${s.noLocal ? " no-local" : ""}${
            s.retainAsPublished ? " retain-as-published" : ""
          }${s.retainHandling ? ` retain-handling ${s.retainHandling}` : ""}`
        ).join(", ")
      }${describeProperties(p.properties)} ${size}`;
    case "suback":
      return `SUBACK id ${p.packetId}, codes ${
        p.returnCodes.map((c) => c >= 0x80 ? `0x${c.toString(16)}` : String(c)).join(",")
      }${describeProperties(p.properties)} ${size}`;
    case "unsubscribe":
      return `UNSUBSCRIBE id ${p.packetId}, ${p.topics.map((t) => q(t)).join(", ")}${
        describeProperties(p.properties)
      } ${size}`;
    case "unsuback":
      return `UNSUBACK id ${p.packetId}${
        p.reasonCodes
          ? `, codes ${
            p.reasonCodes.map((c) => c >= 0x80 ? `0x${c.toString(16)}` : String(c)).join(",")
          }`
          : ""
      }${describeProperties(p.properties)} ${size}`;
    case "puback":
    case "pubrec":
    case "pubrel":
    case "pubcomp":
      return `${p.type.toUpperCase()} id ${p.packetId}${reason(p.reasonCode, version)}${
        describeProperties(p.properties)
      } ${size}`;
    case "disconnect":
    case "auth":
      return `${p.type.toUpperCase()}${
        p.type === "auth" ? ` rc ${code(p.reasonCode, 5)}` : reason(p.reasonCode, version).slice(1)
      }${describeProperties(p.properties)} ${size}`;
    default:
      return `${p.type.toUpperCase()} ${size}`;
  }
}

/** Logs each packet in the bytes it is given, in one direction. */
function tracer(
  direction: string,
  version: ProtocolVersion,
  log: (line: string) => void,
): (chunk: Uint8Array) => void {
  // Big enough for anything a broker may send; the client enforces its own limit.
  // The outgoing side learns the version from CONNECT; the broker's side must be told.
  const decoder = new PacketDecoder({ maxPacketSize: 268_435_460, protocolVersion: version });
  let broken = false;
  return (chunk) => {
    if (broken) return;
    try {
      for (const p of decoder.push(chunk.slice())) {
        log(`${direction} ${describePacket(p, decoder.protocolVersion)}`);
      }
    } catch (e) {
      // The client reports the broken packet itself; stop tracing this direction.
      broken = true;
      log(`${direction} undecodable bytes: ${(e as Error).message}`);
    }
  };
}

/** Wraps a stream pair so that each packet through it is logged. */
export function traced(
  pair: StreamPair,
  version: ProtocolVersion,
  log: (line: string) => void,
): StreamPair {
  const out = tracer("->", version, log);
  const incoming = tracer("<-", version, log);
  // A write resolves only once the connection took it (not a pipe's buffer), so
  // that DISCONNECT is out before the client closes the connection.
  const writer = pair.writable.getWriter();
  return {
    readable: pair.readable.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, controller) {
          incoming(chunk);
          controller.enqueue(chunk);
        },
      }),
    ),
    writable: new WritableStream<Uint8Array>({
      async write(chunk) {
        out(chunk);
        await writer.write(chunk);
      },
      close: () => writer.close(),
      abort: (reason) => writer.abort(reason),
    }),
    close: () => pair.close?.(),
  };
}

/** Where the debug transport connects. */
export interface DebugTarget {
  /** For WebSocket: the ws:// or wss:// URL. */
  url?: string;
  hostname: string;
  port: number;
  ssl: boolean;
  ssl_params: SslParams;
}

/**
 * A transport for -d: the built-in one's connection (Deno's TCP, or TLS with
 * its handshake done while connecting, Nagle off, given up on the signal), or
 * the WebSocket adapter's, traced.
 */
export function debugTransport(
  t: DebugTarget,
  version: ProtocolVersion,
  log: (line: string) => void,
): Transport {
  return async (signal) => {
    const { url, hostname, port, ssl, ssl_params } = t;
    const pair = url !== undefined
      ? await connectWebSocket(url, { signal })
      : await connectDeno({ hostname, port, ssl, ssl_params, signal });
    return traced(pair, version, log);
  };
}
