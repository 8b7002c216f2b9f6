// Resident memory per idle connected client: run as its own process per
// contender (`deno run -A --v8-flags=--expose-gc bench/_memory.ts NAME PORT COUNT`),
// prints the bytes per connection as JSON.
import mqtt from "npm:mqtt@5";
import process from "node:process";
import { MQTTClient } from "../mod.ts";
import { connectFrame, writeAll } from "./_raw.ts";

const [name, portArg, countArg] = Deno.args;
const port = Number(portArg), count = Number(countArg);
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});
const settle = async () => {
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 200));
  }
};
const id = crypto.randomUUID().slice(0, 8);

async function open(i: number): Promise<() => Promise<void>> {
  if (name === "raw") {
    // The floor: a socket with a CONNACK read and a 4 KiB conn.read pending.
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    await writeAll(conn, connectFrame(`mem-${id}-${i}`));
    await conn.read(new Uint8Array(4));
    const pending = conn.read(new Uint8Array(4096)).catch(() => null);
    return async () => {
      conn.close();
      await pending;
    };
  }
  if (name === "umqtt") {
    const c = new MQTTClient(`mem-${id}-${i}`, "127.0.0.1", {
      port,
      keepalive: Number(Deno.env.get("KA") ?? 60),
    });
    await c.connect();
    return () => c.disconnect();
  }
  const c = mqtt.connect({
    host: "127.0.0.1",
    port,
    clientId: `mem-${id}-${i}`,
    protocolVersion: 4,
    reconnectPeriod: 0,
    keepalive: 60,
  });
  await new Promise((resolve, reject) => (c.once("connect", resolve), c.once("error", reject)));
  return () => new Promise<void>((resolve) => c.end(false, {}, () => resolve()));
}

// Warm up: load and run everything once so code and pools are not counted.
await (await open(-1))();
await settle();
const before = process.memoryUsage();
const closers = [];
for (let i = 0; i < count; i += 50) {
  closers.push(
    ...await Promise.all(
      Array.from({ length: Math.min(50, count - i) }, (_, k) => open(i + k)),
    ),
  );
}
await settle();
const after = process.memoryUsage();
console.log(JSON.stringify({
  perConnection: (after.rss - before.rss) / count,
  heapPerConnection: (after.heapUsed - before.heapUsed) / count,
}));
await Promise.all(closers.map((c) => c()));
Deno.exit(0);
