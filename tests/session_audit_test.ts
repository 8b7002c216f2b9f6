// Sessions and wills, audited adversarially (session 47): what a kept session
// owes across connections, against mosquitto 2.0.11 and scripted brokers.
import assert from "node:assert/strict";
import { MQTTClient } from "../mod.ts";
import { MQTTClient as RobustClient } from "../lib/robust.ts";
import { forEachBroker } from "./_brokers.ts";
import { offline, proxyTo } from "./_fault_proxy.ts";
import { withHostileBroker } from "./_hostile_broker.ts";
import { Tap } from "./_tap.ts";
import { test, uniqueId, withTimeout } from "./_test.ts";

const text = (b: Uint8Array) => new TextDecoder().decode(b);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

forEachBroker(
  "a QoS 1 message still queued from a session the broker ended is handed out after a later Session Present 1, which does not bring it again",
  async (broker, protocolVersion) => {
    const u = uniqueId("ended");
    const tap = new Tap(broker.host, broker.port);
    const c = new MQTTClient(uniqueId("ended"), broker.host, {
      transport: tap.transport,
      protocolVersion,
    });
    const pub = new MQTTClient(uniqueId("pub"), broker.host, {
      port: broker.port,
      protocolVersion,
    });
    await pub.connect();
    // A clean session: the broker forgets it, and its unacknowledged message, when it ends.
    await c.connect(true);
    await c.subscribe(`${u}/t`, 1);
    await pub.publish(`${u}/t`, "kept", false, 1);
    await withTimeout(
      (async () => {
        while (!tap.conns[0].read.some((p) => p.type === "publish")) await sleep(10);
      })(),
      5000,
      "the message queued, not handled",
    );
    const cut = (i: number) =>
      new Promise((lost) => {
        c.addEventListener("disconnected", lost, { once: true });
        tap.conns[i].cut();
      });
    await cut(0);
    assert.equal(await c.connect(false), false, "a new session");
    await cut(1);
    assert.equal(await c.connect(false), true, "the new session, resumed");
    await c.ping(); // anything the broker sends again comes before PINGRESP
    const m = await c.check_msg();
    assert.equal(m && text(m.payload), "kept", "the queued message, never sent again, is kept");
    await c.disconnect();
    await c.connect(true);
    await c.disconnect();
    await pub.disconnect();
  },
  { only: ["mosquitto"], versions: [4, 5] },
);

test(
  "a QoS 1 message queued before a CONNECT that went unanswered is kept at the next Session Present 1: that CONNECT may have made the session",
  async () => {
    let connections = 0;
    await withHostileBroker(async (peer) => {
      const i = connections++;
      await peer.expect("connect");
      if (i === 0) {
        await peer.write({ type: "connack", sessionPresent: false, returnCode: 0 });
        const payload = new TextEncoder().encode("kept");
        await peer.write({
          type: "publish",
          topic: "t",
          payload,
          qos: 1,
          retain: false,
          dup: false,
          packetId: 7,
        });
        await peer.expect("pingreq");
        await peer.write({ type: "pingresp" });
        peer.end();
      } else if (i === 1) {
        // A broker restarted without persistence: this CONNECT makes a new, empty session,
        // and the connection ends before its CONNACK reaches the client.
        peer.end();
      } else {
        // That session, present: it holds no message to send again.
        await peer.write({ type: "connack", sessionPresent: true, returnCode: 0 });
        await peer.expect("pingreq");
        await peer.write({ type: "pingresp" });
        await peer.clientClosed;
      }
    }, async (broker) => {
      const c = new MQTTClient(uniqueId("unans"), broker.url);
      const lost = new Promise((r) => c.addEventListener("disconnected", r, { once: true }));
      assert.equal(await c.connect(false), false);
      await c.ping(); // the message came before the PINGRESP
      await lost;
      await assert.rejects(c.connect(false), /closed by the broker before its CONNACK/);
      assert.equal(await c.connect(false), true);
      await c.ping();
      const m = await c.check_msg();
      assert.equal(m && text(m.payload), "kept", "handed out, not dropped as if sent again");
      await c.disconnect();
    });
  },
  { timeout: 10_000 },
);

forEachBroker(
  "robust: connect(false) made while the reconnect waits, to a broker without the session, renews the subscriptions as the reconnect would",
  async (broker, protocolVersion) => {
    const u = uniqueId("appsp0");
    const proxy = await proxyTo(broker);
    const c = new RobustClient(uniqueId("appsp0"), proxy.hostname, {
      port: proxy.port,
      protocolVersion,
    });
    c.DELAY = 60; // the reconnect waits: the application's connect() goes first
    await c.connect(false);
    await c.subscribe(`${u}/t`, 1);
    await offline(c, proxy);
    // The broker loses the session meanwhile (as a restart without persistence would).
    const other = new MQTTClient(c.client_id, broker.host, { port: broker.port, protocolVersion });
    await other.connect(true);
    await other.disconnect();
    proxy.refuse(false);
    assert.equal(await c.connect(false), false, "no session");
    await c.publish(`${u}/t`, "after", false, 1);
    const m = await withTimeout(c.wait_msg(), 5000, "a message of the renewed subscription");
    assert.equal(text(m.payload), "after");
    await c.disconnect();
    await c.connect(true);
    await c.disconnect();
    await proxy.close();
  },
  { only: ["mosquitto"], versions: [4, 5], timeout: 20_000 },
);

forEachBroker(
  "disconnect({ sessionExpiryInterval }) after connect(false) with sessionExpiryInterval 0 is refused, saying why: not as if connect(true) had been called",
  async (broker) => {
    const c = new MQTTClient(uniqueId("se0"), broker.host, {
      port: broker.port,
      protocolVersion: 5,
      sessionExpiryInterval: 0,
    });
    await c.connect(false);
    await assert.rejects(c.disconnect({ sessionExpiryInterval: 60 }), (e: Error) => {
      assert.ok(e instanceof RangeError);
      assert.doesNotMatch(e.message, /connect\(true\) without sessionExpiryInterval\)/);
      assert.match(e.message, /sessionExpiryInterval: 0/);
      return true;
    });
    assert.equal(c.connected, true);
    await c.disconnect();
  },
  { only: ["mosquitto"], versions: [5] },
);
