// encode() given packet objects built wrongly, as a library user (or a JS
// caller, past the types) can: each must be a TypeError naming the field,
// never other bytes than the packet asked for.
import assert from "node:assert/strict";
import { encode } from "../lib/codec/encode.ts";
import { encodeConnect } from "../lib/codec/connect.ts";
import { decodeFromBroker, decodePacket } from "../lib/codec/decode.ts";
import { encodeAck, encodePublish } from "../lib/codec/publish.ts";
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

test("decodePacket, decodeFromBroker: a body not a Uint8Array, a byte1 not a byte, a version not 4 or 5 is an argument error, never other bytes decoded", () => {
  // PUBLISH to "a", payload 01 02, given as a number[]: it decoded as a PUBLISH with an empty
  // topic and no payload (a view of an array's `buffer`, which it has not), which 3.1.1 forbids.
  const body = [0x00, 0x01, 0x61, 0x01, 0x02];
  for (const decode of [decodePacket, decodeFromBroker]) {
    for (const v of [4, 5] as const) {
      const bytes = v === 5 ? [0x00, 0x01, 0x61, 0x00, 0x01, 0x02] : body;
      // An ArrayBuffer read as a PUBLISH with an empty topic (MQTTProtocolError); null failed inside.
      for (const bad of [bytes, Uint8Array.from(bytes).buffer, null, undefined, "\x00\x01a"]) {
        assertArgError(
          () => decode(0x30, bad as unknown as Uint8Array, v),
          TypeError,
          "Invalid body: must be a Uint8Array",
        );
      }
      // 0x1E0 read as an AUTH at 5; a fraction, or a string, as the byte below it.
      for (const byte1 of [0x1e0, -1, 0xd0 + 0.5, "208", NaN]) {
        assertArgError(
          () => decode(byte1 as number, new Uint8Array(0), v),
          RangeError,
          `Invalid byte1 ${
            typeof byte1 === "string" ? `"${byte1}" (a string)` : byte1
          }: must be a fixed header's first byte`,
        );
      }
      // The right arguments still decode, a Node-style view included.
      const p = decode(0x30, Uint8Array.of(0xee, ...bytes).subarray(1), v);
      assert.equal(p.type === "publish" && `${p.topic} ${p.payload.join()}`, "a 1,2");
    }
    // Version 3 or 6 decoded as 4: a 3.1.1 PUBACK, or a 5.0 AUTH refused as a reserved type.
    for (const version of [3, 6, "5", 0]) {
      assertArgError(
        () => decode(0x40, Uint8Array.of(0, 1), version as 4),
        RangeError,
        `Invalid version ${
          typeof version === "string" ? `"${version}" (a string)` : version
        }: must be 4 (MQTT 3.1.1) or 5 (MQTT 5.0)`,
      );
    }
  }
});

test("the per-packet encoders leave MQTT 5.0 fields out at version 4, as the codec's module doc says; encode() refuses them", () => {
  const refused = { type: "puback", packetId: 1, reasonCode: 0x87 } as const;
  assert.deepEqual([...encodeAck(refused)], [0x40, 0x02, 0x00, 0x01]);
  assertArgError(() => encode(refused), TypeError, "reasonCode");
  const publish = {
    type: "publish",
    topic: "a",
    payload: Uint8Array.of(0),
    qos: 0,
    retain: false,
    dup: false,
    properties: { contentType: "x" },
  } as const;
  assert.deepEqual([...encodePublish(publish)], [0x30, 0x04, 0x00, 0x01, 0x61, 0x00]);
  assertArgError(() => encode(publish), TypeError, "properties");
});
