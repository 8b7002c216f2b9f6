// Helpers shared by the codec tests of both protocol versions: byte and
// packet assertions that report differences readably, the streaming decoder
// fed in chunks, and the split points every fixture is decoded at.
import assert from "node:assert/strict";
import { PacketDecoder } from "../lib/codec/decoder.ts";
import type { Packet, ProtocolVersion, PublishPacket } from "../lib/codec/packet.ts";
import { MQTTProtocolError } from "../lib/errors.ts";

/** A QoS 0 PUBLISH to `topic` with an empty payload, and whatever `fields` change. */
export function publish(topic: string, fields: Partial<PublishPacket> = {}): PublishPacket {
  return {
    type: "publish",
    topic,
    payload: new Uint8Array(0),
    qos: 0,
    retain: false,
    dup: false,
    ...fields,
  };
}

// Large enough for the 4-byte remaining length fixture (2 MiB body).
export const MAX = 4 * 1_048_576;
// Fixtures at least this long are decoded at a sample of two-chunk splits.
const ALL_SPLITS_BELOW = 300;

export const hex = (b: ArrayLike<number>): string =>
  Array.from(b, (x) => x.toString(16).padStart(2, "0")).join(" ");

/** Byte equality that reports the first difference in hex, not a 2 MiB dump. */
export function assertBytes(actual: Uint8Array, expected: Uint8Array, what: string): void {
  const n = Math.min(actual.length, expected.length);
  let i = 0;
  while (i < n && actual[i] === expected[i]) i++;
  if (i === n && actual.length === expected.length) return;
  const from = Math.max(0, i - 4);
  assert.fail(
    `${what}: first difference at byte ${i} of ${expected.length} (got ${actual.length})\n` +
      `  actual   @${from}: ${hex(actual.subarray(from, i + 8))}\n` +
      `  expected @${from}: ${hex(expected.subarray(from, i + 8))}`,
  );
}

/** Deep equality of packets, with large payloads compared byte by byte first. */
export function assertPacket(actual: Packet, expected: Packet, what: string): void {
  if (
    actual.type === "publish" && expected.type === "publish" && expected.payload.length > 1024
  ) {
    assertBytes(actual.payload, expected.payload, `${what}: payload`);
    assert.deepStrictEqual({ ...actual, payload: null }, { ...expected, payload: null }, what);
    return;
  }
  assert.deepStrictEqual(actual, expected, what);
}

/** Decodes `chunks` in order with one fresh decoder; checks nothing is left pending. */
export function decodeChunks(chunks: Uint8Array[], protocolVersion: ProtocolVersion = 4): Packet[] {
  const decoder = new PacketDecoder({ maxPacketSize: MAX, protocolVersion });
  const out: Packet[] = [];
  for (const chunk of chunks) out.push(...decoder.push(chunk));
  assert.equal(decoder.pending, false, "a packet is left half decoded");
  return out;
}

/** Cuts `bytes` into copies of `size` bytes (the last may be shorter). */
export function chunked(bytes: Uint8Array, size: number): Uint8Array[] {
  const out = [];
  for (let i = 0; i < bytes.length; i += size) out.push(bytes.slice(i, i + size));
  return out;
}

/** Two-chunk split points: all of them for short packets, ~50 spread ones for long ones. */
export function splitPoints(length: number): number[] {
  if (length < ALL_SPLITS_BELOW) return Array.from({ length: length - 1 }, (_, i) => i + 1);
  // Every point in and just past the fixed header, the last few, and 40 spread between.
  const points = new Set([1, 2, 3, 4, 5, 6, 7, 8, length - 2, length - 1]);
  for (let k = 1; k <= 40; k++) points.add(Math.floor((length * k) / 41));
  return [...points].sort((a, b) => a - b);
}

/** Asserts `fn` throws an MQTTProtocolError for `rule`, with the rule in its message. */
export function assertProtocolError(
  fn: () => unknown,
  rule: string,
  what: string,
): MQTTProtocolError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(
    caught instanceof MQTTProtocolError,
    `${what}: expected MQTTProtocolError, got ${caught}`,
  );
  assert.equal(caught.name, "MQTTProtocolError");
  assert.equal(caught.rule, rule, `${what}: ${caught.message}`);
  assert.ok(caught.message.includes(rule), `${what}: message "${caught.message}" omits ${rule}`);
  return caught;
}

/** Asserts `fn` throws exactly `type` (not a subclass) with `words` in its message. */
export function assertArgError(
  fn: () => unknown,
  type: typeof TypeError | typeof RangeError,
  words: string,
): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof Error);
    assert.equal(e.constructor, type, `expected ${type.name}, got ${e.name}: ${e.message}`);
    assert.ok(e.message.includes(words), `message "${e.message}" omits ${words}`);
    return true;
  });
}
