// The smoke scenario as a user of the npm package runs it: copied (as
// node/smoke.test.mjs, beside ../_smoke.mjs, for bun test) by
// tests/runtimes/run.ts into a fresh project that installed the packed
// tarball, then run with `node --test` (Node 20) and `bun test`. The broker
// comes from run.ts: UMQTT_URL (mqtt://), UMQTT_TLS_URL (mqtts://, its CA in
// the file UMQTT_CA) and UMQTT_WS_URL (ws://).
import { test } from "node:test";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { readFileSync } from "node:fs";
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { MQTTClient } from "@umqtt/umqtt";
import { connectWebSocket } from "@umqtt/umqtt/websocket";
import { encode } from "@umqtt/umqtt/codec";
import { smoke } from "../_smoke.mjs";

// Node 20 has no global WebSocket: take the ws package's, through a computed
// specifier because `deno check tests/` reads this file and has no "ws".
const WebSocket = globalThis.WebSocket ?? (await import(String("ws"))).default;

const runtime = "Bun" in globalThis ? "Bun" : `Node ${process.versions.node}`;

test(`${runtime}: TCP through the default connector`, async () => {
  const result = await smoke((id) => new MQTTClient(id, process.env.UMQTT_URL));
  assert.deepEqual(result, { received: 3, bytes: 256 + 2 * 65536 });
});

test(`${runtime}: TLS through the default connector, with the test CA`, async () => {
  const cadata = readFileSync(process.env.UMQTT_CA, "utf8");
  const result = await smoke((id) =>
    new MQTTClient(id, process.env.UMQTT_TLS_URL, { ssl_params: { cadata } })
  );
  assert.deepEqual(result, { received: 3, bytes: 256 + 2 * 65536 });
  const untrusted = new MQTTClient("npm-untrusted", process.env.UMQTT_TLS_URL);
  await assert.rejects(untrusted.connect(), /certificate/i);
});

test(`${runtime}: WebSocket through the adapter (ws's constructor where there is no global)`, async () => {
  const options = { WebSocket };
  const client = new MQTTClient("npm-ws", "unused", {
    transport: () => connectWebSocket(process.env.UMQTT_WS_URL, options),
  });
  await client.connect();
  await client.subscribe("npm-ws/#", 1);
  await client.publish("npm-ws/t", Uint8Array.of(0, 1, 2, 255), false, 1);
  assert.deepEqual([...(await client.wait_msg()).payload], [0, 1, 2, 255]);
  await client.disconnect();
});

// Node code passes Buffers, most of them views into Node's 8 KiB pool, and perhaps a
// SharedArrayBuffer's view: exactly the view's bytes go, over TCP and through ws's (or the
// global) WebSocket, to whose send() the client hands its own bytes, never such a view (Deno's
// and browsers' refuse one). A view whose buffer was transferred away reads as 0 bytes: refused,
// named (tests/buffer_types_test.ts under Deno and Bun).
test(`${runtime}: a pooled Buffer and a SharedArrayBuffer's view go as their own bytes, over TCP and WebSocket`, async () => {
  const ws = () => connectWebSocket(process.env.UMQTT_WS_URL, { WebSocket });
  for (const [name, transport] of [["tcp", undefined], ["ws", ws]]) {
    const client = new MQTTClient(`npm-bytes-${name}`, process.env.UMQTT_URL, {
      transport,
    });
    try {
      await client.connect();
      await client.subscribe(`npm-bytes-${name}/#`, 1);
      const pooled = Buffer.from("pool"); // Node's is a view into its pool, Bun's not
      const inside = Buffer.from(new ArrayBuffer(64), 7, 6);
      inside.write("inside");
      const shared = new Uint8Array(new SharedArrayBuffer(16), 3, 6);
      shared.set(new TextEncoder().encode("shared"));
      for (const bytes of [pooled, inside, shared]) {
        await client.publish(`npm-bytes-${name}/t`, bytes, false, 1);
        assert.deepEqual(
          (await client.wait_msg()).payload,
          new Uint8Array(bytes),
        );
      }
      const gone = Uint8Array.of(1, 2);
      structuredClone(gone, { transfer: [gone.buffer] });
      await assert.rejects(client.publish(`npm-bytes-${name}/t`, gone), {
        name: "TypeError",
        message: /^Invalid msg: its ArrayBuffer was detached/,
      });
    } finally {
      await client.disconnect();
    }
  }
});

// Node 22 and Bun have a global WebSocket: ws:// needs no transport there.
if (globalThis.WebSocket !== undefined) {
  test(`${runtime}: ws:// through the default connector, with the global WebSocket`, async () => {
    const client = new MQTTClient("npm-ws-global", process.env.UMQTT_WS_URL);
    await client.connect();
    await client.subscribe("npm-ws-global/#", 1);
    await client.publish("npm-ws-global/t", "g", false, 1);
    assert.equal(new TextDecoder().decode((await client.wait_msg()).payload), "g");
    await client.disconnect();
  });
}

// Node 20: the client takes no WebSocket option, so the error names its transport.
if (globalThis.WebSocket === undefined) {
  test(`${runtime}: ws:// with no global WebSocket says how to give one`, async () => {
    const client = new MQTTClient("npm-ws-none", process.env.UMQTT_WS_URL);
    await assert.rejects(
      client.connect(),
      /transport: \(\) => connectWebSocket\(url, \{ WebSocket \}\)/,
    );
  });
}

// A host listed with ::1 and 127.0.0.1 (`localhost` in /etc/hosts on Debian,
// Fedora, macOS, Docker): node:net tries both, and failing on both gave an
// AggregateError with an empty message, so the error ended at "localhost:1883: ".
// The lookup answers for the host as such an /etc/hosts would.
test(`${runtime}: a host on IPv6 and IPv4 that refuses both is named with each attempt`, async () => {
  const { default: dns } = await import("node:dns");
  const { createServer } = await import("node:net");
  const spare = createServer();
  await new Promise((resolve) => spare.listen(0, "127.0.0.1", resolve));
  const port = spare.address().port;
  await new Promise((resolve) => spare.close(resolve));
  const lookup = dns.lookup;
  dns.lookup = (host, options, callback) => {
    if (host !== "dual.test") return lookup(host, options, callback);
    const all = [{ address: "::1", family: 6 }, { address: "127.0.0.1", family: 4 }];
    options?.all ? callback(null, all) : callback(null, "::1", 6);
  };
  try {
    const client = new MQTTClient("npm-dual", "dual.test", { port });
    const e = await client.connect().then(() => null, (e) => e);
    assert.equal(e?.name, "MQTTConnectionError", String(e));
    assert.match(e.message, new RegExp(`^Cannot connect to dual\\.test:${port}: .*ECONNREFUSED`));
    assert.ok(e.message.includes(`::1:${port}`), e.message);
    assert.ok(e.message.includes(`127.0.0.1:${port}`), e.message);
  } finally {
    dns.lookup = lookup;
  }
});

test(`${runtime}: the codec subpath works on its own`, () => {
  assert.deepEqual([...encode({ type: "pingreq" })], [0xc0, 0x00]);
});

test(`${runtime}: the package leaves out ./cli, the command line, which runs under Deno`, async () => {
  // Its main() used Deno's API and threw "Deno is not defined"; now the subpath is not there.
  const cli = "@umqtt/umqtt/cli";
  // Node: ERR_PACKAGE_PATH_NOT_EXPORTED; Bun: ERR_MODULE_NOT_FOUND ("Cannot find package").
  await assert.rejects(
    import(cli),
    (e) => ["ERR_PACKAGE_PATH_NOT_EXPORTED", "ERR_MODULE_NOT_FOUND"].includes(e.code),
  );
});

test(`${runtime}: the package's package.json resolves, as tools that read its version expect`, () => {
  // Not exported, Node refused it with ERR_PACKAGE_PATH_NOT_EXPORTED.
  const require = createRequire(import.meta.url);
  assert.equal(require("@umqtt/umqtt/package.json").name, "@umqtt/umqtt");
});

// `await using` calls the iterator's Symbol.asyncDispose; Node 20 and 22
// define the symbol but give their async generators no such method.
test(`${runtime}: both clients' messages() end through Symbol.asyncDispose, as await using ends them`, async () => {
  const { MQTTClient: Robust } = await import("@umqtt/umqtt/robust");
  for (const [kind, Client] of [["simple", MQTTClient], ["robust", Robust]]) {
    const client = new Client(`npm-dispose-${kind}`, process.env.UMQTT_URL);
    try {
      await client.connect();
      await client.subscribe(`npm-dispose-${kind}/#`, 1);
      await client.publish(`npm-dispose-${kind}/t`, "m", false, 1);
      const messages = client.messages();
      assert.equal(typeof messages[Symbol.asyncDispose], "function", `${kind} client`);
      assert.equal(new TextDecoder().decode((await messages.next()).value.payload), "m");
      await messages[Symbol.asyncDispose]();
      assert.deepEqual(await messages.next(), { value: undefined, done: true }, `${kind} client`);
    } finally {
      await client.disconnect();
    }
  }
});

// require(esm): Node 20.19+/22.12+ and Bun load the ESM-only package from
// CommonJS, as long as no module in it has a top-level await.
if (process.features.require_module) {
  test(`${runtime}: require() gives the same modules as import`, async () => {
    const require = createRequire(import.meta.url);
    assert.equal(require("@umqtt/umqtt").MQTTClient, MQTTClient);
    assert.equal(require("@umqtt/umqtt/codec").encode, encode);
    const { MQTTClient: Robust } = require("@umqtt/umqtt/robust");
    assert.equal(Robust, (await import("@umqtt/umqtt/robust")).MQTTClient);
    assert.equal(typeof require("@umqtt/umqtt/node").socketStreams, "function");
  });
}

test(`${runtime}: failed, abandoned and reset connections crash nothing and hold no process`, async () => {
  // node/exit_child.mjs in a process of its own: it must print "done" and
  // exit 0 by itself; one that is still running after 20 s has failed.
  const child = spawn(process.execPath, ["node/exit_child.mjs", process.env.UMQTT_URL], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (d) => output += d);
  child.stderr.on("data", (d) => output += d);
  const timer = setTimeout(() => child.kill(), 20_000);
  const code = await new Promise((resolve) =>
    child.on("close", (c, signal) => resolve(c ?? signal))
  );
  clearTimeout(timer);
  assert.equal(code, 0, output);
  assert.match(output, /^done$/m);
});
