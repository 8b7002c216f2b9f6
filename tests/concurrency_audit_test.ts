// The client used concurrently and re-entrantly, through its public API:
// calls that cross each other, made from outside or from inside a callback.
import assert from "node:assert/strict";
import { MQTTClient, MQTTConnectionError } from "../mod.ts";
import { MQTTClient as RobustClient } from "../lib/robust.ts";
import { acceptConnect, withHostileBroker } from "./_hostile_broker.ts";
import { test, uniqueId } from "./_test.ts";

for (const [name, Client] of [["simple", MQTTClient], ["robust", RobustClient]] as const) {
  test(
    `${name}: disconnect(), connect(), disconnect() not awaited: the last disconnect() stops the connect()`,
    async () => {
      await withHostileBroker(async (peer) => {
        await acceptConnect(peer);
        await peer.clientClosed;
      }, async (broker) => {
        const c = new Client(uniqueId("cc"), broker.url);
        await c.connect();
        const first = c.disconnect();
        // Waits for the first disconnect(), which the second one joins.
        const connecting = c.connect().then(() => null, (e) => e);
        await c.disconnect();
        await first;
        const error = await connecting;
        assert.ok(error instanceof MQTTConnectionError, `connect() resolved: ${error}`);
        assert.match(error.message, /disconnect\(\) was called/);
        assert.equal(c.connected, false);
        assert.equal(broker.peers.length, 1, "the connect() opened no connection");
      });
    },
  );
}
