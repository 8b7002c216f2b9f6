// disconnect() with acknowledgements still on their way: the client closed
// its socket right after writing DISCONNECT, with the broker's PUBACKs unread
// or still coming, so its kernel reset the connection; the broker's kernel
// then dropped what the broker had not read yet, the DISCONNECT too, and
// mosquitto published the will (8 runs in 10, MQTT 3.1.1), though
// disconnect() "sends DISCONNECT (no will)". A port of MQTT.js's
// `client.publish(…); client.end()` meets this at once.
import assert from "node:assert/strict";
import { MemorySessionStore, MQTTClient } from "../mod.ts";
import { forEachBroker } from "./_brokers.ts";
import { uniqueId } from "./_test.ts";

forEachBroker(
  "disconnect() with QoS 1 publishes awaiting PUBACK: the broker reads the DISCONNECT, no will",
  async (broker, protocolVersion) => {
    const opts = { port: broker.port, protocolVersion };
    const watcher = new MQTTClient(uniqueId("will-watch"), broker.host, opts);
    await watcher.connect();
    const topic = uniqueId("linger");
    await watcher.subscribe(`${topic}/will`, 1);
    try {
      const runs = 6;
      for (let run = 0; run < runs; run++) {
        const c = new MQTTClient(uniqueId("linger"), broker.host, opts);
        c.set_last_will(`${topic}/will`, String(run), false, 1);
        await c.connect();
        let settled = 0;
        for (let i = 0; i < 200; i++) {
          c.publish(`${topic}/d`, String(i), false, 1).finally(() => settled++).catch(() => {});
        }
        await c.disconnect();
        // Each settles: resolved if its PUBACK came before the broker closed, else rejected.
        await new Promise((r) => setTimeout(r, 0));
        assert.equal(settled, 200);
      }
      // A will comes at once once the broker saw the reset; the marker comes after it.
      await new Promise((r) => setTimeout(r, 200));
      await watcher.publish(`${topic}/will`, "marker", false, 1);
      const seen: string[] = [];
      for (;;) {
        const m = new TextDecoder().decode((await watcher.wait_msg()).payload);
        if (m === "marker") break;
        seen.push(m);
      }
      assert.deepEqual(seen, [], `wills published for runs ${seen}`);
    } finally {
      await watcher.disconnect();
    }
  },
  { only: ["mosquitto"], versions: [4, 5] },
);

forEachBroker(
  "disconnect() with publishes awaiting acks: those the broker acknowledges while it closes resolve; a rejected QoS 1 one was not delivered, and none is sent again",
  async (broker, protocolVersion) => {
    const opts = { port: broker.port, protocolVersion };
    const topic = uniqueId("linger-acks");
    const watcher = new MQTTClient(uniqueId("linger-watch"), broker.host, opts);
    await watcher.connect();
    await watcher.subscribe(`${topic}/+`, 2);
    const store = new MemorySessionStore();
    const c = new MQTTClient(uniqueId("linger-acks"), broker.host, {
      ...opts,
      sessionStore: store,
    });
    try {
      await c.connect(false);
      // Odd ones QoS 2: past the QoS 2 window (3.1.1) or Receive Maximum (MQTT 5), some wait.
      const qos = (i: number) => (1 + i % 2) as 1 | 2;
      const outcomes = Array.from(
        { length: 200 },
        (_, i) => c.publish(`${topic}/d`, String(i), false, qos(i)).then(() => true, () => false),
      );
      await c.disconnect();
      const settled = await Promise.all(outcomes);
      // mosquitto acknowledges every PUBLISH it read before our DISCONNECT (measured: all of them).
      const kept1 = [...store.outgoing.values()].filter((b) => b[0] >> 1 === 0x19).length;
      assert.equal(kept1, 0, `${kept1} QoS 1 publishes the broker acknowledged kept to send again`);
      // The next connection completes what is kept (a QoS 2 publish past its PUBREC: its PUBREL).
      await c.connect(false);
      await c.publish(`${topic}/d`, "marker", false, 1);
      const seen = new Map<number, number>();
      for (;;) {
        const text = new TextDecoder().decode((await watcher.wait_msg()).payload);
        if (text === "marker") break;
        seen.set(Number(text), (seen.get(Number(text)) ?? 0) + 1);
      }
      assert.deepEqual([...seen].filter(([, n]) => n > 1), [], "delivered twice");
      for (let i = 0; i < 200; i++) {
        // Resolved: delivered. A QoS 1 publish that rejected: not delivered, so a retry is no duplicate.
        if (settled[i] || qos(i) === 1) {
          assert.equal(
            seen.has(i),
            settled[i],
            `QoS ${qos(i)} publish ${i} resolved: ${settled[i]}`,
          );
        }
      }
      assert.ok(settled.some((x) => !x), "some waited for their turn and reject");
    } finally {
      await c.disconnect();
      await watcher.disconnect();
    }
  },
  { only: ["mosquitto"], versions: [4, 5] },
);
