// What a session store of the user's is given to save: each packet in a
// buffer of its own. A small packet is built in a slab it shares with others;
// a store that structured-clones what it saves (IndexedDB's put, a Durable
// Object's storage.put, postMessage) would save the whole slab with each one:
// 8 KB for a packet of 20 bytes, with the bytes of other messages in it.
import assert from "node:assert/strict";
import { MemorySessionStore, type SessionStore } from "../lib/session_store.ts";
import { MQTTClient } from "../mod.ts";
import { startMosquitto } from "./_brokers.ts";
import { harness, request, V5 } from "./_protocol_harness.ts";
import { test, uniqueId } from "./_test.ts";

/** A store of the user's that records each packet it is given, as a structured clone would save it. */
function recordingStore() {
  const saved: Uint8Array[] = [];
  class Recording extends Map<number, Uint8Array> {
    override set(id: number, bytes: Uint8Array) {
      saved.push(structuredClone(bytes));
      return super.set(id, bytes);
    }
  }
  const store: SessionStore = { outgoing: new Recording(), incoming: new Set() };
  return { store, saved };
}

test("a store of the user's is given each PUBLISH and PUBREL in a buffer of its own", () => {
  for (const options of [undefined, V5]) {
    const { store, saved } = recordingStore();
    const h = harness(store as never, options);
    h.connect(false);
    request(h.core, "puback", { payload: "one" });
    request(h.core, "pubrec", { payload: "two" });
    h.core.handle({ type: "pubrec", packetId: 2 }); // the PUBREL replaces the PUBLISH
    h.cut(true);
    h.connect(false, false); // MQTT 5, Session Present 0: the PUBLISH replaces the PUBREL
    assert.ok(saved.length >= 3);
    for (const b of saved) {
      assert.equal(
        b.buffer.byteLength,
        b.byteLength,
        `${b[0] >> 4}: ${b.buffer.byteLength} bytes saved for ${b.byteLength}`,
      );
    }
  }
});

test("a store of the user's that structured-clones saves no other message's bytes (mosquitto)", async () => {
  const broker = await startMosquitto();
  const { store, saved } = recordingStore();
  const client = new MQTTClient(uniqueId("sb"), broker.url, { sessionStore: store });
  try {
    await client.connect(false);
    await client.publish("t/sb", "a secret", false, 1);
    await client.publish("t/sb", "small", false, 2);
    assert.equal(saved.length, 3, "two PUBLISHes and a PUBREL");
    const text = (b: Uint8Array) => new TextDecoder().decode(new Uint8Array(b.buffer));
    // Before the fix: 8192 bytes each, the second PUBLISH's holding "a secret" too.
    assert.ok(!text(saved[1]).includes("a secret"), `${saved[1].buffer.byteLength} bytes saved`);
    assert.deepEqual(saved.map((b) => b.buffer.byteLength), saved.map((b) => b.byteLength));
  } finally {
    await client.disconnect().catch(() => {});
    await broker.stop();
  }
});

test("a subclass of MemorySessionStore is a store of the user's too: each packet in its own buffer", () => {
  const saved: Uint8Array[] = [];
  // As one that saves a snapshot of its Map now and then, structured-cloned.
  class Snapshots extends MemorySessionStore {
    save() {
      for (const b of this.outgoing.values()) saved.push(structuredClone(b));
    }
  }
  const store = new Snapshots();
  const h = harness(store, V5);
  h.connect(false);
  request(h.core, "puback", { payload: "one" });
  request(h.core, "pubrec", { payload: "two" });
  store.save();
  assert.equal(saved.length, 2);
  assert.deepEqual(saved.map((b) => b.buffer.byteLength), saved.map((b) => b.byteLength));
});
