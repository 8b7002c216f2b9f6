// Claims of README.md (from the top through "Staying connected" and "Errors")
// that no other test pins: each test names the README passage it holds to,
// against real brokers, or the scripted broker where a real one never does
// the thing.
import assert from "node:assert/strict";
import { MQTTClient, MQTTConnectionError, MQTTProtocolError } from "../mod.ts";
import { MQTTClient as RobustClient } from "../lib/robust.ts";
import { encode } from "../lib/codec/encode.ts";
import { forEachBroker, startMosquitto } from "./_brokers.ts";
import { acceptConnect, roundTrip, withHostileBroker } from "./_hostile_broker.ts";
import { at, cli, run } from "./_cli.ts";
import { test, uniqueId, withTimeout } from "./_test.ts";

const text = (b: Uint8Array) => new TextDecoder().decode(b);
const enc = new TextEncoder();

function client(
  broker: { host: string; port: number },
  v: 4 | 5,
  prefix: string,
  id = uniqueId(prefix),
) {
  return new MQTTClient(id, broker.host, { port: broker.port, protocolVersion: v });
}

// "Quick start": the first example, as written but for the broker's address.
forEachBroker("README quick start: the callback runs, wait_msg resolves with the message", async (
  broker,
  v,
) => {
  const home = uniqueId("home");
  const client = new MQTTClient(uniqueId("kitchen"), `mqtt://127.0.0.1:${broker.port}`, {
    protocolVersion: v,
  });
  const seen: string[] = [];
  client.set_callback((topic, msg) => {
    seen.push(`${topic} ${text(msg)}`);
  });
  assert.equal(await client.connect(), false);
  assert.equal(await client.subscribe(`${home}/#`, 1), 1);
  await client.publish(`${home}/kitchen/temp`, "21.5", false, 1);
  const msg = await withTimeout(client.wait_msg(), 10_000, "wait_msg");
  assert.deepEqual(seen, [`${home}/kitchen/temp 21.5`]);
  assert.equal(msg.topic, `${home}/kitchen/temp`);
  assert.equal(text(msg.payload), "21.5");
  assert.equal(msg.qos, 1);
  await client.disconnect();
}, { versions: [4, 5] });

// "Transport-agnostic core: … A Deno.Conn already is one".
forEachBroker("README: a Deno.Conn given by the transport option is a StreamPair", async (
  broker,
  v,
) => {
  const topic = uniqueId("conn");
  const c = new MQTTClient(uniqueId("conn"), broker.host, {
    protocolVersion: v,
    transport: () => Deno.connect({ hostname: broker.host, port: broker.port }),
  });
  await c.connect();
  await c.subscribe(topic, 1);
  await c.publish(topic, "through a Deno.Conn", false, 1);
  const m = await withTimeout(c.wait_msg(), 10_000, "wait_msg");
  assert.equal(text(m.payload), "through a Deno.Conn");
  await c.disconnect();
}, { versions: [4, 5] });

// "wait_msg() waits for a message … MicroPython's c.ping(); c.wait_msg()
// would here wait for the next message."
forEachBroker(
  "README: ping() resolves on its PINGRESP; a wait_msg under way waits on for a message",
  async (
    broker,
    v,
  ) => {
    const topic = uniqueId("pingwait");
    const c = client(broker, v, "pingwait");
    const pub = client(broker, v, "pingwait-p");
    await c.connect();
    await pub.connect();
    await c.subscribe(topic, 1);
    const waiting = c.wait_msg();
    await c.ping();
    // The PINGRESP went to ping(): nothing is queued, the wait goes on.
    assert.equal(await c.check_msg(), undefined);
    await pub.publish(topic, "after the ping", false, 1);
    const m = await withTimeout(waiting, 10_000, "wait_msg");
    assert.equal(m.topic, topic);
    assert.equal(text(m.payload), "after the ping");
    await pub.disconnect();
    await c.disconnect();
  },
  { versions: [4, 5] },
);

// "How messages flow": a message whose callback throws is not acknowledged,
// holds one of the broker's in-flight slots (mosquitto: max_inflight_messages,
// 20), and once they are all held the broker sends no more QoS 1 messages on
// that connection; the next connect(false) gets them again.
forEachBroker(
  "README: callbacks that throw hold mosquitto's 20 in-flight slots; connect(false) brings all back",
  async (broker, v) => {
    const topic = uniqueId("slots");
    const id = uniqueId("slots-s");
    const sub = client(broker, v, "slots-s", id);
    const pub = client(broker, v, "slots-p");
    let failing = true;
    const seen: number[] = [];
    sub.set_callback((_t, msg) => {
      seen.push(Number(text(msg)));
      if (failing) throw new Error(`not now: ${text(msg)}`);
    });
    try {
      await sub.connect(false);
      await sub.subscribe(topic, 1);
      await pub.connect();
      for (let i = 0; i < 25; i++) await pub.publish(topic, String(i), false, 1);
      // All 25 are at the broker; what it sent the subscriber before this
      // PINGRESP has been read when ping() resolves.
      await sub.ping();
      for (;;) {
        const m = await sub.check_msg().catch((e: Error) => e);
        if (m === undefined) break;
        assert.ok(m instanceof Error && /^not now: /.test(m.message), `got ${m}`);
      }
      assert.deepEqual(seen, Array.from({ length: 20 }, (_, i) => i), "20 slots, then none");
      await sub.disconnect();
      failing = false;
      seen.length = 0;
      assert.equal(await sub.connect(false), true);
      while (seen.length < 25) await withTimeout(sub.wait_msg(), 10_000, `message ${seen.length}`);
      assert.deepEqual(seen, Array.from({ length: 25 }, (_, i) => i), "all again, in order");
    } finally {
      await sub.disconnect();
      await sub.connect(true).then(() => sub.disconnect(), () => {});
      await pub.disconnect();
    }
  },
  { only: ["mosquitto"], versions: [4, 5] },
);

// "How messages flow": under MQTT 5's Receive Maximum "only QoS 1/2
// publishes wait for a slot under it, so a QoS 0 publish … goes before those
// waiting".
test("README: a QoS 0 publish goes before QoS 1 publishes waiting under Receive Maximum", async () => {
  await withHostileBroker(async (peer) => {
    await acceptConnect(peer, { receiveMaximum: 1 });
    const first = await peer.expect("publish");
    assert.equal(text(first.payload), "1");
    const before = await roundTrip(peer);
    assert.deepEqual(
      before.map((p) => p.type === "publish" ? `${text(p.payload)} qos ${p.qos}` : p.type),
      ["3 qos 0"],
      "the QoS 0 publish did not wait behind the second QoS 1 one",
    );
    await peer.write({ type: "puback", packetId: first.packetId! });
    const second = await peer.expect("publish");
    assert.equal(text(second.payload), "2");
    await peer.write({ type: "puback", packetId: second.packetId! });
    await peer.expect("disconnect");
  }, async (broker) => {
    const c = new MQTTClient(uniqueId("rm0"), broker.url, { protocolVersion: 5 });
    await c.connect();
    const calls = [c.publish("t", "1", false, 1), c.publish("t", "2", false, 1)];
    await c.publish("t", "3", false, 0);
    await withTimeout(Promise.all(calls), 10_000, "the QoS 1 publishes");
    await c.disconnect();
    await broker.peers[0].clientClosed;
  });
});

// The options table: maxQueuedMessages 1000 and maxPacketSize 1 MiB by default.
test(
  "README: by default 1000 messages are queued, and a packet of 1 MiB is the largest taken",
  async () => {
    const FLOOD = 1500;
    // A PUBLISH of exactly 1 MiB: 1 byte of type, 3 of remaining length, a
    // 3-byte topic and the payload.
    const whole = new Uint8Array(1_048_576 - 1 - 3 - 3).fill(0x61);
    await withHostileBroker(async (peer) => {
      await acceptConnect(peer);
      await peer.expect("pingreq");
      const flood = Array.from({ length: FLOOD }, (_, i) =>
        encode({
          type: "publish",
          topic: "f",
          payload: enc.encode(String(i)),
          qos: 0,
          retain: false,
          dup: false,
        }));
      await peer.write(...flood, { type: "pingresp" });
      await peer.expect("pingreq");
      const big = encode({
        type: "publish",
        topic: "b",
        payload: whole,
        qos: 0,
        retain: false,
        dup: false,
      });
      assert.equal(big.length, 1_048_576);
      await peer.write(big, { type: "pingresp" });
      await peer.expect("pingreq");
      // One byte more: refused from its header (remaining length 1_048_573).
      await peer.write([0x30, 0xfd, 0xff, 0x3f]);
      await peer.clientClosed;
    }, async (broker) => {
      const c = new MQTTClient(uniqueId("defaults"), broker.url);
      await c.connect();
      await c.ping();
      assert.equal(c.droppedMessages, FLOOD - 1000);
      const left: number[] = [];
      for (let m = await c.check_msg(); m; m = await c.check_msg()) {
        left.push(Number(text(m.payload)));
      }
      assert.deepEqual(left, Array.from({ length: 1000 }, (_, i) => FLOOD - 1000 + i));
      await c.ping();
      const m = await c.check_msg();
      assert.equal(m?.payload.length, whole.length, "a packet of exactly 1 MiB is taken");
      const dead = await c.ping().then(() => undefined, (e) => e);
      assert.ok(dead instanceof MQTTConnectionError, `got ${dead}`);
      assert.ok(dead.cause instanceof MQTTProtocolError, `cause ${dead.cause}`);
      assert.match(dead.cause.message, /packet of 1048577 bytes exceeds maxPacketSize 1048576/);
      assert.equal(c.connected, false);
      await c.disconnect();
    });
  },
  { timeout: 30_000 },
);

// "Publishing while offline is bounded: maxOfflineMessages (1000)".
test("README: the robust client's default maxOfflineMessages is 1000", async () => {
  // Port 1: nothing listens, so the client stays offline.
  const c = new RobustClient(uniqueId("offline"), "127.0.0.1", {
    port: 1,
    whenOfflineFull: "reject",
  });
  c.DELAY = 0.05;
  const waiting = Array.from(
    { length: 1000 },
    (_, i) => c.publish("t", String(i), false, 1).then(() => undefined, (e: unknown) => e),
  );
  await assert.rejects(c.publish("t", "1001", false, 1), /Offline queue full: 1000 messages/);
  await c.disconnect();
  const ends = await Promise.all(waiting);
  assert.ok(ends.every((e) => e instanceof MQTTConnectionError), "disconnect() ends each wait");
});

// "As umqtt.robust, it reconnects with connect(false): … To leave none
// behind, end with disconnect(), connect(true) and disconnect()."
forEachBroker(
  "README: a robust client leaves no session after disconnect(), connect(true), disconnect()",
  async (
    broker,
    v,
  ) => {
    const id = uniqueId("leave");
    const c = new RobustClient(id, broker.host, { port: broker.port, protocolVersion: v });
    await c.connect(false);
    await c.subscribe(`${id}/t`, 1);
    // connect() on a connected client is refused: disconnect() first.
    await assert.rejects(c.connect(true), TypeError);
    assert.equal(c.connected, true);
    await c.disconnect();
    assert.equal(await c.connect(true), false);
    await c.disconnect();
    const probe = client(broker, v, "leave", id);
    assert.equal(await probe.connect(false), false, "no session left behind");
    await probe.disconnect();
    await probe.connect(true);
    await probe.disconnect();
  },
  { versions: [4, 5] },
);

// "Command line": "a publish the broker refuses (MQTT 5) exits 1 where
// mosquitto_pub warns and exits 0".
test(
  "README: umqtt pub exits 1 on a publish the broker refuses (MQTT 5); mosquitto_pub exits 0",
  async () => {
    const broker = await startMosquitto({ extraConfig: ["message_size_limit 10"] });
    try {
      const args = [...at(broker), "-V", "5", "-t", uniqueId("refused"), "-m", "x".repeat(40)];
      for (const qos of ["1", "2"] as const) {
        const r = await cli(["pub", ...args, "-q", qos]);
        assert.equal(r.code, 1, r.stderr);
        assert.match(r.stderr, /^umqtt pub: Publish refused by the broker: Packet too large/);
        const theirs = await run("mosquitto_pub", [...args, "-q", qos]);
        assert.equal(theirs.code, 0, theirs.stderr);
        assert.match(theirs.stderr, /Publish 1 failed/);
      }
    } finally {
      await broker.stop();
    }
  },
  { mosquitto: true },
);

// "How messages flow": "a callback that calls `disconnect()` ends the connection before its own
// message is acknowledged: with a session kept, that message comes again at the next
// `connect(false)`".
forEachBroker(
  "README: a QoS 1 message whose callback calls disconnect() comes again at the next connect(false)",
  async (broker, v) => {
    const id = uniqueId("quitter"), topic = `${id}/cmd`;
    const c = client(broker, v, "quitter", id);
    const seen: string[] = [];
    let quit = true;
    c.set_callback((_topic, msg, m) => {
      seen.push(`${text(msg)} dup=${m.dup}`);
      if (quit) void c.disconnect();
    });
    await c.connect(false);
    await c.subscribe(topic, 1);
    const p = client(broker, v, "quit-sender");
    await p.connect();
    await p.publish(topic, "quit", false, 1);
    await p.disconnect();
    await withTimeout(c.wait_msg().catch(() => {}), 10_000, "wait_msg");
    await c.disconnect();
    quit = false;
    assert.equal(await c.connect(false), true);
    await withTimeout(c.wait_msg(), 10_000, "wait_msg after connect(false)");
    // aedes sends it again without DUP (MQTT-3.3.1-1 asks for it): its known difference.
    const again = broker.name === "aedes" ? "quit dup=false" : "quit dup=true";
    assert.deepEqual(seen, ["quit dup=false", again]);
    await c.disconnect();
    await c.connect(true);
    await c.disconnect();
  },
  { versions: [4, 5] },
);
