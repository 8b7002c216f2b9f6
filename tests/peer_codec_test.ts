// Bug classes other MQTT codecs have had (mqtt-packet, the Paho clients,
// esp-mqtt, rumqtt's neighbours…), each pinned here where the fixtures and
// the other codec tests did not already pin it. Every test works on bytes,
// through the public codec; the peer issue is named above each one.
import assert from "node:assert/strict";
import process from "node:process";
import {
  decodeFromBroker,
  decodePacket,
  encode,
  type Packet,
  PacketDecoder,
  type PublishPacket,
} from "../lib/codec/mod.ts";
import type { ProtocolVersion } from "../lib/codec/packet.ts";
import { fixtures, pattern } from "./codec_fixtures.ts";
import { fixtures5 } from "./codec5_fixtures.ts";
import {
  assertArgError,
  assertBytes,
  assertPacket,
  assertProtocolError,
  chunked,
  decodeChunks,
  hex,
  publish,
  splitPoints,
} from "./_codec.ts";
import { test } from "./_test.ts";

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

/** The body of an encoded packet: its bytes after the fixed header. */
function body(bytes: ArrayLike<number>): Uint8Array {
  let start = 1;
  while (bytes[start] & 0x80) start++;
  return Uint8Array.from(bytes).subarray(start + 1);
}

/** A copy of `bytes` at offset `at` of a larger buffer filled with 0xEE: a view, byteOffset `at`. */
function inLargerBuffer(bytes: ArrayLike<number>, at: number): Uint8Array {
  const host = new Uint8Array(at + bytes.length + 9).fill(0xee);
  host.set(bytes, at);
  return host.subarray(at, at + bytes.length);
}

// paho.mqtt.golang#766 (Message ID 0 accepted by packet decoders: a SUBACK
// with id 0 completed a token, a PUBREL with id 0 was answered with PUBCOMP 0)
// and wolfSSL/wolfMQTT#509. The fixtures pin PUBLISH, PUBACK, SUBSCRIBE and
// UNSUBSCRIBE; here every other packet that carries an id, at both levels.
test("packet id 0 is refused in SUBACK, UNSUBACK, PUBREC, PUBREL and PUBCOMP, at both levels", () => {
  const cases: [name: string, byte1: number, v4: number[], v5: number[]][] = [
    ["SUBACK", 0x90, [0, 0, 0x00], [0, 0, 0x00, 0x00]],
    ["UNSUBACK", 0xb0, [0, 0], [0, 0, 0x00, 0x00]],
    ["PUBREC", 0x50, [0, 0], [0, 0]],
    ["PUBREL", 0x62, [0, 0], [0, 0, 0x92]],
    ["PUBCOMP", 0x70, [0, 0], [0, 0, 0x00, 0x00]],
  ];
  for (const [name, byte1, v4, v5] of cases) {
    for (const [version, b, rule] of [[4, v4, "MQTT-2.3.1-1"], [5, v5, "MQTT-2.2.1-3"]] as const) {
      const what = `${name} ${hex(b)} at ${version}`;
      // The same body with id 1 decodes: only the 0 is wrong.
      const one = Uint8Array.from(b);
      one[1] = 1;
      assert.equal(decodePacket(byte1, one, version).type, name.toLowerCase(), what);
      const err = assertProtocolError(
        () => decodeFromBroker(byte1, Uint8Array.from(b), version),
        rule,
        what,
      );
      assert.match(err.message, /packet identifier 0/, what);
      const decoder = new PacketDecoder({ protocolVersion: version });
      assertProtocolError(() => decoder.push(Uint8Array.of(byte1, b.length, ...b)), rule, what);
    }
  }
});

/** What MQTT 3.1.1 table 2.2 and MQTT 5.0 table 2-2 require in a fixed header's low nibble. */
const FLAGS: Record<number, number> = { 6: 0x02, 8: 0x02, 10: 0x02 };

// eclipse-paho/paho.mqtt.golang-era neighbours: mqttjs/mqtt-packet#111
// (parser ignores every reserved flag bit), petabridge/TurboMqtt#346 (flags
// of SUBSCRIBE, UNSUBSCRIBE, PUBREL never checked), espressif/esp-mqtt#134
// (a broker's SUBACK 0x92 and PUBACK 0x42). The fixtures pin six nibbles; here
// all fifteen wrong ones of every packet type but PUBLISH, at both levels.
test("every fixed-header flag nibble but the one the table gives is refused, for every type but PUBLISH", () => {
  for (
    const [version, list, rule] of [[4, fixtures, "MQTT-2.2.2-1"], [
      5,
      fixtures5,
      "MQTT-2.1.3-1",
    ]] as const
  ) {
    const seen = new Set<number>();
    for (const f of list) {
      const type = f.bytes[0] >> 4;
      if (type === 3 || seen.has(type)) continue;
      seen.add(type);
      const b = body(f.bytes);
      const flags = FLAGS[type] ?? 0;
      assert.equal(f.bytes[0] & 0x0f, flags, `${f.name}: the fixture's own flags`);
      assertPacket(decodePacket(f.bytes[0], b, version), f.packet, f.name);
      for (let nibble = 0; nibble < 16; nibble++) {
        if (nibble === flags) continue;
        const byte1 = (type << 4) | nibble;
        const what = `${f.name} with flags ${nibble.toString(2).padStart(4, "0")} at ${version}`;
        assertProtocolError(() => decodePacket(byte1, b, version), rule, what);
        const stream = Uint8Array.of(byte1, ...f.bytes.slice(1));
        assertProtocolError(
          () =>
            new PacketDecoder({ protocolVersion: version, maxPacketSize: 1 << 20 }).push(stream),
          rule,
          `${what}, streamed`,
        );
      }
    }
    assert.equal(seen.size, version === 5 ? 14 : 13, `types checked at ${version}`);
  }
});

// redboltz/mqtt_cpp#591 and wolfSSL/wolfMQTT#502 (both QoS bits set taken as
// QoS 3), paho.mqtt.golang#767; and retain/dup flags that a codec drops or
// moves. All sixteen PUBLISH nibbles: the encoder writes back the very byte
// it decoded, and the two forbidden combinations are refused.
test("all 16 PUBLISH flag nibbles: each decodes to its own flags and encodes back, or is refused", () => {
  for (const version of [4, 5] as const) {
    for (let nibble = 0; nibble < 16; nibble++) {
      const byte1 = 0x30 | nibble;
      const qos = (nibble >> 1) & 3, dup = (nibble & 8) !== 0, retain = (nibble & 1) !== 0;
      const b = [0, 1, 0x74, ...(qos ? [0x12, 0x34] : []), ...(version === 5 ? [0] : []), 0x70];
      const what = `PUBLISH 0x${byte1.toString(16)} at ${version}`;
      if (qos === 3 || (dup && qos === 0)) {
        const rule = qos === 3 ? "MQTT-3.3.1-4" : "MQTT-3.3.1-2";
        assertProtocolError(() => decodeFromBroker(byte1, Uint8Array.from(b), version), rule, what);
        continue;
      }
      const bytes = Uint8Array.of(byte1, b.length, ...b);
      const [p] = decodeChunks([bytes], version) as PublishPacket[];
      assert.deepEqual(
        [p.qos, p.dup, p.retain, p.packetId, [...p.payload]],
        [qos, dup, retain, qos ? 0x1234 : undefined, [0x70]],
        what,
      );
      assertBytes(encode(p, version), bytes, what);
    }
  }
});

// mqttjs/mqtt-packet#161: repeated User Properties whose value is "" were
// collapsed (a falsy check), so generate → parse lost a pair. MQTT 5.0 section
// 1.5.7: a name may repeat, and either string may be empty (section 1.5.4).
test("MQTT 5.0 user properties keep empty names and values and repeated names, in order", () => {
  const userProperties: [string, string][] = [["a", ""], ["a", "b"], ["", ""], ["", "x"], [
    "a",
    "",
  ]];
  // deno-fmt-ignore
  const expected = [
    0x31, 0x23, // PUBLISH, QoS 0, retained; remaining length 35
    0x00, 0x01, 0x74, // topic "t"
    0x1e, // property length 30
    0x26, 0x00, 0x01, 0x61, 0x00, 0x00, // user property "a" = ""
    0x26, 0x00, 0x01, 0x61, 0x00, 0x01, 0x62, // user property "a" = "b"
    0x26, 0x00, 0x00, 0x00, 0x00, // user property "" = ""
    0x26, 0x00, 0x00, 0x00, 0x01, 0x78, // user property "" = "x"
    0x26, 0x00, 0x01, 0x61, 0x00, 0x00, // user property "a" = ""
    0x70, // payload "p"
  ];
  const packet = publish("t", { retain: true, payload: utf8("p"), properties: { userProperties } });
  const bytes = encode(packet, 5);
  assertBytes(bytes, Uint8Array.from(expected), "encoded");
  for (const at of splitPoints(bytes.length)) {
    const [p] = decodeChunks([bytes.slice(0, at), bytes.slice(at)], 5);
    assertPacket(p, packet, `split at ${at}`);
  }
  // The same pairs on an acknowledgement, where they come after a reason code.
  const ack = {
    type: "puback",
    packetId: 9,
    reasonCode: 0x10,
    properties: { userProperties },
  } as const;
  const [p] = decodeChunks([encode(ack, 5)], 5);
  assert.deepStrictEqual(p, ack);
});

// denoland/std#3310 and AlttiRi/base85#2 (an encoder read a subarray from
// byte 0 of its ArrayBuffer), uNetworking/uWebSockets#616 (a subarray sent
// as its whole buffer). Every field umqtt takes as bytes, given as a view at
// a non-zero offset of a larger buffer, must encode exactly as a fresh copy.
test("bytes given as views into a larger buffer encode only their own bytes, every binary field", () => {
  const bytes = (n: number, at: number) => inLargerBuffer(pattern(n), at);
  const cases: [
    name: string,
    make: (b: (n: number, at: number) => Uint8Array) => Packet,
    v: ProtocolVersion,
  ][] = [
    ["PUBLISH QoS 0 payload", (b) => publish("t", { payload: b(5, 3) }), 4],
    [
      "PUBLISH QoS 1 payload over a slab",
      (b) => publish("t", { payload: b(3000, 7), qos: 1, packetId: 2 }),
      4,
    ],
    [
      "MQTT 5.0 PUBLISH payload and correlation data",
      (b) => publish("t", { payload: b(40, 1), properties: { correlationData: b(4, 9) } }),
      5,
    ],
    ["CONNECT password and will payload", (b) => ({
      type: "connect",
      clientId: "c",
      cleanSession: true,
      keepalive: 0,
      username: "u",
      password: b(6, 2),
      will: { topic: "w", payload: b(7, 5), qos: 1, retain: false },
    }), 4],
    ["MQTT 5.0 CONNECT authentication data, will correlation data", (b) => ({
      type: "connect",
      clientId: "c",
      cleanSession: true,
      keepalive: 0,
      protocolVersion: 5,
      properties: { authenticationMethod: "m", authenticationData: b(8, 11) },
      will: {
        topic: "w",
        payload: b(2, 1),
        qos: 0,
        retain: false,
        properties: { correlationData: b(3, 4) },
      },
    }), 5],
    ["AUTH authentication data", (b) => ({
      type: "auth",
      reasonCode: 0x18,
      properties: { authenticationMethod: "m", authenticationData: b(9, 13) },
    }), 5],
  ];
  for (const [name, make, version] of cases) {
    const fresh = encode(make((n) => pattern(n)), version);
    const viewed = make(bytes);
    assertBytes(encode(viewed, version), fresh, name);
    const [p] = decodeChunks([fresh], version);
    assertPacket(p, make((n) => pattern(n)), `${name}: decoded`);
  }
});

// The decoding side of the same class, and mqttjs/mqtt-packet#95 (a length
// split across writes): chunks that are views at odd offsets of larger
// buffers, split everywhere, the body gathered from several of them.
test("chunks that are views at odd offsets of larger buffers decode as copies do, at both levels", () => {
  for (const [version, list] of [[4, fixtures], [5, fixtures5]] as const) {
    const stream = list.flatMap((f) => f.bytes);
    for (const size of [1, 2, 3, 7, 129, stream.length]) {
      const decoder = new PacketDecoder({ protocolVersion: version, maxPacketSize: 1 << 20 });
      const out: Packet[] = [];
      chunked(Uint8Array.from(stream), size).forEach((c, i) =>
        out.push(...decoder.push(inLargerBuffer(c, 1 + (i % 5))))
      );
      assert.equal(decoder.pending, false, `size ${size} at ${version}`);
      assert.equal(out.length, list.length, `size ${size} at ${version}`);
      out.forEach((p, i) =>
        assertPacket(p, list[i].packet, `size ${size} at ${version}: ${list[i].name}`)
      );
    }
  }
});

// adafruit/Adafruit_CircuitPython_MiniMQTT#90 and wialon/gmqtt#118 (lengths
// counted in characters, not UTF-8 bytes), eclipse-paho/paho.mqtt.java#136
// (a string over 65535 bytes: its two-byte length wrapped). A character
// outside the BMP is 2 UTF-16 units and 4 bytes: the limit is in bytes.
test("the 65535-byte limit of a string counts UTF-8 bytes of characters outside the BMP", () => {
  const grin = "\u{1F600}"; // 4 bytes in UTF-8, 2 UTF-16 code units
  const atLimit = grin.repeat(16_383) + "abc"; // 65535 bytes, 32769 code units
  assert.equal(utf8(atLimit).length, 65_535);
  const bytes = encode(publish(atLimit));
  assert.deepEqual([...bytes.subarray(0, 6)], [0x30, 0x81, 0x80, 0x04, 0xff, 0xff]);
  const [p] = decodeChunks([bytes]) as PublishPacket[];
  assert.equal(p.topic, atLimit);
  // 65536 bytes in 32768 code units: under 65535 as JavaScript counts, over it as MQTT does.
  assertArgError(() => encode(publish(grin.repeat(16_384))), RangeError, "65536 bytes");
  assertArgError(
    () =>
      encode({
        type: "subscribe",
        packetId: 1,
        subscriptions: [{ topic: grin.repeat(16_384), qos: 0 }],
      }),
    RangeError,
    "65536 bytes",
  );
  assertArgError(
    () => encode(publish("t", { properties: { contentType: grin.repeat(16_384) } }), 5),
    RangeError,
    "65536 bytes",
  );
  // Short strings of 1- to 4-byte characters go through the slab path: each
  // length prefix is the string's UTF-8 length.
  const mixed = `a\u00e9\u20ac${grin}`; // 1 + 2 + 3 + 4 = 10 bytes, 5 code units
  const props = {
    contentType: mixed,
    responseTopic: mixed,
    userProperties: [[mixed, mixed]] as [string, string][],
  };
  const packet = publish(mixed, { properties: props });
  const out = encode(packet, 5);
  const mixedField = [0x00, 0x0a, ...utf8(mixed)];
  assert.equal(hex(out.subarray(2, 14)), hex(mixedField), "topic");
  assert.ok(hex(out).includes(hex([0x03, ...mixedField])), "content type");
  assert.ok(hex(out).includes(hex([0x08, ...mixedField])), "response topic");
  assert.ok(hex(out).includes(hex([0x26, ...mixedField, ...mixedField])), "user property");
  assertPacket(decodeChunks([out], 5)[0], packet, "decoded");
});

// espressif/esp-mqtt#96 and adafruit/Adafruit_MQTT_Library#196 (wrong
// Remaining Length past a byte boundary), espressif/esp-mqtt#322 (decoding
// overflows past 4 bytes), eclipse-paho/paho.mqtt.golang#739 (lengths past
// 268,435,455). The fixtures pin 127/128, 16383/16384 and 2097152; here the
// largest three-byte length, and the decoder reading the largest four-byte one.
test("Remaining Length: 2,097,151 in three bytes; 268,435,455 read from FF FF FF 7F", () => {
  const payload = pattern(2_097_151 - 3); // topic length (2) + "t" (1)
  const bytes = encode(publish("t", { payload }));
  assert.deepEqual([...bytes.subarray(0, 4)], [0x30, 0xff, 0xff, 0x7f]);
  assert.equal(bytes.length, 1 + 3 + 2_097_151);
  const [p] = decodeChunks(chunked(bytes, 65_536)) as PublishPacket[];
  assertBytes(p.payload, payload, "payload");
  // One byte more is four bytes of length.
  const more = encode(publish("t", { payload: new Uint8Array(payload.length + 1) }));
  assert.deepEqual([...more.subarray(0, 5)], [0x30, 0x80, 0x80, 0x80, 0x01]);

  // The largest Remaining Length, from its header alone: 1 + 4 + 268435455 bytes, its sum exact.
  for (const version of [4, 5] as const) {
    const decoder = new PacketDecoder({ protocolVersion: version, maxPacketSize: 268_435_459 });
    const err = assertProtocolError(
      () => decoder.push(Uint8Array.of(0x30, 0xff, 0xff, 0xff, 0x7f)),
      version === 5 ? "MQTT-3.1.2-24" : "",
      `at ${version}`,
    );
    assert.match(err.message, /268435460 bytes exceeds maxPacketSize 268435459/);
  }
});

// eclipse-paho/paho.golang#39, ntex-rs/ntex-mqtt#73 and #103, emqx/CocoaMQTT#525
// (a SUBSCRIBE's Subscription Identifier written as a Four Byte Integer, or
// its property length one byte short). The fixtures pin it in one to four
// bytes in PUBLISH and in three in SUBSCRIBE; here SUBSCRIBE's largest.
test("a SUBSCRIBE's subscription identifier 268,435,455 is a four-byte Variable Byte Integer", () => {
  const packet: Packet = {
    type: "subscribe",
    packetId: 1,
    subscriptions: [{
      topic: "a",
      qos: 1,
      noLocal: false,
      retainAsPublished: false,
      retainHandling: 0,
    }],
    properties: { subscriptionIdentifier: 268_435_455 },
  };
  // deno-fmt-ignore
  const expected = [
    0x82, 0x0c, // SUBSCRIBE; remaining length 12
    0x00, 0x01, // packet id 1
    0x05, // property length 5
    0x0b, 0xff, 0xff, 0xff, 0x7f, // subscription identifier 268435455
    0x00, 0x01, 0x61, 0x01, // "a", QoS 1
  ];
  const bytes = encode(packet, 5);
  assertBytes(bytes, Uint8Array.from(expected), "encoded");
  for (const at of splitPoints(bytes.length)) {
    assertPacket(
      decodeChunks([bytes.slice(0, at), bytes.slice(at)], 5)[0],
      packet,
      `split at ${at}`,
    );
  }
});

// eclipse/mosquitto CVE-2023-0809 (fixed in 2.0.16): the broker allocated a
// packet's whole declared length from its fixed header, so a few bytes per
// connection claimed gigabytes. The public decoder serves brokers and
// proxies, and the client's own takes a maxPacketSize up to 256 MiB: what a
// header declares must not be allocated before the bytes come. Watched as
// the process's external memory, where ArrayBuffers count under Deno (Bun
// does not count them there).
test(
  "a fixed header alone allocates at most 64 KiB of the body it declares; the body grows as it comes",
  () => {
    const MAX = 268_435_460; // 1 + 4 + 268 435 455: the largest packet
    const decoders = Array.from(
      { length: 8 },
      () => new PacketDecoder({ protocolVersion: 4, maxPacketSize: MAX }),
    );
    const before = process.memoryUsage().external;
    for (const d of decoders) {
      // A PUBLISH that declares 268 435 455 bytes, and its first three.
      assert.deepEqual(d.push(Uint8Array.of(0x30, 0xff, 0xff, 0xff, 0x7f, 0x00, 0x01, 0x74)), []);
      assert.equal(d.pending, true);
    }
    const grown = process.memoryUsage().external - before;
    assert.ok(grown < 8 * 1_048_576, `8 headers of 256 MiB packets took ${grown} bytes`);
    // A body that comes, in pieces of every size, decodes whole: past 64 KiB,
    // its buffer grows (and once exactly to its length) as the bytes arrive.
    for (const size of [1000, 65_535, 65_536, 70_000, 200_001]) {
      const payload = pattern(300_000);
      const bytes = encode(publish("t", { payload }));
      const [p] = decodeChunks(chunked(bytes, size)) as PublishPacket[];
      assertBytes(p.payload, payload, `pieces of ${size}`);
    }
  },
  { ignore: !("Deno" in globalThis) },
);
