/**
 * Builds the npm package: ESM JavaScript and `.d.ts` types compiled from the
 * same sources JSR publishes, and a `package.json` whose `exports` mirror
 * `deno.json`'s. `deno task build:npm [outDir]` (default `dist/npm`); then
 * `npm pack` or `npm publish` in that folder.
 *
 * TypeScript compiles without type checking (`deno task check` does that):
 * `lib/transports/deno.ts` uses the `Deno` namespace, which the Node build has
 * no types for, and is only ever loaded under Deno.
 *
 * @module
 */
import { copyFileSync, existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";

const root = resolve(import.meta.dirname!, "..");

/**
 * Builds the package into `outDir` (emptied first).
 *
 * @param outDir Folder for the package.
 * @returns The package's `package.json` contents.
 * @throws {Error} When the TypeScript compiler fails.
 */
export async function buildNpm(
  outDir: string,
): Promise<Record<string, unknown>> {
  const config = JSON.parse(Deno.readTextFileSync(join(root, "deno.json")));
  const exportsMap = config.exports as Record<string, string>;
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  const tsconfig = join(outDir, "tsconfig.build.json");
  writeFileSync(
    tsconfig,
    JSON.stringify({
      compilerOptions: {
        target: "ES2022",
        module: "ES2022",
        moduleResolution: "Bundler",
        rewriteRelativeImportExtensions: true,
        allowImportingTsExtensions: true,
        declaration: true,
        noCheck: true,
        skipLibCheck: true,
        rootDir: root,
        outDir,
        lib: ["ES2022", "DOM"],
        types: [],
      },
      files: Object.values(exportsMap).map((p) => join(root, p)),
    }),
  );
  const tsc = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "npm:typescript@5.9.3/tsc", "-p", tsconfig],
    cwd: outDir,
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  rmSync(tsconfig);
  if (tsc.code !== 0) throw new Error(`tsc exited with ${tsc.code}`);
  // tsc rewrites .ts to .js in the JavaScript, not in the declarations.
  for (const entry of walk(outDir)) {
    if (!entry.endsWith(".d.ts")) continue;
    const text = Deno.readTextFileSync(entry);
    Deno.writeTextFileSync(
      entry,
      text.replace(/(["'])(\.\.?\/[^"']*)\.ts\1/g, "$1$2.js$1"),
    );
  }
  const js = (p: string) => "./" + p.replace(/^\.\//, "").replace(/\.ts$/, ".js");
  const dts = (p: string) => "./" + p.replace(/^\.\//, "").replace(/\.ts$/, ".d.ts");
  const pkg = {
    name: config.name,
    version: config.version,
    description:
      "MQTT 3.1.1 client with MicroPython umqtt.simple's API for Deno, Bun, Node, Cloudflare Workers and browsers",
    license: config.license,
    type: "module",
    sideEffects: false,
    engines: { node: ">=20" },
    keywords: [
      "mqtt",
      "umqtt",
      "iot",
      "websocket",
      "cloudflare-workers",
      "deno",
      "bun",
    ],
    exports: Object.fromEntries(
      Object.entries(exportsMap).map((
        [k, p],
      ) => [k, { types: dts(p), default: js(p) }]),
    ),
  };
  writeFileSync(
    join(outDir, "package.json"),
    JSON.stringify(pkg, null, 2) + "\n",
  );
  for (const file of ["README.md", "LICENSE", "CHANGELOG.md"]) {
    if (existsSync(join(root, file))) {
      copyFileSync(join(root, file), join(outDir, file));
    }
  }
  for (const [k, p] of Object.entries(exportsMap)) {
    if (!existsSync(join(outDir, js(p))) || !existsSync(join(outDir, dts(p)))) {
      throw new Error(
        `build:npm: export "${k}" has no ${js(p)} or ${dts(p)} in ${outDir}`,
      );
    }
  }
  return pkg;
}

function* walk(dir: string): Generator<string> {
  for (const e of Deno.readDirSync(dir)) {
    const path = join(dir, e.name);
    if (e.isDirectory) yield* walk(path);
    else yield path;
  }
}

if (import.meta.main) {
  const out = resolve(Deno.args[0] ?? join(root, "dist/npm"));
  await buildNpm(out);
  console.log(`npm package in ${out}: cd there and npm pack`);
}
