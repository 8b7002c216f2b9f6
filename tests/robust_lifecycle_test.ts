// The reconnecting client's lifecycle where the application and the
// reconnect loop meet: calls made while the application's own connect() is
// under way, disconnect() during an overridden delay(), a 3.1.1 client with
// an empty client id, the client's signal aborted before connect(), and the
// longest delay a timer can wait. Each of these once hung, waited a backoff
// for nothing, or stopped reconnecting without a word.
import assert from "node:assert/strict";
import { MQTTClient as Simple, MQTTConnectionError } from "../mod.ts";
import { MQTTClient, type ReconnectingDetail } from "../lib/robust.ts";
import { acceptConnect, withHostileBroker } from "./_hostile_broker.ts";
import { forEachBroker } from "./_brokers.ts";
import { FaultProxy } from "./_fault_proxy.ts";
import { writingThrough } from "./_writing_through.ts";
import { test, uniqueId, withTimeout } from "./_test.ts";
import type { ProtocolVersion } from "../lib/codec/packet.ts";

const TIMEOUT = { timeout: 20_000 };

/**
 * A QoS 0 subscriber to `topic` that counts each message by the index its
 * payload starts with (see {@linkcode indexed}), reading until it disconnects.
 */
async function countingSubscriber(
  id: string,
  broker: { host: string; port: number },
  topic: string,
  protocolVersion?: 4 | 5,
): Promise<{ sub: Simple; counts: Map<string, number>; reading: Promise<void> }> {
  const sub = new Simple(uniqueId(id), broker.host, {
    port: broker.port,
    ...(protocolVersion ? { protocolVersion } : {}),
    maxQueuedMessages: 10_000,
  });
  await sub.connect();
  await sub.subscribe(topic, 0);
  const counts = new Map<string, number>();
  sub.set_callback((_t, msg) => {
    const i = new TextDecoder().decode(msg.subarray(0, 8)).trim();
    counts.set(i, (counts.get(i) ?? 0) + 1);
  });
  const reading = (async () => {
    try {
      for (;;) await sub.wait_msg();
    } catch { /* disconnected */ }
  })();
  return { sub, counts, reading };
}

/**
 * A robust publisher through a {@linkcode FaultProxy} on a user's StreamPair
 * whose writable errors late (a wrapper that fails a write it could not
 * finish, as a WebSocket may): `heldThroughCut()` holds a publish's write
 * through a cut and the reconnect (5 s at most), until `fail(e)` fails it.
 */
async function lateFailingPublisher(
  id: string,
  broker: { host: string; port: number },
  protocolVersion: ProtocolVersion,
) {
  const proxy = await FaultProxy.start({ hostname: broker.host, port: broker.port });
  let hold = false, fail!: (e: Error) => void, writeHeld!: () => void;
  const holding = new Promise<void>((r) => (writeHeld = r));
  const pub = new MQTTClient(uniqueId(id), proxy.hostname, {
    port: proxy.port,
    protocolVersion,
    transport: writingThrough(proxy.port, (chunk, writer) => {
      if (!hold) return writer.write(chunk);
      hold = false;
      return new Promise<void>((_, reject) => (fail = reject, writeHeld()));
    }),
  });
  pub.DELAY = 0;
  let connections = 0;
  pub.addEventListener("connected", () => connections++);
  return {
    pub,
    proxy,
    connections: () => connections,
    fail: (e: Error) => fail(e),
    /** Connects, publishes `payload` at QoS 0 with its write held, cuts, waits for the reconnect. */
    async heldThroughCut(topic: string, payload: Uint8Array): Promise<{ late: Promise<void> }> {
      await pub.connect(false);
      hold = true;
      const late = pub.publish(topic, payload, false, 0);
      await holding;
      proxy.cut();
      for (const end = Date.now() + 5_000; connections < 2 || !pub.connected;) {
        assert.ok(Date.now() < end, "not reconnected");
        await new Promise((r) => setTimeout(r, 5));
      }
      return { late };
    },
  };
}

/** A copy of `pad` that starts with `i`, as {@linkcode countingSubscriber} counts it. */
function indexed(pad: Uint8Array, i: number): Uint8Array {
  const payload = pad.slice();
  payload.set(new TextEncoder().encode(String(i).padEnd(8)));
  return payload;
}

/** Resolves once message `last` has arrived at a {@linkcode countingSubscriber} (within 10 s). */
async function untilArrived(counts: Map<string, number>, last: string): Promise<void> {
  for (const end = Date.now() + 10_000; !counts.has(last);) {
    assert.ok(Date.now() < end, `${counts.size} arrived, not the last`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Resolves once `get()` returns something (within 5 s): a value that the code under test sets. */
function whenSet(get: () => unknown, what: string): Promise<void> {
  return withTimeout(
    new Promise<void>((resolve) => {
      const poll = () => (get() === undefined ? setTimeout(poll, 1) : resolve());
      poll();
    }),
    5000,
    what,
  );
}

forEachBroker(
  "calls made while the application's connect() runs wait for it, not for a backoff",
  async (broker, v) => {
    const c = new MQTTClient(uniqueId("app"), broker.host, {
      port: broker.port,
      protocolVersion: v,
    });
    // A backoff this long would outlast the test: the calls must not wait one.
    c.DELAY = 3600;
    const attempts: ReconnectingDetail[] = [];
    c.addEventListener("reconnecting", (e) => attempts.push((e as CustomEvent).detail));
    const connecting = c.connect(true);
    const subscribed = c.subscribe("rl/app", 1);
    const published = c.publish("rl/app", "m", false, 1);
    const message = c.wait_msg();
    assert.equal(await connecting, false);
    assert.equal(await subscribed, 1);
    await published;
    assert.equal(new TextDecoder().decode((await message).payload), "m");
    assert.deepEqual(attempts, [], "no reconnect attempt: nothing was lost");
    await c.disconnect();
  },
  { versions: [4, 5] },
);

test("disconnect() ends an overridden delay() that would wait for ever", async () => {
  let waits = 0;
  class Patient extends MQTTClient {
    override delay(): Promise<void> {
      waits++;
      return new Promise(() => {}); // umqtt.robust's time.sleep, taken to the limit
    }
  }
  await withHostileBroker(async (peer) => {
    await acceptConnect(peer);
    await peer.clientClosed;
  }, async (broker) => {
    const proxy = await FaultProxy.start({ hostname: broker.host, port: broker.port });
    try {
      const c = new Patient(uniqueId("dl"), proxy.hostname, { port: proxy.port });
      await c.connect(false);
      const lost = new Promise((r) => c.addEventListener("disconnected", r, { once: true }));
      proxy.cut();
      await lost;
      while (waits === 0) await new Promise((r) => setTimeout(r, 5));
      await c.disconnect();
      assert.equal(c.connected, false);
      await assert.rejects(c.publish("t", "m"), MQTTConnectionError);
    } finally {
      await proxy.close();
    }
  });
}, TIMEOUT);

test(
  "3.1.1 with an empty client id: a reconnect asks for a clean session and renews the subscriptions",
  async () => {
    let peers = 0;
    await withHostileBroker(async (peer) => {
      const mine = ++peers;
      const connect = await peer.expect("connect");
      assert.equal(connect.clientId, "");
      assert.equal(connect.cleanSession, true, "MQTT-3.1.3-7: an empty id needs a clean session");
      await peer.write({ type: "connack", sessionPresent: false, returnCode: 0 });
      const subscribe = await peer.expect("subscribe");
      assert.deepEqual(subscribe.subscriptions.map((s) => [s.topic, s.qos]), [["rl/anon", 1]]);
      await peer.write({ type: "suback", packetId: subscribe.packetId, returnCodes: [1] });
      // The first connection is cut once subscribed; the second stays.
      if (mine === 1) return peer.end();
      await peer.clientClosed;
    }, async (broker) => {
      const c = new MQTTClient("", broker.url);
      c.DELAY = 0.01;
      const connected: boolean[] = [];
      c.addEventListener(
        "connected",
        (e) => connected.push((e as CustomEvent).detail.sessionPresent),
      );
      await c.connect(true);
      await c.subscribe("rl/anon", 1);
      while (
        broker.peers.length < 2 || !broker.peers[1].received.some((p) => p.type === "subscribe")
      ) {
        await new Promise((r) => setTimeout(r, 5));
      }
      assert.deepEqual(connected, [false, false]);
      await c.disconnect();
    });
  },
  TIMEOUT,
);

test(
  "a reconnect after an attempt whose CONNECT went unanswered renews the subscriptions, even to Session Present 1",
  async () => {
    // The soak's case: the broker lost the session (a restart), an attempt's
    // CONNECT reaches it only after the client gave up on it and makes an empty
    // session, and the next attempt finds that one "present".
    let peers = 0;
    await withHostileBroker(async (peer) => {
      const mine = ++peers;
      const connect = await peer.expect("connect");
      assert.equal(connect.cleanSession, false);
      if (mine === 2) return void await peer.clientClosed; // no CONNACK: the attempt times out
      await peer.write({ type: "connack", sessionPresent: mine === 3, returnCode: 0 });
      const subscribe = await peer.expect("subscribe");
      assert.deepEqual(subscribe.subscriptions.map((s) => s.topic), ["rl/unanswered"]);
      await peer.write({ type: "suback", packetId: subscribe.packetId, returnCodes: [1] });
      if (mine === 1) return peer.end();
      await peer.expect("pingreq");
      await peer.write({ type: "pingresp" });
      await peer.clientClosed;
    }, async (broker) => {
      const c = new MQTTClient(uniqueId("un"), broker.url, { connectTimeout: 200 });
      c.DELAY = 0.01;
      const connected: boolean[] = [];
      c.addEventListener(
        "connected",
        (e) => connected.push((e as CustomEvent).detail.sessionPresent),
      );
      await c.connect(false);
      await c.subscribe("rl/unanswered", 1);
      while (connected.length < 2) await new Promise((r) => setTimeout(r, 5));
      assert.deepEqual(connected, [false, true]);
      await c.ping(); // after the SUBSCRIBE the third broker checks for
      await c.disconnect();
    });
  },
  TIMEOUT,
);

test("a client whose signal has aborted does not connect: stopped for good", async () => {
  const controller = new AbortController();
  controller.abort(new Error("shut down"));
  let opened = 0;
  const c = new MQTTClient("stopped", "127.0.0.1", {
    signal: controller.signal,
    transport: () => (opened++, new Promise(() => {})),
  });
  await assert.rejects(c.connect(), (e) => e === controller.signal.reason);
  assert.equal(opened, 0);
});

test("reconnectMaxDelay is at most what a timer can wait", () => {
  const make = (ms: number) => new MQTTClient("id", "127.0.0.1", { reconnectMaxDelay: ms });
  make(2_147_483_647);
  assert.throws(
    () => make(2_147_483_648),
    /^RangeError: Invalid reconnectMaxDelay 2147483648: must be a positive integer of at most 2147483647$/,
  );
});

forEachBroker(
  "QoS 0 publishes queued behind a write that fails never left: they go on the next connection",
  async (broker, v) => {
    // The transport's write fails (as EPIPE would) while the read side has
    // seen nothing yet. What the failed write had taken may have arrived
    // and is not sent again; the publishes queued behind it, in the next
    // write, never left, and must go out on the next connection.
    const topic = uniqueId("rl/behind");
    const sub = new Simple(uniqueId("bs"), broker.host, { port: broker.port, protocolVersion: v });
    await sub.connect();
    await sub.subscribe(`${topic}/#`, 0);
    const got: string[] = [];
    sub.set_callback((t) => void got.push(t.slice(topic.length + 1)));
    const reading = (async () => {
      try {
        for (;;) await sub.wait_msg();
      } catch { /* disconnected */ }
    })();
    let held: ((e: Error) => void) | null = null;
    let pieces = 0;
    let writeHeld!: () => void;
    const holding = new Promise<void>((r) => (writeHeld = r));
    const pub = new MQTTClient(uniqueId("bp"), broker.host, {
      port: broker.port,
      protocolVersion: v,
      transport: writingThrough(broker.port, (chunk, writer) => {
        if (chunk.length < 1000 || held || ++pieces === 1) return writer.write(chunk);
        // The big publish's second piece: held, then failed, once.
        return new Promise<void>((_, reject) => {
          held = reject;
          writeHeld();
        });
      }),
    });
    pub.DELAY = 0;
    try {
      await pub.connect(false);
      // Written in pieces (64 KiB): the first is taken, the second fails.
      const big = pub.publish(`${topic}/big`, new Uint8Array(200_000), false, 0);
      await holding;
      const small = [0, 1, 2].map((i) => pub.publish(`${topic}/small${i}`, `s${i}`, false, 0));
      await null;
      held!(new Error("the write fails (the test's transport)"));
      await Promise.all([big, ...small]);
      for (const end = Date.now() + 5_000; !got.includes("small2");) {
        assert.ok(Date.now() < end, `arrived: ${got.join(", ")}`);
        await new Promise((r) => setTimeout(r, 5));
      }
      await sub.ping();
      // The big one, not taken whole, went again too; each arrived once.
      assert.deepEqual(got, ["big", "small0", "small1", "small2"]);
    } finally {
      await pub.disconnect();
      await sub.disconnect();
      await reading;
    }
  },
  { versions: [4, 5] },
);

forEachBroker(
  "a QoS 0 publish whose write fails only after the reconnect goes on the new connection",
  async (broker, v) => {
    // A user's StreamPair whose writable errors late (a wrapper that fails a
    // write it could not finish, as a WebSocket may): the cut ends the read
    // side, the client reconnects, and only then does the old connection's
    // write fail. The publish never left: it goes on the new connection
    // rather than reject, as it would have during the outage.
    const topic = uniqueId("rl/late");
    const { sub, counts, reading } = await countingSubscriber("lts", broker, topic, v);
    const w = await lateFailingPublisher("ltp", broker, v), { pub, proxy } = w;
    try {
      const { late } = await w.heldThroughCut(topic, indexed(new Uint8Array(8), 1));
      w.fail(new Error("the write fails late (the test's transport)"));
      await late;
      await untilArrived(counts, "1");
      await sub.ping();
      assert.deepEqual([...counts], [["1", 1]]);
      assert.equal(w.connections(), 2);
    } finally {
      await pub.disconnect();
      await sub.disconnect();
      await reading;
      await proxy.close();
    }
  },
  { versions: [4, 5], ...TIMEOUT },
);

forEachBroker(
  "a QoS 0 publish whose write fails late, after disconnect() and a new connect(), rejects: it is not sent on the new connection",
  async (broker, v) => {
    // As above, but the application calls disconnect() and connect() again before the
    // old connection's write fails: the publish was made before disconnect(), whose calls
    // all reject, and must not go out on the application's next connection.
    const topic = uniqueId("rl/after");
    const { sub, counts, reading } = await countingSubscriber("lds", broker, topic, v);
    const w = await lateFailingPublisher("ldp", broker, v), { pub, proxy } = w;
    try {
      const { late } = await w.heldThroughCut(topic, indexed(new Uint8Array(8), 1));
      await pub.disconnect();
      await pub.connect(false);
      w.fail(new Error("the write fails late (the test's transport)"));
      // Before, it went out on the third connection and resolved.
      await assert.rejects(late, MQTTConnectionError);
      await pub.publish(topic, indexed(new Uint8Array(8), 2), false, 0);
      await untilArrived(counts, "2");
      await sub.ping();
      assert.deepEqual([...counts], [["2", 1]]);
    } finally {
      await pub.disconnect();
      await sub.disconnect();
      await reading;
      await proxy.close();
    }
  },
  { versions: [4, 5], ...TIMEOUT },
);

forEachBroker(
  "QoS 0 is at most once: a burst cut in the middle of its write is never published twice",
  async (broker, v) => {
    const topic = uniqueId("rl/q0");
    const { sub, counts, reading } = await countingSubscriber("q0s", broker, topic, v);
    const proxy = await FaultProxy.start({ hostname: broker.host, port: broker.port });
    const pub = new MQTTClient(uniqueId("q0p"), proxy.hostname, {
      port: proxy.port,
      protocolVersion: v,
    });
    pub.DELAY = 0.01;
    let connections = 0;
    pub.addEventListener("connected", () => connections++);
    try {
      await pub.connect(false);
      // One write of 8 MB, more than the socket buffers take at once; cut after 500 KB.
      proxy.cutAfterBytes(500_000, "up");
      const pad = new Uint8Array(10_000);
      await Promise.all(
        Array.from({ length: 800 }, (_, i) => pub.publish(topic, indexed(pad, i), false, 0)),
      );
      // Those of the write that never left go on the next connection: the last arrives.
      await untilArrived(counts, "799");
      assert.equal(connections, 2);
      // Anything sent twice would have come before the last one's PUBLISH, or with it.
      await sub.ping();
      const twice = [...counts].filter(([, n]) => n > 1).map(([i]) => i);
      assert.deepEqual(twice, [], "published twice");
    } finally {
      await pub.disconnect();
      await sub.disconnect();
      await reading;
      await proxy.close();
    }
  },
  { versions: [4, 5] },
);

forEachBroker(
  "QoS 0: a burst stuck in its write when the broker closes goes on the next connection",
  async (broker) => {
    // A proxy to the broker whose first connection, once it has taken 500 KB
    // of the burst, stops reading and then closes its side (FIN): the
    // client's write is stuck, and no reset ever fails it. What never left must go on
    // the next connection, not reject (as it did under Node and Bun once the
    // stuck write failed, after the client had reconnected).
    const { createServer, connect } = await import("node:net");
    type Socket = import("node:net").Socket;
    const sockets: Socket[] = [];
    let accepted = 0;
    // allowHalfOpen: the socket stays open (and unread) once it has sent its FIN.
    const proxy = createServer({ allowHalfOpen: true }, (client) => {
      const first = ++accepted === 1;
      const up = connect({ host: broker.host, port: broker.port });
      sockets.push(client, up);
      client.on("error", () => {}), up.on("error", () => {});
      up.on("data", (d) => client.write(d));
      up.on("close", () => first || client.destroy());
      client.on("close", () => up.destroy());
      let taken = 0;
      client.on("data", (d) => {
        if (!first) return void up.write(d);
        if (taken >= 500_000) return;
        up.write(d);
        if ((taken += d.length) < 500_000) return;
        client.pause(); // reads no more
        // Once the client's write is stuck (its buffers full: a new write
        // after the FIN would fail at once, as Node's does), FIN.
        setTimeout(() => (client.end(), up.destroy()), 200);
      });
    });
    await new Promise<void>((r) => proxy.listen(0, "127.0.0.1", r));
    const port = (proxy.address() as { port: number }).port;
    const topic = uniqueId("rl/stuck");
    const { sub, counts, reading } = await countingSubscriber("sts", broker, topic);
    const pub = new MQTTClient(uniqueId("stp"), "127.0.0.1", { port });
    pub.DELAY = 0.01;
    let connections = 0;
    pub.addEventListener("connected", () => connections++);
    try {
      await pub.connect(false);
      // 20 MB: more than the socket buffers hold behind a reader that stopped.
      const pad = new Uint8Array(10_000);
      const rejected: string[] = [];
      await Promise.all(
        Array.from(
          { length: 2000 },
          (_, i) =>
            pub.publish(topic, indexed(pad, i), false, 0).catch((e) => {
              rejected.push(`${i}: ${e}`);
            }),
        ),
      );
      assert.deepEqual(rejected.slice(0, 3), [], `${rejected.length} rejected`);
      await untilArrived(counts, "1999");
      assert.equal(connections, 2);
      await sub.ping();
      assert.deepEqual([...counts].filter(([, n]) => n > 1), [], "published twice");
    } finally {
      await pub.disconnect();
      await sub.disconnect();
      await reading;
      for (const s of sockets) s.destroy();
      await new Promise((r) => proxy.close(r));
    }
  },
  { only: ["mosquitto"], ...TIMEOUT },
);

test(
  "connections lost at once keep the backoff growing; one that lasted starts it over",
  async () => {
    // Every connection closed by the broker right after its CONNACK (as over a
    // kept publish it will not take), until told to keep one.
    let keep = false;
    const random = Math.random, now = performance.now;
    let skipped = 0;
    await withHostileBroker(async (peer) => {
      await acceptConnect(peer);
      if (!keep) peer.end();
      await peer.clientClosed;
    }, async (broker) => {
      const c = new MQTTClient(uniqueId("grow"), broker.host, { port: broker.port });
      c.DELAY = 0.01;
      const delays: number[] = [];
      c.addEventListener("reconnecting", (e) => {
        delays.push((e as CustomEvent<ReconnectingDetail>).detail.delay);
        if (delays.length === 5) keep = true;
      });
      Math.random = () => 1; // every wait its ceiling
      performance.now = () => now.call(performance) + skipped;
      try {
        await c.connect(false);
        for (const end = Date.now() + 10_000; !(keep && c.connected && delays.length === 5);) {
          if (Date.now() > end) throw new Error(`still reconnecting: ${delays}`);
          await new Promise((r) => setTimeout(r, 5));
        }
        // The sixth connection has lasted 10 s when the broker closes it.
        skipped = 10_000;
        broker.peers.at(-1)!.end();
        for (const end = Date.now() + 10_000; delays.length < 6 || !c.connected;) {
          if (Date.now() > end) throw new Error(`not back: ${delays}`);
          await new Promise((r) => setTimeout(r, 5));
        }
        // Rounds 1 and 2 wait DELAY, then twice as long each round.
        assert.deepEqual(delays, [10, 10, 20, 40, 80, 10]);
      } finally {
        Math.random = random;
        performance.now = now;
        await c.disconnect();
      }
    });
  },
  TIMEOUT,
);

forEachBroker(
  "connect(true) goes at once while every reconnect fails: a session the client cannot take",
  async (broker) => {
    const u = uniqueId("poison");
    // MQTT 3.1.1 has no Maximum Packet Size: the broker sends the 5000-byte
    // message kept in the session on every connection, and each closes over it.
    const c = new MQTTClient(u, broker.host, { port: broker.port, maxPacketSize: 1000 });
    let failures = 0;
    c.addEventListener("reconnecting", () => failures++);
    const pub = new Simple(uniqueId("pub"), broker.host, { port: broker.port });
    try {
      await c.connect(false);
      await c.subscribe(`${u}/t`, 1);
      await pub.connect();
      await pub.publish(`${u}/t`, new Uint8Array(5000), false, 1);
      for (const end = Date.now() + 10_000; failures < 2;) {
        if (Date.now() > end) throw new Error(`${failures} reconnects`);
        await new Promise((r) => setTimeout(r, 5));
      }
      // The application leaves that session: its connect() does not wait for the loop.
      assert.equal(await withTimeout(c.connect(true), 5000, "connect(true)"), false);
      assert.equal(c.connected, true);
      await c.publish(`${u}/after`, "fits", false, 1);
    } finally {
      await c.disconnect();
      await pub.disconnect();
    }
  },
  { only: ["mosquitto"], ...TIMEOUT },
);

forEachBroker(
  "connect() from a reconnecting listener goes at once; the reconnect's wait does not hold calls",
  async (broker) => {
    const proxy = await FaultProxy.start({ hostname: broker.host, port: broker.port });
    const c = new MQTTClient(uniqueId("listener"), proxy.hostname, { port: proxy.port });
    c.DELAY = 3600; // the reconnect's own first attempt would wait up to an hour
    let asked = 0;
    c.addEventListener("reconnecting", () => {
      if (asked++ === 0) void c.connect(false);
    });
    try {
      await c.connect(false);
      proxy.cut();
      await withTimeout(
        new Promise((r) => c.addEventListener("connected", r, { once: true })),
        5000,
        "the listener's connect()",
      );
      await withTimeout(c.publish(uniqueId("t"), "after", false, 1), 5000, "a publish after it");
      assert.equal(asked, 1, "one reconnect attempt announced, then the application's connect()");
    } finally {
      await c.disconnect();
      await proxy.close();
    }
  },
  TIMEOUT,
);

forEachBroker(
  "reconnect() and publish() from the first reconnecting listener join the loop under way",
  async (broker) => {
    const proxy = await FaultProxy.start({ hostname: broker.host, port: broker.port });
    const c = new MQTTClient(uniqueId("join"), proxy.hostname, { port: proxy.port });
    c.DELAY = 0.01;
    const attempts: number[] = [];
    let joined: Promise<unknown> | undefined;
    c.addEventListener("reconnecting", (e) => {
      attempts.push((e as CustomEvent<ReconnectingDetail>).detail.attempt);
      // A second loop started here would be refused "already connecting", and
      // reject what the client keeps with that TypeError.
      joined ??= Promise.all([c.reconnect(), c.publish(uniqueId("t"), "kept", false, 1)]);
    });
    try {
      await c.connect(false);
      proxy.cut();
      await whenSet(() => joined, "the loss");
      await withTimeout(joined!, 5000, "the listener's calls");
      assert.ok(c.connected);
      assert.deepEqual(attempts, [1], "one loop: one attempt announced");
    } finally {
      await c.disconnect();
      await proxy.close();
    }
  },
  TIMEOUT,
);

forEachBroker(
  "connect(false) from a credential function of a reconnect attempt joins that attempt",
  async (broker, v) => {
    const proxy = await FaultProxy.start({ hostname: broker.host, port: broker.port });
    let joined: Promise<boolean> | undefined;
    let armed = false;
    const c: MQTTClient = new MQTTClient(uniqueId("cred"), proxy.hostname, {
      port: proxy.port,
      protocolVersion: v,
      user: () => {
        // Synchronously, as the attempt fetches its credentials: "already connecting" once.
        if (armed) joined = c.connect(false);
        armed = false;
        return "u";
      },
    });
    c.DELAY = 0.01;
    try {
      await c.connect(false);
      armed = true;
      proxy.cut();
      await whenSet(() => joined, "the attempt's credentials");
      assert.equal(typeof await withTimeout(joined!, 5000, "the joined connect()"), "boolean");
      assert.ok(c.connected);
    } finally {
      await c.disconnect();
      await proxy.close();
    }
  },
  { versions: [4, 5], ...TIMEOUT },
);

test(
  "a transport that refuses its arguments (a TypeError) is not retried: the publish rejects",
  async () => {
    // As connectCloudflare refuses cadata, or the Deno transport a client
    // certificate under another server_hostname: before any I/O, so no broker
    // is needed, and no other attempt would differ.
    let opened = 0;
    const c = new MQTTClient(uniqueId("tls"), "127.0.0.1", {
      port: 1,
      transport: () => {
        opened++;
        return Promise.reject(new TypeError("Invalid ssl_params: this runtime takes no cadata"));
      },
    });
    c.DELAY = 0.01;
    let attempts = 0;
    c.addEventListener("reconnecting", () => attempts++);
    try {
      const e = await withTimeout(
        c.publish("t", "m", false, 1).then(() => null, (e) => e),
        5000,
        "the publish",
      );
      assert.ok(e instanceof MQTTConnectionError, String(e));
      assert.match(e.message, /^Cannot connect to 127\.0\.0\.1:1: Invalid ssl_params: /);
      assert.ok(e.cause instanceof TypeError);
      assert.deepEqual([attempts, opened], [1, 1], "one attempt, no retry");
    } finally {
      await c.disconnect();
    }
  },
  TIMEOUT,
);
