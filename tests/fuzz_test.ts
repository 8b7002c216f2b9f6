// Property tests of the codec with fast-check: generated packets of every
// type round-trip through encode and the streaming decoder however the bytes
// are cut, and random or mutated bytes only ever make the decoder throw its
// own MQTTProtocolError, with a packet over maxPacketSize refused from its
// fixed header, before its body is buffered.
//
// Each property runs a fixed number of cases from one seed, random per run
// and printed on failure; replay a failure with UMQTT_FUZZ_SEED=<seed>.
import assert from "node:assert/strict";
import process from "node:process";
import fc from "npm:fast-check@4";
import { encode } from "../lib/codec/encode.ts";
import { PacketDecoder } from "../lib/codec/decoder.ts";
import type { Packet, QoS, Will } from "../lib/codec/packet.ts";
import { MQTTProtocolError } from "../lib/errors.ts";
import { test } from "./_test.ts";

// Cases per property: together about two seconds on a slow CI core.
const RUNS = {
  roundTrip: 4000,
  streams: 1000,
  sizeLimit: 5000,
  randomBytes: 20000,
  mutated: 10000,
};

const SEED = process.env.UMQTT_FUZZ_SEED !== undefined
  ? Number(process.env.UMQTT_FUZZ_SEED)
  : Math.floor(Math.random() * 2 ** 31);

/** Runs `property` for `numRuns` cases from SEED; a failure names the seed to replay it. */
function check(name: string, property: fc.IProperty<unknown>, numRuns: number): void {
  try {
    fc.assert(property, { seed: SEED, numRuns });
  } catch (e) {
    throw new Error(
      `${name}: failed with seed ${SEED}; replay with UMQTT_FUZZ_SEED=${SEED}\n${
        (e as Error).message
      }`,
      { cause: e },
    );
  }
  console.log(`${name}: ${numRuns} cases passed (seed ${SEED})`);
}

// ---- generated fields ----------------------------------------------------

// Code points of every UTF-8 length (1 to 4 bytes), never U+0000 nor a lone
// surrogate, which MQTT strings forbid (MQTT-1.5.3-1, -2).
const codePoint = fc.oneof(
  fc.integer({ min: 0x01, max: 0x7f }),
  fc.integer({ min: 0x80, max: 0x7ff }),
  fc.integer({ min: 0x800, max: 0xd7ff }),
  fc.integer({ min: 0xe000, max: 0xffff }),
  fc.integer({ min: 0x10000, max: 0x10ffff }),
  fc.constantFrom(0xfeff, 0xfffe, 0x10ffff), // BOM and non-characters must survive as they are
).map((c) => String.fromCodePoint(c));

/** Any MQTT string: client ids, user names. */
const mqttString = fc.array(codePoint, { maxLength: 12 }).map((a) => a.join(""));

/** One topic level: no separator, no wildcard. */
const level = fc.array(codePoint.filter((c) => c !== "/" && c !== "+" && c !== "#"), {
  maxLength: 6,
}).map((a) => a.join(""));

// 65535 bytes, the most a two-byte length can say, once in ASCII and once in
// three-byte characters.
const longestTopics = ["a".repeat(65535), "€".repeat(21845)];

const topicName = fc.oneof(
  {
    weight: 20,
    arbitrary: fc.array(level, { minLength: 1, maxLength: 5 }).map((l) => l.join("/")),
  },
  { weight: 1, arbitrary: fc.constantFrom(...longestTopics) },
).filter((t) => t.length > 0);

const topicFilter = fc.oneof(
  fc.constantFrom("#", "+", "+/#", "/"),
  fc.tuple(
    fc.array(
      fc.oneof({ weight: 1, arbitrary: fc.constant("+") }, { weight: 3, arbitrary: level }),
      {
        minLength: 1,
        maxLength: 5,
      },
    ),
    fc.boolean(),
  ).map(([levels, hash]) => (hash ? [...levels, "#"] : levels).join("/")),
).filter((f) => f.length > 0);

const qos = fc.constantFrom<QoS>(0, 1, 2);
const packetId = fc.integer({ min: 1, max: 65535 });
const BIG = 256 * 1024;

/** Empty, small, or 256 KiB payloads; a big one is a fill pattern, not 256 Ki generated values. */
const payload = fc.oneof(
  { weight: 3, arbitrary: fc.constant(new Uint8Array(0)) },
  { weight: 12, arbitrary: fc.uint8Array({ maxLength: 64 }) },
  {
    weight: 1,
    arbitrary: fc.integer({ min: 0, max: 255 }).map((seed) => {
      const p = new Uint8Array(BIG);
      for (let i = 0; i < BIG; i++) p[i] = (i * 31 + seed) & 0xff;
      return p;
    }),
  },
);
const smallPayload = fc.uint8Array({ maxLength: 32 });

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

/** Where to cut a stream: up to 8 points, mapped onto whatever length it turns out to have. */
const cuts = fc.array(fc.nat(), { maxLength: 8 });

/** Cuts `bytes` at `points` (taken modulo its length), into views. */
function cut(bytes: Uint8Array, points: number[]): Uint8Array[] {
  const at = [...new Set(points.map((p) => p % (bytes.length + 1)))].sort((a, b) => a - b);
  const out = [];
  let from = 0;
  for (const p of [...at, bytes.length]) {
    out.push(bytes.subarray(from, p));
    from = p;
  }
  return out;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Decodes `chunks` with one fresh decoder; nothing may be left half decoded. */
function decodeAll(chunks: Uint8Array[], maxPacketSize: number): Packet[] {
  const decoder = new PacketDecoder({ maxPacketSize });
  const out: Packet[] = [];
  for (const chunk of chunks) out.push(...decoder.push(chunk));
  assert.equal(decoder.pending, false, "a packet is left half decoded");
  return out;
}

/** Deep equality that compares a 256 KiB payload as bytes, not as a 256 Ki-line diff. */
function assertSamePacket(actual: Packet, expected: Packet): void {
  if (actual.type === "publish" && expected.type === "publish" && expected.payload.length > 64) {
    assert.ok(
      actual.payload.length === expected.payload.length &&
        actual.payload.every((b, i) => b === expected.payload[i]),
      `payload of ${expected.payload.length} bytes differs`,
    );
    assert.deepStrictEqual({ ...actual, payload: null }, { ...expected, payload: null });
    return;
  }
  assert.deepStrictEqual(actual, expected);
}

// Packets shorter than this are also decoded at every two-chunk split and one byte at a time.
const EXHAUSTIVE_BELOW = 300;

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

/** The varint bytes of a Remaining Length (1 to 4 bytes). */
function varint(n: number): number[] {
  const out = [];
  do {
    let digit = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) digit |= 0x80;
    out.push(digit);
  } while (n > 0);
  return out;
}

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

/** Feeds chunks; returns the error thrown, checking it is an MQTTProtocolError and sticks. */
function feed(chunks: Uint8Array[], maxPacketSize: number): MQTTProtocolError | Packet[] {
  const decoder = new PacketDecoder({ maxPacketSize });
  const packets: Packet[] = [];
  for (const chunk of chunks) {
    try {
      packets.push(...decoder.push(chunk));
    } catch (e) {
      if (!(e instanceof MQTTProtocolError)) {
        throw new Error(`decoder threw ${(e as Error)?.name}, not MQTTProtocolError: ${e}`, {
          cause: e,
        });
      }
      assert.ok(e.message.length > 0);
      // After an error the stream cannot be framed any more: every later push fails alike.
      assert.throws(() => decoder.push(Uint8Array.of(0xd0, 0x00)), (again) => again === e);
      return e;
    }
  }
  return packets;
}

// Frames with a real packet type and a plausible length around random bodies,
// so that every body decoder sees garbage, not just the fixed-header checks.
const framedGarbage = fc.array(
  fc.tuple(
    fc.integer({ min: 0, max: 255 }),
    fc.uint8Array({ maxLength: 40 }),
    fc.integer({ min: -2, max: 2 }),
  )
    .map(([byte1, body, skew]) =>
      Uint8Array.of(byte1, ...varint(Math.max(0, body.length + skew)), ...body)
    ),
  { minLength: 1, maxLength: 6 },
).map(concat);

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

/** One edit to a byte stream. */
const mutation = fc.oneof(
  fc.tuple(fc.constant("set" as const), fc.nat(), fc.integer({ min: 0, max: 255 })),
  fc.tuple(fc.constant("flip" as const), fc.nat(), fc.integer({ min: 0, max: 7 })),
  fc.tuple(fc.constant("insert" as const), fc.nat(), fc.integer({ min: 0, max: 255 })),
  fc.tuple(fc.constant("delete" as const), fc.nat(), fc.constant(0)),
  fc.tuple(fc.constant("truncate" as const), fc.nat(), fc.constant(0)),
);

function mutate(bytes: Uint8Array, edits: [string, number, number][]): Uint8Array {
  const b = Array.from(bytes);
  for (const [kind, pos, value] of edits) {
    const at = b.length === 0 ? 0 : pos % b.length;
    if (kind === "set") b[at] = value;
    else if (kind === "flip") b[at] ^= 1 << value;
    else if (kind === "insert") b.splice(at, 0, value);
    else if (kind === "delete") b.splice(at, 1);
    else b.length = at;
  }
  return Uint8Array.from(b);
}

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
        // (MQTT-3.1.3-8), and the encoder, a client's, never writes it (MQTT-3.1.3-7).
        for (const p of result) {
          if (p.type === "connect" && p.clientId === "" && !p.cleanSession) continue;
          assertSamePacket(decodeAll([encode(p)], 1_048_576)[0], p);
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
