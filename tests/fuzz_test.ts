// Property tests of the codec with fast-check: generated packets of every
// type round-trip through encode and the streaming decoder however the bytes
// are cut, and random or mutated bytes only ever make the decoder throw its
// own MQTTProtocolError, with a packet over maxPacketSize refused from its
// fixed header, before its body is buffered.
//
// Each property runs a fixed number of cases from one seed, random per run
// and printed on failure; replay a failure with UMQTT_FUZZ_SEED=<seed>. The
// generators and stream helpers are in _fuzz.ts; MQTT 5.0's in fuzz5_test.ts.
import assert from "node:assert/strict";
import fc from "npm:fast-check@4";
import { encode } from "../lib/codec/encode.ts";
import { PacketDecoder } from "../lib/codec/decoder.ts";
import type { Packet, Will } from "../lib/codec/packet.ts";
import { MQTTProtocolError } from "../lib/errors.ts";
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
  roundTrip: 4000,
  streams: 1000,
  sizeLimit: 5000,
  randomBytes: 20000,
  mutated: 10000,
};

// ---- generated packets, one arbitrary per type ----------------------------

const connect = fc.record({
  clientId: mqttString,
  cleanSession: fc.boolean(),
  keepalive: fc.integer({ min: 0, max: 65535 }),
  username: fc.option(mqttString, { nil: undefined }),
  password: fc.option(smallPayload, { nil: undefined }),
  will: fc.option(
    fc.record({ topic: topicName, payload: smallPayload, qos, retain: fc.boolean() }),
    { nil: undefined },
  ),
}).map((r): Packet => {
  // Fields absent rather than undefined, as the decoder returns them.
  const p: Packet = {
    type: "connect",
    clientId: r.clientId,
    // An empty client id needs a clean session (MQTT-3.1.3-7).
    cleanSession: r.cleanSession || r.clientId === "",
    keepalive: r.keepalive,
  };
  // fc.record makes null-prototype objects; the decoder's are plain ones.
  if (r.will) p.will = { ...r.will } as Will;
  if (r.username !== undefined) {
    p.username = r.username;
    // A password needs a user name (MQTT-3.1.2-22).
    if (r.password !== undefined) p.password = r.password;
  }
  return p;
});

const publish = fc.record({
  topic: topicName,
  payload,
  qos,
  retain: fc.boolean(),
  dup: fc.boolean(),
  packetId,
}).map(({ topic, payload, qos, retain, dup, packetId }): Packet =>
  qos === 0
    ? { type: "publish", topic, payload, qos, retain, dup: false } // DUP is 0 at QoS 0 (MQTT-3.3.1-2)
    : { type: "publish", topic, payload, qos, retain, dup, packetId }
);

const ACK_TYPES = ["puback", "pubrec", "pubrel", "pubcomp", "unsuback"] as const;

const byType: Record<Exclude<Packet["type"], "auth">, fc.Arbitrary<Packet>> = {
  connect,
  connack: fc.record({ sessionPresent: fc.boolean(), returnCode: fc.integer({ min: 0, max: 255 }) })
    .map((r): Packet => ({ type: "connack", ...r })),
  publish,
  ...Object.fromEntries(
    ACK_TYPES.map((type) => [type, packetId.map((id): Packet => ({ type, packetId: id }))]),
  ) as Record<(typeof ACK_TYPES)[number], fc.Arbitrary<Packet>>,
  subscribe: fc.record({
    packetId,
    subscriptions: fc.array(fc.record({ topic: topicFilter, qos }), { minLength: 1, maxLength: 5 }),
  }).map((r): Packet => ({
    type: "subscribe",
    packetId: r.packetId,
    subscriptions: r.subscriptions.map((s) => ({ ...s })),
  })),
  suback: fc.record({
    packetId,
    returnCodes: fc.array(fc.constantFrom(0, 1, 2, 0x80), { minLength: 1, maxLength: 10 }),
  }).map((r): Packet => ({ type: "suback", ...r })),
  unsubscribe: fc.record({
    packetId,
    topics: fc.array(topicFilter, { minLength: 1, maxLength: 5 }),
  }).map((r): Packet => ({ type: "unsubscribe", ...r })),
  pingreq: fc.constant({ type: "pingreq" }),
  pingresp: fc.constant({ type: "pingresp" }),
  disconnect: fc.constant({ type: "disconnect" }),
};

const anyPacket: fc.Arbitrary<Packet> = fc.oneof(...Object.values(byType));

// ---- properties ----------------------------------------------------------

test("fuzz: every packet type round-trips through encode and decode, cut anywhere", () => {
  const seen = new Set<string>();
  check(
    "round trip",
    fc.property(anyPacket, cuts, (packet, points) => {
      seen.add(packet.type);
      if (packet.type === "publish") {
        if (packet.payload.length === BIG) seen.add("256 KiB payload");
        if (packet.payload.length === 0) seen.add("empty payload");
        if (new TextEncoder().encode(packet.topic).length > packet.topic.length) {
          seen.add("multi-byte topic");
        }
        seen.add(`qos ${packet.qos}${packet.retain ? " retain" : ""}${packet.dup ? " dup" : ""}`);
      }
      const bytes = encode(packet);
      const splits = [cut(bytes, points), [bytes]];
      if (bytes.length < EXHAUSTIVE_BELOW) {
        for (let i = 1; i < bytes.length; i++) {
          splits.push([bytes.subarray(0, i), bytes.subarray(i)]);
        }
        splits.push(Array.from(bytes, (b) => Uint8Array.of(b)));
      }
      for (const chunks of splits) {
        // The limit is inclusive: a packet of exactly maxPacketSize is accepted.
        const decoded = decodeAll(chunks, bytes.length);
        assert.equal(decoded.length, 1);
        assertSamePacket(decoded[0], packet);
      }
      assert.deepStrictEqual(encode(decodeAll([bytes], bytes.length)[0]), bytes, "re-encoding");
    }),
    RUNS.roundTrip,
  );
  const wanted = [
    ...Object.keys(byType),
    ...["256 KiB payload", "empty payload", "multi-byte topic"],
    ...["qos 0", "qos 1", "qos 2", "qos 0 retain", "qos 1 dup", "qos 2 retain dup"],
  ];
  for (const w of wanted) assert.ok(seen.has(w), `no case generated with ${w}`);
});

test("fuzz: streams of packets decode in order, cut anywhere", () => {
  check(
    "streams",
    fc.property(fc.array(anyPacket, { minLength: 1, maxLength: 8 }), cuts, (packets, points) => {
      const encoded = packets.map((p) => encode(p));
      const stream = concat(encoded);
      const max = Math.max(...encoded.map((e) => e.length));
      const decoded = decodeAll(cut(stream, points), max);
      assert.equal(decoded.length, packets.length);
      decoded.forEach((p, i) => assertSamePacket(p, packets[i]));
    }),
    RUNS.streams,
  );
});

test("fuzz: a packet over maxPacketSize is refused from its fixed header", () => {
  check(
    "size limit",
    fc.property(
      fc.integer({ min: 1, max: 14 }),
      fc.integer({ min: 0, max: 15 }),
      fc.integer({ min: 2, max: 4 * 1_048_576 }),
      fc.integer({ min: 0, max: 268_435_455 }),
      (type, flags, max, remaining) => {
        const header = Uint8Array.of((type << 4) | flags, ...varint(remaining));
        const total = header.length + remaining;
        const decoder = new PacketDecoder({ maxPacketSize: max });
        if (total > max) {
          // Nothing after the header is needed for the refusal, so nothing of the body is held.
          assert.throws(() => decoder.push(header), (e) => {
            assert.ok(e instanceof MQTTProtocolError, String(e));
            assert.match(
              e.message,
              new RegExp(`packet of ${total} bytes exceeds maxPacketSize ${max}`),
            );
            return true;
          });
          // Spent: later bytes are refused with the same error.
          assert.throws(() => decoder.push(Uint8Array.of(0xd0, 0x00)), /exceeds maxPacketSize/);
        } else if (remaining > 0) {
          // Accepted from the header: the body (at most max bytes) is awaited.
          assert.deepStrictEqual(decoder.push(header), []);
          assert.equal(decoder.pending, true);
        }
      },
    ),
    RUNS.sizeLimit,
  );
});

test("fuzz: random bytes make the decoder throw only MQTTProtocolError", () => {
  check(
    "random bytes",
    fc.property(
      fc.oneof(fc.uint8Array({ maxLength: 300 }), framedGarbage),
      cuts,
      fc.integer({ min: 2, max: 512 }),
      (bytes, points, max) => {
        feed(cut(bytes, points), max);
      },
    ),
    RUNS.randomBytes,
  );
});

// Small packets only: the point is the edits, and a 256 KiB array copy per case would be slow.
const smallPacket = anyPacket.filter((p) =>
  !(p.type === "publish" && p.payload.length > 64) &&
  !(p.type === "publish" && p.topic.length > 1000)
);

test("fuzz: mutated packets make the decoder throw only MQTTProtocolError", () => {
  let accepted = 0;
  check(
    "mutated packets",
    fc.property(
      fc.array(smallPacket, { minLength: 1, maxLength: 4 }),
      fc.array(mutation, { minLength: 1, maxLength: 4 }),
      cuts,
      (packets, edits, points) => {
        const bytes = mutate(concat(packets.map((p) => encode(p))), edits);
        const result = feed(cut(bytes, points), 1_048_576);
        if (result instanceof MQTTProtocolError) return;
        accepted++;
        // Whatever the decoder accepts is a packet the encoder can write again,
        // but for a CONNECT with an empty client id and a persistent session:
        // well-formed, so it decodes, yet the server refuses it with CONNACK 2
        // (MQTT-3.1.3-8), and the encoder, a client's, never writes it (MQTT-3.1.3-7);
        // and but for a string a sender should not send (encodeAgain).
        for (const p of result) {
          if (p.type === "connect" && p.clientId === "" && !p.cleanSession) continue;
          const again = encodeAgain(p);
          if (again) assertSamePacket(decodeAll([again], 1_048_576)[0], p);
        }
      },
    ),
    RUNS.mutated,
  );
  // Edits that keep the stream valid (a changed payload byte) are accepted; make sure some were.
  assert.ok(accepted > 0, "no mutated stream was accepted at all");
});

// Found by the mutation fuzzing above: the decoder used to accept filters the
// encoder refuses, so a decoded SUBSCRIBE could not be written again.
test("the decoder refuses SUBSCRIBE and UNSUBSCRIBE filters that misuse wildcards", () => {
  const cases: [string, number[], RegExp][] = [
    // SUBSCRIBE id 1, filter "a#" (2 bytes), QoS 0
    ["SUBSCRIBE a#", [0x82, 0x07, 0x00, 0x01, 0x00, 0x02, 0x61, 0x23, 0x00], /MQTT-4\.7\.1-2/],
    // SUBSCRIBE id 1, filter "#/a", QoS 1
    [
      "SUBSCRIBE #/a",
      [0x82, 0x08, 0x00, 0x01, 0x00, 0x03, 0x23, 0x2f, 0x61, 0x01],
      /MQTT-4\.7\.1-2/,
    ],
    // UNSUBSCRIBE id 1, filter "a+"
    ["UNSUBSCRIBE a+", [0xa2, 0x06, 0x00, 0x01, 0x00, 0x02, 0x61, 0x2b], /MQTT-4\.7\.1-3/],
    // UNSUBSCRIBE id 1, filter "" (empty)
    ["UNSUBSCRIBE empty", [0xa2, 0x04, 0x00, 0x01, 0x00, 0x00], /MQTT-4\.7\.3-1/],
  ];
  for (const [name, bytes, rule] of cases) {
    const e = feed([Uint8Array.from(bytes)], 1024);
    assert.ok(e instanceof MQTTProtocolError, `${name}: accepted`);
    assert.match(e.message, /^Malformed (UN)?SUBSCRIBE: /, name);
    assert.match(e.message, rule, name);
    assert.match(e.rule, /^MQTT-4\.7\./, name);
  }
});
