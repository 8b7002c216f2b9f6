/**
 * How many reads the client makes for a stream that arrives in small
 * segments (`lib/_channel.ts`'s gathering): a peer process (`_trickle_peer.ts`)
 * writes QoS 0 PUBLISH frames of 64-byte payloads one TCP segment each, 10 µs
 * apart, and the client's `Deno.Conn.read` is counted while it takes them
 * with `wait_msg()`. Read as they come, that is one read per segment or a few
 * segments (518–840 reads for 2000, measured without the gathering); gathered,
 * a read per timer turn (88–141). A machine that deschedules either process
 * for a while breaks the run of prompt reads the gathering waits for, so the
 * count depends on load: a benchmark row, not a test.
 *
 * @module
 */
import { MQTTClient } from "../mod.ts";

const PEER = new URL("./_trickle_peer.ts", import.meta.url).pathname;

/** Starts the trickling peer; its port, and the process. */
async function startPeer(count: number, gapUs: number) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", PEER, String(count), String(gapUs)],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let out = "";
  while (!out.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("the trickling peer ended before printing its port");
    out += value;
  }
  await reader.cancel();
  return { port: Number(out.trim()), child };
}

/**
 * One run against a peer trickling `n` messages, a segment every `gapUs` µs:
 * how many reads the client made for them.
 */
export async function readsFor(n: number, gapUs = 10): Promise<number> {
  const { port, child } = await startPeer(n, gapUs);
  let reads = 0;
  const c = new MQTTClient(`gather-${crypto.randomUUID().slice(0, 8)}`, "127.0.0.1", {
    port,
    transport: async () => {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      return {
        read: async (p: Uint8Array) => {
          const got = await conn.read(p);
          reads++;
          return got;
        },
        write: (p: Uint8Array) => conn.write(p),
        close: () => conn.close(),
      } as unknown as Deno.Conn;
    },
  });
  try {
    await c.connect();
    reads = 0;
    for (let i = 0; i < n; i++) {
      const m = await c.wait_msg();
      if (m.topic !== "t" || m.payload.length !== 64) {
        throw new Error(`message ${i}: ${m.topic}, ${m.payload.length} bytes`);
      }
    }
  } finally {
    await c.disconnect();
  }
  const { code } = await child.status;
  if (code !== 0) throw new Error(`the trickling peer exited with ${code}`);
  return reads;
}
