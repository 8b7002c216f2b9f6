// QoS 2, exactly once, in both directions and across reconnects, against
// real brokers (MQTT 3.1.1 section 4.3.3).
import assert from "node:assert/strict";
import { MQTTClient, MQTTConnectionError, MQTTProtocolError } from "../mod.ts";
import { forEachBroker, startMosquitto } from "./_brokers.ts";
import { Tap } from "./_tap.ts";
import { acceptConnect, withHostileBroker } from "./_hostile_broker.ts";
import { test, uniqueId } from "./_test.ts";

// The tests that hold for either MQTT version run at both (MQTT 5 on mosquitto only).
const BOTH = { versions: [4, 5] } as const;

const text = (b: Uint8Array) => new TextDecoder().decode(b);

async function until(f: () => boolean, what: string, tries = 300) {
  for (let i = 0; i < tries && !f(); i++) await new Promise((r) => setTimeout(r, 10));
  if (!f()) throw new Error(`Timed out waiting until ${what}`);
}

/** A client of `broker` at protocol version `v`, its id made from `prefix`. */
const clientOn = (broker: { host: string; port: number }, v: 4 | 5, prefix: string) =>
  new MQTTClient(uniqueId(prefix), broker.host, { port: broker.port, protocolVersion: v });

forEachBroker("QoS 2 round trip: PUBLISH, PUBREC, PUBREL, PUBCOMP", async (broker, v) => {
  const u = uniqueId("q2");
  const tap = new Tap(broker.host, broker.port);
  const c = new MQTTClient(uniqueId("q2"), broker.host, {
    protocolVersion: v,
    transport: tap.transport,
  });
  await c.connect();
  assert.equal(await c.subscribe(u, 2), 2);
  await c.publish(u, "exactly once", false, 2);
  const msg = await c.wait_msg();
  assert.deepEqual([msg.qos, text(msg.payload)], [2, "exactly once"]);
  await until(
    () => tap.conns[0].written.some((p) => p.type === "pubcomp"),
    "the incoming PUBREL is answered",
  );
  const types = tap.conns[0].written.map((p) => p.type).filter((t) => t.startsWith("pub"));
  // Ours out: PUBLISH, PUBREL; the incoming one answered: PUBREC, PUBCOMP.
  assert.deepEqual(types.sort(), ["pubcomp", "publish", "pubrec", "pubrel"]);
  await c.disconnect();
}, BOTH);

forEachBroker("1000 QoS 2 messages pipelined arrive exactly once, in order", async (shared, v) => {
  // mosquitto 2.0.11 stops sending queued QoS 2 messages once its outgoing
  // in-flight window (20) has filled (its inflight-quota bugs were fixed in
  // 2.0.13); an unlimited window sidesteps the broker bug, not ours.
  const own = shared.name === "mosquitto"
    ? await startMosquitto({ extraConfig: ["max_inflight_messages 0"] })
    : undefined;
  const broker = own ?? shared;
  const u = uniqueId("q2many");
  const sub = clientOn(broker, v, "s");
  const pub = clientOn(broker, v, "p");
  await sub.connect();
  await pub.connect();
  await sub.subscribe(u, 2);
  await Promise.all(Array.from({ length: 1000 }, (_, i) => pub.publish(u, String(i), false, 2)));
  for (let i = 0; i < 1000; i++) {
    const m = await sub.wait_msg();
    assert.equal(text(m.payload), String(i));
    assert.equal(m.qos, 2);
  }
  await pub.ping();
  await sub.ping();
  assert.equal(await sub.check_msg(), undefined, "nothing delivered twice");
  await sub.disconnect();
  await pub.disconnect();
  await own?.stop();
}, BOTH);

forEachBroker("a subscription at QoS 1 receives a QoS 2 publish at QoS 1", async (broker, v) => {
  const u = uniqueId("down");
  const c = clientOn(broker, v, "d");
  await c.connect();
  assert.equal(await c.subscribe(u, 1), 1);
  await c.publish(u, "x", { qos: 2 });
  assert.equal((await c.wait_msg()).qos, 1);
  await c.disconnect();
}, BOTH);

forEachBroker(
  "an unacked QoS 2 publish resumes after connect(false): PUBLISH again, or PUBREL once PUBREC came",
  async (broker, v) => {
    const u = uniqueId("q2re");
    const sub = clientOn(broker, v, "s");
    await sub.connect();
    await sub.subscribe(u, 2);
    const tap = new Tap(broker.host, broker.port);
    const c = new MQTTClient(uniqueId("r"), broker.host, {
      protocolVersion: v,
      transport: tap.transport,
    });
    await c.connect(false);
    await c.subscribe(`${u}/session`, 1);
    // First message: PUBREC arrives, our PUBREL is lost with the connection.
    tap.swallow = (p) => p.type === "pubrel";
    const first = c.publish(u, "one", false, 2).catch((e) => e);
    await until(
      () => tap.conns[0].written.some((p) => p.type === "pubrel"),
      "PUBREC arrives and PUBREL is written",
    );
    tap.swallow = true;
    // Second message: lost before the broker sees it.
    const second = c.publish(u, "two", false, 2).catch((e) => e);
    await until(() => tap.publishes(0).length === 2, "the second PUBLISH is written");
    const pubrels = tap.conns[0].written.filter((p) => p.type === "pubrel").length;
    assert.equal(pubrels, 1, "the PUBREL for the first message was written (and swallowed)");
    tap.conns[0].cut();
    assert.ok((await first) instanceof MQTTConnectionError);
    assert.ok((await second) instanceof MQTTConnectionError);
    tap.swallow = false;
    assert.equal(await c.connect(false), true);
    await c.ping();
    const again = tap.conns[1].written.filter((p) => p.type === "pubrel" || p.type === "publish");
    assert.deepEqual(
      again.slice(0, 2).map((p) =>
        p.type === "publish" ? ["publish", p.dup, text(p.payload)] : ["pubrel"]
      ),
      [["pubrel"], ["publish", true, "two"]],
      "PUBREL resent for the PUBREC'd message, PUBLISH with DUP=1 for the other, in order",
    );
    const got = [text((await sub.wait_msg()).payload), text((await sub.wait_msg()).payload)];
    assert.deepEqual(got, ["one", "two"]);
    await sub.ping();
    assert.equal(await sub.check_msg(), undefined, "each delivered exactly once");
    await c.disconnect();
    await c.connect(true);
    await c.disconnect();
    await sub.disconnect();
  },
  BOTH,
);

forEachBroker(
  "an incoming QoS 2 message resent after a reconnect is not delivered twice",
  async (broker, v) => {
    const u = uniqueId("q2in");
    const tap = new Tap(broker.host, broker.port);
    const c = new MQTTClient(uniqueId("in"), broker.host, {
      protocolVersion: v,
      transport: tap.transport,
    });
    await c.connect(false);
    await c.subscribe(u, 2);
    const pub = clientOn(broker, v, "p");
    await pub.connect();
    tap.swallow = true; // our PUBREC will be lost
    await pub.publish(u, "once", false, 2);
    const msg = await c.wait_msg();
    assert.equal(text(msg.payload), "once");
    await until(() => tap.conns[0].written.some((p) => p.type === "pubrec"), "PUBREC is written");
    tap.conns[0].cut();
    tap.swallow = false;
    await until(() => !c.connected, "the cut is noticed");
    assert.equal(await c.connect(false), true);
    // The broker resends the PUBLISH (DUP=1); we answer PUBREC, do not deliver.
    await until(
      () => tap.conns[1].read.some((p) => p.type === "publish" || p.type === "pubrel"),
      "the broker resumes the exchange",
    );
    await until(() => tap.conns[1].written.some((p) => p.type === "pubcomp"), "PUBCOMP");
    await c.ping();
    assert.equal(await c.check_msg(), undefined, "not delivered twice");
    await c.disconnect();
    await c.connect(true);
    await c.disconnect();
    await pub.disconnect();
  },
  BOTH,
);

forEachBroker(
  "a clean start does not lose a QoS 2 message under an id an unhandled one of the old session had",
  async (broker, v) => {
    const u = uniqueId("q2clean");
    const c = clientOn(broker, v, "in");
    const pub = clientOn(broker, v, "p");
    await pub.connect();
    await c.connect(true);
    await c.subscribe(u, 2);
    await pub.publish(u, "old session", false, 2);
    await until(() => c.droppedMessages === 0 && c.connected, "connected");
    await c.ping(); // the PUBLISH is queued, unhandled
    await c.disconnect();
    // A fresh session: its packet ids start over, and the queued message's
    // id may be the new message's.
    await c.connect(true);
    await c.subscribe(u, 2);
    await pub.publish(u, "new session", false, 2);
    const got = [text((await c.wait_msg()).payload), text((await c.wait_msg()).payload)];
    assert.deepEqual(got, ["old session", "new session"]);
    await c.disconnect();
    await pub.disconnect();
  },
  { ...BOTH, timeout: 15_000 },
);

forEachBroker(
  "a QoS 2 message whose callback threw is delivered again when the broker resends it",
  async (broker, v) => {
    const u = uniqueId("q2throw");
    const c = clientOn(broker, v, "in");
    const pub = clientOn(broker, v, "p");
    await pub.connect();
    await c.connect(false);
    await c.subscribe(u, 2);
    let fail = true;
    c.set_callback(() => {
      if (fail) throw new Error("handler failed");
    });
    await pub.publish(u, "again", false, 2);
    await assert.rejects(c.wait_msg(), /handler failed/);
    fail = false;
    // Not acknowledged: after a reconnect to the same session the broker
    // resends it, and this time it is handled.
    await c.disconnect();
    assert.equal(await c.connect(false), true);
    const msg = await c.wait_msg();
    assert.deepEqual([text(msg.payload), msg.qos], ["again", 2]);
    await c.disconnect();
    await c.connect(true);
    await c.disconnect();
    await pub.disconnect();
  },
  { ...BOTH, timeout: 15_000 },
);

// Scripted brokers for what real ones rarely do (MQTT 3.1.1 section 4.3.3).

test("a PUBREL for an unknown packet id is answered with PUBCOMP; the connection stays", async () => {
  await withHostileBroker(async (peer) => {
    await acceptConnect(peer);
    await peer.write({ type: "pubrel", packetId: 77 });
    assert.equal((await peer.expect("pubcomp")).packetId, 77);
    await peer.expect("pingreq");
    await peer.write({ type: "pingresp" });
    await peer.clientClosed;
  }, async (broker) => {
    const c = new MQTTClient(uniqueId("rel"), broker.url);
    await c.connect();
    await until(() => broker.peers[0].received.some((p) => p.type === "pubcomp"), "PUBCOMP");
    await c.ping();
    assert.equal(c.connected, true);
    await c.disconnect();
  });
});

test("a PUBREC for a packet id not in flight breaks the protocol: the client closes", async () => {
  await withHostileBroker(async (peer) => {
    await acceptConnect(peer);
    const publish = await peer.expect("publish");
    await peer.write({ type: "pubrec", packetId: (publish.packetId! % 65535) + 1 });
    await peer.clientClosed;
  }, async (broker) => {
    const c = new MQTTClient(uniqueId("rec"), broker.url);
    await c.connect();
    await assert.rejects(c.publish("t", "m", false, 2), (e: Error) => {
      assert.ok(e instanceof MQTTConnectionError);
      assert.ok(e.cause instanceof MQTTProtocolError);
      assert.match(e.message, /PUBREC for packet id \d+, which has no QoS 2 PUBLISH in flight/);
      return true;
    });
    assert.equal(c.connected, false);
  });
});

test("a QoS 2 PUBLISH resent before PUBREL is delivered once; after PUBREL its id is new", async () => {
  const publish = (dup: boolean, payload: string) => ({
    type: "publish" as const,
    topic: "q2/dedupe",
    payload: new TextEncoder().encode(payload),
    qos: 2 as const,
    retain: false,
    dup,
    packetId: 9,
  });
  await withHostileBroker(async (peer) => {
    await acceptConnect(peer);
    await peer.write(publish(false, "first"));
    assert.equal((await peer.expect("pubrec")).packetId, 9);
    await peer.write(publish(true, "first")); // as if our PUBREC was lost
    assert.equal((await peer.expect("pubrec")).packetId, 9, "the resend is answered");
    await peer.write({ type: "pubrel", packetId: 9 });
    assert.equal((await peer.expect("pubcomp")).packetId, 9);
    await peer.write(publish(false, "second")); // id 9 again, a new message
    assert.equal((await peer.expect("pubrec")).packetId, 9);
    await peer.write({ type: "pubrel", packetId: 9 });
    await peer.expect("pubcomp");
    await peer.clientClosed;
  }, async (broker) => {
    const c = new MQTTClient(uniqueId("dd"), broker.url);
    await c.connect();
    assert.equal(text((await c.wait_msg()).payload), "first");
    assert.equal(text((await c.wait_msg()).payload), "second");
    await until(
      () => broker.peers[0].received.filter((p) => p.type === "pubcomp").length === 2,
      "both exchanges complete",
    );
    assert.equal(await c.check_msg(), undefined, "the resend was not delivered");
    await c.disconnect();
  });
});
