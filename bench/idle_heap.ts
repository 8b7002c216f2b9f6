/**
 * Where an idle connection's memory goes:
 * `deno run -A --v8-flags=--expose-gc bench/idle_heap.ts [umqtt|raw] [COUNT]`
 * (default umqtt, 2000). Starts the bench's mosquitto, opens COUNT idle
 * connections one after another (keepalive 600 s, as `bench/_memory.ts`),
 * and prints per connection each V8 heap space's growth (after three GCs;
 * resident memory is `bench/_memory.ts`'s, as writing a snapshot inflates
 * it), then the JS objects that are new since before the first connection, from two heap snapshots (`node:v8`'s
 * `writeHeapSnapshot()`), grouped by what they are and what holds them,
 * biggest first. raw is the bare-socket floor of the memory rows. The
 * analysis behind bench/RESULTS.md's memory section.
 *
 * @module
 */
import { getHeapSpaceStatistics, writeHeapSnapshot } from "node:v8";
import process from "node:process";
import { MQTTClient } from "../mod.ts";
import { startBroker } from "./_mosquitto.ts";
import { connectFrame, writeAll } from "./_raw.ts";

const name = Deno.args[0] ?? "umqtt";
const count = Number(Deno.args[1] ?? 2000);
const TOP = 40;
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error("run with --v8-flags=--expose-gc");
const settle = async () => {
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 200));
  }
};

const broker = await startBroker();
const held: unknown[] = [];
const closers: (() => Promise<void>)[] = [];
const id = crypto.randomUUID().slice(0, 8);

async function open(i: number): Promise<void> {
  if (name === "raw") {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: broker.port });
    await writeAll(conn, connectFrame(`heap-${id}-${i}`, 600));
    const connack = new Uint8Array(4);
    for (let got = 0; got < 4;) got += (await conn.read(connack.subarray(got))) ?? 4;
    const pending = conn.read(new Uint8Array(64)).catch(() => null);
    held.push(conn, pending);
    closers.push(async () => (conn.close(), await pending, undefined));
    return;
  }
  const c = new MQTTClient(`heap-${id}-${i}`, "127.0.0.1", { port: broker.port, keepalive: 600 });
  await c.connect();
  held.push(c);
  closers.push(() => c.disconnect());
}

const dir = Deno.makeTempDirSync({ prefix: "umqtt-heap-" });
try {
  await open(-1); // load and run everything once
  await settle();
  writeHeapSnapshot(`${dir}/before.heapsnapshot`);
  await settle();
  const spaces0 = getHeapSpaceStatistics();
  const heap0 = process.memoryUsage().heapUsed;
  for (let i = 0; i < count; i++) await open(i);
  await settle();
  const heap1 = process.memoryUsage().heapUsed;
  const spaces1 = getHeapSpaceStatistics();
  writeHeapSnapshot(`${dir}/after.heapsnapshot`);
  const per = (bytes: number) => `${(bytes / count).toFixed(0)} B`;
  console.log(`${name}, ${count} idle connections; per connection:`);
  console.log(`  JS heap used ${per(heap1 - heap0)}; V8's spaces:`);
  for (const s1 of spaces1) {
    const s0 = spaces0.find((s) => s.space_name === s1.space_name);
    const size = s1.space_size - (s0?.space_size ?? 0);
    const used = s1.space_used_size - (s0?.space_used_size ?? 0);
    if (Math.abs(size) + Math.abs(used) < count * 20) continue;
    console.log(`  ${s1.space_name}: size ${per(size)}, used ${per(used)}`);
  }
  console.log(`new JS objects, per connection (bytes, count, object <- what holds it):`);
  for (const [what, bytes, n] of newObjects(dir, count).slice(0, TOP)) {
    console.log(`${bytes.toFixed(0).padStart(6)} ${n.toFixed(2).padStart(6)}  ${what}`);
  }
} finally {
  for (let i = 0; i < closers.length; i += 500) {
    await Promise.all(closers.slice(i, i + 500).map((close) => close()));
  }
  await broker.stop();
  Deno.removeSync(dir, { recursive: true });
}

interface Snapshot {
  snapshot: {
    meta: {
      node_fields: string[];
      node_types: [string[]];
      edge_fields: string[];
      edge_types: [string[]];
    };
  };
  nodes: number[];
  edges: number[];
  strings: string[];
}

/**
 * Nodes of after.heapsnapshot whose id is not in before.heapsnapshot,
 * grouped by type, name and their first two strong retainers: [label,
 * bytes per connection, count per connection], biggest first, groups of
 * fewer than one in three connections left out.
 */
function newObjects(dir: string, n: number): [string, number, number][] {
  const read = (f: string) => JSON.parse(Deno.readTextFileSync(`${dir}/${f}`)) as Snapshot;
  const before = read("before.heapsnapshot");
  const oldIds = new Set<number>();
  {
    const f = before.snapshot.meta.node_fields;
    for (let i = 0; i < before.nodes.length; i += f.length) {
      oldIds.add(before.nodes[i + f.indexOf("id")]);
    }
  }
  const s = read("after.heapsnapshot");
  const { node_fields: nf, node_types, edge_fields: ef, edge_types } = s.snapshot.meta;
  const [TYPE, NAME, ID, SIZE, EDGES] = ["type", "name", "id", "self_size", "edge_count"]
    .map((k) => nf.indexOf(k));
  const [ETYPE, ENAME, ETO] = ["type", "name_or_index", "to_node"].map((k) => ef.indexOf(k));
  const nodes = s.nodes, edges = s.edges, strings = s.strings;
  const total = nodes.length / nf.length;
  const label = (i: number) => {
    const type = node_types[0][nodes[i * nf.length + TYPE]];
    const nm = type.includes("string") ? "" : strings[nodes[i * nf.length + NAME]].slice(0, 40);
    return `${type}:${nm}`;
  };
  const holders: [number, string][][] = Array.from({ length: total }, () => []);
  for (let i = 0, e = 0; i < total; i++) {
    for (const end = e + nodes[i * nf.length + EDGES] * ef.length; e < end; e += ef.length) {
      const kind = edge_types[0][edges[e + ETYPE]];
      if (kind === "weak" || kind === "shortcut") continue;
      const to = edges[e + ETO] / nf.length;
      const edge = kind === "element" || kind === "hidden"
        ? `[${edges[e + ENAME]}]`
        : strings[edges[e + ENAME]];
      if (holders[to].length < 2 && !label(i).startsWith("synthetic")) {
        holders[to].push([i, edge]);
      }
    }
  }
  const groups = new Map<string, [number, number]>();
  for (let i = 0; i < total; i++) {
    if (oldIds.has(nodes[i * nf.length + ID])) continue;
    const by = holders[i].map(([h, edge]) => `${label(h)}.${edge}`).join(" | ");
    const key = `${label(i)}  <-  ${by}`;
    const g = groups.get(key) ?? [0, 0];
    g[0] += nodes[i * nf.length + SIZE];
    g[1]++;
    groups.set(key, g);
  }
  return [...groups].map(([k, [bytes, c]]) => [k, bytes / n, c / n] as [string, number, number])
    .filter(([, , c]) => c >= 1 / 3).sort((a, b) => b[1] - a[1]);
}
