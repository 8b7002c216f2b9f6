// MQTT 5 against mosquitto 2.0.11: what only waiting shows, after the Paho
// interoperability suite's client_test5 (test_session_expiry,
// test_will_delay, test_publication_expiry, test_server_keep_alive). Each
// test waits once, a little longer than the intervals it sets, and asserts
// what happened, never how long it took. Apart from client5_test.ts so that
// the waits overlap other files' tests.
import assert from "node:assert/strict";
import { MemorySessionStore, type Message, MQTTClient, type MQTTClientOptions } from "../mod.ts";
import { encodeAck, encodePublish } from "../lib/codec/mod.ts";
import { type Broker, forEachBroker, startMosquitto } from "./_brokers.ts";
import { Tap } from "./_tap.ts";
import { offline, proxyTo } from "./_fault_proxy.ts";
import { test, uniqueId, withTimeout } from "./_test.ts";

const text = (b: Uint8Array) => new TextDecoder().decode(b);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const V5 = { only: ["mosquitto"], versions: [5], timeout: 30_000 } as const;

function options(broker: Broker, more: MQTTClientOptions = {}): MQTTClientOptions {
  return { port: broker.port, protocolVersion: 5, ...more };
}

async function client(broker: Broker, more: MQTTClientOptions = {}, clean = true) {
  const c = new MQTTClient(uniqueId("x5"), broker.host, options(broker, more));
  await c.connect(clean);
  return c;
}

function next(c: MQTTClient, what: string, ms = 10_000): Promise<Message> {
  return withTimeout(c.wait_msg(), ms, what);
}

forEachBroker(
  "session expiry: a session ends its interval after the connection, as CONNECT or DISCONNECT set it",
  async (broker) => {
    const u = uniqueId("expiry");
    const make = (more: MQTTClientOptions) =>
      new MQTTClient(uniqueId("se"), broker.host, options(broker, more));
    const short = make({ sessionExpiryInterval: 1 });
    const extended = make({ sessionExpiryInterval: 1 });
    const forever = make({}); // connect(false): 0xFFFFFFFF
    for (const c of [short, extended, forever]) {
      assert.equal(await c.connect(false), false);
      await c.subscribe(`${u}/#`, 1);
    }
    await short.disconnect();
    await extended.disconnect({ sessionExpiryInterval: 3600 });
    await forever.disconnect();
    const pub = await client(broker);
    await pub.publish(`${u}/queued`, "while away", { qos: 1 });
    await sleep(2500); // mosquitto looks at session expiry about once a second
    assert.equal(await short.connect(false), false, "expired after 1 s");
    assert.equal(await extended.connect(false), true, "the DISCONNECT's 3600 s replaced 1 s");
    assert.equal(await forever.connect(false), true, "connect(false) keeps it");
    for (const c of [extended, forever]) {
      assert.equal(text((await next(c, "the queued message")).payload), "while away");
    }
    await short.ping();
    assert.equal(await short.check_msg(), undefined, "nothing kept for the expired session");
    for (const c of [short, extended, forever]) await c.disconnect({ sessionExpiryInterval: 0 });
    await pub.disconnect();
  },
  V5,
);

forEachBroker(
  "will delay: published after the delay, or when the session ends first, not if the client is back",
  async (broker) => {
    const u = uniqueId("willdelay");
    const watcher = await client(broker);
    await watcher.subscribe(`${u}/#`, 1);
    /** A client with a will on `${u}/<name>`, connected through a Tap to cut it. */
    const dying = async (name: string, willDelayInterval: number, more: MQTTClientOptions) => {
      const tap = new Tap(broker.host, broker.port);
      const c = new MQTTClient(uniqueId(name), broker.host, {
        transport: tap.transport,
        protocolVersion: 5,
        ...more,
      });
      c.set_last_will(`${u}/${name}`, `${name}'s will`, false, 1, {
        properties: { willDelayInterval },
      });
      await c.connect(false);
      return { c, cut: () => tap.conns.at(-1)!.cut() };
    };
    // Back within its 2 s: no will (MQTT-3.1.3-9).
    const back = await dying("back", 2, {});
    back.cut();
    await back.c.ping().catch(() => {});
    assert.equal(await back.c.connect(false), true);
    // Gone: its will comes 3 s later, after a message published right now.
    const gone = await dying("gone", 3, {});
    gone.cut();
    await watcher.publish(`${u}/marker`, "right after the cut", { qos: 1 });
    // A session that ends (after 1 s) before the delay (60 s) ends it too.
    // (mosquitto 2.0.11 waits out the delay when the session expiry is 0.)
    const ends = await dying("ends", 60, { sessionExpiryInterval: 1 });
    ends.cut();
    const got = [];
    for (let i = 0; i < 3; i++) got.push(text((await next(watcher, `message ${i}`)).payload));
    assert.deepEqual(got, ["right after the cut", "ends's will", "gone's will"]);
    // By now back's 2 s are over too: still no will from it.
    await watcher.publish(`${u}/marker`, "marker", { qos: 1 });
    assert.equal(text((await next(watcher, "the marker")).payload), "marker");
    await back.c.disconnect();
    for (const c of [back.c, gone.c]) {
      await c.connect(true);
      await c.disconnect();
    }
    await watcher.disconnect();
  },
  V5,
);

forEachBroker(
  "the will's properties reach its subscribers; disconnect({ reasonCode: 0x04 }) publishes it",
  async (broker) => {
    const u = uniqueId("will");
    const watcher = await client(broker);
    await watcher.subscribe(`${u}/#`, 1);
    const properties = {
      payloadFormatIndicator: true,
      messageExpiryInterval: 3600,
      contentType: "text/plain",
      responseTopic: `${u}/answer`,
      correlationData: Uint8Array.of(1, 2, 3),
      userProperties: [["a", "1"], ["a", "2"]] as [string, string][],
    };
    const c = new MQTTClient(uniqueId("w"), broker.host, options(broker));
    c.set_last_will(`${u}/will`, "goodbye", { qos: 1, properties });
    await c.connect();
    await c.disconnect({ reasonCode: 0x04, reasonString: "with will" });
    const will = await next(watcher, "the will");
    assert.equal(text(will.payload), "goodbye");
    const { messageExpiryInterval, ...rest } = will.properties!;
    const { messageExpiryInterval: _, ...expected } = properties;
    assert.deepEqual(rest, expected);
    assert.ok(messageExpiryInterval! <= 3600 && messageExpiryInterval! > 3590);
    await watcher.disconnect();
  },
  V5,
);

forEachBroker(
  "message expiry: a retained or queued message expires; one that does not comes with the time left",
  async (broker) => {
    const u = uniqueId("msgexp");
    const away = await client(broker, {}, false);
    await away.subscribe(`${u}/q/#`, 1);
    await away.disconnect();
    const pub = await client(broker);
    const publish = (topic: string, retain: boolean, messageExpiryInterval?: number) =>
      pub.publish(`${u}/${topic}`, topic, {
        qos: 1,
        retain,
        properties: messageExpiryInterval ? { messageExpiryInterval } : undefined,
      });
    await publish("r/short", true, 1);
    await publish("r/long", true, 60);
    await publish("q/short", false, 1);
    await publish("q/long", false, 60);
    await publish("q/none", false);
    await sleep(2500);
    const late = await client(broker);
    await late.subscribe([[`${u}/r/+`, 1], [`${u}/marker`, 1]]);
    await pub.publish(`${u}/marker`, "marker", { qos: 1 });
    const retained = await next(late, "the retained message");
    assert.deepEqual([retained.topic, retained.retain], [`${u}/r/long`, true]);
    const left = retained.properties!.messageExpiryInterval!;
    assert.ok(left > 0 && left < 60, `time left ${left}`);
    assert.equal((await next(late, "the marker")).topic, `${u}/marker`, "r/short expired");
    assert.equal(await away.connect(false), true);
    const queued = [await next(away, "1st queued"), await next(away, "2nd queued")];
    assert.deepEqual(queued.map((m) => m.topic), [`${u}/q/long`, `${u}/q/none`], "q/short expired");
    assert.ok(queued[0].properties!.messageExpiryInterval! < 60);
    assert.deepEqual(queued[1].properties, {}, "no expiry: none given");
    await pub.publish(`${u}/r/long`, "", { qos: 1, retain: true });
    await away.disconnect({ sessionExpiryInterval: 0 });
    await late.disconnect();
    await pub.disconnect();
  },
  V5,
);

forEachBroker(
  "message expiry 0: mosquitto 2.0 takes it as none, keeps the queued and retained copies and sends them without it",
  async (broker) => {
    // MQTT 5.0 section 3.3.2.3.3: a lifetime of 0 s has passed at once (MQTT-3.3.2-5), and a
    // forwarded copy carries what is left (MQTT-3.3.2-6). mosquitto 2.0.11 stores 0 as "never"
    // (the README says so): this pins that, so a broker that starts to obey is noticed.
    const u = uniqueId("msgexp0");
    const away = await client(broker, {}, false);
    await away.subscribe(`${u}/q`, 1);
    await away.disconnect();
    const pub = await client(broker);
    const expiry0 = { properties: { messageExpiryInterval: 0 } };
    await pub.publish(`${u}/q`, "queued", { qos: 1, ...expiry0 });
    await pub.publish(`${u}/r`, "retained", { qos: 1, retain: true, ...expiry0 });
    await sleep(1500);
    assert.equal(await away.connect(false), true);
    const queued = await next(away, "the queued message");
    assert.deepEqual([text(queued.payload), queued.properties], ["queued", {}]);
    await away.subscribe(`${u}/r`, 1);
    const retained = await next(away, "the retained message");
    assert.deepEqual([text(retained.payload), retained.retain, retained.properties], [
      "retained",
      true,
      {},
    ]);
    await pub.publish(`${u}/r`, "", { qos: 1, retain: true });
    await away.disconnect({ sessionExpiryInterval: 0 });
    await pub.disconnect();
  },
  V5,
);

forEachBroker(
  "message expiry: a received message's interval is what the broker sent; it does not count down in the client's queue",
  async (broker) => {
    const topic = uniqueId("msgexp/queue");
    const sub = await client(broker);
    await sub.subscribe(topic, 1);
    const pub = await client(broker);
    await pub.publish(topic, "x", { qos: 1, properties: { messageExpiryInterval: 60 } });
    // Read at once, handed out 2.5 s later: the broker sent 60 (or 59 across a second's edge).
    await sleep(2500);
    const left = (await next(sub, "the message")).properties!.messageExpiryInterval!;
    assert.ok(left >= 59, `interval ${left}`);
    await sub.disconnect();
    await pub.disconnect();
  },
  V5,
);

forEachBroker(
  "message expiry: QoS 1 messages queued when the connection was lost and expired by the resume are handed out still, in order",
  async (broker) => {
    // The client drops a QoS 1 message still queued at a resume, since the
    // broker sends it again (MQTT-4.4.0-1); mosquitto does not send one whose
    // Message Expiry Interval passed meanwhile, though its delivery had begun
    // (MQTT-3.3.2-5 lets it delete only one whose delivery had not).
    const u = uniqueId("msgexp");
    const proxy = await proxyTo(broker);
    const sub = new MQTTClient(
      uniqueId("x5"),
      proxy.hostname,
      options(broker, { port: proxy.port }),
    );
    const pub = await client(broker);
    try {
      await sub.connect(false);
      await sub.subscribe(u, 1);
      for (
        const [payload, messageExpiryInterval] of [["a", 3600], ["b", 1], ["c", 3600]] as const
      ) {
        await pub.publish(u, payload, { qos: 1, properties: { messageExpiryInterval } });
      }
      await sub.ping(); // its PINGRESP comes after the three: they are queued, unread
      await offline(sub, proxy);
      await sleep(2500); // "b" expires
      proxy.refuse(false);
      assert.equal(await sub.connect(false), true);
      const got: Message[] = [];
      while (new Set(got.map((m) => text(m.payload))).size < 3) {
        got.push(await next(sub, `the message after ${got.map((m) => text(m.payload))}`));
      }
      const first = [...new Set(got.map((m) => text(m.payload)))];
      assert.deepEqual(first, ["a", "b", "c"], "each once at least, in the order they came");
      const seen = new Set<string>();
      for (const m of got) {
        assert.ok(!seen.has(text(m.payload)) || m.dup, `${text(m.payload)} again without DUP`);
        seen.add(text(m.payload));
      }
    } finally {
      await sub.disconnect({ sessionExpiryInterval: 0 }).catch(() => {});
      await pub.disconnect();
      await proxy.close();
    }
  },
  V5,
);

test("server keepalive: the client pings at the broker's interval, whatever its own", async () => {
  const broker = await startMosquitto({ extraConfig: ["max_keepalive 10"] });
  try {
    // Keepalive 0 (off) and 60: mosquitto answers 10 to both, and would close
    // a connection silent for 15 s.
    const clients = await Promise.all([0, 60].map(async (keepalive) => {
      const tap = new Tap(broker.host, broker.port);
      const c = new MQTTClient(uniqueId("ka"), broker.host, {
        transport: tap.transport,
        protocolVersion: 5,
        keepalive,
      });
      await c.connect();
      return { c, tap };
    }));
    for (const { c } of clients) assert.equal(c.connack!.properties.serverKeepAlive, 10);
    for (const { c, tap } of clients) {
      await withTimeout(
        (async () => {
          while (!tap.conns[0].read.some((p) => p.type === "pingresp")) await sleep(50);
        })(),
        14_000,
        `a PINGREQ answered, keepalive ${c.keepalive}`,
      );
      assert.equal(tap.conns[0].written.filter((p) => p.type === "pingreq").length, 1);
      assert.equal(c.connected, true);
    }
    for (const { c } of clients) await c.disconnect();
  } finally {
    await broker.stop();
  }
}, { mosquitto: true, timeout: 30_000 });

forEachBroker(
  "Session Present 0 after the session expired: the kept publish goes anew and is delivered, the session's PUBREL and QoS 2 ids are dropped (MQTT-3.2.2-5)",
  async (broker) => {
    const u = uniqueId("sp0");
    const sub = await client(broker);
    await sub.subscribe(`${u}/#`, 1);
    const id = uniqueId("sp0");
    const store = new MemorySessionStore();
    const make = () =>
      new MQTTClient(
        id,
        broker.host,
        options(broker, { sessionExpiryInterval: 1, sessionStore: store }),
      );
    const first = make();
    assert.equal(await first.connect(false), false);
    await first.disconnect();
    // What a process that crashed mid-exchange left in its store: a QoS 1
    // PUBLISH unacknowledged, a QoS 2 one past its PUBREC, an incoming QoS 2 id.
    store.outgoing.set(
      5,
      encodePublish({
        type: "publish",
        topic: `${u}/kept`,
        payload: new TextEncoder().encode("kept"),
        qos: 1,
        retain: false,
        dup: false,
        packetId: 5,
      }, 5),
    );
    store.outgoing.set(6, encodeAck({ type: "pubrel", packetId: 6 }, 5));
    store.incoming.add(9);
    await sleep(2500); // mosquitto looks at session expiry about once a second
    const second = make();
    assert.equal(await second.connect(false), false, "expired after 1 s");
    assert.deepEqual([...store.incoming], [], "the session's incoming QoS 2 ids are gone");
    const m = await next(sub, "the kept message");
    assert.equal(text(m.payload), "kept");
    // PUBACK comes before PINGRESP: then nothing is left in the store.
    await second.ping();
    assert.deepEqual([...store.outgoing.keys()], [], "acknowledged; the PUBREL dropped");
    await second.ping();
    assert.equal(await sub.check_msg(), undefined, "delivered once");
    await second.disconnect({ sessionExpiryInterval: 0 });
    await sub.disconnect();
  },
  V5,
);
