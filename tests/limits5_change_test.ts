// MQTT 5: a broker restarted on the same port with other limits between two
// connections of one client. Its CONNACK's Maximum QoS, Retain Available and
// Maximum Packet Size (MQTT-3.2.2-11, -14, -15) hold for what the session
// kept from the last connection too: a kept publish they refuse is not sent
// (it would close every connection), and is never lost unseen: its publish()
// rejects with an error naming the limit, and the `connected` event's
// `dropped` lists it for whoever no longer awaits it.
import assert from "node:assert/strict";
import { MQTTClient, type SessionStore } from "../mod.ts";
import { MQTTClient as RobustClient } from "../lib/robust.ts";
import { startMosquitto } from "./_brokers.ts";
import { offline, proxyTo } from "./_fault_proxy.ts";
import { test, uniqueId } from "./_test.ts";

const OPTS = { mosquitto: true, timeout: 30_000 };
const STRICT = ["max_qos 1", "max_packet_size 100", "retain_available false"];
const REFUSED = [
  /^RangeError: Cannot resend publish \d+: QoS 2, over the broker's Maximum QoS 1 \(maximumQoS; MQTT-3\.2\.2-11\)$/,
  /^RangeError: Cannot resend publish \d+: 3\d\d bytes, over the broker's Maximum Packet Size 100 \(maximumPacketSize; MQTT-3\.2\.2-15\)$/,
  /^RangeError: Cannot resend publish \d+: retain, and the broker has no retained messages \(Retain Available 0, retainAvailable; MQTT-3\.2\.2-14\)$/,
];
const text = (b: Uint8Array) => new TextDecoder().decode(b);

/** Publishes a QoS 2, a large, a retained and a plain QoS 1 message to `topic`/…; not awaited. */
function publishFour(client: MQTTClient, topic: string): Promise<string>[] {
  const outcome = (p: Promise<void>) => p.then(() => "resolved", (e) => `${e.name}: ${e.message}`);
  return [
    outcome(client.publish(`${topic}/two`, "two", false, 2)),
    outcome(client.publish(`${topic}/big`, "x".repeat(300), false, 1)),
    outcome(client.publish(`${topic}/kept`, "retained", true, 1)),
    outcome(client.publish(`${topic}/fine`, "fine", false, 1)),
  ];
}

test(
  "simple client: kept publishes a restarted broker's new limits refuse are dropped, each named in the connected event's dropped",
  async () => {
    const broker = await startMosquitto();
    const proxy = await proxyTo(broker);
    const topic = uniqueId("limits-change");
    const store: SessionStore = { outgoing: new Map(), incoming: new Set() };
    const client = new MQTTClient(uniqueId("c"), proxy.url, {
      protocolVersion: 5,
      sessionStore: store,
    });
    const sub = new MQTTClient(uniqueId("s"), broker.url, { protocolVersion: 5 });
    const details: { sessionPresent: boolean; dropped?: Error[] }[] = [];
    client.addEventListener("connected", (e) => details.push((e as CustomEvent).detail));
    try {
      await client.connect(false);
      // Written into a dead network: none is acknowledged, all four stay in the session.
      proxy.blackhole(true);
      const outcomes = publishFour(client, topic);
      assert.equal(store.outgoing.size, 4);
      proxy.cut();
      for (const o of await Promise.all(outcomes)) assert.match(o, /^MQTTConnectionError: /);
      proxy.blackhole(false);
      await broker.restart!(STRICT);
      await sub.connect();
      await sub.subscribe(`${topic}/#`, 1);
      assert.equal(await client.connect(false), false);
      assert.deepEqual(details[0], { sessionPresent: false }, "none dropped: no field");
      const dropped = details[1].dropped ?? [];
      assert.equal(dropped.length, 3, "the three the limits refuse, in the session's order");
      dropped.forEach((e, i) => {
        assert.ok(e instanceof RangeError);
        assert.match(`${e.name}: ${e.message}`, REFUSED[i]);
      });
      // The one within the limits goes again, anew (the restarted broker has no session).
      const m = await sub.wait_msg();
      assert.deepEqual([m.topic, text(m.payload)], [`${topic}/fine`, "fine"]);
      await client.ping(); // its PUBACK came before this PINGRESP
      assert.equal(store.outgoing.size, 0, "nothing refused is left to be refused again");
    } finally {
      await client.disconnect();
      await sub.disconnect();
      proxy.close();
      await broker.stop();
    }
  },
  OPTS,
);

test(
  "robust client: publishes kept or queued offline that a restarted broker's new limits refuse reject, each naming its limit",
  async () => {
    const broker = await startMosquitto();
    const proxy = await proxyTo(broker);
    const topic = uniqueId("limits-change-robust");
    const client = new RobustClient(uniqueId("r"), proxy.url, { protocolVersion: 5 });
    client.DELAY = 0.05;
    const details: { sessionPresent: boolean; dropped?: Error[] }[] = [];
    client.addEventListener("connected", (e) => details.push((e as CustomEvent).detail));
    try {
      await client.connect(false);
      proxy.blackhole(true);
      const kept = publishFour(client, topic); // written, unacknowledged: kept in the session
      await offline(client, proxy);
      proxy.blackhole(false);
      const queued = publishFour(client, `${topic}/offline`); // never written: they wait
      await broker.restart!(STRICT);
      proxy.refuse(false);
      const [k, q] = await Promise.all([Promise.all(kept), Promise.all(queued)]);
      for (let i = 0; i < 3; i++) assert.match(k[i], REFUSED[i]);
      assert.equal(k[3], "resolved");
      assert.match(
        q[0],
        /^RangeError: Cannot publish to ".*\/two" with QoS 2: the broker's Maximum QoS is 1 \(maximumQoS; MQTT-3\.2\.2-11\)$/,
      );
      assert.match(
        q[1],
        /with a packet of 3\d\d bytes: over the broker's Maximum Packet Size 100 \(maximumPacketSize; MQTT-3\.2\.2-15\)$/,
      );
      assert.match(
        q[2],
        /with retain: the broker has no retained messages \(Retain Available 0, retainAvailable; MQTT-3\.2\.2-14\)$/,
      );
      assert.equal(q[3], "resolved");
      // The event names the session's three too, the very errors publish() rejected with.
      const dropped = details.at(-1)!.dropped!;
      assert.deepEqual(dropped.map((e) => `${e.name}: ${e.message}`), k.slice(0, 3));
    } finally {
      await client.disconnect();
      proxy.close();
      await broker.stop();
    }
  },
  OPTS,
);

test(
  "robust client: publishes waiting for the old broker's Receive Maximum that the new limits refuse reject, naming the limit",
  async () => {
    const broker = await startMosquitto({ extraConfig: ["max_inflight_messages 1"] });
    const proxy = await proxyTo(broker);
    const topic = uniqueId("limits-change-waiting");
    const client = new RobustClient(uniqueId("w"), proxy.url, { protocolVersion: 5 });
    client.DELAY = 0.05;
    try {
      await client.connect(false);
      assert.equal(client.connack!.properties.receiveMaximum, 1);
      proxy.blackhole(true);
      const first = client.publish(`${topic}/first`, "first", false, 1); // in flight
      const waiting = publishFour(client, topic); // waiting for a slot, never written
      await offline(client, proxy);
      proxy.blackhole(false);
      await broker.restart!([...STRICT, "max_inflight_messages 1"]);
      proxy.refuse(false);
      await first;
      const w = await Promise.all(waiting);
      assert.match(
        w[0],
        /^RangeError: Cannot publish: QoS 2, over the broker's Maximum QoS 1 \(maximumQoS; MQTT-3\.2\.2-11\)$/,
      );
      assert.match(
        w[1],
        /^RangeError: Cannot publish: 3\d\d bytes, over the broker's Maximum Packet Size 100 \(maximumPacketSize; MQTT-3\.2\.2-15\)$/,
      );
      assert.match(
        w[2],
        /^RangeError: Cannot publish: retain, and the broker has no retained messages \(Retain Available 0, retainAvailable; MQTT-3\.2\.2-14\)$/,
      );
      assert.equal(w[3], "resolved");
    } finally {
      await client.disconnect();
      proxy.close();
      await broker.stop();
    }
  },
  OPTS,
);

test(
  "the keepalive follows each connection's CONNACK: Server Keep Alive 10 from a broker with max_keepalive 10, the client's own after a restart without",
  async () => {
    const broker = await startMosquitto({ extraConfig: ["max_keepalive 10"] });
    const client = new RobustClient(uniqueId("k"), broker.url, {
      protocolVersion: 5,
      keepalive: 60,
    });
    client.DELAY = 0.05;
    const keepalives: number[] = [];
    client.addEventListener("connected", () => keepalives.push(client.keepalive));
    try {
      await client.connect(false);
      assert.equal(client.connack!.properties.serverKeepAlive, 10);
      const back = new Promise((r) => client.addEventListener("connected", r, { once: true }));
      await broker.restart!([]);
      await back;
      assert.equal(client.connack!.properties.serverKeepAlive, undefined);
      assert.deepEqual(keepalives, [10, 60]);
      await client.ping();
    } finally {
      await client.disconnect();
      await broker.stop();
    }
  },
  OPTS,
);
