// The MQTT 3.1.1 codec against hand-written byte fixtures (codec_fixtures.ts):
// the encoder must produce them exactly, and the streaming decoder must read
// them back however the bytes are split.
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { encode } from "../lib/codec/encode.ts";
import { decodeFromBroker, decodePacket } from "../lib/codec/decode.ts";
import { PacketDecoder } from "../lib/codec/decoder.ts";
import type { Packet, PublishPacket } from "../lib/codec/packet.ts";
import { type Fixture, fixtures, hugeFixture, malformed, pattern } from "./codec_fixtures.ts";
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

const u8 = (f: Fixture): Uint8Array => Uint8Array.from(f.bytes);

// First in the file on purpose: the PUBLISH encoder caches the last topic it
// validated, and an empty topic once slipped through when nothing was cached yet.
test("encode refuses an empty PUBLISH topic, before and after other topics", () => {
  assertArgError(() => encode(publish("")), TypeError, "MQTT-4.7.3-1");
  encode(publish("a/b"));
  assertArgError(() => encode(publish("")), TypeError, "MQTT-4.7.3-1");
});

test("the fixtures cover all 14 packet types", () => {
  const types = new Set(fixtures.map((f) => f.packet.type));
  assert.equal(types.size, 14, [...types].join());
});

for (const f of fixtures) {
  test(`encode: ${f.name}`, () => {
    assertBytes(encode(f.packet), u8(f), f.name);
  });

  test(`decode in every split: ${f.name}`, () => {
    const bytes = u8(f);
    const what = (how: string) => `${f.name}, ${how}`;

    // All at once; a PUBLISH payload is then a view into the chunk.
    const [whole, ...extra] = decodeChunks([bytes]);
    assert.equal(extra.length, 0);
    assertPacket(whole, f.packet, what("one chunk"));
    if (whole.type === "publish") {
      assert.equal(whole.payload.buffer, bytes.buffer, "payload is not a view into the chunk");
      assert.equal(
        whole.payload.byteOffset,
        bytes.byteOffset + bytes.length - whole.payload.length,
      );
    }

    // One byte at a time; the payload is then gathered into a buffer of its own.
    const ones = chunked(bytes, 1);
    const [byByte] = decodeChunks(ones);
    assertPacket(byByte, f.packet, what("one byte at a time"));
    if (byByte.type === "publish") {
      assert.ok(ones.every((c) => c.buffer !== byByte.payload.buffer));
    }

    // Every (or, for long packets, a spread of) two-chunk split.
    for (const at of splitPoints(bytes.length)) {
      const packets = decodeChunks([bytes.slice(0, at), bytes.slice(at)]);
      assert.equal(packets.length, 1, what(`split at ${at}`));
      assertPacket(packets[0], f.packet, what(`split at ${at}`));
    }
  });
}

test("a 4-byte remaining length (2 MiB PUBLISH) encodes and decodes", () => {
  const bytes = u8(hugeFixture);
  assertBytes(encode(hugeFixture.packet), bytes, hugeFixture.name);
  const [whole] = decodeChunks([bytes]);
  assertPacket(whole, hugeFixture.packet, "one chunk");
  for (const at of [1, 2, 3, 4, 5, 6, 7, 8, 1_000_000, bytes.length - 1]) {
    const [p] = decodeChunks([bytes.slice(0, at), bytes.slice(at)]);
    assertPacket(p, hugeFixture.packet, `split at ${at}`);
  }
  const [p] = decodeChunks(chunked(bytes, 65_536));
  assertPacket(p, hugeFixture.packet, "64 KiB chunks");
  // The default maxPacketSize (1 MiB) refuses it from its header.
  assertProtocolError(() => new PacketDecoder().push(bytes.subarray(0, 5)), "", "default max");
});

test("decodePacket decodes a body given apart from its fixed header", () => {
  for (const f of fixtures) {
    // Skip the fixed header: byte 1, then the remaining length's bytes.
    let start = 1;
    while (f.bytes[start] & 0x80) start++;
    start++;
    assertPacket(decodePacket(f.bytes[0], u8(f).subarray(start)), f.packet, f.name);
  }
});

test("decodeFromBroker decodes what a broker sends and refuses what only a client sends", () => {
  const clientOnly = ["connect", "subscribe", "unsubscribe", "pingreq", "disconnect"];
  let refused = 0;
  for (const f of fixtures) {
    let start = 1;
    while (f.bytes[start] & 0x80) start++;
    const body = u8(f).subarray(start + 1);
    if (clientOnly.includes(f.packet.type)) {
      assertProtocolError(
        () => decodeFromBroker(f.bytes[0], body),
        "MQTT 3.1.1 section 2.2.1",
        f.name,
      );
      refused++;
    } else {
      assertPacket(decodeFromBroker(f.bytes[0], body), f.packet, f.name);
    }
  }
  assert.ok(refused >= clientOnly.length, `only ${refused} client-only fixtures`);
});

test("all fixtures in one stream decode in order at chunk sizes 1, 3, 17 and whole", () => {
  const stream = Uint8Array.from(fixtures.flatMap((f) => f.bytes));
  for (const size of [1, 3, 17, stream.length]) {
    const chunks = chunked(stream, size);
    const packets = decodeChunks(chunks);
    assert.equal(packets.length, fixtures.length, `chunk size ${size}`);
    packets.forEach((p, i) => assertPacket(p, fixtures[i].packet, `chunk size ${size}: #${i}`));
    if (chunks.length === 1) {
      // In one chunk, every PUBLISH payload is a view into it.
      const publishes = packets.filter((p) => p.type === "publish");
      assert.ok(publishes.length > 0);
      assert.ok(publishes.every((p) => p.payload.buffer === chunks[0].buffer));
    }
  }
});

test("a packet completed mid-chunk leaves the next packet's start pending", () => {
  const decoder = new PacketDecoder();
  // PUBACK 10, then the first two bytes of a PUBLISH.
  assert.deepStrictEqual(decoder.push(Uint8Array.of(0x40, 0x02, 0x00, 0x0a, 0x30, 0x03)), [
    { type: "puback", packetId: 10 },
  ]);
  assert.equal(decoder.pending, true);
  const [p] = decoder.push(Uint8Array.of(0x00, 0x01, 0x74)); // topic "t"
  assert.deepStrictEqual(p, publish("t"));
  assert.equal(decoder.pending, false);
});

test("a 65535-byte topic encodes and decodes", () => {
  const topic = "a".repeat(65_535);
  const bytes = encode(publish(topic));
  // PUBLISH; remaining length 65537 = 0x81 0x80 0x04; topic length 0xffff.
  assert.deepStrictEqual([...bytes.subarray(0, 6)], [0x30, 0x81, 0x80, 0x04, 0xff, 0xff]);
  assert.deepStrictEqual(decodeChunks(chunked(bytes, 4096)), [publish(topic)]);
});

for (const m of malformed) {
  test(`decode rejects ${m.name} (${m.rule})`, () => {
    const bytes = Uint8Array.from(m.bytes);
    const whole = new PacketDecoder();
    const err = assertProtocolError(() => whole.push(bytes), m.rule, `${m.name}, one chunk`);
    // A spent decoder keeps failing with the same error, even on good bytes.
    assert.throws(() => whole.push(Uint8Array.of(0xc0, 0x00)), (e) => e === err);

    // Fed byte by byte: the same rule, raised by the push of the first byte
    // that shows the fault (the last one, unless the fixture says otherwise).
    const byByte = new PacketDecoder();
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

test("reserved packet types 0 and 15 are refused from their first byte", () => {
  for (const byte1 of [0x00, 0x0f, 0xf0, 0xff]) {
    const decoder = new PacketDecoder();
    const err = assertProtocolError(
      () => decoder.push(Uint8Array.of(byte1)),
      "MQTT 3.1.1 section 2.2.1",
      `first byte 0x${byte1.toString(16)}`,
    );
    assert.throws(() => decoder.push(Uint8Array.of(0x00)), (e) => e === err);
  }
  // Also after a good packet in the same chunk: that packet stands, the next push() throws.
  const after = new PacketDecoder();
  assert.deepEqual(after.push(Uint8Array.of(0xd0, 0x00, 0xf0)), [{ type: "pingresp" }]);
  assertProtocolError(
    () => after.push(Uint8Array.of(0)),
    "MQTT 3.1.1 section 2.2.1",
    "after PINGRESP",
  );
  assertProtocolError(
    () => decodePacket(0xf0, new Uint8Array(0)),
    "MQTT 3.1.1 section 2.2.1",
    "decodePacket",
  );
});

test("maxPacketSize refuses a packet from its fixed header alone", () => {
  const decoder = new PacketDecoder({ maxPacketSize: 100 });
  // PUBLISH whose remaining length says 1 MiB: 1048576 = 0 + 0*128 + 64*128^2.
  assert.deepStrictEqual(decoder.push(Uint8Array.of(0x30, 0x80, 0x80)), []);
  const err = assertProtocolError(() => decoder.push(Uint8Array.of(0x40)), "", "1 MiB header");
  assert.match(err.message, /1048580 bytes exceeds maxPacketSize 100/);
  // Spent: every later push throws the same error, whatever it is given.
  assert.throws(() => decoder.push(Uint8Array.of(0xc0, 0x00)), (e) => e === err);
  assert.throws(() => decoder.push(new Uint8Array(0)), (e) => e === err);

  // The same header in one chunk.
  assertProtocolError(
    () => new PacketDecoder({ maxPacketSize: 100 }).push(Uint8Array.of(0x30, 0x80, 0x80, 0x40)),
    "",
    "1 MiB header in one chunk",
  );
});

test("maxPacketSize accepts a packet of exactly that size and refuses one byte more", () => {
  // 100 bytes: fixed header (2) + topic length (2) + "t" (1) + 95 bytes of payload.
  const payload = pattern(95);
  // deno-fmt-ignore
  const bytes = Uint8Array.of(
    0x30, // PUBLISH
    0x62, // remaining length 98
    0x00, 0x01, 0x74, // topic "t"
    ...payload,
  );
  assert.equal(bytes.length, 100);
  const decoder = new PacketDecoder({ maxPacketSize: 100 });
  assert.deepStrictEqual(decoder.push(bytes), [publish("t", { payload })]);
  assert.deepStrictEqual(decoder.push(Uint8Array.of(0xd0, 0x00)), [{ type: "pingresp" }]);

  const over = new PacketDecoder({ maxPacketSize: 99 });
  assertProtocolError(() => over.push(bytes.subarray(0, 2)), "", "101 bytes over 99");
});

test("PacketDecoder refuses a maxPacketSize that is not an integer of at least 2", () => {
  for (const maxPacketSize of [0, 1, 1.5, -1, NaN, Infinity]) {
    assert.throws(() => new PacketDecoder({ maxPacketSize }), RangeError, String(maxPacketSize));
  }
});

test("encode refuses PUBLISH fields MQTT forbids", () => {
  assertArgError(() => encode(publish("a/+")), TypeError, "MQTT-3.3.2-2");
  assertArgError(() => encode(publish("a/#")), TypeError, "MQTT-3.3.2-2");
  assertArgError(() => encode(publish("\ud800")), TypeError, "MQTT-1.5.3-1");
  assertArgError(() => encode(publish("a\udc00b")), TypeError, "MQTT-1.5.3-1");
  assertArgError(() => encode(publish("a\0b")), TypeError, "MQTT-1.5.3-2");
  // 32768 two-byte characters: 65536 bytes of UTF-8, one over the limit.
  assertArgError(() => encode(publish("é".repeat(32_768))), RangeError, "65535");
  assertArgError(() => encode(publish("a".repeat(65_536))), RangeError, "65535");
  assertArgError(() => encode(publish("a", { qos: 3 as 0 })), RangeError, "MQTT-3.3.1-4");
  assertArgError(() => encode(publish("a", { dup: true })), TypeError, "MQTT-3.3.1-2");
  for (const packetId of [0, 65_536, 1.5, undefined]) {
    assertArgError(
      () => encode(publish("a", { qos: 1, packetId })),
      RangeError,
      "MQTT-2.3.1-1",
    );
  }
});

test("encode refuses packet ids outside 1–65535 on every packet that has one", () => {
  for (const packetId of [0, 65_536, -1, 2.5]) {
    for (const type of ["puback", "pubrec", "pubrel", "pubcomp", "unsuback"] as const) {
      assertArgError(() => encode({ type, packetId }), RangeError, "MQTT-2.3.1-1");
    }
    assertArgError(
      () => encode({ type: "subscribe", packetId, subscriptions: [{ topic: "a", qos: 0 }] }),
      RangeError,
      "MQTT-2.3.1-1",
    );
    assertArgError(
      () => encode({ type: "unsubscribe", packetId, topics: ["a"] }),
      RangeError,
      "MQTT-2.3.1-1",
    );
    assertArgError(
      () => encode({ type: "suback", packetId, returnCodes: [0] }),
      RangeError,
      "MQTT-2.3.1-1",
    );
  }
});

test("encode refuses CONNECT fields MQTT forbids", () => {
  const connect = { type: "connect", clientId: "c", cleanSession: true, keepalive: 60 } as const;
  assertArgError(
    () => encode({ ...connect, clientId: "", cleanSession: false }),
    TypeError,
    "MQTT-3.1.3-7",
  );
  assertArgError(() => encode({ ...connect, clientId: "\ud800" }), TypeError, "MQTT-1.5.3-1");
  assertArgError(() => encode({ ...connect, keepalive: 65_536 }), RangeError, "65535");
  assertArgError(() => encode({ ...connect, keepalive: -1 }), RangeError, "65535");
  assertArgError(
    () => encode({ ...connect, password: Uint8Array.of(1) }),
    TypeError,
    "MQTT-3.1.2-22",
  );
  const will = { topic: "t", payload: new Uint8Array(0), qos: 0, retain: false } as const;
  assertArgError(
    () => encode({ ...connect, will: { ...will, payload: new Uint8Array(65_536) } }),
    RangeError,
    "65535",
  );
  assertArgError(() => encode({ ...connect, will: { ...will, qos: 3 as 0 } }), RangeError, "QoS");
  assertArgError(() => encode({ ...connect, will: { ...will, qos: 4 as 0 } }), RangeError, "QoS");
  // A password is binary data with a two-byte length (MQTT 3.1.1 section 3.1.3.5): 65535 bytes at most.
  const user = { ...connect, username: "u" };
  assertArgError(
    () => encode({ ...user, password: new Uint8Array(65_536) }),
    RangeError,
    "65535",
  );
  const [p] = decodeChunks([encode({ ...user, password: new Uint8Array(65_535).fill(7) })]);
  assert.equal(p.type === "connect" && p.password?.length, 65_535);
});

test("encode refuses SUBSCRIBE and UNSUBSCRIBE fields MQTT forbids", () => {
  const sub = (topic: string, qos = 0) =>
    encode({ type: "subscribe", packetId: 1, subscriptions: [{ topic, qos: qos as 0 }] });
  assertArgError(
    () => encode({ type: "subscribe", packetId: 1, subscriptions: [] }),
    TypeError,
    "MQTT-3.8.3-3",
  );
  assertArgError(() => sub("a/#/b"), TypeError, "MQTT-4.7.1-2");
  assertArgError(() => sub("a+"), TypeError, "MQTT-4.7.1-3");
  assertArgError(() => sub(""), TypeError, "MQTT-4.7.3-1");
  assertArgError(() => sub("a", 3), RangeError, "MQTT-3.8.3-4");
  assertArgError(
    () => encode({ type: "unsubscribe", packetId: 1, topics: [] }),
    TypeError,
    "MQTT-3.10.3-2",
  );
});

test("encode: a payload or password that is not bytes is a TypeError, and leaves the codec usable", () => {
  const publish = (payload: unknown) =>
    encode({ type: "publish", topic: "t", payload, qos: 0, retain: false, dup: false } as Packet);
  for (const payload of [5, "text", null, [1, 2], new ArrayBuffer(2)]) {
    assertArgError(
      () => publish(payload),
      TypeError,
      "Invalid PUBLISH payload: must be a Uint8Array",
    );
  }
  const connect = (password: unknown) =>
    encode({
      type: "connect",
      protocolVersion: 4,
      clientId: "c",
      cleanSession: true,
      keepalive: 0,
      username: "u",
      password,
    } as Packet);
  assertArgError(
    () => connect("secret"),
    TypeError,
    "Invalid CONNECT password: must be a Uint8Array, got string",
  );
  // Small QoS 0 packets share a slab: a failed one must not have moved it (it once made every
  // later publish of the process fail with "offset is out of bounds").
  assert.deepEqual([...publish(Uint8Array.of(7))], [0x30, 4, 0, 1, 0x74, 7]);
});

test("small PUBLISH packets of every QoS come out of shared slabs, each its own bytes", () => {
  // Enough of each QoS to fill several slabs (64 KiB for QoS 0, 8 KiB for the kept QoS 1/2
  // ones), interleaved, all kept: a slab handed out twice would overwrite earlier packets.
  const kept: [PublishPacket, Uint8Array][] = [];
  for (let i = 0; i < 3000; i++) {
    const qos = (i % 3) as 0 | 1 | 2;
    const payload = Uint8Array.from({ length: i % 200 }, (_, k) => (k + i) & 0xff);
    const p: PublishPacket = {
      type: "publish",
      topic: `t/${i}`,
      payload,
      qos,
      retain: false,
      dup: false,
    };
    if (qos === 0) {
      kept.push([p, encode(p)]);
      continue;
    }
    // As the session does: a stand-in id, then the real one patched in (before the payload).
    const bytes = encode({ ...p, packetId: 1 });
    const id = (i % 65535) + 1;
    bytes.set([id >> 8, id & 0xff], bytes.length - payload.length - 2);
    kept.push([{ ...p, packetId: id }, bytes]);
  }
  const buffers = new Set(kept.map(([, b]) => b.buffer));
  assert.ok(buffers.size < kept.length / 10, `${buffers.size} buffers for ${kept.length} packets`);
  for (const [p, bytes] of kept) assert.deepEqual(new PacketDecoder().push(bytes), [p]);
});

test("acks come out of shared slabs, each its own bytes", () => {
  // Enough to fill several slabs, all kept: PUBREL (kept by the session until its PUBCOMP)
  // from the kept packets' slab, the others from the short-lived one.
  const types = ["puback", "pubrec", "pubrel", "pubcomp"] as const;
  const kept: [Packet, Uint8Array][] = [];
  for (let i = 0; i < 40_000; i++) {
    const p = { type: types[i % 4], packetId: (i % 65535) + 1 } as Packet;
    kept.push([p, encode(p)]);
  }
  const buffers = new Set(kept.map(([, b]) => b.buffer));
  assert.ok(buffers.size < kept.length / 100, `${buffers.size} buffers for ${kept.length} acks`);
  for (const [p, bytes] of kept) assert.deepEqual(new PacketDecoder().push(bytes), [p]);
});

test("decoding a topic that differs from the last only in its bytes, from a buffer reused", () => {
  // The decoder remembers the last topic's bytes to skip decoding it again: they must be its
  // own copy, not a view of the caller's buffer, and every topic change must be seen.
  const buf = new Uint8Array(64);
  const topics = ["a/b", "a/c", "a/c", "x/c", "a/b", "é/z"];
  for (let i = 0; i < 1000; i++) {
    const topic = topics[i % topics.length];
    const bytes = encode(publish(topic, { payload: Uint8Array.of(i & 0xff) }));
    buf.set(bytes);
    assert.deepEqual(
      decodePacket(buf[0], buf.subarray(2, bytes.length)),
      publish(topic, { payload: Uint8Array.of(i & 0xff) }),
    );
  }
});

test("decoded payloads and bodies are plain views of the bytes given, a Node Buffer's too", () => {
  // A Buffer's subarray() is a Buffer: the decoder makes its views itself, so a
  // payload is a Uint8Array in every runtime, and it shares the bytes it came from.
  const bytes = Buffer.from(encode(publish("a/b", { payload: Uint8Array.of(1, 2, 3) })));
  const decoder = new PacketDecoder();
  const [fromStream] = decoder.push(bytes) as PublishPacket[];
  const whole = decodePacket(bytes[0], bytes.subarray(2)) as PublishPacket;
  for (const p of [fromStream, whole]) {
    assert.equal(Object.getPrototypeOf(p.payload), Uint8Array.prototype);
    assert.deepEqual([...p.payload], [1, 2, 3]);
    assert.equal(p.payload.buffer, bytes.buffer);
  }
  const [ack] = decoder.push(Buffer.from(encode({ type: "puback", packetId: 7 })));
  assert.deepEqual(ack, { type: "puback", packetId: 7 });
});

test("control characters and non-characters: refused when encoding, decoded as they are", () => {
  // A sender should not send them, a receiver may close the connection over
  // them (section 1.5.3; mosquitto 2.0 does); umqtt receives them.
  const refused = {
    "a\u0001": "0001",
    "a\u001f": "001F",
    "\u007f": "007F",
    "a\u0085b": "0085",
    "\u009f": "009F",
    "\ufdd0": "FDD0",
    "a\ufdef": "FDEF",
    "a\ufffe": "FFFE",
    "\u{1ffff}": "1FFFF",
  };
  for (const [s, hex] of Object.entries(refused)) {
    assert.throws(
      () => encode({ type: "subscribe", packetId: 1, subscriptions: [{ topic: s, qos: 0 }] }),
      new RegExp(`^TypeError: Invalid topic filter: it contains U\\+${hex}, a `),
    );
    const topic = new TextEncoder().encode(s);
    const publish = decodeFromBroker(0x30, Uint8Array.of(0, topic.length, ...topic, 0x21));
    assert.equal((publish as PublishPacket).topic, s);
  }
  // Their neighbours go.
  for (const s of ["a\u0020", "\u007e", "\u00a0", "\ufdcf", "\ufdf0", "\ufffd", "\u{1fffd}"]) {
    encode({ type: "subscribe", packetId: 1, subscriptions: [{ topic: s, qos: 0 }] });
  }
});

test("a chunk with packets, then malformed bytes: those packets stand, the next push() throws", () => {
  // PUBACK 7, then a reserved packet type; an MQTT 5 DISCONNECT 0x8B, then the same.
  const cases: [4 | 5, number[], Packet, string][] = [
    [
      4,
      [0x40, 0x02, 0x00, 0x07, 0x00, 0x00],
      { type: "puback", packetId: 7 },
      "MQTT 3.1.1 section 2.2.1",
    ],
    [
      5,
      [0xe0, 0x01, 0x8b, 0x00, 0x00],
      { type: "disconnect", reasonCode: 0x8b },
      "MQTT 5.0 section 2.1.2",
    ],
  ];
  for (const [protocolVersion, bytes, packet, rule] of cases) {
    // However the bytes are split, the packet comes out, then the error.
    for (const at of [1, 2, bytes.length - 1, bytes.length]) {
      const decoder = new PacketDecoder({ protocolVersion });
      const got: Packet[] = [];
      let error: unknown;
      for (const chunk of [bytes.slice(0, at), bytes.slice(at), [0]]) {
        try {
          got.push(...decoder.push(Uint8Array.from(chunk)));
        } catch (e) {
          error = e;
          break;
        }
      }
      assert.deepEqual(got, [packet], `split at ${at}`);
      assertProtocolError(
        () => {
          throw error;
        },
        rule,
        `split at ${at}`,
      );
    }
  }
});

test("encode, MQTT 3.1.1: a CONNACK return code that is not a byte, a SUBACK without a valid code", () => {
  for (const returnCode of [256, -1, 1.5, undefined, "0"]) {
    const connack = { type: "connack", sessionPresent: false, returnCode } as unknown as Packet;
    assert.throws(
      () => encode(connack),
      (e) => e instanceof RangeError && /CONNACK: returnCode/.test(e.message),
      String(returnCode),
    );
  }
  const refused = encode({ type: "connack", sessionPresent: false, returnCode: 5 });
  assertBytes(refused, Uint8Array.of(0x20, 0x02, 0x00, 0x05), "return code 5");
  const suback = (returnCodes: unknown[]) =>
    encode({ type: "suback", packetId: 1, returnCodes } as unknown as Packet);
  assert.throws(() => suback([]), /SUBACK: at least one return code is needed/);
  for (const code of [3, 0x87, 256, 0x180]) {
    assert.throws(
      () => suback([0, code]),
      (e) => e instanceof RangeError && /MQTT-3\.9\.3-2/.test(e.message),
      String(code),
    );
  }
  const codes = Uint8Array.of(0x90, 0x06, 0x00, 0x01, 0x00, 0x01, 0x02, 0x80);
  assertBytes(suback([0, 1, 2, 0x80]), codes, "every valid code");
});

test("encode refuses a will topic that is not a topic name, and MQTT 5 Authentication Data without its method", () => {
  const connect = (p: Record<string, unknown>) =>
    encode({ type: "connect", clientId: "a", cleanSession: true, keepalive: 0, ...p } as Packet, 5);
  const will = (topic: string) => ({
    will: { topic, payload: new Uint8Array(0), qos: 0, retain: false },
  });
  assert.throws(() => connect(will("a/#")), /Cannot set the will to "a\/#": .*MQTT-3\.3\.2-2/);
  assert.throws(() => connect(will("a/+/b")), /MQTT-3\.3\.2-2/);
  assert.throws(() => connect(will("")), /MQTT-4\.7\.3-1/);
  assert.throws(
    () => connect({ properties: { authenticationData: Uint8Array.of(1) } }),
    /Invalid CONNECT: Authentication Data without an Authentication Method \(MQTT 5\.0 section 3\.1\.2\.11\.10\)/,
  );
  const fine = { authenticationMethod: "SCRAM-SHA-1", authenticationData: Uint8Array.of(1) };
  assert.equal(connect({ properties: fine, ...will("a/b") })[0], 0x10);
});
