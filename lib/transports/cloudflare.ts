/**
 * The transport for Cloudflare Workers: `connect()` from
 * `cloudflare:sockets`, whose socket already is a stream pair; `ssl` turns
 * on `secureTransport`. Workers cannot reach port 25, and a connection lives
 * only as long as the request (or Durable Object, or cron run) that opened
 * it: publish from a `fetch` handler, subscribe for a short while.
 *
 * @module
 */
import type { SslParams, StreamPair } from "./types.ts";
export type { SslParams, StreamPair };

/** Where and how {@linkcode connectCloudflare} connects. */
export interface CloudflareConnectOptions {
  /** Host name or IP address to connect to. */
  hostname: string;
  /** TCP port (not 25). */
  port: number;
  /** Use TLS (`secureTransport: "on"`). */
  ssl?: boolean;
  /** Only `server_hostname` absent or equal to `hostname` is possible: Workers verify against the public roots. */
  ssl_params?: SslParams;
  /** Aborting it before the socket opens closes it and rejects. */
  signal?: AbortSignal;
}

interface CloudflareSocket extends StreamPair {
  opened: Promise<unknown>;
  close(): Promise<void>;
}

/**
 * Opens a TCP or TLS connection from a Worker.
 *
 * @param options Address, port and TLS settings.
 * @returns The socket, once open.
 * @throws {TypeError} For `ssl_params` a Worker cannot honour (a CA, a client certificate or key, another name).
 * @throws {Error} The socket's error if it cannot connect.
 *
 * @example
 * ```ts ignore
 * import { MQTTClient } from "@umqtt/umqtt";
 * import { connectCloudflare } from "@umqtt/umqtt/cloudflare";
 * const client = new MQTTClient("worker", "broker.example", {
 *   transport: () => connectCloudflare({ hostname: "broker.example", port: 8883, ssl: true }),
 * });
 * ```
 */
export async function connectCloudflare(
  options: CloudflareConnectOptions,
): Promise<StreamPair> {
  const { hostname, port, ssl = false, ssl_params: p = {}, signal } = options;
  if (
    p.cadata !== undefined || (p.cert ?? p.key) !== undefined ||
    (p.server_hostname !== undefined && p.server_hostname !== hostname)
  ) {
    throw new TypeError(
      "Invalid ssl_params: cloudflare:sockets takes no cadata, cert, key or other server_hostname",
    );
  }
  // Imported when connecting, not at the top: only workerd has this module,
  // and a bundle that holds this file for every runtime (the source's, which
  // picks at run time) must not load it anywhere else.
  const { connect } = (await import("cloudflare:sockets")) as {
    connect(
      address: { hostname: string; port: number },
      o: object,
    ): CloudflareSocket;
  };
  signal?.throwIfAborted();
  const socket = connect({ hostname, port }, {
    secureTransport: ssl ? "on" : "off",
  });
  // workerd settles neither `opened` nor `close()` of a socket whose TLS
  // handshake never ends: an abort rejects at once (below, with its reason).
  let onAbort!: () => void;
  const aborted = new Promise<never>((_, reject) =>
    onAbort = () => (socket.close().catch(() => {}), reject())
  );
  signal?.addEventListener("abort", onAbort, { once: true });
  try {
    await Promise.race([socket.opened, aborted]);
  } catch (e) {
    if (signal?.aborted) throw signal.reason;
    // workerd says why only in its own log: the likely cause, when it is TLS.
    throw ssl
      ? new Error(
        `${
          (e as Error)?.message ?? e
        } (over TLS, the broker's certificate must chain to a public CA and name ${hostname})`,
        { cause: e },
      )
      : e;
  } finally {
    signal?.removeEventListener("abort", onAbort);
  }
  signal?.throwIfAborted();
  return socket;
}
