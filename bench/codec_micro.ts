/**
 * The MQTT 3.1.1 hot paths of two checkouts of the codec, timed in one
 * process, interleaved round by round, so that a busy machine slows both
 * alike: `deno run -A --v8-flags=--expose-gc bench/codec_micro.ts OLD NEW`,
 * where OLD and NEW are folders holding `lib/codec/`. Give the same folder
 * twice to see the noise floor (the second slot tends to read lower on the
 * direct-call rows). `ROUNDS` (default 11) sets the rounds.
 *
 * @module
 */
import type { Packet } from "../lib/codec/packet.ts";

interface Codec {
  encode(p: Packet): Uint8Array;
  encodePublish(p: Packet): Uint8Array;
  encodeAck(p: Packet): Uint8Array;
  decodeFromBroker(byte1: number, body: Uint8Array): Packet;
  decodeAck(type: string, body: Uint8Array): Packet;
  Framer: new (max: number, decode: Codec["decodeFromBroker"]) => { push(b: Uint8Array): Packet[] };
  PacketDecoder: new () => { push(b: Uint8Array): Packet[] };
}

async function load(root: string): Promise<Codec> {
  const url = (f: string) => new URL(`lib/codec/${f}`, `file://${Deno.realPathSync(root)}/`).href;
  return Object.assign(
    {},
    ...(await Promise.all(
      ["_framer.ts", "decode.ts", "publish.ts", "decoder.ts", "encode.ts"].map((f) =>
        import(url(f))
      ),
    )),
  ) as Codec;
}

function opsPerSecond(fn: () => void, ms: number): number {
  let ops = 0, batch = 64;
  const t0 = performance.now();
  let t = t0;
  while (t - t0 < ms) {
    for (let i = 0; i < batch; i++) fn();
    ops += batch;
    t = performance.now();
    if (t - t0 < ms / 10) batch *= 2;
  }
  return (ops / (t - t0)) * 1000;
}

function cases(c: Codec): Record<string, () => void> {
  const payload = new Uint8Array(64).fill(0x63);
  const pub0: Packet = {
    type: "publish",
    topic: "bench/codec/topic",
    payload,
    qos: 0,
    retain: false,
    dup: false,
  };
  const pub1: Packet = { ...pub0, qos: 1, packetId: 7 };
  const f0 = c.encode(pub0), f1 = c.encode(pub1);
  const puback = Uint8Array.of(0x40, 0x02, 0x00, 0x07), body = puback.subarray(2);
  const framer = new c.Framer(1 << 20, c.decodeFromBroker);
  const decoder = new c.PacketDecoder();
  return {
    "Framer: QoS 0 PUBLISH, 64 B": () => framer.push(f0),
    "Framer: QoS 1 PUBLISH, 64 B": () => framer.push(f1),
    "Framer: PUBACK": () => framer.push(puback),
    "decodeFromBroker(PUBACK)": () => c.decodeFromBroker(0x40, body),
    "decodeAck(puback)": () => c.decodeAck("puback", body),
    "PacketDecoder: QoS 0 PUBLISH": () => decoder.push(f0),
    "encodePublish QoS 0": () => c.encodePublish(pub0),
    "encodeAck PUBACK": () => c.encodeAck({ type: "puback", packetId: 7 }),
  };
}

const [oldRoot, newRoot] = Deno.args;
if (!oldRoot || !newRoot) throw new Error("usage: codec_micro.ts OLD_DIR NEW_DIR");
const runs = { old: cases(await load(oldRoot)), new: cases(await load(newRoot)) };
const names = Object.keys(runs.old);
const rounds = Number(Deno.env.get("ROUNDS") ?? 11);
const results: Record<string, Record<string, number[]>> = { old: {}, new: {} };
for (const side of ["old", "new"] as const) {
  for (const n of names) {
    results[side][n] = [];
    opsPerSecond(runs[side][n], 100); // warm up
  }
}
const gc = (globalThis as { gc?: () => void }).gc;
for (let r = 0; r < rounds; r++) {
  for (const n of names) {
    for (const side of r % 2 ? ["new", "old"] as const : ["old", "new"] as const) {
      gc?.();
      results[side][n].push(opsPerSecond(runs[side][n], 200));
    }
  }
}
const median = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1];
console.log(`${"case".padEnd(30)} ${"old Mops/s".padStart(11)} ${"new".padStart(7)} new/old`);
for (const n of names) {
  const o = median(results.old[n]), v = median(results.new[n]);
  console.log(
    `${n.padEnd(30)} ${(o / 1e6).toFixed(2).padStart(11)} ${(v / 1e6).toFixed(2).padStart(7)} ${
      (v / o).toFixed(2)
    }`,
  );
}
