// The default connector's TCP under Node and Bun: node:net / node:tls.
// Imported by _tcp.ts when it finds itself in either, and what "#tcp"
// resolves to under the `node` and `bun` conditions in the npm package.
import type { Endpoint } from "./endpoint.ts";
import { connectNode } from "./node.ts";
import type { SslParams, StreamPair } from "./types.ts";

/** Opens TCP (or TLS) to `endpoint` with `node:net` / `node:tls`. */
export function connectTcp(
  endpoint: Endpoint,
  ssl_params: SslParams,
  signal?: AbortSignal,
): Promise<StreamPair> {
  // The endpoint's scheme and path go along, unread.
  return connectNode({ ...endpoint, ssl_params, signal });
}
