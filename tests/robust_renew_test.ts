// The robust client's renewal of its subscriptions after a reconnect to a
// broker without the session, under the broker's limits: a SUBSCRIBE larger
// than any the application's own calls made may be one the broker refuses by
// closing the connection (mosquitto's max_packet_size with MQTT 3.1.1, AWS
// IoT's 8 filters per SUBSCRIBE), and a renewal that meets that every time
// never ends.
import assert from "node:assert/strict";
import { MQTTClient, MQTTException } from "../lib/robust.ts";
import { MQTTClient as SimpleClient } from "../mod.ts";
import type { ProtocolVersion } from "../lib/codec/packet.ts";
import { forEachBroker, startMosquitto } from "./_brokers.ts";
import { offline, proxyTo } from "./_fault_proxy.ts";
import { acceptConnect, type HostileBroker, withHostileBroker } from "./_hostile_broker.ts";
import { test, uniqueId } from "./_test.ts";

const text = (b: Uint8Array) => new TextDecoder().decode(b);

for (const v of [4, 5] as ProtocolVersion[]) {
  test(
    `MQTT ${
      v === 4 ? "3.1.1" : "5"
    }: filters subscribed one per call are renewed under mosquitto's max_packet_size, though all of them in one SUBSCRIBE would be over it`,
    async () => {
      const broker = await startMosquitto({ extraConfig: ["max_packet_size 512"] });
      const u = uniqueId("mps");
      const c = new MQTTClient(u, broker.host, { port: broker.port, protocolVersion: v });
      c.DELAY = 0.02;
      const filters = Array.from({ length: 60 }, (_, i) => `${u}/filter/${i}`); // ~1.6 KB in all
      const pub = new SimpleClient(uniqueId("mpspub"), broker.host, { port: broker.port });
      try {
        await c.connect(false);
        for (const f of filters) assert.equal(await c.subscribe(f, 1), 1);
        const lost = () =>
          new Promise((r) => c.addEventListener("disconnected", r, { once: true }));
        const first = lost();
        await broker.restart!(); // no persistence: the session is gone
        await first;
        // Before, the one SUBSCRIBE of every filter closed each new connection, for ever.
        const outcome = await Promise.race([
          c.reconnect().then(() => "renewed"),
          lost().then(() => "lost again"),
        ]);
        assert.equal(outcome, "renewed");
        await pub.connect();
        for (const f of [filters[0], filters[59]]) {
          await pub.publish(f, f, false, 1);
          const m = await c.wait_msg();
          assert.deepEqual([m.topic, text(m.payload)], [f, f]);
        }
      } finally {
        await pub.disconnect().catch(() => {});
        await c.disconnect();
        await broker.stop();
      }
    },
    { mosquitto: true, timeout: 30_000 },
  );
}

test(
  "a renewal goes in SUBSCRIBEs no larger than the application's: a broker that closes the connection over more than 8 filters (AWS IoT) renews them all",
  async () => {
    let hb: HostileBroker | undefined;
    const renewals: string[][] = [];
    let again!: () => void;
    const reconnectedAgain = new Promise<string>((r) => again = () => r("reconnected again"));
    await withHostileBroker(async (peer) => {
      const i = hb!.peers.indexOf(peer);
      if (i > 1) again();
      await acceptConnect(peer); // Session Present 0, every time
      for (let n = 0; n < (i === 0 ? 4 : 25);) {
        const sub = await peer.expect("subscribe");
        if (sub.subscriptions.length > 8) return peer.end(); // as AWS IoT: over its limit
        if (i > 0) renewals.push(sub.subscriptions.map((s) => s.topic));
        n += i === 0 ? 1 : sub.subscriptions.length;
        await peer.write({
          type: "suback",
          packetId: sub.packetId,
          returnCodes: sub.subscriptions.map(() => 1),
        });
      }
      if (i === 0) return peer.end();
      await peer.expect("disconnect");
    }, async (broker) => {
      hb = broker;
      const c = new MQTTClient(uniqueId("aws"), broker.url);
      c.DELAY = 0;
      const lost = new Promise((r) => c.addEventListener("disconnected", r, { once: true }));
      await c.connect(false);
      const all: string[] = [];
      for (let k = 0; k < 3; k++) {
        const eight = Array.from({ length: 8 }, (_, j) => `aws/${k}/${j}`);
        all.push(...eight);
        await c.subscribe(eight.map((f) => [f, 1] as const));
      }
      await c.subscribe("aws/alone", 1);
      all.push("aws/alone");
      await lost;
      assert.equal(
        await Promise.race([c.reconnect().then(() => "renewed"), reconnectedAgain]),
        "renewed",
      );
      assert.ok(renewals.every((r) => r.length <= 8), JSON.stringify(renewals));
      assert.deepEqual(renewals.flat().sort(), all.sort());
      await c.disconnect();
      for (const peer of broker.peers) await peer.clientClosed;
    });
  },
  { timeout: 20_000 },
);

forEachBroker(
  "a filter unsubscribed from while the connection is lost, or just before, is not renewed: none of its messages, retained or not, come after the reconnect",
  async (broker, v) => {
    const t = uniqueId("leave");
    const pub = new SimpleClient(uniqueId("leavepub"), broker.host, { port: broker.port });
    const proxy = await proxyTo(broker);
    const c = new MQTTClient(uniqueId("leavesub"), proxy.hostname, {
      port: proxy.port,
      protocolVersion: v,
    });
    c.DELAY = 0.02;
    const filters = ["gone", "cut", "kept"];
    try {
      await pub.connect();
      for (const f of filters) await pub.publish(`${t}/${f}`, `retained ${f}`, true, 1);
      await c.connect(); // clean: the reconnect finds no session, and renews
      for (const f of filters) await c.subscribe(`${t}/${f}`, 1);
      for (const _ of filters) await c.wait_msg(); // the retained messages
      // /cut: its UNSUBSCRIBE is lost with the connection, and goes again on the next.
      proxy.blackhole(true);
      const cut = c.unsubscribe(`${t}/cut`);
      await offline(c, proxy);
      proxy.blackhole(false);
      const gone = c.unsubscribe(`${t}/gone`); // /gone: made during the outage
      proxy.refuse(false);
      await Promise.all([cut, gone]);
      // The renewal's messages (a retained one of each filter renewed) came before the
      // UNSUBACKs; the last one, to the filter kept, comes after all of them.
      await pub.publish(`${t}/kept`, "last", false, 1);
      const got: string[] = [];
      for (let m; text((m = await c.wait_msg()).payload) !== "last";) {
        got.push(`${m.topic.slice(t.length)} ${text(m.payload)}`);
      }
      // Before, the renewal subscribed to /gone and /cut again ahead of the UNSUBSCRIBEs.
      assert.deepEqual(got, ["/kept retained kept"]);
    } finally {
      for (const f of filters) await pub.publish(`${t}/${f}`, "", true, 1).catch(() => {});
      await pub.disconnect().catch(() => {});
      await c.disconnect();
      await proxy.close();
    }
  },
  { versions: [4, 5], timeout: 20_000 },
);

for (const v of [4, 5] as ProtocolVersion[]) {
  test(
    `MQTT ${v === 4 ? "3.1.1" : "5"}: a renewal the broker refuses in its SUBACK is logged`,
    async () => {
      // A scripted broker that grants both filters, then, without the session, refuses one.
      let n = 0;
      await withHostileBroker(async (peer) => {
        await acceptConnect(peer); // Session Present 0
        const first = ++n === 1;
        for (let k = 0; k < 2; k++) { // one filter each, as the application's
          const sub = await peer.expect("subscribe");
          const codes = sub.subscriptions.map((s) =>
            first || s.topic === "kept" ? 1 : v === 4 ? 0x80 : 0x87
          );
          await peer.write({ type: "suback", packetId: sub.packetId, returnCodes: codes });
        }
        if (first) return peer.end();
        await peer.expect("disconnect");
      }, async (broker) => {
        const c = new MQTTClient(uniqueId("refused"), broker.url, { protocolVersion: v });
        c.DELAY = 0;
        const logged: unknown[] = [];
        c.log = (inReconnect, e) => void (inReconnect && logged.push(e));
        const lost = new Promise((r) => c.addEventListener("disconnected", r, { once: true }));
        await c.connect(false);
        await c.subscribe("kept", 1);
        await c.subscribe("refused", 1);
        await lost;
        await c.reconnect();
        // Before, nothing said that "refused" was no longer subscribed to.
        assert.equal(logged.length, 1, String(logged));
        const e = logged[0] as MQTTException;
        assert.ok(e instanceof MQTTException, String(e));
        assert.equal(e.code, v === 4 ? 0x80 : 0x87);
        assert.match(e.message, /^Subscription to "refused" refused by the broker \(SUBACK/);
        await c.disconnect();
        for (const peer of broker.peers) await peer.clientClosed;
      });
    },
    { timeout: 20_000 },
  );
}

test(
  "MQTT 3.1.1: a renewal SUBSCRIBE the broker resets each connection on is given up after 3, logged, and calls go on",
  async () => {
    // mosquitto restarted with a max_packet_size under the one filter's SUBSCRIBE, and no
    // session: 3.1.1 refuses it only by resetting the connection. Each renewal is encoded
    // anew (a new packet id), so the refusal rule never saw the same packet twice: the
    // renewal went on for ever, and calls made meanwhile waited for ever.
    const broker = await startMosquitto();
    const u = uniqueId("rsr");
    const long = `${u}/${"f".repeat(240)}`; // a SUBSCRIBE of ~270 bytes
    const c = new MQTTClient(u, broker.host, { port: broker.port });
    c.DELAY = 0.02;
    const logged: unknown[] = [];
    c.log = (inReconnect, e) => void (inReconnect && logged.push(e));
    try {
      await c.connect(false);
      await c.subscribe(long, 1);
      await c.subscribe(`${u}/short`, 1);
      const lost = new Promise((r) => c.addEventListener("disconnected", r, { once: true }));
      await broker.restart!(["max_packet_size 200"]); // no persistence: the session is gone
      await lost;
      const sent = c.publish(`${u}/short`, "after", false, 1);
      let timer: ReturnType<typeof setTimeout> | undefined;
      const outcome = await Promise.race([
        sent.then(() => "published"),
        new Promise((r) => timer = setTimeout(() => r("still waiting after 10 s"), 10_000)),
      ]).finally(() => clearTimeout(timer));
      assert.equal(outcome, "published");
      const refusals = logged.filter((e) => e instanceof RangeError);
      assert.equal(refusals.length, 1, String(logged));
      assert.match(String(refusals[0]), /SUBSCRIBE/);
      // The other filter was renewed: its message comes.
      const m = await c.wait_msg();
      assert.deepEqual([m.topic, text(m.payload)], [`${u}/short`, "after"]);
    } finally {
      await c.disconnect();
      await broker.stop();
    }
  },
  { mosquitto: true, timeout: 30_000 },
);
