// Topic aliases towards the broker (lib/_aliases.ts) alone: the aliased
// PUBLISH, built from the full one without encoding it again, must be the
// bytes the codec makes of the same packet with its Topic Alias property
// (MQTT 5.0 section 3.3.2.3.4), at every QoS and payload size.
import assert from "node:assert/strict";
import { TopicAliases } from "../lib/_aliases.ts";
import type { PublishPacket, QoS } from "../lib/codec/packet.ts";
import { encodePublish } from "../lib/codec/publish.ts";
import { test } from "./_test.ts";

function packet(topic: string, qos: QoS, size: number): PublishPacket {
  const payload = Uint8Array.from({ length: size }, (_, i) => (i * 7 + size) & 0xff);
  return { type: "publish", topic, payload, qos, retain: qos === 1, dup: false, packetId: 0x1234 };
}

test("topic aliases out: the aliased PUBLISH is what the codec encodes, at every QoS and size", () => {
  // Sizes about the byte-by-byte copy's limit (32), an empty payload, a
  // Remaining Length of two bytes and a long topic name.
  for (const topic of ["a/b", "t/".repeat(100)]) {
    for (const qos of [0, 1, 2] as QoS[]) {
      for (const size of [0, 1, 32, 33, 200, 20_000]) {
        const aliases = new TopicAliases();
        const p = packet(topic, qos, size);
        const full = encodePublish(p, 5);
        const id = qos > 0 ? p.packetId : undefined;
        const first = aliases.out(p, full, id, 10);
        const then = aliases.out(p, full, id, 10);
        const name = `topic ${topic.length} B, QoS ${qos}, payload ${size} B`;
        assert.deepEqual(
          first,
          encodePublish({ ...p, properties: { topicAlias: 1 } }, 5),
          `${name}: the topic with its alias`,
        );
        assert.deepEqual(
          then,
          encodePublish({ ...p, topic: "", properties: { topicAlias: 1 } }, 5),
          `${name}: the alias alone`,
        );
        assert.deepEqual(
          full,
          encodePublish(p, 5),
          `${name}: the full bytes are left as they were`,
        );
      }
    }
  }
});

test("topic aliases out, reuse: a QoS 0 PUBLISH under a known alias is built in its own bytes", () => {
  // Topic names too short to make room (1, 2 bytes) and long enough (3 and
  // more); payloads whose Remaining Length takes one byte full and aliased,
  // two full and one aliased (about 121), and two and three bytes.
  for (const topic of ["a", "ab", "abc", "a/b/c/d", "t/".repeat(100)]) {
    for (const size of [0, 1, 33, 118, 119, 121, 122, 123, 200, 16_377, 16_378, 16_379, 20_000]) {
      const aliases = new TopicAliases();
      const p = packet(topic, 0, size);
      const name = `topic ${topic.length} B, payload ${size} B`;
      const first = encodePublish(p, 5);
      assert.deepEqual(
        aliases.out(p, first, undefined, 10, Infinity, true),
        encodePublish({ ...p, properties: { topicAlias: 1 } }, 5),
        `${name}: the topic with its alias`,
      );
      assert.deepEqual(first, encodePublish(p, 5), `${name}: a new alias leaves the bytes alone`);
      const full = encodePublish(p, 5);
      const then = aliases.out(p, full, undefined, 10, Infinity, true);
      assert.deepEqual(
        then,
        encodePublish({ ...p, topic: "", properties: { topicAlias: 1 } }, 5),
        `${name}: the alias alone`,
      );
      const inPlace = then.buffer === full.buffer &&
        then.byteOffset + then.length === full.byteOffset + full.length;
      assert.equal(inPlace, topic.length >= 3, `${name}: built in place`);
      if (!inPlace) {
        assert.deepEqual(full, encodePublish(p, 5), `${name}: a copy leaves them alone`);
      }
    }
  }
});

test("topic aliases out, reuse: QoS 1 and 2 publishes keep their bytes (the session resends them)", () => {
  for (const qos of [1, 2] as QoS[]) {
    const aliases = new TopicAliases();
    const p = packet("a/b/c/d", qos, 64);
    aliases.out(p, encodePublish(p, 5), p.packetId, 10, Infinity, true);
    const full = encodePublish(p, 5);
    const then = aliases.out(p, full, p.packetId, 10, Infinity, true);
    assert.deepEqual(then, encodePublish({ ...p, topic: "", properties: { topicAlias: 1 } }, 5));
    assert.deepEqual(full, encodePublish(p, 5), `QoS ${qos}: the full bytes are left as they were`);
  }
});

test("topic aliases out, no full bytes: a QoS 0 PUBLISH is built from the packet alone", () => {
  // Payloads whose Remaining Length takes one, two and three bytes aliased; retained or not.
  for (const size of [0, 1, 64, 121, 122, 16_377, 16_378, 20_000]) {
    for (const retain of [false, true]) {
      const aliases = new TopicAliases();
      const p = { ...packet("a/b/c/d", 0, size), retain, packetId: undefined };
      const name = `payload ${size} B, retain ${retain}`;
      assert.deepEqual(
        aliases.out(p, undefined, undefined, 10, Infinity, true),
        encodePublish({ ...p, properties: { topicAlias: 1 } }, 5),
        `${name}: a new alias goes with the topic`,
      );
      assert.deepEqual(
        aliases.out(p, undefined, undefined, 10, Infinity, true),
        encodePublish({ ...p, topic: "", properties: { topicAlias: 1 } }, 5),
        `${name}: then the alias alone`,
      );
    }
  }
  // No alias to give (none allowed, or all taken): the full packet.
  const p = packet("x/y", 0, 8);
  assert.deepEqual(new TopicAliases().out(p, undefined, undefined, 0), encodePublish(p, 5));
  const full = new TopicAliases();
  full.out(packet("x/1", 0, 8), undefined, undefined, 1);
  assert.deepEqual(full.out(p, undefined, undefined, 1), encodePublish(p, 5));
});

test("topic aliases out: a PUBLISH with properties takes its payload from the full bytes", () => {
  // A publish waiting for a packet id goes out later; by then the caller may
  // have reused the buffer it gave. Its full bytes, encoded at the call, hold
  // the payload it gave.
  for (const qos of [0, 1] as QoS[]) {
    const aliases = new TopicAliases();
    const payload = new TextEncoder().encode("given");
    const p: PublishPacket = {
      ...packet("a/b", qos, 0),
      payload,
      properties: { contentType: "text/plain" },
    };
    const full = encodePublish(p, 5);
    const original = { ...p, payload: payload.slice() };
    payload.set(new TextEncoder().encode("later"));
    const id = qos > 0 ? p.packetId : undefined;
    const topicAlias = (alias: number) => ({ contentType: "text/plain", topicAlias: alias });
    assert.deepEqual(
      aliases.out(p, full, id, 10),
      encodePublish({ ...original, properties: topicAlias(1) }, 5),
      `QoS ${qos}: the first, with the topic`,
    );
    assert.deepEqual(
      aliases.out(p, full, id, 10),
      encodePublish({ ...original, topic: "", properties: topicAlias(1) }, 5),
      `QoS ${qos}: then the alias alone`,
    );
  }
});

test("topic aliases out: a PUBLISH that with its alias is exactly the broker's Maximum Packet Size takes the alias (MQTT-3.2.2-15)", () => {
  const p = packet("a/b", 1, 10);
  const full = encodePublish(p, 5);
  const withAlias = encodePublish({ ...p, properties: { topicAlias: 1 } }, 5);
  assert.equal(withAlias.length, full.length + 3);
  const exact = new TopicAliases();
  assert.deepEqual(exact.out(p, full, p.packetId, 10, withAlias.length), withAlias, "it fits");
  const over = new TopicAliases();
  assert.deepEqual(over.out(p, full, p.packetId, 10, withAlias.length - 1), full, "one byte over");
});

test("topic aliases out: a PUBLISH with properties is its full bytes with the alias property added, at every Property Length", () => {
  // Property Lengths (22 bytes and the value) that take one byte, with the
  // alias too, or two only with it (125 to 127), or two (and three with the
  // alias: 16 381 to 16 383), user properties in their order, at every QoS,
  // known or new, payloads about the byte-by-byte copy's limit.
  for (const qos of [0, 1, 2] as QoS[]) {
    for (const value of [0, 1, 102, 103, 105, 106, 200, 16_358, 16_359, 16_361, 16_362]) {
      for (const size of [0, 32, 33, 300]) {
        const properties = {
          contentType: "c",
          userProperties: [["b", "v".repeat(value)], ["a", ""]] as [string, string][],
          correlationData: Uint8Array.of(1, 2, 3),
        };
        const p = { ...packet("a/b/c", qos, size), properties };
        const id = qos > 0 ? p.packetId : undefined;
        const aliases = new TopicAliases();
        const name = `QoS ${qos}, user property value ${value} B, payload ${size} B`;
        for (const known of [false, true]) {
          assert.deepEqual(
            aliases.out(p, encodePublish(p, 5), id, 10, Infinity, true),
            encodePublish({
              ...p,
              topic: known ? "" : p.topic,
              properties: { ...properties, topicAlias: 1 },
            }, 5),
            `${name}, ${known ? "the alias alone" : "the topic with its alias"}`,
          );
        }
      }
    }
  }
});
