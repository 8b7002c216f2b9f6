// The reconnecting client (umqtt.robust's API) against real brokers, with
// faults injected by a loopback proxy between client and broker.
import assert from "node:assert/strict";
import { MQTTClient as Simple, MQTTConnectionError } from "../mod.ts";
import { MQTTClient } from "../lib/robust.ts";
import { brokerKinds, forEachBroker, startMosquitto } from "./_brokers.ts";
import { offline, proxyTo } from "./_fault_proxy.ts";
import { Tap } from "./_tap.ts";
import { endSession, robust } from "./_robust.ts";
import { test, uniqueId, until, withTimeout } from "./_test.ts";

const text = (b: Uint8Array) => new TextDecoder().decode(b);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const hasMosquitto = brokerKinds().includes("mosquitto");

// The tests run at both MQTT versions (MQTT 5 on mosquitto only).
const BOTH = { versions: [4, 5] } as const;

forEachBroker("reconnect() retries connect(false) until the broker is back", async (broker, v) => {
  const proxy = await proxyTo(broker);
  const { c, attempts } = robust(proxy, v);
  try {
    assert.equal(c.DELAY, 0.02, "DELAY is a writable field");
    await c.connect(false);
    await c.subscribe(uniqueId("keep"), 1); // aedes keeps a session only with a subscription
    proxy.refuse(true);
    proxy.cut();
    await until(() => attempts.length >= 3, "three attempts fail while the broker is away");
    assert.equal(c.connected, false);
    proxy.refuse(false);
    assert.equal(await c.reconnect(), true, "the session is resumed");
    assert.equal(c.connected, true);
    assert.deepEqual(attempts.slice(0, 3).map((a) => a.attempt), [1, 2, 3]);
    for (const a of attempts) {
      assert.ok(a.error instanceof MQTTConnectionError);
      assert.ok(a.delay >= 0 && a.delay <= 20 * 2 ** (a.attempt - 1), `full jitter: ${a.delay}`);
    }
  } finally {
    await endSession(c);
    await proxy.close();
  }
}, BOTH);

forEachBroker("publish after a drop succeeds once reconnected", async (broker, v) => {
  const proxy = await proxyTo(broker);
  const { c } = robust(proxy, v);
  const u = uniqueId("drop");
  const sub = new Simple(uniqueId("s"), broker.host, { port: broker.port, protocolVersion: v });
  await sub.connect();
  await sub.subscribe(u, 1);
  try {
    await c.connect(false);
    const lost = new Promise((r) => c.addEventListener("disconnected", r, { once: true }));
    proxy.cut();
    await lost;
    await c.publish(u, "after the drop", false, 1);
    assert.equal(text((await sub.wait_msg()).payload), "after the drop");
  } finally {
    await c.disconnect();
    await sub.disconnect();
    await proxy.close();
  }
}, BOTH);

forEachBroker(
  "a written publish is resent with its id (DUP=1), never published afresh",
  async (broker, v) => {
    const proxy = await proxyTo(broker);
    const tap = new Tap(proxy.hostname, proxy.port);
    const c = new MQTTClient(uniqueId("dup"), proxy.hostname, {
      transport: tap.transport,
      protocolVersion: v,
    });
    c.DELAY = 0.02;
    const u = uniqueId("dup");
    const sub = new Simple(uniqueId("s"), broker.host, { port: broker.port, protocolVersion: v });
    await sub.connect();
    await sub.subscribe(u, 1);
    try {
      await c.connect(false);
      proxy.blackhole(true); // written, never arrives
      const publishing = c.publish(u, "once", false, 1);
      await until(() => tap.publishes(0).length === 1, "the PUBLISH is written");
      proxy.blackhole(false);
      proxy.cut();
      await publishing;
      const [first] = tap.publishes(0);
      const later = tap.conns.slice(1).flatMap((_, i) => tap.publishes(i + 1));
      assert.deepEqual(later.map((p) => [p.packetId, p.dup]), [[first.packetId, true]]);
      assert.equal(text((await sub.wait_msg()).payload), "once");
      await sub.ping();
      assert.equal(await sub.check_msg(), undefined, "delivered once");
    } finally {
      await c.disconnect();
      await sub.disconnect();
      await proxy.close();
    }
  },
  BOTH,
);

test(
  "3.1.1, first connect() clean: a QoS 2 publish past its PUBREC when the connection is cut is delivered, not completed as a bare PUBREL (MQTT-3.1.2-6)",
  async () => {
    // mosquitto releases a QoS 2 message on PUBREL, and ends a clean session with its
    // connection: a PUBREL resent into the next session would complete it unpublished.
    const broker = await startMosquitto();
    const tap = new Tap(broker.host, broker.port);
    const c = new MQTTClient(uniqueId("clean"), broker.host, {
      port: broker.port,
      transport: tap.transport,
    });
    c.DELAY = 0;
    const u = uniqueId("clean");
    const sub = new Simple(uniqueId("s"), broker.host, { port: broker.port });
    try {
      await sub.connect();
      await sub.subscribe(u, 2);
      await c.connect(); // clean, as umqtt.robust's examples start; reconnects are connect(false)
      tap.swallow = (p) => p.type === "pubrel"; // the broker holds the message, never its release
      const publishing = c.publish(u, "once", false, 2);
      await until(() => tap.conns[0].written.some((p) => p.type === "pubrel"), "PUBREL written");
      tap.swallow = false;
      tap.conns[0].cut();
      await publishing;
      const again = tap.conns.slice(1).flatMap((k) => k.written.map((p) => p.type));
      assert.deepEqual(again.filter((t) => t !== "connect"), ["publish", "pubrel"]);
      assert.equal(text((await withTimeout(sub.wait_msg(), 5000, "the message")).payload), "once");
      await sub.ping();
      assert.equal(await sub.check_msg(), undefined, "delivered once");
    } finally {
      await c.disconnect();
      await sub.disconnect();
      await broker.stop();
    }
  },
  { timeout: 30_000 },
);

forEachBroker(
  "keepalive finds a blackholed connection and the client reconnects",
  async (broker, v) => {
    const proxy = await proxyTo(broker);
    // A connection attempt into the blackhole waits for its CONNACK: keep that short.
    const { c } = robust(proxy, v, { keepalive: 1, connectTimeout: 500 });
    const events: [string, Error?][] = [];
    for (const type of ["connected", "disconnected"]) {
      c.addEventListener(type, (e) => events.push([type, (e as CustomEvent).detail?.error]));
    }
    try {
      await c.connect(false);
      proxy.blackhole(true);
      await until(() => events.some(([t]) => t === "disconnected"), "the dead connection is found");
      // Found by the keepalive itself: the blackhole hides even the broker's
      // own timeout from the client. (The timing, one interval then half of
      // one, protocol_test.ts checks on the core's own clock; a wall-clock
      // bound here failed on a loaded machine.)
      const [, error] = events.find(([t]) => t === "disconnected")!;
      assert.match(error!.message, /no answer to PINGREQ within 500 ms \(keepalive 1 s\)/);
      proxy.blackhole(false);
      await until(() => c.connected, "the client reconnects by itself");
      assert.deepEqual(events.map(([t]) => t), ["connected", "disconnected", "connected"]);
    } finally {
      await c.disconnect();
      await proxy.close();
    }
  },
  BOTH,
);

forEachBroker("publishing while offline is bounded: whenOfflineFull reject", async (broker, v) => {
  const proxy = await proxyTo(broker);
  const { c } = robust(proxy, v, { maxOfflineMessages: 2, whenOfflineFull: "reject" });
  const u = uniqueId("off");
  try {
    await c.connect(false);
    await offline(c, proxy);
    const waiting = [c.publish(u, "1", false, 1), c.publish(u, "2", false, 1)];
    await assert.rejects(c.publish(u, "3", false, 1), /Offline queue full: 2 messages/);
    // Bad arguments fail at once while offline too, not after the reconnect.
    await assert.rejects(c.publish("a/+", "x", false, 1), TypeError);
    // deno-lint-ignore no-explicit-any
    await assert.rejects(c.publish(u, "x", false, 3 as any), RangeError);
    proxy.refuse(false);
    await Promise.all(waiting);
  } finally {
    await c.disconnect();
    await proxy.close();
  }
}, BOTH);

forEachBroker(
  "calls aborted while offline reject at once, and do not go out after the reconnect",
  async (broker, v) => {
    const proxy = await proxyTo(broker);
    const { c } = robust(proxy, v);
    const u = uniqueId("abo");
    const watcher = new Simple(uniqueId("w"), broker.host, { port: broker.port });
    try {
      await watcher.connect();
      await watcher.subscribe(`${u}/#`, 1);
      await c.connect(false);
      await offline(c, proxy);
      const ac = new AbortController();
      const reason = new Error("given up");
      const calls = [
        c.publish(`${u}/q1`, "x", { qos: 1, signal: ac.signal }),
        c.publish(`${u}/q0`, "x", { qos: 0, signal: ac.signal }),
        c.subscribe(`${u}/sub`, { qos: 1, signal: ac.signal }),
        c.unsubscribe(`${u}/sub`, { signal: ac.signal }),
        c.wait_msg({ signal: ac.signal }),
        c.messages({ signal: ac.signal })[Symbol.asyncIterator]().next(),
      ];
      let settled = 0;
      for (const call of calls) call.catch(() => settled++);
      ac.abort(reason);
      await until(() => settled === calls.length, "every aborted call rejected, still offline");
      assert.ok(!c.connected);
      for (const call of calls) await assert.rejects(call, (e) => e === reason);
      proxy.refuse(false);
      await c.publish(`${u}/marker`, "m", false, 1);
      const m = await watcher.wait_msg();
      assert.equal(m.topic, `${u}/marker`, "the aborted publishes did not go out");
    } finally {
      await watcher.disconnect();
      await endSession(c);
      await proxy.close();
    }
  },
  BOTH,
);

forEachBroker(
  "a call aborted with an MQTTConnectionError for its reason is not retried as a lost connection",
  async (broker, v) => {
    const proxy = await proxyTo(broker);
    const { c } = robust(proxy, v);
    const u = uniqueId("abr");
    let retries = 0;
    c.log = (inReconnect) => void (inReconnect || retries++);
    try {
      await c.connect(false);
      proxy.blackhole(true); // the PUBACK does not come: the publish waits for it
      const ac = new AbortController();
      const reason = new MQTTConnectionError("given up by the caller");
      const publishing = c.publish(`${u}/once`, "x", { qos: 1, signal: ac.signal });
      await sleep(50);
      ac.abort(reason);
      await assert.rejects(publishing, (e) => e === reason);
      // The same for a wait_msg() and a messages() loop waiting for a message.
      const waitAbort = new AbortController(), loopAbort = new AbortController();
      const waiting = c.wait_msg({ signal: waitAbort.signal });
      const looping = c.messages({ signal: loopAbort.signal })[Symbol.asyncIterator]().next();
      await sleep(20);
      waitAbort.abort(reason);
      loopAbort.abort(reason);
      await assert.rejects(waiting, (e) => e === reason);
      await assert.rejects(looping, (e) => e === reason);
      await sleep(50);
      assert.equal(retries, 0, "an abort was taken for a lost connection and the call retried");
      proxy.blackhole(false);
    } finally {
      await endSession(c);
      await proxy.close();
    }
  },
  BOTH,
);

forEachBroker(
  "once the client's signal aborted, a publish on a connection then lost rejects with its reason",
  async (broker, v) => {
    const proxy = await proxyTo(broker);
    const ac = new AbortController();
    const { c } = robust(proxy, v, { signal: ac.signal });
    try {
      await c.connect(false);
      ac.abort(new Error("STOP"));
      proxy.blackhole(true); // no PUBACK: the publish is in flight when the connection goes
      const publishing = c.publish(uniqueId("t"), "m", { qos: 1 });
      await sleep(50);
      proxy.cut();
      await withTimeout(
        assert.rejects(publishing, /STOP/),
        10_000,
        "the publish kept for a reconnect that will never come",
      );
    } finally {
      await c.disconnect();
      await proxy.close();
    }
  },
  BOTH,
);

forEachBroker(
  "an MQTTConnectionError thrown by the callback rejects wait_msg and check_msg, as with the simple client",
  async (broker, v) => {
    const proxy = await proxyTo(broker);
    const { c } = robust(proxy, v);
    const u = uniqueId("cb");
    const failure = new MQTTConnectionError("downstream offline");
    const seen: string[] = [];
    c.set_callback((_t, m) => {
      seen.push(text(m));
      if (text(m).startsWith("fail")) throw failure;
    });
    const pub = new Simple(uniqueId("p"), broker.host, { port: broker.port });
    try {
      await c.connect(true);
      await c.subscribe(`${u}/#`, 1);
      await pub.connect();
      const waiting = c.wait_msg();
      await pub.publish(`${u}/a`, "fail 1", false, 1);
      await assert.rejects(waiting, (e) => e === failure);
      await pub.publish(`${u}/a`, "fail 2", false, 1);
      // check_msg() resolves undefined until the message is queued, then handles it.
      let outcome: unknown;
      for (const end = Date.now() + 10_000; outcome === undefined && Date.now() < end;) {
        outcome = await c.check_msg().then((m) => m, (e) => e);
        if (outcome === undefined) await sleep(10);
      }
      assert.equal(outcome, failure);
      assert.deepEqual(seen, ["fail 1", "fail 2"], "each call handled one message");
      assert.ok(c.connected);
    } finally {
      await pub.disconnect();
      await c.disconnect();
      await proxy.close();
    }
  },
  BOTH,
);

forEachBroker(
  "a QoS 0 publish queued offline keeps the payload as it was: the caller may reuse the buffer",
  async (broker, v) => {
    const proxy = await proxyTo(broker);
    const { c } = robust(proxy, v);
    const sub = new Simple(uniqueId("sub"), broker.host, { port: broker.port, protocolVersion: v });
    const u = uniqueId("reuse");
    try {
      await sub.connect();
      await sub.subscribe(u, 0);
      await c.connect(false);
      const buf = new TextEncoder().encode("first");
      // Online, to the same topic (MQTT 5: its topic alias is set on this connection).
      await c.publish(u, buf);
      const first = await withTimeout(sub.wait_msg(), 5000, "the online message");
      await offline(c, proxy);
      buf.set(new TextEncoder().encode("2nd.."));
      const waiting = c.publish(u, buf);
      buf.set(new TextEncoder().encode("later"), 0); // the caller reuses its buffer at once
      proxy.refuse(false);
      await withTimeout(waiting, 5000, "the offline publish, after the reconnect");
      const second = await withTimeout(sub.wait_msg(), 5000, "the offline message");
      assert.deepEqual([first, second].map((m) => text(m.payload)), ["first", "2nd.."]);
    } finally {
      await endSession(c);
      await sub.disconnect();
      await proxy.close();
    }
  },
  BOTH,
);

forEachBroker(
  "after disconnect() it never reconnects, and an abort stops reconnecting",
  async (broker, v) => {
    const proxy = await proxyTo(broker);
    const ac = new AbortController();
    const { c, attempts } = robust(proxy, v, { signal: ac.signal });
    try {
      await c.connect(false);
      await c.disconnect();
      await sleep(100);
      assert.equal(proxy.accepted, 1, "no reconnect after disconnect()");
      await assert.rejects(c.reconnect(), /disconnect\(\) was called/);

      await c.connect(false);
      proxy.refuse(true);
      proxy.cut();
      await until(() => attempts.length >= 1, "reconnecting");
      const pending = c.publish(uniqueId("ab"), "x", false, 1);
      ac.abort(new Error("shutting down"));
      await assert.rejects(pending, /shutting down/);
      await assert.rejects(c.reconnect(), /shutting down/);
    } finally {
      await c.disconnect();
      await proxy.close();
    }
  },
  BOTH,
);

forEachBroker("a delay() override decides the waits alone", async (broker, v) => {
  const proxy = await proxyTo(broker);
  const calls: number[] = [];
  class Mine extends MQTTClient {
    override delay(i: number): Promise<void> {
      calls.push(i);
      return sleep(5);
    }
  }
  const c = new Mine(uniqueId("dl"), proxy.hostname, { port: proxy.port, protocolVersion: v });
  try {
    await c.connect(false);
    proxy.refuse(true);
    proxy.cut();
    await until(() => calls.length >= 3, "three waits");
    proxy.refuse(false);
    await c.reconnect();
    assert.deepEqual(calls.slice(0, 3), [1, 2, 3]);
  } finally {
    await c.disconnect();
    await proxy.close();
  }
}, BOTH);

forEachBroker(
  "a connect() right after disconnect() waits for it; one that fails leaves the client disconnected for good",
  async (broker, v) => {
    const proxy = await proxyTo(broker);
    const { c, attempts } = robust(proxy, v);
    try {
      for (const lostFirst of [false, true]) {
        const lose = async () => {
          if (!lostFirst) return;
          // The same while a reconnect is under way.
          attempts.length = 0;
          proxy.cut();
          await until(() => attempts.length > 0, "reconnecting");
        };
        await c.connect(false);
        await lose();
        // As the simple client's: the connection disconnect() ends first, then a new one.
        const leaving = c.disconnect();
        await c.connect(false);
        await leaving;
        assert.ok(c.connected, "connected by the connect() after disconnect()");
        await lose();
        const disconnecting = c.disconnect();
        proxy.refuse(true);
        const connecting = c.connect(false);
        connecting.catch(() => {}); // asserted below
        await disconnecting;
        await assert.rejects(connecting);
        proxy.refuse(false);
        await sleep(100);
        assert.ok(!c.connected, "it reconnected on its own");
        await assert.rejects(
          c.publish(uniqueId("t"), "m", { qos: 1 }),
          /Not reconnecting: disconnect\(\) was called/,
        );
        attempts.length = 0;
      }
    } finally {
      await endSession(c);
      await proxy.close();
    }
  },
  BOTH,
);

forEachBroker(
  "wait_msg hands out what is queued while offline, without waiting to reconnect",
  async (broker, v) => {
    const proxy = await proxyTo(broker);
    const { c } = robust(proxy, v);
    const u = uniqueId("wq");
    const pub = new Simple(uniqueId("p"), broker.host, { port: broker.port, protocolVersion: v });
    try {
      await pub.connect();
      await c.connect(true);
      await c.subscribe(u, 0);
      const before = proxy.bytes.down;
      await pub.publish(u, "q1");
      await pub.publish(u, "q2");
      // Both PUBLISHes written to the client (4 + topic + payload bytes each, one more in MQTT 5):
      // they come before the end of the stream the cut makes, so the client queues them.
      const size = 4 + u.length + 2 + (v === 5 ? 1 : 0);
      await until(() => proxy.bytes.down >= before + 2 * size, "both messages on their way");
      await offline(c, proxy);
      const next = () => withTimeout(c.wait_msg(), 5_000, "a queued message, offline");
      const got = [text((await next()).payload), text((await next()).payload)];
      assert.deepEqual(got, ["q1", "q2"]);
      assert.ok(!c.connected, "handed out while offline");
      proxy.refuse(false);
    } finally {
      await c.disconnect();
      await pub.disconnect();
      await proxy.close();
    }
  },
  BOTH,
);

forEachBroker("wait_msg rides out a lost connection", async (broker, v) => {
  const proxy = await proxyTo(broker);
  const { c } = robust(proxy, v);
  const u = uniqueId("wm");
  const pub = new Simple(uniqueId("p"), broker.host, { port: broker.port, protocolVersion: v });
  await pub.connect();
  try {
    await c.connect(false);
    await c.subscribe(u, 1);
    const waiting = c.wait_msg();
    proxy.cut();
    await until(() => proxy.accepted >= 2 && c.connected, "reconnected");
    await pub.publish(u, "later", false, 1);
    assert.equal(text((await waiting).payload), "later");
  } finally {
    await endSession(c);
    await pub.disconnect();
    await proxy.close();
  }
}, BOTH);

for (const v of BOTH.versions) {
  test(
    `subscriptions are renewed when the broker comes back without the session${
      v === 5 ? " [MQTT 5]" : ""
    }`,
    async () => {
      const broker = await startMosquitto(); // no persistence: a restart forgets sessions
      const proxy = await proxyTo(broker);
      const { c } = robust(proxy, v);
      const u = uniqueId("resub");
      try {
        await c.connect(false);
        await c.subscribe(u, 1);
        await broker.restart!();
        await until(() => c.connected, "reconnected after the restart", 15_000);
        const pub = new Simple(uniqueId("p"), broker.host, {
          port: broker.port,
          protocolVersion: v,
        });
        await pub.connect();
        await pub.publish(u, "renewed", false, 1);
        assert.equal(text((await c.wait_msg()).payload), "renewed");
        await pub.disconnect();
      } finally {
        await c.disconnect();
        await proxy.close();
        await broker.stop();
      }
    },
    { ignore: !hasMosquitto },
  );
}

for (const v of BOTH.versions) {
  test(
    `a subscribe or unsubscribe aborted after it went out is renewed as the broker applied it${
      v === 5 ? " [MQTT 5]" : ""
    }`,
    async () => {
      const broker = await startMosquitto(); // no persistence: a restart forgets sessions
      const proxy = await proxyTo(broker);
      const { c } = robust(proxy, v);
      const u = uniqueId("abs");
      const pub = new Simple(uniqueId("p"), broker.host, { port: broker.port, protocolVersion: v });
      try {
        await c.connect(false);
        await c.subscribe(`${u}/b`, 1);
        // Both written at once (connected, ids free); the caller then stops waiting.
        const [subAbort, unsubAbort] = [new AbortController(), new AbortController()];
        const sub = c.subscribe(`${u}/a`, { qos: 1, signal: subAbort.signal });
        const unsub = c.unsubscribe(`${u}/b`, { signal: unsubAbort.signal });
        subAbort.abort(new Error("gave up"));
        unsubAbort.abort(new Error("gave up"));
        await assert.rejects(sub, /gave up/);
        await assert.rejects(unsub, /gave up/);
        await c.ping(); // after the SUBACK and UNSUBACK: the broker applied both
        await broker.restart!();
        await until(() => c.connected, "reconnected after the restart", 15_000);
        await pub.connect();
        await pub.publish(`${u}/b`, "to the filter removed", false, 1);
        await pub.publish(`${u}/a`, "to the filter added", false, 1);
        assert.equal(text((await c.wait_msg()).payload), "to the filter added");
      } finally {
        await pub.disconnect();
        await c.disconnect();
        await proxy.close();
        await broker.stop();
      }
    },
    { mosquitto: true },
  );
}

forEachBroker(
  "umqtt.robust's example, ported line by line, keeps working through a cut",
  async (broker, v) => {
    const proxy = await proxyTo(broker);
    const topic = uniqueId("foo_topic");
    const received: string[] = [];
    // def sub_cb(topic, msg): print((topic, msg))
    const sub_cb = (_topic: string, msg: Uint8Array) => void received.push(text(msg));
    // c = MQTTClient("umqtt_client", server)
    const c = new MQTTClient(uniqueId("umqtt_client"), proxy.url, { protocolVersion: v });
    c.DELAY = 0.01;
    // c.DEBUG = True
    c.DEBUG = false; // (true prints to stderr; the test keeps its output clean)
    // c.set_callback(sub_cb)
    c.set_callback(sub_cb);
    // if not c.connect(clean_session=False): c.subscribe(b"foo_topic")
    if (!await c.connect({ clean_session: false })) await c.subscribe(topic);
    const pub = new Simple(uniqueId("p"), broker.host, { port: broker.port, protocolVersion: v });
    await pub.connect();
    try {
      // while 1: c.wait_msg()
      await pub.publish(topic, "before", false, 1);
      await c.wait_msg();
      proxy.cut();
      const next = c.wait_msg();
      await until(() => proxy.accepted >= 2 && c.connected, "reconnected");
      await pub.publish(topic, "after", false, 1);
      await next;
      assert.deepEqual(received, ["before", "after"]);
    } finally {
      await endSession(c);
      await pub.disconnect();
      await proxy.close();
    }
  },
  BOTH,
);

forEachBroker(
  "publishing while offline waits for room when whenOfflineFull is wait",
  async (broker, v) => {
    const proxy = await proxyTo(broker);
    const { c } = robust(proxy, v, { maxOfflineMessages: 1 });
    const u = uniqueId("wait");
    const sub = new Simple(uniqueId("s"), broker.host, { port: broker.port, protocolVersion: v });
    await sub.connect();
    await sub.subscribe(u, 1);
    try {
      await c.connect(false);
      await offline(c, proxy);
      const all = ["1", "2", "3"].map((m) => c.publish(u, m, false, 1));
      await sleep(50);
      proxy.refuse(false);
      await Promise.all(all);
      const got = [];
      for (let i = 0; i < 3; i++) got.push(text((await sub.wait_msg()).payload));
      assert.deepEqual(got, ["1", "2", "3"], "all published, in call order");
    } finally {
      await c.disconnect();
      await sub.disconnect();
      await proxy.close();
    }
  },
  BOTH,
);

forEachBroker(
  "offline publishes go out in call order, those given a signal too",
  async (broker, v) => {
    // A signal made a call wait for the connection through one more promise,
    // so it resumed after later calls without one: 1, 2, 4, 5, …, 3, 6, 9, ….
    const proxy = await proxyTo(broker);
    const u = uniqueId("order");
    const sub = new Simple(uniqueId("s"), broker.host, { port: broker.port, protocolVersion: v });
    await sub.connect();
    await sub.subscribe(u, 1);
    try {
      for (const maxOfflineMessages of [1000, 4]) {
        const { c } = robust(proxy, v, { maxOfflineMessages });
        try {
          await c.connect(false);
          await offline(c, proxy);
          const signal = new AbortController().signal;
          const sent = [];
          for (let i = 1; i <= 24; i++) {
            sent.push(c.publish(u, String(i), { qos: 1, signal: i % 3 ? undefined : signal }));
          }
          await sleep(50);
          proxy.refuse(false);
          await Promise.all(sent);
          const got = [];
          for (let i = 0; i < 24; i++) got.push(Number(text((await sub.wait_msg()).payload)));
          assert.deepEqual(
            got,
            got.toSorted((a, b) => a - b),
            `maxOfflineMessages ${maxOfflineMessages}`,
          );
          assert.equal(new Set(got).size, 24);
        } finally {
          await endSession(c);
        }
      }
    } finally {
      await sub.disconnect();
      await proxy.close();
    }
  },
  BOTH,
);

forEachBroker(
  "an offline publish over maxOfflineBytes rejects at once; strings count their UTF-8 bytes",
  async (broker, v) => {
    const proxy = await proxyTo(broker);
    const { c } = robust(proxy, v, { maxOfflineBytes: 1000 });
    const u = uniqueId("big");
    try {
      await c.connect(false);
      await c.publish(u, new Uint8Array(2000), false, 1); // online: no offline limit applies
      await offline(c, proxy);
      const settled = (p: Promise<void>, what: string) =>
        withTimeout(p.then(() => "resolved", (e) => e), 2000, what);
      const bytes = await settled(c.publish(u, new Uint8Array(2000), false, 1), "2000 bytes");
      assert.ok(bytes instanceof RangeError, `2000 bytes: ${bytes}`);
      assert.match(bytes.message, /2000 bytes, over maxOfflineBytes 1000/);
      const text = await settled(c.publish(u, "é".repeat(600), false, 1), "1200 bytes"); // 1200 bytes
      assert.ok(text instanceof RangeError, `600 × "é": ${text}`);
      assert.match(text.message, /1200 bytes, over maxOfflineBytes 1000/);
      // 400 ASCII characters are 400 bytes (not 3 × 400); two fit, a third waits for room.
      const fit = [
        c.publish(u, "a".repeat(400), false, 1),
        c.publish(u, "b".repeat(400), false, 1),
      ];
      const third = c.publish(u, "c".repeat(400), false, 1);
      proxy.refuse(false);
      await Promise.all([...fit, third]);
      // A publish waiting for room ends with disconnect().
      proxy.refuse(true);
      proxy.cut();
      await until(() => !c.connected, "the connection is lost again");
      const holders = [c.publish(u, "a".repeat(600), false, 1)];
      const waiting = c.publish(u, "b".repeat(600), false, 1);
      // Awaited from before disconnect(): a rejection that nobody awaits when
      // a macrotask ends is an uncaught error that fails the whole file.
      const rejected = Promise.all([
        assert.rejects(waiting, MQTTConnectionError),
        assert.rejects(Promise.all(holders), MQTTConnectionError),
      ]);
      await sleep(20);
      await c.disconnect();
      await rejected;
    } finally {
      await endSession(c);
      await proxy.close();
    }
  },
  BOTH,
);

forEachBroker(
  "disconnect() and an abort do not wait for a resubscribe's SUBACK that never comes",
  async (broker, v) => {
    const proxy = await proxyTo(broker);
    const ac = new AbortController();
    const one = robust(proxy, v); // keepalive 0: nothing else would ever end the wait
    const two = robust(proxy, v, { signal: ac.signal });
    const u = uniqueId("resub");
    /**
     * Connects `c` cleanly and subscribes, cuts, publishes while offline; the
     * network dies right after the next CONNACK. Returns the publish.
     */
    const resubscribing = async (c: MQTTClient) => {
      await c.connect(true); // no session: the reconnect resubscribes
      await c.subscribe(u, 1);
      const back = new Promise<void>((resolve) =>
        c.addEventListener("connected", () => {
          proxy.blackhole(true);
          resolve();
        }, { once: true })
      );
      proxy.refuse(true);
      proxy.cut();
      await until(() => !c.connected, "the connection is lost");
      const waiting = c.publish(u, "x", false, 0);
      waiting.catch(() => {});
      proxy.refuse(false);
      await back;
      await until(() => proxy.bytes.dropped > 0, "the SUBSCRIBE is lost");
      return { waiting };
    };
    let closing: Promise<void> | undefined;
    try {
      const { waiting: first } = await resubscribing(one.c);
      closing = one.c.disconnect();
      await withTimeout(closing, 2000, "disconnect() during the resubscribe");
      await withTimeout(assert.rejects(first, /disconnect\(\) was called/), 2000, "a publish");

      proxy.blackhole(false);
      const { waiting: second } = await resubscribing(two.c);
      ac.abort(new Error("shutting down"));
      await withTimeout(assert.rejects(second, /shutting down/), 2000, "a publish after the abort");
    } finally {
      proxy.blackhole(false);
      proxy.cut();
      await closing;
      for (const c of [one.c, two.c]) {
        await endSession(c);
      }
      await proxy.close();
    }
  },
  BOTH,
);

forEachBroker(
  "an application connect() and the reconnect loop wait for each other, and nothing is rejected",
  async (broker, v) => {
    const proxy = await proxyTo(broker);
    const { c } = robust(proxy, v, { reconnectMaxDelay: 50 });
    const u = uniqueId("both");
    try {
      await c.connect(false);
      await c.subscribe(uniqueId("keep"), 1); // aedes keeps a session only with a subscription
      // A QoS 1 publish written into the void: kept for the DUP=1 resend.
      proxy.blackhole(true);
      const kept = c.publish(u, "kept", false, 1);
      await until(() => proxy.bytes.dropped > 0, "the PUBLISH is lost");
      proxy.refuse(true);
      proxy.cut();
      await new Promise((r) => c.addEventListener("reconnecting", r, { once: true }));
      proxy.blackhole(false);
      // The application connects itself over a slow network; the loop's next
      // attempt (at most 50 ms away) comes while that connect is under way.
      proxy.refuse(false);
      proxy.delay(150);
      const mine = c.connect(false);
      mine.catch(() => {}); // awaited below
      await withTimeout(kept, 5000, "the kept publish");
      assert.equal(await mine, true, "the application's connect() resumed the session");

      // The other way round: the loop's connect is under way when the application's comes.
      const accepted = proxy.accepted;
      proxy.cut();
      await until(() => proxy.accepted > accepted, "the loop is connecting");
      assert.equal(c.connected, false);
      assert.equal(await c.connect(false), true, "resolves once the loop has reconnected");
      assert.equal(c.connected, true);
      await withTimeout(c.publish(u, "after", false, 1), 5000, "a publish");

      // A publish while the application's connect() is under way: the loop it
      // starts waits for that connect instead of failing on it.
      await c.disconnect();
      const again = c.connect(false);
      again.catch(() => {}); // awaited below
      await withTimeout(c.publish(u, "during", false, 1), 5000, "a publish during connect()");
      assert.equal(await again, true);
    } finally {
      proxy.delay(0);
      await endSession(c);
      await proxy.close();
    }
  },
  BOTH,
);

forEachBroker("messages() ends when disconnect() comes during an outage", async (broker, v) => {
  const proxy = await proxyTo(broker);
  const { c } = robust(proxy, v);
  const u = uniqueId("iter");
  const pub = new Simple(uniqueId("p"), broker.host, { port: broker.port, protocolVersion: v });
  await pub.connect();
  try {
    await c.connect(false);
    await c.subscribe(u, 1);
    const got: string[] = [];
    const loop = (async () => {
      for await (const m of c.messages()) got.push(text(m.payload));
      return "ended";
    })();
    loop.catch(() => {}); // awaited below
    await pub.publish(u, "before", false, 1);
    await until(() => got.length === 1, "a message");
    proxy.refuse(true);
    proxy.cut();
    await until(() => !c.connected, "the connection is lost");
    await sleep(50); // the iteration now waits for the reconnect
    await c.disconnect();
    assert.equal(await withTimeout(loop, 2000, "the iteration"), "ended");
    assert.deepEqual(got, ["before"]);
  } finally {
    await endSession(c);
    await pub.disconnect();
    await proxy.close();
  }
}, BOTH);

forEachBroker(
  "only publishes count against the offline limits, not wait_msg or subscribe",
  async (broker, v) => {
    const proxy = await proxyTo(broker);
    const { c } = robust(proxy, v, { maxOfflineMessages: 1, whenOfflineFull: "reject" });
    const u = uniqueId("slot");
    try {
      await c.connect(false);
      const reader = c.wait_msg(); // the application's receive loop
      reader.catch(() => {}); // awaited below
      proxy.refuse(true);
      proxy.cut();
      await until(() => !c.connected, "the connection is lost");
      await sleep(50); // wait_msg now waits for the reconnect
      const subscribing = c.subscribe(uniqueId("other"), 1); // not what it publishes
      subscribing.catch(() => {}); // awaited below
      const first = c.publish(u, "1", false, 1);
      first.catch(() => {}); // awaited below
      await assert.rejects(c.publish(u, "2", false, 1), /Offline queue full: 1 messages/);
      proxy.refuse(false);
      await withTimeout(first, 5000, "the publish that waited");
      assert.equal(await withTimeout(subscribing, 5000, "the subscribe"), 1);
      await c.disconnect();
      await assert.rejects(reader, MQTTConnectionError);
    } finally {
      await endSession(c);
      await proxy.close();
    }
  },
  BOTH,
);

// README "Staying connected": a service started before its broker. connect() is one attempt and
// rejects at once, as umqtt.robust's; reconnect(), or a call such as publish, waits for the
// broker with the backoff.
forEachBroker(
  "broker down at start: connect() rejects, reconnect() and publish() wait for it",
  async (broker, v) => {
    const proxy = await proxyTo(broker);
    proxy.refuse(true);
    const { c, attempts } = robust(proxy, v);
    try {
      await assert.rejects(c.connect(false), MQTTConnectionError);
      assert.equal(attempts.length, 0, "connect() itself does not retry");
      const topic = uniqueId("startdown");
      const published = c.publish(topic, "first", false, 1);
      const connected = c.reconnect();
      await until(() => attempts.length >= 2, "the reconnect retries while the broker is away");
      proxy.refuse(false);
      assert.equal(typeof await connected, "boolean");
      await published;
      assert.equal(c.connected, true);
    } finally {
      await endSession(c);
      await proxy.close();
    }
  },
  BOTH,
);
