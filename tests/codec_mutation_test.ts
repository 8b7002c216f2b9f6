// The codec (lib/codec/) where a systematic mutation run (every comparison, condition, constant
// ±1 and statement, one at a time, a fifth of them sampled) found behaviour no test pinned down.
import assert from "node:assert/strict";
import { encode } from "../lib/codec/encode.ts";
import { decodePacket } from "../lib/codec/decode.ts";
import { encodeUnsubscribe } from "../lib/codec/subscribe.ts";
import {
  type Packet,
  PacketType,
  type PublishPacket,
  type UnsubscribePacket,
} from "../lib/codec/packet.ts";
import { Framer } from "../lib/codec/_framer.ts";
import { allocPacket, SHORT_LIVED } from "../lib/codec/_varint.ts";
import { MQTTProtocolError } from "../lib/errors.ts";
import { brokerDecoder, checkLimits, keptRefusal, overrun } from "../lib/_limits.ts";
import { test } from "./_test.ts";

test("Framer.room(min): the body being gathered, grown for `min` bytes to read in place; null when none is", () => {
  const payload = Uint8Array.from({ length: 200_000 }, (_, i) => i & 0xff);
  const bytes = encode({ type: "publish", topic: "t", payload, qos: 0, retain: false, dup: false });
  const f = new Framer(1 << 20, brokerDecoder({}));
  assert.equal(f.room(1), null, "no packet started");
  assert.deepEqual(f.push(bytes.subarray(0, 10)), []);
  // 6 bytes of the body came (after 4 of fixed header); the first 64 KiB of it hold 65 530 more.
  const first = f.room(65_535)!;
  assert.ok(first.length >= 65_535, `${first.length} bytes to read into`);
  first.set(bytes.subarray(10, 65_545));
  assert.deepEqual(f.push(first.subarray(0, 65_535)), []);
  const rest = bytes.length - 65_545;
  assert.equal(f.room(rest + 1), null, "less than that is to come");
  const last = f.room(rest)!;
  last.set(bytes.subarray(65_545));
  const [p] = f.push(last.subarray(0, rest)) as PublishPacket[];
  assert.deepEqual(p.payload, payload);
  assert.equal(f.room(1), null, "the packet is done");
});

test("allocPacket refuses a Remaining Length over 268,435,455 or not a number, before it takes from a slab", () => {
  assert.throws(() => allocPacket(0x30, 268_435_456), RangeError);
  assert.throws(() => allocPacket(0x30, NaN, SHORT_LIVED), RangeError);
  // The slab still gives out bytes of their own.
  const [a] = allocPacket(0x30, 2, SHORT_LIVED), [b] = allocPacket(0x30, 2, SHORT_LIVED);
  assert.ok(a.buffer !== b.buffer || a.byteOffset + a.length <= b.byteOffset);
});

test("a broker's decoder: a CONNECT of another protocol level names the levels that version takes (MQTT-3.1.2-2)", () => {
  const connect = [0x10, 10, 0, 4, 0x4d, 0x51, 0x54, 0x54, 3, 2, 0, 60];
  for (
    const [version, levels] of [[4, "MQTT 3.1.1 is 4"], [
      5,
      "MQTT 3.1.1 is 4, MQTT 5.0 is 5",
    ]] as const
  ) {
    assert.throws(
      () => decodePacket(connect[0], Uint8Array.from(connect.slice(2)), version),
      (e) =>
        e instanceof MQTTProtocolError &&
        e.message === `CONNECT protocol level is 3; ${levels} (MQTT-3.1.2-2)`,
    );
  }
});

test("MQTT 5 CONNACK: a 3.1.1 broker's refusal of level 5 (return code 1, nothing after) reads as 0x84; other codes are checked", () => {
  assert.deepEqual(decodePacket(0x20, Uint8Array.of(0, 1), 5), {
    type: "connack",
    sessionPresent: false,
    returnCode: 0x84,
  });
  // 3.1.1's identifier rejected (2) is no MQTT 5 CONNACK reason code (MQTT-3.2.2-8).
  assert.throws(() => decodePacket(0x20, Uint8Array.of(0, 2), 5), MQTTProtocolError);
});

test("a CONNACK with bytes after its last field is malformed, in either version", () => {
  assert.throws(() => decodePacket(0x20, Uint8Array.of(0, 0, 0), 4), MQTTProtocolError);
  assert.throws(() => decodePacket(0x20, Uint8Array.of(0, 0, 0, 9), 5), MQTTProtocolError);
});

test("PacketType: each control packet's number (MQTT 3.1.1 section 2.2.1, MQTT 5.0 section 2.1.2)", () => {
  assert.deepEqual(PacketType, {
    connect: 1,
    connack: 2,
    publish: 3,
    puback: 4,
    pubrec: 5,
    pubrel: 6,
    pubcomp: 7,
    subscribe: 8,
    suback: 9,
    unsubscribe: 10,
    unsuback: 11,
    pingreq: 12,
    pingresp: 13,
    disconnect: 14,
    auth: 15,
  });
});

test("a PINGREQ with a body is malformed, and the error names PINGREQ", () => {
  assert.throws(
    () => decodePacket(0xc0, Uint8Array.of(0)),
    (e) =>
      e instanceof MQTTProtocolError &&
      e.message ===
        "Malformed PINGREQ: remaining length is 1, must be 0 (MQTT 3.1.1 section 2.2.3)",
  );
});

test("MQTT 5: a property a packet must not carry is named by its identifier in hex", () => {
  // PUBACK, packet id 1, reason 0, Property Length 5: Session Expiry Interval (0x11) 1.
  assert.throws(
    () => decodePacket(0x40, Uint8Array.of(0, 1, 0, 5, 0x11, 0, 0, 0, 1), 5),
    (e) =>
      e instanceof MQTTProtocolError &&
      e.message === "PUBACK must not carry property 0x11 (MQTT 5.0 section 2.2.2.2)",
  );
});

test("MQTT 5: a property value out of range names the section of its packet's properties", () => {
  const cases = [
    [{ type: "connack", sessionPresent: false, returnCode: 0 }, "3.2.2.3"],
    [
      { type: "connect", protocolVersion: 5, clientId: "a", cleanSession: true, keepalive: 0 },
      "3.1.2.11",
    ],
  ] as const;
  for (const [packet, section] of cases) {
    assert.throws(
      () => encode({ ...packet, properties: { receiveMaximum: 0 } } as Packet, 5),
      (e) => e instanceof RangeError && e.message.endsWith(`(MQTT 5.0 section ${section})`),
    );
  }
});

test("a QoS 1 PUBLISH that ends right after its topic name ends inside its packet identifier", () => {
  assert.throws(
    () => decodePacket(0x32, Uint8Array.of(0, 1, 0x74)),
    (e) =>
      e instanceof MQTTProtocolError &&
      e.message ===
        "Malformed PUBLISH: the packet ends inside its packet identifier (MQTT 3.1.1 section 2.2.3)",
  );
});

test("the last topic name decoded, kept to spare decoding it again, is never taken for another", () => {
  // A prefix of it, one it prefixes, and one that differs only where the bytes before the topic
  // name (its length, 2) would match: "a\u0002" (a control character, which MQTT allows).
  const topics = ["a/b", "a", "a/b", "a\u0002", "ab", "a\u0002", "ab"];
  const bytes = (topic: string) => {
    const t = new TextEncoder().encode(topic);
    return Uint8Array.of(0, t.length, ...t, 7);
  };
  const decoded = topics.map((t) => (decodePacket(0x30, bytes(t)) as PublishPacket).topic);
  assert.deepEqual(decoded, topics);
});

test("a client's MQTT 5 framer gives each PUBLISH decoded in place properties, {} when it has none", () => {
  const bytes = encode({
    type: "publish",
    topic: "t",
    payload: Uint8Array.of(1),
    qos: 0,
    retain: false,
    dup: false,
  }, 5);
  const [p] = new Framer(1024, brokerDecoder({}), 5, true).push(bytes) as PublishPacket[];
  assert.deepEqual(p.properties, {});
  const [q] = new Framer(1024, brokerDecoder({}), 5, false).push(bytes) as PublishPacket[];
  assert.equal("properties" in q, false, "without fill, none");
});

test("an ack with packet identifier 0 is malformed, in either version (MQTT-2.3.1-1, MQTT-2.2.1-3)", () => {
  for (const version of [4, 5] as const) {
    assert.throws(() => decodePacket(0x40, Uint8Array.of(0, 0), version), MQTTProtocolError);
  }
});

test("MQTT 5: an ack of 3 bytes says its reason code, success or not (section 3.4.2.1)", () => {
  for (const reasonCode of [0, 0x10, 0x80]) {
    assert.deepEqual(decodePacket(0x40, Uint8Array.of(0, 1, reasonCode), 5), {
      type: "puback",
      packetId: 1,
      reasonCode,
    });
  }
});

test("MQTT 5: a reason code of 256 is refused, not written as 0", () => {
  assert.throws(
    () => encode({ type: "puback", packetId: 1, reasonCode: 256 }, 5),
    (e) => e instanceof RangeError && /reasonCode 256/.test(e.message),
  );
});

test("encodeUnsubscribe without a version encodes MQTT 3.1.1, as encode() does", () => {
  const p: UnsubscribePacket = { type: "unsubscribe", packetId: 1, topics: ["a"] };
  assert.deepEqual(encodeUnsubscribe(p), encode(p));
  assert.deepEqual([...encodeUnsubscribe(p)], [0xa2, 5, 0, 1, 0, 1, 0x61]);
});

test("encode refuses an UNSUBSCRIBE of an invalid topic filter, as it does a SUBSCRIBE's", () => {
  assert.throws(
    () => encode({ type: "unsubscribe", packetId: 1, topics: ["a/#/b"] }),
    (e) =>
      e instanceof TypeError &&
      e.message ===
        `Cannot unsubscribe from "a/#/b": "#" must be the last character and a whole level (MQTT-4.7.1-2)`,
  );
});

test("MQTT 5: a kept QoS 1 publish is over a broker's Maximum QoS 0 (MQTT-3.2.2-11)", () => {
  const qos1 = encode({
    type: "publish",
    topic: "t",
    payload: new Uint8Array(0),
    qos: 1,
    retain: false,
    dup: false,
    packetId: 1,
  }, 5);
  assert.match(keptRefusal({ maximumQoS: 0 }, qos1)!, /^QoS 1, over the broker's Maximum QoS 0/);
  assert.equal(keptRefusal({}, qos1), undefined);
});

test("MQTT 5: a subscribe the broker's CONNACK says it cannot take is refused, naming the flag", () => {
  const sub = (topic: string) => [{ topic, qos: 0 as const }];
  assert.throws(
    () => checkLimits({ sharedSubscriptionAvailable: false }, sub("$share/g/t"), 10),
    (e) => e instanceof RangeError && /sharedSubscriptionAvailable/.test(e.message),
  );
  checkLimits({ sharedSubscriptionAvailable: true }, sub("$share/g/t"), 10);
  assert.throws(
    () =>
      checkLimits({ subscriptionIdentifiersAvailable: false }, sub("t"), 10, {
        subscriptionIdentifier: 1,
      }),
    (e) => e instanceof RangeError && /subscriptionIdentifiersAvailable/.test(e.message),
  );
  checkLimits({ subscriptionIdentifiersAvailable: true }, sub("t"), 10, {
    subscriptionIdentifier: 1,
  });
  assert.throws(
    () => checkLimits({ maximumPacketSize: 5 }, ["a", "b"], 10),
    (e) => e instanceof RangeError && /^Cannot unsubscribe from "a", "b" with /.test(e.message),
  );
});

test("a QoS 1 PUBLISH with 65 535 messages unacknowledged reuses an id in use: the error names the version's rule", () => {
  for (const [version, rule] of [[5, "MQTT-2.2.1-4"], [4, "MQTT-2.3.1-4"]] as const) {
    assert.throws(
      () => overrun(65_536, 65_535, 1, version),
      (e) => e instanceof MQTTProtocolError && e.rule === rule && e.reasonCode === 0x93,
    );
  }
});
