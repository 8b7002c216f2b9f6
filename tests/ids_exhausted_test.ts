// Packet ids exhausted through the public API, against a scripted broker that acknowledges only
// what the test tells it to: a subscribe() waiting for an id must not wait behind a publish that
// waits for the broker's Receive Maximum (the core's own tests: protocol_gaps_test.ts).
import assert from "node:assert/strict";
import { MQTTClient } from "../mod.ts";
import { acceptConnect, withHostileBroker } from "./_hostile_broker.ts";
import { test, uniqueId, withTimeout } from "./_test.ts";

test("MQTT 5, all 65 535 packet ids in use: a subscribe() after a publish waiting for Receive Maximum takes the next id freed", async () => {
  let unsubscribes = 0;
  await withHostileBroker(async (peer) => {
    await acceptConnect(peer, { receiveMaximum: 1 });
    assert.equal((await peer.expect("publish")).packetId, 1);
    for (; unsubscribes < 65534; unsubscribes++) await peer.expect("unsubscribe");
    await peer.write({ type: "unsuback", packetId: 9, reasonCodes: [0] });
    const next = await peer.next();
    assert.deepEqual([next.type, "packetId" in next && next.packetId], ["subscribe", 9]);
    await peer.write({ type: "suback", packetId: 9, returnCodes: [1] });
    await peer.expect("disconnect");
  }, async (broker) => {
    const c = new MQTTClient(uniqueId("ids"), broker.host, {
      port: broker.port,
      protocolVersion: 5,
    });
    await c.connect();
    const pending: Promise<unknown>[] = [c.publish("t", "first", false, 1)];
    for (let i = 0; i < 65534; i++) pending.push(c.unsubscribe(`f/${i}`));
    pending.push(c.publish("t", "waits for room", false, 1));
    const granted = c.subscribe("s", 1);
    assert.deepEqual(await withTimeout(granted, 20_000, "the SUBSCRIBE"), 1);
    for (const p of pending) p.catch(() => {});
    await c.disconnect();
  });
});
