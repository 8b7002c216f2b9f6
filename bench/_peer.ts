// The client-only benchmark's peer: a process that speaks just enough MQTT
// to let a client connect and subscribe, then either discards everything it
// is sent ("sink-…" client ids) or writes pre-encoded QoS 0 PUBLISH frames
// as fast as the socket takes them ("blast-<count>-…" client ids; QoS 1
// ones, MQTT 3.1.1, for "blast1-<count>-…", their acks read and dropped). It
// answers in the client's protocol version: MQTT 3.1.1, or MQTT 5.0 with
// empty property sets in its CONNACK, SUBACK and PUBLISH frames.
// Prints "PORT <n>" once listening, and for each sink connection that ends
// "SINK <client id> <PUBLISH packets> <payload bytes>", so that the bench can
// check that every message it timed was sent; exits when its stdin closes.
import { publishFrames, readPackets, writeAll } from "./_raw.ts";

const PAYLOAD = new Uint8Array(64).fill(0x61);
const CHUNK_FRAMES = 800; // ~64 KiB per write
const frames = {
  4: publishFrames("bench/blast", PAYLOAD, 0, CHUNK_FRAMES),
  5: publishFrames("bench/blast", PAYLOAD, 0, CHUNK_FRAMES, 5),
};
const qos1Frames = publishFrames("bench/blast", PAYLOAD, 1, CHUNK_FRAMES);

async function serve(conn: Deno.Conn): Promise<void> {
  let mode = "";
  let v5 = false;
  let published = 0, payloadBytes = 0;
  let subscribed!: () => void;
  const subscribe = new Promise<void>((r) => (subscribed = r));
  const reading = readPackets(conn, (byte1, body) => {
    const type = byte1 >> 4;
    if (type === 1) {
      // CONNECT: protocol name (6), level, flags, keepalive (4), MQTT 5's
      // properties (a one-byte length here: they are empty or short), then
      // the client id.
      v5 = body[6] === 5;
      const at = v5 ? 11 + body[10] : 10;
      const n = (body[at] << 8) | body[at + 1];
      mode = new TextDecoder().decode(body.subarray(at + 2, at + 2 + n));
      const connack = v5 ? Uint8Array.of(0x20, 3, 0, 0, 0) : Uint8Array.of(0x20, 2, 0, 0);
      void writeAll(conn, connack).catch(() => {});
    } else if (type === 8) {
      // Granted: the QoS asked for (the last byte, the filter's options).
      const qos = body[body.length - 1] & 3;
      const suback = v5
        ? Uint8Array.of(0x90, 4, body[0], body[1], 0, qos)
        : Uint8Array.of(0x90, 3, body[0], body[1], qos);
      void writeAll(conn, suback).then(subscribed, () => {});
    } else if (type === 3) {
      // After the topic, the packet id at QoS 1 and 2, and MQTT 5's properties
      // (a Property Length of one byte here: the bench sends none or short ones).
      let at = 2 + ((body[0] << 8) | body[1]) + (byte1 & 6 ? 2 : 0);
      if (v5) at += 1 + body[at];
      published++;
      payloadBytes += body.length - at;
    } else if (type === 12) {
      void writeAll(conn, Uint8Array.of(0xd0, 0)).catch(() => {});
    }
  });
  // A sink never subscribes: it just reads until the client leaves.
  await Promise.race([reading, subscribe]);
  const blast = /^blast(1?)-(\d+)-/.exec(mode);
  if (blast) {
    const { bytes: chunk, frameLength } = blast[1] ? qos1Frames : frames[v5 ? 5 : 4];
    let left = Number(blast[2]);
    try {
      while (left > 0) {
        const k = Math.min(left, CHUNK_FRAMES);
        await writeAll(conn, k === CHUNK_FRAMES ? chunk : chunk.subarray(0, k * frameLength));
        left -= k;
      }
    } catch { /* the client went away */ }
  }
  await reading;
  if (mode.startsWith("sink-")) console.log(`SINK ${mode} ${published} ${payloadBytes}`);
  try {
    conn.close();
  } catch { /* closed */ }
}

const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
console.log(`PORT ${(listener.addr as Deno.NetAddr).port}`);
// Exit with the parent: it holds our stdin.
void (async () => {
  for await (const _ of Deno.stdin.readable) { /* nothing is sent */ }
  Deno.exit(0);
})();
for await (const conn of listener) {
  conn.setNoDelay(true);
  void serve(conn);
}
