// The default connector's TCP half as the source has it (JSR, Deno, Bun, a
// bundle of the TypeScript): the runtime is told apart at run time, and only
// its module is imported. Every specifier is a literal, so that `deno
// publish` and bundlers see each one; a bundler for the browser needs
// `node:*` and `cloudflare:*` marked external, which code that never runs
// there then leaves unloaded. The npm package replaces this module's import
// in default.ts by "#tcp", which package.json's `imports` resolves by
// condition straight to one of the modules below (scripts/build_npm.ts).
import type { Endpoint } from "./endpoint.ts";
import { connectTcp as noTcp } from "./_tcp_none.ts";
import { lazy } from "./_lazy.ts";
import { WORKERD } from "../_abort_waits.ts";
import type { SslParams, StreamPair } from "./types.ts";

/**
 * The loader of this runtime's TCP module: Deno's, Node's (for Bun too),
 * workerd's; none in a browser.
 */
function runtimeTcp(): typeof deno | undefined {
  const g = globalThis as Record<string, unknown> & { process?: { versions?: { node?: string } } };
  if ("Deno" in g) return deno;
  if ("Bun" in g) return node;
  if (WORKERD) return workerd;
  if (g.process?.versions?.node !== undefined) return node;
}

/** Opens TCP (or TLS) to `endpoint` with this runtime's sockets, importing only its module. */
export function connectTcp(
  endpoint: Endpoint,
  ssl_params: SslParams,
  signal?: AbortSignal,
): Promise<StreamPair> {
  const load = runtimeTcp(), m = load?.loaded;
  if (m) return m.connectTcp(endpoint, ssl_params, signal);
  return load ? load().then((m) => m.connectTcp(endpoint, ssl_params, signal)) : noTcp(endpoint);
}

// One import() each, so that a bundler that splits code makes each
// runtime's module a chunk of its own.
const deno = lazy(() => import("./_tcp_deno.ts"));
const node = lazy(() => import("./_tcp_node.ts"));
const workerd = lazy(() => import("./_tcp_workerd.ts"));
