// More of the client's edges where a systematic mutation run (every comparison, condition,
// constant ±1 and statement, one at a time, against the fast tests of each file; see
// edge_mutation_test.ts for the first) found behaviour no test pinned down: the robust client's
// backoff rounds and planned waits, and a reconnect() override over several outages
// (lib/_reconnects.ts); a signal that cannot be read (_abortable.ts); the refused-by-close count
// of a renewal's SUBSCRIBE and of different publishes (_refusals.ts); the offline queue's limits,
// options and order (_offline.ts); what client.connack shows after a reconnect and the events of a
// refused connect (_connection.ts). Each test here fails on such a mutant and passes on the code.
// Driven with the scripted broker or by hand; no real broker.
import assert from "node:assert/strict";
import { MQTTClient as Robust, type ReconnectingDetail } from "../lib/robust.ts";
import { acceptConnect, type Peer, startHostileBroker } from "./_hostile_broker.ts";
import { readable } from "../lib/_abortable.ts";
import { MQTTClient as Simple, MQTTConnectionError, MQTTException } from "../mod.ts";
import { test, uniqueId, until, withTimeout } from "./_test.ts";

/** Replaces `Math.random` and `performance.now` for the length of `fn`. */
async function withClock(random: () => number, fn: () => Promise<void>): Promise<void> {
  const r = Math.random, now = performance.now.bind(performance);
  Math.random = random;
  // A process hours old (the backoff compares times since a connection: the sign matters).
  performance.now = () => now() + 1e7;
  try {
    await fn();
  } finally {
    Math.random = r;
    delete (performance as { now?: unknown }).now;
  }
}

/** A scripted broker: connection n (from 1) is refused by close if `refused(n)`, else accepted and held. */
async function refusing(refused: (n: number) => boolean) {
  let n = 0;
  return await startHostileBroker(async (peer: Peer) => {
    if (refused(++n)) {
      await peer.expect("connect");
      peer.end();
    } else await acceptConnect(peer);
    await peer.clientClosed;
  });
}

test("robust backoff: each loss soon after a reconnect goes on one round further; an application connect() starts over from round 1", async () => {
  // Connections 6 and 7 (the reconnect after the application's connect()) are refused.
  const b = await refusing((n) => n === 6 || n === 7);
  const c = new Robust(uniqueId("rounds"), b.url, { protocolVersion: 4 });
  c.DELAY = 0.01;
  const delays: number[] = [];
  c.addEventListener(
    "reconnecting",
    (e) => delays.push((e as CustomEvent<ReconnectingDetail>).detail.delay),
  );
  /** Drops connection `n` once the client holds it, and waits for connection `n + 1`. */
  const dropThenUp = async (n: number) => {
    await until(() => c.connected && b.peers.length === n, `connection ${n}`);
    b.peers[n - 1].end();
    await until(() => c.connected && b.peers.length > n, `after connection ${n}`);
  };
  try {
    await withClock(() => 1, async () => { // every wait its ceiling: DELAY * 2^(round-2) (round 1: DELAY)
      await c.connect(false);
      await dropThenUp(1); // round 1
      await dropThenUp(2); // lost at once: round 2
      await dropThenUp(3); // again: round 3
      assert.deepEqual(delays, [10, 10, 20]);
      await c.disconnect();
      await c.connect(false); // connection 5: the backoff starts over
      delays.length = 0;
      await dropThenUp(5); // lost at once, yet round 1; 6 and 7 refused: rounds 2 and 3
      assert.equal(b.peers.length, 8);
      assert.deepEqual(delays, [10, 10, 20]);
    });
  } finally {
    await c.disconnect();
    await b.close();
  }
});

test("robust backoff: the default delay() waits what was planned: a jitter of 0 waits 0, and none before the next server of a round", async () => {
  // A: the application's connection, then refused by close. B: accepts.
  const a = await refusing((n) => n > 1);
  const b = await refusing(() => false);
  const c = new Robust(uniqueId("planned"), [a.url, b.url], { protocolVersion: 4 });
  c.DELAY = 1000; // a wait of DELAY would outlast the test
  const delays: number[] = [];
  c.addEventListener(
    "reconnecting",
    (e) => delays.push((e as CustomEvent<ReconnectingDetail>).detail.delay),
  );
  try {
    await c.connect(false);
    let draws = 0;
    // The round's one draw is 0; any further draw would be the full backoff.
    await withClock(() => draws++ === 0 ? 0 : 1, async () => {
      a.peers[0].end();
      await until(() => c.connected && b.peers.length === 1, "connected to B");
    });
    assert.deepEqual(delays, [0, 0]);
    assert.equal(draws, 1);
  } finally {
    await c.disconnect();
    await a.close();
    await b.close();
  }
});

// workerd throws on reading a signal of another request ("Cannot perform I/O on behalf of a
// different request"): such a signal is not readable, and the connection it owns is forsaken.
test("readable(): a signal that throws when read is not readable; any other is", () => {
  const stale = {
    get aborted(): boolean {
      throw new Error("Cannot perform I/O on behalf of a different request");
    },
  } as unknown as AbortSignal;
  assert.equal(readable(stale), false);
  assert.equal(readable(new AbortController().signal), true);
  assert.equal(readable(AbortSignal.abort()), true);
});

/** A scripted broker that accepts each connection and acknowledges its QoS 1 PUBLISHes. */
async function acking() {
  return await startHostileBroker(async (peer: Peer) => {
    await acceptConnect(peer);
    for (;;) {
      const p = await peer.next().catch(() => null);
      if (!p) return;
      if (p.type === "publish" && p.qos === 1) {
        await peer.write({ type: "puback", packetId: p.packetId! });
      }
    }
  });
}

test("a reconnect() override is called again for each outage, not only the first", async () => {
  const b = await acking();
  let calls = 0;
  // umqtt.robust's README: "override delay() and reconnect()".
  class Ported extends Robust {
    override async reconnect(): Promise<boolean> {
      calls++;
      for (let i = 1;; i++) {
        try {
          return await this.connect(false);
        } catch {
          await this.delay(i);
        }
      }
    }
  }
  const c = new Ported(uniqueId("again"), b.url, { protocolVersion: 4 });
  c.DELAY = 0.01;
  try {
    await c.connect(false);
    for (let n = 1; n <= 3; n++) {
      await until(() => c.connected && b.peers.length === n, `connection ${n}`);
      b.peers[n - 1].end();
      await until(() => !c.connected || b.peers.length > n, `connection ${n} lost`);
      // Waits for the reconnect, then goes on the new connection.
      await c.publish(`t/${n}`, "x", false, 1);
      assert.equal(calls, n);
      assert.equal(b.peers.length, n + 1);
    }
  } finally {
    await c.disconnect();
    await b.close();
  }
});

// A broker cannot say it refuses a SUBSCRIBE (3.1.1): it closes the connection. A renewal's
// SUBSCRIBE is encoded anew on each connection (a new packet id), and is still the same packet.
test("robust: a renewal's SUBSCRIBE the broker resets 3 connections in a row on is given up, logged, and its filter forgotten", async () => {
  let n = 0;
  const subscribes: number[] = []; // the connection each SUBSCRIBE came on
  const b = await startHostileBroker(async (peer: Peer) => {
    const mine = ++n;
    await acceptConnect(peer); // Session Present 0: each reconnect renews
    for (;;) {
      const p = await peer.next().catch(() => null);
      if (!p) return;
      if (p.type === "subscribe") {
        subscribes.push(mine);
        if (mine > 1 && p.subscriptions.some((s) => s.topic === "refused")) return peer.reset();
        await peer.write({ type: "suback", packetId: p.packetId, returnCodes: [1] });
      } else if (p.type === "pingreq") await peer.write({ type: "pingresp" });
    }
  });
  const c = new Robust(uniqueId("renew"), b.url, { protocolVersion: 4 });
  c.DELAY = 0.01;
  const logged: unknown[] = [];
  c.log = (_inReconnect, e) => void logged.push(e);
  try {
    await c.connect(false);
    assert.equal(await c.subscribe("refused", 1), 1);
    b.peers[0].end();
    const given = () => logged.find((e) => e instanceof RangeError) as RangeError | undefined;
    await until(() => given() !== undefined && c.connected && n === 5, "the renewal given up");
    assert.match(
      given()!.message,
      /^Broker closed the connection each of the 3 times SUBSCRIBE \(\d+ bytes\) was sent: it refuses it/,
    );
    await c.ping();
    // Renewed on connections 2 to 4 (reset each time); not on the fifth, nor since.
    assert.deepEqual(subscribes, [1, 2, 3, 4]);
    assert.equal(n, 5);
  } finally {
    await c.disconnect();
    await b.close();
  }
});

test("robust: resets on one publish, then on another, count for each apart; two refused in turn are each given up", async () => {
  // The resets each topic's PUBLISH meets before the broker acknowledges it (Infinity: never).
  const resets: Record<string, number> = { a: 1, b: 2, p: Infinity, q: Infinity };
  const b = await startHostileBroker(async (peer: Peer) => {
    await acceptConnect(peer);
    for (;;) {
      const p = await peer.next().catch(() => null);
      if (!p) return;
      if (p.type === "publish" && p.qos === 1) {
        if ((resets[p.topic] ?? 0) > 0) return void (resets[p.topic]--, peer.reset());
        await peer.write({ type: "puback", packetId: p.packetId! });
      }
    }
  });
  const c = new Robust(uniqueId("counts"), b.url, { protocolVersion: 4 });
  c.DELAY = 0.01;
  const refused = (topic: string) =>
    withTimeout(c.publish(topic, "x", false, 1), 10_000, topic).then(
      () => assert.fail(`${topic} resolved`),
      (e) => e,
    );
  try {
    await c.connect(false);
    await withTimeout(c.publish("a", "x", false, 1), 10_000, "a"); // reset once, on connection 1
    // Reset on connections 2 and 3: twice in a row for b, whatever a met before.
    await withTimeout(c.publish("b", "x", false, 1), 10_000, "b");
    assert.equal(b.peers.length, 4);
    for (const topic of ["p", "q"]) {
      const e = await refused(topic);
      assert.ok(e instanceof RangeError, String(e));
      assert.match(e.message, /^Broker closed the connection each of the 3 times PUBLISH \d+ /);
    }
    await withTimeout(c.publish("fine", "x", false, 1), 10_000, "fine");
    assert.equal(b.peers.length, 10); // 3 resets each for p and q, then one that stays
  } finally {
    await c.disconnect();
    await b.close();
  }
});

test("robust: maxOfflineMessages and maxOfflineBytes of 0, and an unknown whenOfflineFull, are refused, naming the option", () => {
  assert.throws(
    () => new Robust("x", "mqtt://127.0.0.1:1", { whenOfflineFull: "drop" as "wait" }),
    /^TypeError: Invalid whenOfflineFull "drop": must be "wait" or "reject"$/,
  );
  for (const option of ["maxOfflineMessages", "maxOfflineBytes"]) {
    assert.throws(
      () => new Robust("x", "mqtt://127.0.0.1:1", { [option]: 0 }),
      (e: Error) => e instanceof RangeError && e.message.includes(option),
      option,
    );
  }
});

test("robust: by default 1000 publishes wait offline; whenOfflineFull 'reject' refuses the 1001st", async () => {
  // Accepts the first connection; then closes each before its CONNACK.
  let n = 0;
  const b = await startHostileBroker(async (peer: Peer) => {
    if (++n === 1) await acceptConnect(peer);
    else await peer.expect("connect"), peer.end();
    await peer.clientClosed;
  });
  const c = new Robust(uniqueId("offline"), b.url, {
    protocolVersion: 4,
    whenOfflineFull: "reject",
  });
  c.DELAY = 0.05;
  try {
    await c.connect(false);
    b.peers[0].end();
    await until(() => !c.connected, "offline");
    const waiting = Array.from({ length: 1000 }, (_, i) => c.publish(`t/${i}`, "x"));
    waiting.forEach((p) => p.catch(() => {}));
    await assert.rejects(
      withTimeout(c.publish("t/full", "x"), 5_000, "t/full"),
      (e: Error) =>
        e instanceof MQTTConnectionError &&
        /^Offline queue full: 1000 messages .*maxOfflineMessages 1000,/.test(e.message),
    );
    await c.disconnect();
    const settled = await Promise.allSettled(waiting);
    assert.ok(settled.every((s) => s.status === "rejected"));
  } finally {
    await c.disconnect();
    await b.close();
  }
});

/** A robust client of a scripted broker that accepts its first connection, then (`up()`) the rest. */
async function outage(options: ConstructorParameters<typeof Robust>[2]) {
  let down = true;
  const published: string[] = [];
  const b = await startHostileBroker(async (peer: Peer) => {
    if (b.peers.length > 1 && down) return void (await peer.expect("connect"), peer.end());
    await acceptConnect(peer);
    for (;;) {
      const p = await peer.next().catch(() => null);
      if (!p) return;
      if (p.type === "publish") published.push(p.topic);
      if (p.type === "pingreq") await peer.write({ type: "pingresp" });
    }
  });
  const c = new Robust(uniqueId("offline"), b.url, { protocolVersion: 4, ...(options as object) });
  c.DELAY = 0.02;
  await c.connect(false);
  b.peers[0].end();
  await until(() => !c.connected, "offline");
  return { b, c, published, up: () => void (down = false) };
}

test("robust: maxOfflineBytes counts the bytes of every publish waiting offline", async () => {
  const { b, c } = await outage({ maxOfflineBytes: 10, whenOfflineFull: "reject" });
  try {
    const first = c.publish("t/a", "123456");
    first.catch(() => {});
    await assert.rejects(
      withTimeout(c.publish("t/b", "123456"), 5_000, "t/b"),
      /^MQTTConnectionError: Offline queue full: 1 messages \(6 bytes\)/,
    );
  } finally {
    await c.disconnect();
    await b.close();
  }
});

test("robust: a subscribe() waiting offline takes no place in maxOfflineMessages nor maxOfflineBytes (mutation12: _offline.ts mutant 505)", async () => {
  const { b, c, published, up } = await outage({
    maxOfflineMessages: 1,
    maxOfflineBytes: 10,
    whenOfflineFull: "reject",
  });
  try {
    const subscribed = c.subscribe("t/#"); // the scripted broker never answers SUBSCRIBE
    subscribed.catch(() => {});
    const sent = c.publish("t/a", "123456789"); // the one place, and 9 of the 10 bytes
    up();
    await withTimeout(sent, 5_000, "the publish after a subscribe offline");
    await c.ping();
    assert.deepEqual(published, ["t/a"]);
  } finally {
    await c.disconnect();
    await b.close();
  }
});

test("robust: a publish waiting for room whose signal aborts hands the room on to the next one waiting (mutation12: _offline.ts mutant 509)", async () => {
  const { b, c, published, up } = await outage({ maxOfflineMessages: 1 });
  try {
    const first = new AbortController();
    const second = new AbortController();
    const p1 = c.publish("t/1", "x", { signal: first.signal }); // holds the one place
    const p2 = c.publish("t/2", "x", { signal: second.signal }); // waits for room
    const p3 = c.publish("t/3", "x"); // waits for room after it
    second.abort(new Error("t/2 given up"));
    await assert.rejects(p2, /t\/2 given up/);
    first.abort(new Error("t/1 given up")); // the place is free: t/3, not the gone t/2, takes it
    await assert.rejects(p1, /t\/1 given up/);
    up();
    await withTimeout(p3, 5_000, "t/3, waiting for room that was freed");
    await c.ping();
    assert.deepEqual(published, ["t/3"]);
  } finally {
    await c.disconnect();
    await b.close();
  }
});

test("robust: publishes waiting for room offline go in call order once reconnected", async () => {
  const { b, c, published, up } = await outage({ maxOfflineMessages: 1 });
  try {
    const calls = ["t/1", "t/2", "t/3", "t/4"].map((t) => c.publish(t, "x"));
    up();
    await withTimeout(Promise.all(calls), 5_000, "the publishes");
    await c.ping();
    assert.deepEqual(published, ["t/1", "t/2", "t/3", "t/4"]);
  } finally {
    await c.disconnect();
    await b.close();
  }
});

test("robust: two clients' publishes waiting for room offline are each their own client's", async () => {
  const y = await outage({ maxOfflineMessages: 1 });
  const x = await outage({ maxOfflineMessages: 1 });
  try {
    const ys = ["y/1", "y/2"].map((t) => y.c.publish(t, "y"));
    ys.forEach((p) => p.catch(() => {}));
    const xs = ["x/1", "x/2"].map((t) => x.c.publish(t, "x"));
    x.up(); // x reconnects; y stays offline
    await withTimeout(Promise.all(xs), 5_000, "x's publishes");
    await x.c.ping();
    assert.deepEqual(x.published, ["x/1", "x/2"]);
    assert.deepEqual(y.published, []);
  } finally {
    for (const { b, c } of [x, y]) await c.disconnect(), await b.close();
  }
});

for (const protocolVersion of [4, 5] as const) {
  test(`client.connack after a second connect() is that connection's CONNACK, not the first's (MQTT ${protocolVersion}; mutant 760 of _connection.ts)`, async () => {
    // The shown object is made when first asked for and kept: each accepted CONNACK must drop it.
    let n = 0;
    const b = await startHostileBroker(async (peer) => {
      const first = ++n === 1;
      await peer.expect("connect");
      await peer.write({
        type: "connack",
        sessionPresent: !first,
        returnCode: 0,
        properties: protocolVersion === 5 ? { receiveMaximum: first ? 10 : 20 } : undefined,
      });
      await peer.clientClosed;
    });
    const c = new Simple(uniqueId("shown"), b.url, { protocolVersion });
    try {
      assert.equal(await c.connect(false), false);
      assert.equal(c.connack!.sessionPresent, false);
      if (protocolVersion === 5) assert.equal(c.connack!.properties.receiveMaximum, 10);
      await c.disconnect();
      assert.equal(await c.connect(false), true);
      assert.equal(c.connack!.sessionPresent, true, "the second CONNACK's session-present flag");
      if (protocolVersion === 5) assert.equal(c.connack!.properties.receiveMaximum, 20);
    } finally {
      await c.disconnect();
      await b.close();
    }
  });
}

test("a connect() the broker refuses emits neither 'connected' nor 'disconnected'; one that connected emits 'disconnected' once (mutant 832 of _connection.ts)", async () => {
  let n = 0;
  const b = await startHostileBroker(async (peer) => {
    if (++n === 1) {
      await peer.expect("connect");
      await peer.write(Uint8Array.of(0x20, 0x02, 0x00, 0x05)); // 3.1.1: not authorized
    } else await acceptConnect(peer);
    await peer.clientClosed;
  });
  const c = new Simple(uniqueId("events"), b.url, { protocolVersion: 4 });
  const events: string[] = [];
  c.addEventListener("connected", () => events.push("connected"));
  c.addEventListener("disconnected", () => events.push("disconnected"));
  try {
    await assert.rejects(c.connect(), (e) => e instanceof MQTTException && e.code === 5);
    assert.deepEqual(events, [], "a refused connect() was never connected");
    await c.connect();
    await c.disconnect();
    assert.deepEqual(events, ["connected", "disconnected"]);
  } finally {
    await c.disconnect();
    await b.close();
  }
});

test("calls made while disconnect() is under way reject saying disconnect() was called, not 'call connect() first' (mutant 776 of _connection.ts)", async () => {
  const b = await startHostileBroker(async (peer) => {
    await acceptConnect(peer);
    await peer.clientClosed;
  });
  const c = new Simple(uniqueId("leaving"), b.url, { protocolVersion: 4 });
  try {
    await c.connect();
    const leaving = c.disconnect();
    const calls = [c.publish("t", "x", false, 1), c.subscribe("t", 1)];
    const why = await Promise.all(calls.map((p) => p.then(() => "resolved", (e) => e)));
    await leaving;
    for (const [i, what] of ["publish", "subscribe"].entries()) {
      assert.ok(why[i] instanceof MQTTConnectionError, String(why[i]));
      assert.equal(why[i].message, `Cannot ${what}: Disconnected: disconnect() was called`);
    }
  } finally {
    await c.disconnect();
    await b.close();
  }
});
