// -d: a transport that prints every packet in and out, one line each, on
// stderr. It decodes a copy of the bytes with the codec's streaming decoder;
// the connection underneath is Deno's own, as the built-in transport makes it.
// Never prints a payload or a password: only their presence and lengths.
import { encode, type Packet, PacketDecoder } from "../codec/mod.ts";
import type { SslParams, StreamPair, Transport } from "../../mod.ts";
import { connectWebSocket } from "../transports/websocket.ts";

function flags(p: { dup: boolean; qos: number; retain: boolean }): string {
  return `d${p.dup ? 1 : 0} q${p.qos} r${p.retain ? 1 : 0}`;
}

/** One line for a packet: type, flags, packet id, topic, lengths; never a payload or password. */
export function describePacket(p: Packet): string {
  const size = `(${encode(p).length} bytes)`;
  const q = JSON.stringify;
  switch (p.type) {
    case "connect": {
      const parts = [`id ${q(p.clientId)}`, `clean ${p.cleanSession ? 1 : 0}`];
      parts.push(`keepalive ${p.keepalive}`);
      if (p.username !== undefined) parts.push(`user ${q(p.username)}`);
      if (p.password !== undefined) parts.push("password ***");
      if (p.will) {
        parts.push(
          `will ${q(p.will.topic)} q${p.will.qos} r${p.will.retain ? 1 : 0} ` +
            `${p.will.payload.length}-byte payload`,
        );
      }
      return `CONNECT ${parts.join(", ")} ${size}`;
    }
    case "connack":
      return `CONNACK session ${p.sessionPresent ? 1 : 0}, rc ${p.returnCode} ${size}`;
    case "publish":
      return `PUBLISH ${flags(p)}${p.packetId === undefined ? "" : `, id ${p.packetId}`}, ` +
        `${q(p.topic)}, ${p.payload.length}-byte payload ${size}`;
    case "subscribe":
      return `SUBSCRIBE id ${p.packetId}, ${
        p.subscriptions.map((s) => `${q(s.topic)} q${s.qos}`).join(", ")
      } ${size}`;
    case "suback":
      return `SUBACK id ${p.packetId}, codes ${
        p.returnCodes.map((c) => c === 0x80 ? "0x80" : String(c)).join(",")
      } ${size}`;
    case "unsubscribe":
      return `UNSUBSCRIBE id ${p.packetId}, ${p.topics.map((t) => q(t)).join(", ")} ${size}`;
    default:
      return `${p.type.toUpperCase()}${"packetId" in p ? ` id ${p.packetId}` : ""} ${size}`;
  }
}

/** Logs each packet in the bytes it is given, in one direction. */
function tracer(direction: string, log: (line: string) => void): (chunk: Uint8Array) => void {
  // Big enough for anything a broker may send; the client enforces its own limit.
  const decoder = new PacketDecoder({ maxPacketSize: 268_435_460 });
  let broken = false;
  return (chunk) => {
    if (broken) return;
    try {
      for (const p of decoder.push(chunk.slice())) log(`${direction} ${describePacket(p)}`);
    } catch (e) {
      // The client reports the broken packet itself; stop tracing this direction.
      broken = true;
      log(`${direction} undecodable bytes: ${(e as Error).message}`);
    }
  };
}

/** Wraps a stream pair so that each packet through it is logged. */
export function traced(pair: StreamPair, log: (line: string) => void): StreamPair {
  const out = tracer("->", log);
  const incoming = tracer("<-", log);
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

/** A transport for -d: Deno's TCP or TLS connection, or the WebSocket adapter's, traced. */
export function debugTransport(t: DebugTarget, log: (line: string) => void): Transport {
  return async () => {
    if (t.url !== undefined) return traced(await connectWebSocket(t.url), log);
    const { hostname, port, ssl_params: p } = t;
    const caCerts = p.cadata === undefined ? undefined : [p.cadata];
    const conn = !t.ssl
      ? await Deno.connect({ hostname, port })
      : p.cert !== undefined && p.key !== undefined
      ? await Deno.connectTls({ hostname, port, caCerts, cert: p.cert, key: p.key })
      : await Deno.connectTls({ hostname, port, caCerts });
    return traced(conn, log);
  };
}
