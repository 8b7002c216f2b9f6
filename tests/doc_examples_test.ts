// The JSDoc examples check themselves with console.assert, which in Deno
// prints "Assertion failed" and goes on: `deno test --doc` (deno task check)
// passes an example whose assertion is false. Here each example that asserts
// runs with a console.assert that throws, so the docs say what the code does.
import assert from "node:assert/strict";
import { test } from "./_test.ts";

const root = new URL("../", import.meta.url);
const config = JSON.parse(Deno.readTextFileSync(new URL("deno.json", root)));
// "@umqtt/umqtt/codec" → the file deno.json exports it from; longest first.
const entries = Object.entries(config.exports as Record<string, string>)
  .map(([k, v]) => [k === "." ? config.name : `${config.name}/${k.slice(2)}`, v])
  .sort((a, b) => b[0].length - a[0].length);

function* files(dir: URL): Generator<URL> {
  for (const e of Deno.readDirSync(dir)) {
    if (e.isDirectory) yield* files(new URL(`${e.name}/`, dir));
    else if (e.name.endsWith(".ts")) yield new URL(e.name, dir);
  }
}

/** The `ts` examples of a file's JSDoc that are not `ignore`, with imports made absolute. */
function examples(file: URL): string[] {
  const found: string[] = [];
  for (const m of Deno.readTextFileSync(file).matchAll(/```ts\n([\s\S]*?)```/g)) {
    const code = m[1].replace(/^\s*\* ?/gm, "").replace(/from "([^"]+)"/g, (_, s: string) => {
      const entry = entries.find(([name]) => name === s);
      const url = entry ? new URL(entry[1], root) : s.startsWith(".") ? new URL(s, file) : null;
      return `from "${url?.href ?? s}"`;
    });
    if (code.includes("console.assert")) found.push(code);
  }
  return found;
}

const all = [new URL("mod.ts", root), ...files(new URL("lib/", root))].flatMap((file) =>
  examples(file).map((code, i) => ({
    where: `${file.href.slice(root.href.length)} #${i + 1}`,
    code,
  }))
);

test("the JSDoc examples that assert are found", () => {
  assert.ok(all.length >= 20, `only ${all.length} examples with console.assert`);
});

for (const { where, code } of all) {
  test(`JSDoc example ${where}: its console.assert calls hold`, async () => {
    const file = await Deno.makeTempFile({ suffix: ".ts" });
    const original = console.assert;
    console.assert = (ok?: unknown, ...data: unknown[]) => {
      if (!ok) throw new Error(`console.assert failed in ${where} ${data.join(" ")}`);
    };
    try {
      await Deno.writeTextFile(file, code);
      await import(new URL(`file://${file}`).href);
    } finally {
      console.assert = original;
      await Deno.remove(file);
    }
  });
}
