// README "From MQTT.js": what a program ported from MQTT.js meets, measured
// against mosquitto (the MQTT.js side of each claim was measured with
// npm:mqtt@5 in the audit; no test here depends on it).
import assert from "node:assert/strict";
import { MQTTClient as Simple } from "../mod.ts";
import { forEachBroker } from "./_brokers.ts";
import { offline, proxyTo } from "./_fault_proxy.ts";
import { robust } from "./_robust.ts";
import { uniqueId } from "./_test.ts";

const text = (b: Uint8Array) => new TextDecoder().decode(b);

forEachBroker(
  "robust: a QoS 1 message published during the first cut arrives after connect(false), not after connect()",
  async (broker, v) => {
    const got: Record<string, string[]> = {};
    for (const clean of [true, false]) {
      const proxy = await proxyTo(broker);
      const { c } = robust(proxy, v);
      const topic = uniqueId("mjs/outage");
      const pub = new Simple(uniqueId("mjs-pub"), broker.host, { port: broker.port });
      try {
        await c.connect(clean);
        await c.subscribe(topic, 1);
        await offline(c, proxy);
        await pub.connect();
        await pub.publish(topic, "during", false, 1);
        const back = new Promise((r) => c.addEventListener("connected", r, { once: true }));
        proxy.refuse(false);
        await back;
        // The subscription is there either way, renewed or kept in the session; a SUBSCRIBE
        // goes after the renewal's, so once answered, the renewal is in place.
        await c.subscribe(topic, 1);
        await pub.publish(topic, "after", false, 1);
        const seen: string[] = [];
        while (seen.at(-1) !== "after") seen.push(text((await c.wait_msg()).payload));
        got[String(clean)] = seen;
      } finally {
        await pub.disconnect();
        await c.disconnect();
        if (!clean) {
          await c.connect(true); // leaves no session behind
          await c.disconnect();
        }
        await proxy.close();
      }
    }
    assert.deepEqual(got, { true: ["after"], false: ["during", "after"] });
  },
  { only: ["mosquitto"], versions: [4, 5] },
);

forEachBroker(
  "subscription identifiers: an array even of one; mosquitto sends a copy per matching subscription, none for one without",
  async (broker, protocolVersion) => {
    const c = new Simple(uniqueId("mjs-sid"), broker.host, { port: broker.port, protocolVersion });
    await c.connect();
    try {
      const topic = uniqueId("mjs/sid");
      await c.subscribe(`${topic}/#`, { qos: 1, subscriptionIdentifier: 3 });
      await c.subscribe(`${topic}/x`, { qos: 1, subscriptionIdentifier: 4 });
      await c.subscribe(`${topic}/+`, { qos: 1 });
      await c.publish(`${topic}/x`, "m", false, 1);
      const ids = [];
      for (let i = 0; i < 3; i++) {
        ids.push((await c.wait_msg()).properties?.subscriptionIdentifiers);
      }
      assert.deepEqual(
        ids.map((x) => JSON.stringify(x) ?? "none").sort(),
        ["[3]", "[4]", "none"],
      );
      assert.equal(await c.check_msg(), undefined);
    } finally {
      await c.disconnect();
    }
  },
  { only: ["mosquitto"], versions: [5] },
);

forEachBroker(
  "MQTT 5: Clean Start 0 with no Session Expiry (MQTT.js's clean: false) keeps no session; connect(false) keeps it",
  async (broker, protocolVersion) => {
    const id = uniqueId("mjs-expiry");
    const opts = { port: broker.port, protocolVersion };
    // sessionExpiryInterval 0 sends the CONNECT MQTT.js sends: no expiry, which means 0.
    const present: boolean[] = [];
    for (const o of [{ sessionExpiryInterval: 0 }, {}]) {
      const c = new Simple(id, broker.host, { ...opts, ...o });
      await c.connect(false);
      await c.disconnect();
      present.push(await c.connect(false));
      await c.disconnect();
    }
    const end = new Simple(id, broker.host, opts);
    await end.connect(true);
    await end.disconnect();
    assert.deepEqual(present, [false, true]);
  },
  { only: ["mosquitto"], versions: [5] },
);
