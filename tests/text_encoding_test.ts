// Text payloads and topic names are encoded through a scratch buffer into
// slab views (lib/codec/_strings.ts): each publish must still go out with
// its own bytes, exactly as TextEncoder encodes them, whatever the length
// (around the slab's limit too) and the characters.
import assert from "node:assert/strict";
import { MQTTClient } from "../mod.ts";
import { PacketDecoder } from "../lib/codec/decoder.ts";
import type { PublishPacket } from "../lib/codec/packet.ts";
import { test, uniqueId } from "./_test.ts";

/** A conn that answers CONNECT with CONNACK and keeps every chunk written, uncopied. */
function keepingConn() {
  const written: Uint8Array[] = [];
  let connack: ((n: number) => void) | null = null;
  let buf: Uint8Array;
  let ended: ((n: null) => void) | null = null;
  let reads = 0;
  return {
    written,
    read(p: Uint8Array): Promise<number | null> {
      // The first read gets the CONNACK once CONNECT is written; later ones wait for close().
      if (reads++ === 0) return new Promise((resolve) => (buf = p, connack = resolve));
      return new Promise((resolve) => (ended = resolve));
    },
    write(bytes: Uint8Array): Promise<number> {
      written.push(bytes);
      if (connack) buf.set([0x20, 2, 0, 0]), connack(4), connack = null;
      return Promise.resolve(bytes.length);
    },
    close() {
      ended?.(null);
    },
  };
}

test("text payloads and topics go out as TextEncoder encodes them, each publish its own bytes", async () => {
  const conn = keepingConn();
  const c = new MQTTClient(uniqueId("text"), "127.0.0.1", {
    transport: () => Promise.resolve(conn as unknown as Deno.Conn),
  });
  await c.connect();
  const pieces = ["", "a", "é", "€", "😀", "x\ud800y"]; // a lone surrogate becomes U+FFFD
  const sent: [string, string][] = [];
  for (let i = 0; i < 3000; i++) {
    const length = [0, 1, 7, 340, 341, 342, 1000][i % 7];
    const text = pieces[i % pieces.length].repeat(length).slice(0, Math.max(length, 1)) + i;
    const topic = `t/${Math.floor(i / 3) % 5}/${pieces[Math.floor(i / 3) % 4]}`; // repeats: the cached bytes
    sent.push([topic, text]);
    await c.publish(topic, text);
  }
  await c.disconnect();
  const decoder = new PacketDecoder();
  const got = conn.written.flatMap((bytes) => decoder.push(bytes))
    .filter((p): p is PublishPacket => p.type === "publish");
  const encoder = new TextEncoder();
  assert.equal(got.length, sent.length);
  got.forEach((p, i) => {
    assert.equal(p.topic, sent[i][0]);
    assert.deepEqual(p.payload, encoder.encode(sent[i][1]), `payload ${i}`);
  });
});
