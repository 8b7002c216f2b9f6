// Deno's permissions: a program allowed to reach only some servers, as
// `deno run --allow-net=host:port` runs it (the child has no other permission).
import assert from "node:assert/strict";
import { freePort, startMosquitto } from "./_brokers.ts";
import { test, uniqueId } from "./_test.ts";
import { MQTTClient, MQTTConnectionError } from "../mod.ts";
import { MQTTClient as RobustClient } from "../lib/robust.ts";
import { connectWebSocket } from "../lib/transports/websocket.ts";

const child = new URL("./_host_permission_child.ts", import.meta.url).pathname;

/** Runs the child allowed to reach `allowed` only; its JSON line. */
async function run(allowed: string, servers: string[]) {
  const { stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-prompt", `--allow-net=${allowed}`, child, servers.join(",")],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const out = new TextDecoder().decode(stdout).trim();
  assert.ok(out, new TextDecoder().decode(stderr));
  return JSON.parse(out) as { outcome: string; attempts: number };
}

/**
 * `c`'s reconnect() over its `servers`, stopped at a second round (a refusal
 * retried): its attempts and its end.
 */
async function oneRound(c: RobustClient, servers = 2): Promise<{ attempts: number; e: unknown }> {
  c.DELAY = 0;
  let attempts = 0;
  c.addEventListener("reconnecting", () => ++attempts > servers && void c.disconnect());
  const e = await c.reconnect().then(() => null, (e) => e);
  await c.disconnect();
  return { attempts, e };
}

test("a server the permissions forbid ends the robust client's reconnect, not retried", async () => {
  const [a, b] = [freePort(), freePort()];
  const r = await run("127.0.0.1:1", [`mqtt://127.0.0.1:${a}`, `ws://127.0.0.1:${b}`]);
  assert.match(
    r.outcome,
    /^MQTTConnectionError \(NotCapable\): Cannot connect to 127\.0\.0\.1:\d+: Requires net access to "127\.0\.0\.1:\d+"/,
  );
  assert.equal(r.attempts, 2, "one round of the list, each server once");
});

test("a server the permissions forbid is passed over for one they allow", async () => {
  const broker = await startMosquitto();
  try {
    const r = await run(`127.0.0.1:${broker.port}`, [`mqtt://127.0.0.1:${freePort()}`, broker.url]);
    assert.deepEqual(r, { outcome: "connected", attempts: 2 });
  } finally {
    await broker.stop();
  }
}, { mosquitto: true });

// Node 25+ under `--permission` without `--allow-net`: node:net's error for a
// host name (its DNS lookup), as Node 26.12 emits it; for an address it says
// "connect ERR_ACCESS_DENIED …. Use --allow-net to manage permissions.". No
// Node here has that model (20 and 22 do not cover the network): the
// transport stands in for node:net's refusal. Before, the robust client
// retried it for ever.
/** A transport failing as node:net does under Node 25+'s `--permission` without `--allow-net`. */
const nodeRefusal = (_: AbortSignal, server: { hostname: string }) =>
  Promise.reject(
    Object.assign(new Error(`getaddrinfo ERR_ACCESS_DENIED ${server.hostname}`), {
      code: "ERR_ACCESS_DENIED",
      permission: "Net",
    }),
  );

test("Node's permission model refusing the network (ERR_ACCESS_DENIED) ends the robust client's reconnect", async () => {
  const servers = ["mqtt://broker.test:1883", "mqtts://broker2.test:8883"];
  const c = new RobustClient(uniqueId("perm"), servers, { transport: nodeRefusal });
  const { attempts, e } = await oneRound(c);
  assert.equal(attempts, 2, "one round of the list, each server once");
  assert.ok(e instanceof MQTTConnectionError, String(e));
  assert.equal((e.cause as { code?: string })?.code, "ERR_ACCESS_DENIED");
  assert.match(e.message, /broker2\.test:8883: getaddrinfo ERR_ACCESS_DENIED broker2\.test/);
});

// A browser page loaded over https:// that makes a ws:// WebSocket to a host not the page's own:
// Chromium's constructor throws this (156, measured; the transport rethrows it), every time. The
// transport stands in for it (no browser here: tests/runtimes). Before, the robust client retried
// it for ever, as a server that was down.
test("a browser's refusal of a WebSocket (SecurityError: mixed content) ends the robust client's reconnect", async () => {
  const c = new RobustClient(uniqueId("perm"), ["ws://broker.test:8080", "ws://broker2.test"], {
    transport: () => {
      throw new DOMException(
        "Failed to construct 'WebSocket': An insecure WebSocket connection may not be initiated from a page loaded over HTTPS.",
        "SecurityError",
      );
    },
  });
  const { attempts, e } = await oneRound(c);
  assert.equal(attempts, 2, "one round of the list, each server once");
  assert.ok(e instanceof MQTTConnectionError, String(e));
  assert.equal((e.cause as Error)?.name, "SecurityError");
  assert.match(e.message, /^Cannot connect to broker2\.test:80: Failed to construct 'WebSocket'/);
});

/**
 * The `ws` package's WebSocket under Node 25+'s `--permission` without `--allow-net`, as Node 26.12
 * runs it: an "error" event whose message is node:net's, then "close".
 */
class DeniedWebSocket {
  binaryType = "";
  bufferedAmount = 0;
  readonly #listeners = new Map<string, ((e: unknown) => void)[]>();
  constructor() {
    const message =
      "connect ERR_ACCESS_DENIED Access to this API has been restricted. Use --allow-net to manage permissions.";
    const error = Object.assign(new Error(message), { code: "ERR_ACCESS_DENIED" });
    setTimeout(() => (this.emit("error", { message, error }), this.emit("close", {})), 0);
  }
  send() {}
  close() {}
  addEventListener(type: string, f: (e: unknown) => void) {
    this.#listeners.set(type, [...this.#listeners.get(type) ?? [], f]);
  }
  emit(type: string, e: unknown) {
    for (const f of this.#listeners.get(type) ?? []) f(e);
  }
}

// Node 26 has a global WebSocket (whose refusal gives no reason: README); the `ws` package is what
// a Node program passes for handshake headers. Before, the robust client retried its refusal for
// ever: the adapter's error kept Node's words, not its code.
test("Node's permission refusal through the ws package's WebSocket ends the robust client's reconnect", async () => {
  const url = "ws://127.0.0.1:8080";
  const c = new RobustClient(uniqueId("perm"), url, {
    transport: (signal) => connectWebSocket(url, { WebSocket: DeniedWebSocket, signal }),
  });
  const { attempts, e } = await oneRound(c, 1);
  assert.equal(attempts, 1, "no retry");
  assert.ok(e instanceof MQTTConnectionError, String(e));
  assert.match(e.message, /failed: connect ERR_ACCESS_DENIED .* Use --allow-net/);
});

// Node names the flag when it refuses an address ("Use --allow-net to manage
// permissions."), not a host name's lookup; Deno always does.
test("Node's permission refusal of a host name's lookup names the flag to allow it", async () => {
  const c = new MQTTClient(uniqueId("perm"), "mqtt://broker.test:1883", { transport: nodeRefusal });
  await assert.rejects(c.connect(), {
    name: "MQTTConnectionError",
    message:
      "Cannot connect to broker.test:1883: getaddrinfo ERR_ACCESS_DENIED broker.test (run with --allow-net)",
  });
});

/** `umqtt …` (lib/cli) with only the permissions given, stdin closed: exit code and stderr. */
async function cli(allow: string[], args: string[]) {
  const { code, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--quiet",
      "--no-prompt",
      ...allow,
      new URL("../lib/cli/mod.ts", import.meta.url).pathname,
      ...args,
    ],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).output();
  return { code, stderr: new TextDecoder().decode(stderr) };
}

// README "Command line": -A narrows to --allow-net (the broker's address) and --allow-read (the
// files named); what is missing ends the command with one line that names the flag.
test(
  "the command line needs only the broker's address, and says which permission is missing",
  async () => {
    const broker = await startMosquitto();
    const ca = await Deno.makeTempFile({ suffix: ".pem" });
    try {
      const to = ["-h", "127.0.0.1", "-p", String(broker.port), "-t", "perm/cli"];
      const ok = await cli([`--allow-net=127.0.0.1:${broker.port}`], [
        "pub",
        ...to,
        "-m",
        "x",
        "-q",
        "1",
      ]);
      assert.deepEqual(ok, { code: 0, stderr: "" });
      assert.deepEqual(await cli(["--allow-net=127.0.0.1:1"], ["sub", ...to, "-C", "1"]), {
        code: 3,
        stderr: `umqtt sub: Cannot connect to 127.0.0.1:${broker.port}: Requires net access to ` +
          `"127.0.0.1:${broker.port}", run again with the --allow-net flag\n`,
      });
      const r = await cli(["--allow-net"], ["pub", ...to, "-m", "x", "--cafile", ca]);
      assert.equal(r.code, 2);
      assert.match(
        r.stderr,
        /^umqtt pub: --cafile \S+: cannot read it: Requires read access to .*--allow-read flag \(see --help\)\n$/,
      );
    } finally {
      await Deno.remove(ca);
      await broker.stop();
    }
  },
  { mosquitto: true },
);

test("the client works with the built-ins frozen before its import (a lockdown)", async () => {
  const broker = await startMosquitto();
  try {
    const { stdout, stderr } = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", new URL("./_host_frozen_child.ts", import.meta.url).pathname, broker.url],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(
      new TextDecoder().decode(stdout).trim(),
      "MQTTConnectionError MQTTException MQTTProtocolError",
      new TextDecoder().decode(stderr),
    );
  } finally {
    await broker.stop();
  }
}, { mosquitto: true });

test("strings are checked without String.prototype.isWellFormed (ES2024)", () => {
  // Browsers before it (Chrome 111, Firefox 119, Safari 16.4) made no client at all.
  const proto = String.prototype as { isWellFormed?: unknown };
  const kept = proto.isWellFormed;
  delete proto.isWellFormed;
  try {
    assert.equal(
      new MQTTClient("caf\u00e9-\u{1f600}", "mqtt://127.0.0.1:1").client_id,
      "caf\u00e9-\u{1f600}",
    );
    for (const id of ["a\ud800", "\udc00b", "\ud800\ud800\udc00"]) {
      assert.throws(() => new MQTTClient(id, "mqtt://127.0.0.1:1"), {
        name: "TypeError",
        message: "Invalid client_id: it contains a lone UTF-16 surrogate (MQTT-1.5.3-1)",
      });
    }
  } finally {
    proto.isWellFormed = kept;
  }
});
