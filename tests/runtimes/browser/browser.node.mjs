// Headless Chromium (Debian's, driven by playwright-core) loads a page that
// imports the bundled library and runs the smoke scenario over WebSocket.
// Started by tests/runtimes/run.ts, which gives UMQTT_WS_URL (a mosquitto
// WebSocket listener) and UMQTT_BUNDLE (the browser bundle of mod.ts).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
// Computed: `deno check tests/` reads this file too, and cannot resolve the
// dev folder's packages; Node resolves them from tests/runtimes/node_modules.
const { chromium } = await import(String("playwright-core"));

const here = new URL("./", import.meta.url);
const files = {
  "/index.html": ["text/html", readFileSync(new URL("index.html", here))],
  "/umqtt.js": ["text/javascript", readFileSync(process.env.UMQTT_BUNDLE)],
  "/_smoke.mjs": [
    "text/javascript",
    readFileSync(new URL("../_smoke.mjs", here)),
  ],
};

/** Serves `files` on a free 127.0.0.1 port; resolves with its origin and a stop function. */
function serve() {
  const server = createServer((req, res) => {
    const file = files[new URL(req.url, "http://x").pathname];
    if (req.url === "/favicon.ico") return res.writeHead(204).end();
    res.writeHead(file ? 200 : 404, {
      "content-type": file?.[0] ?? "text/plain",
    });
    res.end(file?.[1]);
  });
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () =>
      resolve({
        // A loopback origin: Chromium's Local Network Access checks block a
        // public origin, and a route-intercepted one, from ws://127.0.0.1.
        origin: `http://127.0.0.1:${server.address().port}`,
        stop: () => new Promise((r) => server.close(r)),
      }))
  );
}

test("Chromium: the bundled library round-trips over WebSocket with mosquitto", async () => {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    // --no-sandbox: CI runs as root, where Chromium's sandbox cannot start.
    args: [
      "--no-sandbox",
      "--disable-background-networking",
      "--disable-dev-shm-usage",
    ],
  });
  const { origin, stop } = await serve();
  try {
    const page = await browser.newPage();
    const errors = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    page.on("console", (m) => console.log("page:", m.text()));
    const ws = encodeURIComponent(process.env.UMQTT_WS_URL);
    await page.goto(`${origin}/index.html?ws=${ws}`);
    const result = await page.evaluate(() => globalThis.result);
    assert.deepEqual(errors, []);
    const { tcp, ...smoke } = result;
    assert.deepEqual(smoke, { ok: true, received: 3, bytes: 256 + 2 * 65536 });
    assert.match(
      tcp,
      /mqtt:\/\/127\.0\.0\.1:1883 here: a browser has no TCP sockets; use a ws:\/\//,
    );
  } finally {
    await browser.close();
    await stop();
  }
});
