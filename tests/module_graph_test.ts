// The package's module graph, as `deno info` reports it: no import cycle
// among the package's own modules (type-only imports count), from any entry
// point. A cycle makes load order matter and ties modules that should stand
// alone together (issue 14: _tcp.ts imported Endpoint from default.ts, which
// imports _tcp.ts).
import assert from "node:assert/strict";
import { test } from "./_test.ts";

const root = new URL("../", import.meta.url);
const config = JSON.parse(Deno.readTextFileSync(new URL("deno.json", root)));
const entries = Object.values(config.exports as Record<string, string>);

interface InfoModule {
  specifier: string;
  dependencies?: { code?: { specifier?: string }; type?: { specifier?: string } }[];
}

/** The edges between the package's own modules reachable from `entry`, static and dynamic, code and type. */
async function graph(entry: string): Promise<Map<string, string[]>> {
  const { stdout, code } = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", entry],
    cwd: root,
    stdout: "piped",
    stderr: "inherit",
  }).output();
  assert.equal(code, 0, `deno info ${entry} failed`);
  const own = (s: string | undefined): s is string => s?.startsWith(root.href) === true;
  const edges = new Map<string, string[]>();
  for (const m of JSON.parse(new TextDecoder().decode(stdout)).modules as InfoModule[]) {
    if (!own(m.specifier)) continue;
    const deps = (m.dependencies ?? []).flatMap((d) => [d.code?.specifier, d.type?.specifier]);
    edges.set(m.specifier.slice(root.href.length), [
      ...new Set(deps.filter(own).map((s) => s.slice(root.href.length))),
    ]);
  }
  return edges;
}

/** Every cycle found by a depth-first walk, each as the path that closes it. */
function cycles(edges: Map<string, string[]>): string[] {
  const found: string[] = [];
  const done = new Set<string>();
  const path: string[] = [];
  const visit = (m: string) => {
    path.push(m);
    for (const d of edges.get(m) ?? []) {
      if (path.includes(d)) found.push([...path.slice(path.indexOf(d)), d].join(" → "));
      else if (!done.has(d)) visit(d);
    }
    path.pop();
    done.add(m);
  };
  for (const m of edges.keys()) if (!done.has(m)) visit(m);
  return found;
}

test("the package's modules import each other without cycles, from every entry point", async () => {
  for (const entry of entries) {
    const edges = await graph(entry);
    assert.ok(edges.size > 0, `deno info ${entry} listed none of the package's modules`);
    assert.deepEqual(cycles(edges), [], `cycles from ${entry}`);
  }
});

test("no module under lib/ is over 600 lines (issue 14: each concern a room of its own)", () => {
  const over: string[] = [];
  const walk = (dir: URL) => {
    for (const e of Deno.readDirSync(dir)) {
      const url = new URL(e.isDirectory ? `${e.name}/` : e.name, dir);
      if (e.isDirectory) walk(url);
      else if (e.name.endsWith(".ts")) {
        const lines = Deno.readTextFileSync(url).split("\n").length - 1;
        if (lines > 600) over.push(`${url.href.slice(root.href.length)}: ${lines} lines`);
      }
    }
  };
  walk(new URL("lib/", root));
  assert.deepEqual(over, []);
});
