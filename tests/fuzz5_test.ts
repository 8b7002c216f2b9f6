// Property tests of the MQTT 5.0 codec with fast-check: generated packets of
// every type, with any properties their packet allows and any reason code
// their packet's table lists, round-trip through encode and the streaming
// decoder however the bytes are cut; random or mutated bytes only ever make a
// version-5 decoder throw its own MQTTProtocolError.
//
// Each property runs a fixed number of cases from one seed, random per run
// and printed on failure; replay a failure with UMQTT_FUZZ_SEED=<seed>.
import assert from "node:assert/strict";
import fc from "npm:fast-check@4";
import { encode } from "../lib/codec/encode.ts";
import { PacketDecoder } from "../lib/codec/decoder.ts";
import type { Packet, ProtocolVersion } from "../lib/codec/packet.ts";
import { MQTTProtocolError } from "../lib/errors.ts";
import { reasonCodes5 } from "./codec5_fixtures.ts";
import {
  assertSamePacket,
  BIG,
  check,
  concat,
  cut,
  cuts,
  decodeAll,
  encodeAgain,
  EXHAUSTIVE_BELOW,
  feed,
  framedGarbage,
  mqttString,
  mutate,
  mutation,
  packetId,
  payload,
  qos,
  smallPayload,
  topicFilter,
  topicName,
  varint,
} from "./_fuzz.ts";
import { test } from "./_test.ts";

// Cases per property: together about two seconds on a slow CI core.
const RUNS = {
  roundTrip: 2000,
  streams: 1000,
  sizeLimit: 2000,
  randomBytes: 20000,
  mutated: 10000,
};

// ---- generated properties -------------------------------------------------

const bytes = fc.uint8Array({ maxLength: 16 });
const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
// Subscription identifiers of every Variable Byte Integer length, 1 to 268,435,455.
const subscriptionId = fc.oneof(
  fc.integer({ min: 1, max: 127 }),
  fc.integer({ min: 128, max: 16_383 }),
  fc.integer({ min: 16_384, max: 2_097_151 }),
  fc.integer({ min: 2_097_152, max: 268_435_455 }),
);

/** A value of each property of section 2.2.2.2, as the codec spells it. */
const PROPERTY: Record<string, fc.Arbitrary<unknown>> = {
  payloadFormatIndicator: fc.boolean(),
  messageExpiryInterval: u32,
  contentType: mqttString,
  responseTopic: topicName,
  correlationData: bytes,
  subscriptionIdentifier: subscriptionId,
  subscriptionIdentifiers: fc.array(subscriptionId, { minLength: 1, maxLength: 3 }),
  sessionExpiryInterval: u32,
  assignedClientIdentifier: mqttString,
  serverKeepAlive: u16,
  authenticationMethod: mqttString,
  authenticationData: bytes,
  requestProblemInformation: fc.boolean(),
  willDelayInterval: u32,
  requestResponseInformation: fc.boolean(),
  responseInformation: mqttString,
  serverReference: mqttString,
  reasonString: mqttString,
  receiveMaximum: fc.integer({ min: 1, max: 0xffff }),
  topicAliasMaximum: u16,
  topicAlias: fc.integer({ min: 1, max: 0xffff }),
  maximumQoS: fc.constantFrom(0, 1),
  retainAvailable: fc.boolean(),
  userProperties: fc.array(fc.tuple(mqttString, mqttString), { minLength: 1, maxLength: 3 }),
  maximumPacketSize: fc.integer({ min: 1, max: 0xffffffff }),
  wildcardSubscriptionAvailable: fc.boolean(),
  subscriptionIdentifiersAvailable: fc.boolean(),
  sharedSubscriptionAvailable: fc.boolean(),
};

const MESSAGE = [
  "payloadFormatIndicator",
  "messageExpiryInterval",
  "contentType",
  "responseTopic",
  "correlationData",
  "userProperties",
];
const ACK = ["reasonString", "userProperties"];

/** The properties each packet may carry (table 2-4, by packet). */
const ALLOWED: Record<string, string[]> = {
  connect: [
    "sessionExpiryInterval",
    "receiveMaximum",
    "maximumPacketSize",
    "topicAliasMaximum",
    "requestResponseInformation",
    "requestProblemInformation",
    "userProperties",
    "authenticationMethod",
    "authenticationData",
  ],
  will: [...MESSAGE, "willDelayInterval"],
  connack: [
    ...ACK,
    "sessionExpiryInterval",
    "receiveMaximum",
    "maximumQoS",
    "retainAvailable",
    "maximumPacketSize",
    "assignedClientIdentifier",
    "topicAliasMaximum",
    "wildcardSubscriptionAvailable",
    "subscriptionIdentifiersAvailable",
    "sharedSubscriptionAvailable",
    "serverKeepAlive",
    "responseInformation",
    "serverReference",
    "authenticationMethod",
    "authenticationData",
  ],
  publish: [...MESSAGE, "topicAlias", "subscriptionIdentifiers"],
  ack: ACK,
  subscribe: ["subscriptionIdentifier", "userProperties"],
  unsubscribe: ["userProperties"],
  disconnect: [...ACK, "sessionExpiryInterval", "serverReference"],
  auth: [...ACK, "authenticationMethod", "authenticationData"],
};

/** Some of the properties `packet` allows, or none (then the key is absent, as decoded). */
function properties(packet: string): fc.Arbitrary<{ properties?: Record<string, unknown> }> {
  const record = Object.fromEntries(ALLOWED[packet].map((k) => [k, PROPERTY[k]]));
  return fc.oneof(
    { weight: 1, arbitrary: fc.constant({}) },
    {
      weight: 3,
      arbitrary: fc.record(record, { requiredKeys: [] }).map((r) =>
        Object.keys(r).length ? { properties: { ...r } } : {}
      ),
    },
  );
}

/** One of the reason codes `name`'s own table lists. */
const reasonCode = (name: string) => fc.constantFrom(...reasonCodes5.find(([n]) => n === name)![3]);

// ---- generated packets, one arbitrary per type ------------------------------

const connect = fc.tuple(
  fc.record({
    clientId: mqttString,
    cleanSession: fc.boolean(),
    keepalive: u16,
    username: fc.option(mqttString, { nil: undefined }),
    password: fc.option(smallPayload, { nil: undefined }),
    will: fc.option(
      fc.tuple(
        fc.record({ topic: topicName, payload: smallPayload, qos, retain: fc.boolean() }),
        properties("will"),
      ),
      { nil: undefined },
    ),
  }),
  properties("connect"),
).map(([r, props]): Packet => {
  const p: Packet = {
    type: "connect",
    protocolVersion: 5,
    clientId: r.clientId,
    cleanSession: r.cleanSession,
    keepalive: r.keepalive,
    ...props,
  };
  if (r.will) p.will = { ...r.will[0], ...r.will[1] };
  // MQTT 5.0 allows a password without a user name, and an empty client id
  // with a session kept.
  if (r.username !== undefined) p.username = r.username;
  if (r.password !== undefined) p.password = r.password;
  // Authentication Data needs an Authentication Method (section 3.1.2.11.10).
  const auth = p.properties;
  if (auth?.authenticationData && !auth.authenticationMethod) delete auth.authenticationData;
  // None left (it was the only one): no key, as decoded, not an empty object.
  if (auth && Object.keys(auth).length === 0) delete p.properties;
  return p;
});

const publish = fc.tuple(
  fc.record({ topic: topicName, payload, qos, retain: fc.boolean(), dup: fc.boolean(), packetId }),
  properties("publish"),
  fc.boolean(),
).map(([r, props, aliasOnly]): Packet => {
  const p: Packet = {
    type: "publish",
    topic: r.topic,
    payload: r.payload,
    qos: r.qos,
    retain: r.retain,
    dup: r.qos > 0 && r.dup, // DUP is 0 at QoS 0 (MQTT-3.3.1-2)
    ...props,
  };
  if (r.qos > 0) p.packetId = r.packetId;
  // An empty topic name stands for the one its alias was mapped to.
  if (aliasOnly && p.properties?.topicAlias) p.topic = "";
  return p;
});

const ack = (type: "puback" | "pubrec" | "pubrel" | "pubcomp") =>
  fc.tuple(packetId, reasonCode(type.toUpperCase()), properties("ack")).map((
    [id, code, props],
  ): Packet => ({ type, packetId: id, reasonCode: code, ...props }));

const subscription = fc.record({
  topic: topicFilter,
  qos,
  noLocal: fc.boolean(),
  retainAsPublished: fc.boolean(),
  retainHandling: fc.constantFrom<0 | 1 | 2>(0, 1, 2),
}).map((s) => ({ ...s }));

const byType: Record<Packet["type"], fc.Arbitrary<Packet>> = {
  connect,
  connack: fc.tuple(fc.boolean(), reasonCode("CONNACK"), properties("connack"))
    .map(([sessionPresent, returnCode, props]): Packet => ({
      type: "connack",
      sessionPresent,
      returnCode,
      ...props,
    })),
  publish,
  puback: ack("puback"),
  pubrec: ack("pubrec"),
  pubrel: ack("pubrel"),
  pubcomp: ack("pubcomp"),
  subscribe: fc.tuple(
    packetId,
    fc.array(subscription, { minLength: 1, maxLength: 4 }),
    properties("subscribe"),
  ).map(([id, subscriptions, props]): Packet => ({
    type: "subscribe",
    packetId: id,
    subscriptions,
    ...props,
  })),
  suback: fc.tuple(
    packetId,
    fc.array(reasonCode("SUBACK"), { minLength: 1, maxLength: 6 }),
    properties("ack"),
  ).map(([id, returnCodes, props]): Packet => ({
    type: "suback",
    packetId: id,
    returnCodes,
    ...props,
  })),
  unsubscribe: fc.tuple(
    packetId,
    fc.array(topicFilter, { minLength: 1, maxLength: 4 }),
    properties("unsubscribe"),
  ).map(([id, topics, props]): Packet => ({ type: "unsubscribe", packetId: id, topics, ...props })),
  unsuback: fc.tuple(
    packetId,
    fc.array(reasonCode("UNSUBACK"), { minLength: 1, maxLength: 6 }),
    properties("ack"),
  ).map(([id, reasonCodes, props]): Packet => ({
    type: "unsuback",
    packetId: id,
    reasonCodes,
    ...props,
  })),
  pingreq: fc.constant({ type: "pingreq" }),
  pingresp: fc.constant({ type: "pingresp" }),
  disconnect: fc.tuple(reasonCode("DISCONNECT"), properties("disconnect"))
    .map(([reasonCode, props]): Packet => ({ type: "disconnect", reasonCode, ...props })),
  auth: fc.tuple(reasonCode("AUTH"), properties("auth"))
    .map(([reasonCode, props]): Packet => ({ type: "auth", reasonCode, ...props })),
};

const anyPacket: fc.Arbitrary<Packet> = fc.oneof(...Object.values(byType));

const encode5 = (p: Packet) => encode(p, 5);

// ---- properties ------------------------------------------------------------

test("fuzz 5.0: every packet type round-trips through encode and decode, cut anywhere", () => {
  const seen = new Set<string>();
  check(
    "5.0 round trip",
    fc.property(anyPacket, cuts, (packet, points) => {
      seen.add(packet.type);
      for (const key of Object.keys((packet as { properties?: object }).properties ?? {})) {
        seen.add(key);
      }
      if (packet.type === "publish" && packet.topic === "") seen.add("alias only");
      if (packet.type === "publish" && packet.payload.length === BIG) seen.add("256 KiB payload");
      const bytes = encode5(packet);
      const splits = [cut(bytes, points), [bytes]];
      if (bytes.length < EXHAUSTIVE_BELOW) {
        for (let i = 1; i < bytes.length; i++) {
          splits.push([bytes.subarray(0, i), bytes.subarray(i)]);
        }
        splits.push(Array.from(bytes, (b) => Uint8Array.of(b)));
      }
      for (const chunks of splits) {
        const decoded = decodeAll(chunks, bytes.length, 5);
        assert.equal(decoded.length, 1);
        assertSamePacket(decoded[0], packet);
      }
      assert.deepStrictEqual(encode5(decodeAll([bytes], bytes.length, 5)[0]), bytes, "re-encoding");
    }),
    RUNS.roundTrip,
  );
  const wanted = [
    ...Object.keys(byType),
    ...Object.keys(PROPERTY).filter((k) => !["willDelayInterval"].includes(k)),
    "alias only",
    "256 KiB payload",
  ];
  for (const w of wanted) assert.ok(seen.has(w), `no case generated with ${w}`);
});

test("fuzz 5.0: streams of packets decode in order, cut anywhere", () => {
  check(
    "5.0 streams",
    fc.property(fc.array(anyPacket, { minLength: 1, maxLength: 8 }), cuts, (packets, points) => {
      const encoded = packets.map(encode5);
      const max = Math.max(...encoded.map((e) => e.length));
      const decoded = decodeAll(cut(concat(encoded), points), max, 5);
      assert.equal(decoded.length, packets.length);
      decoded.forEach((p, i) => assertSamePacket(p, packets[i]));
    }),
    RUNS.streams,
  );
});

test("fuzz 5.0: a packet over maxPacketSize is refused from its fixed header, AUTH too", () => {
  check(
    "5.0 size limit",
    fc.property(
      fc.integer({ min: 1, max: 15 }),
      fc.integer({ min: 2, max: 1_048_576 }),
      fc.integer({ min: 0, max: 268_435_455 }),
      (type, max, remaining) => {
        const header = Uint8Array.of(type << 4, ...varint(remaining));
        const total = header.length + remaining;
        const decoder = new PacketDecoder({ maxPacketSize: max, protocolVersion: 5 });
        if (total > max) {
          assert.throws(() => decoder.push(header), /exceeds maxPacketSize/);
        } else if (remaining > 0) {
          assert.deepStrictEqual(decoder.push(header), []);
          assert.equal(decoder.pending, true);
        }
      },
    ),
    RUNS.sizeLimit,
  );
});

test("fuzz 5.0: random bytes make a version-5 decoder throw only MQTTProtocolError", () => {
  check(
    "5.0 random bytes",
    fc.property(
      fc.oneof(fc.uint8Array({ maxLength: 300 }), framedGarbage),
      cuts,
      fc.integer({ min: 2, max: 512 }),
      (bytes, points, max) => {
        feed(cut(bytes, points), max, 5);
      },
    ),
    RUNS.randomBytes,
  );
});

// Small packets only: the point is the edits.
const smallPacket = anyPacket.filter((p) =>
  !(p.type === "publish" && (p.payload.length > 64 || p.topic.length > 1000))
);

test("fuzz 5.0: mutated packets make the decoder throw only MQTTProtocolError", () => {
  let accepted = 0;
  check(
    "5.0 mutated packets",
    fc.property(
      fc.array(smallPacket, { minLength: 1, maxLength: 4 }),
      fc.array(mutation, { minLength: 1, maxLength: 4 }),
      cuts,
      (packets, edits, points) => {
        const bytes = mutate(concat(packets.map(encode5)), edits);
        const result = feed(cut(bytes, points), 1_048_576, 5);
        if (result instanceof MQTTProtocolError) return;
        accepted++;
        // Whatever the decoder accepts the encoder writes again, at the
        // version it was decoded at: a CONNECT switches the decoder to its level.
        let version: ProtocolVersion = 5;
        for (const p of result) {
          if (p.type === "connect") version = p.protocolVersion ?? 4;
          // As in 3.1.1's test: a level-4 CONNECT with an empty client id and a
          // kept session decodes, but a 3.1.1 client never writes it (MQTT-3.1.3-7).
          if (p.type === "connect" && version === 4 && p.clientId === "" && !p.cleanSession) {
            continue;
          }
          const again = encodeAgain(p, version);
          if (!again) continue; // a string a sender should not send
          const decoder = new PacketDecoder({ maxPacketSize: 1_048_576, protocolVersion: version });
          assertSamePacket(decoder.push(again)[0], p);
        }
      },
    ),
    RUNS.mutated,
  );
  assert.ok(accepted > 0, "no mutated stream was accepted at all");
});
