// The client against real brokers over real sockets: the same test bodies
// for every broker the harness finds. Each test uses fresh client ids and
// topics, so tests never see each other's messages.
import assert from "node:assert/strict";
import { type AddressInfo, createServer, type Server, type Socket } from "node:net";
import {
  type Message,
  MQTTClient,
  type MQTTClientOptions,
  MQTTConnectionError,
  MQTTException,
} from "../mod.ts";
import { type Broker, brokerKinds, forEachBroker, startMosquitto } from "./_brokers.ts";
import type { ProtocolVersion } from "../lib/codec/packet.ts";
import { acceptConnect, withHostileBroker } from "./_hostile_broker.ts";
import { Tap } from "./_tap.ts";
import { test, uniqueId, withTimeout } from "./_test.ts";
import { socketStreams } from "../lib/transports/node.ts";
import { connect as netConnect } from "node:net";

const text = (b: Uint8Array) => new TextDecoder().decode(b);
const hasMosquitto = brokerKinds().includes("mosquitto");

// The tests that hold for either MQTT version run at both (MQTT 5 on mosquitto only).
const BOTH = { versions: [4, 5] } as const;

/** A connected client speaking MQTT `protocolVersion`. */
async function client(
  broker: Broker,
  protocolVersion: ProtocolVersion,
  options: MQTTClientOptions = {},
  clean = true,
  id = uniqueId("c"),
): Promise<MQTTClient> {
  const c = new MQTTClient(id, broker.host, { port: broker.port, protocolVersion, ...options });
  await c.connect(clean);
  return c;
}

/** Waits until `f()` is true, polling; fails after `tries` attempts. */
async function until(f: () => boolean | Promise<boolean>, what: string, tries = 200) {
  for (let i = 0; i < tries; i++) {
    if (await f()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`Timed out waiting until ${what}`);
}

forEachBroker("connect reports session present: clean, then persistent", async (broker, v) => {
  const id = uniqueId("sp");
  const c = new MQTTClient(id, broker.host, { port: broker.port, protocolVersion: v });
  assert.equal(c.connected, false);
  assert.equal(await c.connect(true), false);
  assert.equal(c.connected, true);
  await c.disconnect();
  assert.equal(c.connected, false);
  assert.equal(await c.connect(false), false, "no stored session after a clean one");
  await c.subscribe(`${id}/t`, 1); // something for the session to hold
  await c.disconnect();
  assert.equal(await c.connect({ clean_session: false }), true, "the stored session is resumed");
  await c.disconnect();
  assert.equal(await c.connect(true), false, "a clean session discards it");
  await c.disconnect();
}, BOTH);

forEachBroker(
  "QoS 0 and 1 carry exact payload bytes: empty, binary, 256 KiB",
  async (broker, v) => {
    const topic = uniqueId("payload");
    const sub = await client(broker, v);
    const pub = await client(broker, v);
    try {
      await sub.subscribe(`${topic}/#`, 1);
      const binary = Uint8Array.from({ length: 256 }, (_, i) => i);
      const big = new Uint8Array(256 * 1024);
      crypto.getRandomValues(big.subarray(0, 65536));
      big.set(big.subarray(0, 65536), 65536 * 3);
      const cases: [string, Uint8Array | string, 0 | 1][] = [
        ["empty0", new Uint8Array(0), 0],
        ["empty1", "", 1],
        ["binary0", binary, 0],
        ["binary1", binary, 1],
        ["big0", big, 0],
        ["big1", big, 1],
        ["text1", "héllo ✓", 1],
      ];
      for (const [name, payload, qos] of cases) {
        await pub.publish(`${topic}/${name}`, payload, false, qos);
        const msg = await sub.wait_msg();
        assert.equal(msg.topic, `${topic}/${name}`);
        assert.equal(msg.qos, qos);
        assert.equal(msg.retain, false);
        assert.equal(msg.dup, false);
        const expected = typeof payload === "string" ? new TextEncoder().encode(payload) : payload;
        assert.deepEqual(msg.payload, expected, name);
      }
    } finally {
      await sub.disconnect();
      await pub.disconnect();
    }
  },
  BOTH,
);

forEachBroker("retained messages reach later subscribers until cleared", async (broker, v) => {
  const topic = uniqueId("retain");
  const pub = await client(broker, v);
  await pub.publish(topic, "kept", true, 1);
  const sub1 = await client(broker, v);
  await sub1.subscribe(topic, 1);
  const m = await sub1.wait_msg();
  assert.deepEqual({ ...m, payload: text(m.payload) }, {
    topic,
    payload: "kept",
    qos: 1,
    retain: true,
    dup: false,
    // MQTT 5: every message has properties, none here.
    ...(v === 5 ? { properties: {} } : {}),
  });
  // A live message on a retained topic arrives with retain=false (MQTT-3.3.1-9).
  await pub.publish(topic, "live", { retain: true, qos: 1 });
  const live = await sub1.wait_msg();
  assert.equal(text(live.payload), "live");
  assert.equal(live.retain, false);
  // An empty retained message clears the topic (MQTT-3.3.1-10).
  await pub.publish(topic, new Uint8Array(0), true, 1);
  assert.equal((await sub1.wait_msg()).payload.length, 0);
  const sub2 = await client(broker, v);
  await sub2.subscribe([[topic, 1], [`${topic}/marker`, 1]]);
  await pub.publish(`${topic}/marker`, "marker", false, 1);
  const first = await sub2.wait_msg();
  assert.equal(first.topic, `${topic}/marker`, "nothing retained is left before the marker");
  for (const c of [pub, sub1, sub2]) await c.disconnect();
}, BOTH);

forEachBroker(
  "the will is published on abrupt close, not after disconnect()",
  async (broker, v) => {
    const topic = uniqueId("will");
    const watcher = await client(broker, v);
    await watcher.subscribe(`${topic}/#`, 1);

    const tap = new Tap(broker.host, broker.port);
    const dying = new MQTTClient(uniqueId("w"), broker.host, {
      transport: tap.transport,
      protocolVersion: v,
    });
    dying.set_last_will(`${topic}/gone`, "abrupt", false, 1);
    await dying.connect();
    tap.conns[0].cut();
    const will = await watcher.wait_msg();
    assert.equal(will.topic, `${topic}/gone`);
    assert.equal(text(will.payload), "abrupt");
    await assert.rejects(dying.ping(), MQTTConnectionError);

    const polite = new MQTTClient(uniqueId("w"), broker.host, {
      port: broker.port,
      protocolVersion: v,
    });
    polite.setLastWill(`${topic}/gone`, "should not appear", { qos: 1 });
    await polite.connect();
    await polite.disconnect();
    // Give a will a chance to be (wrongly) published before the marker.
    await new Promise((r) => setTimeout(r, 200));
    await watcher.publish(`${topic}/marker`, "marker", false, 1);
    assert.equal((await watcher.wait_msg()).topic, `${topic}/marker`);
    await watcher.disconnect();
  },
  BOTH,
);

forEachBroker(
  "wildcards + and # match, and do not match $-topics at the first level",
  async (broker, v) => {
    const u = uniqueId("wc");
    const c = await client(broker, v);
    await c.subscribe([[`${u}/+/c`, 0], [`${u}/x/#`, 0]]);
    for (const t of [`${u}/a/c`, `${u}/a/b/c`, `${u}/x`, `${u}/x/y/z`, `${u}/b/c`]) {
      await c.publish(t, t, false, 1);
    }
    const got = [];
    for (let i = 0; i < 4; i++) got.push((await c.wait_msg()).topic);
    assert.deepEqual(got, [`${u}/a/c`, `${u}/x`, `${u}/x/y/z`, `${u}/b/c`]);

    const wild = await client(broker, v);
    const exact = await client(broker, v);
    await wild.subscribe(`+/${u}`, 0);
    await exact.subscribe(`$${u}/${u}`, 0);
    await c.publish(`$${u}/${u}`, "dollar", false, 1);
    await c.publish(`n/${u}`, "plain", false, 1);
    assert.equal(text((await exact.wait_msg()).payload), "dollar");
    assert.equal(text((await wild.wait_msg()).payload), "plain", "+ must not match a $-topic");
    for (const x of [c, wild, exact]) await x.disconnect();
  },
  BOTH,
);

forEachBroker("unsubscribe stops delivery", async (broker, v) => {
  const u = uniqueId("unsub");
  const c = await client(broker, v);
  await c.subscribe(`${u}/a`, 1);
  await c.subscribe(`${u}/b`, 1);
  await c.unsubscribe([`${u}/a`]);
  await c.publish(`${u}/a`, "dropped", false, 1);
  await c.publish(`${u}/b`, "kept", false, 1);
  assert.equal((await c.wait_msg()).topic, `${u}/b`);
  await c.unsubscribe(`${u}/b`);
  await c.disconnect();
}, BOTH);

forEachBroker(
  "a wait_msg() already waiting runs the callback set since, as umqtt.simple reads self.cb per message",
  async (broker, v) => {
    const u = uniqueId("late-cb");
    const c = await client(broker, v);
    await c.subscribe(u, 1);
    const seen: string[] = [];
    // Set after the call, before its message: before, the call ran none and acknowledged it.
    const first = c.wait_msg();
    c.set_callback((_t, msg) => void seen.push(`set ${text(msg)}`));
    await c.publish(u, "one", false, 1);
    await first;
    // Replaced while a call waits: the replacement runs, not the one it replaced.
    const second = c.wait_msg();
    c.setCallback((_t, msg) => void seen.push(`replaced ${text(msg)}`));
    await c.publish(u, "two", false, 1);
    await second;
    assert.deepEqual(seen, ["set one", "replaced two"]);
    await c.disconnect();
  },
  BOTH,
);

forEachBroker(
  "check_msg returns undefined when nothing is queued, else one message",
  async (broker, v) => {
    const u = uniqueId("check");
    const c = await client(broker, v);
    const seen: string[] = [];
    c.set_callback((topic) => {
      seen.push(topic);
    });
    assert.equal(await c.check_msg(), undefined);
    await c.subscribe(u, 1);
    await c.publish(u, "one", false, 1);
    let msg: Message | undefined;
    await until(
      async () => (msg = await c.checkMsg()) !== undefined,
      "check_msg returns the message",
    );
    assert.equal(text(msg!.payload), "one");
    assert.deepEqual(seen, [u], "the callback ran once for it");
    assert.equal(await c.check_msg(), undefined);
    await c.disconnect();
  },
  BOTH,
);

forEachBroker(
  "1000 QoS 1 publishes in flight are all acked and delivered in order",
  async (broker, v) => {
    const u = uniqueId("flight");
    const sub = await client(broker, v);
    const pub = await client(broker, v);
    await sub.subscribe(u, 1);
    await Promise.all(Array.from({ length: 1000 }, (_, i) => pub.publish(u, String(i), false, 1)));
    for (let i = 0; i < 1000; i++) {
      assert.equal(text((await sub.wait_msg()).payload), String(i));
    }
    await sub.disconnect();
    await pub.disconnect();
  },
  BOTH,
);

forEachBroker("packets go out in the order of the calls, whatever their QoS", async (broker, v) => {
  const tap = new Tap(broker.host, broker.port);
  const c = new MQTTClient(uniqueId("order"), broker.host, {
    transport: tap.transport,
    protocolVersion: v,
  });
  await c.connect();
  const topic = uniqueId("order");
  // One turn: QoS 1 and 2 take a packet id, QoS 0 and a subscribe do not wait for one either.
  await Promise.all([
    c.publish(topic, "a", false, 0),
    c.publish(topic, "b", false, 1),
    c.subscribe(topic, 1),
    c.publish(topic, "c", false, 2),
    c.publish(topic, "d", false, 0),
  ]);
  const sent = tap.conns[0].written
    .filter((p) => p.type === "publish" || p.type === "subscribe")
    .map((p) => p.type === "publish" ? text(p.payload) : "subscribe");
  assert.deepEqual(sent, ["a", "b", "subscribe", "c", "d"]);
  await c.disconnect();
}, BOTH);

forEachBroker("packet ids wrap after 65535 and skip none", async (broker, v) => {
  const tap = new Tap(broker.host, broker.port);
  const c = new MQTTClient(uniqueId("wrap"), broker.host, {
    transport: tap.transport,
    protocolVersion: v,
  });
  await c.connect();
  const topic = uniqueId("wrap");
  const total = 65535 + 500;
  for (let sent = 0; sent < total; sent += 5000) {
    const n = Math.min(5000, total - sent);
    await Promise.all(Array.from({ length: n }, () => c.publish(topic, "x", false, 1)));
  }
  const ids = tap.publishes(0).map((p) => p.packetId);
  assert.equal(ids.length, total);
  assert.equal(ids[0], 1);
  assert.equal(ids[65534], 65535);
  assert.equal(ids[65535], 1, "after 65535 comes 1, never 0");
  assert.equal(ids[total - 1], 500);
  await c.disconnect();
}, BOTH);

forEachBroker(
  "an unacked QoS 1 publish is resent with DUP=1 by connect(false)",
  async (broker, v) => {
    const u = uniqueId("resend");
    const sub = await client(broker, v, {}, true);
    await sub.subscribe(u, 1);
    const tap = new Tap(broker.host, broker.port);
    const c = new MQTTClient(uniqueId("r"), broker.host, {
      transport: tap.transport,
      protocolVersion: v,
    });
    await c.connect(false);
    await c.subscribe(`${u}/session`, 1); // gives every broker a session to keep
    await c.publish(u, "before", false, 1);
    tap.swallow = true; // the network loses what follows
    const lost = [c.publish(u, "lost-1", false, 1), c.publish(u, "lost-2", false, 1)];
    await until(() => tap.publishes(0).length === 3, "both publishes are written");
    tap.conns[0].cut();
    for (const p of lost) await assert.rejects(p, MQTTConnectionError);
    assert.equal(c.connected, false);
    tap.swallow = false;
    assert.equal(await c.connect(false), true);
    await c.publish(u, "after", false, 1);

    const [, first, second] = tap.publishes(0);
    const resent = tap.publishes(1);
    assert.deepEqual(
      resent.map((p) => [p.packetId, p.dup, text(p.payload)]),
      [[first.packetId, true, "lost-1"], [second.packetId, true, "lost-2"], [
        resent[2].packetId,
        false,
        "after",
      ]],
      "resent with their ids and DUP=1, in order, before new messages",
    );
    const got = [];
    for (let i = 0; i < 4; i++) got.push(text((await sub.wait_msg()).payload));
    assert.deepEqual(got, ["before", "lost-1", "lost-2", "after"]);
    await c.disconnect();
    await c.connect(true); // leave no session behind
    await c.disconnect();
    await sub.disconnect();
  },
  BOTH,
);

forEachBroker("a clean session drops unacked QoS 1 publishes", async (broker, v) => {
  const u = uniqueId("dropq");
  const tap = new Tap(broker.host, broker.port);
  const c = new MQTTClient(uniqueId("d"), broker.host, {
    transport: tap.transport,
    protocolVersion: v,
  });
  await c.connect(false);
  tap.swallow = true;
  const lost = c.publish(u, "lost", false, 1);
  await until(() => tap.publishes(0).length === 1, "the publish is written");
  tap.conns[0].cut();
  await assert.rejects(lost, MQTTConnectionError);
  tap.swallow = false;
  assert.equal(await c.connect(true), false);
  await c.ping();
  assert.equal(tap.publishes(1).length, 0);
  await c.disconnect();
}, BOTH);

forEachBroker(
  "QoS 0 messages past maxQueuedMessages are dropped oldest first and counted",
  async (broker, v) => {
    const u = uniqueId("drop");
    const sub = await client(broker, v, { maxQueuedMessages: 10 });
    const pub = await client(broker, v);
    await sub.subscribe(u, 1);
    for (let i = 0; i < 50; i++) await pub.publish(u, String(i), false, 0);
    await pub.publish(u, "marker", false, 1);
    await until(() => sub.droppedMessages === 40, "40 messages are dropped");
    const got = [];
    for (let i = 0; i < 11; i++) {
      let m: Message | undefined;
      await until(async () => (m = await sub.check_msg()) !== undefined, `message ${i} is queued`);
      got.push(text(m!.payload));
    }
    assert.deepEqual(got, [...Array.from({ length: 10 }, (_, i) => String(40 + i)), "marker"]);
    assert.equal(sub.droppedMessages, 40);
    await sub.disconnect();
    await pub.disconnect();
  },
  BOTH,
);

forEachBroker("concurrent wait_msg calls are served in call order", async (broker, v) => {
  const u = uniqueId("order");
  const c = await client(broker, v);
  await c.subscribe(u, 0);
  const waits = [c.wait_msg(), c.waitMsg(), c.wait_msg()];
  for (const p of ["a", "b", "c"]) await c.publish(u, p, false, 1);
  assert.deepEqual((await Promise.all(waits)).map((m) => text(m.payload)), ["a", "b", "c"]);
  await c.disconnect();
}, BOTH);

forEachBroker("an async callback is awaited before the QoS 1 ack", async (broker, v) => {
  const u = uniqueId("cb");
  const tap = new Tap(broker.host, broker.port);
  const c = new MQTTClient(uniqueId("cb"), broker.host, {
    transport: tap.transport,
    protocolVersion: v,
  });
  await c.connect();
  await c.subscribe(u, 1);
  let acksAtCallback = -1;
  c.set_callback(async (topic, msg) => {
    await new Promise((r) => setTimeout(r, 20));
    acksAtCallback = tap.conns[0].written.filter((p) => p.type === "puback").length;
    assert.equal(topic, u);
    assert.equal(text(msg), "x");
  });
  await c.publish(u, "x", false, 1);
  await c.wait_msg();
  assert.equal(acksAtCallback, 0, "no PUBACK before the callback finished");
  await until(
    () => tap.conns[0].written.filter((p) => p.type === "puback").length === 1,
    "the PUBACK is written",
  );
  await c.disconnect();
}, BOTH);

forEachBroker("disconnect rejects a waiting wait_msg and pending calls", async (broker, v) => {
  const c = await client(broker, v);
  const waiting = assert.rejects(c.wait_msg(), MQTTConnectionError);
  await c.disconnect();
  await waiting;
  await assert.rejects(c.wait_msg(), MQTTConnectionError);
  await assert.rejects(c.check_msg(), MQTTConnectionError);
  await assert.rejects(c.publish("a", "b"), MQTTConnectionError);
  await c.disconnect(); // a second disconnect does nothing
}, BOTH);

forEachBroker(
  "messages queued before the connection is lost are still handed out",
  async (broker, v) => {
    const u = uniqueId("lost");
    const tap = new Tap(broker.host, broker.port);
    const c = new MQTTClient(uniqueId("l"), broker.host, {
      transport: tap.transport,
      protocolVersion: v,
    });
    await c.connect();
    await c.subscribe(u, 0);
    await c.publish(u, "1", false, 1);
    await c.publish(u, "2", false, 1);
    // Both messages have reached the client once the tap has seen them and a
    // PING round trip, which travels behind them, has completed.
    await until(
      () => tap.conns[0].read.filter((p) => p.type === "publish").length === 2,
      "both messages are read",
    );
    await c.ping();
    tap.conns[0].cut();
    await assert.rejects(c.ping(), MQTTConnectionError);
    assert.equal(c.connected, false);
    assert.equal(text((await c.check_msg())!.payload), "1");
    assert.equal(text((await c.wait_msg()).payload), "2");
    await assert.rejects(c.check_msg(), MQTTConnectionError);
    await assert.rejects(c.wait_msg(), MQTTConnectionError);
  },
  BOTH,
);

forEachBroker("subscribe reports each granted QoS", async (broker, v) => {
  const u = uniqueId("grant");
  const c = await client(broker, v);
  assert.equal(await c.subscribe(`${u}/0`), 0);
  assert.equal(await c.subscribe(`${u}/1`, { qos: 1 }), 1);
  assert.deepEqual(await c.subscribe([[`${u}/a`, 0], [`${u}/b`, 1]]), [0, 1]);
  await c.disconnect();
}, BOTH);

test("mosquitto: a wrong password is refused with CONNACK code 5", async () => {
  const broker = await startMosquitto({ passwordFile: [{ user: "alice", password: "s3cret" }] });
  try {
    const bad = new MQTTClient(uniqueId("pw"), broker.host, broker.port, "alice", "wrong");
    const e = await bad.connect().then(() => null, (e) => e);
    assert.ok(e instanceof MQTTException, `expected MQTTException, got ${e}`);
    assert.equal(e.code, 5);
    assert.match(e.message, /not authorized/);
    assert.doesNotMatch(e.message, /wrong/, "the password never appears in an error");
    assert.equal(bad.connected, false);
    const good = new MQTTClient(uniqueId("pw"), broker.host, {
      port: broker.port,
      user: "alice",
      password: "s3cret",
    });
    assert.equal(await good.connect(), false);
    await good.disconnect();
  } finally {
    await broker.stop();
  }
}, { ignore: !hasMosquitto });

test(
  "mosquitto: a refused subscription rejects with code 0x80; in a list it is returned",
  async () => {
    const broker = await startMosquitto({ denySubscribe: ["secret/topic"] });
    try {
      const c = new MQTTClient(uniqueId("deny"), broker.host, broker.port);
      await c.connect();
      const e = await c.subscribe("secret/topic", 1).then(() => null, (e) => e);
      assert.ok(e instanceof MQTTException, `expected MQTTException, got ${e}`);
      assert.equal(e.code, 0x80);
      assert.deepEqual(await c.subscribe([["open/topic", 1], ["secret/topic", 0]]), [1, 0x80]);
      await c.disconnect();
    } finally {
      await broker.stop();
    }
  },
  { ignore: !hasMosquitto },
);

/** A node:net listener on a free loopback port (node:net, so Bun runs these tests too). */
async function listen(onSocket: (socket: Socket) => void = () => {}): Promise<Server> {
  const server = createServer(onSocket);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return server;
}

const portOf = (server: Server) => (server.address() as AddressInfo).port;
const closed = (server: Server) => new Promise((resolve) => server.close(resolve));

test("connect times out with MQTTConnectionError when no CONNACK comes", async () => {
  // A TCP peer that accepts and then says nothing: not a broker, a silent one.
  const sockets: Socket[] = [];
  const server = await listen((socket) => sockets.push(socket));
  const c = new MQTTClient(uniqueId("to"), "127.0.0.1", {
    port: portOf(server),
    connectTimeout: 300,
  });
  const e = await c.connect().then(() => null, (e) => e);
  assert.ok(e instanceof MQTTConnectionError, `expected MQTTConnectionError, got ${e}`);
  assert.match(e.message, /no CONNACK within 300 ms/);
  assert.equal(c.connected, false);
  for (const socket of sockets) socket.destroy();
  await closed(server);
});

test("a QoS 0 publish whose write is stuck rejects with its signal's reason when it aborts", async () => {
  // A broker that answers CONNECT, then stops reading: 16 MiB cannot all go out.
  const sockets: Socket[] = [];
  const server = await listen((socket) => {
    sockets.push(socket);
    socket.once("data", () => {
      socket.write(Uint8Array.of(0x20, 2, 0, 0));
      socket.pause();
    });
  });
  const c = new MQTTClient(uniqueId("stuck"), "127.0.0.1", { port: portOf(server) });
  try {
    await c.connect();
    const stop = new AbortController();
    const publishing = c.publish("t", new Uint8Array(16 << 20), { signal: stop.signal });
    const outcome = publishing.then(() => "written", (e) => e);
    await new Promise((r) => setTimeout(r, 100));
    const reason = new Error("given up");
    stop.abort(reason);
    // Keepalive is off: without the signal, nothing would ever settle it.
    assert.equal(await withTimeout(outcome, 5000, "the aborted publish to settle"), reason);
  } finally {
    for (const socket of sockets) socket.destroy();
    await c.disconnect();
    await closed(server);
  }
});

test("connect to a closed port rejects with MQTTConnectionError and its cause", async () => {
  const server = await listen();
  const port = portOf(server);
  await closed(server);
  const c = new MQTTClient(uniqueId("cr"), `mqtt://127.0.0.1:${port}`);
  const e = await c.connect().then(() => null, (e) => e);
  assert.ok(e instanceof MQTTConnectionError, `expected MQTTConnectionError, got ${e}`);
  assert.ok(e.cause instanceof Error);
  assert.match(e.message, new RegExp(`127\\.0\\.0\\.1:${port}`));
});

forEachBroker(
  "leaving a messages() loop with break acknowledges the message it had",
  async (broker, v) => {
    const u = uniqueId("brk");
    const tap = new Tap(broker.host, broker.port);
    const c = new MQTTClient(uniqueId("it"), broker.host, {
      transport: tap.transport,
      protocolVersion: v,
    });
    await c.connect();
    await c.subscribe(u, 1);
    const pub = await client(broker, v);
    await pub.publish(u, "one", false, 1);
    for await (const msg of c.messages()) {
      assert.equal(text(msg.payload), "one");
      break;
    }
    await until(
      () => tap.conns[0].written.some((p) => p.type === "puback"),
      "the PUBACK is written after break",
    );
    await c.disconnect();
    await pub.disconnect();
  },
  BOTH,
);

test("nothing is written after DISCONNECT: a second disconnect() joins the first, a publish rejects", async () => {
  await withHostileBroker(async (peer) => {
    await acceptConnect(peer);
    await peer.clientClosed;
  }, async (broker) => {
    const c = new MQTTClient(uniqueId("dc"), broker.url);
    await c.connect();
    const first = c.disconnect();
    const late = c.publish("x/y", "late", false, 1).then(() => null, (e) => e);
    await Promise.all([first, c.disconnect()]);
    const e = await late;
    assert.ok(e instanceof MQTTConnectionError, `expected MQTTConnectionError, got ${e}`);
    assert.match(e.message, /disconnect\(\) was called/);
    await broker.peers[0].clientClosed;
    assert.deepEqual(broker.peers[0].received.map((p) => p.type), ["connect", "disconnect"]);
  });
});

test("PUBACKs go in the order their PUBLISHes came, though the handlers finish in reverse (MQTT-4.6.0-2)", async () => {
  await withHostileBroker(async (peer) => {
    await acceptConnect(peer);
    for (const [packetId, m] of [[1, "slow"], [2, "fast"]] as const) {
      await peer.write({
        type: "publish",
        topic: "t",
        payload: new TextEncoder().encode(m),
        qos: 1,
        retain: false,
        dup: false,
        packetId,
      });
    }
    assert.deepEqual([
      (await peer.expect("puback")).packetId,
      (await peer.expect("puback")).packetId,
    ], [1, 2]);
    await peer.clientClosed;
  }, async (broker) => {
    const c = new MQTTClient(uniqueId("order"), broker.url);
    let fastDone!: () => void;
    const fast = new Promise<void>((r) => fastDone = r);
    const handled: string[] = [];
    c.set_callback(async (_topic, msg) => {
      const m = text(msg);
      if (m === "slow") await fast; // finishes after "fast"
      handled.push(m);
      if (m === "fast") fastDone();
    });
    await c.connect();
    await Promise.all([c.wait_msg(), c.wait_msg()]);
    assert.deepEqual(handled, ["fast", "slow"]);
    await c.disconnect();
    await broker.peers[0].clientClosed;
  });
});

test("connect() right after a disconnect() not awaited: the old connection ends, a new one opens", async () => {
  await withHostileBroker(async (peer) => {
    await acceptConnect(peer);
    await peer.clientClosed;
  }, async (broker) => {
    const c = new MQTTClient(uniqueId("re"), broker.url);
    await c.connect();
    const disconnecting = c.disconnect();
    assert.equal(await c.connect(), false);
    await disconnecting;
    assert.equal(c.connected, true);
    await c.disconnect();
    assert.equal(broker.peers.length, 2);
    for (const peer of broker.peers) {
      await peer.clientClosed;
      assert.deepEqual(peer.received.map((p) => p.type), ["connect", "disconnect"]);
    }
  });
});

test("disconnect() resolves while a write is stuck on a broker that stopped reading", async () => {
  // Answers CONNECT, then reads nothing more: a large publish fills the socket buffers.
  const sockets: Socket[] = [];
  const server = await listen((socket) => {
    sockets.push(socket);
    socket.once("data", () => {
      socket.write(Uint8Array.of(0x20, 0x02, 0x00, 0x00));
      socket.pause();
    });
    socket.on("error", () => {});
  });
  const c = new MQTTClient(uniqueId("stuck"), "127.0.0.1", portOf(server));
  await c.connect();
  const big = c.publish("t", new Uint8Array(32 * 1024 * 1024)).then(() => null, (e) => e);
  await new Promise((r) => setTimeout(r, 300)); // the socket buffers fill
  await c.disconnect(); // bounded: the test's timeout fails it if it hangs
  assert.equal(c.connected, false);
  assert.ok((await big) instanceof MQTTConnectionError);
  for (const socket of sockets) socket.destroy();
  await closed(server);
}, { timeout: 15_000 });

test(
  "a reconnect's CONNECT goes out while the last connection's write is still stuck",
  async () => {
    const sockets: Socket[] = [];
    const stall = await listen((socket) => {
      sockets.push(socket);
      socket.once("data", () => {
        socket.write(Uint8Array.of(0x20, 0x02, 0x00, 0x00));
        socket.pause();
      });
      socket.on("error", () => {});
    });
    await withHostileBroker(async (peer) => {
      await acceptConnect(peer);
      await peer.clientClosed;
    }, async (healthy) => {
      let n = 0;
      const c = new MQTTClient(uniqueId("re"), "127.0.0.1", {
        keepalive: 1,
        connectTimeout: 5000,
        // node:net streams: closing them does not cancel a pending write.
        transport: () =>
          new Promise((resolve, reject) => {
            const port = n++ === 0 ? portOf(stall) : healthy.port;
            const s = netConnect({ host: "127.0.0.1", port }, () => resolve(socketStreams(s)));
            s.once("error", reject);
          }),
      });
      await c.connect();
      const lost = new Promise((r) => c.addEventListener("disconnected", r, { once: true }));
      const big = c.publish("t", new Uint8Array(32 * 1024 * 1024)).then(() => null, (e) => e);
      await lost; // keepalive: no PINGRESP behind the stuck write
      assert.equal(await c.connect(), false);
      await c.disconnect();
      assert.ok((await big) instanceof MQTTConnectionError);
    });
    for (const socket of sockets) socket.destroy();
    await closed(stall);
  },
  { timeout: 20_000 },
);

test("disconnect() while connect() opens its transport: connect() rejects, nothing stays open", async () => {
  await withHostileBroker(async (peer) => {
    await peer.clientClosed;
  }, async (broker) => {
    let opened: Promise<unknown> = Promise.resolve();
    const c = new MQTTClient(uniqueId("dco"), "127.0.0.1", {
      transport: () => {
        const pair = new Promise<ReturnType<typeof socketStreams>>((resolve, reject) => {
          const s = netConnect({ host: "127.0.0.1", port: broker.port }, () => {
            // Opens only after disconnect() was called.
            setTimeout(() => resolve(socketStreams(s)), 100);
          });
          s.once("error", reject);
        });
        opened = pair;
        return pair;
      },
    });
    const connecting = c.connect().then(() => null, (e) => e);
    await c.disconnect();
    const e = await connecting;
    assert.ok(e instanceof MQTTConnectionError, `expected MQTTConnectionError, got ${e}`);
    assert.match(e.message, /disconnect\(\) was called/);
    assert.equal(c.connected, false);
    await opened;
    // The connection that opened late is closed, without a CONNECT.
    await until(() => broker.peers.length === 1, "the late connection reaches the broker");
    assert.equal(await broker.peers[0].clientClosed, "eof");
    assert.deepEqual(broker.peers[0].received, []);
  });
});
