// The default connector's TCP under Deno: Deno.connect (+ startTls) / connectTls.
// Imported by _tcp.ts when it finds itself in Deno, and what "#tcp" resolves
// to under the `deno` condition in the npm package.
import { connectDeno } from "./deno.ts";
import type { Endpoint } from "./endpoint.ts";
import type { SslParams, StreamPair } from "./types.ts";

/** Opens TCP (or TLS) to `endpoint` with Deno's own sockets. */
export function connectTcp(
  endpoint: Endpoint,
  ssl_params: SslParams,
  signal?: AbortSignal,
): Promise<StreamPair> {
  // The endpoint's scheme and path go along, unread.
  return connectDeno({ ...endpoint, ssl_params, signal });
}
