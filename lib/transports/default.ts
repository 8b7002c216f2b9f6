/**
 * The default connector: where the client connects when no `transport` is
 * given, and with which runtime's sockets. Runtime modules load lazily, so
 * that no runtime ever loads another's.
 *
 * @module
 */
import { type Endpoint, webSocketUrl } from "./endpoint.ts";
import { lazy } from "./_lazy.ts";
import type { SslParams, StreamPair } from "./types.ts";
export { type Endpoint, endpointUrl, parseServer, webSocketUrl } from "./endpoint.ts";

/**
 * Opens a connection to `endpoint` with the sockets of the runtime this runs
 * in: `Deno.connect` in Deno, `node:net`/`node:tls` in Bun and Node,
 * `cloudflare:sockets` in Workers, and the global `WebSocket` for `ws`/`wss`.
 * Each adapter is imported only when it is used.
 *
 * @param endpoint Where to connect.
 * @param ssl_params TLS parameters.
 * @param signal Aborting it gives up a connection still opening.
 * @returns The connection as a stream pair.
 * @throws {TypeError} Plain MQTT in a browser, or WebSocket where there is no global `WebSocket`.
 * @example
 * ```ts ignore
 * import { connectDefault, parseServer } from "./default.ts";
 * const pair = await connectDefault(parseServer("mqtt://127.0.0.1", 0, false), {});
 * ```
 */
export function connectDefault(
  endpoint: Endpoint,
  ssl_params: SslParams,
  signal?: AbortSignal,
): Promise<StreamPair> {
  // Promise chains, not async functions: each of those would be one more
  // promise and generator per connection opened.
  if (endpoint.scheme === "ws" || endpoint.scheme === "wss") {
    return webSocket().then((m) => m.connectWebSocket(webSocketUrl(endpoint), { signal }));
  }
  const m = tcp.loaded;
  return m
    ? m.connectTcp(endpoint, ssl_params, signal)
    : tcp().then((m) => m.connectTcp(endpoint, ssl_params, signal));
}

const webSocket = lazy(() => import("./websocket.ts"));
// TCP: which sockets depends on the runtime, told apart at run time by
// _tcp.ts; the npm build turns this specifier into "#tcp", which resolves
// by condition instead (scripts/build_npm.ts). A browser never loads it.
const tcp = lazy(() => import("./_tcp.ts"));
