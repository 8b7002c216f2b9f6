// Delivery under network faults, probed from outside against mosquitto
// through the fault proxy: what the fault runs (fault_test.ts) do not reach.
import assert from "node:assert/strict";
import { MQTTClient as Robust } from "../lib/robust.ts";
import { MQTTClient, type ProtocolVersion } from "../mod.ts";
import { startMosquitto } from "./_brokers.ts";
import { FaultProxy } from "./_fault_proxy.ts";
import { test, uniqueId, until } from "./_test.ts";

const text = (b: Uint8Array) => new TextDecoder().decode(b);

/**
 * A subscriber whose handler for a QoS 2 message is still running when its
 * connection is lost and resumed: the broker resends the message on the new
 * connection (MQTT-4.4.0-1), and the resend is held back while the first copy
 * is being handled (it must not be handled twice). The handler then fails:
 * the held resend is the broker's "again", and must be handed out, as a QoS 1
 * one is; otherwise the message waits on the live connection for ever,
 * holding one of the broker's in-flight slots (here its only one: the later
 * messages wait too).
 */
async function handlerFailsAfterResume(robust: boolean, version: ProtocolVersion) {
  const broker = await startMosquitto({ extraConfig: ["max_inflight_messages 1"] });
  // The links on which a PUBLISH was written to the subscriber after the first one.
  const resent = new Set<number>();
  const down = new Map<number, Uint8Array>();
  const proxy = await FaultProxy.start({ hostname: broker.host, port: broker.port }, {
    tap: (e) => {
      if (e.type !== "written" || e.dir !== "down" || e.link === 1) return;
      // The packets' fixed headers, across writes: a CONNACK and a PUBLISH may share one.
      let b = new Uint8Array([...down.get(e.link) ?? [], ...e.bytes]);
      for (;;) {
        let len = 0, i = 1;
        for (let mul = 1; i < b.length; i++, mul *= 128) {
          len += (b[i] & 127) * mul;
          if (!(b[i] & 128)) break;
        }
        if (i >= b.length || b.length < i + 1 + len) break;
        if (b[0] >> 4 === 3) resent.add(e.link);
        b = b.subarray(i + 1 + len);
      }
      down.set(e.link, b);
    },
  });
  const topic = uniqueId("resume-fail");
  const options = { port: proxy.port, protocolVersion: version, keepalive: 10 };
  const sub = robust
    ? new Robust(uniqueId("rfs"), proxy.hostname, options)
    : new MQTTClient(uniqueId("rfs"), proxy.hostname, options);
  if (sub instanceof Robust) sub.DELAY = 0.01;
  const pub = new MQTTClient(uniqueId("rfp"), broker.url, { protocolVersion: version });
  const handled: string[] = [];
  const failures: string[] = [];
  let first = true;
  sub.set_callback(async (_topic, msg) => {
    if (first) {
      first = false;
      // Lost and resumed while this runs; the broker's resend has come.
      proxy.cut();
      await until(() => !sub.connected, "the loss is seen");
      if (!robust) await sub.connect(false);
      await until(() => sub.connected && resent.size > 0, "the broker resends the message");
      throw new Error("handler failed");
    }
    handled.push(text(msg));
  });
  let reading: Promise<void> = Promise.resolve();
  try {
    await sub.connect(false);
    await sub.subscribe(topic, 2);
    reading = (async () => {
      while (handled.length < 3) {
        try {
          await sub.wait_msg();
        } catch (e) {
          failures.push((e as Error).message);
          if (failures.length > 5) return;
        }
      }
    })();
    await pub.connect();
    for (const m of ["m0", "m1", "m2"]) await pub.publish(topic, m, false, 2);
    await until(() => handled.length === 3, "m0 is handled again, then m1 and m2");
    assert.deepEqual(handled, ["m0", "m1", "m2"]);
    assert.equal(failures[0], "handler failed");
  } finally {
    await sub.disconnect();
    await reading;
    await pub.disconnect();
    await proxy.close();
    await broker.stop();
  }
}

for (const version of [4, 5] as const) {
  for (const robust of [true, false]) {
    test(
      `${
        robust ? "robust" : "simple"
      } v${version}: a QoS 2 message whose handler fails after the session resumed is handed out again on that connection`,
      () => handlerFailsAfterResume(robust, version),
      { mosquitto: true, timeout: 30_000 },
    );
  }
}
