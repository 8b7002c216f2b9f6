// Resident memory per idle connected client: run as its own process per
// contender (`deno run -A --v8-flags=--expose-gc bench/_memory.ts NAME PORT COUNT`),
// prints the bytes per connection as JSON.
//
// Issue 16's method: the clients are opened one after another, each with a
// keepalive of 600 s and nothing flowing; the growth of resident memory from
// before the first to after the last, after three GCs, divided by the count,
// so that buffers allocated while connecting count too. That growth includes
// V8's young generation, which grows while the connections are opened (by
// the bytes that survive its collections) and which a plain GC keeps; three
// memory-reducing GCs after it give that back, and a second figure is taken
// then: what the connections themselves hold.
//
// With `FROM,TO` after COUNT, the process goes on opening connections to
// FROM and then to TO, three GCs at each, before the memory-reducing GCs,
// and prints `marginal`: resident memory per connection between FROM and TO.
// V8's young generation grows with the bytes that survive its collections
// until it reaches its cap (~54 MB here): umqtt's by about 6500 connections,
// the bare socket's by about 12 000. Past 14 000 every contender's is there,
// so the growth between two such counts is what each further connection
// costs, without that fixed cost (bench/RESULTS.md's memory rows).
import mqtt from "npm:mqtt@5";
import process from "node:process";
import { MQTTClient } from "../mod.ts";
import { connectFrame, writeAll } from "./_raw.ts";

const [name, portArg, countArg, beyondArg] = Deno.args;
const port = Number(portArg), count = Number(countArg);
const beyond = beyondArg ? beyondArg.split(",").map(Number) : [];
const KEEPALIVE = 600;
type GcOptions = { type: "major"; execution: "sync"; flavor: "last-resort" };
const gc = (globalThis as { gc?: (o?: GcOptions) => void }).gc ?? (() => {});
const settle = async (options?: GcOptions) => {
  for (let i = 0; i < 3; i++) {
    gc(options);
    await new Promise((r) => setTimeout(r, 200));
  }
};
const id = crypto.randomUUID().slice(0, 8);

// What `raw-abortable` adds to the bare socket: what any client's connect
// needs that can time out and be given up. In a function of its own, so that
// the closer below does not keep the controller alive.
async function abortableConnect(): Promise<Deno.TcpConn> {
  const attempt = new AbortController();
  const timer = setTimeout(() => attempt.abort(), 30_000);
  try {
    return await Deno.connect({ hostname: "127.0.0.1", port, signal: attempt.signal });
  } finally {
    clearTimeout(timer);
  }
}

// What `raw+N` holds beside the bare socket: N bytes of JS objects, in
// instances of 128 bytes each (a 24-byte header and 13 fields of 8 bytes;
// Deno's V8 has no pointer compression). A client's state is objects like
// these; how resident memory answers a few hundred bytes more of them shows
// how much a client may hold beyond the socket (bench/RESULTS.md, memory).
class Held {
  a: Held | null = null;
  b = null;
  c = null;
  d = null;
  e = null;
  f = null;
  g = null;
  h = null;
  i = null;
  j = null;
  k = null;
  l = null;
  m = null;
}
const held = /^raw\+(\d+)$/.exec(name);

async function open(i: number): Promise<() => Promise<void>> {
  if (name === "raw" || name === "raw-abortable" || held) {
    // The floor: a bare socket with its CONNACK read and a 64-byte conn.read
    // pending, as an idle client must keep one to notice the broker. Not a
    // bench row, `raw-abortable` is that socket opened within a connect
    // timeout and with an abort signal (bench/RESULTS.md, memory); `raw+N`
    // is the bare socket holding N bytes more of JS objects.
    const conn = name === "raw"
      ? await Deno.connect({ hostname: "127.0.0.1", port })
      : await abortableConnect();
    await writeAll(conn, connectFrame(`mem-${id}-${i}`, KEEPALIVE));
    const connack = new Uint8Array(4);
    for (let got = 0; got < 4;) {
      const n = await conn.read(connack.subarray(got));
      if (n === null) throw new Error("raw: no CONNACK");
      got += n;
    }
    const pending = conn.read(new Uint8Array(64)).catch(() => null);
    // A chain, so that nothing but the objects is added: each holds the one before.
    let state: Held | null = null;
    for (let n = held ? Number(held[1]) : 0; n >= 128; n -= 128) {
      const next: Held = new Held();
      next.a = state;
      state = next;
    }
    return async () => {
      state = null;
      conn.close();
      await pending;
    };
  }
  if (name === "umqtt") {
    const c = new MQTTClient(`mem-${id}-${i}`, "127.0.0.1", { port, keepalive: KEEPALIVE });
    await c.connect();
    return () => c.disconnect();
  }
  const c = mqtt.connect({
    host: "127.0.0.1",
    port,
    clientId: `mem-${id}-${i}`,
    protocolVersion: 4,
    reconnectPeriod: 0,
    keepalive: KEEPALIVE,
  });
  await new Promise((resolve, reject) => (c.once("connect", resolve), c.once("error", reject)));
  return () => new Promise<void>((resolve) => c.end(false, {}, () => resolve()));
}

/** TCP connections to the broker's port in the established state (`ss`, Linux); undefined elsewhere. */
function established(): number | undefined {
  try {
    const out = new Deno.Command("ss", {
      args: ["-tnH", "state", "established", `( dport = :${port} )`],
      stdout: "piped",
      stderr: "null",
    }).outputSync();
    if (!out.success) return undefined;
    return new TextDecoder().decode(out.stdout).split("\n").filter((l) => l.trim()).length;
  } catch {
    return undefined;
  }
}

// Warm up: load and run everything once so code and pools are not counted.
await (await open(-1))();
await settle();
const before = process.memoryUsage();
const closers: (() => Promise<void>)[] = [];
for (let i = 0; i < count; i++) closers.push(await open(i));
await settle();
const after = process.memoryUsage();
const at: number[] = [];
for (const n of beyond) {
  for (let i = closers.length; i < n; i++) closers.push(await open(i));
  await settle();
  at.push(process.memoryUsage().rss);
}
const opened = closers.length;
await settle({ type: "major", execution: "sync", flavor: "last-resort" });
const reduced = process.memoryUsage();
// Every connection still open at the end, counted by the kernel rather than
// by the contender: a client whose connections the broker dropped would hold
// less and print a figure that flatters it.
const open_ = established();
if (open_ !== undefined && open_ !== opened) {
  console.error(`memory: ${name}: ${open_} of ${opened} connections still established`);
  Deno.exit(1);
}
console.log(JSON.stringify({
  perConnection: (after.rss - before.rss) / count,
  heapPerConnection: (after.heapUsed - before.heapUsed) / count,
  reducedPerConnection: (reduced.rss - before.rss) / opened,
  ...(at.length === 2 ? { marginal: (at[1] - at[0]) / (beyond[1] - beyond[0]) } : {}),
}));
for (let i = 0; i < closers.length; i += 500) {
  await Promise.all(closers.slice(i, i + 500).map((close) => close()));
}
Deno.exit(0);
