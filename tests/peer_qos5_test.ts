// Bug classes peers' MQTT clients have had in QoS 1/2 flows, packet ids and
// MQTT 5 features, pinned where the rest of the suite did not yet: the
// protocol state driven with packets alone, the client against the scripted
// broker (tests/_hostile_broker.ts) for what a real broker never does on cue.
import assert from "node:assert/strict";
import { MQTTClient } from "../mod.ts";
import {
  acceptConnect,
  type HostileBroker,
  roundTrip,
  withHostileBroker,
} from "./_hostile_broker.ts";
import { harness, ids, request } from "./_protocol_harness.ts";
import { test, uniqueId } from "./_test.ts";

const TIMEOUT = { timeout: 20_000 };
const text = (b: Uint8Array) => new TextDecoder().decode(b);

/** disconnect(), then the broker has seen the client go (and read all it sent). */
async function bye(client: MQTTClient, broker: HostileBroker) {
  await client.disconnect();
  for (const peer of broker.peers) await peer.clientClosed;
}

// akka/alpakka#1489, emqx/qmqtt#262: an id handed out again while the broker
// still owes its acknowledgement, so the late ack settles the wrong publish.
// Here the caller gives up on a publish already written: its id must stay
// taken until the broker acknowledges it, and that late acknowledgement (a
// QoS 2 one's PUBREC included, which still needs its PUBREL) is no error.
for (const version of [4, 5] as const) {
  test(
    `MQTT ${
      version === 4 ? "3.1.1" : "5"
    }: a publish aborted after it was written keeps its packet id until the broker acknowledges it`,
    async () => {
      let written!: () => void;
      const bothWritten = new Promise<void>((r) => written = r);
      await withHostileBroker(async (peer) => {
        await acceptConnect(peer);
        const one = await peer.expect("publish");
        const two = await peer.expect("publish");
        assert.deepEqual([one.qos, two.qos], [1, 2]);
        written();
        const three = await peer.expect("publish");
        assert.equal(text(three.payload), "three");
        assert.equal(
          new Set([one.packetId, two.packetId, three.packetId]).size,
          3,
          "the aborted publishes' ids are not handed out again",
        );
        // The late acknowledgements: the QoS 2 one still completes.
        await peer.write(
          { type: "puback", packetId: one.packetId! },
          { type: "pubrec", packetId: two.packetId! },
        );
        assert.equal((await peer.expect("pubrel")).packetId, two.packetId);
        await peer.write({ type: "pubcomp", packetId: two.packetId! });
        // Still connected: the round trip's PUBREL is answered, nothing else came.
        assert.deepEqual(await roundTrip(peer), []);
        await peer.write({ type: "puback", packetId: three.packetId! });
        await peer.expect("disconnect");
      }, async (broker) => {
        const c = new MQTTClient(uniqueId("abortid"), broker.url, { protocolVersion: version });
        await c.connect();
        const gaveUp = [new AbortController(), new AbortController()];
        const one = c.publish("t/1", "one", { qos: 1, signal: gaveUp[0].signal });
        const two = c.publish("t/2", "two", { qos: 2, signal: gaveUp[1].signal });
        await bothWritten;
        gaveUp[0].abort(new Error("gave up on one"));
        gaveUp[1].abort(new Error("gave up on two"));
        await assert.rejects(one, /^Error: gave up on one$/);
        await assert.rejects(two, /^Error: gave up on two$/);
        // Resolves only after the late PUBACK and PUBREC, PUBCOMP were taken.
        await c.publish("t/3", "three", { qos: 1 });
        assert.equal(c.connected, true);
        await bye(c, broker);
      });
    },
    TIMEOUT,
  );
}

// bytebeamio/rumqtt#1057: SUBSCRIBE and UNSUBSCRIBE took the next id with no
// check against publishes in flight, so after the counter wrapped a SUBACK
// could "confirm" the wrong request. Here the ids are one space: after the
// wrap a SUBSCRIBE skips the ids a QoS 2 publish past its PUBREC and a QoS 1
// one hold, and an acknowledgement of another kind for their ids settles
// nothing.
test("packet ids after the wrap: a SUBSCRIBE skips ids that publishes hold, past PUBREC too; an ack of another kind is an error", () => {
  const h = harness();
  h.connect(true);
  const q2 = request(h.core, "pubrec"); // id 1
  const q1 = request(h.core, "puback"); // id 2
  h.core.handle({ type: "pubrec", packetId: 1 }); // 1 now awaits its PUBCOMP
  assert.deepEqual(ids(h.sent()), ["publish 1", "publish 2", "pubrel 1"]);
  for (let i = 3; i <= 65535; i++) {
    request(h.core, "unsuback");
    h.core.handle({ type: "unsuback", packetId: i });
  }
  h.sent();
  const sub = request(h.core, "suback");
  const unsub = request(h.core, "unsuback");
  assert.deepEqual(ids(h.sent()), ["subscribe 3", "unsubscribe 4"], "1 and 2 are skipped");
  assert.throws(
    () => h.core.handle({ type: "suback", packetId: 1, returnCodes: [1] }),
    /^MQTTProtocolError: SUBACK for packet id 1, which has no SUBSCRIBE in flight/,
  );
  assert.throws(
    () => h.core.handle({ type: "unsuback", packetId: 2 }),
    /UNSUBACK for packet id 2, which has no UNSUBSCRIBE in flight/,
  );
  assert.throws(
    () => h.core.handle({ type: "puback", packetId: 3 }),
    /PUBACK for packet id 3, which has no QoS 1 PUBLISH in flight/,
  );
  h.sent();
  // A PUBREC again for id 1 (its PUBREL lost, say) is answered with the PUBREL again.
  h.core.handle({ type: "pubrec", packetId: 1 });
  assert.deepEqual(ids(h.sent()), ["pubrel 1"]);
  assert.deepEqual(
    [q2.state, q1.state, sub.state, unsub.state],
    ["pending", "pending", "pending", "pending"],
    "nothing settled by an acknowledgement of the wrong kind",
  );
  // The right ones settle each its own.
  h.core.handle({ type: "suback", packetId: 3, returnCodes: [0] });
  h.core.handle({ type: "pubcomp", packetId: 1 });
  assert.deepEqual([q2.state, q1.state, sub.state, sub.value], [
    "resolved",
    "pending",
    "resolved",
    [0],
  ]);
});

// moscajs/aedes#1090, eclipse-paho/paho.mqtt.testing#56 (a broker that sends
// one copy for overlapping subscriptions puts every matching Subscription
// Identifier in it); eclipse-paho/paho.mqtt.java#938, petabridge/TurboMqtt#363
// (User Properties kept in a map: a repeated name lost, the order gone). One
// PUBLISH whose properties interleave both with another: all reach the
// message, each kind in the order the broker wrote it.
test(
  "one PUBLISH with several Subscription Identifiers and repeated User Properties, interleaved: all kept, in order",
  async () => {
    const s = (v: string) => [0x00, v.length, ...new TextEncoder().encode(v)];
    // deno-fmt-ignore
    const properties = [
    0x26, ...s("a"), ...s("1"), // User Property a = 1
    0x0b, 0x03, // Subscription Identifier 3
    0x03, ...s("text/plain"), // Content Type
    0x26, ...s("a"), ...s("0"), // User Property a = 0 (the name again)
    0x0b, 0xff, 0xff, 0xff, 0x7f, // Subscription Identifier 268435455
    0x26, ...s("b"), ...s("2"), // User Property b = 2
    0x0b, 0x02, // Subscription Identifier 2
  ];
    const body = [...s("s/1"), 0x00, 0x09, properties.length, ...properties, 0x70];
    await withHostileBroker(async (peer) => {
      await acceptConnect(peer);
      await peer.write(Uint8Array.of(0x32, body.length, ...body)); // PUBLISH, QoS 1, id 9
      assert.equal((await peer.expect("puback")).packetId, 9);
      await peer.expect("disconnect");
    }, async (broker) => {
      const c = new MQTTClient(uniqueId("props"), broker.url, { protocolVersion: 5 });
      await c.connect();
      const m = await c.wait_msg();
      assert.deepEqual([m.topic, text(m.payload), m.qos], ["s/1", "p", 1]);
      assert.deepEqual(m.properties, {
        userProperties: [["a", "1"], ["a", "0"], ["b", "2"]],
        subscriptionIdentifiers: [3, 268_435_455, 2],
        contentType: "text/plain",
      });
      await bye(c, broker);
    });
  },
  TIMEOUT,
);

// LabOverWire/mqtt-lib#103: the broker's Maximum Packet Size ignored (the
// broker dropped the connection), and once fixed, a limit that had to be
// cleared when a later CONNACK no longer set it, and a refused publish that
// must not take a packet id. Here a publish over one connection's limit is
// refused before any byte, takes no id and stays out of the session; the next
// connection's CONNACK sets no limit, and the same publish goes.
test(
  "the broker's Maximum Packet Size: a publish over it takes no id and no place in the session; the next CONNACK's absence lifts it",
  async () => {
    let n = 0;
    await withHostileBroker(async (peer) => {
      const connection = n++;
      await acceptConnect(peer, connection === 0 ? { maximumPacketSize: 60 } : {});
      const p = await peer.expect("publish");
      assert.deepEqual(
        [p.topic, p.payload.length, p.packetId, p.dup],
        connection === 0 ? ["t/small", 5, 1, false] : ["t/big", 100, 2, false],
      );
      await peer.write({ type: "puback", packetId: p.packetId! });
      await peer.expect("disconnect");
    }, async (broker) => {
      const c = new MQTTClient(uniqueId("maxsize"), broker.url, { protocolVersion: 5 });
      await c.connect(false);
      await assert.rejects(
        c.publish("t/big", new Uint8Array(100), { qos: 1 }),
        /^RangeError: Cannot publish to "t\/big" with a packet of 112 bytes: over the broker's Maximum Packet Size 60/,
      );
      await c.publish("t/small", "small", { qos: 1 });
      await c.disconnect();
      // Session Present 0: a refused publish kept in the session would go first here.
      await c.connect(false);
      await c.publish("t/big", new Uint8Array(100), { qos: 1 });
      await bye(c, broker);
    });
  },
  TIMEOUT,
);

// bertmelis/espMqttClient#24: acknowledgements that came out of order were
// ignored (the client matched only the oldest publish). Brokers may answer
// in any order: each publish here settles on its own acknowledgement alone,
// in the order they came, and the PUBRELs go in the order of their PUBRECs
// (MQTT-4.6.0-4), not of the publishes.
test(
  "acknowledgements out of order: each publish settles on its own; PUBRELs follow the PUBRECs' order (MQTT-4.6.0-4)",
  async () => {
    const acked: string[] = [];
    await withHostileBroker(async (peer) => {
      await acceptConnect(peer);
      const ids = new Map<string, number>();
      for (let i = 0; i < 5; i++) {
        const p = await peer.expect("publish");
        ids.set(text(p.payload), p.packetId!);
      }
      const id = (name: string) => ids.get(name)!;
      // One acknowledgement at a time, each taken before the next is written.
      for (const name of ["q1-c", "q1-a"]) {
        await peer.write({ type: "puback", packetId: id(name) });
        assert.deepEqual(await roundTrip(peer), []);
      }
      for (const name of ["q2-e", "q2-d"]) {
        await peer.write({ type: "pubrec", packetId: id(name) });
        assert.equal((await peer.expect("pubrel")).packetId, id(name), `the PUBREL of ${name}`);
      }
      for (const [type, name] of [["pubcomp", "q2-d"], ["puback", "q1-b"], ["pubcomp", "q2-e"]]) {
        // Nothing came unasked since the last acknowledgement.
        assert.deepEqual(await roundTrip(peer), []);
        await peer.write({ type: type as "puback" | "pubcomp", packetId: id(name) });
      }
      await peer.expect("disconnect");
    }, async (broker) => {
      const c = new MQTTClient(uniqueId("ackorder"), broker.url, { protocolVersion: 5 });
      await c.connect();
      const sent = ["q1-a", "q1-b", "q1-c", "q2-d", "q2-e"].map((name) =>
        c.publish("t", name, { qos: name.startsWith("q1") ? 1 : 2 }).then(() => acked.push(name))
      );
      await Promise.all(sent);
      assert.deepEqual(acked, ["q1-c", "q1-a", "q2-d", "q1-b", "q2-e"]);
      await bye(c, broker);
    });
  },
  TIMEOUT,
);
