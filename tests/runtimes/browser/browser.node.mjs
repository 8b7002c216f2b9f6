// Headless Chromium (Debian's, driven by playwright-core) loads pages that
// bundle the library with browser/main.js and run the smoke scenario over
// WebSocket. Started by tests/runtimes/run.ts, which gives UMQTT_WS_URL (a
// mosquitto WebSocket listener) and UMQTT_PAGES: a JSON list of { name, dir,
// npm }, each dir a built page (index.html and its scripts), served at the
// root of an origin of its own. The npm package's builds must hold no TCP
// code at all: the `browser` condition gives them the module that only says
// a browser has no TCP sockets.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { serve } from "./_serve.mjs";
import { join } from "node:path";
// Computed: `deno check tests/` reads this file too, and cannot resolve the
// dev folder's packages; Node resolves them from tests/runtimes/node_modules.
const { chromium } = await import(String("playwright-core"));

const pages = JSON.parse(process.env.UMQTT_PAGES);
// What each TCP adapter leaves in a minified bundle: the modules it imports
// and the property names of the runtime APIs it calls.
const tcpMarks = [
  "node:net",
  "node:tls",
  "cloudflare:sockets",
  "Deno.connect",
  "secureTransport",
];

/** Every script a page's folder holds, as one string. */
function scripts(dir) {
  return readdirSync(dir, { recursive: true })
    .filter((p) => p.endsWith(".js"))
    .map((p) => readFileSync(join(dir, p), "utf8"))
    .join("\n");
}

for (const { name, dir } of pages.filter((p) => p.npm)) {
  test(`${name}: no TCP adapter, no node: or cloudflare: module in the bundle`, () => {
    const code = scripts(dir);
    for (const mark of tcpMarks) {
      assert.ok(!code.includes(mark), `${name} holds ${mark}`);
    }
  });
}

/** Headless Chromium. */
function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    // --no-sandbox: CI runs as root, where Chromium's sandbox cannot start.
    args: [
      "--no-sandbox",
      "--disable-background-networking",
      "--disable-dev-shm-usage",
    ],
  });
}

// The pages run at once: mosquitto's WebSocket listener is slow with the
// smoke's 64 KiB messages (~1.5 s each), and each page has topics of its own.
test("Chromium: each bundle round-trips over WebSocket with mosquitto", {
  concurrency: true,
}, async (t) => {
  const browser = await launch();
  try {
    await Promise.all(pages.map(({ name, dir }) =>
      t.test(name, async () => {
        const { origin, stop } = await serve(dir);
        const page = await browser.newPage();
        try {
          const errors = [];
          page.on("pageerror", (e) => errors.push(String(e)));
          page.on("console", (m) => console.log(`${name}:`, m.text()));
          const ws = encodeURIComponent(process.env.UMQTT_WS_URL);
          await page.goto(`${origin}/index.html?ws=${ws}`);
          await page.waitForFunction(() => globalThis.result !== undefined);
          const result = await page.evaluate(() => globalThis.result);
          assert.deepEqual(errors, []);
          const { tcp, ...smoke } = result;
          assert.deepEqual(smoke, {
            ok: true,
            received: 3,
            bytes: 256 + 2 * 65536,
          });
          assert.match(
            tcp,
            /mqtt:\/\/127\.0\.0\.1:1883 here: a browser has no TCP sockets; use a ws:\/\//,
          );
        } finally {
          await page.close();
          await stop();
        }
      })
    ));
  } finally {
    await browser.close();
  }
});

test("Chromium, a split bundle: the transport's chunk failing to load once is a failed attempt, which the robust client retries", async () => {
  // A browser rejects a failed import() with a TypeError, which the client took for one of its
  // own (a transport refusing its arguments): reconnect() gave up for good on a flaky network.
  const { origin, stop } = await serve(process.env.UMQTT_SPLIT_PAGE);
  const browser = await launch();
  try {
    const page = await browser.newPage();
    const fetched = [];
    await page.route(/\/websocket-[^/]*\.js$/, (route) => {
      fetched.push(new URL(route.request().url()).pathname);
      return fetched.length === 1 ? route.abort("internetdisconnected") : route.continue();
    });
    await page.goto(`${origin}/index.html`);
    await page.waitForFunction(() => typeof globalThis.reconnect === "function");
    const ws = process.env.UMQTT_WS_URL;
    const result = await page.evaluate((url) => globalThis.reconnect(url), ws);
    assert.equal(result.error, undefined);
    assert.equal(fetched.length, 2, `the chunk fetched twice: ${fetched}`);
    assert.equal(result.connected, true);
    assert.equal(result.failed.length, 1, String(result.failed));
    assert.match(result.failed[0], /^MQTTConnectionError: .*websocket-/);
  } finally {
    await browser.close();
    await stop();
  }
});
