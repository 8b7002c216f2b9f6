// The JSDoc examples check themselves with console.assert, which in Deno
// prints "Assertion failed" and goes on: `deno test --doc` (deno task check)
// passes an example whose assertion is false. Here each example that asserts
// runs with a console.assert that throws, so the docs say what the code does.
import assert from "node:assert/strict";
import { test } from "./_test.ts";
import { assertTypeChecks } from "./_typecheck.ts";

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

/** A file's JSDoc examples (```ts, or ```ts ignore), with imports made absolute. */
function* blocks(file: URL, fence: string): Generator<string> {
  const text = Deno.readTextFileSync(file);
  for (const m of text.matchAll(new RegExp(`${fence}\\n([\\s\\S]*?)\`\`\``, "g"))) {
    yield m[1].replace(/^\s*\* ?/gm, "").replace(/from "([^"]+)"/g, (_, s: string) => {
      const entry = entries.find(([name]) => name === s);
      const url = entry ? new URL(entry[1], root) : s.startsWith(".") ? new URL(s, file) : null;
      return `from "${url?.href ?? s}"`;
    });
  }
}

/** The `ts` examples of a file's JSDoc that are not `ignore` and assert. */
function examples(file: URL): string[] {
  return [...blocks(file, "```ts")].filter((code) => code.includes("console.assert"));
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

// `deno test --doc` skips an example marked `ignore` (17 of them: those that
// need a broker, a runtime's module or a name from the text around them), so
// nothing compiled them: a renamed option or export would leave the docs
// showing code that no longer type-checks. Each is checked here as a module,
// with the names its text gives it declared.
const PRELUDE = `declare const client: import("${new URL("mod.ts", root).href}").MQTTClient;
declare const WebSocket: import("${
  new URL("lib/transports/websocket.ts", root).href
}").WebSocketConstructor;
declare function save(what: Map<number, Uint8Array> | Set<number>): void;
declare function load(name: "outgoing"): [number, Uint8Array][];
declare function load(name: "incoming"): number[];
`;

test("the JSDoc examples marked ignore type-check against the source", async () => {
  const ignored = [new URL("mod.ts", root), ...files(new URL("lib/", root))].flatMap((file) =>
    [...blocks(file, "```ts ignore")].map((code, i) => ({
      name: `${file.href.slice(root.href.length).replaceAll("/", "_")}_${i + 1}.ts`,
      // The ws package is Node's WebSocket: typed here as the adapter takes it.
      code: code.replace(/^import WebSocket from "ws";.*$/m, ""),
    }))
  );
  assert.ok(ignored.length >= 15, `only ${ignored.length} ignored examples`);
  const dir = await Deno.makeTempDir();
  try {
    const paths = [];
    for (const { name, code } of ignored) {
      const path = `${dir}/${name}`;
      // A name the example makes itself is not declared for it.
      const prelude = PRELUDE.split("\n").filter((line) => {
        const m = /^declare (?:const|function) (\w+)/.exec(line);
        return !m || !new RegExp(`\\b(?:const|class|function) ${m[1]}\\b`).test(code);
      }).join("\n");
      await Deno.writeTextFile(path, `${prelude}\n${code}\nexport {};\n`);
      paths.push(path);
    }
    await assertTypeChecks(paths);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
