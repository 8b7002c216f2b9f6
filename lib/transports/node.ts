/**
 * The transport for Node.js (and Bun): `node:net` / `node:tls` sockets as a
 * web {@linkcode StreamPair}, with backpressure both ways; a TCP socket under
 * Node is also read and written directly by the client (no web stream). The `node:`
 * modules load when a connection is made, never at import, so a browser
 * bundle that contains this file (built with `node:*` external) does not
 * load them.
 *
 * @module
 */
import type { Duplex } from "node:stream";
import { explainReset, explainTls, refusedParams } from "./_tls_errors.ts";
import { hostPort } from "./endpoint.ts";
import { endSocket, named, NodeConn, onread, writeSocket } from "./_node_conn.ts";
import type { SslParams, StreamPair } from "./types.ts";
export type { SslParams, StreamPair };

/** Where and how {@linkcode connectNode} connects. */
export interface NodeConnectOptions {
  /** Host name or IP address to connect to. */
  hostname: string;
  /** TCP port. */
  port: number;
  /** Use TLS. */
  ssl?: boolean;
  /** TLS parameters (MicroPython names); `cadata` is trusted besides the system roots. */
  ssl_params?: SslParams;
  /** Aborting it before the connection is made destroys the socket and rejects. */
  signal?: AbortSignal;
}

/**
 * Opens a TCP or TLS connection with `node:net` / `node:tls`.
 *
 * @param options Address, port and TLS settings.
 * @returns The open connection as a stream pair.
 * @throws {Error} The socket's error if it cannot connect (refused, TLS verification).
 * @throws {TypeError} Under Node and Bun, `ssl_params` their TLS cannot use, before any I/O
 * (a key not the cert's, PEM text it cannot read): "Invalid ssl_params: …".
 * @throws {RangeError} A port out of range (Node's own error).
 *
 * @example
 * ```ts ignore
 * import { MQTTClient } from "@umqtt/umqtt";
 * import { connectNode } from "@umqtt/umqtt/node";
 * const client = new MQTTClient("id", "broker.local", {
 *   transport: () => connectNode({ hostname: "broker.local", port: 1883 }),
 * });
 * ```
 */
export async function connectNode(
  options: NodeConnectOptions,
): Promise<StreamPair> {
  const { hostname: host, port, ssl = false, ssl_params: p = {}, signal } = options;
  signal?.throwIfAborted();
  const net: typeof import("node:net") = await import("node:net");
  const tls: typeof import("node:tls") | undefined = ssl ? await import("node:tls") : undefined;
  // Again: an abort while the modules loaded has no listener below to hear it.
  signal?.throwIfAborted();
  let socket: Duplex & { setNoDelay(on: boolean): unknown; bytesRead: number };
  // TCP reads through `onread` (_node_conn.ts); a TLS socket takes no such option. Not in
  // Bun 1.4.5: a paused socket resumed there read late (once 234 ms, in a receive of
  // 50 000 messages: 25–50k msg/s against 0.6–2.7M through the streams below).
  const conn = tls || "Bun" in globalThis ? undefined : new NodeConn();
  if (tls) {
    const ca = p.cadata === undefined ? undefined : [...tls.rootCertificates, p.cadata];
    const name = p.server_hostname;
    // An IP address is no SNI name (RFC 6066): as `servername`, Node prints
    // DEP0123 to stderr and Bun throws. It goes unsent, and is verified
    // against the certificate by checkServerIdentity instead.
    const ip = name !== undefined && net.isIP(name) !== 0;
    try {
      socket = tls.connect({
        host,
        port,
        servername: ip ? "" : name,
        ...(ip
          ? { checkServerIdentity: (_: string, cert) => tls.checkServerIdentity(name, cert) }
          : {}),
        ca,
        cert: p.cert,
        key: p.key,
      });
    } catch (e) {
      // OpenSSL's (BoringSSL's), thrown before any I/O, making the context: PEM text it cannot
      // read, a key not the cert's. Not a port out of range, say, which is no ssl_params'.
      throw refusedParams(e, /^ERR_(OSSL|BORINGSSL)/.test((e as { code?: string })?.code ?? ""));
    }
  } else {
    socket = net.connect(conn ? { host, port, onread: onread(conn) } : { host, port });
  }
  await new Promise<void>((resolve, reject) => {
    // Listens for good: an error can also come after "secureConnect" (a TLS
    // alert refusing our certificate), emitted before the stream below
    // listens, and must not go unhandled. Before the connection is made, an
    // error fails it and destroys the socket.
    let settled = false;
    const fail = (e: unknown) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener("abort", onAbort);
      socket.destroy();
      reject(e);
    };
    const onAbort = () => fail(signal!.reason);
    signal?.addEventListener("abort", onAbort, { once: true });
    // Explained for the stream below too (it listens after): a TLS 1.3 broker
    // refuses our certificate after "secureConnect", at the first read; a TLS
    // listener resets a plain connection before its first byte.
    const where = hostPort(host, port);
    socket.on("error", (e) =>
      fail(named(
        tls
          ? explainTls(e, settled ? where : "")
          : settled && !socket.bytesRead
          ? explainReset(e, where)
          : e,
      )));
    socket.once(ssl ? "secureConnect" : "connect", () => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener("abort", onAbort);
      resolve();
    });
  });
  socket.setNoDelay(true);
  return conn ? conn.attach(socket as import("node:net").Socket) : socketStreams(socket);
}

/**
 * Wraps a connected Node duplex (a `net.Socket`, a `tls.TLSSocket`) as a
 * stream pair: a byte stream that pauses the socket while its queue is full,
 * and a sink whose writes wait for `drain`. Closing ends the socket, then
 * destroys it once its writes are flushed.
 *
 * @param socket A connected socket.
 * @returns The stream pair over it.
 * @example
 * ```ts ignore
 * import { connect } from "node:net";
 * import { socketStreams } from "@umqtt/umqtt/node";
 * const pair = socketStreams(connect({ host: "127.0.0.1", port: 1883 }));
 * ```
 */
export function socketStreams(socket: Duplex): StreamPair {
  let done = false; // the readable side was closed, errored or cancelled
  let gone = false; // by the peer: what is written can no longer arrive
  let ending: Promise<void> | undefined;
  const end = () => ending ??= endSocket(socket, gone);
  let ctl: ReadableByteStreamController;
  const readable = new ReadableStream({
    type: "bytes",
    start(c) {
      ctl = c;
      const finish = (e?: unknown) => {
        if (done) return;
        done = gone = true;
        if (e !== undefined) return c.error(e);
        c.close();
        // A pending BYOB read is answered only by respond(0), not by close().
        c.byobRequest?.respond(0);
      };
      socket.on("data", (chunk: Uint8Array) => {
        // After cancel() the socket still reads until the peer's FIN; what
        // comes is dropped (enqueue on a closed stream throws).
        if (done) return;
        // A copy: enqueue transfers the buffer, and Node may share it.
        c.enqueue(new Uint8Array(chunk));
        if ((c.desiredSize ?? 0) <= 0) socket.pause();
      });
      socket.once("end", () => finish());
      socket.on("error", (e) => finish(named(e)));
      socket.once("close", () => finish());
    },
    pull: () => void socket.resume(),
    cancel() {
      done = true;
      // Bun before 1.4 leaves a pending BYOB read unsettled by cancel() (disconnect() hung).
      ctl.byobRequest?.respond(0);
      socket.resume(); // keep reading, so the peer's FIN is seen and the socket closes
      return end();
    },
  }, { highWaterMark: 65_536 });
  const writable = new WritableStream<Uint8Array>({
    write: (chunk) => writeSocket(socket, chunk),
    close: end,
    abort: () => void socket.destroy(),
  });
  return {
    readable: readable as ReadableStream<Uint8Array>,
    writable,
    close: end,
  };
}
