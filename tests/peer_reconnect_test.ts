// Reconnect bugs that peer clients (MQTT.js, Paho, rumqttc, pubsubclient…)
// have had, checked against umqtt's robust client on real brokers, with a
// loopback proxy for the faults. Each test names the peer issue it answers;
// the classes already pinned elsewhere are not repeated here.
import assert from "node:assert/strict";
import { MQTTClient as Simple, MQTTConnectionError, MQTTException } from "../mod.ts";
import { MQTTClient, type ReconnectingDetail } from "../lib/robust.ts";
import { forEachBroker, startMosquitto } from "./_brokers.ts";
import type { ProtocolVersion } from "../lib/codec/packet.ts";
import { type FaultProxy, proxyTo } from "./_fault_proxy.ts";
import { endSession, robust as robustThrough } from "./_robust.ts";
import { test, uniqueId, until, withTimeout } from "./_test.ts";

/** A robust client through `proxy`, DELAY 10 ms. */
const robust = (
  proxy: FaultProxy,
  v: ProtocolVersion,
  options: ConstructorParameters<typeof MQTTClient>[2] = {},
) => robustThrough(proxy, v, options, 0.01);

const text = (b: Uint8Array) => new TextDecoder().decode(b);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const BOTH = { versions: [4, 5] } as const;

// pubsubclient#129, emqx#151, nest-mqtt#21: two clients given one client id
// take the session from each other, and each reconnects at once: a loop of
// connect/kick for ever, at the speed of the network.
forEachBroker(
  "client id takeover: two robust clients with one id back off further at each takeover, and the one left stays connected",
  async (broker, v) => {
    const id = uniqueId("twin");
    const twin = () => {
      const c = new MQTTClient(id, broker.host, { port: broker.port, protocolVersion: v });
      c.DELAY = 0.01;
      const delays: number[] = [];
      c.addEventListener("reconnecting", (e) => {
        delays.push((e as CustomEvent<ReconnectingDetail>).detail.delay);
      });
      return { c, delays };
    };
    const a = twin(), b = twin();
    const random = Math.random;
    Math.random = () => 1; // every wait its ceiling
    try {
      await a.c.connect(false);
      await b.c.connect(false); // takes the session over: a is lost, and takes it back…
      await until(() => a.delays.length >= 5 && b.delays.length >= 5, "five takeovers each");
      Math.random = random;
      // Each connection is lost within 10 s of the reconnect that made it: the
      // backoff grows as for a broker that closes every connection at once.
      assert.deepEqual(a.delays.slice(0, 5), [10, 10, 20, 40, 80]);
      assert.deepEqual(b.delays.slice(0, 5), [10, 10, 20, 40, 80]);
      await b.c.disconnect();
      await until(() => a.c.connected, "the twin left reconnects");
      const t = `${id}/t`;
      await a.c.subscribe(t, 1);
      await a.c.publish(t, "still here", false, 1);
      const m = await withTimeout(a.c.wait_msg(), 5000, "a message");
      assert.equal(text(m.payload), "still here");
      assert.equal(a.c.connected, true);
    } finally {
      Math.random = random;
      await b.c.disconnect();
      await endSession(a.c);
    }
  },
  BOTH,
);

// mosquitto#518 (libmosquitto's loop reconnecting for ever on a refused
// CONNACK), hassio-ecoflow-cloud#907 (paho: "Not authorized" every second):
// a refusal of the client itself is retried in a hot loop.
for (const v of [4, 5] as const) {
  test(
    `a broker refusing the client's credentials while it reconnects ends the reconnect: no retry loop; the kept publish and the calls waiting reject with the refusal; fixed credentials reconnect on the next call${
      v === 5 ? " [MQTT 5]" : ""
    }`,
    async () => {
      const broker = await startMosquitto({ passwordFile: [{ user: "dev", password: "good" }] });
      const proxy = await proxyTo(broker);
      let password = "good";
      const { c, attempts } = robust(proxy, v, { user: "dev", password: () => password });
      const u = uniqueId("cred");
      try {
        await c.connect(false);
        await c.subscribe(`${u}/keep`, 1);
        proxy.blackhole(true); // the PUBLISH is written, and lost
        const kept = c.publish(u, "kept", false, 1);
        kept.catch(() => {}); // awaited below
        await until(() => proxy.bytes.dropped > 0, "the PUBLISH is lost");
        password = "revoked"; // rotated on the broker meanwhile
        proxy.refuse(true); // which is down for a while
        proxy.blackhole(false);
        proxy.cut();
        await until(() => attempts.length >= 2, "two refused connections");
        const queued = [
          c.publish(u, "queued", false, 1),
          c.subscribe(`${u}/late`, 1),
          c.wait_msg(),
        ];
        for (const p of queued) p.catch(() => {}); // awaited below
        proxy.refuse(false); // back: the first CONNECT it gets is refused
        for (const p of [kept, ...queued]) {
          const e = await withTimeout(p.then(() => null, (e) => e), 5000, "a waiting call");
          assert.ok(e instanceof MQTTException, `refused: ${e}`);
          assert.equal(e.code, v === 4 ? 5 : 0x87, "not authorized");
        }
        // The next call reconnects anew, once: refused again, not retried.
        await withTimeout(assert.rejects(c.reconnect(), MQTTException), 5000, "reconnect()");
        const tried = attempts.length, accepted = proxy.accepted;
        await sleep(200); // 20 times DELAY: a loop would have tried again by now
        assert.equal(attempts.length, tried, "no attempt after the refusal");
        assert.equal(proxy.accepted, accepted);
        assert.equal(c.connected, false);
        password = "good";
        await withTimeout(
          c.publish(u, "after", false, 1),
          5000,
          "a publish with the credentials fixed",
        );
        assert.equal(c.connected, true);
      } finally {
        await endSession(c);
        await proxy.close();
        await broker.stop();
      }
    },
    { mosquitto: true },
  );
}

// MQTT.js#579 and mqttjs/MQTT.js#110 (end() does not stop the reconnecting),
// MQTT.js#1974 (a publish whose connection is gone never settles): what waits
// for a reconnect must settle when the application gives up.
forEachBroker(
  "disconnect() during an outage: the kept publish, the offline calls (one waiting for room) and reconnect() reject, and no attempt follows",
  async (broker, v) => {
    const proxy = await proxyTo(broker);
    const { c, attempts } = robust(proxy, v, { maxOfflineMessages: 2 });
    const u = uniqueId("gone");
    try {
      await c.connect(false);
      await c.subscribe(`${u}/keep`, 1); // aedes keeps a session only with a subscription
      proxy.blackhole(true);
      const kept = c.publish(u, "kept", false, 1); // written, never acknowledged
      kept.catch(() => {}); // awaited below
      await until(() => proxy.bytes.dropped > 0, "the PUBLISH is lost");
      proxy.refuse(true);
      proxy.blackhole(false);
      proxy.cut();
      await until(() => attempts.length >= 3, "three refused attempts");
      const offline = [
        c.publish(u, "queued 1", false, 1),
        c.publish(u, "queued 0", false, 0),
        c.publish(u, "waits for room", false, 1), // maxOfflineMessages 2: waits
        c.subscribe(`${u}/late`, 1),
        c.wait_msg(),
      ];
      for (const p of offline) p.catch(() => {}); // awaited below
      const reconnecting = c.reconnect();
      reconnecting.catch(() => {}); // awaited below
      await withTimeout(c.disconnect(), 5000, "disconnect() during the outage");
      for (const p of [kept, ...offline, reconnecting]) {
        await withTimeout(assert.rejects(p, MQTTConnectionError), 5000, "a waiting call");
      }
      const tried = attempts.length, accepted = proxy.accepted;
      proxy.refuse(false); // the broker is back: nothing may reach it now
      await sleep(200);
      assert.equal(attempts.length, tried, "no attempt after disconnect()");
      assert.equal(proxy.accepted, accepted);
      assert.equal(c.connected, false);
    } finally {
      proxy.refuse(false);
      await endSession(c);
      await proxy.close();
    }
  },
  BOTH,
);

// MQTT.js#555 (fixed by mqttjs/MQTT.js#556): a subscription whose SUBACK had
// not come when the connection dropped was neither renewed nor reported.
forEachBroker(
  "a SUBSCRIBE and an UNSUBSCRIBE lost with their connection go again after the reconnect, and take effect",
  async (broker, v) => {
    const proxy = await proxyTo(broker);
    const { c } = robust(proxy, v);
    const u = uniqueId("lostsub");
    const pub = new Simple(uniqueId("p"), broker.host, { port: broker.port, protocolVersion: v });
    try {
      await c.connect(false);
      await c.subscribe(`${u}/old`, 1); // the session the reconnect resumes
      proxy.blackhole(true); // both are written, neither arrives
      const sub = c.subscribe(`${u}/new`, 1);
      const unsub = c.unsubscribe(`${u}/old`);
      sub.catch(() => {}); // awaited below
      unsub.catch(() => {});
      await until(() => proxy.bytes.dropped > 0, "the SUBSCRIBE and UNSUBSCRIBE are lost");
      await sleep(20);
      proxy.blackhole(false);
      proxy.cut();
      await withTimeout(sub, 5000, "the subscribe");
      await withTimeout(unsub, 5000, "the unsubscribe");
      await pub.connect();
      await pub.publish(`${u}/old`, "to the filter removed", false, 1);
      await pub.publish(`${u}/new`, "to the filter added", false, 1);
      const m = await withTimeout(c.wait_msg(), 5000, "a message");
      assert.equal(m.topic, `${u}/new`);
      assert.equal(text(m.payload), "to the filter added");
      assert.equal(await c.check_msg(), undefined, "nothing from the filter removed");
    } finally {
      await pub.disconnect();
      await endSession(c);
      await proxy.close();
    }
  },
  BOTH,
);

// MQTT.js#704 and TheThingsArchive/node-app-sdk#76 ("close" emitted for
// every failed attempt, "offline" only once the keepalive ran out): events
// that do not say when the connection was lost and when it was back.
forEachBroker(
  "events across an outage: one disconnected when it is lost, a reconnecting per attempt, refused or unanswered, one connected when it is back",
  async (broker, v) => {
    const proxy = await proxyTo(broker);
    // An attempt into the blackhole waits for its CONNACK: keep that short.
    const { c } = robust(proxy, v, { connectTimeout: 300 });
    const events: string[] = [];
    for (const type of ["connected", "disconnected", "reconnecting"]) {
      c.addEventListener(type, () => events.push(type));
    }
    const count = (type: string) => events.filter((t) => t === type).length;
    try {
      await c.connect(false);
      proxy.refuse(true);
      proxy.cut();
      await until(() => count("reconnecting") >= 3, "three refused attempts");
      // Now the TCP connection opens, and the CONNECT goes unanswered.
      proxy.blackhole(true);
      proxy.refuse(false);
      const before = proxy.accepted;
      await until(() => proxy.accepted > before, "an attempt into the blackhole");
      const n = count("reconnecting");
      await until(() => count("reconnecting") > n, "the unanswered attempt given up");
      proxy.blackhole(false);
      await until(() => c.connected, "reconnected");
      assert.match(events.join(" "), /^connected disconnected (reconnecting ){4,}connected$/);
      // And once more: the pattern holds for the next outage.
      events.length = 0;
      proxy.cut();
      await until(() => count("connected") === 1, "reconnected again");
      assert.match(events.join(" "), /^disconnected (reconnecting )+connected$/);
    } finally {
      proxy.refuse(false);
      proxy.blackhole(false);
      await endSession(c);
      await proxy.close();
    }
  },
  BOTH,
);
