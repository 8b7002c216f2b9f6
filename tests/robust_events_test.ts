// The robust client's events against what its docs say their details hold.
import assert from "node:assert/strict";
import { MQTTConnectionError, MQTTException } from "../mod.ts";
import { MQTTClient, type ReconnectingDetail } from "../lib/robust.ts";
import { acceptConnect, withHostileBroker } from "./_hostile_broker.ts";
import { test, uniqueId, withTimeout } from "./_test.ts";

for (const protocolVersion of [4, 5] as const) {
  test(
    `reconnecting's detail.error after a reconnect that a refusal ended is that refusal (MQTT ${
      protocolVersion === 5 ? "5" : "3.1.1"
    })`,
    async () => {
      let n = 0;
      await withHostileBroker(async (peer) => {
        const k = n++;
        if (k === 1) {
          // The reconnect's attempt: not authorized, which is not retried.
          await peer.expect("connect");
          await peer.write(
            peer.version === 5
              ? { type: "connack", sessionPresent: false, returnCode: 0x87 }
              : [0x20, 0x02, 0x00, 0x05],
          );
          return void await peer.clientClosed;
        }
        await acceptConnect(peer);
        if (k === 0) peer.reset();
        await peer.clientClosed;
      }, async (broker) => {
        const c = new MQTTClient(uniqueId("evref"), broker.url, { protocolVersion });
        c.DELAY = 0.01;
        c.log = () => {};
        const events: ReconnectingDetail[] = [];
        c.addEventListener("reconnecting", (e) => events.push(e.detail));
        const lost = new Promise((r) => c.addEventListener("disconnected", r, { once: true }));
        try {
          await c.connect(false);
          await withTimeout(lost, 5000, "the reset");
          // Joins the reconnect the loss began, which the refusal ends.
          const refusal = await c.reconnect().then(() => null, (e) => e);
          assert.ok(refusal instanceof MQTTException, `expected the refusal, got ${refusal}`);
          assert.equal(events.length, 1);
          assert.ok(events[0].error instanceof MQTTConnectionError);
          // The next reconnect's first attempt: its last attempt failed with the refusal.
          await c.reconnect();
          assert.equal(events.length, 2);
          assert.equal(events[1].error, refusal);
        } finally {
          await c.disconnect();
        }
      });
    },
    { timeout: 20_000 },
  );
}
