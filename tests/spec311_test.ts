// MQTT 3.1.1 statements that bind a client, checked on the wire against a
// scripted broker (tests/_hostile_broker.ts) where the other tests did not.
import assert from "node:assert/strict";
import { MQTTClient, MQTTConnectionError } from "../mod.ts";
import { acceptConnect, withHostileBroker } from "./_hostile_broker.ts";
import { harness, ids, request, V5 } from "./_protocol_harness.ts";
import { test, uniqueId } from "./_test.ts";

test("connect(false) resends PUBRELs in the order their PUBRECs came, not their PUBLISHes' (MQTT-4.6.0-4)", async () => {
  let connection = 0;
  await withHostileBroker(async (peer) => {
    if (connection++ === 0) {
      await acceptConnect(peer);
      const a = await peer.expect("publish"), b = await peer.expect("publish");
      // The second one's PUBREC first: its PUBREL goes first.
      await peer.write({ type: "pubrec", packetId: b.packetId! });
      assert.equal((await peer.expect("pubrel")).packetId, b.packetId);
      await peer.write({ type: "pubrec", packetId: a.packetId! });
      assert.equal((await peer.expect("pubrel")).packetId, a.packetId);
      peer.reset();
      return;
    }
    await peer.expect("connect");
    await peer.write(Uint8Array.of(0x20, 2, 1, 0)); // Session Present
    for (let i = 0; i < 2; i++) {
      await peer.write({ type: "pubcomp", packetId: (await peer.expect("pubrel")).packetId });
    }
    await peer.expect("pingreq");
    await peer.write({ type: "pingresp" });
    await peer.expect("disconnect");
  }, async (broker) => {
    const client = new MQTTClient(uniqueId("rel"), broker.url);
    await client.connect(false);
    const sent = [client.publish("t", "a", false, 2), client.publish("t", "b", false, 2)];
    for (const p of sent) await assert.rejects(p, MQTTConnectionError);
    assert.equal(await client.connect(false), true);
    await client.ping(); // answered after the PUBCOMPs
    const resent = broker.peers[1].received.filter((p) => p.type === "pubrel");
    assert.deepEqual(resent.map((p) => p.packetId), [2, 1], "PUBRELs resent in PUBREC order");
    await client.disconnect();
    await broker.peers[1].clientClosed;
  });
});

test("PUBRECs in reverse order reorder only the resent PUBRELs: published anew, or still awaiting their PUBREC, publishes keep their order (MQTT-4.6.0-1)", () => {
  // 3.1.1: a clean session's, published anew after connect(false) met Session Present 0.
  const h = harness();
  h.connect(true);
  request(h.core, "pubrec", { payload: "one" });
  request(h.core, "puback", { payload: "two" });
  request(h.core, "pubrec", { payload: "three" });
  h.core.handle({ type: "pubrec", packetId: 3 });
  h.core.handle({ type: "pubrec", packetId: 1 });
  assert.deepEqual(ids(h.sent()), ["publish 1", "publish 2", "publish 3", "pubrel 3", "pubrel 1"]);
  h.cut(true);
  h.connect(false, false);
  assert.deepEqual(ids(h.sent()), ["publish 1", "publish 2", "publish 3"]);
  // MQTT 5: a session the broker lost; then, resumed, its publishes go again in their order.
  const v5 = harness(undefined, V5);
  v5.connect(false, true);
  request(v5.core, "pubrec", { payload: "one" });
  request(v5.core, "pubrec", { payload: "two" });
  v5.core.handle({ type: "pubrec", packetId: 2 });
  v5.core.handle({ type: "pubrec", packetId: 1 });
  v5.sent();
  v5.cut(true);
  v5.connect(false, false);
  assert.deepEqual(ids(v5.sent()), ["publish 1", "publish 2"]);
  v5.cut(true);
  v5.connect(false, true);
  assert.deepEqual(ids(v5.sent()), ["publish 1 dup", "publish 2 dup"]);
  // 3.1.1, the session resumed: the PUBRELs in their PUBRECs' order, the PUBLISH in its place.
  const resumed = harness();
  resumed.connect(false);
  request(resumed.core, "pubrec", { payload: "one" });
  request(resumed.core, "puback", { payload: "two" });
  request(resumed.core, "pubrec", { payload: "three" });
  resumed.core.handle({ type: "pubrec", packetId: 3 });
  resumed.core.handle({ type: "pubrec", packetId: 1 });
  resumed.sent();
  resumed.cut(true);
  resumed.connect(false, true);
  assert.deepEqual(ids(resumed.sent()), ["pubrel 3", "publish 2 dup", "pubrel 1"]);
});

// Each packet a broker sends, with fixed header flags other than Table 2.2's.
const BAD_FLAGS: [string, number[]][] = [
  ["PUBACK", [0x41, 2, 0, 1]],
  ["PUBREC", [0x52, 2, 0, 1]],
  ["PUBREL", [0x60, 2, 0, 1]], // must be 0010
  ["PUBCOMP", [0x78, 2, 0, 1]],
  ["SUBACK", [0x92, 3, 0, 1, 0]],
  ["UNSUBACK", [0xb4, 2, 0, 1]],
  ["PINGRESP", [0xd1, 0]],
];

test("a packet from the broker with reserved flags set closes the connection (MQTT-2.2.2-2)", async () => {
  for (const [name, bytes] of BAD_FLAGS) {
    await withHostileBroker(async (peer) => {
      await acceptConnect(peer);
      await peer.expect("pingreq");
      await peer.write(bytes);
      await peer.clientClosed;
    }, async (broker) => {
      const client = new MQTTClient(uniqueId("flags"), broker.url);
      await client.connect();
      await assert.rejects(client.ping(), (e: unknown) => {
        assert.ok(e instanceof MQTTConnectionError, `${name}: ${e}`);
        assert.match(String(e.cause), new RegExp(`${name} fixed header flags .*MQTT-2\\.2\\.2-1`));
        return true;
      });
      assert.equal(client.connected, false, name);
      await broker.peers[0].clientClosed;
    });
  }
  // A CONNACK with flags: connect() rejects, the connection is closed.
  await withHostileBroker(async (peer) => {
    await peer.expect("connect");
    await peer.write([0x21, 2, 0, 0]);
    await peer.clientClosed;
  }, async (broker) => {
    const client = new MQTTClient(uniqueId("flags"), broker.url);
    await assert.rejects(client.connect(), /CONNACK fixed header flags/);
    assert.equal(client.connected, false);
    await broker.peers[0].clientClosed;
  });
});

test("a topic starting with EF BB BF keeps its U+FEFF, sent and received (MQTT-1.5.3-3)", async () => {
  await withHostileBroker(async (peer) => {
    await acceptConnect(peer);
    const out = await peer.expect("publish");
    assert.equal(out.topic, "\uFEFFa");
    // Topic EF BB BF 62 ("\uFEFFb"), payload "x", then the PINGRESP.
    await peer.write([0x30, 7, 0, 4, 0xef, 0xbb, 0xbf, 0x62, 0x78]);
    await peer.expect("pingreq");
    await peer.write({ type: "pingresp" });
    await peer.expect("disconnect");
  }, async (broker) => {
    const client = new MQTTClient(uniqueId("bom"), broker.url);
    await client.connect();
    await client.publish("\uFEFFa", "x");
    await client.ping();
    assert.equal((await client.check_msg())?.topic, "\uFEFFb");
    await client.disconnect();
    await broker.peers[0].clientClosed;
  });
});
