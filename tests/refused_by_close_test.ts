// MQTT 3.1.1: a broker cannot say which packet it refuses; it closes the
// connection (mosquitto's max_packet_size on a too large PUBLISH or
// SUBSCRIBE, AWS IoT on a publish its policy denies). A kept publish is
// resent first on every connection, and a robust subscribe() retried after
// each reconnect, so each new connection was closed the same way, for ever:
// the call never settled and nothing else went out. A packet the broker
// closed the connection on, as the oldest unacknowledged one, on 3
// connections in a row is given up: its call rejects with a RangeError
// naming it, it leaves the session, the next `connected` event's `dropped`
// names it, and the client carries on.
import assert from "node:assert/strict";
import { MQTTClient, MQTTConnectionError, type SessionStore } from "../mod.ts";
import { MQTTClient as RobustClient } from "../lib/robust.ts";
import type { Packet } from "../lib/codec/mod.ts";
import { type Broker, startMosquitto } from "./_brokers.ts";
import { acceptConnect, type Peer, roundTrip, withHostileBroker } from "./_hostile_broker.ts";
import { test, uniqueId, until } from "./_test.ts";

const OPTS = { mosquitto: true, timeout: 30_000 };
const LIMIT = ["max_packet_size 2048"];
const REFUSED_PUBLISH =
  /^Broker closed the connection each of the 3 times PUBLISH \d+ \(4\d{3} bytes\) was sent: it refuses it \(over its maximum packet size, or not authorized\?\)$/;

type Detail = { sessionPresent: boolean; dropped?: Error[] };

/** A subscriber to `topic`/# on `broker`, and the topics of what it received. */
async function subscriber(broker: Broker, topic: string) {
  const sub = new MQTTClient(uniqueId("s"), broker.url);
  const got: string[] = [];
  sub.set_callback((t) => void got.push(t));
  await sub.connect();
  await sub.subscribe(`${topic}/#`, 1);
  let stop = false;
  const loop = (async () => {
    while (!stop) await sub.wait_msg().catch(() => (stop = true));
  })();
  return {
    got,
    async close() {
      stop = true;
      await sub.disconnect();
      await loop;
    },
  };
}

/**
 * Runs `fn` with a robust client connected with a session to a mosquitto
 * with LIMIT (its `broker`), counting in `lost()` its connections lost and in
 * `details` its `connected` events'; disconnects it and ends its session.
 */
async function withRobust(
  fn: (
    c: RobustClient,
    t: { broker: Broker; lost: () => number; details: Detail[] },
  ) => Promise<void>,
): Promise<void> {
  const broker = await startMosquitto({ extraConfig: LIMIT });
  const c = new RobustClient(uniqueId("r"), broker.host, { port: broker.port });
  c.DELAY = 0.01;
  const details: Detail[] = [];
  let lost = 0;
  c.addEventListener("connected", (e) => details.push((e as CustomEvent).detail));
  c.addEventListener("disconnected", () => lost++);
  try {
    await c.connect(false);
    await fn(c, { broker, lost: () => lost, details });
  } finally {
    await c.disconnect();
    await c.connect(true).then(() => c.disconnect(), () => {});
    await broker.stop();
  }
}

test(
  "robust: a QoS 1 publish over mosquitto's max_packet_size rejects after 3 closed connections; later publishes go",
  () =>
    withRobust(async (c, { broker, lost, details }) => {
      const topic = uniqueId("refused");
      const sub = await subscriber(broker, topic);
      try {
        const big = c.publish(`${topic}/big`, new Uint8Array(4096), false, 1);
        const small = c.publish(`${topic}/small`, "after", false, 1);
        const e = await big.then(() => assert.fail("resolved"), (e) => e);
        assert.ok(e instanceof RangeError, String(e));
        assert.match(e.message, REFUSED_PUBLISH);
        assert.ok(e.cause instanceof MQTTConnectionError, String(e.cause));
        assert.equal(lost(), 3); // the first send, and the two resends
        await small;
        // The connection after the last refusal lists it as dropped, and lives on.
        await until(() => details.length === 4, "a fourth connection");
        assert.deepEqual(details[3].dropped?.map((d) => d.message), [e.message]);
        assert.equal(details.slice(0, 3).some((d) => d.dropped), false);
        await c.publish(`${topic}/later`, "later", false, 1);
        await until(() => sub.got.length === 2, "both small messages");
        assert.deepEqual(sub.got, [`${topic}/small`, `${topic}/later`]);
        assert.equal(lost(), 3);
      } finally {
        await sub.close();
      }
    }),
  OPTS,
);

test(
  "robust: a subscribe() over mosquitto's max_packet_size rejects after 3 closed connections; then the client subscribes",
  () =>
    withRobust(async (c, { lost }) => {
      const topic = uniqueId("refused");
      const filters = Array.from({ length: 30 }, (_, i) => `${topic}/${"f".repeat(80)}/${i}`);
      const e = await c.subscribe(filters.map((t) => [t, 1] as const)).then(
        () => assert.fail("resolved"),
        (e) => e,
      );
      assert.ok(e instanceof RangeError, String(e));
      assert.match(
        e.message,
        /^Broker closed the connection each of the 3 times SUBSCRIBE \(\d{4} bytes\) was sent: it refuses it/,
      );
      assert.equal(lost(), 3);
      assert.equal(await c.subscribe(`${topic}/small`, 1), 1);
      await c.publish(`${topic}/small`, "x", false, 1);
      const m = await c.wait_msg();
      assert.equal(m?.topic, `${topic}/small`);
      assert.equal(lost(), 3);
    }),
  OPTS,
);

test(
  "robust: an unsubscribe() over mosquitto's max_packet_size rejects after 3 reset connections",
  () =>
    withRobust(async (c, { lost }) => {
      const topic = uniqueId("refused");
      const filters = Array.from({ length: 30 }, (_, i) => `${topic}/${"f".repeat(80)}/${i}`);
      const e = await c.unsubscribe(filters).then(() => assert.fail("resolved"), (e) => e);
      assert.ok(e instanceof RangeError, String(e));
      assert.match(
        e.message,
        /^Broker closed the connection each of the 3 times UNSUBSCRIBE \(\d{4} bytes\) was sent: /,
      );
      assert.equal(lost(), 3);
      await c.unsubscribe(filters.slice(0, 2));
      assert.equal(lost(), 3);
    }),
  OPTS,
);

test(
  "simple client: a kept publish mosquitto closes 3 connect(false)s on leaves the session, named in the 4th's dropped",
  async () => {
    const broker = await startMosquitto({ extraConfig: LIMIT });
    const topic = uniqueId("refused");
    const sub = await subscriber(broker, topic);
    const store: SessionStore = { outgoing: new Map(), incoming: new Set() };
    const c = new MQTTClient(uniqueId("c"), broker.url, { sessionStore: store });
    const details: Detail[] = [];
    const lost: Error[] = [];
    c.addEventListener("connected", (e) => details.push((e as CustomEvent).detail));
    c.addEventListener("disconnected", (e) => lost.push((e as CustomEvent).detail.error));
    try {
      await c.connect(false);
      // The simple client rejects it when the connection ends; the session keeps it.
      await assert.rejects(
        c.publish(`${topic}/big`, new Uint8Array(4096), false, 1),
        MQTTConnectionError,
      );
      assert.equal(store.outgoing.size, 1);
      for (let i = 2; i <= 3; i++) {
        await c.connect(false); // resends it: closed again
        await until(() => lost.length === i, `connection ${i} closed`);
      }
      assert.equal(store.outgoing.size, 0);
      await c.connect(false);
      assert.equal(details.length, 4);
      assert.equal(details[3].dropped?.length, 1);
      assert.match(details[3].dropped![0].message, REFUSED_PUBLISH);
      assert.equal(details.slice(0, 3).some((d) => d.dropped), false);
      await c.publish(`${topic}/small`, "after", false, 1);
      await until(() => sub.got.length === 1, "the small message");
      assert.equal(lost.length, 3);
    } finally {
      await c.disconnect();
      await c.connect(true).then(() => c.disconnect(), () => {});
      await sub.close();
      await broker.stop();
    }
  },
  OPTS,
);

/**
 * A scripted broker that, on connection `i`, as `when(i)` says: resets it ("close") or ends it
 * ("end") right after a PUBLISH to `topic`; ends it before its CONNACK ("noConnack"); or
 * acknowledges every QoS 1 PUBLISH and answers PINGREQs ("ack").
 */
function closesOn(
  topic: string,
  when: (connection: number) => "close" | "end" | "ack" | "noConnack",
) {
  let n = 0;
  return async (peer: Peer) => {
    const i = ++n, how = when(i);
    if (how === "noConnack") {
      await peer.expect("connect");
      return peer.end();
    }
    await acceptConnect(peer);
    for (;;) {
      const p: Packet = await peer.next().catch(() => ({ type: "disconnect" }) as Packet);
      if (p.type === "disconnect") return;
      if (p.type === "publish" && p.topic === topic && how === "close") return peer.reset();
      if (p.type === "publish" && p.topic === topic && how === "end") return peer.end();
      if (p.type === "publish" && p.qos === 1) {
        await peer.write({ type: "puback", packetId: p.packetId! });
      } else if (p.type === "pingreq") await peer.write(Uint8Array.of(0xd0, 0));
    }
  };
}

test("scripted broker: closing right after one PUBLISH 3 times in a row gives it up", async () => {
  await withHostileBroker(closesOn("poison", (i) => i <= 3 ? "close" : "ack"), async (broker) => {
    const c = new RobustClient(uniqueId("r"), broker.host, { port: broker.port });
    c.DELAY = 0.01;
    try {
      await c.connect(false);
      const e = await c.publish("poison", "x", false, 1).then(() => "resolved", (e) => e);
      assert.ok(e instanceof RangeError, String(e));
      assert.match(e.message, /^Broker closed the connection each of the 3 times PUBLISH 1 \(/);
      await c.publish("fine", "y", false, 1);
      assert.equal(broker.peers.length, 4);
    } finally {
      await c.disconnect();
    }
  });
});

test("scripted broker: a connection ended before its CONNACK starts the count again", async () => {
  // Closed on the PUBLISH twice, then a connection without CONNACK, then twice more: never
  // three times in a row, so the publish goes on the sixth connection and resolves.
  const plan = ["close", "close", "noConnack", "close", "close", "ack"] as const;
  await withHostileBroker(closesOn("poison", (i) => plan[i - 1] ?? "ack"), async (broker) => {
    const c = new RobustClient(uniqueId("r"), broker.host, { port: broker.port });
    c.DELAY = 0.01;
    try {
      await c.connect(false);
      await c.publish("poison", "x", false, 1);
      assert.equal(broker.peers.length, 6);
    } finally {
      await c.disconnect();
    }
  });
});

test("scripted broker: a connection ended (not reset) after the PUBLISH is not taken as refused", async () => {
  // An end of stream is what a cut network shows too: the publish is kept and resent until the
  // sixth connection acknowledges it.
  await withHostileBroker(closesOn("poison", (i) => i <= 5 ? "end" : "ack"), async (broker) => {
    const c = new RobustClient(uniqueId("r"), broker.host, { port: broker.port });
    c.DELAY = 0.01;
    try {
      await c.connect(false);
      await c.publish("poison", "x", false, 1);
      assert.equal(broker.peers.length, 6);
    } finally {
      await c.disconnect();
    }
  });
});

test(
  "scripted broker: closed after acknowledging a later publish, the oldest is not taken as refused",
  async () => {
    // Connections 1 to 4: PUBACK for the publish made on it, not for the oldest, then close. The
    // broker read past the oldest, so its close is no refusal of it: it is never given up.
    let n = 0;
    await withHostileBroker(async (peer) => {
      const i = ++n;
      await acceptConnect(peer);
      const oldest = await peer.expect("publish");
      assert.equal(oldest.topic, "one");
      if (i <= 4) {
        const later = await peer.expect("publish");
        await peer.write({ type: "puback", packetId: later.packetId! });
        await roundTrip(peer); // the client has read the PUBACK
        return peer.reset();
      }
      await peer.write({ type: "puback", packetId: oldest.packetId! });
      await peer.clientClosed;
    }, async (broker) => {
      const c = new RobustClient(uniqueId("r"), broker.host, { port: broker.port });
      c.DELAY = 0.01;
      let later = 0;
      const laters: Promise<void>[] = [];
      try {
        await c.connect(false);
        const one = c.publish("one", "x", false, 1);
        // Then one publish on each connection, after the session's resend.
        const another = () => later < 4 && laters.push(c.publish(`two/${later++}`, "y", false, 1));
        another();
        c.addEventListener("connected", another);
        await one;
        await Promise.all(laters);
        assert.equal(broker.peers.length, 5);
      } finally {
        await c.disconnect();
      }
    });
  },
  { timeout: 20_000 },
);
