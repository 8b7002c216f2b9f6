// What an MQTT 5 broker's CONNACK asks of the client, tested where the
// broker can count: a scripted broker (tests/_hostile_broker.ts) that gives
// the limits and watches what arrives. Flow control (Receive Maximum), the
// broker's Maximum QoS, Retain Available, Maximum Packet Size, subscription
// features, Server Keep Alive, and topic aliases towards the broker.
import assert from "node:assert/strict";
import type { ConnackProperties, PublishPacket } from "../lib/codec/mod.ts";
import { MQTTClient, type MQTTClientOptions, MQTTConnectionError, MQTTException } from "../mod.ts";
import {
  acceptConnect,
  ackTwoAtATime,
  type HostileBroker,
  roundTrip,
  withHostileBroker,
} from "./_hostile_broker.ts";
import { test, uniqueId, withTimeout } from "./_test.ts";

const TIMEOUT = { timeout: 20_000 };
const text = (b: Uint8Array) => new TextDecoder().decode(b);

function v5(broker: HostileBroker, prefix: string, opts: MQTTClientOptions = {}) {
  return new MQTTClient(uniqueId(prefix), broker.url, { protocolVersion: 5, ...opts });
}

/** disconnect(), then the broker has seen the client go (and read all it sent). */
async function bye(client: MQTTClient, broker: HostileBroker) {
  await client.disconnect();
  for (const peer of broker.peers) await peer.clientClosed;
}

// ---- flow control -----------------------------------------------------------

test(
  "Receive Maximum 2: never more than 2 QoS 1 publishes unacknowledged, the rest in call order",
  async () => {
    const N = 6;
    const arrived: string[] = [];
    await withHostileBroker(async (peer) => {
      await acceptConnect(peer, { receiveMaximum: 2 });
      for (const p of await ackTwoAtATime(peer, N)) arrived.push(text(p.payload));
      await peer.expect("disconnect");
    }, async (broker) => {
      const client = v5(broker, "rm2");
      await client.connect();
      const publishes = Array.from(
        { length: N },
        (_, i) => client.publish("t", String(i), false, 1),
      );
      await Promise.all(publishes);
      assert.deepEqual(arrived, ["0", "1", "2", "3", "4", "5"]);
      await bye(client, broker);
    });
  },
  TIMEOUT,
);

test(
  "Receive Maximum 2 with QoS 2: a publish counts until PUBCOMP, or a PUBREC refusal",
  async () => {
    const arrived: string[] = [];
    await withHostileBroker(async (peer) => {
      await acceptConnect(peer, { receiveMaximum: 2 });
      const next = async () => {
        const p = await peer.expect("publish");
        arrived.push(text(p.payload));
        return p.packetId!;
      };
      const [p0, p1] = [await next(), await next()];
      assert.deepEqual(await roundTrip(peer), []);
      await peer.write({ type: "pubrec", packetId: p0 });
      assert.deepEqual(await peer.expect("pubrel"), {
        type: "pubrel",
        packetId: p0,
        reasonCode: 0,
      });
      // Released but not complete: it still counts.
      assert.deepEqual(await roundTrip(peer), []);
      await peer.write({ type: "pubcomp", packetId: p0 });
      const p2 = await next();
      assert.deepEqual(await roundTrip(peer), []);
      // A refusal in PUBREC ends that publish: its place goes to the next one, no PUBREL.
      await peer.write({ type: "pubrec", packetId: p1, reasonCode: 0x97 });
      const p3 = await next();
      assert.deepEqual(await roundTrip(peer), []);
      for (const id of [p2, p3]) {
        await peer.write({ type: "pubrec", packetId: id });
        await peer.expect("pubrel");
        await peer.write({ type: "pubcomp", packetId: id });
      }
      await peer.expect("disconnect");
    }, async (broker) => {
      const client = v5(broker, "rm2q2");
      await client.connect();
      const results = await Promise.allSettled(
        [0, 1, 2, 3].map((i) => client.publish("t", String(i), false, 2)),
      );
      assert.deepEqual(results.map((r) => r.status), [
        "fulfilled",
        "rejected",
        "fulfilled",
        "fulfilled",
      ]);
      const refused = (results[1] as PromiseRejectedResult).reason;
      assert.ok(refused instanceof MQTTException && refused.code === 0x97, String(refused));
      assert.deepEqual(arrived, ["0", "1", "2", "3"]);
      await bye(client, broker);
    });
  },
  TIMEOUT,
);

// ---- what the broker lacks --------------------------------------------------

type Limit = [
  name: string,
  connack: ConnackProperties,
  call: (c: MQTTClient) => Promise<unknown>,
  message: RegExp,
];
const LIMITS: Limit[] = [
  [
    "Maximum QoS 1: a QoS 2 publish",
    { maximumQoS: 1 },
    (c) => c.publish("t", "m", false, 2),
    /^Cannot publish to "t" with QoS 2: the broker's Maximum QoS is 1 \(maximumQoS; MQTT-3\.2\.2-11\)$/,
  ],
  [
    "Maximum QoS 0: a QoS 1 publish",
    { maximumQoS: 0 },
    (c) => c.publish("t", "m", { qos: 1 }),
    /with QoS 1: the broker's Maximum QoS is 0/,
  ],
  [
    "Retain Available 0: a retained publish",
    { retainAvailable: false },
    (c) => c.publish("t", "m", true),
    /^Cannot publish to "t" with retain: the broker has no retained messages \(Retain Available 0, retainAvailable; MQTT-3\.2\.2-14\)$/,
  ],
  [
    "Maximum Packet Size 64: a larger PUBLISH",
    { maximumPacketSize: 64 },
    (c) => c.publish("t", "m".repeat(64), false, 1),
    /^Cannot publish to "t" with a packet of 72 bytes: over the broker's Maximum Packet Size 64/,
  ],
  [
    "Maximum Packet Size 64: a larger SUBSCRIBE",
    { maximumPacketSize: 64 },
    (c) => c.subscribe("f".repeat(64), 1),
    /^Cannot subscribe to "f{64}" with a packet of 72 bytes: over the broker's Maximum Packet Size 64/,
  ],
  [
    "Maximum Packet Size 64: a larger UNSUBSCRIBE",
    { maximumPacketSize: 64 },
    (c) => c.unsubscribe("f".repeat(64)),
    /^Cannot unsubscribe from "f{64}" with a packet of 71 bytes: over the broker's Maximum Packet Size 64/,
  ],
  [
    "Wildcard Subscription Available 0: a filter with +",
    { wildcardSubscriptionAvailable: false },
    (c) => c.subscribe("a/+/c"),
    /^Cannot subscribe to "a\/\+\/c" with wildcards: the broker has none \(Wildcard Subscription Available 0, wildcardSubscriptionAvailable\)$/,
  ],
  [
    "Wildcard Subscription Available 0: one of several filters with #",
    { wildcardSubscriptionAvailable: false },
    (c) => c.subscribe([["a", 0], ["b/#", 1]]),
    /^Cannot subscribe to "b\/#" with wildcards/,
  ],
  [
    "Shared Subscription Available 0: a $share filter",
    { sharedSubscriptionAvailable: false },
    (c) => c.subscribe("$share/g/a"),
    /^Cannot subscribe to "\$share\/g\/a" with a shared subscription: the broker has none \(Shared Subscription Available 0, sharedSubscriptionAvailable\)$/,
  ],
  [
    "Subscription Identifiers Available 0: a subscription identifier",
    { subscriptionIdentifiersAvailable: false },
    (c) => c.subscribe("a", { qos: 1, subscriptionIdentifier: 7 }),
    /^Cannot subscribe to "a" with a subscription identifier: the broker has none \(Subscription Identifier Available 0, subscriptionIdentifiersAvailable\)$/,
  ],
];

for (const [name, connack, call, message] of LIMITS) {
  test(`${name} rejects with a RangeError before any byte is written`, async () => {
    await withHostileBroker(async (peer) => {
      await acceptConnect(peer, connack);
      await peer.expect("pingreq");
      await peer.write({ type: "pingresp" });
      await peer.expect("disconnect");
    }, async (broker) => {
      const client = v5(broker, "limit");
      await client.connect();
      await assert.rejects(call(client), (e: unknown) => {
        assert.ok(e instanceof RangeError, String(e));
        assert.match(e.message, message);
        return true;
      });
      await client.ping();
      await bye(client, broker);
      // The PINGREQ came right after the CONNECT: nothing was written for the call.
      assert.deepEqual(broker.peers[0].received.map((p) => p.type), [
        "connect",
        "pingreq",
        "disconnect",
      ]);
    });
  }, TIMEOUT);
}

// ---- Server Keep Alive ------------------------------------------------------

test(
  "Server Keep Alive in CONNACK replaces the keepalive: PINGREQs with keepalive off",
  async () => {
    let pinged!: () => void;
    const twice = new Promise<void>((resolve) => (pinged = resolve));
    await withHostileBroker(async (peer) => {
      const connect = await acceptConnect(peer, { serverKeepAlive: 1 });
      assert.equal(connect.keepalive, 0);
      for (let i = 0; i < 2; i++) {
        await peer.expect("pingreq");
        await peer.write({ type: "pingresp" });
      }
      pinged();
      await peer.expect("disconnect");
    }, async (broker) => {
      const client = v5(broker, "ska");
      await client.connect();
      // Nobody calls anything: the PINGREQs are the keepalive's, every second.
      await twice;
      assert.equal(client.connected, true);
      await bye(client, broker);
    });
  },
  TIMEOUT,
);

test(
  "Server Keep Alive 1 s replaces keepalive 60: an unanswered PINGREQ is dead after 500 ms",
  async () => {
    await withHostileBroker(async (peer) => {
      const connect = await acceptConnect(peer, { serverKeepAlive: 1 });
      assert.equal(connect.keepalive, 60);
      await peer.expect("pingreq"); // and no answer
      await peer.clientClosed;
    }, async (broker) => {
      const client = v5(broker, "ska60", { keepalive: 60 });
      const lost = new Promise<Error>((resolve) =>
        client.addEventListener("disconnected", (e) => resolve((e as CustomEvent).detail.error))
      );
      assert.equal(client.keepalive, 60, "as given, before a CONNACK");
      await client.connect();
      assert.equal(client.keepalive, 1, "the broker's, once it set one");
      const error = await lost;
      assert.ok(error instanceof MQTTConnectionError);
      assert.match(error.message, /no answer to PINGREQ within 500 ms \(keepalive 1 s\)/);
      await broker.peers[0].clientClosed;
    });
  },
  TIMEOUT,
);

// ---- topic aliases towards the broker ---------------------------------------

/** What a PUBLISH carried: its topic (empty under an alias alone) and its alias. */
const wire = (p: PublishPacket) => [p.topic, p.properties?.topicAlias];

test(
  "Topic Alias Maximum 2: a topic and its alias, then the alias alone; a third topic goes in full",
  async () => {
    await withHostileBroker(async (peer) => {
      await acceptConnect(peer, { topicAliasMaximum: 2 });
      const seen = [];
      for (let i = 0; i < 7; i++) seen.push(wire(await peer.expect("publish")));
      assert.deepEqual(seen, [
        ["a/1", 1],
        ["", 1],
        ["b/2", 2],
        ["", 2],
        ["c/3", undefined],
        ["c/3", undefined],
        ["", 1],
      ]);
      await peer.expect("disconnect");
    }, async (broker) => {
      const client = v5(broker, "alias");
      await client.connect();
      for (const t of ["a/1", "a/1", "b/2", "b/2", "c/3", "c/3"]) await client.publish(t, "m");
      // A publish with properties goes under the alias too.
      await client.publish("a/1", "m", { properties: { contentType: "text/plain" } });
      await bye(client, broker);
    });
  },
  TIMEOUT,
);

test(
  "topic aliases end with the connection: a resend carries the full topic, a new publish sets the alias again",
  async () => {
    await withHostileBroker(async (peer) => {
      const connect = await peer.expect("connect");
      await peer.write({
        type: "connack",
        sessionPresent: !connect.cleanSession,
        returnCode: 0,
        properties: { topicAliasMaximum: 2 },
      });
      if (connect.cleanSession) {
        assert.deepEqual(wire(await peer.expect("publish")), ["a/1", 1]);
        const second = await peer.expect("publish");
        assert.deepEqual(wire(second), ["", 1]);
        assert.equal(second.qos, 1);
        peer.end(); // unacknowledged
        await peer.clientClosed;
        return;
      }
      // The session's resend: DUP, the full topic, no alias (aliases are the old connection's).
      const resent = await peer.expect("publish");
      assert.deepEqual(wire(resent), ["a/1", undefined]);
      assert.equal(resent.dup, true);
      await peer.write({ type: "puback", packetId: resent.packetId! });
      assert.deepEqual(wire(await peer.expect("publish")), ["a/1", 1]);
      await peer.expect("disconnect");
    }, async (broker) => {
      const client = v5(broker, "reset");
      await client.connect(true);
      await client.publish("a/1", "first");
      const pending = client.publish("a/1", "second", false, 1);
      await assert.rejects(pending, MQTTConnectionError);
      assert.equal(await client.connect(false), true);
      await client.publish("a/1", "third");
      await bye(client, broker);
    });
  },
  TIMEOUT,
);

test(
  "a QoS 0 publish follows each connection's CONNACK: as built with none, refused over a limit, aliased where granted",
  async () => {
    let n = 0;
    await withHostileBroker(async (peer) => {
      const connection = n++;
      // First no limit and no alias; then a Maximum Packet Size; then aliases.
      await acceptConnect(
        peer,
        [{}, { maximumPacketSize: 40 }, { topicAliasMaximum: 5 }][connection],
      );
      const first = await peer.expect("publish");
      const alias = connection === 2 ? 1 : undefined;
      assert.deepEqual(
        [first.topic, text(first.payload), first.retain, first.properties],
        ["t/plain", "m1", true, alias && { topicAlias: alias }],
      );
      if (connection === 0) {
        const second = await peer.expect("publish");
        assert.deepEqual(second.properties, { contentType: "text/plain" });
      }
      await peer.expect("disconnect");
    }, async (broker) => {
      const client = v5(broker, "plain");
      for (let i = 0; i < 3; i++) {
        await client.connect();
        await client.publish("t/plain", "m1", true);
        if (i === 0) {
          await client.publish("t/plain", "m2", { properties: { contentType: "text/plain" } });
        }
        if (i === 1) {
          // Over the broker's Maximum Packet Size: refused before a byte is written.
          await assert.rejects(client.publish("t/plain", "x".repeat(64)), RangeError);
        }
        await bye(client, broker);
      }
    });
  },
  TIMEOUT,
);

test(
  "a publish that waits for its turn goes under its topic alias with the properties and payload given at the call",
  async () => {
    // Receive Maximum 1: the second and third publishes wait for the first's
    // PUBACK, then go under topic alias 1 alone. The session keeps each as it
    // was encoded at the call (and a resend carries that); the aliased PUBLISH
    // must carry the same message, whatever the caller did since with the
    // arrays and buffers it gave.
    const seen: unknown[][] = [];
    await withHostileBroker(async (peer) => {
      await acceptConnect(peer, { receiveMaximum: 1, topicAliasMaximum: 5 });
      for (let i = 0; i < 3; i++) {
        const p = await peer.expect("publish");
        const { topicAlias, userProperties, correlationData, contentType } = p.properties ?? {};
        seen.push([
          p.topic,
          topicAlias,
          userProperties,
          correlationData && text(correlationData),
          contentType,
          text(p.payload),
        ]);
        await peer.write({ type: "puback", packetId: p.packetId! });
      }
      await peer.expect("disconnect");
    }, async (broker) => {
      const client = v5(broker, "asgiven");
      await client.connect();
      const first = client.publish("t/a", "first", false, 1);
      const userProperties: [string, string][] = [["seq", "1"]];
      const correlationData = new TextEncoder().encode("corr-1");
      const second = client.publish("t/a", "second", {
        qos: 1,
        properties: { userProperties, correlationData },
      });
      userProperties[0][1] = "2"; // the caller reuses what it gave
      userProperties.push(["extra", "x"]);
      correlationData.set(new TextEncoder().encode("XXXX"));
      const payload = new TextEncoder().encode("third");
      const third = client.publish("t/a", payload, {
        qos: 1,
        properties: { contentType: "text/plain" },
      });
      // Its buffer handed on (to a worker, say): the view is now empty.
      structuredClone(payload.buffer, { transfer: [payload.buffer] });
      await Promise.all([first, second, third]);
      await bye(client, broker);
    });
    assert.deepEqual(seen, [
      ["t/a", 1, undefined, undefined, undefined, "first"],
      ["", 1, [["seq", "1"]], "corr-1", undefined, "second"],
      ["", 1, undefined, undefined, "text/plain", "third"],
    ]);
  },
  TIMEOUT,
);

test("autoTopicAlias false: no aliases even when the broker allows them", async () => {
  await withHostileBroker(async (peer) => {
    await acceptConnect(peer, { topicAliasMaximum: 10 });
    for (let i = 0; i < 2; i++) {
      assert.deepEqual(wire(await peer.expect("publish")), ["t", undefined]);
    }
    await peer.expect("disconnect");
  }, async (broker) => {
    const client = v5(broker, "noalias", { autoTopicAlias: false });
    await client.connect();
    await client.publish("t", "m");
    await client.publish("t", "m");
    await bye(client, broker);
  });
}, TIMEOUT);

test(
  "Receive Maximum delays only PUBLISHes: a SUBSCRIBE and an UNSUBSCRIBE go at once (MQTT-3.3.4-8)",
  async () => {
    await withHostileBroker(async (peer) => {
      await acceptConnect(peer, { receiveMaximum: 1 });
      const first = await peer.expect("publish");
      // The second publish waits for the first's PUBACK; the SUBSCRIBE and UNSUBSCRIBE must not.
      const before = await roundTrip(peer);
      assert.deepEqual(before.map((p) => p.type), ["subscribe", "unsubscribe"]);
      const [sub, unsub] = before as unknown as [{ packetId: number }, { packetId: number }];
      await peer.write({ type: "suback", packetId: sub.packetId, returnCodes: [0] });
      await peer.write({ type: "unsuback", packetId: unsub.packetId, reasonCodes: [0] });
      await peer.write({ type: "puback", packetId: first.packetId! });
      const second = await peer.expect("publish");
      await peer.write({ type: "puback", packetId: second.packetId! });
      await peer.expect("disconnect");
    }, async (broker) => {
      const client = v5(broker, "rm1sub");
      await client.connect();
      const calls = [
        client.publish("t", "1", false, 1),
        client.publish("t", "2", false, 1),
        client.subscribe("s", 0),
        client.unsubscribe("s"),
      ];
      await withTimeout(Promise.all(calls), 3000, "the calls: the SUBSCRIBE waited for the PUBACK");
      await bye(client, broker);
    });
  },
  TIMEOUT,
);
