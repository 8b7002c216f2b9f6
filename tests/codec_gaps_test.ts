// Rules of the codec and of the argument checks that mutation testing found
// unpinned: each test here fails on a mutant the rest of the suite let
// through (a boundary moved, a check deleted, a property allowed in one more
// packet), and passes on the code as it is.
import assert from "node:assert/strict";
import { encode } from "../lib/codec/encode.ts";
import { decodeFromBroker, decodePacket } from "../lib/codec/decode.ts";
import { PacketDecoder } from "../lib/codec/decoder.ts";
import type { PublishPacket } from "../lib/codec/packet.ts";
import { encodePublish } from "../lib/codec/publish.ts";
import { writeFixedHeader } from "../lib/codec/_varint.ts";
import {
  checkDisconnect,
  checkPublish,
  checkSubscribe,
  granted,
  NO_OPTIONS,
} from "../lib/_checks.ts";
import { MQTTException } from "../lib/errors.ts";
import { brokerDecoder, checkLimits, keptRefusal } from "../lib/_limits.ts";
import { MQTTProtocolError } from "../lib/errors.ts";
import { assertArgError, assertProtocolError } from "./_codec.ts";
import { test } from "./_test.ts";

const NOT_ALLOWED = "MQTT 5.0 section 2.2.2.2";

test("the Remaining Length goes up to 268,435,455 in four bytes, and no further", () => {
  // MQTT 3.1.1 section 2.2.3: FF FF FF 7F is the largest four bytes can say.
  const buf = new Uint8Array(5);
  assert.equal(writeFixedHeader(buf, 0x30, 268_435_455), 5);
  assert.deepStrictEqual([...buf], [0x30, 0xff, 0xff, 0xff, 0x7f]);
  assertArgError(
    () => writeFixedHeader(new Uint8Array(6), 0x30, 268_435_456),
    RangeError,
    "268435456",
  );
});

test("publish's stand-in packet id is found after a Remaining Length of 1, 2 or 3 bytes", () => {
  // idAt is where the id is patched in once one is taken: right after the
  // topic, past a fixed header whose length checkPublish reads from the bytes.
  // 100 and 135 are Remaining Lengths whose first byte has bit 6 (0x69) or bit 7 alone (0x87 0x01).
  for (const [payload, header] of [[0, 2], [100, 2], [130, 3], [200, 3], [20_000, 4]]) {
    const c = checkPublish("t", new Uint8Array(payload), false, 1, NO_OPTIONS, 4);
    const bytes = c.bytes!;
    assert.equal(c.idAt, header + 3, `payload ${payload}: idAt`);
    assert.deepStrictEqual([bytes[c.idAt], bytes[c.idAt + 1]], [0x00, 0x01], `payload ${payload}`);
  }
});

test("decode refuses a lone 0x80 or 0xFF in a topic, short or long (MQTT-1.5.3-1)", () => {
  // Short ASCII topics take a path of their own; 0x80 is the first byte that is not ASCII.
  for (const bad of [0x80, 0xff]) {
    for (const before of [1, 100]) {
      const topic = [...new Array(before).fill(0x61), bad];
      const body = Uint8Array.of(0, topic.length, ...topic);
      assertProtocolError(() => decodePacket(0x30, body), "MQTT-1.5.3-1", `0x${bad.toString(16)}`);
    }
  }
  // U+0080 itself, in two bytes (C2 80), is a character, however short the topic.
  const p = decodePacket(0x30, Uint8Array.of(0, 3, 0x61, 0xc2, 0x80)) as PublishPacket;
  assert.equal(p.topic, "a\u0080");
});

// Table 2-4 of MQTT 5.0 section 2.2.2.2: which packets each property may be in.
// "will" is a CONNECT's will properties.
const TABLE_2_4: [id: number, value: number[], packets: string[]][] = [
  [0x01, [1], ["PUBLISH", "will"]],
  [0x02, [0, 0, 0, 1], ["PUBLISH", "will"]],
  [0x03, [0, 1, 0x61], ["PUBLISH", "will"]],
  [0x08, [0, 1, 0x61], ["PUBLISH", "will"]],
  [0x09, [0, 1, 1], ["PUBLISH", "will"]],
  [0x0b, [1], ["PUBLISH", "SUBSCRIBE"]],
  [0x11, [0, 0, 0, 1], ["CONNECT", "CONNACK", "DISCONNECT"]],
  [0x12, [0, 1, 0x61], ["CONNACK"]],
  [0x13, [0, 1], ["CONNACK"]],
  [0x15, [0, 1, 0x61], ["CONNECT", "CONNACK", "AUTH"]],
  [0x16, [0, 1, 1], ["CONNECT", "CONNACK", "AUTH"]],
  [0x17, [1], ["CONNECT"]],
  [0x18, [0, 0, 0, 1], ["will"]],
  [0x19, [1], ["CONNECT"]],
  [0x1a, [0, 1, 0x61], ["CONNACK"]],
  [0x1c, [0, 1, 0x61], ["CONNACK", "DISCONNECT"]],
  [0x1f, [0, 1, 0x61], [
    "CONNACK",
    "PUBACK",
    "PUBREC",
    "PUBREL",
    "PUBCOMP",
    "SUBACK",
    "UNSUBACK",
    "DISCONNECT",
    "AUTH",
  ]],
  [0x21, [0, 1], ["CONNECT", "CONNACK"]],
  [0x22, [0, 1], ["CONNECT", "CONNACK"]],
  [0x23, [0, 1], ["PUBLISH"]],
  [0x24, [1], ["CONNACK"]],
  [0x25, [1], ["CONNACK"]],
  [0x26, [0, 1, 0x61, 0, 1, 0x62], [
    "CONNECT",
    "CONNACK",
    "PUBLISH",
    "will",
    "PUBACK",
    "PUBREC",
    "PUBREL",
    "PUBCOMP",
    "SUBSCRIBE",
    "SUBACK",
    "UNSUBSCRIBE",
    "UNSUBACK",
    "DISCONNECT",
    "AUTH",
  ]],
  [0x27, [0, 0, 0, 9], ["CONNECT", "CONNACK"]],
  [0x28, [1], ["CONNACK"]],
  [0x29, [1], ["CONNACK"]],
  [0x2a, [1], ["CONNACK"]],
];

// A minimal MQTT 5.0 packet of each kind around `props` (property length included).
const CONNECT_HEAD = [0, 4, 0x4d, 0x51, 0x54, 0x54, 5];
const PACKETS: Record<string, [byte1: number, body: (props: number[]) => number[]]> = {
  CONNECT: [0x10, (p) => [...CONNECT_HEAD, 0x02, 0, 60, ...p, 0, 1, 0x63]],
  will: [0x10, (p) => [...CONNECT_HEAD, 0x06, 0, 60, 0, 0, 1, 0x63, ...p, 0, 1, 0x74, 0, 0]],
  CONNACK: [0x20, (p) => [0, 0, ...p]],
  PUBLISH: [0x30, (p) => [0, 1, 0x74, ...p]],
  PUBACK: [0x40, (p) => [0, 1, 0, ...p]],
  PUBREC: [0x50, (p) => [0, 1, 0, ...p]],
  PUBREL: [0x62, (p) => [0, 1, 0, ...p]],
  PUBCOMP: [0x70, (p) => [0, 1, 0, ...p]],
  SUBSCRIBE: [0x82, (p) => [0, 1, ...p, 0, 1, 0x74, 0]],
  SUBACK: [0x90, (p) => [0, 1, ...p, 0]],
  UNSUBSCRIBE: [0xa2, (p) => [0, 1, ...p, 0, 1, 0x74]],
  UNSUBACK: [0xb0, (p) => [0, 1, ...p, 0]],
  DISCONNECT: [0xe0, (p) => [0, ...p]],
  AUTH: [0xf0, (p) => [0, ...p]],
};

test("MQTT 5.0 decode takes each property in exactly the packets of table 2-4", () => {
  for (const [id, value, allowed] of TABLE_2_4) {
    // Authentication Data needs its Method (section 3.1.2.11.10): both go together.
    const bytes = id === 0x16 ? [0x15, 0, 1, 0x61, id, ...value] : [id, ...value];
    for (const [name, [byte1, body]] of Object.entries(PACKETS)) {
      const what = `property 0x${id.toString(16)} in ${name}`;
      const decode = () => decodePacket(byte1, Uint8Array.from(body([bytes.length, ...bytes])), 5);
      if (allowed.includes(name)) decode();
      else assert.equal(assertProtocolError(decode, NOT_ALLOWED, what).reasonCode, 0x81, what);
    }
  }
  // An identifier table 2-4 does not have is in no packet.
  for (const id of [0x00, 0x04, 0x0a, 0x14, 0x20, 0x2b, 0x7f]) {
    for (const [name, [byte1, body]] of Object.entries(PACKETS)) {
      const decode = () => decodePacket(byte1, Uint8Array.from(body([2, id, 0])), 5);
      assertProtocolError(decode, NOT_ALLOWED, `property 0x${id.toString(16)} in ${name}`);
    }
  }
});

test("MQTT 5.0 encode refuses a will's delay interval in a PUBLISH", () => {
  const p: PublishPacket = {
    type: "publish",
    topic: "t",
    payload: new Uint8Array(0),
    qos: 0,
    retain: false,
    dup: false,
    properties: { willDelayInterval: 1 } as PublishPacket["properties"],
  };
  assertArgError(() => encode(p, 5), TypeError, "PUBLISH has no property willDelayInterval");
});

test("MQTT 5.0 decode gives each property error the reason code its rule names", () => {
  const cases: [name: string, byte1: number, body: number[], rule: string, code: number][] = [
    // "A Topic Alias of 0 is not permitted" (MQTT-3.3.2-8): 0x94, Topic Alias invalid.
    ["topic alias 0", 0x30, [0, 1, 0x74, 3, 0x23, 0, 0], "MQTT-3.3.2-8", 0x94],
    // A property given twice, a Byte property of 2, a receive maximum of 0: 0x82, Protocol Error.
    [
      "two topic aliases",
      0x30,
      [0, 1, 0x74, 6, 0x23, 0, 1, 0x23, 0, 2],
      "MQTT 5.0 section 3.3.2.3",
      0x82,
    ],
    [
      "payload format indicator 2",
      0x30,
      [0, 1, 0x74, 2, 0x01, 2],
      "MQTT 5.0 section 3.3.2.3",
      0x82,
    ],
    ["receive maximum 0", 0x20, [0, 0, 3, 0x21, 0, 0], "MQTT 5.0 section 3.2.2.3", 0x82],
    // Overrunning its length, or not allowed there: 0x81, Malformed Packet.
    ["property length overrun", 0x40, [0, 1, 0, 5, 0x1f, 0, 1], "MQTT 5.0 section 2.2.2.1", 0x81],
    ["topic alias in a PUBACK", 0x40, [0, 1, 0, 3, 0x23, 0, 1], NOT_ALLOWED, 0x81],
  ];
  for (const [name, byte1, body, rule, code] of cases) {
    const e = assertProtocolError(() => decodePacket(byte1, Uint8Array.from(body), 5), rule, name);
    assert.equal(e.reasonCode, code, name);
  }
});

test("MQTT 5.0 decode refuses an empty topic with properties but no topic alias", () => {
  // "It is a Protocol Error if the Topic Name is zero length and there is no Topic Alias" (3.3.2.1).
  const body = Uint8Array.of(0, 0, 2, 0x01, 0x01); // empty topic; payload format indicator 1
  const e = assertProtocolError(
    () => decodePacket(0x30, body, 5),
    "MQTT 5.0 section 3.3.2.1",
    "empty topic, no alias",
  );
  assert.equal(e.reasonCode, 0x82);
  // The same through the client's streaming decoder.
  assert.throws(
    () => new PacketDecoder({ protocolVersion: 5 }).push(Uint8Array.of(0x30, 5, ...body)),
    MQTTProtocolError,
  );
  // With a topic alias it is the short form.
  const aliased = decodePacket(0x30, Uint8Array.of(0, 0, 3, 0x23, 0, 1), 5) as PublishPacket;
  assert.deepStrictEqual([aliased.topic, aliased.properties], ["", { topicAlias: 1 }]);
});

test("encodePublish at version 4 refuses an empty topic, topic alias or not (MQTT-4.7.3-1)", () => {
  const p: PublishPacket = {
    type: "publish",
    topic: "",
    payload: new Uint8Array(0),
    qos: 0,
    retain: false,
    dup: false,
    properties: { topicAlias: 1 },
  };
  assertArgError(() => encodePublish(p, 4), TypeError, "MQTT-4.7.3-1");
  // At version 5 the alias stands for the topic.
  assert.deepStrictEqual([...encodePublish(p, 5)], [0x30, 0x06, 0, 0, 3, 0x23, 0, 1]);
});

test("an empty topic is refused even as the first topic the codec sees (MQTT-4.7.3-1)", async () => {
  // Both directions keep the last topic; before the first one the cache is
  // empty, and an empty topic must not pass for the one cached.
  const worker = new Worker(new URL("./_first_topic.ts", import.meta.url), { type: "module" });
  try {
    const got = await new Promise((resolve, reject) => {
      worker.onmessage = (e) => resolve(e.data);
      worker.onerror = (e) => reject(e.error ?? new Error(e.message));
    });
    assert.deepStrictEqual(got, ["MQTTProtocolError MQTT-4.7.3-1", "TypeError"]);
  } finally {
    worker.terminate();
  }
});

test("reserved packet types given to decodePacket are Malformed Packets, not misdirected ones", () => {
  // Type 0 is reserved (MQTT 3.1.1 section 2.2.1, MQTT 5.0 section 2.1.2): not a
  // packet a broker "must never send" (0x82), but no packet at all (0x81).
  for (const version of [4, 5] as const) {
    const rule = version === 5 ? "MQTT 5.0 section 2.1.2" : "MQTT 3.1.1 section 2.2.1";
    for (const decode of [decodePacket, decodeFromBroker]) {
      const what = `${decode.name} at ${version}`;
      const e = assertProtocolError(() => decode(0x00, new Uint8Array(0), version), rule, what);
      assert.match(e.message, /^Reserved packet type 0/, what);
      assert.equal(e.reasonCode, 0x81, what);
    }
  }
  // Type 15 is reserved in 3.1.1 too: not named AUTH, a packet that version does not have.
  for (const decode of [decodePacket, decodeFromBroker]) {
    const e = assertProtocolError(
      () => decode(0xf0, new Uint8Array(0), 4),
      "MQTT 3.1.1 section 2.2.1",
      `${decode.name}: type 15 at 4`,
    );
    assert.match(e.message, /^Reserved packet type 15/);
  }
});

test("3.1.1 takes a Remaining Length in more bytes than it needs; 5.0 does not (MQTT-1.5.5-1)", () => {
  // MQTT 5.0 made the fewest bytes a rule; MQTT 3.1.1 section 2.2.3 has none,
  // and the 3.1.1 decoder stays lenient there (commit 7bab8d3).
  const pingreq = Uint8Array.of(0xc0, 0x80, 0x00); // Remaining Length 0 in two bytes
  assert.deepStrictEqual(new PacketDecoder().push(pingreq), [{ type: "pingreq" }]);
  assertProtocolError(
    () => new PacketDecoder({ protocolVersion: 5 }).push(pingreq),
    "MQTT-1.5.5-1",
    "at 5",
  );
});

test("the broker's CONNACK limits let through what is at the limit, and refuse one over", () => {
  const publish = (qos: 0 | 1 | 2, retain = false): PublishPacket => ({
    type: "publish",
    topic: "t",
    payload: new Uint8Array(0),
    qos,
    retain,
    dup: false,
  });
  // Maximum QoS 1 (MQTT-3.2.2-11): QoS 1 goes, QoS 2 does not.
  checkLimits({ maximumQoS: 1 }, publish(1), 10);
  checkLimits({ maximumQoS: 0 }, publish(0), 10);
  assertArgError(() => checkLimits({ maximumQoS: 1 }, publish(2), 10), RangeError, "MQTT-3.2.2-11");
  // Retain Available 0 (MQTT-3.2.2-14): a retained publish does not go, an unretained one does.
  checkLimits({ retainAvailable: false }, publish(0), 10);
  checkLimits({ retainAvailable: true }, publish(0, true), 10);
  assertArgError(
    () => checkLimits({ retainAvailable: false }, publish(0, true), 10),
    RangeError,
    "MQTT-3.2.2-14",
  );
  // Maximum Packet Size (MQTT-3.2.2-15): exactly that many bytes go, one more does not.
  for (const what of [publish(0), [{ topic: "a", qos: 0 as const }], ["a"]]) {
    checkLimits({ maximumPacketSize: 100 }, what, 100);
    assertArgError(
      () => checkLimits({ maximumPacketSize: 100 }, what, 101),
      RangeError,
      "MQTT-3.2.2-15",
    );
  }
  // A kept PUBLISH, read from its bytes before it is resent.
  const kept = (byte1: number, length: number) => {
    const bytes = new Uint8Array(length);
    bytes[0] = byte1;
    return bytes;
  };
  assert.equal(keptRefusal({ maximumQoS: 1, maximumPacketSize: 10 }, kept(0x32, 10)), undefined);
  assert.match(keptRefusal({ maximumQoS: 1 }, kept(0x34, 10))!, /MQTT-3.2.2-11/);
  assert.equal(keptRefusal({ retainAvailable: false }, kept(0x32, 10)), undefined); // QoS 1, no retain
  assert.match(keptRefusal({ retainAvailable: false }, kept(0x33, 10))!, /MQTT-3.2.2-14/);
  assert.match(keptRefusal({ maximumPacketSize: 10 }, kept(0x32, 11))!, /MQTT-3.2.2-15/);
});

test("requestProblemInformation false: the broker decoder still takes a PUBLISH's User Properties", () => {
  // MQTT-3.1.2-29 leaves PUBLISH, CONNACK and DISCONNECT out. The client's framer
  // decodes a PUBLISH whole in one chunk without this decoder; one split across
  // reads goes through it.
  const decode = brokerDecoder({ requestProblemInformation: false });
  // Topic "t"; properties: user property ("k", "v"); payload "m".
  const body = Uint8Array.of(0, 1, 0x74, 7, 0x26, 0, 1, 0x6b, 0, 1, 0x76, 0x6d);
  const p = decode(0x30, body, 5) as PublishPacket;
  assert.deepStrictEqual(p.properties, { userProperties: [["k", "v"]] });
  // A PUBACK with the same properties is refused.
  assert.throws(
    () => decode(0x40, Uint8Array.of(0, 1, 0, 7, 0x26, 0, 1, 0x6b, 0, 1, 0x76), 5),
    /MQTT-3.1.2-29/,
  );
});

test("publish refuses a Response Topic that is not a topic name (MQTT-3.3.2-14)", () => {
  for (const responseTopic of ["", "a/#", "#", "a/+"]) {
    assertArgError(
      () => checkPublish("t", "m", { properties: { responseTopic } }, 0, NO_OPTIONS, 5),
      TypeError,
      "MQTT-3.3.2-14",
    );
  }
  const c = checkPublish("t", "m", { properties: { responseTopic: "r/1" } }, 0, NO_OPTIONS, 5);
  assert.deepStrictEqual(c.packet?.properties, { responseTopic: "r/1" });
});

test("publish takes only the message properties: a Topic Alias is the connection's to set", () => {
  assertArgError(
    () => checkPublish("t", "m", { properties: { topicAlias: 1 } }, 0, NO_OPTIONS, 5),
    TypeError,
    "Invalid property topicAlias for publish: accepted are",
  );
});

test("disconnect(): a session expiry only if the CONNECT had one; the whole DISCONNECT at the size limit", () => {
  // MQTT 5.0 section 3.14.2.2.2: after a CONNECT's Session Expiry Interval 0, none but 0.
  assertArgError(
    () => checkDisconnect({ sessionExpiryInterval: 10 }, 5, 0),
    RangeError,
    "MQTT 5.0 section 3.14.2.2.2",
  );
  assert.deepStrictEqual([...checkDisconnect({ sessionExpiryInterval: 0 }, 5, 0)!], [
    0xe0,
    7,
    0,
    5,
    0x11,
    0,
    0,
    0,
    0,
  ]);
  assert.equal(checkDisconnect({ sessionExpiryInterval: 10 }, 5, 60)!.length, 9);
  // Reason code 0, Reason String "x": 8 bytes. Within a maximum of 8 it goes whole; under, without it.
  const full = [0xe0, 6, 0, 4, 0x1f, 0, 1, 0x78];
  assert.deepStrictEqual([...checkDisconnect({ reasonString: "x" }, 5, undefined, 8)!], full);
  assert.deepStrictEqual([...checkDisconnect({ reasonString: "x" }, 5, undefined, 7)!], [0xe0, 0]);
});

test("subscribe's noLocal and retainAsPublished must be booleans, a payload text or bytes", () => {
  for (const k of ["noLocal", "retainAsPublished"]) {
    assertArgError(
      () => checkSubscribe("a", { [k]: "yes" } as never, {}, 5),
      TypeError,
      `Invalid ${k}: must be a boolean, got string`,
    );
  }
  for (const msg of [[1, 2], new ArrayBuffer(2), 5]) {
    assertArgError(
      () => checkPublish("t", msg as never, false, 0, NO_OPTIONS, 4),
      TypeError,
      "Invalid msg: must be a string or a Uint8Array",
    );
  }
});

test("a SUBACK's 0x80 is a refusal, 0x02 a grant", () => {
  assert.equal(granted("Subscribe to", "a", "SUBACK", { codes: [0x02] } as never), 2);
  assert.throws(
    () => granted("Subscribe to", "a", "SUBACK", { codes: [0x80] } as never),
    (e: unknown) => e instanceof MQTTException && e.code === 0x80,
  );
});
