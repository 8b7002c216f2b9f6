// encode() given packet objects built wrongly, as a library user (or a JS
// caller, past the types) can: each must be a TypeError naming the field,
// never other bytes than the packet asked for.
import assert from "node:assert/strict";
import { encode } from "../lib/codec/encode.ts";
import { encodeConnect } from "../lib/codec/connect.ts";
import { PacketDecoder } from "../lib/codec/decoder.ts";
import type { Packet } from "../lib/codec/packet.ts";
import { assertArgError } from "./_codec.ts";
import { test } from "./_test.ts";

const payload = Uint8Array.of(1, 2);
const will = { topic: "w", payload, qos: 0 as const, retain: false };

test("a CONNECT of protocolVersion 4 with MQTT 5.0 properties is refused, whatever version encode() is given", () => {
  const p: Packet = {
    type: "connect",
    protocolVersion: 4,
    clientId: "c",
    cleanSession: true,
    keepalive: 60,
    properties: { sessionExpiryInterval: 3600 },
  };
  assertArgError(() => encode(p, 5), TypeError, "properties");
  assertArgError(
    () =>
      encode({
        ...p,
        properties: undefined,
        will: { ...will, properties: { willDelayInterval: 5 } },
      }, 5),
    TypeError,
    "will properties",
  );
  // The per-packet encoder, exported too, at its default level 4.
  assertArgError(
    () => encodeConnect({ ...p, protocolVersion: undefined }),
    TypeError,
    "properties",
  );
  // Still encoded: the same CONNECT at level 5, and at level 4 without them.
  assert.equal(encode({ ...p, protocolVersion: 5 }, 4)[8], 5);
  assert.equal(encode({ ...p, properties: undefined }, 5)[8], 4);
});

test("a missing will payload, subscription list or topic list names the field", () => {
  const connect = { type: "connect", clientId: "c", cleanSession: true, keepalive: 0 } as const;
  // deno-lint-ignore no-explicit-any
  const loose = (p: unknown) => p as any;
  assertArgError(
    () => encode(loose({ ...connect, will: { topic: "w", qos: 0, retain: false } })),
    TypeError,
    "will message",
  );
  assertArgError(
    () => encode(loose({ type: "subscribe", packetId: 1 })),
    TypeError,
    "subscriptions",
  );
  assertArgError(() => encode(loose({ type: "unsubscribe", packetId: 1 })), TypeError, "topics");
});

test("PacketDecoder.push: a chunk that is not a Uint8Array is a TypeError naming it, never no bytes", () => {
  const decoder = new PacketDecoder();
  const bytes = Uint8Array.of(0xd0, 0x00); // PINGRESP
  // An ArrayBuffer (a WebSocket's message with binaryType "arraybuffer") has no `length`: it was
  // taken as an empty chunk, its packet lost without a word; null failed inside the framer.
  for (const chunk of [bytes.buffer, null, "\xd0\x00", [0xd0, 0x00], new DataView(bytes.buffer)]) {
    assert.throws(
      () => decoder.push(chunk as unknown as Uint8Array),
      (e: Error) =>
        e instanceof TypeError &&
        /^Invalid chunk: must be a Uint8Array.*, got \w+$/.test(e.message),
    );
  }
  // Still usable, from the packet's first byte.
  assert.deepEqual(decoder.push(bytes), [{ type: "pingresp" }]);
});
