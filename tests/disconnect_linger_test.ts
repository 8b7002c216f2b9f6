// disconnect() with acknowledgements still on their way: the client closed
// its socket right after writing DISCONNECT, with the broker's PUBACKs unread
// or still coming, so its kernel reset the connection; the broker's kernel
// then dropped what the broker had not read yet, the DISCONNECT too, and
// mosquitto published the will (8 runs in 10, MQTT 3.1.1), though
// disconnect() "sends DISCONNECT (no will)". A port of MQTT.js's
// `client.publish(…); client.end()` meets this at once.
import assert from "node:assert/strict";
import { MQTTClient } from "../mod.ts";
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
        let rejected = 0;
        for (let i = 0; i < 200; i++) {
          c.publish(`${topic}/d`, String(i), false, 1).catch(() => rejected++);
        }
        await c.disconnect();
        // Those unacknowledged reject, as disconnect() says.
        await Promise.resolve();
        assert.ok(rejected > 0);
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
