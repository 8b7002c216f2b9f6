// Gaps found by mutation testing of the transports: the endpoint's WebSocket
// defaults (port, path, TLS), and behaviours of the WebSocket and node:net
// adapters that no other test pinned down.
import assert from "node:assert/strict";
import { parseServer, webSocketUrl, withoutCredentials } from "../lib/transports/endpoint.ts";
import { test, withTimeout } from "./_test.ts";

test("ws:// and wss:// URLs: default ports 80 and 443, path /mqtt unless one is given, ssl turns ws into wss", () => {
  const cases: [string, number, boolean, string][] = [
    ["ws://broker.local", 0, false, "ws://broker.local:80/mqtt"],
    ["wss://broker.local", 0, false, "wss://broker.local:443/mqtt"],
    ["WS://broker.local", 0, false, "ws://broker.local:80/mqtt"],
    // A trailing "/" is a path given: the root, not /mqtt.
    ["ws://broker.local/", 0, false, "ws://broker.local:80/"],
    ["ws://broker.local/ws?x=1", 0, false, "ws://broker.local:80/ws?x=1"],
    ["ws://broker.local?x=1", 0, false, "ws://broker.local:80/mqtt?x=1"],
    // ssl=true (umqtt.simple's argument) asks for TLS on a ws:// URL too.
    ["ws://broker.local", 0, true, "wss://broker.local:443/mqtt"],
    ["ws://broker.local:8080", 9001, false, "ws://broker.local:9001/mqtt"],
    ["ws://[::1]:8080/mqtt", 0, false, "ws://[::1]:8080/mqtt"],
  ];
  for (const [server, port, ssl, url] of cases) {
    assert.equal(webSocketUrl(parseServer(server, port, ssl)), url, `${server} ${port} ${ssl}`);
  }
  assert.equal(parseServer("ws://broker.local", 0, true).ssl, true);
  assert.equal(parseServer("mqtt://broker.local", 0, true).scheme, "mqtts");
  assert.equal(parseServer("mqtt://broker.local", 0, true).port, 8883);
});

test("withoutCredentials hides everything up to the last @, as a password may hold one", () => {
  assert.equal(withoutCredentials("mqtt://al:p@ss@host:1883"), "mqtt://…@host:1883");
  assert.equal(withoutCredentials("al:p@ss@host"), "…@host");
  assert.equal(withoutCredentials("mqtt://host:1883"), "mqtt://host:1883");
});

/** A stand-in WebSocket the test drives: it records what the adapter does to it. */
class FakeWebSocket {
  static last: FakeWebSocket | null = null;
  binaryType = "";
  bufferedAmount = 0;
  protocol = "mqtt";
  sent: Uint8Array[] = [];
  closeCalls = 0;
  readonly args: unknown[];
  readonly #listeners = new Map<string, ((e: unknown) => void)[]>();
  constructor(...args: unknown[]) {
    this.args = args;
    FakeWebSocket.last = this;
    setTimeout(() => this.emit("open", {}), 0);
  }
  send(data: Uint8Array) {
    this.sent.push(data);
  }
  close() {
    this.closeCalls++;
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

test("connectWebSocket: after the peer closed, a write rejects and sends nothing", async () => {
  const { connectWebSocket } = await import("../lib/transports/websocket.ts");
  const pair = await connectWebSocket("ws://fake.test", { WebSocket: FakeWebSocket });
  const ws = FakeWebSocket.last!;
  ws.emit("close", {});
  // A WebSocket takes send() after it closed without an error (browsers count the bytes as
  // buffered): a write that resolved would say the bytes went out.
  await assert.rejects(pair.writable.getWriter().write(Uint8Array.of(0xc0, 0)), /closed/);
  assert.equal(ws.sent.length, 0);
});

test("connectWebSocket: a pending BYOB read ends when the WebSocket closes", async () => {
  const { connectWebSocket } = await import("../lib/transports/websocket.ts");
  const pair = await connectWebSocket("ws://fake.test", { WebSocket: FakeWebSocket });
  const reader = pair.readable.getReader({ mode: "byob" });
  const pending = reader.read(new Uint8Array(16));
  FakeWebSocket.last!.emit("close", {});
  const got = await bounded(pending, "the BYOB read never ended");
  assert.equal(got.done, true);
});

test("connectWebSocket: what arrives after close() was asked for is not read", async () => {
  const { connectWebSocket } = await import("../lib/transports/websocket.ts");
  const pair = await connectWebSocket("ws://fake.test", { WebSocket: FakeWebSocket });
  const ws = FakeWebSocket.last!;
  const closing = pair.close!();
  assert.equal(ws.closeCalls, 1);
  ws.emit("message", { data: Uint8Array.of(0x30, 0).buffer });
  ws.emit("close", {});
  await closing;
  assert.deepEqual(await pair.readable.getReader().read(), { done: true, value: undefined });
});

test("connectWebSocket: a write under the 1 MiB mark resolves though the peer reads nothing", async () => {
  const { connectWebSocket } = await import("../lib/transports/websocket.ts");
  const pair = await connectWebSocket("ws://fake.test", { WebSocket: FakeWebSocket });
  const ws = FakeWebSocket.last!;
  ws.send = (data: Uint8Array) => void (ws.bufferedAmount += data.length);
  const writer = pair.writable.getWriter();
  await bounded(writer.write(new Uint8Array(1000)), "a 1000-byte write waited for a drain");
  ws.emit("close", {});
});

test("connectWebSocket: subprotocol mqtt, binary frames as ArrayBuffer, headers as the constructor takes them", async () => {
  const { connectWebSocket } = await import("../lib/transports/websocket.ts");
  await connectWebSocket("ws://fake.test/mqtt", { WebSocket: FakeWebSocket });
  assert.deepEqual(FakeWebSocket.last!.args, ["ws://fake.test/mqtt", ["mqtt"]]);
  assert.equal(FakeWebSocket.last!.binaryType, "arraybuffer");
  // A passed constructor (the ws package's) takes the headers third.
  const headers = { authorization: "Bearer x" };
  await connectWebSocket("ws://fake.test/mqtt", { WebSocket: FakeWebSocket, headers });
  assert.deepEqual(FakeWebSocket.last!.args, ["ws://fake.test/mqtt", ["mqtt"], { headers }]);
});

async function readAll(readable: ReadableStream<Uint8Array>): Promise<number[]> {
  const out: number[] = [];
  for await (const chunk of readable) out.push(...chunk);
  return out;
}

test("socketStreams: chunks that share one buffer (Node's pool) arrive intact", async () => {
  const { Duplex } = await import("node:stream");
  const { Buffer } = await import("node:buffer");
  const { socketStreams } = await import("../lib/transports/node.ts");
  const duplex = new Duplex({ read() {}, write: (_c, _e, cb) => cb() });
  const pair = socketStreams(duplex);
  const pool = Buffer.from([1, 2, 3, 4, 5, 6]);
  duplex.push(pool.subarray(0, 3));
  duplex.push(pool.subarray(3, 6));
  duplex.push(null);
  assert.deepEqual(await bounded(readAll(pair.readable), "the readable never ended"), [
    1,
    2,
    3,
    4,
    5,
    6,
  ]);
  assert.deepEqual([...pool], [1, 2, 3, 4, 5, 6], "the socket's buffer was taken");
  duplex.destroy();
});

test("socketStreams: a write waiting for 'drain' rejects when the socket closes under it", async () => {
  const { Duplex } = await import("node:stream");
  const { socketStreams } = await import("../lib/transports/node.ts");
  // A peer that takes nothing: the write callback never comes, so 'drain' never does.
  const duplex = new Duplex({ read() {}, write() {}, writableHighWaterMark: 1 });
  const pair = socketStreams(duplex);
  const write = pair.writable.getWriter().write(new Uint8Array(10)).then(
    () => "resolved",
    (e) => e,
  );
  await new Promise((r) => setTimeout(r, 10));
  duplex.destroy();
  const got = await bounded(write, "the write never settled");
  assert.ok(got instanceof Error, `the write ${got}`);
  assert.match(got.message, /closed before drain/);
});

test("socketStreams: a socket error errors the readable; aborting the writable destroys the socket", async () => {
  const { Duplex } = await import("node:stream");
  const { socketStreams } = await import("../lib/transports/node.ts");
  const broken = new Duplex({ read() {}, write: (_c, _e, cb) => cb() });
  broken.on("error", () => {}); // as connectNode's listener: only the stream's is under test
  const pair = socketStreams(broken);
  const read = pair.readable.getReader().read();
  broken.destroy(new Error("ECONNRESET here"));
  await assert.rejects(bounded(read, "the read never settled"), /ECONNRESET here/);

  const healthy = new Duplex({ read() {}, write: (_c, _e, cb) => cb() });
  const other = socketStreams(healthy);
  await other.writable.abort(new Error("given up"));
  assert.equal(healthy.destroyed, true);
  await other.readable.cancel();
});
