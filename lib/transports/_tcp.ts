// The default connector's TCP half, loaded on first use so that a browser
// bundle, which only ever connects over WebSocket, carries none of it.
import type { Endpoint } from "./endpoint.ts";
import type { SslParams, StreamPair } from "./types.ts";

/** The runtime this code runs in, as far as picking sockets goes. */
function runtime(): "deno" | "bun" | "workerd" | "node" | "browser" {
  const g = globalThis as Record<string, unknown> & {
    navigator?: { userAgent?: string };
    process?: { versions?: { node?: string } };
  };
  if ("Deno" in g) return "deno";
  if ("Bun" in g) return "bun";
  if (g.navigator?.userAgent === "Cloudflare-Workers") return "workerd";
  if (g.process?.versions?.node !== undefined) return "node";
  return "browser";
}

/** Opens TCP (or TLS) to `endpoint` with this runtime's sockets, each adapter imported when used. */
export async function connectTcp(
  endpoint: Endpoint,
  ssl_params: SslParams,
  signal?: AbortSignal,
): Promise<StreamPair> {
  const { hostname, port, ssl } = endpoint;
  const options = { hostname, port, ssl, ssl_params, signal };
  // One case per runtime, each with its own import(), so that a bundler
  // makes each adapter a chunk of its own.
  switch (runtime()) {
    case "deno": {
      const { connectDeno } = await import("./deno.ts");
      return await connectDeno(options);
    }
    case "bun": {
      const { connectBun } = await import("./bun.ts");
      return await connectBun(options);
    }
    case "node": {
      const { connectNode } = await import("./node.ts");
      return await connectNode(options);
    }
    case "workerd": {
      const { connectCloudflare } = await import("./cloudflare.ts");
      return await connectCloudflare(options);
    }
  }
  throw new TypeError(
    `Cannot connect to mqtt${
      ssl ? "s" : ""
    }://${hostname}:${port} here: a browser has no TCP sockets; use a ws:// or wss:// URL, or pass the transport option`,
  );
}
