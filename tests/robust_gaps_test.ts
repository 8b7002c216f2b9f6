// The robust client's behaviour that mutation testing found unpinned: the
// offline limits' boundaries and their release after a reconnect.
import assert from "node:assert/strict";
import { MQTTConnectionError } from "../mod.ts";
import { MQTTClient } from "../lib/robust.ts";
import { forEachBroker } from "./_brokers.ts";
import type { ProtocolVersion } from "../lib/codec/packet.ts";
import { type FaultProxy, offline, proxyTo } from "./_fault_proxy.ts";
import { acceptConnect, type HostileBroker, withHostileBroker } from "./_hostile_broker.ts";
import { test, uniqueId, withTimeout } from "./_test.ts";

const TIMEOUT = { timeout: 20_000 };

/** A robust client through `proxy` with short delays. */
function robust(
  proxy: FaultProxy,
  protocolVersion: ProtocolVersion,
  options: ConstructorParameters<typeof MQTTClient>[2] = {},
): MQTTClient {
  const c = new MQTTClient(uniqueId("gap"), proxy.hostname, {
    port: proxy.port,
    protocolVersion,
    ...(options as object),
  });
  c.DELAY = 0.02;
  return c;
}

forEachBroker(
  "offline limits: a payload of exactly maxOfflineBytes waits, and the room it took is freed once it is sent",
  async (broker, v) => {
    const proxy = await proxyTo(broker);
    const c = robust(proxy, v, {
      maxOfflineMessages: 1,
      maxOfflineBytes: 1000,
      whenOfflineFull: "reject",
    });
    const u = uniqueId("edge");
    try {
      await c.connect(false);
      for (let round = 1; round <= 2; round++) {
        await offline(c, proxy);
        // Exactly the limit: no RangeError, and the queue is not full before it.
        const fits = c.publish(u, new Uint8Array(1000), false, 1);
        fits.catch(() => {}); // awaited below
        await assert.rejects(
          c.publish(u, "x", false, 1),
          /Offline queue full: 1 messages \(1000 bytes\)/,
          `round ${round}`,
        );
        proxy.refuse(false);
        // The second round finds the count and the bytes of the first given back.
        await fits;
      }
    } finally {
      await c.disconnect();
      await c.connect(true).then(() => c.disconnect(), () => {});
      await proxy.close();
    }
  },
);

test("the default maxOfflineBytes is 16 MiB: one byte more rejects at once, naming it", async () => {
  const c = new MQTTClient(uniqueId("gap"), "127.0.0.1", { port: 1 });
  await assert.rejects(
    c.publish("t", new Uint8Array(16 * 1024 * 1024 + 1), false, 1),
    /16777217 bytes, over maxOfflineBytes 16777216/,
  );
  await c.disconnect();
});

test(
  "a reconnect without session renews every granted filter in one SUBSCRIBE, not one the SUBACK refused (0x80)",
  async () => {
    let hb: HostileBroker | undefined;
    const renewed: string[][] = [];
    await withHostileBroker(async (peer) => {
      await acceptConnect(peer); // Session Present 0, every time
      if (hb!.peers.indexOf(peer) === 0) {
        const one = await peer.expect("subscribe");
        await peer.write({ type: "suback", packetId: one.packetId, returnCodes: [1] });
        const sub = await peer.expect("subscribe");
        await peer.write({ type: "suback", packetId: sub.packetId, returnCodes: [1, 0x80] });
        return peer.end();
      }
      const renewal = await peer.expect("subscribe");
      renewed.push(renewal.subscriptions.map((s) => s.topic));
      await peer.write({ type: "suback", packetId: renewal.packetId, returnCodes: [1, 1] });
      await peer.expect("disconnect");
    }, async (broker) => {
      hb = broker;
      const c = new MQTTClient(uniqueId("gap"), broker.url);
      c.DELAY = 0;
      await c.connect(false);
      const lost = new Promise((r) => c.addEventListener("disconnected", r, { once: true }));
      assert.equal(await c.subscribe("first", 1), 1);
      assert.deepEqual(await c.subscribe([["granted", 1], ["refused", 1]]), [1, 0x80]);
      await lost;
      await c.reconnect(); // resolves once the subscriptions are renewed
      assert.deepEqual(renewed, [["first", "granted"]]);
      await c.disconnect();
      for (const peer of broker.peers) await peer.clientClosed;
    });
  },
  TIMEOUT,
);

test(
  "the client's signal rejects a publish that waits for its PUBACK on a live connection",
  async () => {
    await withHostileBroker(async (peer) => {
      await acceptConnect(peer);
      await peer.expect("publish"); // never acknowledged
      await peer.clientClosed;
    }, async (broker) => {
      const controller = new AbortController();
      const c = new MQTTClient(uniqueId("gap"), broker.url, { signal: controller.signal });
      try {
        await c.connect(false);
        const sent = c.publish("t", "x", false, 1);
        sent.catch(() => {}); // awaited below
        while (broker.peers[0].received.at(-1)?.type !== "publish") {
          await new Promise((r) => setTimeout(r, 5));
        }
        const why = new Error("stopped");
        controller.abort(why);
        await assert.rejects(withTimeout(sent, 5000, "the publish"), (e) => e === why);
      } finally {
        await c.disconnect();
      }
    });
  },
  TIMEOUT,
);

forEachBroker(
  "the client's signal ends every publish waiting for room in the offline queue",
  async (broker, v) => {
    const proxy = await proxyTo(broker);
    const controller = new AbortController();
    const c = robust(proxy, v, { maxOfflineMessages: 1, signal: controller.signal });
    try {
      await c.connect(false);
      await offline(c, proxy);
      const u = uniqueId("room");
      const all = ["1", "2", "3"].map((m) => c.publish(u, m, false, 1));
      const why = new Error("stopped");
      const settled = Promise.allSettled(all);
      controller.abort(why);
      for (const r of await withTimeout(settled, 5000, "the publishes")) {
        assert.equal(r.status, "rejected");
        assert.ok(
          (r as PromiseRejectedResult).reason === why ||
            (r as PromiseRejectedResult).reason instanceof MQTTConnectionError,
          String((r as PromiseRejectedResult).reason),
        );
      }
    } finally {
      await c.disconnect();
      await proxy.close();
    }
  },
);

forEachBroker(
  "a reconnecting event's error is the last attempt's failure, not the loss that started the outage",
  async (broker, v) => {
    const proxy = await proxyTo(broker);
    const c = robust(proxy, v);
    const errors: unknown[] = [];
    let seen!: () => void;
    const two = new Promise<void>((r) => seen = r);
    c.addEventListener("reconnecting", (e) => {
      errors.push((e as CustomEvent).detail.error);
      if (errors.length === 2) seen();
    });
    try {
      await c.connect(false);
      const lost = new Promise<CustomEvent>((r) =>
        c.addEventListener("disconnected", (e) => r(e as CustomEvent), { once: true })
      );
      proxy.refuse(true);
      proxy.cut();
      const loss = (await lost).detail.error;
      await two;
      assert.equal(errors[0], loss);
      assert.ok(errors[1] instanceof Error && errors[1] !== loss, String(errors[1]));
    } finally {
      await c.disconnect();
      await proxy.close();
    }
  },
);

test(
  "subscriptions renewed once are not renewed again when the next broker has the session",
  async () => {
    let hb: HostileBroker | undefined;
    await withHostileBroker(async (peer) => {
      const n = hb!.peers.indexOf(peer);
      await peer.expect("connect");
      await peer.write({ type: "connack", sessionPresent: n === 2, returnCode: 0 });
      const sub = await peer.expect(n === 2 ? "pingreq" as "subscribe" : "subscribe");
      if (n === 2) {
        await peer.write({ type: "pingresp" });
        return void await peer.expect("disconnect");
      }
      await peer.write({ type: "suback", packetId: sub.packetId, returnCodes: [1] });
      peer.end();
    }, async (broker) => {
      hb = broker;
      const c = new MQTTClient(uniqueId("gap"), broker.url);
      c.DELAY = 0;
      await c.connect(false);
      for (let lost = 0; lost < 2; lost++) {
        const gone = new Promise((r) => c.addEventListener("disconnected", r, { once: true }));
        if (lost === 0) assert.equal(await c.subscribe("a", 1), 1);
        await gone;
      }
      assert.equal(await c.reconnect(), true);
      await c.ping(); // the next packet after the third CONNACK: no SUBSCRIBE before it
      await c.disconnect();
      for (const peer of broker.peers) await peer.clientClosed;
    });
  },
  TIMEOUT,
);

forEachBroker(
  "reconnect() on a connected client resolves with this connection's session-present flag",
  async (broker, v) => {
    const c = new MQTTClient(uniqueId("present"), broker.host, {
      port: broker.port,
      protocolVersion: v,
    });
    try {
      // A new client id: no session, and reconnect() says so rather than `true`.
      assert.equal(await c.connect(false), false);
      assert.equal(await c.reconnect(), false);
      await c.subscribe(uniqueId("keep"), 1); // aedes keeps a session only with a subscription
      await c.disconnect();
      assert.equal(await c.connect(false), true);
      assert.equal(await c.reconnect(), true);
    } finally {
      await c.disconnect();
    }
  },
  { versions: [4, 5] },
);
