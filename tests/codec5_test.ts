// The MQTT 5.0 codec against hand-written byte fixtures (codec5_fixtures.ts):
// the encoder must produce them exactly, the streaming decoder must read them
// back however the bytes are split, and malformed bytes must fail naming the
// rule they break.
import assert from "node:assert/strict";
import { encode } from "../lib/codec/encode.ts";
import { decodeFromBroker, decodePacket } from "../lib/codec/decode.ts";
import { PacketDecoder } from "../lib/codec/decoder.ts";
import type { Packet, PublishPacket } from "../lib/codec/packet.ts";
import { reasonCodeMessage } from "../lib/codec/reason_codes.ts";
import { type Fixture5, fixtures5, malformed5, reasonCodes5 } from "./codec5_fixtures.ts";
import {
  assertArgError,
  assertBytes,
  assertPacket,
  assertProtocolError,
  chunked,
  decodeChunks,
  publish,
  splitPoints,
} from "./_codec.ts";
import { test } from "./_test.ts";

const u8 = (f: Fixture5): Uint8Array => Uint8Array.from(f.bytes);

/** The body of a fixture: its bytes after the fixed header. */
function body(bytes: number[]): Uint8Array {
  let start = 1;
  while (bytes[start] & 0x80) start++;
  return Uint8Array.from(bytes).subarray(start + 1);
}

test("the MQTT 5.0 fixtures cover all 15 packet types", () => {
  const types = new Set(fixtures5.map((f) => f.packet.type));
  assert.equal(types.size, 15, [...types].join());
});

test("the MQTT 5.0 fixtures carry every property of section 2.2.2.2", () => {
  // Table 2-4, one name per identifier; 0x0B is subscriptionIdentifier in
  // SUBSCRIBE and subscriptionIdentifiers in PUBLISH.
  const all = [
    "payloadFormatIndicator", // 0x01
    "messageExpiryInterval", // 0x02
    "contentType", // 0x03
    "responseTopic", // 0x08
    "correlationData", // 0x09
    "subscriptionIdentifier", // 0x0B in SUBSCRIBE
    "subscriptionIdentifiers", // 0x0B in PUBLISH
    "sessionExpiryInterval", // 0x11
    "assignedClientIdentifier", // 0x12
    "serverKeepAlive", // 0x13
    "authenticationMethod", // 0x15
    "authenticationData", // 0x16
    "requestProblemInformation", // 0x17
    "willDelayInterval", // 0x18
    "requestResponseInformation", // 0x19
    "responseInformation", // 0x1A
    "serverReference", // 0x1C
    "reasonString", // 0x1F
    "receiveMaximum", // 0x21
    "topicAliasMaximum", // 0x22
    "topicAlias", // 0x23
    "maximumQoS", // 0x24
    "retainAvailable", // 0x25
    "userProperties", // 0x26
    "maximumPacketSize", // 0x27
    "wildcardSubscriptionAvailable", // 0x28
    "subscriptionIdentifiersAvailable", // 0x29
    "sharedSubscriptionAvailable", // 0x2A
  ];
  const seen = new Set<string>();
  for (const { packet } of fixtures5) {
    for (
      const props of [
        (packet as { properties?: object }).properties,
        packet.type === "connect" ? packet.will?.properties : undefined,
      ]
    ) {
      for (const key of Object.keys(props ?? {})) seen.add(key);
    }
  }
  assert.deepStrictEqual([...seen].sort(), [...all].sort());
});

for (const f of fixtures5) {
  if (!f.decodeOnly) {
    test(`MQTT 5.0 encode: ${f.name}`, () => {
      assertBytes(encode(f.packet, 5), u8(f), f.name);
    });
  }

  test(`MQTT 5.0 decode in every split: ${f.name}`, () => {
    const bytes = u8(f);
    const what = (how: string) => `${f.name}, ${how}`;

    const [whole, ...extra] = decodeChunks([bytes], 5);
    assert.equal(extra.length, 0);
    assertPacket(whole, f.packet, what("one chunk"));
    if (whole.type === "publish") {
      // In one chunk the payload is a view into it, as in MQTT 3.1.1.
      assert.equal(whole.payload.buffer, bytes.buffer, "payload is not a view into the chunk");
    }
    assertPacket(decodeChunks(chunked(bytes, 1), 5)[0], f.packet, what("one byte at a time"));
    for (const at of splitPoints(bytes.length)) {
      const packets = decodeChunks([bytes.slice(0, at), bytes.slice(at)], 5);
      assert.equal(packets.length, 1, what(`split at ${at}`));
      assertPacket(packets[0], f.packet, what(`split at ${at}`));
    }
    // What decodes encodes again, to these bytes or (decode-only forms) to the shortest.
    const again = encode(whole, 5);
    if (!f.decodeOnly) assertBytes(again, bytes, what("re-encoded"));
    assertPacket(decodeChunks([again], 5)[0], f.packet, what("re-encoded and decoded"));
  });
}

test("decodePacket decodes an MQTT 5.0 body given apart from its fixed header", () => {
  for (const f of fixtures5) {
    assertPacket(decodePacket(f.bytes[0], body(f.bytes), 5), f.packet, f.name);
  }
});

test("decodeFromBroker at 5 takes DISCONNECT and AUTH, and refuses what only a client sends", () => {
  const clientOnly = ["connect", "subscribe", "unsubscribe", "pingreq"];
  for (const f of fixtures5) {
    if (clientOnly.includes(f.packet.type)) {
      assertProtocolError(
        () => decodeFromBroker(f.bytes[0], body(f.bytes), 5),
        "MQTT 5.0 section 2.1.2",
        f.name,
      );
    } else {
      assertPacket(decodeFromBroker(f.bytes[0], body(f.bytes), 5), f.packet, f.name);
    }
  }
});

test("at version 4 a broker's DISCONNECT and AUTH are refused", () => {
  // DISCONNECT with reason code 0x8B: a packet only a client sends in MQTT 3.1.1.
  assertProtocolError(
    () => decodeFromBroker(0xe0, Uint8Array.of(0x8b)),
    "MQTT 3.1.1 section 2.2.1",
    "DISCONNECT",
  );
  assertProtocolError(
    () => decodeFromBroker(0xe0, new Uint8Array(0)),
    "MQTT 3.1.1 section 2.2.1",
    "empty DISCONNECT",
  );
  // AUTH (type 15) is a reserved packet type in MQTT 3.1.1, refused from its first byte.
  assertProtocolError(
    () => decodeFromBroker(0xf0, new Uint8Array(0)),
    "MQTT 3.1.1 section 2.2.1",
    "AUTH",
  );
  assertProtocolError(
    () => new PacketDecoder().push(Uint8Array.of(0xf0)),
    "MQTT 3.1.1 section 2.2.1",
    "AUTH's first byte",
  );
  // The same bytes at version 5 are packets.
  assert.deepStrictEqual(decodeFromBroker(0xf0, new Uint8Array(0), 5), {
    type: "auth",
    reasonCode: 0,
  });
});

test("all MQTT 5.0 fixtures in one stream decode in order at chunk sizes 1, 3, 17 and whole", () => {
  const stream = Uint8Array.from(fixtures5.flatMap((f) => f.bytes));
  for (const size of [1, 3, 17, stream.length]) {
    const packets = decodeChunks(chunked(stream, size), 5);
    assert.equal(packets.length, fixtures5.length, `chunk size ${size}`);
    packets.forEach((p, i) => assertPacket(p, fixtures5[i].packet, `chunk size ${size}: #${i}`));
  }
});

for (const m of malformed5) {
  test(`MQTT 5.0 decode rejects ${m.name} (${m.rule})`, () => {
    const bytes = Uint8Array.from(m.bytes);
    const whole = new PacketDecoder({ protocolVersion: 5 });
    const err = assertProtocolError(() => whole.push(bytes), m.rule, `${m.name}, one chunk`);
    assert.throws(() => whole.push(Uint8Array.of(0xc0, 0x00)), (e) => e === err);

    const byByte = new PacketDecoder({ protocolVersion: 5 });
    const at = m.failsAt ?? bytes.length - 1;
    for (let i = 0; i < at; i++) {
      assert.deepStrictEqual(byByte.push(bytes.subarray(i, i + 1)), [], `${m.name}, byte ${i}`);
    }
    assertProtocolError(
      () => byByte.push(bytes.subarray(at, at + 1)),
      m.rule,
      `${m.name}, byte ${at}`,
    );
  });
}

test("each packet takes exactly the reason codes of its own table, and encodes only those", () => {
  for (const [name, byte1, head, codes] of reasonCodes5) {
    for (let code = 0; code < 256; code++) {
      // The code, then property length 0 (SUBACK and UNSUBACK: the list is last).
      const tail = name.endsWith("SUBACK") ? [code] : [code, 0x00];
      const decode = () => decodePacket(byte1, Uint8Array.of(...head, ...tail), 5);
      if (codes.includes(code)) {
        const p = decode() as unknown as Record<string, unknown>;
        const codes = (p.returnCodes ?? p.reasonCodes) as number[] | undefined;
        const got = p.reasonCode ?? p.returnCode ?? codes?.[0];
        assert.equal(got, code, `${name} 0x${code.toString(16)}`);
      } else {
        const e = assertProtocolError(decode, REASON_RULES[name], `${name} 0x${code.toString(16)}`);
        assert.match(e.message, new RegExp(`0x${code.toString(16)} in ${name}`));
      }
    }
  }
  // Encoding refuses what decoding would.
  assertArgError(
    () => encode({ type: "puback", packetId: 1, reasonCode: 0x11 }, 5),
    RangeError,
    "MQTT-3.4.2-1",
  );
  assertArgError(
    () => encode({ type: "connack", sessionPresent: false, returnCode: 0x05 }, 5),
    RangeError,
    "MQTT-3.2.2-8",
  );
  assertArgError(
    () => encode({ type: "suback", packetId: 1, returnCodes: [0x11] }, 5),
    RangeError,
    "MQTT-3.9.3-2",
  );
  assertArgError(
    () => encode({ type: "unsuback", packetId: 1, reasonCodes: [0x02] }, 5),
    RangeError,
    "MQTT-3.11.3-2",
  );
  assertArgError(
    () => encode({ type: "disconnect", reasonCode: 0x18 }, 5),
    RangeError,
    "MQTT-3.14.2-1",
  );
  assertArgError(() => encode({ type: "auth", reasonCode: 0x80 }, 5), RangeError, "MQTT-3.15.2-1");
});

const REASON_RULES: Record<string, string> = {
  CONNACK: "MQTT-3.2.2-8",
  PUBACK: "MQTT-3.4.2-1",
  PUBREC: "MQTT-3.5.2-1",
  PUBREL: "MQTT-3.6.2-1",
  PUBCOMP: "MQTT-3.7.2-1",
  SUBACK: "MQTT-3.9.3-2",
  UNSUBACK: "MQTT-3.11.3-2",
  DISCONNECT: "MQTT-3.14.2-1",
  AUTH: "MQTT-3.15.2-1",
};

test("reasonCodeMessage says what each code of table 2-6 means", () => {
  const names: Record<number, string> = {
    0x00: "Success",
    0x01: "Granted QoS 1",
    0x02: "Granted QoS 2",
    0x04: "Disconnect with Will Message",
    0x10: "No matching subscribers",
    0x11: "No subscription existed",
    0x18: "Continue authentication",
    0x19: "Re-authenticate",
    0x80: "Unspecified error",
    0x81: "Malformed Packet",
    0x82: "Protocol Error",
    0x83: "Implementation specific error",
    0x84: "Unsupported Protocol Version",
    0x85: "Client Identifier not valid",
    0x86: "Bad User Name or Password",
    0x87: "Not authorized",
    0x88: "Server unavailable",
    0x89: "Server busy",
    0x8a: "Banned",
    0x8b: "Server shutting down",
    0x8c: "Bad authentication method",
    0x8d: "Keep Alive timeout",
    0x8e: "Session taken over",
    0x8f: "Topic Filter invalid",
    0x90: "Topic Name invalid",
    0x91: "Packet Identifier in use",
    0x92: "Packet Identifier not found",
    0x93: "Receive Maximum exceeded",
    0x94: "Topic Alias invalid",
    0x95: "Packet too large",
    0x96: "Message rate too high",
    0x97: "Quota exceeded",
    0x98: "Administrative action",
    0x99: "Payload format invalid",
    0x9a: "Retain not supported",
    0x9b: "QoS not supported",
    0x9c: "Use another server",
    0x9d: "Server moved",
    0x9e: "Shared Subscriptions not supported",
    0x9f: "Connection rate exceeded",
    0xa0: "Maximum connect time",
    0xa1: "Subscription Identifiers not supported",
    0xa2: "Wildcard Subscriptions not supported",
  };
  for (let code = 0; code < 256; code++) {
    assert.equal(
      reasonCodeMessage(code),
      names[code] ?? `Reserved reason code 0x${code.toString(16)}`,
      `0x${code.toString(16)}`,
    );
  }
});

test("a server's decoder at 5 takes a CONNECT of either level and goes on at that level", () => {
  const [v5] = fixtures5;
  const server5 = new PacketDecoder({ protocolVersion: 5 });
  assert.equal(server5.push(u8(v5))[0].type, "connect");
  assert.equal(server5.protocolVersion, 5);
  // A PUBACK with a reason code: MQTT 5.0.
  assert.deepStrictEqual(server5.push(Uint8Array.of(0x40, 0x03, 0x00, 0x01, 0x10)), [
    { type: "puback", packetId: 1, reasonCode: 0x10 },
  ]);

  const server4 = new PacketDecoder({ protocolVersion: 5 });
  const connect4 = encode({ type: "connect", clientId: "a", cleanSession: true, keepalive: 60 });
  assert.deepStrictEqual(server4.push(connect4), [
    { type: "connect", clientId: "a", cleanSession: true, keepalive: 60 },
  ]);
  assert.equal(server4.protocolVersion, 4);
  // The same bytes are now an MQTT 3.1.1 PUBACK, whose body is 2 bytes.
  assertProtocolError(
    () => server4.push(Uint8Array.of(0x40, 0x03, 0x00, 0x01, 0x10)),
    "MQTT 3.1.1 section 2.2.3",
    "3.1.1 PUBACK of 3 bytes",
  );
  // A decoder at 4 refuses level 5, as it always has.
  assertProtocolError(() => new PacketDecoder().push(u8(v5)), "MQTT-3.1.2-2", "level 5 at 4");
});

test("a PUBLISH's packet identifier sits right after its topic in MQTT 5.0 too", () => {
  // The client patches the id at 1 + remaining length bytes + 2 + topic length.
  const publish: PublishPacket = {
    type: "publish",
    topic: "é/x", // 4 bytes of UTF-8
    payload: new Uint8Array(300),
    qos: 1,
    retain: false,
    dup: false,
    packetId: 0xbeef,
  };
  const v4 = encode(publish);
  const v5 = encode({ ...publish, properties: { userProperties: [["a", "b"]] } }, 5);
  for (const bytes of [v4, v5]) {
    assert.ok(bytes[1] & 0x80 && !(bytes[2] & 0x80), "two remaining length bytes");
    assert.equal((bytes[1 + 2 + 2 + 4] << 8) | bytes[1 + 2 + 2 + 4 + 1], 0xbeef);
  }
});

test("MQTT 5.0 PUBLISH: an empty topic needs a topic alias, in both directions", () => {
  const alias2 = { properties: { topicAlias: 2 } };
  assertArgError(() => encode(publish(""), 5), TypeError, "MQTT-4.7.3-1");
  assertArgError(
    () => encode(publish("", { properties: { contentType: "x" } }), 5),
    TypeError,
    "MQTT-4.7.3-1",
  );
  assertArgError(() => encode(publish("", alias2)), TypeError, "MQTT 5.0 only");
  // The encoder's topic cache does not make a later empty topic pass.
  encode(publish("a"), 5);
  assertArgError(() => encode(publish(""), 5), TypeError, "MQTT-4.7.3-1");
  assert.deepStrictEqual(
    [...encode(publish("", alias2), 5)],
    [0x30, 0x06, 0x00, 0x00, 0x03, 0x23, 0x00, 0x02], // topic ""; props 3: topic alias 2
  );
});

test("encode refuses MQTT 5.0 properties a packet does not allow, naming key and packet", () => {
  const cases: [Packet, string][] = [
    [
      { type: "puback", packetId: 1, properties: { topicAlias: 1 } as object },
      "PUBACK has no property topicAlias",
    ],
    [
      { type: "connack", sessionPresent: false, returnCode: 0, properties: { nope: 1 } as object },
      "CONNACK has no property nope",
    ],
    [
      {
        type: "connect",
        protocolVersion: 5,
        clientId: "a",
        cleanSession: true,
        keepalive: 0,
        will: {
          topic: "t",
          payload: new Uint8Array(0),
          qos: 0,
          retain: false,
          properties: { sessionExpiryInterval: 1 } as object,
        },
      },
      "CONNECT will has no property sessionExpiryInterval",
    ],
    [
      {
        type: "publish",
        topic: "t",
        payload: new Uint8Array(0),
        qos: 0,
        retain: false,
        dup: false,
        properties: { subscriptionIdentifier: 1 } as object,
      },
      "PUBLISH has no property subscriptionIdentifier",
    ],
    [{
      type: "subscribe",
      packetId: 1,
      subscriptions: [{ topic: "a", qos: 0 }],
      properties: { subscriptionIdentifiers: [1] } as object,
    }, "SUBSCRIBE has no property subscriptionIdentifiers"],
  ];
  for (const [packet, words] of cases) {
    assertArgError(() => encode(packet, 5), TypeError, words);
    assertArgError(() => encode(packet, 5), TypeError, "MQTT 5.0 section 2.2.2.2");
  }
});

test("encode refuses MQTT 5.0 property values out of range or of the wrong type", () => {
  const publish = (properties: object): Packet => ({
    type: "publish",
    topic: "t",
    payload: new Uint8Array(0),
    qos: 0,
    retain: false,
    dup: false,
    properties,
  });
  const connack = (properties: object): Packet => ({
    type: "connack",
    sessionPresent: false,
    returnCode: 0,
    properties,
  });
  const subscribe = (properties: object): Packet => ({
    type: "subscribe",
    packetId: 1,
    subscriptions: [{ topic: "a", qos: 0 }],
    properties,
  });
  const ranges: [Packet, string][] = [
    [publish({ topicAlias: 0 }), "MQTT-3.3.2-8"],
    [publish({ topicAlias: 65536 }), "topicAlias 65536"],
    [publish({ subscriptionIdentifiers: [0] }), "from 1 to 268435455"],
    [subscribe({ subscriptionIdentifier: 0 }), "subscriptionIdentifier 0"],
    [subscribe({ subscriptionIdentifier: 268435456 }), "from 1 to 268435455"],
    [connack({ receiveMaximum: 0 }), "receiveMaximum 0"],
    [connack({ maximumPacketSize: 0 }), "maximumPacketSize 0"],
    [connack({ maximumQoS: 2 }), "from 0 to 1"],
    [connack({ sessionExpiryInterval: 2 ** 32 }), "from 0 to 4294967295"],
    [connack({ serverKeepAlive: 1.5 }), "serverKeepAlive 1.5"],
    [publish({ correlationData: new Uint8Array(65536) }), "at most 65535 bytes"],
    [publish({ contentType: "é".repeat(32768) }), "65535"],
  ];
  for (const [packet, words] of ranges) assertArgError(() => encode(packet, 5), RangeError, words);
  const types: [Packet, string][] = [
    [publish({ payloadFormatIndicator: 1 }), "true or false"],
    [connack({ retainAvailable: "no" }), "true or false"],
    [publish({ correlationData: "abc" }), "a Uint8Array"],
    [publish({ topicAlias: "1" }), "an integer"],
    [publish({ contentType: "a\0b" }), "MQTT-1.5.3-2"],
    [publish({ userProperties: [["k", "\ud800"]] }), "MQTT-1.5.3-1"],
    [publish({ userProperties: "k=v" }), "must be an array of [name, value] pairs"],
    [publish({ userProperties: [["k"]] }), "must be an array of [name, value] pairs"],
    [publish({ userProperties: [["k", "v", "w"]] }), "must be an array of [name, value] pairs"],
    // A two-character string is not a pair.
    [publish({ userProperties: ["ab", ["x", "y"]] }), "must be an array of [name, value] pairs"],
    [publish({ userProperties: [["k", 5]] }), "userProperties in PUBLISH: must be a string"],
    [publish({ contentType: 3 }), "contentType in PUBLISH: must be a string, got number"],
    [publish({ subscriptionIdentifiers: 5 }), "must be an array"],
  ];
  for (const [packet, words] of types) assertArgError(() => encode(packet, 5), TypeError, words);
  // Absent and undefined properties are the same: a property length of 0.
  assert.deepStrictEqual([...encode(connack({ reasonString: undefined }), 5)], [0x20, 3, 0, 0, 0]);
});

test("encode refuses MQTT 5.0 subscription options MQTT forbids", () => {
  const sub = (s: object) =>
    encode({ type: "subscribe", packetId: 1, subscriptions: [{ topic: "a", qos: 0, ...s }] }, 5);
  assertArgError(() => sub({ retainHandling: 3 }), RangeError, "MQTT 5.0 section 3.8.3.1");
  assertArgError(() => sub({ topic: "$share/g/a", noLocal: true }), TypeError, "MQTT-3.8.3-4");
  assertArgError(
    () => encode({ type: "unsuback", packetId: 1, reasonCodes: [] }, 5),
    TypeError,
    "at least one reason code",
  );
});

test("encode refuses MQTT 5.0 fields at version 4 rather than drop them", () => {
  const cases: [Packet, string][] = [
    [{ type: "puback", packetId: 1, reasonCode: 0x10 }, "reasonCode"],
    [{ type: "puback", packetId: 1, properties: {} }, "properties"],
    [{ type: "unsuback", packetId: 1, reasonCodes: [0] }, "reasonCodes"],
    [
      { type: "subscribe", packetId: 1, subscriptions: [{ topic: "a", qos: 0, noLocal: true }] },
      "subscription options",
    ],
    [
      {
        type: "connect",
        clientId: "a",
        cleanSession: true,
        keepalive: 0,
        will: { topic: "t", payload: new Uint8Array(0), qos: 0, retain: false, properties: {} },
      },
      "will properties",
    ],
    [{ type: "auth", reasonCode: 0 }, "AUTH"],
    [{ type: "disconnect", reasonCode: 0x8e }, "reasonCode"],
  ];
  for (const [packet, words] of cases) {
    assertArgError(() => encode(packet), TypeError, words);
    assertArgError(() => encode(packet), TypeError, "MQTT 5.0 only");
  }
  // A reason code of 0 is what MQTT 3.1.1 means anyway; a CONNECT says its own level.
  assert.deepStrictEqual([...encode({ type: "puback", packetId: 1, reasonCode: 0 })], [
    0x40,
    2,
    0,
    1,
  ]);
  assert.equal(
    encode({
      type: "connect",
      protocolVersion: 5,
      clientId: "a",
      cleanSession: true,
      keepalive: 0,
    })[8],
    5,
  );
});

test("the protocol version must be 4 or 5", () => {
  const puback: Packet = { type: "puback", packetId: 1 };
  assertArgError(() => encode(puback, 3 as 4), RangeError, "Invalid version 3");
  // packets.map(encode) would pass the array index as the version.
  assertArgError(() => [puback].map(encode as (p: Packet) => Uint8Array), RangeError, "map(");
  assertArgError(
    () =>
      encode({
        type: "connect",
        protocolVersion: 3 as 4,
        clientId: "a",
        cleanSession: true,
        keepalive: 0,
      }),
    RangeError,
    "MQTT-3.1.2-2",
  );
  for (const protocolVersion of [3, 6, "5"]) {
    assert.throws(
      () => new PacketDecoder({ protocolVersion: protocolVersion as 5 }),
      RangeError,
      String(protocolVersion),
    );
  }
});

test("SUBSCRIBE's subscription options: a Malformed Packet or a Protocol Error, as the spec calls each", () => {
  // SUBSCRIBE, packet id 1, no properties, filter "a" or "$share/g/a", options `o`.
  const subscribe = (topic: string, o: number) => {
    const t = new TextEncoder().encode(topic);
    return Uint8Array.of(0, 1, 0, 0, t.length, ...t, o);
  };
  const cases: [string, number, string, number][] = [
    ["a", 0x40, "MQTT-3.8.3-5", 0x81], // a reserved bit
    ["a", 0x03, "MQTT 5.0 section 3.8.3.1", 0x82], // Maximum QoS 3: "a Protocol Error"
    ["a", 0x30, "MQTT 5.0 section 3.8.3.1", 0x82], // retain handling 3: "a Protocol Error"
    ["$share/g/a", 0x04, "MQTT-3.8.3-4", 0x82], // No Local on a shared subscription
  ];
  for (const [topic, o, rule, reasonCode] of cases) {
    const e = assertProtocolError(
      () => decodePacket(0x82, subscribe(topic, o), 5),
      rule,
      `options 0x${o.toString(16)} on ${topic}`,
    );
    assert.equal(e.reasonCode, reasonCode, `options 0x${o.toString(16)} on ${topic}`);
  }
});

test("a packet over our Maximum Packet Size names MQTT-3.1.2-24 in MQTT 5, DISCONNECT 0x95", () => {
  const e = assertProtocolError(
    () =>
      new PacketDecoder({ protocolVersion: 5, maxPacketSize: 100 }).push(Uint8Array.of(0x30, 0x7f)),
    "MQTT-3.1.2-24",
    "129 bytes",
  );
  assert.equal(e.reasonCode, 0x95);
});

test("encode names a missing reason code rather than fail inside (CONNACK's is its returnCode)", () => {
  const bad: [object, string][] = [
    [{ type: "connack", sessionPresent: false, reasonCode: 0x87 }, "CONNACK: returnCode undefined"],
    [{ type: "puback", packetId: 1, reasonCode: "0x10" }, "PUBACK: reasonCode 0x10"],
    [{ type: "suback", packetId: 1, reasonCodes: [0] }, "SUBACK: returnCodes must be an array"],
    [{ type: "unsuback", packetId: 1 }, "UNSUBACK: at least one reason code"],
  ];
  for (const [packet, words] of bad) {
    assertArgError(() => encode(packet as Packet, 5), TypeError, words);
  }
});

test("5.0: packets with properties, all kept, each decode as encoded (properties go through a slab)", () => {
  const kept: [Packet, Uint8Array][] = [];
  for (let i = 0; i < 2000; i++) {
    const p: PublishPacket = {
      type: "publish",
      topic: `t/${i % 7}`,
      payload: Uint8Array.of(i & 0xff),
      qos: 0,
      retain: false,
      dup: false,
      properties: {
        responseTopic: `r/${i}/${"é".repeat(i % 50)}`,
        correlationData: Uint8Array.of(i >> 8, i & 0xff),
        userProperties: [["n", String(i)], ["x".repeat(i % 400), "y"]],
      },
    };
    kept.push([p, encode(p, 5)]);
  }
  for (const [p, bytes] of kept) {
    assert.deepEqual(new PacketDecoder({ protocolVersion: 5 }).push(bytes), [p]);
  }
});
