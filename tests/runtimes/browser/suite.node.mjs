// The browser suite: headless Chromium (Debian's, driven by playwright-core)
// runs browser/suite.js, the library's TypeScript source bundled as a page
// script, against a mosquitto this file runs itself so that it can kill,
// restart, SIGSTOP and SIGCONT it between a scenario's steps (the page asks
// through `broker(command)`, exposed to it). Started by tests/runtimes/run.ts,
// which gives UMQTT_SUITE_PAGE (the built page's folder), UMQTT_MOSQUITTO (its
// binary) and UMQTT_CERTS (a folder holding ca.pem, server.pem, server.key:
// a CA Chromium does not trust, for the wss:// listener).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { serve } from "./_serve.mjs";
import { connect, createServer as createTcpServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
// Computed: `deno check tests/` reads this file too, and cannot resolve the
// dev folder's packages; Node resolves them from tests/runtimes/node_modules.
const { chromium } = await import(String("playwright-core"));
const { WebSocketServer } = await import(String("ws"));

const pageDir = process.env.UMQTT_SUITE_PAGE;
const certs = process.env.UMQTT_CERTS;
const KEEPALIVE = 2;

/**
 * A port nothing listens on now, as tests/_brokers.ts picks them: drawn at
 * random below Linux's ephemeral range (32768+), so no outgoing connection
 * takes it before mosquitto binds it; probed with a listen, then closed.
 * Never one this file was given before, so one broker's three listeners
 * cannot be handed the same port (each probe closes before the next).
 */
async function freePort() {
  for (let i = 0; i < 100; i++) {
    const port = 20000 + Math.floor(Math.random() * 12000);
    if (handedOut.has(port)) continue;
    const free = await new Promise((resolve) => {
      const s = createTcpServer();
      s.once("error", () => resolve(false));
      s.listen(port, "127.0.0.1", () => s.close(() => resolve(true)));
    });
    if (free) return handedOut.add(port), port;
  }
  throw new Error("no free port found in 20000-31999 on 127.0.0.1");
}
const handedOut = new Set();

function accepts(port) {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => socket.destroy(resolve(true)));
    socket.once("error", () => resolve(false));
  });
}

/**
 * A mosquitto with a WebSocket listener, and a TLS one (wss://), that this
 * file controls: kill (SIGKILL), restart on the same ports, stop (SIGSTOP),
 * cont (SIGCONT).
 */
async function mosquitto() {
  const dir = mkdtempSync(join(tmpdir(), "umqtt-browser-"));
  // Started as root, mosquitto drops to user `mosquitto`, which must read these.
  chmodSync(dir, 0o755);
  const tcp = await freePort(), ws = await freePort(), wss = await freePort();
  const copy = (name) => {
    writeFileSync(join(dir, name), readFileSync(join(certs, name)));
    chmodSync(join(dir, name), 0o644);
    return join(dir, name);
  };
  const conf = join(dir, "mosquitto.conf");
  writeFileSync(
    conf,
    [
      "persistence false",
      "log_dest stderr",
      "log_type error",
      "allow_anonymous true",
      // mosquitto 2.0.11 exits ("Unable to start any listening sockets") with
      // no MQTT listener; and its TLS WebSocket listener fails to start
      // without a cafile (checked).
      `listener ${tcp} 127.0.0.1`,
      `listener ${ws} 127.0.0.1`,
      "protocol websockets",
      `listener ${wss} 127.0.0.1`,
      "protocol websockets",
      `cafile ${copy("ca.pem")}`,
      `certfile ${copy("server.pem")}`,
      `keyfile ${copy("server.key")}`,
    ].join("\n") + "\n",
  );
  chmodSync(conf, 0o644);
  let child, stderr = "";
  const start = async () => {
    child = spawn(process.env.UMQTT_MOSQUITTO ?? "mosquitto", ["-c", conf], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    child.stderr.on("data", (d) => stderr += d);
    for (let i = 0; !(await accepts(ws) && await accepts(wss)); i++) {
      if (child.exitCode !== null || i > 500) {
        throw new Error(`mosquitto did not start: ${stderr}`);
      }
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  const exit = () =>
    child.exitCode !== null || child.signalCode !== null
      ? Promise.resolve()
      : new Promise((r) => child.once("exit", r));
  const kill = async () => {
    child.kill("SIGKILL");
    await exit();
  };
  await start();
  process.once("exit", () => child.kill("SIGKILL"));
  return {
    wsUrl: `ws://127.0.0.1:${ws}`,
    wssUrl: `wss://127.0.0.1:${wss}`,
    commands: {
      kill,
      restart: start,
      stop: () => child.kill("SIGSTOP"),
      cont: () => child.kill("SIGCONT"),
    },
    async close() {
      child.kill("SIGCONT");
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

let browser, site, broker;
before(async () => {
  broker = await mosquitto();
  site = await serve(pageDir);
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    // --no-sandbox: CI runs as root, where Chromium's sandbox cannot start.
    args: [
      "--no-sandbox",
      "--disable-background-networking",
      "--disable-dev-shm-usage",
    ],
  });
});
after(async () => {
  await browser?.close();
  await site?.stop();
  await broker?.close();
});

/**
 * Runs `suite[name](arg)` in a fresh page, which may call `broker(command)`;
 * returns its result. Any uncaught error in the page fails the test. The page
 * comes from `on` (a served site), in `context` (a browser context).
 */
async function inPage(name, arg, on = site, context = browser) {
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on(
    "console",
    (m) => m.type() === "error" || console.log(`${name}:`, m.text()),
  );
  try {
    await page.exposeFunction(
      "broker",
      (command) => broker.commands[command](),
    );
    await page.goto(`${on.origin}/index.html`);
    await page.waitForFunction(() => globalThis.ready === true);
    const result = await page.evaluate(([n, a]) => globalThis.suite[n](a), [
      name,
      arg,
    ]);
    assert.deepEqual(errors, []);
    console.log(`${name}:`, JSON.stringify(result).slice(0, 600));
    return result;
  } finally {
    await page.close();
  }
}

test("robust client: QoS 1 publishes made while the broker is killed arrive once it is back, each once, in order", async () => {
  const offline = 50;
  const r = await inPage("robustRestart", { ws: broker.wsUrl, offline });
  assert.equal(r.lostWith.mqttConnectionError, true);
  assert.ok(r.events.reconnecting >= 1, "a reconnecting event");
  assert.ok(r.events.connected >= 2, "connected again");
  // Never written before the broker came back: each exactly once (no DUP), in order.
  assert.deepEqual(
    r.received.map((m) => m.n),
    Array.from({ length: offline + 1 }, (_, i) => i),
  );
  assert.ok(r.received.every((m) => m.qos === 1 && !m.dup));
  assert.equal(r.connected, false);
});

test("robust client: the broker killed with QoS 1 publishes in flight: each resolves, each unacknowledged one reaches the client's own renewed subscription", async () => {
  const r = await inPage("robustKillInFlight", {
    ws: broker.wsUrl,
    count: 20,
    size: 4096,
  });
  assert.ok(r.unacked > 0, "the kill came while publishes were in flight");
  assert.deepEqual(r.rejected, []);
  assert.ok(r.reconnecting >= 1);
  assert.deepEqual(r.missing, []);
});

test("MQTT 5 over WebSocket: properties round-trip, QoS 2 both ways, request/response", async () => {
  const r = await inPage("mqtt5", { ws: broker.wsUrl });
  assert.deepEqual(r.granted, [2, 2]);
  assert.deepEqual(r.request, {
    topic: r.toB,
    payload: '{"q":1}',
    qos: 2,
    dup: false,
    contentType: "application/json; charset=utf-8",
    responseTopic: r.toA,
    correlationData: [0, 1, 2, 255],
    userProperties: [["k", "v1"], ["k", "v2"], ["ünï", "cödé ✓"]],
    payloadFormatIndicator: true,
    hasExpiry: true,
  });
  assert.equal(r.reply.topic, r.toA);
  assert.equal(r.reply.payload, "pong");
  assert.equal(r.reply.qos, 2);
  assert.deepEqual(r.reply.correlationData, [0, 1, 2, 255]);
  assert.equal(r.answer, "re:hello");
});

test("messages() iterates; AbortSignal ends wait_msg() and messages() with its reason, nothing lost", async () => {
  const r = await inPage("iterationAndAbort", { ws: broker.wsUrl });
  assert.deepEqual(r.iterated, ["0", "1", "2"]);
  assert.deepEqual(r.rest, ["3", "4"]);
  assert.equal(r.aborted.ok, false);
  assert.equal(r.aborted.error.name, "AbortError");
  assert.equal(r.aborted.error.message, "user went away");
  assert.equal(r.timedOut.ok, false);
  assert.equal(r.timedOut.error.name, "AbortError");
  assert.equal(r.loopEnd.ok, false);
  assert.equal(r.loopEnd.error.message, "stop iterating");
  assert.equal(r.after, "after");
  assert.deepEqual(r.ended, { ok: true, value: "ended" });
});

test(`a broker that stops answering (SIGSTOP) is found by the keepalive (${KEEPALIVE} s)`, async () => {
  const r = await inPage("deadBroker", {
    ws: broker.wsUrl,
    keepalive: KEEPALIVE,
  });
  console.log(
    `dead broker noticed after ${r.ms} ms (disconnected event ${r.eventMs} ms), keepalive ${KEEPALIVE} s`,
  );
  assert.equal(r.result.ok, false);
  assert.equal(r.result.error.mqttConnectionError, true);
  assert.match(
    r.result.error.message,
    /no answer to PINGREQ within \d+ ms \(keepalive 2 s\)/,
  );
  assert.equal(r.publish.ok, false);
  assert.equal(r.publish.error.mqttConnectionError, true);
  assert.equal(r.connected, false);
});

test("connect() errors a browser user meets say what failed", async (t) => {
  const closed = await freePort();
  // A WebSocket server that agrees to no subprotocol (ws: handleProtocols returning false).
  const noMqtt = createServer();
  const wss = new WebSocketServer({
    server: noMqtt,
    handleProtocols: () => false,
  });
  const http = createServer((_, res) => res.end("a web page, not a WebSocket"));
  for (const s of [noMqtt, http]) {
    await new Promise((r) => s.listen(0, "127.0.0.1", r));
  }
  const cases = {
    "nothing listens": `ws://127.0.0.1:${closed}`,
    "a WebSocket server that does not select subprotocol mqtt":
      `ws://127.0.0.1:${noMqtt.address().port}`,
    "a plain HTTP server": `ws://127.0.0.1:${http.address().port}`,
    "wss:// with a certificate Chromium does not trust": broker.wssUrl,
  };
  try {
    for (const [what, url] of Object.entries(cases)) {
      await t.test(what, { timeout: 20_000 }, async () => {
        const r = await inPage("connectError", { url });
        assert.equal(r.ok, false);
        assert.equal(r.connected, false);
        assert.equal(
          r.error.mqttConnectionError,
          true,
          JSON.stringify(r.error),
        );
        assert.ok(r.error.message.includes(url), r.error.message);
        // Chromium tells the page nothing of why (only its console does): the
        // message must name what to look for.
        assert.match(r.error.message, /nothing listens/);
        assert.match(r.error.message, /subprotocol "mqtt"/);
        assert.match(r.error.message, /console/);
        if (url.startsWith("wss:")) {
          assert.match(r.error.message, /certificate/);
        }
      });
    }
  } finally {
    wss.close();
    for (const s of [noMqtt, http]) await new Promise((r) => s.close(r));
  }
});

// A page served over https:// may open no ws:// WebSocket to another host:
// Chromium's constructor throws a SecurityError (mixed content), every time.
// Before, the robust client retried it for ever.
test("a page over https:// given ws:// servers: the robust client stops after one round", async () => {
  const secure = await serve(pageDir, {
    cert: readFileSync(join(certs, "server.pem")),
    key: readFileSync(join(certs, "server.key")),
  });
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  try {
    const urls = ["ws://broker.invalid:8080", "ws://broker2.invalid"];
    const r = await inPage("refused", { urls }, secure, context);
    assert.equal(r.ok, false);
    assert.equal(r.attempts, 2, "one round of the list, each server once");
    assert.equal(r.error.mqttConnectionError, true, JSON.stringify(r.error));
    assert.match(
      r.error.message,
      /^Cannot connect to broker2\.invalid:80: .*insecure WebSocket/,
    );
  } finally {
    await context.close();
    await secure.stop();
  }
});

// mosquitto 2.0.11's WebSocket listener (Debian's) sends a client about one
// message per poll tick, ~40 ms, whatever the client does (measured here:
// 2000 of these took 80 s to arrive, with max_inflight_messages 0 and
// set_tcp_nodelay too; eclipse-mosquitto/mosquitto#2252). So all 2000 go to
// the broker, which acknowledges each, and the page's second client takes
// one topic in EVERY: 100 messages, which must come in order and intact.
const BURST = 2000, EVERY = 20;
test(`a burst of ${BURST} QoS 1 publishes of 8 KB, made at once: bufferedAmount stays bounded, all acknowledged, delivered in order`, async () => {
  const r = await inPage("burst", {
    ws: broker.wsUrl,
    count: BURST,
    size: 8192,
    every: EVERY,
  });
  assert.equal(r.acknowledged, BURST);
  assert.deepEqual(
    r.seen,
    Array.from({ length: BURST / EVERY }, (_, i) => i * EVERY),
  );
  assert.equal(r.bad, 0);
  // The adapter waits while more than its highWaterMark (1 MiB) is buffered:
  // what one write adds on top is at most a batch of the writer's (64 KiB).
  assert.ok(r.maxBuffered > 0, "the burst queued bytes in the WebSocket");
  assert.ok(
    r.maxBuffered <= (1 << 20) + 65_536 + 14,
    `bufferedAmount reached ${r.maxBuffered}`,
  );
});
