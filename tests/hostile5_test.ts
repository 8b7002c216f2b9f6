// MQTT 5 against a scripted broker (tests/_hostile_broker.ts) that sends
// what no real broker sends: properties that lie about their length or come
// twice, topic aliases out of range, a refusing CONNACK with a reason string,
// its own DISCONNECT. Each time the client says why in its own DISCONNECT
// (0x81 malformed packet, 0x82 protocol error, 0x94 topic alias invalid,
// 0x95 packet too large: the reason code the scripted broker receives),
// closes the connection, and every pending call rejects; nothing hangs.
import assert from "node:assert/strict";
import {
  type Message,
  MQTTClient,
  type MQTTClientOptions,
  MQTTConnectionError,
  MQTTException,
  MQTTProtocolError,
} from "../mod.ts";
import {
  acceptConnect,
  type HostileBroker,
  type Peer,
  type Scenario,
  withHostileBroker,
} from "./_hostile_broker.ts";
import { test, uniqueId, withTimeout } from "./_test.ts";
import { startAedes } from "./_brokers.ts";
import { encode } from "../lib/codec/encode.ts";
import type { Packet } from "../lib/codec/packet.ts";

const TIMEOUT = { timeout: 20_000 };
const text = (b: Uint8Array) => new TextDecoder().decode(b);
const bytes = (s: string) => new TextEncoder().encode(s);

/** An MQTT 5 client of `broker`. */
function v5(broker: HostileBroker, prefix: string, opts: MQTTClientOptions = {}) {
  return new MQTTClient(uniqueId(prefix), broker.url, { protocolVersion: 5, ...opts });
}

/** A whole packet from its first byte and its body (under 128 bytes: one length byte). */
function raw(byte1: number, ...body: number[]): Uint8Array {
  assert.ok(body.length < 128);
  return Uint8Array.of(byte1, body.length, ...body);
}

/** An assert.rejects validator: MQTTConnectionError caused by an MQTTProtocolError matching `rule`. */
function brokeProtocol(rule: RegExp) {
  return (e: unknown) => {
    assert.ok(e instanceof MQTTConnectionError, `expected MQTTConnectionError, got ${e}`);
    assert.match(e.message, /the broker broke the protocol/);
    assert.ok(e.cause instanceof MQTTProtocolError, `expected a protocol error, got ${e.cause}`);
    assert.match(e.cause.message, rule);
    return true;
  };
}

/** The client's last word was a DISCONNECT with `reasonCode`, then it closed the connection. */
async function closedWith(client: MQTTClient, peer: Peer, reasonCode: number) {
  assert.equal(await peer.clientClosed, "eof");
  assert.deepEqual(peer.received.at(-1), { type: "disconnect", reasonCode });
  assert.equal(client.connected, false);
  await assert.rejects(client.ping(), MQTTConnectionError);
}

/** disconnect(), then the broker has seen the client go (and read all it sent). */
async function bye(client: MQTTClient, broker: HostileBroker) {
  await client.disconnect();
  for (const peer of broker.peers) await peer.clientClosed;
}

/** Accepts the client, waits for its PINGREQ, writes `bytes`, and waits for the client to go. */
function afterPing(bytes: Uint8Array) {
  return async (peer: Peer) => {
    await acceptConnect(peer);
    await peer.expect("pingreq");
    await peer.write(bytes);
    await peer.clientClosed;
  };
}

/** The pending ping() and wait_msg() reject for `rule`; the client sends DISCONNECT `code`. */
async function pingBreaks(broker: HostileBroker, rule: RegExp, code: number, o = {}) {
  const client = v5(broker, "h5", o);
  await client.connect();
  const waiting = client.wait_msg();
  await assert.rejects(client.ping(), brokeProtocol(rule));
  await assert.rejects(waiting, brokeProtocol(rule));
  await closedWith(client, broker.peers[0], code);
}

// ---- properties that lie ----------------------------------------------------

test("a PUBLISH whose property length overruns the packet: DISCONNECT 0x81", async () => {
  // deno-fmt-ignore
  const overrun = raw(
    0x30, // PUBLISH, QoS 0
    0x00, 0x01, 0x74, // topic "t"
    0x0a, // property length 10, but one byte is left
    0x01, // (the payload)
  );
  await withHostileBroker(
    afterPing(overrun),
    (broker) => pingBreaks(broker, /PUBLISH: property length 10 overruns the packet/, 0x81),
  );
}, TIMEOUT);

test("a PUBACK whose property length ends inside its Reason String: DISCONNECT 0x81", async () => {
  await withHostileBroker(async (peer) => {
    await acceptConnect(peer);
    const publish = await peer.expect("publish");
    // deno-fmt-ignore
    await peer.write(raw(
      0x40, // PUBACK
      0x00, publish.packetId!, // packet id
      0x10, // reason code: no matching subscribers
      0x02, // property length 2, but the Reason String takes 8
      0x1f, 0x00, 0x05, ...bytes("hello"), // Reason String "hello"
    ));
    await peer.clientClosed;
  }, async (broker) => {
    const client = v5(broker, "short");
    await client.connect();
    await assert.rejects(
      client.publish("t", "m", false, 1),
      brokeProtocol(/PUBACK: the property length ends inside its reasonString/),
    );
    await closedWith(client, broker.peers[0], 0x81);
  });
}, TIMEOUT);

test("a property given twice in a PUBLISH: DISCONNECT 0x82, protocol error", async () => {
  // deno-fmt-ignore
  const twice = raw(
    0x30, // PUBLISH, QoS 0
    0x00, 0x01, 0x74, // topic "t"
    0x08, // property length 8
    0x03, 0x00, 0x01, 0x61, // Content Type "a"
    0x03, 0x00, 0x01, 0x62, // Content Type "b": again
    0x01, // payload
  );
  await withHostileBroker(
    afterPing(twice),
    (broker) => pingBreaks(broker, /PUBLISH has contentType twice/, 0x82),
  );
}, TIMEOUT);

test("a property given twice in CONNACK: connect() rejects, DISCONNECT 0x82", async () => {
  await withHostileBroker(async (peer) => {
    await peer.expect("connect");
    // deno-fmt-ignore
    await peer.write(raw(
      0x20, // CONNACK
      0x00, 0x00, // no session, success
      0x06, // property length 6
      0x21, 0x00, 0x0a, // Receive Maximum 10
      0x21, 0x00, 0x14, // Receive Maximum 20: again
    ));
    await peer.clientClosed;
  }, async (broker) => {
    const client = v5(broker, "dup");
    await assert.rejects(client.connect(), brokeProtocol(/CONNACK has receiveMaximum twice/));
    await closedWith(client, broker.peers[0], 0x82);
  });
}, TIMEOUT);

test("Receive Maximum 0 in CONNACK: connect() rejects, DISCONNECT 0x82", async () => {
  await withHostileBroker(async (peer) => {
    await peer.expect("connect");
    // deno-fmt-ignore
    await peer.write(raw(
      0x20, // CONNACK
      0x00, 0x00, // no session, success
      0x03, // property length 3
      0x21, 0x00, 0x00, // Receive Maximum 0
    ));
    await peer.clientClosed;
  }, async (broker) => {
    const client = v5(broker, "rm0");
    await assert.rejects(client.connect(), brokeProtocol(/CONNACK has receiveMaximum 0/));
    await closedWith(client, broker.peers[0], 0x82);
  });
}, TIMEOUT);

test("a packet over our maxPacketSize: DISCONNECT 0x95, packet too large", async () => {
  await withHostileBroker(async (peer) => {
    const connect = await acceptConnect(peer);
    // What the CONNECT told the broker.
    assert.equal(connect.properties?.maximumPacketSize, 100);
    await peer.expect("pingreq");
    await peer.write({
      type: "publish",
      topic: "t",
      payload: new Uint8Array(200),
      qos: 0,
      retain: false,
      dup: false,
    });
    await peer.clientClosed;
  }, (broker) =>
    pingBreaks(broker, /packet of 207 bytes exceeds maxPacketSize 100/, 0x95, {
      maxPacketSize: 100,
    }));
}, TIMEOUT);

// ---- topic aliases from the broker -----------------------------------------

/** A QoS 0 PUBLISH of "m" to `topic` (hex bytes) with topic alias `alias`. */
function aliased(topic: number[], alias: number): Uint8Array {
  // deno-fmt-ignore
  return raw(
    0x30, // PUBLISH, QoS 0
    0x00, topic.length, ...topic, // topic name (may be empty)
    0x03, // property length 3
    0x23, alias >> 8, alias & 0xff, // Topic Alias
    0x6d, // payload "m"
  );
}

test("a topic alias of 0: DISCONNECT 0x94, topic alias invalid", async () => {
  await withHostileBroker(
    afterPing(aliased([0x74], 0)),
    (broker) =>
      pingBreaks(broker, /PUBLISH has topicAlias 0 \(MQTT-3\.3\.2-8\)/, 0x94, {
        topicAliasMaximum: 5,
      }),
  );
}, TIMEOUT);

test("a topic alias over our topicAliasMaximum: DISCONNECT 0x94", async () => {
  await withHostileBroker(
    afterPing(aliased([0x74], 3)),
    (broker) =>
      pingBreaks(broker, /topic alias 3, over our Topic Alias Maximum 2/, 0x94, {
        topicAliasMaximum: 2,
      }),
  );
}, TIMEOUT);

test("a topic alias when we allowed none: DISCONNECT 0x94", async () => {
  await withHostileBroker(
    async (peer) => {
      const connect = await acceptConnect(peer);
      // No Topic Alias Maximum in CONNECT: 0, none (MQTT-3.1.2-26).
      assert.equal(connect.properties?.topicAliasMaximum, undefined);
      await peer.expect("pingreq");
      await peer.write(aliased([0x74], 1));
      await peer.clientClosed;
    },
    (broker) => pingBreaks(broker, /topic alias 1, over our Topic Alias Maximum 0/, 0x94),
  );
}, TIMEOUT);

test("an empty topic with an alias never set: DISCONNECT 0x94", async () => {
  await withHostileBroker(
    afterPing(aliased([], 1)),
    (broker) =>
      pingBreaks(broker, /empty topic and topic alias 1, which names no topic yet/, 0x94, {
        topicAliasMaximum: 5,
      }),
  );
}, TIMEOUT);

for (
  const packet of [
    { type: "subscribe", packetId: 1, subscriptions: [{ topic: "#", qos: 0 }] },
    { type: "pingreq" },
  ] as const
) {
  const name = packet.type.toUpperCase();
  test(`a ${name} from the broker, a packet only a client sends: DISCONNECT 0x82`, async () => {
    await withHostileBroker(
      afterPing(encode(packet as Packet, 5)),
      (broker) =>
        pingBreaks(broker, new RegExp(`${name} is a packet a broker must never send`), 0x82),
    );
  }, TIMEOUT);
}

test("an empty topic without a topic alias: DISCONNECT 0x82", async () => {
  // deno-fmt-ignore
  const noTopic = raw(
    0x30, // PUBLISH, QoS 0
    0x00, 0x00, // empty topic name
    0x00, // no properties
    0x6d, // payload "m"
  );
  await withHostileBroker(
    afterPing(noTopic),
    (broker) => pingBreaks(broker, /empty topic name and no topicAlias/, 0x82),
  );
}, TIMEOUT);

test("the broker's topic aliases are resolved before anyone sees the message", async () => {
  const pub = (topic: string, alias: number | undefined, payload: string, qos: 0 | 1 = 0) => ({
    type: "publish" as const,
    topic,
    payload: bytes(payload),
    qos,
    retain: false,
    dup: false,
    packetId: qos ? 7 : undefined,
    properties: alias === undefined ? undefined : { topicAlias: alias },
  });
  await withHostileBroker(async (peer) => {
    const connect = await acceptConnect(peer);
    assert.equal(connect.properties?.topicAliasMaximum, 2);
    await peer.expect("pingreq");
    await peer.write(
      pub("a/1", 1, "0"), // sets alias 1
      pub("", 1, "1"), // alias 1 alone
      pub("b/2", 2, "2", 1), // sets alias 2, QoS 1
      pub("", 2, "3"),
      pub("c/3", 1, "4"), // alias 1 now stands for c/3
      pub("", 1, "5"),
      pub("a/1", undefined, "6"), // no alias
      { type: "pingresp" },
    );
    assert.deepEqual(await peer.expect("puback"), { type: "puback", packetId: 7, reasonCode: 0 });
    await peer.expect("disconnect");
  }, async (broker) => {
    const client = v5(broker, "alias", { topicAliasMaximum: 2 });
    const called: string[] = [];
    client.set_callback((topic, _msg, m) => {
      called.push(topic);
      assert.equal(m.topic, topic);
    });
    await client.connect();
    await client.ping();
    const got: Message[] = [];
    for (let i = 0; i < 7; i++) got.push(await client.wait_msg());
    assert.deepEqual(got.map((m) => [m.topic, text(m.payload)]), [
      ["a/1", "0"],
      ["a/1", "1"],
      ["b/2", "2"],
      ["b/2", "3"],
      ["c/3", "4"],
      ["c/3", "5"],
      ["a/1", "6"],
    ]);
    assert.deepEqual(called, got.map((m) => m.topic));
    // The alias was the connection's business: no message carries one.
    for (const m of got) assert.deepEqual(m.properties, {});
    await bye(client, broker);
  });
}, TIMEOUT);

// ---- refusals and reasons ---------------------------------------------------

test(
  "a CONNACK refusal with a reason string: connect() rejects with code and reasonString",
  async () => {
    await withHostileBroker(async (peer) => {
      await peer.expect("connect");
      await peer.write({
        type: "connack",
        sessionPresent: false,
        returnCode: 0x87,
        properties: { reasonString: "tenant suspended" },
      });
      await peer.clientClosed;
    }, async (broker) => {
      const client = v5(broker, "refused");
      await assert.rejects(client.connect(), (e: unknown) => {
        assert.ok(e instanceof MQTTException, String(e));
        assert.equal(e.code, 0x87);
        assert.equal(e.reasonString, "tenant suspended");
        assert.equal(e.serverReference, undefined);
        assert.match(e.message, /Not authorized: tenant suspended \(CONNACK reason code 0x87\)/);
        return true;
      });
      assert.equal(client.connected, false);
      assert.equal(client.connack, undefined);
      // After a refusal the broker closes (MQTT-3.2.2-7); the client has nothing to say.
      assert.equal(await broker.peers[0].clientClosed, "eof");
      assert.deepEqual(broker.peers[0].received.map((p) => p.type), ["connect"]);
    });
  },
  TIMEOUT,
);

test("a CONNACK 0x9C with a Server Reference: MQTTException.serverReference", async () => {
  await withHostileBroker(async (peer) => {
    await peer.expect("connect");
    await peer.write({
      type: "connack",
      sessionPresent: false,
      returnCode: 0x9c,
      properties: { serverReference: "other.example:1884" },
    });
    await peer.clientClosed;
  }, async (broker) => {
    const client = v5(broker, "moved");
    await assert.rejects(client.connect(), (e: unknown) => {
      assert.ok(e instanceof MQTTException, String(e));
      assert.equal(e.code, 0x9c);
      assert.equal(e.serverReference, "other.example:1884");
      return true;
    });
    await broker.peers[0].clientClosed;
  });
}, TIMEOUT);

test(
  "PUBACK 0x87 with a reason string: the publish rejects with it, the connection stays",
  async () => {
    await withHostileBroker(async (peer) => {
      await acceptConnect(peer);
      const publish = await peer.expect("publish");
      await peer.write({
        type: "puback",
        packetId: publish.packetId!,
        reasonCode: 0x87,
        properties: { reasonString: "no writes to t" },
      });
      await peer.expect("pingreq");
      await peer.write({ type: "pingresp" });
      await peer.expect("disconnect");
    }, async (broker) => {
      const client = v5(broker, "puback");
      await client.connect();
      await assert.rejects(client.publish("t", "m", false, 1), (e: unknown) => {
        assert.ok(e instanceof MQTTException, String(e));
        assert.equal(e.code, 0x87);
        assert.equal(e.reasonString, "no writes to t");
        assert.match(e.message, /Not authorized: no writes to t \(PUBACK reason code 0x87\)/);
        return true;
      });
      await client.ping();
      assert.equal(client.connected, true);
      await bye(client, broker);
    });
  },
  TIMEOUT,
);

test("PUBREC 0x97 ends a QoS 2 publish: it rejects, no PUBREL follows", async () => {
  await withHostileBroker(async (peer) => {
    await acceptConnect(peer);
    const publish = await peer.expect("publish");
    await peer.write({
      type: "pubrec",
      packetId: publish.packetId!,
      reasonCode: 0x97,
      properties: { reasonString: "quota" },
    });
    // The client pings once the publish rejected: a PUBREL would have come first.
    await peer.expect("pingreq");
    await peer.write({ type: "pingresp" });
    await peer.expect("disconnect");
  }, async (broker) => {
    const client = v5(broker, "pubrec");
    await client.connect();
    await assert.rejects(client.publish("t", "m", false, 2), (e: unknown) => {
      assert.ok(e instanceof MQTTException, String(e));
      assert.equal(e.code, 0x97);
      assert.equal(e.reasonString, "quota");
      return true;
    });
    await client.ping();
    await bye(client, broker);
  });
}, TIMEOUT);

test("SUBACK and UNSUBACK refusals carry their reason string", async () => {
  await withHostileBroker(async (peer) => {
    await acceptConnect(peer);
    const subscribe = await peer.expect("subscribe");
    await peer.write({
      type: "suback",
      packetId: subscribe.packetId,
      returnCodes: [0x87],
      properties: { reasonString: "no reads of t" },
    });
    const unsubscribe = await peer.expect("unsubscribe");
    await peer.write({
      type: "unsuback",
      packetId: unsubscribe.packetId,
      reasonCodes: [0x8f],
      properties: { reasonString: "bad filter" },
    });
    await peer.expect("disconnect");
  }, async (broker) => {
    const client = v5(broker, "suback");
    await client.connect();
    await assert.rejects(client.subscribe("t", 1), (e: unknown) => {
      assert.ok(e instanceof MQTTException, String(e));
      assert.equal(e.code, 0x87);
      assert.equal(e.reasonString, "no reads of t");
      assert.match(e.message, /Not authorized: no reads of t/);
      return true;
    });
    await assert.rejects(client.unsubscribe("t"), (e: unknown) => {
      assert.ok(e instanceof MQTTException, String(e));
      assert.equal(e.code, 0x8f);
      assert.equal(e.reasonString, "bad filter");
      return true;
    });
    await bye(client, broker);
  });
}, TIMEOUT);

// ---- the broker's DISCONNECT ------------------------------------------------

test(
  "the broker's DISCONNECT rejects pending calls with its reason; the event carries it",
  async () => {
    await withHostileBroker(async (peer) => {
      await acceptConnect(peer);
      await peer.expect("publish");
      await peer.write({
        type: "disconnect",
        reasonCode: 0x8b,
        properties: { reasonString: "maintenance", serverReference: "b.example" },
      });
      await peer.clientClosed;
    }, async (broker) => {
      const client = v5(broker, "bye");
      const events: CustomEvent[] = [];
      client.addEventListener("disconnected", (e) => events.push(e as CustomEvent));
      await client.connect();
      const waiting = client.wait_msg();
      const said = (e: unknown) => {
        assert.ok(e instanceof MQTTConnectionError, String(e));
        assert.equal(e.reasonCode, 0x8b);
        assert.equal(e.reasonString, "maintenance");
        assert.equal(e.serverReference, "b.example");
        assert.match(
          e.message,
          /Disconnected by the broker: Server shutting down: maintenance \(DISCONNECT reason code 0x8b\)/,
        );
        return true;
      };
      await assert.rejects(client.publish("t", "m", false, 1), said);
      await assert.rejects(waiting, said);
      assert.equal(events.length, 1);
      const { error, ...detail } = events[0].detail;
      said(error);
      assert.deepEqual(detail, {
        reasonCode: 0x8b,
        reasonString: "maintenance",
        serverReference: "b.example",
      });
      // A call made afterwards is told why too.
      await assert.rejects(client.publish("t", "m"), (e: unknown) => {
        assert.ok(e instanceof MQTTConnectionError, String(e));
        assert.deepEqual([e.reasonCode, e.reasonString, e.serverReference], [
          0x8b,
          "maintenance",
          "b.example",
        ]);
        assert.match(e.message, /^Cannot publish: Disconnected by the broker: /);
        return true;
      });
      // The client closes without a DISCONNECT of its own (MQTT-3.14.4-1 is the broker's).
      assert.equal(await broker.peers[0].clientClosed, "eof");
      assert.deepEqual(broker.peers[0].received.map((p) => p.type), ["connect", "publish"]);
      assert.equal(client.connected, false);
    });
  },
  TIMEOUT,
);

test("nothing after the broker's DISCONNECT is handled", async () => {
  await withHostileBroker(async (peer) => {
    await acceptConnect(peer);
    await peer.expect("pingreq");
    // One write: the PUBLISH comes in the same read as the DISCONNECT.
    await peer.write(
      { type: "disconnect", reasonCode: 0x8b },
      { type: "publish", topic: "t", payload: bytes("late"), qos: 0, retain: false, dup: false },
    );
    await peer.clientClosed;
  }, async (broker) => {
    const client = v5(broker, "after");
    await client.connect();
    await assert.rejects(client.ping(), (e: unknown) => {
      assert.ok(e instanceof MQTTConnectionError, String(e));
      assert.equal(e.reasonCode, 0x8b);
      return true;
    });
    await broker.peers[0].clientClosed;
    // No message was queued: check_msg says why the connection is gone.
    await assert.rejects(client.check_msg(), MQTTConnectionError);
  });
}, TIMEOUT);

test("a DISCONNECT before CONNACK: connect() rejects, DISCONNECT 0x82", async () => {
  await withHostileBroker(async (peer) => {
    await peer.expect("connect");
    await peer.write({ type: "disconnect", reasonCode: 0x89 });
    await peer.clientClosed;
  }, async (broker) => {
    const client = v5(broker, "early");
    await assert.rejects(client.connect(), brokeProtocol(/Expected CONNACK first, got DISCONNECT/));
    await closedWith(client, broker.peers[0], 0x82);
  });
}, TIMEOUT);

test(
  "a broker over our receiveMaximum: every message is delivered, the overrun counted",
  async () => {
    await withHostileBroker(async (peer) => {
      const connect = await acceptConnect(peer);
      assert.equal(connect.properties?.receiveMaximum, 2);
      await peer.expect("pingreq");
      // Three QoS 1 messages unacknowledged at once, one over the maximum.
      await peer.write(
        ...[1, 2, 3].map((id) => ({
          type: "publish" as const,
          topic: "t",
          payload: bytes(String(id)),
          qos: 1 as const,
          retain: false,
          dup: false,
          packetId: id,
        })),
        { type: "pingresp" },
      );
      for (const id of [1, 2, 3]) {
        assert.deepEqual(await peer.expect("puback"), {
          type: "puback",
          packetId: id,
          reasonCode: 0,
        });
      }
      await peer.expect("disconnect");
    }, async (broker) => {
      const client = v5(broker, "over", { receiveMaximum: 2 });
      await client.connect();
      await client.ping();
      assert.equal(client.receiveMaximumExceeded, 1);
      const got = [];
      for (let i = 0; i < 3; i++) got.push(text((await client.wait_msg()).payload));
      assert.deepEqual(got, ["1", "2", "3"]);
      await bye(client, broker);
    });
  },
  TIMEOUT,
);

test(
  "Session Present after a clean start: connect() rejects, DISCONNECT 0x82 (MQTT-3.2.2-4)",
  async () => {
    await withHostileBroker(async (peer) => {
      const connect = await peer.expect("connect");
      assert.equal(connect.cleanSession, true);
      await peer.write({ type: "connack", sessionPresent: true, returnCode: 0 });
      await peer.clientClosed;
    }, async (broker) => {
      const client = v5(broker, "sp");
      await assert.rejects(
        client.connect(true),
        brokeProtocol(/CONNACK with Session Present after a clean start \(MQTT-3\.2\.2-4\)/),
      );
      await closedWith(client, broker.peers[0], 0x82);
    });
  },
  TIMEOUT,
);

/**
 * What an MQTT 3.1.1 broker answers a CONNECT of a level it lacks (MQTT 3.1.1, MQTT-3.1.2-2):
 * CONNACK return code 1, then it closes.
 */
const refuseLevel: Scenario = async (peer) => {
  await peer.expect("connect");
  await peer.write([0x20, 0x02, 0x00, 0x01]);
  peer.end();
  await peer.clientClosed;
};

test(
  "a broker without MQTT 5 refuses level 5 with 3.1.1's CONNACK 0x01: connect() rejects with 0x84, Unsupported Protocol Version",
  async () => {
    await withHostileBroker(refuseLevel, async (b) => {
      const client = v5(b, "v5on311");
      const e = await client.connect().catch((e) => e);
      assert.ok(e instanceof MQTTException, String(e));
      assert.equal(e.code, 0x84);
      assert.match(e.message, /Unsupported Protocol Version/);
      await client.disconnect();
    });
  },
  TIMEOUT,
);

test(
  "aedes, which speaks 3.1.1 only, answers protocol level 5 that way: connect() rejects with 0x84",
  async () => {
    const broker = await startAedes();
    try {
      const client = new MQTTClient(uniqueId("v5on311"), broker.host, {
        port: broker.port,
        protocolVersion: 5,
      });
      await assert.rejects(client.connect(), (e: unknown) => {
        assert.ok(e instanceof MQTTException, String(e));
        assert.equal(e.code, 0x84);
        return true;
      });
      assert.equal(client.connected, false);
    } finally {
      await broker.stop();
    }
  },
  TIMEOUT,
);

test("a 3.1.1 client's refusal of its protocol level does not take the broker for an MQTT 5 one", async () => {
  // CONNACK return code 1 to an MQTT 3.1.1 CONNECT comes as well from a broker of MQTT 3.1 only,
  // which umqtt does not speak; the hint named MQTT 5 alone ("the broker may speak MQTT 5 only").
  await withHostileBroker(refuseLevel, async (b) => {
    const client = new MQTTClient(uniqueId("level31"), b.url);
    await assert.rejects(client.connect(), {
      name: "MQTTException",
      message: "Connection refused: unacceptable protocol version: " +
        "the broker may speak MQTT 3.1 (unsupported) or MQTT 5 only: try protocolVersion: 5",
    });
    await client.disconnect();
  });
});

test(
  "a refusal of the protocol level names protocolVersion: the one to try instead",
  async () => {
    // Before, the refusal's words alone: "Connection refused: Unsupported Protocol Version
    // (CONNACK reason code 0x84)", "Connection refused: unacceptable protocol version".
    const cases: [4 | 5, number[], RegExp][] = [
      [5, [0x20, 0x02, 0x00, 0x01], /MQTT 3\.1\.1 only: try protocolVersion: 4$/], // a 3.1.1 broker
      [5, [0x20, 0x03, 0x00, 0x84, 0x00], /MQTT 3\.1\.1 only: try protocolVersion: 4$/],
      [4, [0x20, 0x02, 0x00, 0x01], /MQTT 5 only: try protocolVersion: 5$/],
    ];
    for (const [protocolVersion, connack, hint] of cases) {
      await withHostileBroker(async (peer) => {
        await peer.expect("connect");
        await peer.write(connack);
        peer.end();
        await peer.clientClosed;
      }, async (b) => {
        const client = new MQTTClient(uniqueId("level"), b.url, { protocolVersion });
        await assert.rejects(client.connect(), (e: unknown) => {
          assert.ok(e instanceof MQTTException, String(e));
          assert.match(e.message, hint, `v${protocolVersion}, CONNACK ${connack}: ${e.message}`);
          return true;
        });
        await client.disconnect();
      });
    }
    const broker = await startAedes();
    try {
      const client = new MQTTClient(uniqueId("level"), broker.url, { protocolVersion: 5 });
      await assert.rejects(client.connect(), /only: try protocolVersion: 4$/);
    } finally {
      await broker.stop();
    }
  },
  TIMEOUT,
);

// ---- flow control -----------------------------------------------------------

test(
  "QoS 1 PUBLISHes past 65 535 unacknowledged reuse a packet id in use: the client closes (0x93), its inbox no longer grows",
  async () => {
    for (const protocolVersion of [4, 5] as const) {
      await withHostileBroker(async (peer) => {
        await acceptConnect(peer);
        // Packet id 1 again and again, never acknowledged: the application does not consume.
        const publish = encode({
          type: "publish",
          topic: "t",
          payload: bytes("m"),
          qos: 1,
          retain: false,
          dup: false,
          packetId: 1,
        }, protocolVersion);
        const burst = new Uint8Array(publish.length * 4096);
        for (let i = 0; i < 4096; i++) burst.set(publish, i * publish.length);
        // 16 bursts: 65 536 messages, one more than there are packet ids.
        for (let i = 0; i < 16; i++) await peer.write(burst);
        await peer.clientClosed;
      }, async (broker) => {
        const client = new MQTTClient(uniqueId("flood"), broker.url, { protocolVersion });
        const lost = new Promise<CustomEvent>((r) =>
          client.addEventListener("disconnected", (e) => r(e as CustomEvent), { once: true })
        );
        await client.connect();
        const { error } = (await withTimeout(lost, 15_000, "the client to close")).detail;
        assert.ok(error.cause instanceof MQTTProtocolError, `${error.cause}`);
        assert.match(error.cause.message, /65535 QoS 1 and 2 messages unacknowledged/);
        assert.equal(error.cause.reasonCode, 0x93);
        if (protocolVersion === 5) await closedWith(client, broker.peers[0], 0x93);
        // The 65 535 before it were delivered; the one that broke the rule was not.
        let queued = 0;
        while (await client.check_msg().catch(() => undefined)) queued++;
        assert.equal(queued, 65535);
        await client.disconnect();
      });
    }
  },
  { timeout: 60_000 },
);
