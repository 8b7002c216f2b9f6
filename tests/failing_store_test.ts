// A user's own SessionStore as session_store.ts sketches it (the change in
// memory first, then a save), whose save throws: the client must not hang, loop
// or stall, and a publish must not resolve as kept when it was not.
import assert from "node:assert/strict";
import type { PublishPacket, QoS } from "../lib/codec/packet.ts";
import type { SessionStore } from "../lib/session_store.ts";
import { harness, ids, request, V5 } from "./_protocol_harness.ts";
import { MemorySessionStore } from "../lib/session_store.ts";
import { test, uniqueId } from "./_test.ts";
import { type Message, MQTTClient } from "../mod.ts";
import { startMosquitto } from "./_brokers.ts";
import { acceptConnect, withHostileBroker } from "./_hostile_broker.ts";

/** Save fails while `broken.now` is set, after the change was made in memory (the sketch's order). */
function failingStore() {
  const broken = { now: false };
  const save = () => {
    if (broken.now) throw new Error("disk full");
  };
  class SavedMap extends Map<number, Uint8Array> {
    override set(id: number, b: Uint8Array) {
      super.set(id, b);
      save();
      return this;
    }
    override delete(id: number) {
      const had = super.delete(id);
      save();
      return had;
    }
  }
  class SavedSet extends Set<number> {
    override add(id: number) {
      super.add(id);
      save();
      return this;
    }
    override delete(id: number) {
      const had = super.delete(id);
      save();
      return had;
    }
  }
  const store: SessionStore = { outgoing: new SavedMap(), incoming: new SavedSet() };
  return { store, broken };
}

const text = (b: Uint8Array) => new TextDecoder().decode(b);

/** `p`'s value, or "nothing in 1 s". */
async function within<T>(p: Promise<T>): Promise<T | string> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<string>((r) => timer = setTimeout(() => r("nothing in 1 s"), 1000));
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

function publishIn(packetId: number, qos: QoS): PublishPacket {
  return {
    type: "publish",
    topic: "in",
    payload: Uint8Array.of(1),
    qos,
    retain: false,
    dup: false,
    packetId,
  };
}

test("a failed save of a PUBACK's delete: the publish settles when the connection ends", () => {
  const { store, broken } = failingStore();
  const h = harness(store as never);
  h.connect(false);
  const p = request(h.core, "puback");
  h.sent();
  broken.now = true;
  assert.throws(() => h.core.handle({ type: "puback", packetId: 1 }), /disk full/);
  // The connection ends on that throw (Connection.data → failed → teardown → end).
  h.cut(false);
  assert.notEqual(p.state, "pending", "publish() never settles");
});

test("a failed save of the PUBREL: the next connection's PUBCOMP is no protocol error", () => {
  const { store, broken } = failingStore();
  const h = harness(store as never);
  h.connect(false);
  const p = request(h.core, "pubrec");
  h.sent();
  broken.now = true;
  assert.throws(() => h.core.handle({ type: "pubrec", packetId: 1 }), /disk full/);
  h.cut(true);
  broken.now = false;
  h.connect(false, true);
  assert.deepEqual(h.sent().map((x) => x.type), ["pubrel"]);
  h.core.handle({ type: "pubcomp", packetId: 1 }); // before the fix: MQTTProtocolError on every reconnect
  assert.equal(p.state, "resolved");
  assert.equal(store.outgoing.size, 0);
});

test("a failed save of an incoming QoS 2 id: later messages are still acknowledged (client)", async () => {
  const { store, broken } = failingStore();
  let scripted!: () => void;
  const done = new Promise<void>((r) => scripted = r);
  await withHostileBroker(async (peer) => {
    await acceptConnect(peer);
    await peer.write(publishIn(1, 2), publishIn(2, 1));
    // Message 1 was not kept, so gets no PUBREC; message 2 still gets its PUBACK.
    const p = await within(peer.next());
    scripted();
    assert.deepEqual(p, { type: "puback", packetId: 2 });
  }, async (broker) => {
    const client = new MQTTClient(uniqueId("us"), broker.url, { sessionStore: store });
    await client.connect(false);
    broken.now = true;
    await assert.rejects(client.wait_msg(), /disk full/);
    broken.now = false;
    await client.wait_msg();
    await done;
    await client.disconnect();
  });
});

test("a failed save of a PUBACK's delete: publish() settles (client)", async () => {
  const { store, broken } = failingStore();
  await withHostileBroker(async (peer) => {
    await acceptConnect(peer);
    const pub = await peer.expect("publish");
    broken.now = true;
    await peer.write({ type: "puback", packetId: pub.packetId! });
  }, async (broker) => {
    const client = new MQTTClient(uniqueId("us"), broker.url, { sessionStore: store });
    await client.connect(false);
    const sent = client.publish("t", "m", false, 1);
    const outcome = await within(sent.then(() => "resolved", (e) => `rejected: ${e.message}`));
    assert.match(String(outcome), /^rejected: Connection lost: disk full/);
    await client.disconnect().catch(() => {});
  });
});

test("a failed save of an outgoing PUBLISH: publish() rejects with the store's error", async () => {
  const { store, broken } = failingStore();
  await withHostileBroker(async (peer) => {
    await acceptConnect(peer);
  }, async (broker) => {
    const client = new MQTTClient(uniqueId("us"), broker.url, { sessionStore: store });
    await client.connect(false);
    broken.now = true;
    await assert.rejects(client.publish("t", "m", false, 1), /disk full/);
    broken.now = false;
    await client.disconnect();
  });
});

test("a failed save of an outgoing PUBLISH: the publish it rejected is never sent, on this connection or the next (mosquitto)", async () => {
  const { store, broken } = failingStore();
  const broker = await startMosquitto();
  const topic = uniqueId("fs");
  const sub = new MQTTClient(uniqueId("fss"), broker.url);
  const client = new MQTTClient(uniqueId("fsp"), broker.url, { sessionStore: store });
  try {
    await sub.connect();
    await sub.subscribe(topic, 2);
    await client.connect(false);
    broken.now = true;
    await assert.rejects(client.publish(topic, "rejected", false, 2), /disk full/);
    broken.now = false;
    await client.disconnect();
    await client.connect(false);
    await client.publish(topic, "after", false, 2);
    // Before the fix: "rejected" came first, resent with DUP=1 though never sent, and
    // publish() had rejected (a retry on that rejection made it arrive twice, at QoS 2).
    const got = text((await within(sub.wait_msg()) as Message).payload);
    assert.equal(got, "after");
    assert.equal(store.outgoing.size, 0);
  } finally {
    await client.disconnect().catch(() => {});
    await sub.disconnect().catch(() => {});
    await broker.stop();
  }
});

test("a failed save of a PUBLISH that waited for the Receive Maximum: it rejects with the store's error, and the connection goes on", () => {
  const store = new MemorySessionStore();
  const h = harness(store, V5);
  h.connect(false, false, { receiveMaximum: 1 });
  const first = request(h.core, "puback", { payload: "first" });
  const failing = request(h.core, "puback", { payload: "failing" });
  const third = request(h.core, "puback", { payload: "third" });
  assert.deepEqual(ids(h.sent()), ["publish 1"]);
  // From now on a save of a new packet fails (the disk filled up); deletes still work.
  store.outgoing.set = () => {
    throw new Error("disk full");
  };
  // Before the fix: the store's error came out of handle(), which ends the connection.
  h.core.handle({ type: "puback", packetId: 1 });
  assert.equal(first.state, "resolved");
  assert.equal(failing.state, "rejected");
  assert.match(String(failing.error), /disk full/);
  assert.equal(third.state, "rejected", "the disk is still full");
  assert.deepEqual(h.sent(), [], "nothing unsaved goes out");
  assert.equal(h.core.inflight, 0);
});
