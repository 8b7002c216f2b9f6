// What NATS 2.9's MQTT listener (tests/_nats.ts) refuses, and how the
// client reports it: an MQTT 5 CONNECT (a 3.1.1 CONNACK, return code 1,
// read as reason code 0x84), a QoS 2 SUBSCRIBE (granted 1), a filter or
// topic with "." or " " (SUBACK 0x80; the PUBLISH closes the connection), a
// QoS 2 PUBLISH (closes the connection). NATS closes with an end of stream,
// not a reset, so the robust client does not take it for a refusal
// (lib/_refusals.ts, README "How messages flow"): it resends that publish
// first on every connection, for ever, and a publish made after it waits
// behind it.
import assert from "node:assert/strict";
import { MQTTClient, MQTTConnectionError, MQTTException } from "../mod.ts";
import { MQTTClient as RobustClient } from "../lib/robust.ts";
import { REFUSALS } from "../lib/_refusals.ts";
import { natsAvailable, startNatsCluster } from "./_nats.ts";
import { test, uniqueId, until } from "./_test.ts";

const ignore = !natsAvailable();

test(
  "NATS: an MQTT 5 CONNECT is refused as 0x84, QoS 2 subscribes are granted 1, '.' in a topic is refused, a QoS 2 publish closes the connection",
  async () => {
    const cluster = await startNatsCluster();
    const url = cluster.nodes[0].mqttUrl;
    const base = uniqueId("nl");
    try {
      const v5 = new MQTTClient(`${base}-5`, url, { protocolVersion: 5 });
      await assert.rejects(v5.connect(), (e) => e instanceof MQTTException && e.code === 0x84);

      const sub = new MQTTClient(`${base}-s`, url);
      await sub.connect();
      assert.equal(await sub.subscribe(`${base}/q2`, 2), 1);
      for (const filter of [`${base}/a.b`, `${base}/a b`]) {
        await assert.rejects(
          sub.subscribe(filter, 1),
          (e) => e instanceof MQTTException && e.code === 0x80,
        );
      }
      await sub.disconnect();

      for (const [topic, qos] of [[`${base}/a.b`, 1], [`${base}/q2`, 2]] as const) {
        const pub = new MQTTClient(`${base}-p`, url);
        await pub.connect();
        await assert.rejects(
          pub.publish(topic, "x", false, qos),
          (e) => e instanceof MQTTConnectionError && e.cause === undefined,
        );
        await pub.disconnect().catch(() => {});
      }
    } finally {
      await cluster.stop();
    }
  },
  { ignore, timeout: 30_000 },
);

test(
  "NATS, robust: a QoS 2 publish is resent on connection after connection, never given up, and a QoS 1 publish after it waits",
  async () => {
    const cluster = await startNatsCluster();
    const c = new RobustClient(uniqueId("nlr"), cluster.nodes[0].mqttUrl);
    c.DELAY = 0.01;
    let lost = 0;
    c.addEventListener("disconnected", () => lost++);
    const settled: string[] = [];
    try {
      await c.connect(false);
      const topic = uniqueId("nlr");
      const q2 = c.publish(`${topic}/q2`, "x", false, 2).then(
        () => settled.push("q2 resolved"),
        (e) => settled.push(`q2 rejected: ${e}`),
      );
      const q1 = c.publish(`${topic}/q1`, "y", false, 1).then(
        () => settled.push("q1 resolved"),
        (e) => settled.push(`q1 rejected: ${e}`),
      );
      // A reset on the same publish this many times in a row would have given it up.
      await until(() => lost > REFUSALS + 1, `${REFUSALS + 2} connections closed`, 20_000);
      assert.deepEqual(settled, []);
      void q2, q1;
    } finally {
      await c.disconnect();
      await c.connect(true).then(() => c.disconnect(), () => {});
      await cluster.stop();
    }
  },
  { ignore, timeout: 40_000 },
);
