// The client's edges (lib/_channel.ts, _connector.ts, _requests.ts, _servers.ts, _checks.ts,
// _renew.ts) where a systematic mutation run (every comparison, condition, constant ±1 and
// statement, one at a time, against the fast tests of each file) found behaviour no test pinned
// down: the channel's read buffer sizes and read gathering, its failed reads and partial writes;
// the CONNECT's properties, an assigned client identifier, concurrent connect() and disconnect();
// request()'s response topic; failover order and Server References; argument defaults; the will's
// properties; which filters are renewed. Each test here fails on such a mutant and passes on the
// code. Driven with stand-ins (a conn or a stream pair that answers what the test says, a link for
// the requests); no broker.
import assert from "node:assert/strict";
import { channel, GATHER_AFTER, type ReadSink } from "../lib/_channel.ts";
import type { StreamPair } from "../lib/transports/types.ts";
import { Requests } from "../lib/_requests.ts";
import { checkDisconnect, granted, positive } from "../lib/_checks.ts";
import {
  denied,
  deniedHint,
  movesOn,
  OWN_FAILURES,
  ownFailure,
  serverReferenceOf,
  Servers,
} from "../lib/_servers.ts";
import { parseServer } from "../lib/transports/endpoint.ts";
import { MQTTConnectionError, MQTTException } from "../lib/errors.ts";
import type { PublishOptions } from "../lib/options.ts";
import { MQTTClient } from "../mod.ts";
import { MQTTClient as RobustClient } from "../lib/robust.ts";
import type { ConnectPacket, Subscription } from "../lib/codec/packet.ts";
import { Subscriptions } from "../lib/_renew.ts";
import { decodeChunks } from "./_codec.ts";
import { incoming } from "./_incoming.ts";
import { test, uniqueId, until, withTimeout } from "./_test.ts";

/** A sink that keeps the chunks it is given (null at the end). */
function keeper() {
  const chunks: (Uint8Array | null)[] = [];
  const sink: ReadSink = {
    data(_ch, chunk) {
      chunks.push(chunk);
    },
    failed(_ch, e) {
      throw e;
    },
  };
  return { sink, chunks };
}

/** Runs the queued microtasks, and no timer. */
async function microtasks(): Promise<void> {
  for (let i = 0; i < 10; i++) await null;
}

// The read buffer a quiet connection leaves pending is what it pins: its size is the channel's
// memory per connection (an ack or a PINGRESP: 64 bytes; a message of a few hundred: 4 KiB).
test("channel (direct conn): the read buffer grows with reads that fill it, up to 64 KiB, and shrinks with small ones", async () => {
  // Each read answers with the next count; the buffer each read was given is recorded.
  const answers = [64, 4096, 65536, 65536, 4096, 1000, 10, 64, 4095, 64, 100, 63, 30];
  const given: number[] = [];
  const conn = {
    read(p: Uint8Array): Promise<number | null> {
      given.push(p.length);
      const n = answers[given.length - 1];
      if (n === undefined) return Promise.resolve(null);
      p.fill(given.length, 0, n);
      return Promise.resolve(Math.min(n, p.length));
    },
    write: (p: Uint8Array) => Promise.resolve(p.length),
    close() {},
  };
  const ch = channel(conn as unknown as StreamPair);
  const { sink, chunks } = keeper();
  while (chunks.at(-1) !== null) {
    // A read may wait a timer turn (a streak of small reads answered at once: see read_gathering_test).
    const had = chunks.length;
    ch.read(sink);
    while (chunks.length === had) await new Promise((r) => setTimeout(r, 0));
  }
  // Each size follows from the read before it: 64 fills 64 (up to 4 KiB), 4096 fills 4096 (up to
  // 64 KiB, the cap), 4096 of 64 KiB is not small, 1000 is (down to 4 KiB), 10 is tiny (64); 64 of
  // 4 KiB is not tiny.
  const sizes = [64, 4096, 65536, 65536, 65536, 65536, 4096, 64, 4096, 4096, 4096, 4096, 64, 64];
  assert.deepEqual(given, sizes);
  // Each chunk is just the bytes read, its own copy.
  assert.deepEqual(chunks.slice(0, -1).map((c) => c!.length), answers);
  chunks.slice(0, -1).forEach((c, i) => assert.ok(c!.every((b) => b === i + 1), `chunk ${i}`));
  // A message kept from a small chunk pins its slab: 8 KiB at most.
  for (const c of chunks.slice(0, -1)) {
    if (c!.length <= 1024) assert.ok(c!.buffer.byteLength <= 8192, `${c!.buffer.byteLength} B`);
  }
});

test("channel (byte stream): the BYOB read doubles while reads fill it, up to 64 KiB, and halves when they come in under a quarter", async () => {
  const answers = [64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536, 65536];
  answers.push(16384, 16383, 8191, 2000, 1, 1, 1, 1, 1, 1, 1, 1);
  const given: number[] = [];
  const readable = new ReadableStream({
    type: "bytes",
    pull(controller) {
      const req = controller.byobRequest!;
      const view = req.view as Uint8Array;
      given.push(view.byteLength);
      const n = answers[given.length - 1];
      if (n === undefined) {
        controller.close();
        req.respond(0);
        return;
      }
      view.fill(7, 0, n);
      req.respond(Math.min(n, view.byteLength));
    },
  });
  const writable = new WritableStream<Uint8Array>();
  const ch = channel({ readable, writable } as unknown as StreamPair);
  const { sink, chunks } = keeper();
  while (chunks.at(-1) !== null) {
    ch.read(sink);
    await microtasks();
  }
  // Each size follows from the read before it.
  const grown = [64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536];
  assert.deepEqual(given, [
    ...grown,
    65536, // 65536 filled it: the cap
    65536, // 65536 again
    65536, // 16384: a quarter, not under it: it stays
    32768, // 16383: under a quarter, it halves
    16384, // 8191
    8192, // 2000
    ...[4096, 2048, 1024, 512, 256, 128, 64], // a byte each
    64, // the floor
  ]);
  assert.deepEqual(chunks.slice(0, -1).map((c) => c!.length), answers);
  await ch.close();
});

test("channel: a transport that gave no stream pair is named by what it gave", () => {
  const open = (given: unknown) => () => channel(given as StreamPair);
  const pair = "not a StreamPair { readable, writable }";
  assert.throws(open(42), {
    name: "TypeError",
    message: `Invalid transport: it gave number, ${pair}`,
  });
  assert.throws(open({ writable: 1 }), {
    name: "TypeError",
    message: `Invalid transport: it gave object without readable, ${pair}`,
  });
});

test("channel: after a wait that gathered little, a new streak of GATHER_AFTER small reads is needed before the next wait", async () => {
  // performance.now() stands still (at 1 s): every read is answered at once.
  const now = performance.now;
  performance.now = () => 1000;
  try {
    // A streak: 64 (fills the first buffer), then small reads; then a wait that gathers 100 bytes.
    const sizes = [64, ...Array(GATHER_AFTER - 1).fill(100), 100, ...Array(GATHER_AFTER).fill(100)];
    let reads = 0;
    const conn = {
      read: (p: Uint8Array) =>
        Promise.resolve(reads < sizes.length ? Math.min(sizes[reads++], p.length) : null),
      write: (p: Uint8Array) => Promise.resolve(p.length),
      close() {},
    };
    const ch = channel(conn as unknown as StreamPair);
    const { sink } = keeper();
    const step = async () => (ch.read(sink), await microtasks());
    for (let i = 0; i < GATHER_AFTER; i++) await step();
    await step();
    assert.equal(reads, GATHER_AFTER, "the read after the streak waits for a timer turn");
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(reads, GATHER_AFTER + 1);
    // That wait gathered 100 bytes: the streak starts again from none.
    for (let i = 0; i < GATHER_AFTER; i++) {
      await step();
      assert.equal(reads, GATHER_AFTER + 2 + i, `read ${i + 1} after the wait: at once`);
    }
    await step();
    assert.equal(reads, 2 * GATHER_AFTER + 1, "a full streak again: the next read waits");
    await ch.close();
    await microtasks();
  } finally {
    performance.now = now;
  }
});

test("channel (direct conn): a read that fails while open is a failure, not the end of the stream", async () => {
  const error = new Error("read failed");
  const ch = channel({
    read: () => Promise.reject(error),
    write: (p: Uint8Array) => Promise.resolve(p.length),
    close() {},
  } as unknown as StreamPair);
  const told: unknown[] = [];
  ch.read({ data: (_ch, chunk) => void told.push(chunk), failed: (_ch, e) => void told.push(e) });
  await microtasks();
  assert.deepEqual(told, [error]);
  await ch.close();
});

test("channel (direct conn): a transport that takes a byte at a time: each byte but the last is progress, and a failed write took none", async () => {
  let fail = false;
  const ch = channel({
    read: () => new Promise<number | null>(() => {}),
    write: (p: Uint8Array) =>
      fail ? Promise.reject(new Error("gone")) : Promise.resolve(Math.min(1, p.length)),
    close() {},
  } as unknown as StreamPair);
  let progress = 0;
  await ch.write(new Uint8Array(3), { written: () => progress++ });
  assert.deepEqual([progress, ch.taken], [2, 3]);
  fail = true;
  await assert.rejects(ch.write(new Uint8Array(3)), /gone/);
  assert.equal(ch.taken, 0);
});

test("channel (streams): after the peer closed, close() ends a write stuck on it, and a second close() does nothing", async () => {
  let end!: () => void;
  let closes = 0;
  const cut: (() => void)[] = [];
  const ch = channel({
    readable: new ReadableStream<Uint8Array>({ start: (c) => void (end = () => c.close()) }),
    // A peer that stopped reading: the write completes only when the transport is closed.
    writable: new WritableStream<Uint8Array>({
      write: () => new Promise<void>((_, reject) => cut.push(() => reject(new Error("closed")))),
    }),
    close() {
      closes++;
      for (const f of cut.splice(0)) f();
    },
  });
  const { sink, chunks } = keeper();
  ch.read(sink);
  end();
  await microtasks();
  assert.deepEqual(chunks, [null]);
  await assert.rejects(Promise.all([ch.write(new Uint8Array(10)), ch.close()]), /closed/);
  assert.equal(closes, 1);
  await ch.close();
  assert.equal(closes, 1, "closed once");
});

test("channel (streams): a write in pieces tells of each but the last; a small one that fails took nothing", async () => {
  let fail = false;
  const ch = channel({
    readable: new ReadableStream<Uint8Array>(),
    writable: new WritableStream<Uint8Array>({
      write() {
        if (fail) throw new Error("write failed");
      },
    }),
  });
  let progress = 0;
  await ch.write(new Uint8Array(2 * 65_536 + 1), { written: () => progress++ });
  assert.deepEqual([progress, ch.taken], [2, 2 * 65_536 + 1]);
  fail = true;
  await assert.rejects(ch.write(new Uint8Array(10)), /write failed/);
  assert.equal(ch.taken, 0);
  await ch.close();
});

test("channel (streams, not a byte stream): chunks come as the stream gives them, then null at its end", async () => {
  const given = [Uint8Array.of(1, 2), Uint8Array.of(3)];
  const ch = channel({
    readable: new ReadableStream<Uint8Array>({
      pull: (c) => void (given.length ? c.enqueue(given.shift()!) : c.close()),
    }),
    writable: new WritableStream<Uint8Array>(),
  });
  const { sink, chunks } = keeper();
  for (let i = 0; i < 3; i++) {
    ch.read(sink);
    await microtasks();
  }
  assert.deepEqual(chunks, [Uint8Array.of(1, 2), Uint8Array.of(3), null]);
  await ch.close();
});

// MQTT 5 request(), over a stand-in for its client: what it subscribes to, publishes and unsubscribes.

/** A link whose calls are logged; `subscribe` answers as `suback` says (a promise: held). */
function requestLink(clientId = "c", info?: string) {
  const log: string[] = [];
  const sent: { topic: string; options: PublishOptions }[] = [];
  const link = {
    client_id: clientId,
    connack: { properties: { responseInformation: info } },
    suback: (): Promise<number> => Promise.resolve(1),
    subscribe(topic: string) {
      log.push(`subscribe ${topic}`);
      return link.suback();
    },
    unsubscribe(topic: string) {
      log.push(`unsubscribe ${topic}`);
      return Promise.resolve();
    },
    publish(topic: string, _payload: string | Uint8Array, options: PublishOptions) {
      log.push(`publish ${topic}`);
      sent.push({ topic, options });
      return Promise.resolve();
    },
  };
  return { link, log, sent, requests: new Requests(link) };
}

/** A reply on `topic` with `correlationData`. */
const reply = (topic: string, correlationData?: Uint8Array, payload = "r") => {
  const m = incoming(topic, 0, undefined, correlationData && { correlationData });
  m.packet.payload = new TextEncoder().encode(payload);
  return m;
};

const turn = () => new Promise((r) => setTimeout(r, 0));

test("request(): the response topic's last level is the same for a client identifier in every run (a kept session's)", async () => {
  // Two FNV-1a hashes of the identifier: a session the broker kept across a restart (or an
  // upgrade) holds the subscription, and the new process must name the same topic.
  for (
    const [id, info, topic] of [
      ["c", undefined, "c/responses/e60c2c526e77"],
      ["client-1", "base//", "base/baf8a8e8fe48"],
      ["id1208", undefined, "id1208/responses/0e40f20303c7"], // both hashes padded with zeros
    ] as const
  ) {
    const { requests, sent } = requestLink(id, info);
    const r = requests.request("q", "x", { timeout: 60_000 });
    await turn();
    assert.equal(sent[0].options.properties!.responseTopic, topic);
    requests.lost(new Error("end"), false);
    await assert.rejects(r, /end/);
  }
});

test("request(): take() keeps what comes on the response topic, a late or unmatched reply too, and leaves the rest", async () => {
  const { requests, sent } = requestLink();
  const r = requests.request("q", "x", { timeout: 60_000 });
  await turn();
  const { responseTopic, correlationData } = sent[0].options.properties!;
  const data = correlationData as Uint8Array;
  // Not ours: another topic, one of the same length, one that differs only before the last level.
  assert.equal(requests.take(reply("other", data)), false);
  assert.equal(requests.take(reply(responseTopic!.replace("c/", "d/"), data)), false);
  assert.equal(requests.take(reply(responseTopic!.slice(0, -1) + "0", data)), false);
  // Ours, with no Correlation Data or another's: taken, and dropped.
  assert.equal(requests.take(reply(responseTopic!)), true);
  assert.equal(requests.take(reply(responseTopic!, new Uint8Array(16))), true);
  assert.equal(requests.take(reply(responseTopic!, data, "answer")), true);
  assert.equal(new TextDecoder().decode((await r).payload), "answer");
  // Late: taken, and dropped.
  assert.equal(requests.take(reply(responseTopic!, data, "again")), true);
  // An empty client identifier not assigned yet: a response topic of this client's own.
  const empty = requestLink("");
  const r2 = empty.requests.request("q", "x", { timeout: 60_000 });
  await turn();
  const own = empty.sent[0].options.properties!;
  assert.match(own.responseTopic!, /^\/responses\/[0-9a-f]{12}$/);
  assert.equal(
    empty.requests.take(reply(own.responseTopic!, own.correlationData as Uint8Array)),
    true,
  );
  await r2;
  // It stays this client's: the next request waits on it too, subscribed once.
  const r3 = empty.requests.request("q", "y", { timeout: 60_000 });
  await turn();
  const next = empty.sent[1].options.properties!;
  assert.equal(next.responseTopic, own.responseTopic);
  assert.deepEqual(empty.log.map((l) => l.split(" ")[0]), ["subscribe", "publish", "publish"]);
  empty.requests.take(reply(next.responseTopic!, next.correlationData as Uint8Array));
  await r3;
});

test("request(): a connection lost keeps the requests a robust client rides it out with, and subscribes again after", async () => {
  const { requests, log, sent } = requestLink();
  const r = requests.request("q", "1", { timeout: 60_000 });
  await turn();
  requests.lost(new Error("lost"), true);
  const r2 = requests.request("q", "2", { timeout: 60_000 });
  await turn();
  assert.deepEqual(log.filter((l) => l.startsWith("subscribe")).length, 2, "subscribed again");
  for (const s of sent) {
    const { responseTopic, correlationData } = s.options.properties!;
    requests.take(reply(responseTopic!, correlationData as Uint8Array, s.topic));
  }
  await r, await r2;
  // A robust client's SUBSCRIBE still waiting when the connection goes is not made twice.
  const { requests: held, link, log: heldLog } = requestLink();
  let suback!: (n: number) => void;
  link.suback = () => new Promise((resolve) => (suback = resolve));
  const h1 = held.request("q", "1", { timeout: 60_000 });
  await turn();
  held.lost(new Error("lost"), true);
  const h2 = held.request("q", "2", { timeout: 60_000 });
  await turn();
  assert.deepEqual(heldLog.filter((l) => l.startsWith("subscribe")).length, 1);
  suback(1);
  await turn();
  assert.deepEqual(heldLog.filter((l) => l.startsWith("publish")).length, 2);
  held.lost(new Error("end"), false);
  await assert.rejects(h1, /end/);
  await assert.rejects(h2, /end/);
});

test("request(): a new client identifier moves the response topic once no request waits, and the old one is unsubscribed", async () => {
  const { requests, link, log, sent } = requestLink("first");
  // A settled promise, as an async function's: the caller's await takes the same turn.
  const answer = (i: number) => {
    const { responseTopic, correlationData } = sent[i].options.properties!;
    requests.take(reply(responseTopic!, correlationData as Uint8Array));
    return Promise.resolve();
  };
  const r1 = requests.request("q", "1", { timeout: 60_000 });
  await turn();
  link.client_id = "second";
  const r2 = requests.request("q", "2", { timeout: 60_000 });
  await turn();
  assert.equal(
    sent[1].options.properties!.responseTopic,
    sent[0].options.properties!.responseTopic,
  );
  await answer(0), await answer(1), await r1, await r2;
  const r3 = requests.request("q", "3", { timeout: 60_000 });
  await turn();
  const old = sent[0].options.properties!.responseTopic!;
  const now = sent[2].options.properties!.responseTopic!;
  assert.match(now, /^second\/responses\//);
  assert.deepEqual(log, [
    `subscribe ${old}`,
    "publish q",
    "publish q",
    `unsubscribe ${old}`,
    `subscribe ${now}`,
    "publish q",
  ]);
  await answer(2), await r3;
});

test("request(): a failed subscription fails the request, and the next request subscribes again", async () => {
  const { requests, link, log } = requestLink();
  link.suback = () => Promise.reject(new Error("refused"));
  await assert.rejects(requests.request("q", "1", { timeout: 60_000 }), /refused/);
  link.suback = () => Promise.resolve(1);
  const r = requests.request("q", "2", { timeout: 60_000 });
  await turn();
  assert.deepEqual(log.map((l) => l.split(" ")[0]), ["subscribe", "subscribe", "publish"]);
  requests.lost(new Error("end"), false);
  await assert.rejects(r, /end/);
});

// The connector (connect(), disconnect()), over a Deno.Conn-like stand-in that answers the CONNECT
// with a CONNACK and records every write.

/** A conn whose first read is a CONNACK (MQTT 5 when `v5`), later reads pending until close(). */
function connackConn(v5: boolean) {
  let end!: (n: null) => void;
  const ended = new Promise<null>((resolve) => (end = resolve));
  let first = true;
  const conn = {
    written: [] as Uint8Array[],
    read(p: Uint8Array): Promise<number | null> {
      if (!first) return ended;
      first = false;
      const ack = v5 ? [0x20, 0x03, 0, 0, 0] : [0x20, 0x02, 0, 0];
      p.set(ack);
      return Promise.resolve(ack.length);
    },
    write(p: Uint8Array): Promise<number> {
      conn.written.push(p.slice());
      return Promise.resolve(p.length);
    },
    close: () => end(null),
  };
  return conn;
}

/** The CONNECT a client with `options` (MQTT 5) sends at connect(`clean`). */
async function connectSent(options: object, clean: boolean): Promise<ConnectPacket> {
  const conn = connackConn(true);
  const client = new MQTTClient(uniqueId("edge"), "127.0.0.1", {
    protocolVersion: 5,
    transport: () => conn as unknown as StreamPair,
    ...options,
  });
  await client.connect(clean);
  await client.disconnect();
  return decodeChunks(conn.written, 5)[0] as ConnectPacket;
}

test("connect(): MQTT 5's Session Expiry Interval is 0xFFFFFFFF for connect(false), 0 for connect(true), as given when given", async () => {
  const expiry = async (options: object, clean: boolean) =>
    (await connectSent(options, clean)).properties?.sessionExpiryInterval ?? 0;
  assert.equal(await expiry({}, false), 0xffffffff);
  assert.equal(await expiry({}, true), 0);
  assert.equal(await expiry({ sessionExpiryInterval: 0 }, false), 0);
  assert.equal(await expiry({ sessionExpiryInterval: 60 }, true), 60);
});

test("connect(): authenticationData given as bytes goes in the CONNECT, with its method", async () => {
  const data = Uint8Array.of(1, 2, 3);
  const { properties } = await connectSent(
    { authenticationMethod: "m", authenticationData: data },
    true,
  );
  assert.equal(properties?.authenticationMethod, "m");
  assert.deepEqual(properties?.authenticationData, data);
  const asked = await connectSent(
    { authenticationMethod: "m", authenticationData: () => data },
    true,
  );
  assert.deepEqual(asked.properties?.authenticationData, data);
});

test("connect() while a connect() is under way rejects, and the first connects", async () => {
  const conn = connackConn(false);
  const client = new MQTTClient(uniqueId("edge"), "127.0.0.1", {
    transport: () => conn as unknown as StreamPair,
  });
  const first = client.connect();
  await assert.rejects(client.connect(), {
    name: "TypeError",
    message: "Cannot connect: this client is already connected or connecting",
  });
  assert.equal(await first, false);
  await assert.rejects(client.connect(), TypeError);
  assert.equal(decodeChunks(conn.written).filter((p) => p.type === "connect").length, 1);
  await client.disconnect();
});

test("disconnect() twice at once: the second joins the first, unless it asks for another DISCONNECT", async () => {
  const conn = connackConn(true);
  const client = new MQTTClient(uniqueId("edge"), "127.0.0.1", {
    protocolVersion: 5,
    transport: () => conn as unknown as StreamPair,
  });
  await client.connect();
  const first = client.disconnect();
  const joined = client.disconnect();
  const same = client.disconnect({ reasonCode: 0 });
  await assert.rejects(client.disconnect({ reasonCode: 4 }), {
    name: "TypeError",
    message: "Invalid disconnect() options: a disconnect() under way sends its own DISCONNECT",
  });
  await Promise.all([first, joined, same]);
  const sent = decodeChunks(conn.written, 5).map((p) => p.type);
  assert.deepEqual(sent, ["connect", "disconnect"]);
});

test("request(): a timeout of 1 ms is accepted: the least the rule allows", async () => {
  const { requests } = requestLink();
  await assert.rejects(requests.request("q", "x", { timeout: 1 }), { name: "TimeoutError" });
  await assert.rejects(requests.request("q", "x", { timeout: 0 }), RangeError);
});

/** A conn as connackConn's whose CONNACK (MQTT 5) assigns the client identifier `id`. */
function assigningConn(id: string) {
  const conn = connackConn(true);
  const ack = [0x20, 6 + id.length, 0, 0, 3 + id.length, 0x12, 0, id.length];
  ack.push(...new TextEncoder().encode(id));
  let first = true;
  const read = conn.read;
  conn.read = (p: Uint8Array) => {
    if (!first) return read(p);
    first = false;
    read(p); // the plain CONNACK, replaced
    p.set(ack);
    return Promise.resolve(ack.length);
  };
  return conn;
}

test("connect(): MQTT 5, an identifier the broker assigned is the one later connections give", async () => {
  // The second broker takes the identifier as given (assigns none): the third goes on giving it.
  const conns = [assigningConn("given-1"), connackConn(true), connackConn(true)];
  const used = conns.slice();
  const client = new MQTTClient("", "127.0.0.1", {
    protocolVersion: 5,
    transport: () => conns.shift() as unknown as StreamPair,
  });
  for (let i = 0; i < 3; i++) {
    await client.connect(false);
    assert.equal(client.client_id, "given-1");
    await client.disconnect();
  }
  const ids = used.map((c) => (decodeChunks(c.written, 5)[0] as ConnectPacket).clientId);
  assert.deepEqual(ids, ["", "given-1", "given-1"]);
});

test("robust: disconnect() while offline rejects a publish kept unacknowledged for the next connection", async () => {
  const conns: ReturnType<typeof connackConn>[] = [];
  let napping!: () => void;
  const nap = new Promise<void>((resolve) => (napping = resolve));
  const client = new (class extends RobustClient {
    override delay(_i: number): Promise<void> {
      napping();
      return new Promise(() => {}); // offline until disconnect()
    }
  })(uniqueId("edge"), "127.0.0.1", {
    transport: () => {
      conns.push(connackConn(false));
      return conns.at(-1) as unknown as StreamPair;
    },
  });
  await client.connect();
  // Sent and not acknowledged when the broker closes the connection: kept, to go again.
  const kept = client.publish("t", "x", false, 1);
  await turn();
  conns[0].close();
  await nap;
  await client.disconnect();
  await withTimeout(assert.rejects(kept, /disconnect/), 10_000, "the publish to end");
});

test("connect() made while a disconnect() is under way ends when disconnect() is called again meanwhile", async () => {
  let opened = 0;
  const client = new MQTTClient(uniqueId("edge"), "127.0.0.1", {
    transport: () => (opened++, connackConn(false) as unknown as StreamPair),
  });
  await client.connect();
  const leaving = client.disconnect();
  const connecting = client.connect();
  const again = client.disconnect();
  await assert.rejects(connecting, { message: "Disconnected: disconnect() was called" });
  await Promise.all([leaving, again]);
  assert.equal(opened, 1, "no second connection");
});

test("connect({ signal }): aborted while a credential function has not settled, it rejects with the signal's reason", async () => {
  const ac = new AbortController();
  const client = new MQTTClient(uniqueId("edge"), "127.0.0.1", {
    user: () => new Promise<string>(() => {}),
    connectTimeout: 60_000,
    transport: () => connackConn(false) as unknown as StreamPair,
  });
  const connecting = client.connect({ signal: ac.signal });
  await turn();
  ac.abort(new Error("stop"));
  await withTimeout(assert.rejects(connecting, /stop/), 10_000, "connect() to end");
});

test("robust: a credential function that does not settle within connectTimeout on a reconnect is asked again, as one that threw", async () => {
  const conns: ReturnType<typeof connackConn>[] = [];
  let asked = 0;
  const client = new (class extends RobustClient {
    override delay(_i: number): Promise<void> {
      return Promise.resolve();
    }
  })(uniqueId("edge"), "127.0.0.1", {
    // The second attempt's never settles: that attempt times out.
    user: () => ++asked === 2 ? new Promise<string>(() => {}) : "u",
    connectTimeout: 100,
    transport: () => {
      conns.push(connackConn(false));
      return conns.at(-1) as unknown as StreamPair;
    },
  });
  await client.connect();
  conns[0].close(); // the broker closed the connection
  await until(() => conns.length === 2 && client.connected, "the reconnect after the timeout");
  assert.equal(asked, 3);
  await client.disconnect();
});

// The servers and failover (lib/_servers.ts), by hand.

const at = (host: string) => parseServer(host, 0, false);
const hosts = (list: { hostname: string }[]) => list.map((e) => e.hostname);

test("servers: a reconnect goes round the list from the one that accepted; one that sent the client away goes last", () => {
  const list = [at("a"), at("b"), at("c")];
  const servers = new Servers(list);
  assert.deepEqual(hosts(servers.fromCurrent()), ["a", "b", "c"]);
  // The same server given anew (a Server Reference naming a listed one) is that one.
  servers.accepted(at("b"));
  assert.equal(servers.current, list[1]);
  assert.deepEqual(hosts(servers.fromCurrent()), ["b", "c", "a"]);
  servers.left();
  assert.deepEqual(hosts(servers.fromCurrent()), ["c", "a", "b"]);
  // A server a Server Reference led to, not in the list: first, then the list from b.
  const x = at("x");
  servers.accepted(x);
  assert.equal(servers.current, x);
  assert.deepEqual(hosts(servers.fromCurrent()), ["x", "b", "c", "a"]);
  servers.left();
  assert.deepEqual(hosts(servers.fromCurrent()), ["b", "c", "a", "x"]);
  servers.accepted(list[0]);
  assert.deepEqual(hosts(servers.fromCurrent()), ["a", "b", "c"]);
});

test("servers: first() moves on after a failure of the server, stops at the client's own or when stopped, and names every address when all fail", async () => {
  const list = [at("a"), at("b"), at("c")];
  const down = (s: { hostname: string }) => new MQTTConnectionError(`${s.hostname} down`);
  const tried: string[] = [];
  const servers = new Servers(list);
  const ok = await servers.first((s) => {
    tried.push(s.hostname);
    return s.hostname === "b" ? Promise.resolve("b") : Promise.reject(down(s));
  }, () => false);
  assert.deepEqual([ok, tried], ["b", ["a", "b"]]);
  // All fail: the last error, its message naming each.
  const all = servers.first((s) => Promise.reject(down(s)), () => false);
  await assert.rejects(all, {
    message:
      "Cannot connect to any of the 3 servers: mqtt://a:1883: a down; mqtt://b:1883: b down; mqtt://c:1883: c down",
  });
  // A refusal of the client itself, an error of its own, or stopped: no further server.
  for (
    const [error, stopped] of [
      [new MQTTException("bad user", 4), false],
      [new MQTTException("not authorized", 0x87), false],
      [new TypeError("bad"), false],
      [down({ hostname: "a" }), true],
    ] as const
  ) {
    tried.length = 0;
    const e = await servers.first(
      (s) => (tried.push(s.hostname), Promise.reject(error)),
      () => stopped,
    )
      .catch((e) => e);
    assert.deepEqual([e, tried], [error, ["a"]]);
  }
  const own = down({ hostname: "a" });
  OWN_FAILURES.add(own);
  assert.equal(movesOn(own), false);
  // The server's refusals move on.
  for (const code of [3, 0x88, 0x89, 0x97, 0x9c, 0x9d, 0x9f]) {
    assert.equal(movesOn(new MQTTException("server", code)), true, `code ${code}`);
  }
  for (const code of [1, 2, 4, 5, 0x80, 0x87, 0x8a, 0x9e]) {
    assert.equal(movesOn(new MQTTException("client", code)), false, `code ${code}`);
  }
});

test("servers: the Server Reference of a refusal or a DISCONNECT, only with 0x9C or 0x9D", () => {
  assert.equal(serverReferenceOf({ reasonCode: 0x9c, serverReference: "x" }), "x");
  assert.equal(serverReferenceOf({ code: 0x9d, serverReference: "y" }), "y");
  assert.equal(serverReferenceOf({ reasonCode: 0x9e, serverReference: "x" }), undefined);
  assert.equal(serverReferenceOf({ code: 0x88, serverReference: "x" }), undefined);
  assert.equal(serverReferenceOf({ reasonCode: 0x9c }), undefined);
});

test("servers: what the runtime's permissions refused is told apart, and a refused lookup names the flag", () => {
  const cause = (c: object) => new MQTTConnectionError("no", { cause: c });
  assert.equal(denied(cause({ name: "NotCapable", message: "Requires net access" })), true);
  assert.equal(denied(cause({ name: "SecurityError", message: "insecure" })), true);
  assert.equal(denied(cause({ code: "ERR_ACCESS_DENIED" })), true);
  assert.equal(denied(cause({ name: "Error", message: "connection refused" })), false);
  assert.equal(denied(new Error("no cause")), false);
  assert.equal(
    deniedHint(new Error("getaddrinfo ERR_ACCESS_DENIED host")),
    " (run with --allow-net)",
  );
  assert.equal(deniedHint(new Error("connect ERR_ACCESS_DENIED")), "");
});

test("servers: first() follows a refusal's Server Reference next, once a round, and tries a single server as it is", async () => {
  const down = (s: { hostname: string }) =>
    Promise.reject(new MQTTConnectionError(`${s.hostname} down`));
  const run = async (refer: Record<string, string[]>) => {
    const tried: string[] = [];
    await new Servers([at("a"), at("b"), at("c")]).first(
      (s) => (tried.push(s.hostname), down(s)),
      () => false,
      (_e, s) => (refer[s.hostname] ?? []).map(at),
    ).catch(() => {});
    return tried;
  };
  // a refers to x: x next, then the rest of the list.
  assert.deepEqual(await run({ a: ["x"] }), ["a", "x", "b", "c"]);
  // a refers to none, b to x, c to y: x is followed, y not (once a round).
  assert.deepEqual(await run({ b: ["x"], c: ["y"] }), ["a", "b", "x", "c"]);
  // One server, no reference to follow: its attempt's outcome as it is.
  const one = at("a");
  const e = new MQTTConnectionError("a down");
  const seen: unknown[] = [];
  const got = await new Servers([one]).first((s) => (seen.push(s), Promise.reject(e)), () => false)
    .catch((x) => x);
  assert.deepEqual([got, got.message, seen], [e, "a down", [one]]);
});

test("servers: a failure of the client's own making: a TypeError, or an error marked so, or caused by one", () => {
  const marked = new Error("certificate refused");
  OWN_FAILURES.add(marked);
  assert.equal(ownFailure(new TypeError("bad ssl_params")), true);
  assert.equal(ownFailure(marked), true);
  assert.equal(ownFailure(new MQTTConnectionError("read failed", { cause: marked })), true);
  assert.equal(ownFailure(new MQTTConnectionError("reset")), false);
  assert.equal(ownFailure(new Error("x", { cause: new TypeError("not marked") })), false);
});

// Argument checks (lib/_checks.ts): what an options object leaves out, and what it may not add.

test("publish() and connect() with an options object: what it leaves out is the default (retain false, clean session)", async () => {
  const conn = connackConn(false);
  const client = new MQTTClient(uniqueId("edge"), "127.0.0.1", {
    transport: () => conn as unknown as StreamPair,
  });
  await client.connect({});
  await client.publish("t", "x", { qos: 0 });
  await client.disconnect();
  const [connect, publish] = decodeChunks(conn.written);
  assert.equal((connect as ConnectPacket).cleanSession, true);
  assert.deepEqual([publish.type, (publish as { retain: boolean }).retain], ["publish", false]);
});

test("publish() after an options object: further options may give a signal only", async () => {
  const client = new MQTTClient(uniqueId("edge"), "127.0.0.1", { protocolVersion: 5 });
  const extra = { properties: { contentType: "c" } } as object;
  await assert.rejects(client.publish("t", "x", { qos: 0 }, 0, extra), {
    name: "TypeError",
    message: "Invalid option properties for publish: accepted are signal",
  });
});

test("disconnect(): a reason code only a Server sends is refused, naming it; a Client's goes", () => {
  for (const code of [0x87, 0x89, 0x8b, 0x8d, 0x8e, 0x8f, 0x9a, 0x9c, 0xa2]) {
    assert.throws(() => checkDisconnect({ reasonCode: code }, 5), {
      name: "RangeError",
      message: `Invalid disconnect() option reasonCode 0x${
        code.toString(16)
      }: only a Server sends it (MQTT-3.14.2-1)`,
    });
  }
  for (
    const code of [0, 4, 0x80, 0x81, 0x82, 0x83, 0x90, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99]
  ) {
    const bytes = checkDisconnect({ reasonCode: code }, 5)!;
    assert.equal(bytes[1] === 0 ? 0 : bytes[2], code, `0x${code.toString(16)}`); // 0: the short form
  }
});

test("a SUBACK's refusal names its code, and for MQTT 5 what it means; a grant is its QoS", () => {
  assert.equal(granted("Subscription to", "t", "SUBACK", { codes: [2] }), 2);
  assert.throws(() => granted("Subscription to", "t", "SUBACK", { codes: [0x80] }), {
    name: "MQTTException",
    message: 'Subscription to "t" refused by the broker (SUBACK return code 0x80)',
  });
  assert.throws(
    () => granted("Subscription to", "t", "SUBACK", { codes: [0x87], reasonString: "no" }),
    {
      name: "MQTTException",
      message:
        'Subscription to "t" refused by the broker (SUBACK reason code 0x87, Not authorized: no)',
    },
  );
});

test("a positive integer option: 1 and its most are accepted, 0 and one over are not", () => {
  assert.equal(positive("n", 1, 10), 1);
  assert.equal(positive("n", 10, 10), 10);
  assert.throws(() => positive("n", 0, 10), RangeError);
  assert.throws(() => positive("n", 11, 10), {
    message: "Invalid n 11: must be a positive integer of at most 10",
  });
  assert.throws(() => positive("n", "1" as unknown as number), TypeError);
  assert.throws(() => positive("n", 1.5, 10), RangeError);
});

test("a QoS 1 publish to a topic of 256 bytes or more takes its packet identifier after the topic; a subscribe's QoS defaults to 0", async () => {
  const conn = connackConn(false);
  const client = new MQTTClient(uniqueId("edge"), "127.0.0.1", {
    transport: () => conn as unknown as StreamPair,
  });
  await client.connect();
  const topic = "t/".repeat(150); // 300 bytes: the length's high byte is 1
  const calls = [
    client.publish(topic, "x", false, 1),
    client.subscribe("a"),
    client.subscribe([["b", {}]] as unknown as string),
  ].map((p) => p.catch(() => {}));
  await turn();
  await client.disconnect();
  await Promise.all(calls);
  const [, publish, sub1, sub2] = decodeChunks(conn.written) as unknown as {
    topic?: string;
    packetId: number;
    subscriptions?: { topic: string; qos: number }[];
  }[];
  assert.deepEqual([publish.topic, publish.packetId], [topic, 1]);
  assert.deepEqual(sub1.subscriptions!.map((s) => s.qos), [0]);
  assert.deepEqual(sub2.subscriptions!.map((s) => [s.topic, s.qos]), [["b", 0]]);
});

test("the will: properties without correlationData send none, not an empty one (_checks mutant 912)", async () => {
  const conn = connackConn(true);
  const client = new MQTTClient(uniqueId("edge"), "127.0.0.1", {
    protocolVersion: 5,
    transport: () => conn as unknown as StreamPair,
  });
  client.set_last_will("w", "gone", { properties: { userProperties: [["k", "v"]] } });
  await client.connect();
  await client.disconnect();
  const { will } = decodeChunks(conn.written, 5)[0] as ConnectPacket;
  assert.deepEqual(will?.properties?.userProperties, [["k", "v"]]);
  assert.equal(will?.properties?.correlationData, undefined);
});

test("renewal: a filter the SUBACK refused (0x80 or above) is not kept for renewal; one granted at any QoS is (_renew mutant 1062)", () => {
  const renew = new Subscriptions();
  const sub = (topic: string): Subscription => ({ topic, qos: 1 });
  renew.subscribed([sub("a"), sub("b"), sub("c"), sub("d")], [0x80, 0x00, 0x87, 0x02]);
  assert.equal(renew.size, 2);
});
