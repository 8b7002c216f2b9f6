// Generators and helpers shared by the codec's property tests of both
// protocol versions: MQTT strings, topics and payloads, streams cut anywhere,
// fed to a decoder that may only fail with MQTTProtocolError, and mutated.
//
// Each property runs a fixed number of cases from one seed, random per run
// and printed on failure; replay a failure with UMQTT_FUZZ_SEED=<seed>.
import assert from "node:assert/strict";
import process from "node:process";
import fc from "npm:fast-check@4";
import { PacketDecoder } from "../lib/codec/decoder.ts";
import { encode } from "../lib/codec/encode.ts";
import type { Packet, ProtocolVersion, QoS } from "../lib/codec/packet.ts";
import { MQTTProtocolError } from "../lib/errors.ts";

export const SEED = process.env.UMQTT_FUZZ_SEED !== undefined
  ? Number(process.env.UMQTT_FUZZ_SEED)
  : Math.floor(Math.random() * 2 ** 31);

/** Runs `property` for `numRuns` cases from SEED; a failure names the seed to replay it. */
export function check(name: string, property: fc.IProperty<unknown>, numRuns: number): void {
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

/**
 * Whether a sender should not put `c` in an MQTT string (section 1.5.3): a
 * control character or a non-character. The codec refuses to send them.
 */
export const shouldNot = (c: number) =>
  (c >= 0x01 && c <= 0x1f) || (c >= 0x7f && c <= 0x9f) || (c >= 0xfdd0 && c <= 0xfdef) ||
  (c & 0xfffe) === 0xfffe;

// Code points of every UTF-8 length (1 to 4 bytes), never U+0000 nor a lone
// surrogate, which MQTT strings forbid (MQTT-1.5.3-1, -2), nor one a sender
// should not send.
export const codePoint = fc.oneof(
  fc.integer({ min: 0x20, max: 0x7e }),
  fc.integer({ min: 0xa0, max: 0x7ff }),
  fc.integer({ min: 0x800, max: 0xd7ff }),
  fc.integer({ min: 0xe000, max: 0xffff }),
  fc.integer({ min: 0x10000, max: 0x10ffff }),
  fc.constantFrom(0xfeff, 0xfffd, 0x10fffd), // the BOM survives as it is
).filter((c) => !shouldNot(c)).map((c) => String.fromCodePoint(c));

/** Any MQTT string: client ids, user names. */
export const mqttString = fc.array(codePoint, { maxLength: 12 }).map((a) => a.join(""));

/** One topic level: no separator, no wildcard. */
export const level = fc.array(codePoint.filter((c) => c !== "/" && c !== "+" && c !== "#"), {
  maxLength: 6,
}).map((a) => a.join(""));

// 65535 bytes, the most a two-byte length can say, once in ASCII and once in
// three-byte characters.
export const longestTopics = ["a".repeat(65535), "€".repeat(21845)];

export const topicName = fc.oneof(
  {
    weight: 20,
    arbitrary: fc.array(level, { minLength: 1, maxLength: 5 }).map((l) => l.join("/")),
  },
  { weight: 1, arbitrary: fc.constantFrom(...longestTopics) },
).filter((t) => t.length > 0);

export const topicFilter = fc.oneof(
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

export const qos = fc.constantFrom<QoS>(0, 1, 2);
export const packetId = fc.integer({ min: 1, max: 65535 });
export const BIG = 256 * 1024;

/** Empty, small, or 256 KiB payloads; a big one is a fill pattern, not 256 Ki generated values. */
export const payload = fc.oneof(
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
export const smallPayload = fc.uint8Array({ maxLength: 32 });

/** Where to cut a stream: up to 8 points, mapped onto whatever length it turns out to have. */
export const cuts = fc.array(fc.nat(), { maxLength: 8 });

/** Cuts `bytes` at `points` (taken modulo its length), into views. */
export function cut(bytes: Uint8Array, points: number[]): Uint8Array[] {
  const at = [...new Set(points.map((p) => p % (bytes.length + 1)))].sort((a, b) => a - b);
  const out = [];
  let from = 0;
  for (const p of [...at, bytes.length]) {
    out.push(bytes.subarray(from, p));
    from = p;
  }
  return out;
}

export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Decodes `chunks` with one fresh decoder; nothing may be left half decoded. */
export function decodeAll(
  chunks: Uint8Array[],
  maxPacketSize: number,
  protocolVersion: ProtocolVersion = 4,
): Packet[] {
  const decoder = new PacketDecoder({ maxPacketSize, protocolVersion });
  const out: Packet[] = [];
  for (const chunk of chunks) out.push(...decoder.push(chunk));
  assert.equal(decoder.pending, false, "a packet is left half decoded");
  return out;
}

/**
 * `p` encoded again, or undefined when it holds a string that a sender should
 * not send (a control character or non-character, section 1.5.3): the
 * decoder takes those, the encoder refuses them.
 */
export function encodeAgain(p: Packet, version: ProtocolVersion = 4): Uint8Array | undefined {
  try {
    return encode(p, version);
  } catch (e) {
    if (e instanceof TypeError && / which MQTT strings should not hold /.test(e.message)) return;
    throw e;
  }
}

/** Deep equality that compares a 256 KiB payload as bytes, not as a 256 Ki-line diff. */
export function assertSamePacket(actual: Packet, expected: Packet): void {
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
export const EXHAUSTIVE_BELOW = 300;

/** The varint bytes of a Remaining Length (1 to 4 bytes). */
export function varint(n: number): number[] {
  const out = [];
  do {
    let digit = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) digit |= 0x80;
    out.push(digit);
  } while (n > 0);
  return out;
}

/** Feeds chunks; returns the error thrown, checking it is an MQTTProtocolError and sticks. */
export function feed(
  chunks: Uint8Array[],
  maxPacketSize: number,
  protocolVersion: ProtocolVersion = 4,
): MQTTProtocolError | Packet[] {
  const decoder = new PacketDecoder({ maxPacketSize, protocolVersion });
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
export const framedGarbage = fc.array(
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

/** One edit to a byte stream. */
export const mutation = fc.oneof(
  fc.tuple(fc.constant("set" as const), fc.nat(), fc.integer({ min: 0, max: 255 })),
  fc.tuple(fc.constant("flip" as const), fc.nat(), fc.integer({ min: 0, max: 7 })),
  fc.tuple(fc.constant("insert" as const), fc.nat(), fc.integer({ min: 0, max: 255 })),
  fc.tuple(fc.constant("delete" as const), fc.nat(), fc.constant(0)),
  fc.tuple(fc.constant("truncate" as const), fc.nat(), fc.constant(0)),
);

export function mutate(bytes: Uint8Array, edits: [string, number, number][]): Uint8Array {
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
