// The built-in Deno transport turns Nagle's algorithm off (TCP_NODELAY), as
// the node:net one does: with it on, a small write that follows another
// still unacknowledged (a PUBACK, then the next PUBLISH) waits for the
// broker's delayed ACK, ~40 ms on Linux, so each MQTT 5 request/response
// round trip took ~44 ms instead of ~3. Read from the socket itself, through
// getsockopt: Linux only (/proc, libc), under Deno.
import assert from "node:assert/strict";
import { MQTTClient } from "../mod.ts";
import { startMosquitto } from "./_brokers.ts";
import { test, uniqueId } from "./_test.ts";

const linux = "Deno" in globalThis && Deno.build.os === "linux";

/** TCP_NODELAY of each of this process's established TCP connections to `port`. */
function noDelayTo(port: number): number[] {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, "0")}`;
  const inodes = Deno.readTextFileSync("/proc/self/net/tcp").split("\n").slice(1)
    .map((row) => row.trim().split(/\s+/))
    // remote address, state 01 (ESTABLISHED), inode
    .filter((f) => f[2]?.endsWith(hex) && f[3] === "01")
    .map((f) => `socket:[${f[9]}]`);
  const libc = Deno.dlopen("libc.so.6", {
    getsockopt: { parameters: ["i32", "i32", "i32", "buffer", "buffer"], result: "i32" },
  });
  try {
    const found: number[] = [];
    for (const { name } of Deno.readDirSync("/proc/self/fd")) {
      let link: string;
      try {
        link = Deno.readLinkSync(`/proc/self/fd/${name}`);
      } catch {
        continue; // closed meanwhile
      }
      if (!inodes.includes(link)) continue;
      const value = new Int32Array(1);
      const size = new Uint32Array([4]);
      // IPPROTO_TCP 6, TCP_NODELAY 1
      assert.equal(libc.symbols.getsockopt(Number(name), 6, 1, value, size), 0);
      found.push(value[0]);
    }
    return found;
  } finally {
    libc.close();
  }
}

test("the Deno transport sets TCP_NODELAY: no write waits for a delayed ACK", async () => {
  const broker = await startMosquitto();
  try {
    const c = new MQTTClient(uniqueId("nodelay"), broker.host, {
      port: broker.port,
      protocolVersion: 5,
    });
    await c.connect();
    assert.deepEqual(noDelayTo(broker.port), [1]);
    await c.disconnect();
  } finally {
    await broker.stop();
  }
}, { mosquitto: true, ignore: !linux });
