/**
 * The built-in transport under Deno: TCP through `Deno.connect`, TLS through
 * `Deno.connect` then `Deno.startTls`, or `Deno.connectTls` when a client
 * certificate is given (`Deno.startTls` cannot present one).
 *
 * @module
 */
import { abortable } from "../_abort_waits.ts";
import { LINGERING } from "../_uncancelled.ts";
import { explainReset, explainTls, refusedParams } from "./_tls_errors.ts";
import { hostPort } from "./endpoint.ts";
import type { SslParams, StreamPair } from "./types.ts";

/** Where and how {@linkcode connectDeno} connects. */
export interface DenoConnectOptions {
  /** Host name or IP address to connect to. */
  hostname: string;
  /** TCP port. */
  port: number;
  /** Use TLS. */
  ssl: boolean;
  /** TLS parameters (MicroPython names). */
  ssl_params: SslParams;
  /** Aborting it gives up a connection still opening (closed if it opens later). */
  signal?: AbortSignal;
}

/**
 * Opens a TCP or TLS connection with Deno's own sockets. A `Deno.Conn` is
 * itself a {@linkcode StreamPair}.
 *
 * @param options Address, port and TLS settings.
 * @returns The open connection.
 * @throws {TypeError} When `server_hostname` differs from the address and a
 * client certificate is given: `Deno.startTls` cannot present one.
 *
 * @example
 * ```ts ignore
 * // Internal: the default connector uses it under Deno (not a public entry point).
 * import { connectDeno } from "./deno.ts";
 * const conn = await connectDeno({ hostname: "127.0.0.1", port: 1883, ssl: false, ssl_params: {} });
 * await conn.close?.();
 * ```
 */
export async function connectDeno(options: DenoConnectOptions): Promise<StreamPair> {
  const { hostname, port, ssl, ssl_params: p, signal } = options;
  // Plain: a reset before the broker's first byte is explained (a TLS listener?).
  if (!ssl) {
    return explainFirstRead(await connectDenoTcp(hostname, port, signal), explainReset, options);
  }
  signal?.throwIfAborted();
  const tls = connectDenoTls(hostname, port, p, signal);
  let conn: Deno.TlsConn | undefined, hs: Promise<unknown> | undefined;
  try {
    conn = await abortable(tls, signal);
    // Handshake now, so that a refused certificate fails the connect (as under node:tls).
    await abortable(hs = conn.handshake(), signal);
  } catch (e) {
    // Given up: Deno's TLS cannot be cancelled (closing it waits for the handshake, which ends
    // when the server answers or closes), so it goes on; the client keeps or drops it.
    if (signal?.aborted) linger(signal, tls, hs);
    else close(conn);
    throw signal?.aborted ? signal.reason : refusedParams(explainTls(e));
  }
  // TLS 1.3: the broker refuses our certificate (or its absence) after the
  // handshake, in an alert the first read meets.
  return explainFirstRead(conn, explainTls, options);
}

const close = (conn?: Deno.Conn) => {
  try {
    conn?.close();
  } catch { /* closed already */ }
};

/**
 * Registers what the abort of `signal` leaves of `tls` (its handshake `hs`,
 * if begun): a handshake that ends, and closes, when the server answers or
 * closes, unless dropped first (see lib/_uncancelled.ts).
 */
function linger(signal: AbortSignal, tls: Promise<Deno.TlsConn>, hs?: Promise<unknown>): void {
  let conn: Deno.TlsConn | undefined, dropped = false;
  const end = () => close(conn);
  const ended = tls.then((c) => (conn = c, dropped ? 0 : hs ?? c.handshake())).then(end, end);
  LINGERING.set(signal, { ended, drop: () => (dropped = true, end()) });
}

/**
 * `conn` with the failure of its first read explained by `explain`; then
 * reads go straight to the connection's own method again. `host:port` is
 * made only for an explanation.
 */
function explainFirstRead<C extends Deno.Conn>(
  conn: C,
  explain: (e: unknown, where: string) => unknown,
  { hostname, port }: DenoConnectOptions,
): C {
  const read = conn.read;
  // Put back, not deleted: a property deleted turns the connection into a
  // dictionary-mode object, 0.8 KB more per idle connection.
  conn.read = (buf) =>
    read.call(conn, buf).then((n) => {
      conn.read = read;
      return n;
    }, (e) => Promise.reject(explain(e, hostPort(hostname, port))));
  return conn;
}

/**
 * How long after the abort a TCP connect still under way may complete (its
 * connection is then closed) before Deno is told to cancel it.
 */
const CANCEL_AFTER_MS = 250;
const ONCE = { once: true } as const;

/**
 * {@linkcode openDenoTcp} with Nagle's algorithm off, as node.ts has it: a
 * small write (a PUBLISH after a PUBACK) must not wait for the broker's
 * delayed ACK, ~40 ms per round trip. A TLS connection `Deno.startTls` makes
 * of it keeps the option, which it cannot set itself.
 */
async function connectDenoTcp(
  hostname: string,
  port: number,
  signal: AbortSignal | undefined,
): Promise<Deno.TcpConn> {
  const conn = await openDenoTcp(hostname, port, signal);
  conn.setNoDelay(true);
  return conn;
}

/**
 * `Deno.connect`, given up when `signal` aborts: rejects with its reason, and
 * only once the connection is closed, if it opened.
 *
 * `signal` is not handed to `Deno.connect` itself: Deno (2.9) checks its
 * signal once more after the connection has opened (a `finally` that throws),
 * so an abort that lands between the socket opening and `Deno.connect`
 * returning makes it reject with the connection open and out of anyone's
 * reach, a leaked socket (disconnect() during a reconnect attempt). Deno is
 * told to cancel only a connect still pending `CANCEL_AFTER_MS` after the
 * abort (an unreachable host), so that no pending op outlives disconnect().
 */
async function openDenoTcp(
  hostname: string,
  port: number,
  signal: AbortSignal | undefined,
): Promise<Deno.TcpConn> {
  if (!signal) return await Deno.connect({ hostname, port });
  signal.throwIfAborted();
  const cancel = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const onAbort = () => (timer = setTimeout(() => cancel.abort(signal.reason), CANCEL_AFTER_MS));
  signal.addEventListener("abort", onAbort, ONCE);
  let conn: Deno.TcpConn;
  try {
    conn = await Deno.connect({ hostname, port, signal: cancel.signal });
  } finally {
    clearTimeout(timer);
    signal.removeEventListener("abort", onAbort);
  }
  if (signal.aborted) {
    conn.close();
    throw signal.reason;
  }
  return conn;
}

async function connectDenoTls(
  hostname: string,
  port: number,
  p: SslParams,
  signal: AbortSignal | undefined,
): Promise<Deno.TlsConn> {
  const caCerts = p.cadata === undefined ? undefined : [p.cadata];
  const name = p.server_hostname ?? hostname;
  if (p.cert !== undefined && name === hostname) {
    // Deno.connectTls takes no signal: connectDeno gives it up at the abort.
    return await Deno.connectTls({ hostname, port, caCerts, cert: p.cert, key: p.key });
  }
  if (p.cert !== undefined) {
    throw new TypeError(
      "Invalid ssl_params: Deno.startTls cannot present a client certificate (cert) with a server_hostname other than the host connected to",
    );
  }
  const tcp = await connectDenoTcp(hostname, port, signal);
  try {
    return await Deno.startTls(tcp, { hostname: name, caCerts });
  } catch (e) {
    try {
      tcp.close();
    } catch { /* startTls consumed it */ }
    throw e;
  }
}
