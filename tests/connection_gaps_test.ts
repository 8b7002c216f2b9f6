// Behaviour of the connection layer (lib/_connection.ts, _channel.ts,
// _writer.ts, _keepalive.ts, _connector.ts, _abortable.ts) that mutation
// testing found no other test pinning down: each test here fails on a
// mutant of that code that every other test let through.
//
// The transports are stand-ins (a Deno.Conn-like object, a StreamPair) that
// let a test hold a read, a write or a close open for as long as it likes:
// "not settled yet" is then a fact, not a race.
import assert from "node:assert/strict";
import { MQTTClient, MQTTConnectionError } from "../mod.ts";
import { MQTTClient as RobustClient } from "../lib/robust.ts";
import type { StreamPair } from "../lib/transports/types.ts";
import { abortable, sleep } from "../lib/_abortable.ts";
import type { Channel, WriteProgress } from "../lib/_channel.ts";
import { Writer, WRITTEN } from "../lib/_writer.ts";
import { test, uniqueId, withTimeout } from "./_test.ts";

const CONNACK_OK = [0x20, 0x02, 0x00, 0x00];

/** Lets timers and I/O run `n` times: what is not settled by then waits on something else. */
async function turns(n = 10): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((r) => setTimeout(r, 0));
}

/** Waits (a bounded number of turns) until `f()`. */
async function until(f: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500 && !f(); i++) await turns(1);
  assert.ok(f(), `never ${what}`);
}

interface FakeConnOptions {
  /** What the first read answers (null: nothing, the read stays pending). */
  connack?: number[] | null;
  /** A pending read ends (with end of stream) only on `endRead()`, not on close(). */
  lingering?: boolean;
  /** Makes a write fail (taking nothing) when it returns true. */
  failWrite?: (bytes: Uint8Array) => boolean;
  /** Each read takes one `feed()` whole (else as many bytes as it can). */
  chunked?: boolean;
  /** What a read pending when close() comes answers (bytes that had arrived), not the end. */
  lastWords?: number[];
  /** Makes a write stay pending, until `failHeld()` makes it fail (taking nothing), when it returns true. */
  holdWrite?: (bytes: Uint8Array) => boolean;
}

/**
 * A Deno.Conn-like transport (read/write/close, which the client uses
 * directly): its first read answers the CONNACK, later ones what `feed()`
 * gives; a read with nothing to take stays pending until close() ends it
 * (or, `lingering`, until `endRead()`).
 */
function fakeConn(o: FakeConnOptions = {}) {
  const connack = o.connack === undefined ? CONNACK_OK : o.connack;
  const queue: number[][] = connack ? [[...connack]] : [];
  let wake: (() => void) | null = null;
  let endRead!: () => void;
  const held: (() => void)[] = [];
  const ended = new Promise<null>((resolve) => (endRead = () => resolve(null)));
  const conn = {
    closed: false,
    written: [] as Uint8Array[],
    endRead,
    /** Writes pending (`holdWrite`). */
    get holding() {
      return held.length;
    },
    /** Bytes fed and not yet read. */
    get unread() {
      return queue.reduce((n, q) => n + q.length, 0);
    },
    failHeld() {
      for (const fail of held.splice(0)) fail();
    },
    feed(bytes: number[]) {
      if (o.chunked || queue.length === 0) queue.push([...bytes]);
      else queue[0].push(...bytes);
      wake?.();
    },
    async read(p: Uint8Array): Promise<number | null> {
      while (queue.length === 0) {
        const more = new Promise<void>((resolve) => (wake = resolve));
        if (await Promise.race([more, ended]) === null) {
          if (!o.lastWords) return null;
          queue.push(o.lastWords);
          o.lastWords = undefined;
        }
      }
      const n = Math.min(p.length, queue[0].length);
      p.set(queue[0].splice(0, n));
      if (queue[0].length === 0) queue.shift();
      return n;
    },
    write(p: Uint8Array): Promise<number> {
      if (conn.closed) return Promise.reject(new Error("closed"));
      if (o.failWrite?.(p)) return Promise.reject(new Error("write failed"));
      if (o.holdWrite?.(p)) {
        return new Promise((_, reject) => held.push(() => reject(new Error("write failed"))));
      }
      conn.written.push(p.slice());
      return Promise.resolve(p.length);
    },
    close() {
      conn.closed = true;
      if (!o.lingering) endRead();
    },
  };
  return conn;
}

type FakeConn = ReturnType<typeof fakeConn>;
const asPair = (conn: FakeConn) => conn as unknown as StreamPair;

/**
 * A StreamPair over nothing: reads never complete. Its close() is recorded
 * and settles only on `finishClose()` (a closing handshake under way).
 */
function idlePair() {
  let finishClose!: () => void;
  const closing = new Promise<void>((resolve) => (finishClose = resolve));
  const pair = {
    closed: false,
    finishClose,
    readable: new ReadableStream<Uint8Array>(),
    writable: new WritableStream<Uint8Array>(),
    close(): Promise<void> {
      pair.closed = true;
      return closing;
    },
  };
  return pair;
}

/** A transport that opens (with `pair`) only once its attempt was given up: it ignores its signal. */
function opensLate(pair: StreamPair) {
  const t = {
    calls: 0,
    transport: (signal: AbortSignal) => {
      t.calls++;
      return new Promise<StreamPair>((resolve) =>
        signal.addEventListener("abort", () => resolve(pair), { once: true })
      );
    },
  };
  return t;
}

/** An AbortSignal that records the abort listeners added to it and not removed. */
function watchedSignal() {
  const ac = new AbortController();
  const signal = ac.signal;
  const listeners = new Set<unknown>();
  const add = signal.addEventListener.bind(signal);
  const remove = signal.removeEventListener.bind(signal);
  signal.addEventListener = ((type: string, l: EventListener, opts?: AddEventListenerOptions) => {
    if (type === "abort") listeners.add(l);
    add(type, l, opts);
  }) as typeof signal.addEventListener;
  signal.removeEventListener = ((type: string, l: EventListener, opts?: EventListenerOptions) => {
    if (type === "abort") listeners.delete(l);
    remove(type, l, opts);
  }) as typeof signal.removeEventListener;
  return { ac, signal, listeners };
}

const outcomeOf = (p: Promise<unknown>) => {
  const o: { settled: boolean; error?: unknown } = { settled: false };
  const done = p.then(() => (o.settled = true), (e) => (o.settled = true, o.error = e));
  return Object.assign(o, { done });
};

test("disconnect() resolves only once the connection's reader has ended", async () => {
  const conn = fakeConn({ lingering: true });
  const client = new MQTTClient(uniqueId("rdend"), "127.0.0.1", { transport: () => asPair(conn) });
  await client.connect();
  const stopping = outcomeOf(client.disconnect());
  await until(() => conn.closed, "closed the transport");
  await turns();
  assert.equal(stopping.settled, false, "disconnect() resolved while a read was still pending");
  conn.endRead();
  await stopping.done;
  assert.equal(stopping.error, undefined);
  assert.deepEqual([...conn.written.at(-1)!], [0xe0, 0x00], "DISCONNECT went last");
});

test("connect() that times out waiting for CONNACK rejects only once its reader has ended", async () => {
  const conn = fakeConn({ connack: null, lingering: true });
  const client = new MQTTClient(uniqueId("rdend"), "127.0.0.1", {
    connectTimeout: 100,
    transport: () => asPair(conn),
  });
  const connecting = outcomeOf(client.connect());
  await until(() => conn.closed, "closed the transport");
  await turns();
  assert.equal(connecting.settled, false, "connect() rejected while a read was still pending");
  conn.endRead();
  await connecting.done;
  const e = connecting.error;
  assert.ok(e instanceof MQTTConnectionError, String(e));
  assert.match(e.message, /timed out: no CONNACK within 100 ms/);
});

test(
  "a transport that ignores its signal and opens after the connect timeout is closed before connect() rejects",
  async () => {
    const pair = idlePair();
    const late = opensLate(pair);
    const client = new MQTTClient(uniqueId("late"), "127.0.0.1", {
      connectTimeout: 100,
      transport: late.transport,
    });
    const connecting = outcomeOf(client.connect());
    await until(() => pair.closed, "closed the transport that opened late");
    await turns();
    assert.equal(connecting.settled, false, "connect() rejected before the late transport closed");
    pair.finishClose();
    await connecting.done;
    const e = connecting.error;
    assert.ok(e instanceof MQTTConnectionError, String(e));
    assert.match(e.message, /timed out: not open/);
    assert.equal(late.calls, 1);
  },
);

test(
  "disconnect() while the transport is opening resolves once what opened late is closed",
  async () => {
    const pair = idlePair();
    const late = opensLate(pair);
    const client = new MQTTClient(uniqueId("late"), "127.0.0.1", { transport: late.transport });
    const connecting = outcomeOf(client.connect());
    await until(() => late.calls === 1, "called the transport");
    const stopping = outcomeOf(client.disconnect());
    await until(() => pair.closed, "closed the transport that opened late");
    await turns();
    assert.equal(stopping.settled, false, "disconnect() resolved before the late transport closed");
    pair.finishClose();
    await stopping.done;
    await connecting.done;
    assert.equal(stopping.error, undefined);
    assert.ok(connecting.error instanceof MQTTConnectionError, String(connecting.error));
  },
);

test("connect()'s signal keeps no listener once connect() settles, connected or not", async () => {
  const ok = watchedSignal();
  const conn = fakeConn();
  const client = new MQTTClient(uniqueId("sig"), "127.0.0.1", {
    user: () => Promise.resolve("u"), // awaited under the signal too
    transport: () => asPair(conn),
  });
  await client.connect(true, { signal: ok.signal });
  assert.equal(ok.listeners.size, 0, "a listener is left on connect()'s signal");
  await client.disconnect();

  const failed = watchedSignal();
  const silent = fakeConn({ connack: null });
  const refused = new MQTTClient(uniqueId("sig"), "127.0.0.1", {
    connectTimeout: 100,
    transport: () => asPair(silent),
  });
  await assert.rejects(refused.connect(true, { signal: failed.signal }), /timed out/);
  assert.equal(failed.listeners.size, 0, "a listener is left on connect()'s signal");
});

test("disconnect() after a connect() that succeeded does not abort that attempt's transport signal", async () => {
  const conn = fakeConn();
  let given: AbortSignal | undefined;
  const client = new MQTTClient(uniqueId("sig"), "127.0.0.1", {
    transport: (signal) => (given = signal, asPair(conn)),
  });
  await client.connect();
  await client.disconnect();
  assert.ok(given);
  // A transport may tie its socket to the signal: aborting it would cut the DISCONNECT.
  assert.equal(given.aborted, false, "the connected attempt's signal was aborted");
  assert.deepEqual([...conn.written.at(-1)!], [0xe0, 0x00]);
});

test("disconnect() on a StreamPair without close() cancels its readable and resolves", async () => {
  let cancelled = false;
  const written: Uint8Array[] = [];
  const pair: StreamPair = {
    readable: new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(Uint8Array.from(CONNACK_OK));
      },
      cancel() {
        cancelled = true;
      },
    }),
    writable: new WritableStream<Uint8Array>({
      write: (chunk) => void written.push(chunk.slice()),
    }),
  };
  const client = new MQTTClient(uniqueId("strm"), "127.0.0.1", { transport: () => pair });
  await client.connect();
  await withTimeout(client.disconnect(), 5000, "disconnect()");
  assert.equal(cancelled, true, "the readable was not cancelled");
  assert.deepEqual([...written.at(-1)!], [0xe0, 0x00]);
});

test(
  "robust: a QoS 0 publish whose write failed taking nothing goes on the next connection",
  async () => {
    // The first connection's CONNECT went whole; the write of the PUBLISH after it fails at once.
    const conns: FakeConn[] = [];
    const client = new RobustClient(uniqueId("q0"), "127.0.0.1", {
      transport: () => {
        const first = conns.length === 0;
        const conn = fakeConn({ failWrite: (b) => first && b[0] === 0x30 });
        conns.push(conn);
        return asPair(conn);
      },
    });
    client.DELAY = 0;
    await client.connect();
    await withTimeout(client.publish("t/q0", "m"), 5000, "publish()");
    assert.equal(conns.length, 2, "the client reconnected");
    const publishes = conns[1].written.filter((b) => b[0] === 0x30);
    assert.equal(publishes.length, 1, "the PUBLISH went on the second connection");
    await client.disconnect();
  },
);

test("a PUBLISH over 64 KiB goes to a stream transport in pieces, whole and in order", async () => {
  // Each piece written tells the keepalive the link still moves (a large
  // PUBLISH on a slow link: its PINGREQ waits behind it); one write of it
  // all would tell nothing until the end.
  const written: Uint8Array[] = [];
  const pair: StreamPair = {
    readable: new ReadableStream<Uint8Array>({
      start: (c) => c.enqueue(Uint8Array.from(CONNACK_OK)),
    }),
    writable: new WritableStream<Uint8Array>({
      write: (chunk) => void written.push(chunk.slice()),
    }),
  };
  const client = new MQTTClient(uniqueId("piece"), "127.0.0.1", { transport: () => pair });
  await client.connect();
  const payload = new Uint8Array(200_000).map((_, i) => i % 251);
  await client.publish("t/big", payload);
  await client.disconnect();
  const sizes = written.map((w) => w.length);
  assert.ok(sizes.every((n) => n <= 65_536), `a write of more than 64 KiB: ${sizes}`);
  const all = new Uint8Array(sizes.reduce((a, b) => a + b, 0));
  written.reduce((at, w) => (all.set(w, at), at + w.length), 0);
  // … CONNECT, PUBLISH (its payload last), DISCONNECT.
  assert.deepEqual([...all.subarray(-2)], [0xe0, 0x00]);
  assert.deepEqual(all.subarray(all.length - 2 - payload.length, all.length - 2), payload);
});

test("a call made while a new connection is opening is not told the last connection's end", async () => {
  const first = fakeConn({ lingering: true });
  const second = fakeConn({ connack: null });
  const conns = [first, second];
  const client = new MQTTClient(uniqueId("stale"), "127.0.0.1", {
    transport: () => asPair(conns.shift()!),
  });
  await client.connect();
  const lost = new Promise((r) => client.addEventListener("disconnected", r, { once: true }));
  first.endRead(); // the broker closes
  await lost;
  await assert.rejects(client.publish("t", "m"), /Cannot publish: Connection closed by the broker/);
  const connecting = outcomeOf(client.connect());
  await until(() => second.written.length > 0, "sent the second CONNECT");
  // That connection is not the one that ended: the error must not say so (nor carry its cause).
  await assert.rejects(client.publish("t", "m"), (e: unknown) => {
    assert.ok(e instanceof MQTTConnectionError, String(e));
    assert.match(e.message, /^Cannot publish: not connected/);
    assert.equal(e.cause, undefined);
    return true;
  });
  await client.disconnect();
  await connecting.done;
  assert.ok(connecting.error instanceof MQTTConnectionError, String(connecting.error));
});

test(
  "a transport that settles late with no StreamPair: connect() still times out, disconnect() resolves",
  async () => {
    // It ignores its signal, and once the attempt is given up gives what is not a StreamPair
    // (a bug of its own): there is nothing to close, and nothing of it should reach the caller.
    const broken = () => opensLate(null as unknown as StreamPair).transport;
    const timedOut = new MQTTClient(uniqueId("late"), "127.0.0.1", {
      connectTimeout: 100,
      transport: broken(),
    });
    await assert.rejects(timedOut.connect(), (e: unknown) => {
      assert.ok(e instanceof MQTTConnectionError, String(e));
      assert.match(e.message, /timed out: not open/);
      return true;
    });
    const stopped = new MQTTClient(uniqueId("late"), "127.0.0.1", { transport: broken() });
    const connecting = outcomeOf(stopped.connect());
    await turns(1);
    await stopped.disconnect();
    await connecting.done;
    assert.ok(connecting.error instanceof MQTTConnectionError, String(connecting.error));
    assert.match(connecting.error.message, /disconnect\(\) was called/);
  },
);

test("a QoS 0 publish() made after disconnect() began rejects: it never resolves unwritten", async () => {
  const conn = fakeConn();
  const client = new MQTTClient(uniqueId("seal"), "127.0.0.1", { transport: () => asPair(conn) });
  await client.connect();
  const stopping = client.disconnect(); // not awaited: the DISCONNECT is queued
  const published = outcomeOf(client.publish("t/seal", "m"));
  await stopping;
  await published.done;
  assert.ok(
    published.error instanceof MQTTConnectionError,
    `publish() ${published.error ?? "resolved"}`,
  );
  assert.match(published.error.message, /^Cannot publish: /);
  assert.equal(conn.written.filter((b) => b[0] === 0x30).length, 0, "a PUBLISH was written");
  assert.deepEqual([...conn.written.at(-1)!], [0xe0, 0x00]);
});

test("what a chunk's packets cause goes out in one write: its answers and the PUBLISH a PUBACK resumed", async () => {
  const conn = fakeConn();
  const client = new MQTTClient(uniqueId("cork"), "127.0.0.1", { transport: () => asPair(conn) });
  await client.connect();
  const first = client.publish("t/out", "1", false, 1);
  await until(() => conn.written.some((b) => b[0] === 0x32), "wrote the first PUBLISH");
  // An application that awaits each publish, through a helper of its own, before the next:
  // the PUBACK resumes it.
  const send = async (p: Promise<void>) => await p;
  const next = (async () => {
    await send(first);
    await client.publish("t/out", "2", false, 1);
  })();
  const sent = conn.written.find((b) => b[0] === 0x32)!; // 0x32 len 0 5 "t/out" id id "1"
  const before = conn.written.length;
  // One read: the PUBACK of the first publish, and a PUBREL the client answers at once (PUBCOMP).
  conn.feed([0x40, 0x02, sent[9], sent[10], 0x62, 0x02, 0xff, 0xff]);
  await first;
  await until(() => conn.written.length > before, "answered");
  await turns();
  const after = conn.written.slice(before);
  assert.equal(after.length, 1, `${after.length} writes, not 1: ${after.map((b) => [...b])}`);
  const types = [];
  for (let i = 0, b = after[0]; i < b.length; i += 2 + b[i + 1]) types.push(b[i]);
  assert.deepEqual(types, [0x70, 0x32], "its PUBCOMP, then the next PUBLISH");
  // The second publish is unacknowledged: it rejects once disconnect() has waited (at most
  // 1 s) for a close this fake connection never makes.
  const settled = next.catch(() => {});
  await client.disconnect();
  await settled;
});

test("bytes the last connection reads after it ended do not reach the next one's decoder", async () => {
  // A write fails: the connection ends, its socket closed, but its pending read
  // returns only later, once the next connection is up, with what had arrived:
  // the first bytes of a PUBLISH. Taken as the start of the next connection's
  // stream, they would garble its first packet (here a PUBREL, answered by PUBCOMP).
  const first = fakeConn({
    lingering: true,
    lastWords: [0x30, 0x04, 0x00],
    failWrite: (b) => b[0] === 0x30,
  });
  const second = fakeConn();
  const conns = [first, second];
  const client = new MQTTClient(uniqueId("after"), "127.0.0.1", {
    transport: () => asPair(conns.shift()!),
  });
  await client.connect();
  await assert.rejects(client.publish("t/out", "m"), /Connection lost while writing/);
  await client.connect();
  first.endRead();
  await turns();
  second.feed([0x62, 0x02, 0xff, 0xff]);
  await until(() => second.written.some((b) => b[0] === 0x70) || !client.connected, "answered");
  assert.equal(client.connected, true);
  await client.disconnect();
});

test("MQTT 5: a packet after the broker's DISCONNECT in the same read is not handled", async () => {
  const conn = fakeConn({ connack: [0x20, 0x03, 0x00, 0x00, 0x00] });
  const client = new MQTTClient(uniqueId("afterd"), "127.0.0.1", {
    protocolVersion: 5,
    transport: () => asPair(conn),
  });
  const got: string[] = [];
  client.set_callback((topic) => void got.push(topic));
  await client.connect();
  const lost = new Promise<CustomEvent>((r) =>
    client.addEventListener("disconnected", (e) => r(e as CustomEvent), { once: true })
  );
  // DISCONNECT 0x8B (server shutting down), then a QoS 0 PUBLISH "t" "x" it must not send.
  conn.feed([0xe0, 0x02, 0x8b, 0x00, 0x30, 0x05, 0x00, 0x01, 0x74, 0x00, 0x78]);
  const { detail } = await lost;
  assert.equal(detail.reasonCode, 0x8b);
  await turns();
  assert.deepEqual(got, []);
  await assert.rejects(client.check_msg(), MQTTConnectionError);
});

test("the reader waits for a consumer that is taking messages: a burst of reads drops nothing", async () => {
  // Ten reads, each of four QoS 0 messages, complete at once; the queue holds
  // three. A consumer takes them one at a time as they come: the reader lets it
  // take each read's messages before the next read.
  const conn = fakeConn({ chunked: true });
  const client = new MQTTClient(uniqueId("drain"), "127.0.0.1", {
    maxQueuedMessages: 3,
    transport: () => asPair(conn),
  });
  await client.connect();
  const got: Uint8Array[] = [];
  const consuming = (async () => {
    while (got.length < 40) got.push((await client.wait_msg()).payload);
  })();
  const publish = (i: number) => [0x30, 0x04, 0x00, 0x01, 0x74, i];
  for (let i = 0; i < 10; i++) conn.feed([0, 1, 2, 3].flatMap((j) => publish(4 * i + j)));
  await withTimeout(consuming, 5000, "40 messages");
  assert.equal(client.droppedMessages, 0);
  assert.deepEqual(got.map((p) => p[0]), [...Array(40).keys()]);
  await client.disconnect();
});

test("abortable(): a promise waited on again after it settled still settles the wait", async () => {
  const { signal } = new AbortController();
  const p = Promise.resolve(7);
  assert.equal(await abortable(p, signal), 7);
  assert.equal(await withTimeout(abortable(p, signal), 5000, "the second wait"), 7);
  const failing = Promise.reject(new Error("gone"));
  await assert.rejects(abortable(failing, signal), /gone/);
  await assert.rejects(withTimeout(abortable(failing, signal), 5000, "the second wait"), /gone/);
});

test("abortable() and sleep() leave no listener on a long-lived signal once they settle", async () => {
  const w = watchedSignal();
  await abortable(Promise.resolve(1), w.signal);
  await assert.rejects(abortable(Promise.reject(new Error("x")), w.signal), /x/);
  await sleep(1, w.signal);
  assert.equal(w.listeners.size, 0, "a listener is left on the signal");
});

test("sleep() with a signal that has aborted resolves at once", async () => {
  const ac = new AbortController();
  ac.abort();
  await withTimeout(sleep(60_000, ac.signal), 5000, "sleep(60 s) with an aborted signal");
});

test("robust: the reconnect loop waits before each round of the list, not between its servers", async () => {
  class Quick extends RobustClient {
    override delay(): Promise<void> {
      return Promise.resolve(); // the planned delays are in the events
    }
  }
  const client = new Quick(uniqueId("round"), ["mqtt://127.0.0.1:1", "mqtt://127.0.0.1:2"], {
    transport: () => {
      throw new Error("no route");
    },
  });
  client.DELAY = 100; // backoff: a random wait below 100 s, which no test could wait for
  const delays: number[] = [];
  const sixth = new Promise<void>((resolve) =>
    client.addEventListener("reconnecting", (e) => {
      delays.push((e as CustomEvent).detail.delay);
      if (delays.length === 6) resolve();
    })
  );
  const loop = client.reconnect().catch((e) => e);
  await withTimeout(sixth, 5000, "six attempts");
  await client.disconnect();
  assert.match(String(await loop), /disconnect\(\) was called/);
  // Attempts 1, 3, 5 begin a round (a random wait, > 0 all but surely); 2, 4, 6 follow at once.
  assert.deepEqual(delays.slice(0, 6).map((d) => d > 0), [true, false, true, false, true, false]);
});

test("robust: a credential function that fails during a reconnect is tried again", async () => {
  class Quick extends RobustClient {
    override delay(): Promise<void> {
      return Promise.resolve();
    }
  }
  const conns: FakeConn[] = [];
  let asked = 0;
  const client = new Quick(uniqueId("cred"), "127.0.0.1", {
    // The second call (the first reconnect attempt) fails: its service is down a moment.
    user: () => {
      if (++asked === 2) throw new Error("token service unavailable");
      return "u";
    },
    transport: () => {
      conns.push(fakeConn({ lingering: true }));
      return asPair(conns.at(-1)!);
    },
  });
  await client.connect();
  const back = new Promise((r) => client.addEventListener("connected", r, { once: true }));
  conns[0].endRead(); // the broker closes
  await withTimeout(back, 5000, "the reconnect");
  assert.equal(asked, 3);
  assert.equal(conns.length, 2);
  const stopping = client.disconnect();
  await until(() => conns[1].closed, "closed");
  conns[1].endRead();
  await stopping;
});

test("disconnect() ends a connect() that waits for a credential function", async () => {
  const client = new MQTTClient(uniqueId("credw"), "127.0.0.1", {
    connectTimeout: 60_000,
    user: () => new Promise<string>(() => {}), // never settles
    transport: () => asPair(fakeConn()),
  });
  const connecting = client.connect().catch((e) => e);
  await turns(1);
  await client.disconnect();
  const e = await withTimeout(connecting, 5000, "connect() to end");
  assert.ok(e instanceof MQTTConnectionError, String(e));
  assert.match(e.message, /disconnect\(\) was called/);
});

test("a second connect() while one is under way is refused, and opens nothing", async () => {
  let opened = 0;
  const client = new MQTTClient(uniqueId("twice"), "127.0.0.1", {
    transport: () => (opened++, asPair(fakeConn())),
  });
  const first = client.connect();
  await assert.rejects(client.connect(), (e: unknown) => {
    assert.ok(e instanceof TypeError, String(e));
    assert.match(e.message, /already connected or connecting/);
    return true;
  });
  assert.equal(await first, false);
  assert.equal(opened, 1);
  await client.disconnect();
});

test("disconnect() waits for the current reader even when an older one ends meanwhile", async () => {
  const first = fakeConn({ lingering: true, failWrite: (b) => b[0] === 0x30 });
  const second = fakeConn({ lingering: true });
  const conns = [first, second];
  const client = new MQTTClient(uniqueId("rd2"), "127.0.0.1", {
    transport: () => asPair(conns.shift()!),
  });
  await client.connect();
  await assert.rejects(client.publish("t/out", "m"), /Connection lost while writing/);
  await client.connect();
  first.endRead(); // the first connection's reader ends only now
  await turns();
  const stopping = outcomeOf(client.disconnect());
  await until(() => second.closed, "closed the second transport");
  await turns();
  assert.equal(stopping.settled, false, "disconnect() resolved while a read was still pending");
  second.endRead();
  await stopping.done;
});

test("a publish queued behind a write that is stuck rejects when the connection is lost", async () => {
  // The first PUBLISH's write never completes; the second waits behind it for
  // the next write. The broker then closes: the second must be told, not left pending.
  const conn = fakeConn({ holdWrite: (b) => b[0] === 0x30 });
  const client = new MQTTClient(uniqueId("behind"), "127.0.0.1", { transport: () => asPair(conn) });
  await client.connect();
  const first = outcomeOf(client.publish("t/a", "1"));
  await until(() => conn.holding === 1, "began the first PUBLISH's write");
  const second = outcomeOf(client.publish("t/a", "2"));
  await turns();
  assert.equal(second.settled, false);
  conn.endRead(); // the broker closes; the stuck write stays stuck
  await withTimeout(second.done, 5000, "the queued publish to settle");
  assert.ok(second.error instanceof MQTTConnectionError, `publish() ${second.error ?? "resolved"}`);
  assert.equal(first.settled, false, "the stuck write settled");
  conn.failHeld();
  await first.done;
  assert.ok(first.error instanceof MQTTConnectionError, String(first.error));
});

test("a reader held behind answers the broker does not take is released when the connection ends", async () => {
  // The first PUBCOMP's write never completes: the PUBCOMPs of the next 16,400
  // PUBRELs queue behind it, past what the writer holds, and reading stops
  // (20 000 more than that: more than the reads before the stop take).
  const conn = fakeConn({ chunked: true, holdWrite: (b) => b[0] === 0x70 });
  const client = new MQTTClient(uniqueId("held"), "127.0.0.1", { transport: () => asPair(conn) });
  await client.connect();
  conn.feed([0x62, 0x02, 0x00, 0x01]);
  await until(() => conn.holding === 1, "began the first PUBCOMP's write");
  const pubrels = Array.from({ length: 16_400 + 20_000 }, () => [0x62, 0x02, 0x00, 0x01]).flat();
  conn.feed(pubrels);
  let left = -1;
  await until(() => (left = conn.unread) < pubrels.length, "read the PUBRELs");
  await turns();
  assert.ok(conn.unread > 0 && conn.unread === left, "reading did not stop");
  const stopping = outcomeOf(client.disconnect());
  await turns();
  conn.failHeld(); // the stuck write fails: the connection is lost
  await withTimeout(stopping.done, 5000, "disconnect()");
  assert.equal(stopping.error, undefined);
});

test("no write begins while one is under way: neither a publish's nor the reader's answers", async () => {
  // Two writes at once would interleave on the socket where a transport takes
  // part of one (a Deno.Conn's write may): what waits goes in the next write.
  let publishes = 0;
  const conn = fakeConn({ holdWrite: (b) => b[0] === 0x30 && ++publishes === 1 });
  const client = new MQTTClient(uniqueId("one"), "127.0.0.1", { transport: () => asPair(conn) });
  await client.connect();
  const before = conn.written.length;
  const first = outcomeOf(client.publish("t/a", "1"));
  await until(() => conn.holding === 1, "began the first PUBLISH's write");
  const second = outcomeOf(client.publish("t/a", "2"));
  await turns();
  assert.equal(conn.written.length, before, "a PUBLISH was written beside the stuck one");
  conn.feed([0x62, 0x02, 0x00, 0x01]); // a PUBREL: its PUBCOMP goes when the reader uncorks
  await until(() => conn.unread === 0, "read the PUBREL");
  await turns();
  assert.equal(conn.written.length, before, "a PUBCOMP was written beside the stuck PUBLISH");
  conn.failHeld();
  await first.done;
  await second.done;
  assert.ok(first.error instanceof MQTTConnectionError, String(first.error));
  assert.ok(second.error instanceof MQTTConnectionError, String(second.error));
});

test("publishes made by one run of code go out in one write", async () => {
  const conn = fakeConn();
  const client = new MQTTClient(uniqueId("burst"), "127.0.0.1", { transport: () => asPair(conn) });
  await client.connect();
  const before = conn.written.length;
  await Promise.all([1, 2, 3].map((i) => client.publish("t/a", String(i))));
  const after = conn.written.slice(before);
  assert.equal(after.length, 1, `${after.length} writes, not 1`);
  assert.equal(after[0].length, 3 * 8); // each 0x30 0x06 0x00 0x03 "t/a" digit
  await client.disconnect();
});

test("a write stuck on a lost connection, failing once the next one is up, leaves the next one's writes alone", async () => {
  let publishes = 0;
  const first = fakeConn({ holdWrite: (b) => b[0] === 0x30 });
  const second = fakeConn({ holdWrite: (b) => b[0] === 0x30 && ++publishes === 1 });
  const conns = [first, second];
  const client = new MQTTClient(uniqueId("stuck"), "127.0.0.1", {
    transport: () => asPair(conns.shift()!),
  });
  await client.connect();
  const lost = new Promise((r) => client.addEventListener("disconnected", r, { once: true }));
  const old = outcomeOf(client.publish("t/a", "0"));
  await until(() => first.holding === 1, "began the PUBLISH's write");
  first.endRead(); // the broker closes; the write stays stuck
  await lost;
  await client.connect();
  const q1 = outcomeOf(client.publish("t/a", "1"));
  await until(() => second.holding === 1, "began the next connection's PUBLISH write");
  const q2 = outcomeOf(client.publish("t/a", "2")); // waits for q1's write
  first.failHeld();
  await old.done;
  assert.ok(old.error instanceof MQTTConnectionError, String(old.error));
  await turns();
  assert.equal(q2.settled, false, `the next connection's publish settled: ${q2.error}`);
  const q3 = outcomeOf(client.publish("t/a", "3"));
  await turns();
  assert.equal(second.written.filter((b) => b[0] === 0x30).length, 0, "written beside q1's");
  assert.equal(client.connected, true);
  second.failHeld();
  for (const q of [q1, q2, q3]) await q.done;
  assert.ok(q2.error instanceof MQTTConnectionError, String(q2.error));
});

/**
 * A Channel for the Writer alone: each write waits until the test settles it
 * (`done()`, or `fail(taken)` once the transport took `taken` of its bytes).
 */
function heldChannel() {
  const writes: { bytes: Uint8Array; done: () => void; fail: (taken: number) => void }[] = [];
  const ch: Channel & { writes: typeof writes; taken: number } = {
    writes,
    sink: null,
    taken: 0,
    read() {},
    close: () => Promise.resolve(),
    write(bytes: Uint8Array, _progress?: WriteProgress): Promise<void> {
      ch.taken = 0;
      return new Promise((resolve, reject) =>
        writes.push({
          bytes,
          done: resolve,
          fail: (taken) => (ch.taken = taken, reject(new Error("write failed"))),
        })
      );
    },
  };
  return ch;
}

/** A Writer whose owner records what it is told: `written(sent)` as sent, `written()` as -1. */
function recordingWriter() {
  const told: number[] = [];
  const failed: Channel[] = [];
  const writer = new Writer({
    written: (sent) => void told.push(sent ?? -1),
    writeFailed: (_e, ch) => void failed.push(ch),
  });
  return { writer, told, failed };
}

test("Writer: write() returns the packets queued so far, and written() says when they are out", async () => {
  const { writer, told } = recordingWriter();
  const ch = heldChannel();
  writer.attach(ch);
  assert.equal(writer.write(Uint8Array.of(1)), 1);
  assert.equal(writer.write(Uint8Array.of(2)), 2);
  await until(() => ch.writes.length === 1, "wrote");
  ch.writes[0].done();
  await until(() => told.length > 0, "told");
  assert.deepEqual(told, [2]);
});

test("Writer: a write that completes after its channel was dropped does not count toward the next", async () => {
  // The count says when a PINGREQ is out: a write of the old connection
  // must not make the next connection's PINGREQ look written before it is.
  const { writer, told } = recordingWriter();
  const old = heldChannel(), next = heldChannel();
  writer.attach(old);
  writer.write(Uint8Array.of(1));
  await until(() => old.writes.length === 1, "wrote on the old channel");
  writer.detach(new Error("lost"));
  writer.attach(next);
  const ticket = writer.write(Uint8Array.of(2));
  old.writes[0].done(); // the old write completes only now
  await until(() => next.writes.length === 1, "wrote on the next channel");
  next.writes[0].done();
  await until(() => told.length === 2, "told of both writes");
  assert.equal(told[1], ticket, `the next write says ${told[1]} packets are out, not ${ticket}`);
});

test("Writer: a batch over 64 KiB tells of each piece, and a failed one how many bytes may have left", async () => {
  const { writer, told, failed } = recordingWriter();
  const ch = heldChannel();
  writer.attach(ch);
  const big = () => new Uint8Array(40_000);
  const sent = writer.send(big());
  writer.send(big());
  writer.send(big()); // three packets of 40 000 bytes: three writes
  const outcome = outcomeOf(sent);
  await until(() => ch.writes.length === 1, "wrote the first piece");
  ch.writes[0].done();
  await until(() => ch.writes.length === 2, "wrote the second piece");
  assert.deepEqual(told, [-1], "not told of the first piece written");
  ch.writes[1].done();
  await until(() => ch.writes.length === 3, "wrote the third piece");
  assert.deepEqual(told, [-1, -1], "not told of each piece written");
  ch.writes[2].fail(1234);
  await outcome.done;
  assert.ok(outcome.error instanceof MQTTConnectionError, String(outcome.error));
  assert.equal(WRITTEN.get(sent), 80_000 + 1234);
  assert.deepEqual(failed, [ch]);
});
