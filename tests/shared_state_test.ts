// What the client keeps of the caller's own objects (an array, a buffer, a properties object)
// beyond the call that was given them: a caller that reuses one once the call has returned (a
// gateway's encode buffer, a list built per call) must not change what goes on the wire later.
// publish() and set_last_will() take their bytes at the call (tests/buffer_copies_test.ts); these
// are the calls whose work goes on after they return.
import assert from "node:assert/strict";
import { MemorySessionStore, MQTTClient as Simple, MQTTConnectionError } from "../mod.ts";
import { MQTTClient } from "../lib/robust.ts";
import type { ProtocolVersion } from "../lib/codec/packet.ts";
import { forEachBroker, startMosquitto } from "./_brokers.ts";
import { proxyTo } from "./_fault_proxy.ts";
import { acceptConnect, withHostileBroker } from "./_hostile_broker.ts";
import { test, uniqueId } from "./_test.ts";

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);

forEachBroker(
  "request(): the payload and user properties go as they were at the call, though the caller reuses them at once",
  async (broker) => {
    // request() sent them only after the response topic's SUBSCRIBE (on every request, a turn
    // later at least): the caller's buffer and array, read then, held what it put there since.
    const svc = uniqueId("svc");
    const at = { port: broker.port, protocolVersion: 5 as ProtocolVersion };
    const responder = new Simple(uniqueId("responder"), broker.host, at);
    const requester = new Simple(uniqueId("requester"), broker.host, at);
    try {
      await responder.connect();
      await responder.subscribe(svc, 1);
      await requester.connect();
      const buf = new Uint8Array(5);
      const userProperties: [string, string][] = [];
      for (const word of ["first", "later"]) {
        buf.set(bytes(word));
        userProperties.length = 0;
        userProperties.push(["word", word]);
        const reply = requester.request(svc, buf, { qos: 1, properties: { userProperties } });
        reply.catch(() => {}); // (awaited below, unless an assertion fails first)
        // The caller reuses both for its next message at once.
        buf.set(bytes("XXXXX"));
        userProperties[0][1] = "reused";
        userProperties.push(["extra", "1"]);
        const m = await responder.wait_msg();
        assert.equal(text(m.payload), word);
        assert.deepEqual(m.properties?.userProperties, [["word", word]]);
        await responder.publish(m.properties!.responseTopic!, `re ${text(m.payload)}`, {
          properties: { correlationData: m.properties!.correlationData },
        });
        assert.equal(text((await reply).payload), `re ${word}`);
      }
    } finally {
      await requester.disconnect().catch(() => {});
      await responder.disconnect().catch(() => {});
    }
  },
  { versions: [5], timeout: 20_000 },
);

forEachBroker(
  "robust unsubscribe(list): a list the caller reuses once the call returned does not change what is forgotten, so no filter left is renewed",
  async (broker, v) => {
    // The filters forgotten were read from the caller's array at the UNSUBACK: emptied since,
    // none was, and the reconnect renewed the filters the application had left.
    const t = uniqueId("unsublist");
    const pub = new Simple(uniqueId("pub"), broker.host, { port: broker.port });
    const proxy = await proxyTo(broker);
    const c = new MQTTClient(uniqueId("sub"), proxy.hostname, {
      port: proxy.port,
      protocolVersion: v,
    });
    c.DELAY = 0.02;
    try {
      await c.connect(); // clean: the reconnect finds no session, and renews
      await c.subscribe([[`${t}/a`, 1], [`${t}/b`, 1], [`${t}/c`, 1]]);
      const list = [`${t}/a`, `${t}/b`];
      const left = c.unsubscribe(list);
      list.length = 0; // reused for the next batch
      await left;
      const back = new Promise((r) => c.addEventListener("connected", r, { once: true }));
      proxy.cut();
      await back;
      await c.reconnect(); // the renewal is done
      await pub.connect();
      await pub.publish(`${t}/a`, "left", false, 1);
      await pub.publish(`${t}/c`, "kept", false, 1);
      const m = await c.wait_msg();
      assert.deepEqual([m.topic, text(m.payload)], [`${t}/c`, "kept"]);
    } finally {
      await pub.disconnect().catch(() => {});
      await c.disconnect();
      await proxy.close();
    }
  },
  { versions: [4, 5], timeout: 20_000 },
);

test(
  "robust subscribe(): the user properties it renews are those of the call, not the caller's array as changed since",
  async () => {
    // The renewal after a reconnect without the session encoded the SUBSCRIBE's properties anew
    // from the caller's array, kept as given.
    const renewed: unknown[] = [];
    await withHostileBroker(async (peer) => {
      await acceptConnect(peer); // Session Present 0, every time
      const sub = await peer.expect("subscribe");
      await peer.write({ type: "suback", packetId: sub.packetId, returnCodes: [1] });
      if (renewed.length === 0) {
        renewed.push(sub.properties?.userProperties);
        return peer.end(); // the first connection: lost after the SUBACK
      }
      renewed.push(sub.properties?.userProperties);
      await peer.expect("disconnect");
    }, async (broker) => {
      const c = new MQTTClient(uniqueId("subprops"), broker.url, { protocolVersion: 5 });
      c.DELAY = 0;
      const lost = new Promise((r) => c.addEventListener("disconnected", r, { once: true }));
      await c.connect(false);
      const userProperties: [string, string][] = [["tenant", "a"]];
      await c.subscribe("t/#", { qos: 1, userProperties });
      userProperties[0][1] = "b"; // reused for the next call
      userProperties.push(["extra", "1"]);
      await lost;
      await c.reconnect();
      await c.disconnect();
      for (const peer of broker.peers) await peer.clientClosed;
    });
    assert.deepEqual(renewed, [[["tenant", "a"]], [["tenant", "a"]]]);
  },
  { timeout: 20_000 },
);

forEachBroker(
  "two clients given one sessionStore: the second's connect() is refused while the first is connected, and goes once it has disconnected",
  async (broker) => {
    // Both kept their packets in it under their own packet ids, 1 from each: the first's PUBACK
    // took the second's unacknowledged publish out of it, which its connect(false) then never
    // resent (and a client made while another had packets in it resent them as its own).
    const sessionStore = new MemorySessionStore();
    const at = { port: broker.port, sessionStore };
    const a = new Simple(uniqueId("storea"), broker.host, at);
    const b = new Simple(uniqueId("storeb"), broker.host, at);
    try {
      await a.connect(false);
      await assert.rejects(b.connect(false), (e: Error) => {
        assert.ok(e instanceof TypeError, String(e));
        assert.match(e.message, /sessionStore.*another client.*one store serves one client/);
        return true;
      });
      assert.equal(b.connected, false);
      await a.publish(uniqueId("t"), "a's", false, 1); // a's connection goes on
      await a.disconnect();
      await b.connect(true); // handed over
      await assert.rejects(a.connect(false), TypeError, "b holds it now");
    } finally {
      await a.disconnect().catch(() => {});
      await b.disconnect().catch(() => {});
    }
  },
  { timeout: 20_000 },
);

test(
  "robust disconnect(options): the DISCONNECT says what the options said at the call, though the caller reuses them at once",
  async () => {
    // The robust client stops its reconnect first, then sent the DISCONNECT built from the
    // caller's options as they were by then (a turn later at least).
    let said: unknown;
    await withHostileBroker(async (peer) => {
      await acceptConnect(peer);
      const d = await peer.expect("disconnect");
      said = [d.reasonCode, d.properties?.reasonString, d.properties?.userProperties];
    }, async (broker) => {
      const c = new MQTTClient(uniqueId("discopts"), broker.url, { protocolVersion: 5 });
      await c.connect();
      const options = { reasonCode: 4, reasonString: "bye", userProperties: [["k", "1"]] };
      const done = c.disconnect(options as Parameters<typeof c.disconnect>[0]);
      // The caller reuses its object.
      options.reasonString = "reused";
      options.userProperties[0][1] = "2";
      options.userProperties.push(["extra", "1"]);
      await done;
      for (const peer of broker.peers) await peer.clientClosed;
    });
    assert.deepEqual(said, [4, "bye", [["k", "1"]]]);
  },
  { timeout: 20_000 },
);

test(
  "client.connack.properties is read-only: changing it does not change the broker's limits the client keeps to",
  async () => {
    // It was the object the client checks each publish against: a caller's change to it (a
    // logger that tidies what it is given, say) lifted a limit, and the broker closed the
    // connection over the packet. 3.1.1's, the shared `{}`, was frozen already.
    const broker = await startMosquitto({ extraConfig: ["max_packet_size 200"] });
    const c = new Simple(uniqueId("connackro"), broker.host, {
      port: broker.port,
      protocolVersion: 5,
    });
    try {
      await c.connect();
      const props = c.connack!.properties;
      assert.equal(props.maximumPacketSize, 200);
      try {
        delete (props as { maximumPacketSize?: number }).maximumPacketSize;
      } catch { /* frozen: a TypeError in strict code */ }
      assert.equal(c.connack!.properties.maximumPacketSize, 200, "unchanged");
      await assert.rejects(c.publish(uniqueId("t"), new Uint8Array(300)), RangeError);
      assert.equal(c.connected, true);
    } finally {
      await c.disconnect().catch(() => {});
      await broker.stop();
    }
  },
  { mosquitto: true, timeout: 20_000 },
);

forEachBroker(
  "client.connack is read-only: changing its session-present flag does not change what the robust client's reconnect() resolves with",
  async (broker) => {
    // The robust client answers connect(false) and reconnect() on a connected client from
    // `client.connack`: a caller's change to the object it was shown changed that answer.
    const c = new MQTTClient(uniqueId("connackro"), broker.host, { port: broker.port });
    try {
      assert.equal(await c.connect(), false);
      try {
        (c.connack as { sessionPresent: boolean }).sessionPresent = true;
      } catch { /* frozen: a TypeError in strict code */ }
      assert.equal(c.connack!.sessionPresent, false, "unchanged");
      assert.equal(await c.reconnect(), false);
    } finally {
      await c.disconnect().catch(() => {});
    }
  },
);

forEachBroker(
  "robust connect(options): the session it asks for is the one the options said at the call, though the caller changes them while a disconnect() ends first",
  async (broker, protocolVersion) => {
    // connect() waits for a disconnect() under way, then read the caller's object again for the
    // CONNECT: clean_session changed meanwhile went on the wire, while the client kept the old.
    const id = uniqueId("rc");
    const at = { port: broker.port, protocolVersion };
    const c = new MQTTClient(id, broker.host, at);
    try {
      await c.connect({ clean_session: false }); // a session for the next connect to resume
      await c.subscribe(`${id}/t`, 1); // (aedes reports no session that holds nothing)
      const leaving = c.disconnect();
      const options = { clean_session: false };
      const resumed = c.connect(options);
      options.clean_session = true; // the caller's object, reused at once
      await leaving;
      assert.equal(await resumed, true, "the broker's session, resumed as asked at the call");
    } finally {
      await c.disconnect();
      // The session asked for outlives the test otherwise (mosquitto keeps it).
      const clear = new Simple(id, broker.host, at);
      await clear.connect(true);
      await clear.disconnect();
    }
  },
  { versions: [4, 5] },
);

test("a transport that rejects with one error it keeps: no client's failover round writes into it, nor names its servers in another's error", async () => {
  // A round of several servers wrote its summary into the last attempt's error, which a
  // transport's MQTTConnectionError is, as it is: one error a transport rejects with each time
  // (say, when it knows the network is down) then named client a's servers in client b's error,
  // and each connect() listed the summary before it in its own, doubling it (20 KB by a fourth).
  const offline = new MQTTConnectionError("offline");
  const transport = () => Promise.reject(offline);
  const a = new Simple(uniqueId("a"), ["mqtt://a1", "mqtt://a2"], { transport });
  const b = new Simple(uniqueId("b"), ["mqtt://b1", "mqtt://b2"], { transport });
  for (let round = 0; round < 3; round++) {
    for (const [c, n] of [[a, "a"], [b, "b"]] as const) {
      const e = await c.connect().then(() => null, (e) => e);
      assert.ok(e instanceof MQTTConnectionError, String(e));
      assert.equal(
        e.message,
        `Cannot connect to any of the 2 servers: mqtt://${n}1:1883: offline; mqtt://${n}2:1883: offline`,
        `round ${round}, client ${n}`,
      );
      assert.equal(offline.message, "offline", "the transport's error is its own");
    }
  }
});
