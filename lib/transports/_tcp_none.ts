// The default connector's TCP where there are no TCP sockets (a browser page,
// a web worker): it says so. Used by _tcp.ts when it finds no runtime with
// sockets, and what "#tcp" resolves to under the `browser` condition in the
// npm package, so that a browser bundle carries no TCP adapter at all.
import type { Endpoint } from "./endpoint.ts";
import type { SslParams, StreamPair } from "./types.ts";

/** Rejects with a `TypeError` that asks for a `ws://` or `wss://` URL. */
export function connectTcp(
  endpoint: Endpoint,
  _ssl_params?: SslParams,
  _signal?: AbortSignal,
): Promise<StreamPair> {
  const { hostname, port, ssl } = endpoint;
  return Promise.reject(
    new TypeError(
      `Cannot connect to mqtt${
        ssl ? "s" : ""
      }://${hostname}:${port} here: a browser has no TCP sockets; use a ws:// or wss:// URL, or pass the transport option`,
    ),
  );
}
