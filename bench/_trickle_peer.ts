// A peer that streams in small segments, as a broker with Nagle's algorithm
// on sends to a reader that keeps up (see lib/_channel.ts, SMALL_READ).
// `deno run -A bench/_trickle_peer.ts COUNT GAP_US`: prints its port, takes
// one client, answers its CONNECT with a CONNACK, then writes COUNT QoS 0
// PUBLISH frames (topic "t", 64-byte payload), one write each with
// TCP_NODELAY, GAP_US microseconds apart, and waits for the client to close.
const [count, gapUs] = Deno.args.map(Number);
const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
console.log(listener.addr.port);
const conn = await listener.accept();
listener.close();
conn.setNoDelay(true);
const buf = new Uint8Array(4096);

// The CONNECT: fixed header, remaining length, body.
let have = 0;
for (;;) {
  const n = await conn.read(buf.subarray(have));
  if (n === null) Deno.exit(1);
  have += n;
  if (have >= 2 && have >= 2 + buf[1]) break; // a short CONNECT: one length byte
}
await conn.write(Uint8Array.of(0x20, 2, 0, 0));

const frame = new Uint8Array(2 + 3 + 64).fill(0x62);
frame.set([0x30, 3 + 64, 0, 1, 0x74]);
for (let i = 0; i < count; i++) {
  for (let off = 0; off < frame.length;) off += await conn.write(frame.subarray(off));
  const until = performance.now() + gapUs / 1000;
  while (performance.now() < until) { /* busy: a timer is a millisecond */ }
}
while ((await conn.read(buf)) !== null) { /* until the client closes */ }
conn.close();
