// MQTT 5 request/response (section 4.10) against a scripted responder:
// the response topic built from the broker's Response Information, replies
// matched by Correlation Data, and the replies nobody waits for any more
// (late, unmatched) acknowledged and dropped, never handed to wait_msg.
import assert from "node:assert/strict";
import type { Packet, PublishPacket } from "../lib/codec/mod.ts";
import {
  type Message,
  MQTTClient,
  MQTTConnectionError,
  MQTTProtocolError,
  type PublishOptions,
} from "../mod.ts";
import { MQTTClient as RobustClient } from "../lib/robust.ts";
import { acceptConnect, type Peer, roundTrip, withHostileBroker } from "./_hostile_broker.ts";
import { startMosquitto } from "./_brokers.ts";
import { FaultProxy } from "./_fault_proxy.ts";
import { test, uniqueId } from "./_test.ts";

const TIMEOUT = { timeout: 20_000 };
const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);

/** A PUBLISH from the broker. */
function publish(
  topic: string,
  payload: string,
  qos: 0 | 1 | 2,
  packetId?: number,
  properties?: PublishPacket["properties"],
): Packet {
  return {
    type: "publish",
    topic,
    payload: bytes(payload),
    qos,
    retain: false,
    dup: false,
    packetId,
    properties,
  };
}

/** Answers the client's SUBSCRIBE to its response topic; returns the filter. */
async function grantResponseTopic(peer: Peer): Promise<string> {
  const sub = await peer.expect("subscribe");
  assert.equal(sub.subscriptions.length, 1);
  assert.equal(sub.subscriptions[0].qos, 1);
  await peer.write({ type: "suback", packetId: sub.packetId, returnCodes: [1] });
  return sub.subscriptions[0].topic;
}

test(
  "requestResponseInformation: the response topic is built from CONNACK's Response Information",
  async () => {
    await withHostileBroker(async (peer) => {
      const connect = await acceptConnect(peer, { responseInformation: "replies/c1/" });
      assert.equal(connect.properties?.requestResponseInformation, true);
      const responseTopic = await grantResponseTopic(peer);
      assert.match(responseTopic, /^replies\/c1\/[0-9a-f]{12}$/);
      for (const alias of [undefined, 1]) {
        const req = await peer.expect("publish");
        assert.equal(req.topic, "svc/echo");
        assert.equal(req.properties?.responseTopic, responseTopic);
        assert.equal(req.properties?.correlationData?.length, 16);
        // The second reply comes under a topic alias, set by a message nobody
        // waits for: the client resolves it before it matches the reply.
        if (alias) await peer.write(publish(responseTopic, "set", 0, undefined, { topicAlias: 1 }));
        await peer.write(
          publish(alias ? "" : responseTopic, `${text(req.payload)}!`, 1, 5, {
            correlationData: req.properties!.correlationData,
            topicAlias: alias,
          }),
        );
        assert.deepEqual(await peer.expect("puback"), {
          type: "puback",
          packetId: 5,
          reasonCode: 0,
        });
      }
      await peer.expect("disconnect");
    }, async (broker) => {
      const client = new MQTTClient(uniqueId("rr"), broker.url, {
        protocolVersion: 5,
        requestResponseInformation: true,
        topicAliasMaximum: 1,
      });
      await client.connect();
      const first = await client.request("svc/echo", "one", { timeout: 10_000 });
      assert.equal(text(first.payload), "one!");
      assert.match(first.topic, /^replies\/c1\/[0-9a-f]{12}$/);
      const second = await client.request("svc/echo", "two", { timeout: 10_000 });
      assert.equal(text(second.payload), "two!");
      assert.equal(second.topic, first.topic);
      assert.equal("topicAlias" in second.properties!, false);
      await client.disconnect();
      await broker.peers[0].clientClosed;
    });
  },
  TIMEOUT,
);

test("without Response Information the response topic is <client_id>/responses/…", async () => {
  const id = uniqueId("rr");
  await withHostileBroker(async (peer) => {
    const connect = await acceptConnect(peer);
    assert.equal(connect.properties?.requestResponseInformation, undefined);
    const responseTopic = await grantResponseTopic(peer);
    assert.match(responseTopic, new RegExp(`^${id}/responses/[0-9a-f]{12}$`));
    const req = await peer.expect("publish");
    await peer.write(
      publish(responseTopic, "ok", 0, undefined, {
        correlationData: req.properties!.correlationData,
      }),
    );
    await peer.expect("disconnect");
  }, async (broker) => {
    const client = new MQTTClient(id, broker.url, { protocolVersion: 5 });
    await client.connect();
    assert.equal(text((await client.request("svc", "q")).payload), "ok");
    await client.disconnect();
    await broker.peers[0].clientClosed;
  });
}, TIMEOUT);

test(
  "a client identifier with a wildcard makes no response topic: a TypeError names it",
  async () => {
    await withHostileBroker(async (peer) => {
      await acceptConnect(peer); // no Response Information
      await peer.expect("disconnect");
    }, async (broker) => {
      const client = new MQTTClient("dev+1", broker.url, { protocolVersion: 5 });
      await client.connect();
      // Before, an MQTTProtocolError blamed the broker's Response Information "undefined".
      await assert.rejects(client.request("svc", "q"), (e: unknown) => {
        assert.ok(e instanceof TypeError, String(e));
        assert.match(e.message, /the client identifier "dev\+1" makes no response topic/);
        return true;
      });
      assert.equal(client.connected, true);
      await client.disconnect();
      await broker.peers[0].clientClosed;
    });
  },
  TIMEOUT,
);

test(
  "a late reply and unmatched ones are acknowledged and dropped; wait_msg never sees them",
  async () => {
    let timedOut!: () => void;
    const late = new Promise<void>((resolve) => (timedOut = resolve));
    await withHostileBroker(async (peer) => {
      await acceptConnect(peer);
      const responseTopic = await grantResponseTopic(peer);
      const req = await peer.expect("publish");
      await late;
      const correlationData = req.properties!.correlationData;
      // The reply, after the request timed out.
      await peer.write(publish(responseTopic, "late", 1, 1, { correlationData }));
      assert.deepEqual(await peer.expect("puback"), { type: "puback", packetId: 1, reasonCode: 0 });
      // A reply to a request never made, at QoS 2: acknowledged all the way.
      await peer.write(publish(responseTopic, "stray", 2, 2, { correlationData: bytes("nobody") }));
      assert.deepEqual(await peer.expect("pubrec"), { type: "pubrec", packetId: 2, reasonCode: 0 });
      await peer.write({ type: "pubrel", packetId: 2 });
      assert.deepEqual(await peer.expect("pubcomp"), {
        type: "pubcomp",
        packetId: 2,
        reasonCode: 0,
      });
      // On the response topic without Correlation Data.
      await peer.write(publish(responseTopic, "bare", 1, 3));
      assert.deepEqual(await peer.expect("puback"), { type: "puback", packetId: 3, reasonCode: 0 });
      // A message for the application, last.
      await peer.write(publish("news", "for the app", 1, 4));
      await peer.expect("puback");
      await peer.expect("disconnect");
    }, async (broker) => {
      const client = new MQTTClient(uniqueId("rr"), broker.url, { protocolVersion: 5 });
      const called: string[] = [];
      client.set_callback((topic) => void called.push(topic));
      await client.connect();
      // Waiting already: a reply must not be what it gets.
      const next = client.wait_msg();
      await assert.rejects(client.request("svc", "q", { timeout: 100 }), (e: unknown) => {
        assert.ok(e instanceof DOMException && e.name === "TimeoutError", String(e));
        assert.match(e.message, /No reply on .* to the request to svc within 100 ms/);
        return true;
      });
      timedOut();
      const m: Message = await next;
      assert.equal(m.topic, "news");
      assert.equal(text(m.payload), "for the app");
      assert.deepEqual(called, ["news"]);
      assert.equal(await client.check_msg(), undefined);
      await client.disconnect();
      await broker.peers[0].clientClosed;
    });
  },
  TIMEOUT,
);

test("request() checks its arguments first: its properties, the topic, before anything is sent", async () => {
  // Never connected: a bad argument is still the TypeError, not "not connected".
  const client = new MQTTClient(uniqueId("rr"), "127.0.0.1", { protocolVersion: 5 });
  const cases: [object, RegExp][] = [
    [
      { properties: { responseTopic: "mine" } },
      /^TypeError: Invalid property responseTopic for request: /,
    ],
    [
      { properties: { correlationData: bytes("mine") } },
      /^TypeError: Invalid property correlationData for request: /,
    ],
    [{ properties: { topicAlias: 1 } }, /^TypeError: Invalid property topicAlias for request: /],
    [{ properties: { contentType: 3 } }, /contentType in PUBLISH: must be a string/],
    [{ qos: 3 }, /qos/i],
    [{ timeout: 0 }, /^RangeError: Invalid timeout 0: /],
  ];
  for (const [options, message] of cases) {
    await assert.rejects(client.request("svc", "q", options), message);
  }
  await assert.rejects(client.request("svc/+", "q"), /wildcards/);
  await assert.rejects(client.request("svc", 42 as unknown as string), TypeError);
  assert.equal(client.connected, false);
});

test(
  "request() that cannot run names request(), not the response topic's subscription",
  async () => {
    // Before, it rejected with "Cannot subscribe: not connected; call connect() first".
    const named = (e: unknown) => {
      assert.ok(e instanceof MQTTConnectionError, String(e));
      assert.match(e.message, /^Cannot request: /);
      return true;
    };
    const client = new MQTTClient(uniqueId("rr"), "127.0.0.1", { protocolVersion: 5 });
    await assert.rejects(client.request("svc", "q"), named); // never connected
    await withHostileBroker(async (peer) => {
      await acceptConnect(peer);
      await peer.expect("disconnect");
    }, async (broker) => {
      const client = new MQTTClient(uniqueId("rr"), broker.url, { protocolVersion: 5 });
      await client.connect();
      await client.disconnect();
      await assert.rejects(client.request("svc", "q"), named); // after disconnect()
      await broker.peers[0].clientClosed;
    });
  },
  TIMEOUT,
);

test("request() with a signal already aborted rejects with its reason before anything else", async () => {
  // Never connected, and a client identifier that makes no response topic: the reason comes first.
  const client = new MQTTClient("dev+2", "127.0.0.1", { protocolVersion: 5 });
  const why = new Error("not wanted");
  await assert.rejects(client.request("svc", "q", { signal: AbortSignal.abort(why) }), why);
});

test(
  "request()'s timeout runs from the call, the wait for its subscription included",
  async () => {
    await withHostileBroker(async (peer) => {
      await acceptConnect(peer);
      await peer.expect("subscribe"); // never answered
      // The request timed out before its subscription was granted: never published.
      await peer.expect("disconnect");
    }, async (broker) => {
      const client = new MQTTClient(uniqueId("rr"), broker.url, { protocolVersion: 5 });
      await client.connect();
      await assert.rejects(client.request("svc", "q", { timeout: 200 }), (e: unknown) => {
        assert.ok(e instanceof DOMException && e.name === "TimeoutError", String(e));
        return true;
      });
      await client.disconnect();
      await broker.peers[0].clientClosed;
    });
  },
  TIMEOUT,
);

test("a Response Topic given to publish() or the will is a topic name: no wildcards, not empty", async () => {
  const client = new MQTTClient(uniqueId("rr"), "127.0.0.1", { protocolVersion: 5 });
  for (const responseTopic of ["a/+", "a/#", "+", ""]) {
    const message = new RegExp(
      `^Invalid property responseTopic "${
        responseTopic.replace("+", "\\+")
      }" for (publish|the will): .*\\(MQTT-3\\.3\\.2-14\\)$`,
    );
    await assert.rejects(client.publish("t", "m", { properties: { responseTopic } }), {
      name: "TypeError",
      message,
    });
    assert.throws(() => client.set_last_will("t", "m", { properties: { responseTopic } }), {
      name: "TypeError",
      message,
    });
  }
  // A topic name with "/" levels, "$" or spaces is fine.
  client.set_last_will("t", "m", { properties: { responseTopic: "$replies/a b/c" } });
});

test(
  "a later CONNACK's other Response Information gives a new response topic; one that makes no topic is named",
  async () => {
    let n = 0;
    const topics: string[] = [];
    await withHostileBroker(async (peer) => {
      const k = ++n;
      const info = k === 1 ? "a/resp" : k === 2 ? "b/resp" : "resp/+";
      await acceptConnect(peer, { responseInformation: info });
      if (k === 3) return void await peer.clientClosed;
      if (k === 2) {
        // The old response topic's subscription goes first (best effort).
        const unsub = await peer.expect("unsubscribe");
        assert.deepEqual(unsub.topics, [topics[0]]);
        await peer.write({ type: "unsuback", packetId: unsub.packetId, reasonCodes: [0x11] });
      }
      const responseTopic = await grantResponseTopic(peer);
      topics.push(responseTopic);
      const req = await peer.expect("publish");
      await peer.write(
        publish(responseTopic, `ok ${k}`, 0, undefined, {
          correlationData: req.properties!.correlationData,
        }),
      );
      await peer.expect("disconnect");
    }, async (broker) => {
      const client = new MQTTClient(uniqueId("rr"), broker.url, {
        protocolVersion: 5,
        requestResponseInformation: true,
      });
      for (const k of [1, 2]) {
        await client.connect();
        assert.equal(text((await client.request("svc", "q")).payload), `ok ${k}`);
        await client.disconnect();
      }
      assert.match(topics[0], /^a\/resp\/[0-9a-f]{12}$/);
      assert.match(topics[1], /^b\/resp\/[0-9a-f]{12}$/);
      await client.connect();
      await assert.rejects(
        client.request("svc", "q"),
        (e: unknown) => {
          assert.ok(e instanceof MQTTProtocolError, String(e));
          assert.match(
            e.message,
            /^Cannot request: the broker's Response Information "resp\/\+" makes no response topic: /,
          );
          return true;
        },
      );
      await client.disconnect();
      for (const peer of broker.peers) await peer.clientClosed;
    });
  },
  TIMEOUT,
);

test(
  "a robust client forgets the response topic a new Response Information replaced: renewals stay one filter",
  async () => {
    // Each connection's CONNACK has another Response Information and no
    // session: the robust client renews its subscriptions, then the next
    // request builds a new response topic. The old one must not be renewed
    // for ever (it was: one filter more after each such reconnect).
    let n = 0;
    const renewals: string[][] = [];
    await withHostileBroker(async (peer) => {
      const k = ++n;
      await acceptConnect(peer, { responseInformation: `r${k}/` });
      if (k > 1) {
        const renewal = await peer.expect("subscribe");
        await peer.write({
          type: "suback",
          packetId: renewal.packetId,
          returnCodes: renewal.subscriptions.map(() => 1),
        });
        renewals.push(renewal.subscriptions.map((s) => s.topic));
      }
      if (k === 4) return void await peer.clientClosed;
      // The request: its response topic's SUBSCRIBE (after the old one's UNSUBSCRIBE), its PUBLISH.
      let req = await peer.next();
      for (; req.type !== "publish"; req = await peer.next()) {
        if (req.type === "unsubscribe") {
          await peer.write({ type: "unsuback", packetId: req.packetId, reasonCodes: [0] });
        } else if (req.type === "subscribe") {
          await peer.write({ type: "suback", packetId: req.packetId, returnCodes: [1] });
        } else throw new Error(`unexpected ${req.type}`);
      }
      await peer.write(
        publish(req.properties!.responseTopic!, `ok ${k}`, 0, undefined, {
          correlationData: req.properties!.correlationData,
        }),
      );
      peer.end(); // lost: the robust client reconnects
    }, async (broker) => {
      const client = new RobustClient(uniqueId("rr"), broker.url, { protocolVersion: 5 });
      client.DELAY = 0;
      try {
        await client.connect(false);
        for (const k of [1, 2, 3]) {
          const back = new Promise((r) => client.addEventListener("connected", r, { once: true }));
          assert.equal(text((await client.request("svc", "q")).payload), `ok ${k}`);
          await back; // the broker ended connection k
        }
        // Connected a fourth time, its subscriptions renewed.
        while (renewals.length < 3) await new Promise((r) => setTimeout(r, 5));
        assert.deepEqual(renewals.map((filters) => filters.length), [1, 1, 1]);
        assert.match(renewals[2][0], /^r3\/[0-9a-f]{12}$/);
      } finally {
        await client.disconnect();
      }
    });
  },
  TIMEOUT,
);

test("the robust client's disconnect() ends a request waiting for its reply", async () => {
  await withHostileBroker(async (peer) => {
    await acceptConnect(peer);
    await grantResponseTopic(peer);
    await peer.expect("publish"); // never answered
    await peer.expect("disconnect");
  }, async (broker) => {
    const client = new RobustClient(uniqueId("rr"), broker.url, { protocolVersion: 5 });
    await client.connect();
    const pending = client.request("svc", "q", { timeout: 60_000 });
    pending.catch(() => {}); // rejects within disconnect(): asserted below
    await new Promise((r) => setTimeout(r, 100)); // published, waiting for the reply
    await client.disconnect();
    await assert.rejects(pending, (e: unknown) => {
      assert.ok(e instanceof MQTTConnectionError, String(e));
      assert.match(e.message, /disconnect\(\) was called/);
      return true;
    });
    await broker.peers[0].clientClosed;
  });
}, TIMEOUT);

test(
  "a robust request that times out while offline is not published after the reconnect",
  async () => {
    const broker = await startMosquitto();
    const proxy = await FaultProxy.start({ hostname: broker.host, port: broker.port });
    const u = uniqueId("rq");
    const watcher = new MQTTClient(uniqueId("w"), broker.url, { protocolVersion: 5 });
    const client = new RobustClient(uniqueId("rr"), `mqtt://127.0.0.1:${proxy.port}`, {
      protocolVersion: 5,
    });
    client.DELAY = 0.02;
    try {
      await watcher.connect();
      await watcher.subscribe(`${u}/#`, 1);
      await client.connect(false);
      // One request answered first: the response topic is subscribed, so the
      // next request goes straight to its publish.
      const answered = client.request(`${u}/svc`, "q1", { qos: 1 });
      await watcher.respond(await watcher.wait_msg(), "a1");
      assert.equal(text((await answered).payload), "a1");
      const lost = new Promise((r) => client.addEventListener("disconnected", r, { once: true }));
      proxy.refuse(true);
      proxy.cut();
      await lost;
      await assert.rejects(client.request(`${u}/svc`, "q", { timeout: 100, qos: 1 }), (e) => {
        assert.ok(e instanceof DOMException && e.name === "TimeoutError", String(e));
        return true;
      });
      proxy.refuse(false);
      await client.publish(`${u}/marker`, "m", false, 1);
      const m = await watcher.wait_msg();
      assert.equal(m.topic, `${u}/marker`, "the request given up did not go out");
    } finally {
      await watcher.disconnect();
      await client.disconnect();
      await client.connect(true).then(() => client.disconnect(), () => {});
      await proxy.close();
      await broker.stop();
    }
  },
  { ...TIMEOUT, mosquitto: true },
);

test(
  "a robust request waiting while offline rejects at disconnect(), with no timer left behind",
  async () => {
    const broker = await startMosquitto();
    const proxy = await FaultProxy.start({ hostname: broker.host, port: broker.port });
    const client = new RobustClient(uniqueId("rr"), `mqtt://127.0.0.1:${proxy.port}`, {
      protocolVersion: 5,
    });
    client.DELAY = 0.02;
    try {
      await client.connect(false);
      const pending = client.request(`${uniqueId("nobody")}/svc`, "q", { timeout: 60_000 });
      pending.catch(() => {}); // asserted below
      await new Promise((r) => setTimeout(r, 100)); // published, waiting for its reply
      const lost = new Promise((r) => client.addEventListener("disconnected", r, { once: true }));
      proxy.refuse(true);
      proxy.cut();
      await lost;
      await client.disconnect();
      await assert.rejects(pending, (e: unknown) => {
        assert.ok(e instanceof MQTTConnectionError, String(e));
        assert.match(e.message, /disconnect\(\) was called/);
        return true;
      });
    } finally {
      await client.disconnect();
      await client.connect(true).then(() => client.disconnect(), () => {});
      await proxy.close();
      await broker.stop();
    }
  },
  { ...TIMEOUT, mosquitto: true },
);

test(
  "the robust client's requests through an outage: one SUBSCRIBE when it is back, none sent once over",
  async () => {
    let n = 0, up = false, failed = 0;
    await withHostileBroker(async (peer) => {
      const k = ++n;
      if (k === 1) {
        await acceptConnect(peer);
        peer.end(); // the outage begins
        return void await peer.clientClosed;
      }
      await peer.expect("connect");
      if (!up) {
        failed++;
        peer.end(); // an attempt that fails after its CONNECT went out
        return void await peer.clientClosed;
      }
      await peer.write({ type: "connack", sessionPresent: false, returnCode: 0 });
      // One SUBSCRIBE of the response topic, whatever the failed attempts and
      // the requests that timed out meanwhile; then only the last request.
      const responseTopic = await grantResponseTopic(peer);
      const req = await peer.expect("publish");
      assert.equal(text(req.payload), "last");
      await peer.write(
        publish(responseTopic, "reply", 0, undefined, {
          correlationData: req.properties!.correlationData,
        }),
      );
      await peer.expect("disconnect");
    }, async (broker) => {
      const client = new RobustClient(uniqueId("rq"), broker.url, { protocolVersion: 5 });
      client.DELAY = 0.002;
      await client.connect(false);
      const over: Promise<unknown>[] = [];
      while (failed < 5 || over.length < 10) {
        over.push(client.request("svc", `early ${over.length}`, { timeout: 5 }).catch((e) => e));
        await new Promise((r) => setTimeout(r, 5));
      }
      for (const e of await Promise.all(over)) assert.equal((e as Error).name, "TimeoutError");
      up = true;
      assert.equal(
        text((await client.request("svc", "last", { timeout: 10_000 })).payload),
        "reply",
      );
      await client.disconnect();
      for (const peer of broker.peers) await peer.clientClosed;
    });
  },
  TIMEOUT,
);

test(
  "a request whose subscription fails rejects with that error at once; the next request subscribes anew",
  async () => {
    await withHostileBroker(async (peer) => {
      await acceptConnect(peer);
      const responseTopic = await grantResponseTopic(peer);
      const req = await peer.expect("publish");
      await peer.write(
        publish(responseTopic, "pong", 0, undefined, {
          correlationData: req.properties!.correlationData,
        }),
      );
      await peer.expect("disconnect");
    }, async (broker) => {
      const client = new MQTTClient(uniqueId("rr"), broker.url, { protocolVersion: 5 });
      // Not connected: its SUBSCRIBE fails, and so does the request, long before its timeout.
      await assert.rejects(client.request("svc", "q", { timeout: 600_000 }), MQTTConnectionError);
      await client.connect();
      assert.equal(text((await client.request("svc", "ping")).payload), "pong");
      await client.disconnect();
      await broker.peers[0].clientClosed;
    });
  },
  TIMEOUT,
);

test("a reply's flags reach the request: QoS, retain and DUP as the broker sent them", async () => {
  await withHostileBroker(async (peer) => {
    await acceptConnect(peer);
    const responseTopic = await grantResponseTopic(peer);
    const req = await peer.expect("publish");
    await peer.write({
      ...publish(responseTopic, "again", 1, 9, {
        correlationData: req.properties!.correlationData,
      }),
      retain: true,
      dup: true,
    } as Packet);
    await peer.expect("puback");
    await peer.expect("disconnect");
  }, async (broker) => {
    const client = new MQTTClient(uniqueId("rr"), broker.url, { protocolVersion: 5 });
    await client.connect();
    const reply = await client.request("svc", "q");
    assert.deepEqual([reply.qos, reply.retain, reply.dup], [1, true, true]);
    await client.disconnect();
    await broker.peers[0].clientClosed;
  });
}, TIMEOUT);

test(
  "a robust request waiting through a reconnect keeps its response topic, though the new CONNACK's Response Information differs",
  async () => {
    let n = 0;
    let first: Uint8Array | undefined;
    await withHostileBroker(async (peer) => {
      const k = ++n;
      await acceptConnect(peer, { responseInformation: `r${k}/` });
      if (k === 1) {
        await grantResponseTopic(peer);
        // The first request, answered on the next connection.
        first = (await peer.expect("publish")).properties!.correlationData;
        return peer.end();
      }
      // Session Present 0: the response topic's subscription is renewed.
      const renewal = await peer.expect("subscribe");
      await peer.write({ type: "suback", packetId: renewal.packetId, returnCodes: [1] });
      // The second request goes out under the old response topic too (subscribed to once more,
      // a new connection may be a new session); the first is answered.
      let second = await peer.next();
      for (; second.type !== "publish"; second = await peer.next()) {
        if (second.type !== "subscribe") throw new Error(`unexpected ${second.type}`);
        await peer.write({ type: "suback", packetId: second.packetId, returnCodes: [1] });
      }
      const old = renewal.subscriptions[0].topic;
      assert.equal(second.properties?.responseTopic, old);
      await peer.write(publish(old, "first", 0, undefined, { correlationData: first! }));
      await peer.write(
        publish(old, "second", 0, undefined, {
          correlationData: second.properties!.correlationData,
        }),
      );
      await peer.expect("disconnect");
    }, async (broker) => {
      const client = new RobustClient(uniqueId("rr"), broker.url, { protocolVersion: 5 });
      client.DELAY = 0;
      try {
        await client.connect(false);
        const back = new Promise((r) => client.addEventListener("connected", r, { once: true }));
        const lost = new Promise((r) => client.addEventListener("disconnected", r, { once: true }));
        const one = client.request("svc", "1");
        one.catch(() => {}); // awaited below
        await lost;
        await back;
        const two = client.request("svc", "2");
        assert.deepEqual([text((await one).payload), text((await two).payload)], [
          "first",
          "second",
        ]);
      } finally {
        await client.disconnect();
        for (const peer of broker.peers) await peer.clientClosed;
      }
    });
  },
  TIMEOUT,
);

test(
  "respond(): to the request's Response Topic, its Correlation Data beside the caller's properties",
  async () => {
    const correlationData = bytes("id-7");
    const request: Message = {
      topic: "svc",
      payload: bytes("q"),
      qos: 0,
      retain: false,
      dup: false,
      properties: { responseTopic: "back/7", correlationData },
    };
    await withHostileBroker(async (peer) => {
      await acceptConnect(peer);
      const reply = await peer.expect("publish");
      assert.equal(reply.topic, "back/7");
      assert.deepEqual(reply.properties?.correlationData, correlationData);
      assert.equal(reply.properties?.contentType, "text/plain");
      await peer.expect("disconnect");
    }, async (broker) => {
      const client = new MQTTClient(uniqueId("rr"), broker.url, { protocolVersion: 5 });
      await client.connect();
      // One without a Response Topic is named as such, before anything is sent.
      await assert.rejects(
        client.respond({ ...request, properties: { correlationData } }, "r"),
        /^TypeError: Cannot respond: the request has no Response Topic/,
      );
      await client.respond(request, "r", { properties: { contentType: "text/plain" } });
      await client.disconnect();
      await broker.peers[0].clientClosed;
    });
  },
  TIMEOUT,
);

test(
  "a request over the broker's limits rejects with their RangeError before any byte, its SUBSCRIBE included",
  async () => {
    await withHostileBroker(async (peer) => {
      await acceptConnect(peer, { maximumQoS: 1, retainAvailable: false, maximumPacketSize: 100 });
      // Nothing but the round trip's answer: no SUBSCRIBE to the response topic, no PUBLISH.
      assert.deepEqual(await roundTrip(peer), []);
      await peer.expect("disconnect");
    }, async (broker) => {
      const client = new MQTTClient(uniqueId("rr"), broker.url, { protocolVersion: 5 });
      await client.connect();
      await assert.rejects(client.request("svc", "q", { qos: 2 }), {
        name: "RangeError",
        message: /Maximum QoS is 1 \(maximumQoS; MQTT-3\.2\.2-11\)/,
      });
      await assert.rejects(client.request("svc", "q".repeat(100)), {
        name: "RangeError",
        message: /over the broker's Maximum Packet Size 100 \(maximumPacketSize; MQTT-3\.2\.2-15\)/,
      });
      await client.disconnect();
      await broker.peers[0].clientClosed;
    });
  },
  TIMEOUT,
);

test(
  "a request that times out while its publish waits for a slot under Receive Maximum is not published",
  async () => {
    let timedOut!: () => void;
    const over = new Promise<void>((resolve) => (timedOut = resolve));
    let checked!: () => void;
    const seen = new Promise<void>((resolve) => (checked = resolve));
    await withHostileBroker(async (peer) => {
      await acceptConnect(peer, { receiveMaximum: 1 });
      await grantResponseTopic(peer);
      const first = await peer.expect("publish");
      assert.equal(text(first.payload), "first");
      await over; // the second request timed out, its publish still waiting for the slot
      await peer.write({ type: "puback", packetId: first.packetId!, reasonCode: 0 });
      // The slot is free: nothing was waiting for it any more.
      const after = await roundTrip(peer);
      checked();
      assert.deepEqual(after.map((p) => p.type === "publish" ? text(p.payload) : p.type), []);
      await peer.expect("disconnect");
    }, async (broker) => {
      const client = new MQTTClient(uniqueId("rr"), broker.url, { protocolVersion: 5 });
      await client.connect();
      const first = client.request("svc", "first", { qos: 1, timeout: 60_000 });
      first.catch(() => {}); // ends with disconnect()
      await assert.rejects(client.request("svc", "second", { qos: 1, timeout: 200 }), {
        name: "TimeoutError",
      });
      timedOut();
      await seen;
      await client.disconnect();
      await broker.peers[0].clientClosed;
    });
  },
  TIMEOUT,
);

test(
  "a new client object on a kept session: the last one's late reply is dropped, its response topic reused",
  async () => {
    // An application restarted (a new client object, the same client id) on its kept session:
    // the reply to a request of the last run, queued by the broker meanwhile, reached the
    // callback and wait_msg, and each run subscribed the session to one more response topic.
    const broker = await startMosquitto();
    const u = uniqueId("rq");
    const id = uniqueId("rr");
    const options = { protocolVersion: 5 as const, sessionExpiryInterval: 60 };
    const responder = new MQTTClient(uniqueId("svc"), broker.url, { protocolVersion: 5 });
    const first = new MQTTClient(id, broker.url, options);
    const second = new MQTTClient(id, broker.url, options);
    const called: string[] = [];
    second.set_callback((topic) => void called.push(topic));
    try {
      await responder.connect();
      await responder.subscribe(`${u}/svc`, 1);
      await first.connect(false);
      await assert.rejects(first.request(`${u}/svc`, "q1", { timeout: 200, qos: 1 }), {
        name: "TimeoutError",
      });
      const q1 = await responder.wait_msg();
      await first.disconnect();
      await responder.respond(q1, "late", { qos: 1 }); // queued in the kept session
      assert.equal(await second.connect(false), true, "the session was kept");
      await second.subscribe(`${u}/news`, 1);
      await second.publish(`${u}/news`, "marker", { qos: 1 });
      assert.equal((await second.wait_msg()).topic, `${u}/news`, "the late reply was dropped");
      assert.deepEqual(called, [`${u}/news`]);
      const reply = second.request(`${u}/svc`, "q2", { timeout: 10_000, qos: 1 });
      const q2 = await responder.wait_msg();
      assert.equal(q2.properties?.responseTopic, q1.properties?.responseTopic);
      await responder.respond(q2, "answer", { qos: 1 });
      assert.equal(text((await reply).payload), "answer");
    } finally {
      await responder.disconnect();
      await second.disconnect();
      await second.connect(true).then(() => second.disconnect(), () => {});
      await broker.stop();
    }
  },
  { ...TIMEOUT, mosquitto: true },
);

test("respond() checks its options before anything is sent: not an object, properties not an object", async () => {
  // Never connected: a bad argument is the TypeError, not "not connected". Before, `5` and
  // `{ properties: null }` were ignored, and `null` failed inside ("Cannot read properties of null").
  const client = new MQTTClient(uniqueId("rr"), "127.0.0.1", { protocolVersion: 5 });
  const request: Message = {
    topic: "svc",
    payload: bytes("q"),
    qos: 0,
    retain: false,
    dup: false,
    properties: { responseTopic: "back/1", correlationData: bytes("id") },
  };
  const cases: [unknown, RegExp][] = [
    [null, /^TypeError: Invalid options for respond: must be an object, got null/],
    [5, /^TypeError: Invalid options for respond: must be an object, got number/],
    [{ properties: null }, /^TypeError: Invalid properties for respond: must be an object/],
    [{ properties: "x" }, /^TypeError: Invalid properties for respond: must be an object/],
    [{ bogus: 1 }, /^TypeError: Invalid option bogus for respond: /],
  ];
  for (const [options, message] of cases) {
    await assert.rejects(client.respond(request, "r", options as PublishOptions), message);
  }
});

test(
  "an empty client identifier: the response topic follows the one the broker assigned, and is no other client's",
  async () => {
    let n = 0;
    const topics: string[] = [];
    await withHostileBroker(async (peer) => {
      const k = ++n;
      await acceptConnect(peer, { assignedClientIdentifier: `auto-${k}` });
      // The topic built before the id was assigned may be unsubscribed first (best effort).
      let sub = await peer.next();
      if (sub.type === "unsubscribe") {
        await peer.write({ type: "unsuback", packetId: sub.packetId, reasonCodes: [0x11] });
        sub = await peer.next();
      }
      assert.equal(sub.type, "subscribe");
      await peer.write({ type: "suback", packetId: sub.packetId, returnCodes: [1] });
      const responseTopic = sub.subscriptions[0].topic;
      topics.push(responseTopic);
      const req = await peer.expect("publish");
      assert.equal(req.properties?.responseTopic, responseTopic);
      await peer.write(
        publish(responseTopic, "ok", 0, undefined, {
          correlationData: req.properties!.correlationData,
        }),
      );
      await peer.expect("disconnect");
    }, async (broker) => {
      // Each asks once before it is connected (which fails), then once connected.
      for (const k of [1, 2]) {
        const client = new MQTTClient("", broker.url, { protocolVersion: 5 });
        await assert.rejects(client.request("svc", "q"), MQTTConnectionError);
        await client.connect();
        assert.equal(client.client_id, `auto-${k}`);
        assert.equal(text((await client.request("svc", "q")).payload), "ok");
        await client.disconnect();
      }
      // Before, both were "/responses/…", built before the id was assigned: one topic for
      // every such client (with the response topic made the same for one client identifier).
      assert.match(topics[0], /^auto-1\/responses\/[0-9a-f]{12}$/);
      assert.match(topics[1], /^auto-2\/responses\/[0-9a-f]{12}$/);
      for (const peer of broker.peers) await peer.clientClosed;
    });
  },
  TIMEOUT,
);
