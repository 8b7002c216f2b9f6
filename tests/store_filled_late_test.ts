// A session store filled after the client was made: a store loaded
// asynchronously (IndexedDB, Deno KV, a Durable Object's storage) is
// naturally made empty, handed to the client, and filled once its load
// settles, before connect(false). The packets in it are the session's: their
// ids are taken, their acknowledgements expected, and what is in it is checked.
import assert from "node:assert/strict";
import { encode } from "../lib/codec/mod.ts";
import { MemorySessionStore, MQTTClient } from "../mod.ts";
import { MQTTClient as RobustClient } from "../lib/robust.ts";
import { startMosquitto } from "./_brokers.ts";
import { harness, ids, request } from "./_protocol_harness.ts";
import { test, uniqueId, withTimeout } from "./_test.ts";

const text = (b: Uint8Array) => new TextDecoder().decode(b);

function saved(id: number, topic = "t", payload = `saved${id}`): Uint8Array {
  const p = new TextEncoder().encode(payload);
  return encode({
    type: "publish",
    topic,
    payload: p,
    qos: 1,
    retain: false,
    dup: false,
    packetId: id,
  });
}

test("a store filled after the protocol state was made: its ids are taken and its PUBACKs expected", () => {
  const store = new MemorySessionStore();
  const h = harness(store);
  store.outgoing.set(1, saved(1));
  store.outgoing.set(2, saved(2));
  h.connect(false, true);
  assert.deepEqual(ids(h.sent()), ["publish 1 dup", "publish 2 dup"]);
  const fresh = request(h.core, "puback");
  assert.deepEqual(ids(h.sent()), ["publish 3"], "a new publish does not take a stored id");
  h.core.handle({ type: "puback", packetId: 1 });
  assert.equal(fresh.state, "pending", "the stored packet's PUBACK is not the new one's");
  h.core.handle({ type: "puback", packetId: 2 }); // before the fix: MQTTProtocolError
  h.core.handle({ type: "puback", packetId: 3 });
  assert.equal(fresh.state, "resolved");
  assert.equal(store.outgoing.size, 0);
});

test("a store filled after the client was made, before connect(false): resent, acknowledged, nothing lost (mosquitto)", async () => {
  const broker = await startMosquitto();
  const topic = uniqueId("late");
  const sub = new MQTTClient(uniqueId("ls"), broker.url);
  const store = new MemorySessionStore();
  const client = new MQTTClient(uniqueId("lp"), broker.url, { sessionStore: store });
  const lost: string[] = [];
  client.addEventListener("disconnected", (e) => lost.push(String(e.detail.error?.message)));
  try {
    await sub.connect();
    await sub.subscribe(topic, 1);
    // The load settles after the client was made.
    await Promise.resolve();
    for (const id of [1, 2]) store.outgoing.set(id, saved(id, topic));
    await client.connect(false);
    await withTimeout(client.publish(topic, "new", false, 1), 5000, "the new publish");
    const got: string[] = [];
    while (got.length < 3) {
      got.push(text((await withTimeout(sub.wait_msg(), 5000, `${got}`)).payload));
    }
    assert.deepEqual(got, ["saved1", "saved2", "new"]);
    assert.deepEqual(lost, [], "the connection stays up");
    assert.ok(client.connected);
    assert.equal(store.outgoing.size, 0);
  } finally {
    await client.disconnect().catch(() => {});
    await sub.disconnect().catch(() => {});
    await broker.stop();
  }
});

test("a store filled wrong after the client was made: connect(false) rejects naming the entry, and no retry follows", async () => {
  const broker = await startMosquitto();
  const store = new MemorySessionStore();
  const client = new MQTTClient(uniqueId("lw"), broker.url, { sessionStore: store });
  try {
    // JSON brought it back as an array of numbers.
    store.outgoing.set(7, [...saved(7)] as unknown as Uint8Array);
    await assert.rejects(
      client.connect(false),
      /Invalid sessionStore\.outgoing entry 7: its packet is not a Uint8Array \(got Array\)/,
    );
    assert.equal(client.connected, false);
  } finally {
    await client.disconnect().catch(() => {});
    await broker.stop();
  }
});

test("a store filled wrong: connect(false) rejects with the TypeError before any connection is opened, robust too", async () => {
  for (const Client of [MQTTClient, RobustClient]) {
    const store = new MemorySessionStore();
    let opened = 0;
    const client = new Client(uniqueId("lw"), "127.0.0.1", {
      sessionStore: store,
      transport: () => {
        opened++;
        throw new Error("not opened");
      },
    });
    store.outgoing.set(7, [...saved(7)] as unknown as Uint8Array);
    await assert.rejects(client.connect(false), (e: unknown) => {
      // Not "Cannot connect to 127.0.0.1:1883: Invalid sessionStore…", a network failure's shape.
      assert.ok(e instanceof TypeError, String(e));
      assert.match(e.message, /^Invalid sessionStore\.outgoing entry 7: /);
      return true;
    });
    assert.equal(opened, 0, `${Client.name}: a transport opened`);
    await client.disconnect().catch(() => {});
  }
});
