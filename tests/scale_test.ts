// Tens of thousands of things at once: publishes in flight, waiting for the
// broker's Receive Maximum, held back from a resent session, aborted while
// they wait. Each test asserts what must come out (every packet, in order,
// each call settled once), never how long it took. The work per packet used
// to grow with the queue: 60 000 PUBACKs in order took 0.57 s in the
// protocol state, 100 000 publishes waiting for a Receive Maximum of 20
// took 4 s to go and 8 s to abort; lib/_ordered.ts says why.
import assert from "node:assert/strict";
import { MQTTClient } from "../mod.ts";
import { MQTTClient as RobustClient } from "../lib/robust.ts";
import { MQTTConnectionError } from "../lib/errors.ts";
import { MemorySessionStore } from "../lib/session_store.ts";
import { RESET } from "../lib/_refusals.ts";
import { harness, request, type Tracked, V5 } from "./_protocol_harness.ts";
import { startMosquitto } from "./_brokers.ts";
import { offline, proxyTo } from "./_fault_proxy.ts";
import { test, uniqueId } from "./_test.ts";

const text = (b: Uint8Array) => new TextDecoder().decode(b);

/**
 * A mosquitto that queues without limit for a subscriber (1000 QoS 1 messages
 * by default), and a subscriber to a fresh topic at QoS 1.
 */
async function subscribed(name: string) {
  const broker = await startMosquitto({ extraConfig: ["max_queued_messages 0"] });
  const topic = uniqueId(name);
  const sub = new MQTTClient(uniqueId("sub"), broker.url);
  try {
    await sub.connect();
    await sub.subscribe(topic, 1);
  } catch (e) {
    await broker.stop();
    throw e;
  }
  return { broker, topic, sub };
}

/** The payloads, as text, of the next `count` messages `sub` receives. */
async function received(sub: MQTTClient, count: number): Promise<string[]> {
  const got: string[] = [];
  while (got.length < count) got.push(text((await sub.wait_msg()).payload));
  return got;
}

test("60 000 QoS 1 publishes acknowledged in order: the last one left is still the oldest, refused by close", () => {
  const h = harness();
  h.connect(false, false);
  const n = 60_000;
  const calls = Array.from({ length: n }, (_, i) => request(h.core, "puback", { payload: `${i}` }));
  assert.equal(h.sent().length, n);
  for (let id = 1; id < n; id++) h.core.handle({ type: "puback", packetId: id });
  assert.equal(calls.filter((t) => t.state === "resolved").length, n - 1);
  // The broker resets each connection while the last one, now the oldest, is unacknowledged:
  // taken for a refusal, it is given up the third time (lib/_refusals.ts).
  for (let i = 0; i < 3; i++) {
    const reset = new MQTTConnectionError("Connection lost: reset");
    RESET.add(reset);
    h.cut(true, reset);
    h.connect(false, true);
    assert.deepEqual(h.sent().map((p) => p.type === "publish" && p.packetId), i < 2 ? [n] : []);
  }
  const last = calls[n - 1];
  assert.equal(last.state, "rejected");
  assert.match(String(last.error), new RegExp(`PUBLISH ${n} .*refuses it`));
  assert.equal(h.store.outgoing.size, 0);
});

test("a session of 60 000 publishes resent to a Receive Maximum of 20: each PUBACK lets the next go, in order", () => {
  const store = new MemorySessionStore();
  const h = harness(store, V5);
  h.connect(false, false);
  const n = 60_000;
  const calls = Array.from({ length: n }, (_, i) => request(h.core, "puback", { payload: `${i}` }));
  h.sent();
  h.cut(true);
  h.connect(false, true, { receiveMaximum: 20 });
  const ids = (ps: ReturnType<typeof h.sent>) => ps.map((p) => p.type === "publish" && p.packetId);
  assert.deepEqual(ids(h.sent()), Array.from({ length: 20 }, (_, i) => i + 1));
  for (let id = 1; id <= n; id++) {
    h.core.handle({ type: "puback", packetId: id });
    assert.deepEqual(ids(h.sent()), id + 20 <= n ? [id + 20] : [], `after PUBACK ${id}`);
  }
  assert.ok(calls.every((t: Tracked) => t.state === "resolved" && t.settled === 1));
  assert.equal(store.outgoing.size, 0);
});

test(
  "MQTT 5: 30 000 publishes waiting for mosquitto's Receive Maximum of 20; those aborted meanwhile, and only those, are dropped; the rest arrive in order",
  async () => {
    const { broker, topic, sub } = await subscribed("scale");
    const pub = new MQTTClient(uniqueId("pub"), broker.url, { protocolVersion: 5 });
    try {
      await pub.connect();
      assert.equal(pub.connack!.properties.receiveMaximum, 20);
      const n = 30_000, aborter = new AbortController();
      const calls = Array.from({ length: n }, (_, i) =>
        pub.publish(topic, `${i}`, {
          qos: 1,
          // Every third one is given up; the first 20 are on the wire already.
          signal: i % 3 === 2 ? aborter.signal : undefined,
        }).then(() => "resolved", (e) => e === aborter.signal.reason ? "aborted" : `${e}`));
      aborter.abort(new Error("given up"));
      const outcomes = await Promise.all(calls);
      assert.deepEqual(outcomes, calls.map((_, i) => i % 3 === 2 ? "aborted" : "resolved"));
      const expected = Array.from({ length: n }, (_, i) => `${i}`)
        .filter((_, i) => i < 20 || i % 3 !== 2);
      assert.deepEqual(await received(sub, expected.length), expected);
      assert.equal(await sub.check_msg(), undefined, "nothing aborted arrived late");
    } finally {
      await pub.disconnect();
      await sub.disconnect();
      await broker.stop();
    }
  },
  { mosquitto: true, timeout: 60_000 },
);

test(
  "20 000 wait_msg() calls, each with its own signal: those aborted reject, and only those; the others get the messages in call order",
  async () => {
    const { broker, topic, sub } = await subscribed("waiters");
    const pub = new MQTTClient(uniqueId("pub"), broker.url);
    try {
      await pub.connect();
      const n = 20_000;
      const aborters = Array.from({ length: n }, () => new AbortController());
      const waits = aborters.map((a) =>
        sub.wait_msg({ signal: a.signal }).then((m) => text(m.payload), (e) => e)
      );
      // Every other one given up, the oldest first (as one deadline for all would).
      aborters.forEach((a, i) => i % 2 === 0 && a.abort(i));
      await Promise.all(
        Array.from({ length: n / 2 }, (_, i) => pub.publish(topic, `${i}`, false, 1)),
      );
      const outcomes = await Promise.all(waits);
      assert.deepEqual(outcomes, outcomes.map((_, i) => i % 2 === 0 ? i : `${(i - 1) / 2}`));
    } finally {
      await pub.disconnect();
      await sub.disconnect();
      await broker.stop();
    }
  },
  { mosquitto: true, timeout: 60_000 },
);

test(
  "robust: 20 000 publishes waiting offline for room, each with its own signal: those aborted reject, and only those; the others go in call order once back",
  async () => {
    const { broker, topic, sub } = await subscribed("offline");
    const proxy = await proxyTo(broker);
    const c = new RobustClient(uniqueId("rb"), proxy.hostname, {
      port: proxy.port,
      maxOfflineMessages: 10,
    });
    c.DELAY = 0.02;
    try {
      await c.connect();
      await offline(c, proxy);
      const n = 20_000;
      const aborters = Array.from({ length: n }, () => new AbortController());
      const calls = aborters.map((a, i) =>
        c.publish(topic, `${i}`, { qos: 1, signal: a.signal }).then(() => "sent", (e) => e)
      );
      // Every other one past the first 10 given up, the oldest first; then the connection is back.
      aborters.forEach((a, i) => i >= 10 && i % 2 === 0 && a.abort(i));
      proxy.refuse(false);
      const outcomes = await Promise.all(calls);
      const kept = (i: number) => i < 10 || i % 2 === 1;
      assert.deepEqual(outcomes, outcomes.map((_, i) => kept(i) ? "sent" : i));
      const expected = Array.from({ length: n }, (_, i) => `${i}`).filter((_, i) => kept(i));
      assert.deepEqual(await received(sub, expected.length), expected);
    } finally {
      await c.disconnect();
      await sub.disconnect();
      await proxy.close();
      await broker.stop();
    }
  },
  { mosquitto: true, timeout: 60_000 },
);
