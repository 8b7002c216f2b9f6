// The default connector's TCP in Cloudflare Workers: connect() from
// cloudflare:sockets. Imported by _tcp.ts when it finds itself in workerd,
// and what "#tcp" resolves to under the `workerd` condition in the npm
// package, so that a Worker bundle holds no node:net.
import { connectCloudflare } from "./cloudflare.ts";
import type { Endpoint } from "./endpoint.ts";
import type { SslParams, StreamPair } from "./types.ts";

/** Opens TCP (or TLS) to `endpoint` with `cloudflare:sockets`. */
export function connectTcp(
  endpoint: Endpoint,
  ssl_params: SslParams,
  signal?: AbortSignal,
): Promise<StreamPair> {
  // The endpoint's scheme and path go along, unread.
  return connectCloudflare({ ...endpoint, ssl_params, signal });
}
