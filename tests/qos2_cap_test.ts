// MQTT 3.1.1 has no Receive Maximum: mosquitto takes at most
// max_inflight_messages (default 20) QoS 2 messages in flight from one client
// and answers the rest with a plain PUBREC, then discards them. The client
// keeps at most `maxInflightQoS2` (default 20) of its QoS 2 publishes
// unacknowledged, so that neither a burst of the application's nor the robust
// client's own resend after a reconnect loses any.
import assert from "node:assert/strict";
import { MQTTClient } from "../mod.ts";
import { MQTTClient as Robust } from "../lib/robust.ts";
import { forEachBroker, startMosquitto } from "./_brokers.ts";
import { test, uniqueId, withTimeout } from "./_test.ts";

const text = (b: Uint8Array) => new TextDecoder().decode(b);

/** Reads messages on `sub` until `n` distinct payloads came, or `ms` of quiet; counts each. */
async function collect(sub: MQTTClient, n: number, ms = 3000): Promise<Map<string, number>> {
  const got = new Map<string, number>();
  for (;;) {
    const next = sub.wait_msg();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const quiet = new Promise<null>((r) => timer = setTimeout(r, ms, null));
    const m = await Promise.race([next, quiet]).finally(() => clearTimeout(timer));
    if (m === null) {
      // No more came: the pending wait ends with the connection.
      await sub.disconnect();
      await next.catch(() => {});
      return got;
    }
    const k = text(m!.payload);
    got.set(k, (got.get(k) ?? 0) + 1);
    if (got.size === n) {
      // Anything delivered twice has come by the PINGRESP.
      await sub.ping();
      while ((await sub.check_msg()) !== undefined) got.set(k, got.get(k)! + 1);
      await sub.disconnect();
      return got;
    }
  }
}

forEachBroker("3.1.1: 200 QoS 2 publishes at once all arrive, each once", async (broker) => {
  const topic = uniqueId("q2burst");
  const sub = new MQTTClient(uniqueId("q2bs"), broker.host, { port: broker.port });
  const pub = new MQTTClient(uniqueId("q2bp"), broker.host, { port: broker.port });
  await sub.connect();
  await sub.subscribe(topic, 2);
  await pub.connect();
  await withTimeout(
    Promise.all(Array.from({ length: 200 }, (_, i) => pub.publish(topic, `m${i}`, false, 2))),
    20_000,
    "200 publishes",
  );
  await pub.disconnect();
  const got = await collect(sub, 200);
  assert.equal(got.size, 200, `delivered ${got.size} of 200`);
  assert.deepEqual([...got.values()].filter((c) => c !== 1), [], "each once");
}, { only: ["mosquitto"] });

test("3.1.1: QoS 2 publishes made while mosquitto restarts all arrive after it is back", async () => {
  const broker = await startMosquitto({ persistence: true });
  const topic = uniqueId("q2down");
  const subId = uniqueId("q2ds");
  const sub = new MQTTClient(subId, broker.host, { port: broker.port });
  const pub = new Robust(uniqueId("q2dp"), broker.host, { port: broker.port });
  pub.DELAY = 0.05;
  try {
    await sub.connect(false);
    await sub.subscribe(topic, 2);
    await sub.disconnect();
    await pub.connect(false);
    const lost = new Promise((r) => pub.addEventListener("disconnected", r, { once: true }));
    const restarted = broker.restart!();
    await lost;
    const pubs = Array.from({ length: 100 }, (_, i) => pub.publish(topic, `m${i}`, false, 2));
    await restarted;
    await withTimeout(Promise.all(pubs), 20_000, "100 publishes");
    const again = new MQTTClient(subId, broker.host, { port: broker.port });
    assert.equal(await again.connect(false), true);
    const got = await collect(again, 100);
    assert.equal(got.size, 100, `delivered ${got.size} of 100`);
    assert.deepEqual([...got.values()].filter((c) => c !== 1), [], "each once");
  } finally {
    await pub.disconnect();
    await broker.stop();
  }
});
