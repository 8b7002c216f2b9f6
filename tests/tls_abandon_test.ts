// A TLS handshake given up (connectTimeout, disconnect() during connect(), a
// robust client retrying) against a server that accepts TCP and never answers
// the ClientHello (a load balancer with no backend, a hung broker) must leave
// no socket open: under Node and Bun through the default connector (node:tls,
// destroyed on abort), under Deno through connectNode, the README's remedy.
// Deno's own TLS (Deno.startTls, Deno.connectTls) cannot be cancelled: closing
// a TlsConn still in its handshake waits for the handshake to end, and Deno's
// sanitizers see nothing (no resource, no op): the last test pins that, so
// that its failure tells when Deno has learnt to cancel it.
// What umqtt bounds instead, under Deno's own TLS: a robust client keeps at most
// one such handshake per server, and its next attempts there wait for it.
// Runtime-neutral: no Deno.* (node:net for the servers).
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { type AddressInfo, connect as netConnect, createServer, type Socket } from "node:net";
import process from "node:process";
import { createServer as createTlsServer, type TLSSocket } from "node:tls";
import { MQTTClient, MQTTConnectionError } from "../mod.ts";
import { MQTTClient as RobustClient } from "../lib/robust.ts";
import { connectNode } from "../lib/transports/node.ts";
import { debugTransport } from "../lib/cli/_debug.ts";
import type { SslParams } from "../lib/transports/types.ts";
import { startMosquitto } from "./_brokers.ts";
import { makeCerts } from "./_certs.ts";
import { test, uniqueId } from "./_test.ts";

const DENO = "Deno" in globalThis;

/**
 * TLS options for a client of 127.0.0.1:`port`: the default connector, or
 * under Deno (`native` false) connectNode, whose socket an abort destroys.
 */
function tlsTo(port: number, ssl_params: SslParams, native = !DENO) {
  return native ? { port, ssl: true, ssl_params } : {
    transport: (signal: AbortSignal) =>
      connectNode({ hostname: "127.0.0.1", port, ssl: true, ssl_params, signal }),
  };
}

/**
 * A TCP server that reads and never writes: the handshake never completes.
 * `answer(port)` has the sockets it holds, and those it accepts after, piped
 * to the TLS server at `port` (the ClientHello they sent goes along).
 */
async function silentServer() {
  const open = new Set<Socket>();
  let accepted = 0;
  let target = 0;
  const held = new Map<Socket, Uint8Array[]>();
  const pipe = (s: Socket) => {
    const up = netConnect({ host: "127.0.0.1", port: target });
    up.on("error", () => s.destroy());
    s.removeAllListeners("data");
    for (const chunk of held.get(s) ?? []) up.write(chunk);
    s.pipe(up).pipe(s);
    s.on("close", () => up.destroy());
  };
  const server = createServer((s) => {
    accepted++;
    open.add(s);
    held.set(s, []);
    s.on("error", () => {});
    s.on("close", () => (open.delete(s), held.delete(s)));
    s.on("data", (chunk: Uint8Array) => held.get(s)?.push(chunk));
    if (target) pipe(s);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    port: (server.address() as AddressInfo).port,
    get open() {
      return open.size;
    },
    get accepted() {
      return accepted;
    },
    answer(port: number) {
      target = port;
      for (const s of open) pipe(s);
    },
    async close() {
      for (const s of open) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits (bounded) until the server holds no socket of ours; returns how many it still holds. */
async function openAfter(server: { open: number }): Promise<number> {
  for (let i = 0; i < 100 && server.open > 0; i++) await sleep(20);
  return server.open;
}

/** A TLS server with `certs`' server certificate, for the silent server to hand over to. */
async function answeringTls(certs: ReturnType<typeof makeCerts>) {
  const answered = new Set<TLSSocket>();
  const tls = createTlsServer(
    { cert: certs.pem("server.pem"), key: certs.pem("server.key") },
    (s) => (answered.add(s), s.on("error", () => {})),
  );
  await new Promise<void>((r) => tls.listen(0, "127.0.0.1", r));
  return {
    port: (tls.address() as AddressInfo).port,
    async close() {
      for (const s of answered) s.destroy();
      await new Promise((r) => tls.close(r));
    },
  };
}

/** The most sockets `server` held at once until `done()` (sampled), and for 200 ms after. */
async function mostOpen(server: { open: number }, done: () => boolean): Promise<number> {
  let most = 0;
  for (let after = 0; after < 10; after += done() ? 1 : 0) {
    most = Math.max(most, server.open);
    await sleep(20);
  }
  return most;
}

/**
 * Runs `code` in a child Deno (`deno eval`), killed after `ms`, as a hang is what fails the tests
 * that use it: how it exited and what it printed.
 */
async function evalChild(code: string, ms = 20_000): Promise<{ exit: number | null; out: string }> {
  const child = spawn(process.execPath, ["eval", code], { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  child.stdout!.on("data", (d) => out += d);
  const timer = setTimeout(() => child.kill(), ms);
  try {
    return { exit: await new Promise<number | null>((r) => child.on("exit", r)), out };
  } finally {
    clearTimeout(timer);
  }
}

test("a TLS handshake given up (connectTimeout, disconnect()) closes its socket", async () => {
  const certs = makeCerts();
  const server = await silentServer();
  const ssl_params = { cadata: certs.pem("ca.pem") };
  try {
    for (let i = 0; i < 3; i++) {
      const c = new MQTTClient(uniqueId("tlsab"), "127.0.0.1", {
        ...tlsTo(server.port, ssl_params),
        connectTimeout: 300,
      });
      const e = await c.connect().then(() => null, (e) => e);
      assert.ok(e instanceof MQTTConnectionError, `expected a timeout, got ${e}`);
      assert.match(e.message, /not open \(TCP, TLS or WebSocket handshake\) within 300 ms/);
    }
    const c = new MQTTClient(uniqueId("tlsdc"), "127.0.0.1", {
      ...tlsTo(server.port, ssl_params),
      connectTimeout: 10_000,
    });
    const connecting = c.connect().then(() => null, (e) => e);
    while (server.accepted < 4) await sleep(10);
    await c.disconnect();
    assert.ok(await connecting instanceof MQTTConnectionError);
    assert.equal(server.accepted, 4);
    assert.equal(await openAfter(server), 0, "sockets of given-up handshakes still open");
  } finally {
    await server.close();
    certs.remove();
  }
});

test("a robust client retrying a silent TLS server holds no socket per attempt", async () => {
  const certs = makeCerts();
  const server = await silentServer();
  try {
    const c = new RobustClient(uniqueId("tlsrb"), "127.0.0.1", {
      ...tlsTo(server.port, { cadata: certs.pem("ca.pem") }),
      connectTimeout: 200,
    });
    c.DELAY = 0.01;
    const reconnecting = c.reconnect().then(() => null, (e) => e);
    while (server.accepted < 5) await sleep(10);
    // While it retries, the given-up attempts' sockets are closed (the one under way may be open).
    // The last one's close and the next accept may reach the server in either order: a moment
    // for the close (a leak keeps one more open per attempt, and attempts go on meanwhile).
    for (let i = 0; i < 25 && server.open > 1; i++) await sleep(20);
    assert.ok(server.open <= 1, `${server.open} sockets open after ${server.accepted} attempts`);
    await c.disconnect();
    assert.ok(await reconnecting instanceof Error);
    assert.equal(await openAfter(server), 0, "sockets of given-up handshakes still open");
  } finally {
    await server.close();
    certs.remove();
  }
});

test(
  "Deno's own TLS keeps a given-up handshake's socket until the server answers (README, Transports)",
  async () => {
    const certs = makeCerts();
    const server = await silentServer();
    const tls = await answeringTls(certs);
    try {
      // Deno.startTls, and Deno.connectTls (with a client certificate).
      const cadata = certs.pem("ca.pem");
      const client = { cert: certs.pem("client.pem"), key: certs.pem("client.key") };
      for (const ssl_params of [{ cadata }, { cadata, ...client }]) {
        const c = new MQTTClient(uniqueId("tlsdn"), "127.0.0.1", {
          ...tlsTo(server.port, ssl_params, true),
          connectTimeout: 300,
        });
        await assert.rejects(c.connect(), MQTTConnectionError);
      }
      await sleep(300);
      // Should this fail, Deno closes a TLS connection mid-handshake now: use it
      // (lib/transports/deno.ts), and drop the README's note.
      assert.equal(server.open, 2, "the sockets of the handshakes given up are still open");
      server.answer(tls.port);
      assert.equal(await openAfter(server), 0, "closed once its handshake completed late");
    } finally {
      await tls.close();
      await server.close();
      certs.remove();
    }
  },
  { ignore: !DENO },
);

test(
  "Deno's own TLS: a robust client retrying a silent server keeps one handshake pending, not one per attempt",
  async () => {
    const certs = makeCerts();
    const server = await silentServer();
    const tls = await answeringTls(certs);
    let c: RobustClient | undefined;
    try {
      // The default connector: Deno.startTls.
      c = new RobustClient(uniqueId("tlsdr"), "127.0.0.1", {
        ...tlsTo(server.port, { cadata: certs.pem("ca.pem") }, true),
        connectTimeout: 200,
      });
      c.DELAY = 0.01;
      const errors: unknown[] = [];
      c.addEventListener("reconnecting", (e) => errors.push(e.detail.error));
      const reconnecting = c.reconnect().then(() => null, (e) => e);
      // The 6th event follows the 5th attempt's failure.
      const most = await mostOpen(server, () => errors.length >= 6);
      assert.ok(most <= 1, `${most} sockets open at once over ${errors.length - 1} attempts`);
      // Those after the first say why they opened none.
      assert.match(String(errors[5]), /a TLS handshake given up before is still pending/);
      await c.disconnect();
      assert.ok(await reconnecting instanceof Error);
      // The one pending, let go by disconnect(), closes once the server answers (Deno's doing).
      server.answer(tls.port);
      assert.equal(await openAfter(server), 0, "sockets of given-up handshakes still open");
    } finally {
      await c?.disconnect(); // after a failure: no retrying past the test
      await tls.close();
      await server.close();
      certs.remove();
    }
  },
  { ignore: !DENO },
);

test(
  "Deno's own TLS: a robust client waiting on a pending handshake connects once the server answers",
  async () => {
    const certs = makeCerts();
    const server = await silentServer();
    const broker = await startMosquitto({ tls: certs.serverTls() });
    let c: RobustClient | undefined;
    try {
      c = new RobustClient(uniqueId("tlsdw"), "127.0.0.1", {
        ...tlsTo(server.port, { cadata: certs.pem("ca.pem") }, true),
        connectTimeout: 200,
      });
      c.DELAY = 0.01;
      let attempts = 0;
      c.addEventListener("reconnecting", () => attempts++);
      const reconnecting = c.reconnect();
      const most = await mostOpen(server, () => attempts >= 4);
      assert.ok(most <= 1, `${most} sockets open at once over ${attempts - 1} attempts`);
      // The pending handshake completes (and is closed); the attempt after it opens its own.
      server.answer(broker.tlsPort!);
      await reconnecting;
      assert.ok(c.connected);
      await c.ping();
      // The pending one's close and the new one's accept may reach the server in either order.
      for (let i = 0; i < 25 && server.open > 1; i++) await sleep(20);
      assert.equal(server.open, 1, "the connection's socket alone");
      await c.disconnect();
      assert.equal(await openAfter(server), 0, "sockets still open after disconnect()");
    } finally {
      await c?.disconnect(); // after a failure: no retrying past the test
      await server.close();
      await broker.stop();
      certs.remove();
    }
  },
  { ignore: !DENO, mosquitto: true },
);

test(
  "Deno's own TLS: a robust client that stops retrying lets its pending handshake go (the process ends)",
  async () => {
    const server = await silentServer();
    // Refuses every CONNECT: not authorized (CONNACK 5), which the robust client does not retry.
    const refuser = createServer((s) => {
      s.on("error", () => {});
      s.once("data", () => s.end(Uint8Array.of(0x20, 2, 0, 5)));
    });
    await new Promise<void>((r) => refuser.listen(0, "127.0.0.1", r));
    const servers = [
      `mqtts://127.0.0.1:${server.port}`,
      `mqtt://127.0.0.1:${(refuser.address() as AddressInfo).port}`,
    ];
    // The silent server's handshake is kept when the refusal ends reconnect(): not disconnected,
    // the program must still end (a pending handshake would hold it until the server answers).
    const code = `import { MQTTClient } from "${new URL("../lib/robust.ts", import.meta.url)}";
      const c = new MQTTClient("x", ${JSON.stringify(servers)}, {
        ssl_params: { server_hostname: "localhost" }, connectTimeout: 200,
      });
      c.DELAY = 0.01;
      await c.reconnect().catch((e) => console.log(e.message));`;
    try {
      // Bounded (evalChild): the silent server never answers meanwhile.
      const { exit, out } = await evalChild(code);
      assert.equal(exit, 0, `the program did not end (it printed ${JSON.stringify(out)})`);
      assert.match(out, /not authorized/);
    } finally {
      await new Promise((r) => refuser.close(r));
      await server.close();
    }
  },
  { ignore: !DENO },
);

test(
  "Deno's own TLS: a robust client's connect() with a signal that rejects lets its pending handshake go (the process ends)",
  async () => {
    const server = await silentServer();
    // No reconnect loop runs after the connect() of the application has failed: nothing would
    // wait for the handshake, which would hold the program until the server answers.
    const code = `import { MQTTClient } from "${new URL("../lib/robust.ts", import.meta.url)}";
      const c = new MQTTClient("x", "mqtts://127.0.0.1:${server.port}", {
        ssl_params: { server_hostname: "localhost" }, connectTimeout: 200,
      });
      const shutdown = new AbortController(); // the application's, never aborted here
      await c.connect(true, { signal: shutdown.signal }).catch((e) => console.log(e.message));`;
    try {
      // Bounded (evalChild): the silent server never answers meanwhile.
      const { exit, out } = await evalChild(code);
      assert.equal(exit, 0, `the program did not end (it printed ${JSON.stringify(out)})`);
      assert.match(out, /timed out/);
    } finally {
      await server.close();
    }
  },
  { ignore: !DENO },
);

test(
  "Deno's own TLS through umqtt sub -d's transport: a robust client keeps one handshake pending, not one per attempt",
  async () => {
    const certs = makeCerts();
    const server = await silentServer();
    let c: RobustClient | undefined;
    try {
      // The CLI's -d transport: connectDeno under the attempt's signal, traced (not the default).
      const ssl_params = { cadata: certs.pem("ca.pem") };
      const target = { hostname: "127.0.0.1", port: server.port, ssl: true, ssl_params };
      c = new RobustClient(uniqueId("tlsdd"), "127.0.0.1", {
        transport: debugTransport(target, 4, () => {}),
        connectTimeout: 200,
      });
      c.DELAY = 0.01;
      let attempts = 0;
      c.addEventListener("reconnecting", () => attempts++);
      const reconnecting = c.reconnect().then(() => null, (e) => e);
      const most = await mostOpen(server, () => attempts >= 6);
      assert.ok(most <= 1, `${most} sockets open at once over ${attempts - 1} attempts`);
      await c.disconnect();
      assert.ok(await reconnecting instanceof Error);
    } finally {
      await c?.disconnect(); // after a failure: no retrying past the test
      await server.close();
      certs.remove();
    }
  },
  { ignore: !DENO },
);

test(
  "Deno's own TLS: a connect() given up at its connectTimeout does not wait for a TCP connect Deno cannot cancel",
  async () => {
    // A client certificate takes Deno.connectTls, which opens TCP and TLS in one call with no
    // signal. To a listener whose backlog is full (it never accepts) that TCP connect hangs; the
    // client gave up at connectTimeout, yet its connect() waited for it (up to 2 s) before
    // rejecting. The child releases the listener 1.5 s in: connect() must have rejected before.
    const certs = makeCerts();
    const code = `import { MQTTClient } from "${new URL("../mod.ts", import.meta.url)}";
      const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
      const port = l.addr.port, filled = [];
      for (;;) { // fill the backlog: the first connect that does not open in 300 ms hangs
        const ac = new AbortController(), t = setTimeout(() => ac.abort(), 300);
        try { filled.push(await Deno.connect({ hostname: "127.0.0.1", port, signal: ac.signal })); }
        catch { break; } finally { clearTimeout(t); }
      }
      const c = new MQTTClient("x", "mqtts://127.0.0.1:" + port, { connectTimeout: 200,
        ssl_params: ${
      JSON.stringify({
        cadata: certs.pem("ca.pem"),
        cert: certs.pem("client.pem"),
        key: certs.pem("client.key"),
      })
    } });
      const release = setTimeout(() => { console.log("released"); l.close(); filled.forEach((f) => f.close()); }, 1500);
      await c.connect().catch((e) => console.log("rejected: " + e.message));`;
    const { exit, out } = await evalChild(code, 30_000);
    assert.equal(exit, 0, `the program did not end (it printed ${JSON.stringify(out)})`);
    assert.match(out, /^rejected: .*timed out.*\nreleased\n$/s);
  },
  { ignore: !DENO },
);
