// connectNode over TCP (outside Bun) hands the client a socket it reads and
// writes directly, through node:net's `onread` (lib/transports/_node_conn.ts),
// not web streams: the streams cost Node several µs a chunk each way (QoS 1
// awaited one at a time ran at 0.6× a raw node:net client), and a paused
// net.Socket goes on reading into its queue, so the channel's read gathering
// (lib/_channel.ts) had nothing to gather. Here: that the pair is direct, that
// nothing read is lost, reordered or split wrongly however the bytes come
// (kept while no read is pending, read into a large packet's body, ended by
// the peer's FIN or an error), and that its streams still serve a user who
// reads the pair as a StreamPair. Under `deno test` this is Deno's node:net,
// which takes `onread` as Node's does (Node itself: bench, and the npm smoke).
import assert from "node:assert/strict";
import { createServer, type Server, type Socket } from "node:net";
import { MQTTClient } from "../mod.ts";
import { connectNode } from "../lib/transports/node.ts";
import type { StreamPair } from "../lib/transports/types.ts";
import { startMosquitto } from "./_brokers.ts";
import { acceptConnect, withHostileBroker } from "./_hostile_broker.ts";
import { test, uniqueId } from "./_test.ts";

type Direct = {
  read(p: Uint8Array): Promise<number | null>;
  write(p: Uint8Array): Promise<number>;
  close(): Promise<void>;
};

/** A loopback server, and the first connection it accepts. */
async function server(): Promise<{ srv: Server; port: number; peer: Promise<Socket> }> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const peer = new Promise<Socket>((r) => srv.once("connection", r));
  return { srv, port: (srv.address() as { port: number }).port, peer };
}

/** Reads until the end of stream (null) in reads of `size`, counting them. */
async function readAll(conn: Direct, size: number): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for (;;) {
    const buf = new Uint8Array(size);
    const n = await conn.read(buf);
    if (n === null) break;
    parts.push(buf.subarray(0, n));
  }
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) out.set(p, at), at += p.length;
  return out;
}

const pattern = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + (i >> 8)) & 0xff);

test("connectNode over TCP is read and written directly, not through web streams", async () => {
  const { srv, port, peer } = await server();
  const pair = await connectNode({ hostname: "127.0.0.1", port });
  const direct = pair as unknown as Partial<Direct>;
  assert.equal(typeof direct.read, "function", "connectNode gave no read(buf)");
  assert.equal(typeof direct.write, "function");
  assert.equal(typeof direct.close, "function");
  (await peer).destroy();
  await pair.close!();
  await new Promise((r) => srv.close(r));
});

test("connectNode direct reads: bytes kept while no read is pending come first, in order, then the end", async () => {
  const { srv, port, peer } = await server();
  const conn = await connectNode({ hostname: "127.0.0.1", port }) as unknown as Direct;
  const p = await peer;
  const data = pattern(3 << 20);
  // Written in pieces of every size, some while no read is pending, then a FIN.
  const writing = (async () => {
    for (let at = 0, k = 1; at < data.length; k = (k * 7 + 3) % 70_001) {
      const piece = data.subarray(at, at + k);
      at += piece.length;
      if (!p.write(piece)) await new Promise((r) => p.once("drain", r));
      if (k % 5 === 0) await new Promise((r) => setTimeout(r, 1));
    }
    p.end();
  })();
  // Nothing read for a while: what comes meanwhile waits, none of it dropped.
  await new Promise((r) => setTimeout(r, 50));
  // Reads of a few sizes, smaller and larger than what node:net reads at a time.
  const got = await readAll(conn, 4093);
  await writing;
  assert.equal(got.length, data.length);
  assert.ok(got.every((b, i) => b === data[i]), "bytes differ from what was sent");
  assert.equal(await conn.read(new Uint8Array(64)), null, "a read after the end is the end again");
  await conn.close();
  await new Promise((r) => srv.close(r));
});

test("connectNode direct reads: close() ends a pending read; a reset rejects it", async () => {
  const { srv, port, peer } = await server();
  const a = await connectNode({ hostname: "127.0.0.1", port }) as unknown as Direct;
  const pa = await peer;
  const pending = a.read(new Uint8Array(64));
  await a.close();
  assert.equal(await pending, null);
  pa.destroy();

  const next = new Promise<Socket>((r) => srv.once("connection", r));
  const b = await connectNode({ hostname: "127.0.0.1", port }) as unknown as Direct;
  const pb = await next;
  const failing = b.read(new Uint8Array(64));
  pb.resetAndDestroy();
  await assert.rejects(failing);
  await b.close();
  await new Promise((r) => srv.close(r));
});

test("connectNode over TCP as a StreamPair: its readable and writable carry the bytes", async () => {
  const { srv, port, peer } = await server();
  const pair = await connectNode({ hostname: "127.0.0.1", port });
  const p = await peer;
  const data = pattern(200_000);
  p.write(data);
  const reader = pair.readable.getReader();
  const parts: Uint8Array[] = [];
  for (let n = 0; n < data.length;) {
    const { value, done } = await reader.read();
    assert.ok(!done, "ended early");
    parts.push(value!);
    n += value!.length;
  }
  assert.deepEqual(Buffer.concat(parts), Buffer.from(data));
  const heard = new Promise<string>((resolve) => {
    const got: Uint8Array[] = [];
    p.on("data", (c: Uint8Array) => got.push(c)).on(
      "end",
      () => resolve(Buffer.concat(got).toString()),
    );
  });
  const writer = pair.writable.getWriter();
  await writer.write(new TextEncoder().encode("hello"));
  // Closing the writable ends the connection, flushed first.
  await writer.close();
  assert.equal(await heard, "hello");
  assert.equal((await reader.read()).done, true);
  await new Promise((r) => srv.close(r));
});

test(
  "through connectNode and mosquitto: a burst of QoS 0 and QoS 1 messages, small and large, arrives whole and in order",
  async () => {
    const broker = await startMosquitto();
    try {
      const transport = () => connectNode({ hostname: broker.host, port: broker.port });
      const topic = uniqueId("nodeconn");
      const sub = new MQTTClient(uniqueId("sub"), broker.host, {
        transport,
        maxQueuedMessages: 5000,
      });
      const pub = new MQTTClient(uniqueId("pub"), broker.host, { transport });
      await sub.connect();
      await sub.subscribe(`${topic}/0`, 0);
      await sub.subscribe(`${topic}/1`, 1);
      await pub.connect();
      const message = (i: number, n: number) => {
        const b = pattern(n);
        b[0] = i & 0xff, b[1] = i >> 8;
        return b;
      };
      // QoS 0: 3000 at once, a few large ones (read into their bodies) among them.
      const burst = Array.from(
        { length: 3000 },
        (_, i) => message(i, i % 500 === 7 ? 70_000 + i : 8 + (i % 97)),
      );
      // QoS 1: 500 in flight together, ordered among themselves (MQTT-4.6.0-6).
      const acked = Array.from({ length: 500 }, (_, i) => message(i, 64));
      await Promise.all(burst.map((b) => pub.publish(`${topic}/0`, b)));
      await Promise.all(acked.map((b) => pub.publish(`${topic}/1`, b, false, 1)));
      for (const [qos, sent] of [[0, burst], [1, acked]] as const) {
        for (let i = 0; i < sent.length; i++) {
          const m = await sub.wait_msg();
          assert.equal(m.topic, `${topic}/${qos}`, `QoS ${qos} message ${i}: topic`);
          assert.deepEqual(m.payload, sent[i], `QoS ${qos} message ${i}: bytes`);
        }
      }
      await pub.disconnect();
      await sub.disconnect();
    } finally {
      await broker.stop();
    }
  },
  { mosquitto: true },
);

// disconnect() "resolves once the transport is closed, so the process may exit right after":
// through the streams (socketStreams) the channel awaited the pair's close(), which ends the
// socket once node:net has flushed what was written. The direct pair's close() returns the same
// promise, but the channel dropped it: disconnect() resolved with the socket still open, its
// DISCONNECT perhaps still in node:net's buffer (a write resolves once node:net took the bytes,
// not once the kernel did), where a process.exit() next would lose it and the broker publish
// the will.
test("disconnect() over connectNode's direct pair resolves once the socket is closed", async () => {
  let heard!: () => void;
  const disconnected = new Promise<void>((resolve) => (heard = resolve));
  await withHostileBroker(async (peer) => {
    await acceptConnect(peer);
    await peer.expect("disconnect");
    heard();
    // The broker keeps its side open: only the client's own close ends the socket.
  }, async (broker) => {
    let pair: Direct | undefined;
    const c = new MQTTClient(uniqueId("nodeconn-close"), broker.host, {
      port: broker.port,
      transport: async () => {
        pair = await connectNode({ hostname: broker.host, port: broker.port }) as unknown as Direct;
        return pair as unknown as StreamPair;
      },
    });
    await c.connect();
    await c.disconnect();
    // The pair's close() is the one promise: settled already, it settles within two turns.
    let closed = false;
    void pair!.close().then(() => (closed = true));
    await null;
    await null;
    assert.ok(closed, "disconnect() resolved while the socket was still being closed");
    await disconnected;
  });
});
