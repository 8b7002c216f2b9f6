// Gaps found by mutation testing of the transports (lib/transports/websocket.ts,
// _node_conn.ts, node.ts, deno.ts, cloudflare.ts, default.ts, _tcp.ts): what
// each adapter does that no other test pinned down. Broker-free where it can
// be: a stand-in WebSocket the test drives, loopback node:net servers.
import assert from "node:assert/strict";
import { type AddressInfo, createServer, type Server, type Socket } from "node:net";
import { connectNode } from "../lib/transports/node.ts";
import { connectWebSocket } from "../lib/transports/websocket.ts";
import type { SslParams } from "../lib/transports/types.ts";
import { test, withTimeout } from "./_test.ts";

/** A stand-in WebSocket the test drives: it records what the adapter does to it. */
class FakeWebSocket {
  static last: FakeWebSocket | null = null;
  /** What the next one opens with (`protocol`), or fails with (`error`), instead of opening. */
  static next: { protocol?: string | null | undefined; error?: unknown } = {};
  binaryType = "";
  bufferedAmount = 0;
  protocol: string | null | undefined = "mqtt";
  sent: Uint8Array[] = [];
  closeCalls: unknown[][] = [];
  readonly args: unknown[];
  readonly #listeners = new Map<string, ((e: unknown) => void)[]>();
  constructor(...args: unknown[]) {
    this.args = args;
    FakeWebSocket.last = this;
    const next = FakeWebSocket.next;
    FakeWebSocket.next = {};
    if ("protocol" in next) this.protocol = next.protocol;
    setTimeout(() => "error" in next ? this.emit("error", next.error) : this.emit("open", {}), 0);
  }
  send(data: Uint8Array) {
    this.sent.push(data);
  }
  close(...args: unknown[]) {
    this.closeCalls.push(args);
  }
  addEventListener(type: string, f: (e: unknown) => void) {
    this.#listeners.set(type, [...this.#listeners.get(type) ?? [], f]);
  }
  emit(type: string, e: unknown) {
    for (const f of this.#listeners.get(type) ?? []) f(e);
  }
}

/** `p`, or a rejection saying `what` if it has not settled within `ms` (a hang, not a timing). */
const bounded = <T>(p: Promise<T>, what: string, ms = 2000): Promise<T> => withTimeout(p, ms, what);

test("connectWebSocket: the default highWaterMark is 1 MiB: a write with exactly 1 MiB buffered resolves", async () => {
  const pair = await connectWebSocket("ws://fake.test", { WebSocket: FakeWebSocket });
  const ws = FakeWebSocket.last!;
  ws.send = (data: Uint8Array) => void (ws.bufferedAmount += data.length);
  const writer = pair.writable.getWriter();
  await bounded(writer.write(new Uint8Array(1 << 20)), "a write at the mark waited for a drain");
  ws.bufferedAmount = 0;
  ws.emit("close", {});
  await pair.close!();
});

test("connectCloudflare: refuses ssl_params a Worker cannot honour, each alone, and takes the others", async () => {
  // Outside workerd the import of cloudflare:sockets fails after the check, with an error that
  // does not name ssl_params: a refusal is told from it by its message.
  const { connectCloudflare } = await import("../lib/transports/cloudflare.ts");
  const hostname = "broker.example";
  const said = async (ssl_params: SslParams) => {
    try {
      await connectCloudflare({ hostname, port: 8883, ssl: true, ssl_params });
      return "connected";
    } catch (e) {
      return /^Invalid ssl_params/.test((e as Error).message) ? "refused" : "taken";
    }
  };
  const refused: SslParams[] = [
    { cadata: "ca" },
    { cert: "" },
    { cert: "c" },
    { key: "k" },
    { server_hostname: "other" },
  ];
  for (const p of refused) {
    assert.equal(await said(p), "refused", JSON.stringify(p));
  }
  const taken: SslParams[] = [{}, { server_hostname: hostname }];
  for (const p of taken) {
    assert.equal(await said(p), "taken", JSON.stringify(p));
  }
});

test("connectWebSocket: a close with code 1005 (none given) or 1006 (dropped) ends the readable, not as an error", async () => {
  for (const code of [1005, 1006]) {
    const pair = await connectWebSocket("ws://fake.test", { WebSocket: FakeWebSocket });
    const read = pair.readable.getReader().read();
    FakeWebSocket.last!.emit("close", { code, reason: "" });
    assert.deepEqual(
      await bounded(read, "the read never ended"),
      { done: true, value: undefined },
      `code ${code}`,
    );
  }
  // A code the server chose says why: 1001 (going away) too.
  for (
    const [code, said] of [[1011, /code 1011, overloaded/], [
      1001,
      /code 1001, overloaded/,
    ]] as const
  ) {
    const pair = await connectWebSocket("ws://fake.test", { WebSocket: FakeWebSocket });
    const read = pair.readable.getReader().read();
    FakeWebSocket.last!.emit("close", { code, reason: "overloaded" });
    await assert.rejects(read, said);
  }
});

test("connectWebSocket: a signal aborted already rejects with its reason and opens no WebSocket", async () => {
  FakeWebSocket.last = null;
  const reason = new Error("given up");
  await assert.rejects(
    connectWebSocket("ws://fake.test", {
      WebSocket: FakeWebSocket,
      signal: AbortSignal.abort(reason),
    }),
    (e) => e === reason,
  );
  assert.equal(FakeWebSocket.last, null, "a WebSocket was made");
});

test("connectWebSocket: the signal aborted after the WebSocket opened leaves the connection alone", async () => {
  const ac = new AbortController();
  const pair = await connectWebSocket("ws://fake.test", {
    WebSocket: FakeWebSocket,
    signal: ac.signal,
  });
  const ws = FakeWebSocket.last!;
  ac.abort(new Error("too late"));
  assert.deepEqual(ws.closeCalls, [], "the abort closed the open WebSocket");
  const writer = pair.writable.getWriter();
  await writer.write(Uint8Array.of(0xc0, 0));
  assert.equal(ws.sent.length, 1);
  ws.emit("close", {});
});

/** A loopback node:net server, and the first connection it accepts. */
async function tcpServer(): Promise<{ srv: Server; port: number; peer: Promise<Socket> }> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const peer = new Promise<Socket>((r) => srv.once("connection", r));
  return { srv, port: (srv.address() as AddressInfo).port, peer };
}

type Direct = {
  read(p: Uint8Array): Promise<number | null>;
  write(p: Uint8Array): Promise<number>;
  close(): Promise<void>;
};

test("connectNode direct pair: the peer's FIN while no read is pending is kept for the next read", async () => {
  const { srv, port, peer } = await tcpServer();
  const conn = await connectNode({ hostname: "127.0.0.1", port }) as unknown as Direct;
  const p = await peer;
  // The client's socket ends its side once it has seen ours end (no half-open): when the
  // server hears that, the client has handled the FIN, with no read pending.
  const ended = new Promise((r) => p.once("end", r));
  p.end();
  await ended;
  assert.equal(await conn.read(new Uint8Array(16)), null);
  await conn.close();
  await new Promise((r) => srv.close(r));
});

/** Resolves after `ms`: time for bytes on the loopback to arrive (a settling wait, not a timing). */
const settle = (ms: number) => new Promise((r) => setTimeout(r, ms));

// A read buffer larger than what waits (1000), and one of exactly its size (20).
for (const size of [1000, 20]) {
  const what = size === 20 ? "gathered exactly its buffer's size" : "gathered";
  test(`connectNode direct pair: after a read that ${what}, the next read still reads on`, async () => {
    const { srv, port, peer } = await tcpServer();
    const conn = await connectNode({ hostname: "127.0.0.1", port }) as unknown as Direct;
    const p = await peer;
    // Kept while no read is pending (the socket pauses), then more waits in the kernel: the read
    // takes both after one turn of reading, and must leave the socket reading for the next one.
    p.write(new Uint8Array(10).fill(1));
    await settle(30);
    p.write(new Uint8Array(10).fill(2));
    await settle(30);
    const buf = new Uint8Array(size);
    let n = 0;
    while (n < 20) n += (await bounded(conn.read(buf.subarray(n)), "a read never came"))!;
    assert.equal(n, 20);
    p.write(new Uint8Array(10).fill(3));
    const got = await bounded(conn.read(buf), "the read after a gathering read never came");
    assert.equal(got, 10);
    assert.deepEqual([...buf.subarray(0, 10)], new Array(10).fill(3));
    p.destroy();
    await conn.close();
    await new Promise((r) => srv.close(r));
  });
}

test("connectNode direct pair: what comes while no read is pending stops reading from the kernel", async () => {
  const { srv, port, peer } = await tcpServer();
  const conn = await connectNode({ hostname: "127.0.0.1", port }) as unknown as Direct;
  const p = await peer;
  const data = new Uint8Array(24 << 20);
  p.write(data);
  await settle(500);
  // One read takes what was kept and one turn's reading (node:net reads at most 32 times 64 KiB
  // a turn), not all that the peer sent meanwhile.
  const n = await conn.read(new Uint8Array(data.length));
  assert.ok(n !== null && n <= 3 << 20, `one read took ${n} bytes`);
  p.destroy();
  await conn.close();
  await new Promise((r) => srv.close(r));
});

test("connectNode direct pair as a StreamPair: a pending BYOB read ends at the peer's FIN", async () => {
  const { srv, port, peer } = await tcpServer();
  const pair = await connectNode({ hostname: "127.0.0.1", port });
  const p = await peer;
  const reader = pair.readable.getReader({ mode: "byob" });
  const pending = reader.read(new Uint8Array(64));
  p.end();
  const got = await bounded(pending, "the BYOB read never ended");
  assert.equal(got.done, true);
  await pair.close!();
  await new Promise((r) => srv.close(r));
});

test("connectNode direct pair: close() to a peer that reads nothing gives up flushing and drops the socket", async () => {
  const { srv, port, peer } = await tcpServer();
  const conn = await connectNode({ hostname: "127.0.0.1", port }) as unknown as Direct;
  const p = await peer;
  p.pause();
  const data = new Uint8Array(96 << 20);
  const writing = conn.write(data).catch(() => {});
  await conn.close();
  // What had not left the client when it gave up is dropped: the peer, reading now, gets less
  // than was written, then the end.
  let got = 0;
  await bounded(
    new Promise<void>((resolve) => {
      p.on("data", (c: Uint8Array) => (got += c.length));
      p.on("close", () => resolve());
      p.on("error", () => {});
      p.resume();
    }),
    "the peer never saw the connection end",
    20_000,
  );
  await bounded(writing, "the write never settled");
  assert.ok(got < data.length, `the peer got all ${got} bytes`);
  await new Promise((r) => srv.close(r));
});

test("connectNode direct pair: after close(), bytes kept unread are dropped: a read ends (null)", async () => {
  const { srv, port, peer } = await tcpServer();
  const conn = await connectNode({ hostname: "127.0.0.1", port }) as unknown as Direct;
  const p = await peer;
  const heard = new Promise((r) => p.once("end", r));
  p.write(new Uint8Array(10).fill(7));
  await settle(30); // kept: no read is pending
  await conn.close();
  await heard;
  assert.equal(await bounded(conn.read(new Uint8Array(64)), "the read never ended"), null);
  p.destroy();
  await new Promise((r) => srv.close(r));
});

test("connectNode TLS: server_hostname is sent as SNI when it is a name, not when it is an IP address", async () => {
  const { createServer: createTlsServer } = await import("node:tls");
  const { makeCerts } = await import("./_certs.ts");
  const certs = makeCerts();
  try {
    const names: unknown[] = [];
    const srv = createTlsServer(
      { key: certs.pem("server.key"), cert: certs.pem("server.pem") },
      (s) => void names.push((s as { servername?: string | false }).servername || null),
    );
    await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
    const port = (srv.address() as AddressInfo).port;
    for (const server_hostname of ["localhost", "broker.test", "127.0.0.1"]) {
      const ssl_params = { cadata: certs.pem("ca.pem"), server_hostname };
      const pair = await connectNode({ hostname: "127.0.0.1", port, ssl: true, ssl_params });
      await pair.close!();
    }
    await new Promise((r) => srv.close(r));
    assert.deepEqual(names, ["localhost", "broker.test", null]);
  } finally {
    certs.remove();
  }
});

test("connectNode direct pair: a reset after the peer's first bytes is not explained as a TLS listener's", async () => {
  const { srv, port, peer } = await tcpServer();
  const conn = await connectNode({ hostname: "127.0.0.1", port }) as unknown as Direct;
  const p = await peer;
  p.write(Uint8Array.of(0x20, 2, 0, 0)); // a CONNACK: the peer speaks
  const buf = new Uint8Array(64);
  assert.equal(await conn.read(buf), 4);
  const failing = conn.read(buf);
  p.resetAndDestroy();
  const e = await failing.then(() => undefined, (e) => e);
  assert.ok(e instanceof Error, `the read ended with ${e}`);
  assert.doesNotMatch(e.message, /TLS listener/);
  await conn.close();
  await new Promise((r) => srv.close(r));
});

test("socketStreams: a socket whose readable is not read stops being read (backpressure)", async () => {
  const { Duplex } = await import("node:stream");
  const { socketStreams } = await import("../lib/transports/node.ts");
  // A source that gives 1 KiB each time node:stream asks, up to 16 MiB: how much it gave
  // shows how far reading went on with no one reading the pair.
  let given = 0;
  const duplex = new Duplex({
    read() {
      if (given >= 16 << 20) return void this.push(null);
      given += 1024;
      this.push(new Uint8Array(1024));
    },
    write: (_c, _e, cb) => cb(),
  });
  const pair = socketStreams(duplex);
  await settle(100);
  assert.ok(given <= 1 << 20, `${given} bytes read into the readable's queue`);
  await pair.readable.cancel();
  duplex.destroy();
});

test("socketStreams: a pending read ends when the socket is destroyed without an error or an end", async () => {
  const { Duplex } = await import("node:stream");
  const { socketStreams } = await import("../lib/transports/node.ts");
  const duplex = new Duplex({ read() {}, write: (_c, _e, cb) => cb() });
  const pair = socketStreams(duplex);
  const read = pair.readable.getReader().read();
  duplex.destroy();
  assert.deepEqual(await bounded(read, "the read never ended"), { done: true, value: undefined });
});

test(
  "connectDeno over TCP: connects without a signal; a signal aborted already rejects with its reason",
  async () => {
    const { connectDeno } = await import("../lib/transports/deno.ts");
    const { srv, port } = await tcpServer();
    const accepted: Socket[] = [];
    srv.on("connection", (s) => accepted.push(s));
    const options = { hostname: "127.0.0.1", port, ssl: false, ssl_params: {} };
    const conn = await connectDeno(options);
    await conn.close!();
    const reason = new Error("given up");
    await assert.rejects(
      connectDeno({ ...options, signal: AbortSignal.abort(reason) }),
      (e) => e === reason,
    );
    // Aborted while Deno.connect is under way: the connection it makes is closed, not returned.
    const ac = new AbortController();
    const connecting = connectDeno({ ...options, signal: ac.signal });
    ac.abort(reason);
    await assert.rejects(connecting, (e) => e === reason);
    await settle(50);
    // The first connection and the one given up; none for the signal aborted already.
    assert.equal(accepted.length, 2);
    for (const s of accepted) s.destroy();
    await new Promise((r) => srv.close(r));
  },
  { ignore: !("Deno" in globalThis) },
);

test(
  "connectDeno over TLS: a server_hostname Deno.startTls refuses rejects with its error",
  async () => {
    const { connectDeno } = await import("../lib/transports/deno.ts");
    const { srv, port } = await tcpServer();
    const accepted: Socket[] = [];
    srv.on("connection", (s) => accepted.push(s));
    await assert.rejects(
      connectDeno({
        hostname: "127.0.0.1",
        port,
        ssl: true,
        ssl_params: { server_hostname: "a b" },
        signal: new AbortController().signal,
      }),
      /Invalid hostname: 'a b'/,
    );
    for (const s of accepted) s.destroy();
    await new Promise((r) => srv.close(r));
  },
  { ignore: !("Deno" in globalThis) },
);

test("connectWebSocket: frames of one byte each are read, in order", async () => {
  const pair = await connectWebSocket("ws://fake.test", { WebSocket: FakeWebSocket });
  const ws = FakeWebSocket.last!;
  for (const b of [0xd0, 0x00]) ws.emit("message", { data: Uint8Array.of(b).buffer });
  ws.emit("close", { code: 1000 });
  const got: number[] = [];
  for await (const chunk of pair.readable) got.push(...chunk);
  assert.deepEqual(got, [0xd0, 0x00]);
});

test("connectWebSocket: a server that selects another subprotocol is refused, and its WebSocket closed", async () => {
  FakeWebSocket.next = { protocol: "other" };
  await assert.rejects(
    connectWebSocket("ws://fake.test/mqtt", { WebSocket: FakeWebSocket }),
    /WebSocket to ws:\/\/fake\.test\/mqtt: the server did not select the subprotocol mqtt/,
  );
  assert.equal(FakeWebSocket.last!.closeCalls.length, 1, "the WebSocket was left open");
});

test("connectWebSocket: close() resolves, after its wait, for a WebSocket that has no terminate() and never closes", async () => {
  // A browser's WebSocket: no terminate(); the closing handshake never ends here.
  const pair = await connectWebSocket("ws://fake.test", { WebSocket: FakeWebSocket });
  await bounded(Promise.resolve(pair.close!()), "close() never resolved", 10_000);
  assert.deepEqual(FakeWebSocket.last!.closeCalls, [[1000]]);
});

test("connectWebSocket: a text frame errors the readable and closes the WebSocket", async () => {
  const pair = await connectWebSocket("ws://fake.test/mqtt", { WebSocket: FakeWebSocket });
  const ws = FakeWebSocket.last!;
  const read = pair.readable.getReader().read();
  ws.emit("message", { data: "hello" });
  await assert.rejects(
    read,
    /A text WebSocket frame from ws:\/\/fake\.test\/mqtt: MQTT takes binary frames only/,
  );
  assert.deepEqual(ws.closeCalls, [[1000]]);
  ws.emit("close", { code: 1000 });
});

test("named(): only an AggregateError without a message takes its errors' messages", async () => {
  const { named } = await import("../lib/transports/_node_conn.ts");
  const bare = new AggregateError([
    new Error("ECONNREFUSED ::1"),
    new Error("ECONNREFUSED 127.0.0.1"),
  ]);
  assert.equal((named(bare) as Error).message, "ECONNREFUSED ::1; ECONNREFUSED 127.0.0.1");
  const said = new AggregateError([new Error("a")], "kept");
  assert.equal((named(said) as Error).message, "kept");
  const plain = new Error("");
  assert.equal(named(plain), plain);
  assert.equal(plain.message, "");
});

test("connectNode direct pair: close() flushes what was written to a peer that reads it all", async () => {
  const { srv, port, peer } = await tcpServer();
  const conn = await connectNode({ hostname: "127.0.0.1", port }) as unknown as Direct;
  const p = await peer;
  let got = 0;
  const ended = new Promise((r) =>
    p.on("data", (c: Uint8Array) => (got += c.length)).once("end", r)
  );
  const data = new Uint8Array(16 << 20);
  // Its promise waits for "drain", which a socket ended meanwhile never emits: it may reject.
  const writing = conn.write(data).catch(() => {});
  await conn.close();
  await writing;
  await bounded(ended, "the peer never saw the end");
  assert.equal(got, data.length);
  // A write after close() rejects: the socket is gone.
  await assert.rejects(bounded(conn.write(Uint8Array.of(1)), "the write never settled"), /closed/);
  p.destroy();
  await new Promise((r) => srv.close(r));
});

test("connectNode direct pair: a reset while no read is pending fails the next read, not ends it", async () => {
  const { srv, port, peer } = await tcpServer();
  const conn = await connectNode({ hostname: "127.0.0.1", port }) as unknown as Direct;
  const p = await peer;
  p.resetAndDestroy();
  await settle(50);
  // The reset itself, not the guard's time-out (which a read that never settles would give).
  await assert.rejects(
    bounded(conn.read(new Uint8Array(16)), "the read never settled"),
    (e: Error) => !/^Timed out/.test(e.message),
  );
  await conn.close();
  await new Promise((r) => srv.close(r));
});

test("socketStreams: close() flushes what was written to a peer that reads it all", async () => {
  const { connect } = await import("node:net");
  const { socketStreams } = await import("../lib/transports/node.ts");
  const { srv, port, peer } = await tcpServer();
  const socket = connect({ host: "127.0.0.1", port });
  await new Promise((r) => socket.once("connect", r));
  const pair = socketStreams(socket);
  const p = await peer;
  let got = 0;
  const ended = new Promise((r) =>
    p.on("data", (c: Uint8Array) => (got += c.length)).once("end", r)
  );
  const writer = pair.writable.getWriter();
  const data = new Uint8Array(16 << 20);
  void writer.write(data).catch(() => {});
  // The pair's close(), with the write still waiting for "drain" (the client's teardown).
  await pair.close!();
  await bounded(ended, "the peer never saw the end");
  assert.equal(got, data.length);
  p.destroy();
  await pair.readable.cancel();
  await new Promise((r) => srv.close(r));
});
