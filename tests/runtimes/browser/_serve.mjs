// The static server the Chromium tests load their built pages from.
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import { createServer as createTlsServer } from "node:https";
import { extname, join } from "node:path";

const types = { ".html": "text/html", ".js": "text/javascript" };

/**
 * Serves `dir` on a free 127.0.0.1 port (a page at the root, as Vite builds it
 * by default); resolves with its origin and a stop function. Over https with
 * `tls` (a certificate for 127.0.0.1 and its key).
 * @param {string} dir
 * @param {{ cert: Buffer, key: Buffer }} [tls]
 * @returns {Promise<{ origin: string, stop: () => Promise<void> }>}
 */
export function serve(dir, tls) {
  const make = tls ? (f) => createTlsServer(tls, f) : createServer;
  const server = make((req, res) => {
    const path = new URL(req.url, "http://x").pathname;
    if (path === "/favicon.ico") return res.writeHead(204).end();
    let body;
    try {
      body = !path.includes("..") && readFileSync(join(dir, path));
    } catch { /* not found */ }
    res.writeHead(body ? 200 : 404, {
      "content-type": types[extname(path)] ?? "text/plain",
    });
    res.end(body || undefined);
  });
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () =>
      resolve({
        // A loopback origin: Chromium's Local Network Access checks block a
        // public origin, and a route-intercepted one, from ws://127.0.0.1.
        origin: `http${tls ? "s" : ""}://127.0.0.1:${server.address().port}`,
        stop: () => new Promise((r) => server.close(r)),
      }))
  );
}
