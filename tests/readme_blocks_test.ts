// The README's TypeScript blocks are what users copy first, and no test
// compiled them: `deno check` (deno task check) covers mod.ts, lib/, tests/
// and examples/, `deno test --doc` the JSDoc. Each ```ts block here becomes a
// module of its own (imports of "@umqtt/umqtt…" made paths into the source)
// and all are type-checked in one `deno check`, so a renamed option, method
// or event detail in the API shows up as the README block it breaks.
import assert from "node:assert/strict";
import { test } from "./_test.ts";
import { assertTypeChecks } from "./_typecheck.ts";

const root = new URL("../", import.meta.url);
const config = JSON.parse(Deno.readTextFileSync(new URL("deno.json", root)));
const entries = Object.entries(config.exports as Record<string, string>)
  .map(([k, v]) => [k === "." ? config.name : `${config.name}/${k.slice(2)}`, v]);

// Names the blocks use as given by the surrounding text, not defined in them.
const PRELUDE = `import type { SslParams } from "${new URL("lib/robust.ts", root).href}";
declare const signal: AbortSignal;
declare const ssl_params: SslParams;
declare const bytesFromTheWire: Uint8Array;
declare function resize(topic: string, payload: Uint8Array): Promise<void>;
`;

/** The README's ```ts blocks, each with the line it starts on. */
function blocks(): { line: number; code: string }[] {
  const text = Deno.readTextFileSync(new URL("README.md", root));
  return [...text.matchAll(/^```ts\n([\s\S]*?)^```/gm)].map((m) => ({
    line: text.slice(0, m.index).split("\n").length,
    code: m[1],
  }));
}

/** A block as a module: its imports resolved into the source, the client's import where it has none. */
function asModule(code: string): string {
  let src = code.replace(/from "([^"]+)"/g, (whole, spec: string) => {
    const entry = entries.find(([name]) => name === spec);
    return entry ? `from "${new URL(entry[1], root).href}"` : whole;
  });
  const imported = new Set(
    [...src.matchAll(/import \{([^}]*)\}/g)].flatMap((m) => m[1].split(",").map((s) => s.trim())),
  );
  const own = (name: string, from: string) => {
    if (new RegExp(`\\b${name}\\b`).test(src) && !imported.has(name)) {
      src = `import { ${name} } from "${new URL(from, root).href}";\n${src}`;
    }
  };
  own("MQTTClient", "mod.ts");
  own("connectNode", "lib/transports/node.ts");
  // A block that uses a client it does not make continues the one before it.
  if (/\bclient\./.test(src) && !/\bconst client\b/.test(src)) {
    src = `declare const client: MQTTClient;\n${src}`;
  }
  return `${PRELUDE}${src}\nexport {};\n`;
}

test("the README's TypeScript blocks type-check against the source", async () => {
  const found = blocks();
  assert.ok(found.length >= 10, `only ${found.length} ts blocks in README.md`);
  const dir = await Deno.makeTempDir();
  try {
    const files = [];
    for (const { line, code } of found) {
      const file = `${dir}/readme_line_${line}.ts`;
      await Deno.writeTextFile(file, asModule(code));
      files.push(file);
    }
    await assertTypeChecks(files);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
