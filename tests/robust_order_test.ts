// The robust client keeps publishes in call order across a reconnect
// ("Packets go out in the order of the calls that send them"): those that
// waited for the connection, or for their turn under the broker's Receive
// Maximum, go before anything published as the connection comes back.
import assert from "node:assert/strict";
import { MQTTClient as Simple } from "../mod.ts";
import { MQTTClient } from "../lib/robust.ts";
import { type Broker, forEachBroker, startMosquitto } from "./_brokers.ts";
import { FaultProxy } from "./_fault_proxy.ts";
import { withHostileBroker } from "./_hostile_broker.ts";
import { test, uniqueId } from "./_test.ts";
import type { ProtocolVersion } from "../lib/codec/packet.ts";

const TIMEOUT = { timeout: 20_000 };

/**
 * A subscriber to `topic` on `broker` and a robust publisher through a
 * fault proxy; `run` publishes `count` payloads, which arrive in `got`, each
 * once, in the order they first came (waited for up to 5 s).
 */
async function ordered(
  broker: Broker,
  v: ProtocolVersion,
  count: number,
  run: (pub: MQTTClient, proxy: FaultProxy, topic: string) => Promise<void>,
): Promise<string[]> {
  const topic = uniqueId("order");
  const sub = new Simple(uniqueId("os"), broker.host, { port: broker.port, protocolVersion: v });
  await sub.connect();
  await sub.subscribe(topic, 1);
  const got: string[] = [];
  sub.set_callback((_t, msg) => {
    const text = new TextDecoder().decode(msg);
    if (!got.includes(text)) got.push(text);
  });
  const reading = (async () => {
    try {
      for (;;) await sub.wait_msg();
    } catch { /* disconnected */ }
  })();
  const proxy = await FaultProxy.start({ hostname: broker.host, port: broker.port });
  const pub = new MQTTClient(uniqueId("op"), proxy.hostname, {
    port: proxy.port,
    protocolVersion: v,
  });
  pub.DELAY = 0;
  try {
    await pub.connect(false);
    await run(pub, proxy, topic);
    // Acknowledged to the publisher, they may still be on their way to the
    // subscriber: a PINGRESP on its connection need not come after them (aedes under Bun).
    for (const end = Date.now() + 5000; got.length < count && Date.now() < end;) {
      await new Promise((r) => setTimeout(r, 5));
    }
    return got;
  } finally {
    await pub.disconnect();
    await sub.disconnect();
    await reading;
    await proxy.close();
  }
}

forEachBroker(
  "robust: publishes that waited for the connection go before one made as it comes back",
  async (broker, v) => {
    const got = await ordered(broker, v, 6, async (pub, proxy, topic) => {
      proxy.refuse(true);
      proxy.cut();
      await new Promise((r) => pub.addEventListener("disconnected", r, { once: true }));
      const waiting = [0, 1, 2, 3, 4].map((i) => pub.publish(topic, String(i), false, 1));
      // Published as the connection comes back, while those above still wait for it.
      let late!: Promise<void>;
      pub.addEventListener("connected", () => (late = pub.publish(topic, "late", false, 1)), {
        once: true,
      });
      proxy.refuse(false);
      await Promise.all(waiting);
      await late;
    });
    assert.deepEqual(got, ["0", "1", "2", "3", "4", "late"]);
  },
  { versions: [4, 5], ...TIMEOUT },
);

test(
  "robust: publishes waiting for the broker's Receive Maximum keep their turn across a reconnect",
  async () => {
    // mosquitto's max_inflight_messages is its Receive Maximum (MQTT 5).
    const broker = await startMosquitto({ extraConfig: ["max_inflight_messages 2"] });
    try {
      const got = await ordered(broker, 5, 7, async (pub, proxy, topic) => {
        // Two go out, four wait for the window; the connection is lost first.
        const all = [0, 1, 2, 3, 4, 5].map((i) => pub.publish(topic, String(i), false, 1));
        let late!: Promise<void>;
        pub.addEventListener("disconnected", () => (late = pub.publish(topic, "late", false, 1)), {
          once: true,
        });
        proxy.cut();
        await Promise.all(all);
        await late;
      });
      assert.deepEqual(got, ["0", "1", "2", "3", "4", "5", "late"]);
    } finally {
      await broker.stop();
    }
  },
  TIMEOUT,
);

test(
  "robust: a publish that waited for room in the offline queue goes after those that waited for the connection, though room is made while the subscriptions are renewed",
  async () => {
    // A scripted broker: the first connection takes a SUBSCRIBE and ends; the second says
    // Session Present 0, so the client renews it, and holds back the SUBACK until told.
    let n = 0, renewing!: () => void, answer!: () => void;
    const renewal = new Promise<void>((r) => renewing = r);
    const answered = new Promise<void>((r) => answer = r);
    const order: string[] = [];
    await withHostileBroker(async (peer) => {
      await peer.expect("connect");
      await peer.write([0x20, 0x02, 0x00, 0x00]); // CONNACK, Session Present 0
      const s = await peer.expect("subscribe");
      if (++n === 1) {
        await peer.write({ type: "suback", packetId: s.packetId, returnCodes: [1] });
        return peer.end();
      }
      renewing();
      await answered;
      await peer.write({ type: "suback", packetId: s.packetId, returnCodes: [1] });
      for (let p; (p = await peer.next().catch(() => null));) {
        if (p.type !== "publish") continue;
        order.push(new TextDecoder().decode(p.payload));
        await peer.write({ type: "puback", packetId: p.packetId! });
      }
    }, async (broker) => {
      const c = new MQTTClient(uniqueId("room"), broker.host, {
        port: broker.port,
        maxOfflineMessages: 2,
      });
      c.DELAY = 0.05;
      const lost = new Promise((r) => c.addEventListener("disconnected", r, { once: true }));
      await c.connect(false);
      await c.subscribe("room/#", 1);
      await lost;
      // Two wait for the connection (the most that may), the third for room.
      const first = new AbortController();
      const withdrawn = c.publish("t", "1", { qos: 1, signal: first.signal }).catch((e) => e);
      const waiting = [c.publish("t", "2", false, 1), c.publish("t", "3", false, 1)];
      await renewal;
      first.abort(); // room for "3" while connected, the reconnect still renewing
      await new Promise((r) => setTimeout(r, 50));
      answer();
      await Promise.all(waiting);
      assert.equal((await withdrawn).name, "AbortError");
      await c.disconnect();
    });
    // Before, "3" went at once, ahead of "2", which waited for the end of the reconnect.
    assert.deepEqual(order, ["2", "3"]);
  },
  TIMEOUT,
);
