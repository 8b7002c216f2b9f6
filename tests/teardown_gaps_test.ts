// Behaviour of a connection's end (lib/_connection.ts #teardown), the
// outbox (lib/_outbox.ts) and the channels (lib/_channel.ts) that mutation
// testing found no other test pinning down: each test here fails on a
// mutant of that code that every other test let through.
//
// The transports are stand-ins that answer what the test scripts and hold
// the rest: "not settled yet" is then a fact, not a race.
import assert from "node:assert/strict";
import { MQTTClient, MQTTConnectionError } from "../mod.ts";
import { MQTTClient as RobustClient } from "../lib/robust.ts";
import type { StreamPair } from "../lib/transports/types.ts";
import { channel } from "../lib/_channel.ts";
import { test, uniqueId, withTimeout } from "./_test.ts";

const CONNACK_OK = [0x20, 0x02, 0x00, 0x00];

/** Lets timers and I/O run `n` times: what is not settled by then waits on something else. */
async function turns(n = 10): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((r) => setTimeout(r, 0));
}

/**
 * A Deno.Conn-like transport: its first read answers `connack` (none: the
 * read stays pending), later ones what `feed()` gives; close() ends a
 * pending read. Every write is recorded. `script` may make a write stay
 * pending ("hold": until releaseHeld() completes it, or failHeld() or
 * close() fails it taking nothing), fail taking nothing ("fail"), or take
 * only its first n bytes (n).
 */
function fakeConn(
  connack: number[] | null = CONNACK_OK,
  script: (bytes: Uint8Array) => "hold" | "fail" | number | undefined = () => undefined,
) {
  const queue: number[][] = connack ? [[...connack]] : [];
  const held: { ok: () => void; fail: () => void }[] = [];
  let wake: (() => void) | null = null;
  let endRead!: () => void;
  const ended = new Promise<null>((resolve) => (endRead = () => resolve(null)));
  const conn = {
    closed: false,
    written: [] as Uint8Array[],
    feed(bytes: number[]) {
      queue.push([...bytes]);
      wake?.();
    },
    /** Bytes fed and not yet read. */
    get unread() {
      return queue.reduce((n, q) => n + q.length, 0);
    },
    /** Fails the writes held so far, taking nothing. */
    failHeld() {
      for (const w of held.splice(0)) w.fail();
    },
    /** Completes the writes held so far, taking all. */
    releaseHeld() {
      for (const w of held.splice(0)) w.ok();
    },
    /** The broker closes its side: a pending read ends. */
    end: () => endRead(),
    async read(p: Uint8Array): Promise<number | null> {
      while (queue.length === 0) {
        const more = new Promise<void>((resolve) => (wake = resolve));
        if (await Promise.race([more, ended]) === null) return null;
      }
      const n = Math.min(p.length, queue[0].length);
      p.set(queue[0].splice(0, n));
      if (queue[0].length === 0) queue.shift();
      return n;
    },
    write(p: Uint8Array): Promise<number> {
      if (conn.closed) return Promise.reject(new Error("closed"));
      const how = script(p);
      if (how === "hold") {
        return new Promise((resolve, reject) =>
          held.push({
            ok: () => (conn.written.push(p.slice()), resolve(p.length)),
            fail: () => reject(new Error("closed")),
          })
        );
      }
      if (how === "fail") return Promise.reject(new Error("write failed"));
      const n = how ?? p.length;
      conn.written.push(p.slice(0, n));
      return Promise.resolve(n);
    },
    close() {
      conn.closed = true;
      for (const w of held.splice(0)) w.fail();
      endRead();
    },
  };
  return conn;
}

type FakeConn = ReturnType<typeof fakeConn>;
const asPair = (conn: FakeConn) => conn as unknown as StreamPair;

/** The first byte of each packet in `writes` (small packets: a one-byte remaining length). */
function packetTypes(writes: Uint8Array[]): number[] {
  const all = writes.flatMap((b) => [...b]), types: number[] = [];
  for (let i = 0; i < all.length; i += 2 + all[i + 1]) types.push(all[i]);
  return types;
}

test("robust: disconnect() is no loss: log() is not told of it, and nothing reconnects", async () => {
  const conns: FakeConn[] = [];
  const logged: unknown[] = [];
  const client = new (class extends RobustClient {
    override log(_in_reconnect: boolean, e: unknown): void {
      logged.push(e);
    }
  })(uniqueId("tdlog"), "127.0.0.1", {
    transport: () => {
      conns.push(fakeConn());
      return asPair(conns.at(-1)!);
    },
  });
  client.DELAY = 0;
  await client.connect();
  await client.disconnect();
  await turns(20);
  assert.deepEqual(logged, [], "log() was told of disconnect() as of a lost connection");
  assert.equal(conns.length, 1, "a connection was opened after disconnect()");
  assert.equal(client.connected, false);
});

test(
  "robust: a request made while connect() after disconnect() is under way fails with that attempt's error",
  async () => {
    // The first connection is accepted; the second never answers its CONNECT.
    const conns = [fakeConn([0x20, 0x03, 0x00, 0x00, 0x00]), fakeConn(null)];
    let opened = 0;
    const client = new RobustClient(uniqueId("tdreq"), "127.0.0.1", {
      protocolVersion: 5,
      connectTimeout: 200,
      transport: () => asPair(conns[opened++]),
    });
    client.DELAY = 0;
    await client.connect();
    await client.disconnect();
    const connecting = client.connect();
    const request = client.request("td/req", "x", { timeout: 10_000 });
    await assert.rejects(connecting, /timed out: no CONNACK within 200 ms/);
    // Not kept for a reconnect that disconnect() ruled out: the attempt's end is the request's.
    await assert.rejects(
      withTimeout(request, 5000, "the request to settle"),
      (e) => e instanceof MQTTConnectionError && /timed out: no CONNACK/.test(e.message),
    );
    assert.equal(opened, 2);
  },
);

test("MQTT 5: a QoS 0 publish kept as a packet, its write stuck, rejects with its signal's reason", async () => {
  // Its properties keep the packet (for the broker's limits and aliases): the path 3.1.1's does not take.
  const conn = fakeConn(
    [0x20, 0x03, 0x00, 0x00, 0x00],
    (b) => (b[0] & 0xf0) === 0x30 ? "hold" : undefined,
  );
  const client = new MQTTClient(uniqueId("tdsig"), "127.0.0.1", {
    protocolVersion: 5,
    transport: () => asPair(conn),
  });
  await client.connect();
  try {
    const stop = new AbortController();
    const publishing = client.publish("td/sig", "x", {
      signal: stop.signal,
      properties: { contentType: "text/plain" },
    });
    const outcome = publishing.then(() => "written", (e) => e);
    await turns();
    const reason = new Error("given up");
    stop.abort(reason);
    // Nothing else would settle it: the write stays stuck, and the keepalive is off.
    assert.equal(await withTimeout(outcome, 5000, "the aborted publish to settle"), reason);
  } finally {
    await client.disconnect();
  }
});

test("robust: a QoS 0 publish taken whole by a write that then failed is not sent again", async () => {
  // The two PUBLISHes go in one write: the transport takes the first's 5 bytes, then fails.
  let publishes = 0;
  const conns = [
    fakeConn(CONNACK_OK, (b) => {
      if ((b[0] & 0xf0) !== 0x30) return undefined;
      return publishes++ === 0 ? 5 : "fail";
    }),
    fakeConn(),
  ];
  let opened = 0;
  const client = new RobustClient(uniqueId("tdonce"), "127.0.0.1", {
    transport: () => asPair(conns[opened++]),
  });
  client.DELAY = 0;
  await client.connect();
  const first = client.publish("a", "");
  const second = client.publish("b", "");
  // At most once: the first may have arrived, so it counts as sent; the second never left whole.
  await withTimeout(Promise.all([first, second]), 5000, "both publishes to settle");
  assert.equal(opened, 2);
  const again = conns[1].written.filter((b) => (b[0] & 0xf0) === 0x30).map((b) => [...b]);
  assert.deepEqual(again, [[0x30, 0x03, 0x00, 0x01, 0x62]], "what the next connection sent");
  await client.disconnect();
});

test("robust: a QoS 0 publish queued behind a write that failed goes on the next connection", async () => {
  const conns = [
    fakeConn(CONNACK_OK, (b) => (b[0] & 0xf0) === 0x30 ? "hold" : undefined),
    fakeConn(),
  ];
  let opened = 0;
  const client = new RobustClient(uniqueId("tdonce"), "127.0.0.1", {
    transport: () => asPair(conns[opened++]),
  });
  client.DELAY = 0;
  await client.connect();
  const first = client.publish("a", "");
  await turns(); // its write under way, and stuck
  const second = client.publish("b", "");
  await turns();
  // The write fails taking nothing; the second never reached a write at all: neither left.
  conns[0].failHeld();
  await withTimeout(Promise.all([first, second]), 5000, "both publishes to settle");
  assert.equal(opened, 2);
  const again = conns[1].written.filter((b) => (b[0] & 0xf0) === 0x30).map((b) => [...b]);
  assert.deepEqual(
    again.flat(),
    [0x30, 3, 0, 1, 0x61, 0x30, 3, 0, 1, 0x62],
    "what the next connection sent",
  );
  await client.disconnect();
});

test("channel (direct conn): a write tells of each piece that went out but the last, none before", async () => {
  const pieces: number[] = [];
  let progress = 0;
  const ch = channel({
    read: () => new Promise<number | null>(() => {}),
    write(p: Uint8Array) {
      pieces.push(p.length);
      return Promise.resolve(p.length);
    },
    close() {},
  } as unknown as StreamPair);
  const told = { written: () => progress++ };
  await ch.write(new Uint8Array(100), told);
  assert.equal(progress, 0, "a write in one piece tells of none");
  await ch.write(new Uint8Array(2 * 65_536 + 1), told);
  assert.deepEqual(pieces, [100, 65_536, 65_536, 1]);
  assert.equal(progress, 2, "told of the first two pieces of three, once each went out");
  assert.equal(ch.taken, 2 * 65_536 + 1);
});

test("channel (streams): a write in pieces that fails says how many bytes the stream took", async () => {
  let writes = 0;
  const ch = channel({
    readable: new ReadableStream<Uint8Array>(),
    writable: new WritableStream<Uint8Array>({
      write() {
        if (++writes === 2) throw new Error("write failed");
      },
    }),
  });
  const bytes = new Uint8Array(2 * 65_536 + 1);
  await assert.rejects(ch.write(bytes), /write failed/);
  assert.equal(ch.taken, 65_536, "the first piece was taken before the second failed");
  await ch.close();
});

test("disconnect() on a stream transport whose write is stuck resolves: closing does not wait for ever", async () => {
  let feed!: ReadableStreamDefaultController<Uint8Array>;
  let stuck = 0, closed = false;
  const fails: (() => void)[] = [];
  const pair: StreamPair = {
    readable: new ReadableStream<Uint8Array>({ start: (c) => void (feed = c) }),
    writable: new WritableStream<Uint8Array>({
      write(b) {
        if (b[0] === 0x10) return feed.enqueue(Uint8Array.from(CONNACK_OK));
        // A broker that stopped reading: this write completes only when the socket is closed.
        stuck++;
        return new Promise<void>((_, reject) => fails.push(() => reject(new Error("closed"))));
      },
    }),
    close() {
      closed = true;
      for (const fail of fails.splice(0)) fail();
    },
  };
  const client = new MQTTClient(uniqueId("tdclose"), "127.0.0.1", { transport: () => pair });
  await client.connect();
  const publishing = client.publish("td/close", "x").catch((e) => e);
  await turns();
  assert.equal(stuck, 1);
  // The DISCONNECT waits behind the stuck write (a bounded wait), then closing too waits for it.
  await withTimeout(client.disconnect(), 15_000, "disconnect() to resolve");
  assert.ok(closed, "the transport was closed");
  assert.ok(await publishing instanceof MQTTConnectionError);
});

test("robust: disconnect() as a reconnect's connection comes up renews no subscription on it", async () => {
  const suback = (conn: () => FakeConn) => (b: Uint8Array) => {
    // SUBACK, granting QoS 0, for the SUBSCRIBE's packet id.
    if (b[0] === 0x82) queueMicrotask(() => conn().feed([0x90, 0x03, b[2], b[3], 0x00]));
    return undefined;
  };
  const conns: FakeConn[] = [];
  conns.push(fakeConn(CONNACK_OK, suback(() => conns[0])));
  conns.push(fakeConn(CONNACK_OK, suback(() => conns[1])));
  let opened = 0;
  const client = new RobustClient(uniqueId("tdrenew"), "127.0.0.1", {
    transport: () => asPair(conns[opened++]),
  });
  client.DELAY = 0;
  await client.connect();
  await client.subscribe("td/renew", 0);
  let leaving: Promise<void> | undefined;
  client.addEventListener("connected", () => (leaving = client.disconnect()), { once: true });
  conns[0].end(); // lost: the reconnect's connection has no session, and comes up
  for (let i = 0; i < 500 && !leaving; i++) await turns(1);
  assert.ok(leaving, "never reconnected");
  await withTimeout(leaving, 5000, "disconnect() to resolve");
  assert.deepEqual(
    packetTypes(conns[1].written),
    [0x10, 0xe0],
    "CONNECT then DISCONNECT: no SUBSCRIBE",
  );
});

test("a subscribe() waiting for its SUBACK rejects with its signal's reason when it aborts", async () => {
  const conn = fakeConn(); // answers nothing after the CONNACK
  const client = new MQTTClient(uniqueId("tdsub"), "127.0.0.1", { transport: () => asPair(conn) });
  await client.connect();
  try {
    const stop = new AbortController();
    const outcome = client.subscribe("td/sub", 0, { signal: stop.signal }).then(
      () => "acked",
      (e) => e,
    );
    await turns();
    assert.equal(conn.written.at(-1)![0], 0x82, "the SUBSCRIBE went out");
    const reason = new Error("given up");
    stop.abort(reason);
    assert.equal(await withTimeout(outcome, 5000, "the aborted subscribe to settle"), reason);
  } finally {
    await client.disconnect();
  }
});

test("after the broker broke the protocol mid-read, the next connection's CONNECT goes out", async () => {
  // The second broker answers only a CONNECT it has read.
  const conns: FakeConn[] = [fakeConn()];
  conns.push(fakeConn(null, (b) => {
    if (b[0] === 0x10) queueMicrotask(() => conns[1].feed(CONNACK_OK));
    return undefined;
  }));
  let opened = 0;
  const client = new MQTTClient(uniqueId("tdcork"), "127.0.0.1", {
    connectTimeout: 2000,
    transport: () => asPair(conns[opened++]),
  });
  await client.connect();
  const lost = new Promise((r) => client.addEventListener("disconnected", r, { once: true }));
  // A reserved packet type: malformed, read while the reader holds writes back.
  conns[0].feed([0x00, 0x00]);
  await withTimeout(lost, 5000, "the connection to end");
  await withTimeout(client.connect(), 5000, "the next connect()");
  assert.equal(conns[1].written[0][0], 0x10, "its CONNECT was written");
  await client.disconnect();
});

test("nothing is written after disconnect()'s DISCONNECT: not the ack of a message taken meanwhile", async () => {
  const conn = fakeConn();
  const client = new MQTTClient(uniqueId("tdseal"), "127.0.0.1", { transport: () => asPair(conn) });
  await client.connect();
  // A QoS 1 PUBLISH (topic "t", packet id 1): queued, acknowledged once taken.
  conn.feed([0x32, 0x06, 0x00, 0x01, 0x74, 0x00, 0x01, 0x78]);
  for (let i = 0; i < 100 && conn.unread > 0; i++) await turns(1);
  await turns();
  const stopping = client.disconnect();
  const msg = await client.wait_msg();
  assert.equal(msg.topic, "t");
  await stopping;
  assert.deepEqual(packetTypes(conn.written), [0x10, 0xe0], "CONNECT, then DISCONNECT alone");
});

test("the reader waits while over 1 MiB of publishes is queued behind a stuck write, and resumes once it moves", async () => {
  const conn = fakeConn(CONNACK_OK, (b) => (b[0] & 0xf0) === 0x30 ? "hold" : undefined);
  const client = new MQTTClient(uniqueId("tdhold"), "127.0.0.1", { transport: () => asPair(conn) });
  await client.connect();
  const first = client.publish("td/a", new Uint8Array(1 << 20)).catch((e) => e);
  await turns(); // in a write, stuck
  // Queued behind it: 1.5 MiB in one packet, far under the packet count that holds the reader.
  const second = client.publish("td/b", new Uint8Array(3 << 19)).catch((e) => e);
  const incoming = [0x30, 0x03, 0x00, 0x01, 0x74]; // a QoS 0 PUBLISH to "t"
  conn.feed(incoming);
  await turns();
  conn.feed(incoming);
  await turns(20);
  assert.equal(
    conn.unread,
    incoming.length,
    "the reader read on though over 1 MiB waited to be written",
  );
  // The stuck write completes: the queued publish goes into the next write, and reading resumes.
  conn.releaseHeld();
  for (let i = 0; i < 500 && conn.unread > 0; i++) await turns(1);
  assert.equal(conn.unread, 0, "the reader never resumed once the queued bytes went into a write");
  await client.disconnect();
  assert.equal(await first, undefined);
  assert.ok(await second instanceof MQTTConnectionError, "its write was still stuck");
});

test("ping() on a client that never connected rejects at once (bounded)", async () => {
  const client = new MQTTClient(uniqueId("tdping"), "127.0.0.1", { keepalive: 30 });
  await assert.rejects(withTimeout(client.ping(), 5000, "ping()"), /Cannot ping: not connected/);
});
