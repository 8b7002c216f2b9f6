/**
 * Builds the npm package: ESM JavaScript and `.d.ts` types compiled from the
 * same sources JSR publishes, and a `package.json` whose `exports` mirror
 * `deno.json`'s but for {@linkcode DENO_ONLY}. `deno task build:npm [outDir]`
 * (default `dist/npm`); then `npm pack` or `npm publish` in that folder.
 *
 * TypeScript compiles without type checking (`deno task check` does that):
 * `lib/transports/deno.ts` uses the `Deno` namespace, which the Node build has
 * no types for, and is only ever loaded under Deno.
 *
 * One thing differs from the source: which sockets the default connector
 * uses is chosen by module resolution, not at run time. The source's
 * `lib/transports/_tcp.ts` tells runtimes apart and imports the one it finds;
 * in the package, `default.js` imports `#tcp` instead, which `imports` in
 * package.json resolves by condition (see {@linkcode TCP_BY_CONDITION}) to
 * that runtime's module alone. A Worker bundle then holds `cloudflare:sockets`
 * and no `node:net`, a browser bundle no TCP code at all, and no bundler
 * meets a `node:` or `cloudflare:` module it cannot resolve.
 *
 * @module
 */
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { isAbsolute, join, relative, resolve, sep } from "node:path";

const root = resolve(import.meta.dirname!, "..");

/**
 * The default connector's TCP module per condition, in the order a resolver
 * tries them (the first condition it has wins): wrangler and the Cloudflare
 * Vite plugin set `workerd` (with `browser`), Deno sets `deno` (with `node`),
 * Bun `bun`, Node `node`, and browser bundlers (Vite, esbuild, webpack)
 * `browser`. `default` is the source's run-time choice, for anything else.
 */
export const TCP_BY_CONDITION: Record<string, string> = {
  workerd: "./lib/transports/_tcp_workerd.js",
  deno: "./lib/transports/_tcp_deno.js",
  bun: "./lib/transports/_tcp_node.js",
  node: "./lib/transports/_tcp_node.js",
  browser: "./lib/transports/_tcp_none.js",
  default: "./lib/transports/_tcp.js",
};
/**
 * `deno.json`'s exports the npm package leaves out: `./cli`, the command
 * line, runs under Deno (`deno run -A jsr:@umqtt/umqtt/cli`, as the README
 * says); under Node or Bun its `main()` could only throw "Deno is not defined".
 */
export const DENO_ONLY: readonly string[] = ["./cli"];

/** The files besides the code that the package holds, copied from the repository. */
const DOCS = ["README.md", "LICENSE", "CHANGELOG.md"];

/** The specifier in the compiled default connector that `#tcp` replaces. */
const TCP_IMPORT = 'import("./_tcp.js")';

/**
 * Throws unless `outDir` may be emptied: it is new, empty, or an earlier
 * build of the package (`npm pack` may have left its tarball there), and it
 * is not the repository or a folder above it. `deno task` runs in the
 * repository root, where `deno task build:npm .` would otherwise delete the
 * clone, `.git` too.
 */
function checkOutDir(outDir: string, name: string): void {
  const up = relative(outDir, root);
  if (!isAbsolute(up) && up !== ".." && !up.startsWith(`..${sep}`)) {
    throw new Error(
      `build:npm: ${outDir} holds the repository; give a folder of its own (default dist/npm)`,
    );
  }
  if (!existsSync(outDir)) return;
  if (!statSync(outDir).isDirectory()) {
    throw new Error(`build:npm: ${outDir} is a file; give a new or empty folder`);
  }
  const entries = readdirSync(outDir);
  if (entries.length === 0) return;
  const pkg = join(outDir, "package.json");
  try {
    if (
      existsSync(join(outDir, "mod.js")) &&
      JSON.parse(readFileSync(pkg, "utf8")).name === name
    ) return;
  } catch {
    // No package.json, or not JSON: not a build of ours.
  }
  throw new Error(
    `build:npm: ${outDir} holds files that are not an earlier build of ${name} (${
      entries.slice(0, 5).join(", ")
    }); it would be emptied: give a new or empty folder`,
  );
}

/**
 * Builds the package into `outDir`, which is emptied first: a new or empty
 * folder, or one that holds an earlier build.
 *
 * @param outDir Folder for the package.
 * @returns The package's `package.json` contents.
 * @throws {Error} When `outDir` holds anything else, or is the repository or
 * above it; when the TypeScript compiler fails.
 */
export async function buildNpm(
  outDir: string,
): Promise<Record<string, unknown>> {
  const config = JSON.parse(Deno.readTextFileSync(join(root, "deno.json")));
  const exportsMap = Object.fromEntries(
    Object.entries(config.exports as Record<string, string>).filter(([k]) =>
      !DENO_ONLY.includes(k)
    ),
  );
  outDir = resolve(outDir);
  checkOutDir(outDir, config.name);
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
        // ESNext.Disposable: without it tsc declares [Symbol.asyncDispose] a
        // property, not the method it is, and a subclass's override fails.
        lib: ["ES2022", "ESNext.Disposable", "DOM"],
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
  const connector = join(outDir, "lib/transports/default.js");
  const compiled = Deno.readTextFileSync(connector);
  if (compiled.split(TCP_IMPORT).length !== 2) {
    throw new Error(`build:npm: expected one ${TCP_IMPORT} in ${connector}`);
  }
  Deno.writeTextFileSync(connector, compiled.replace(TCP_IMPORT, 'import("#tcp")'));
  const js = (p: string) => "./" + p.replace(/^\.\//, "").replace(/\.ts$/, ".js");
  const dts = (p: string) => "./" + p.replace(/^\.\//, "").replace(/\.ts$/, ".d.ts");
  const pkg = {
    name: config.name,
    version: config.version,
    description:
      "MQTT 3.1.1 and MQTT 5 client with MicroPython umqtt.simple's API for Deno, Bun, Node, Cloudflare Workers and browsers",
    license: config.license,
    type: "module",
    // What the build writes, and nothing a user leaves beside it: `npm pack`
    // here puts its tarball here, which the next pack or publish would ship.
    files: ["mod.js", "mod.d.ts", "lib/", ...DOCS],
    sideEffects: false,
    engines: { node: ">=20" },
    keywords: [
      "mqtt",
      "mqtt5",
      "umqtt",
      "iot",
      "websocket",
      "cloudflare-workers",
      "deno",
      "bun",
    ],
    exports: {
      ...Object.fromEntries(
        Object.entries(exportsMap).map((
          [k, p],
        ) => [k, { types: dts(p), default: js(p) }]),
      ),
      // Tools that read the package's version or fields resolve it (Metro, bundler plugins).
      "./package.json": "./package.json",
    },
    // For TypeScript's older "node" (node10) resolution, which reads no
    // `exports`: the root's types, and each subpath's.
    types: dts(exportsMap["."]),
    typesVersions: {
      "*": Object.fromEntries(
        Object.entries(exportsMap).filter(([k]) => k !== ".").map((
          [k, p],
        ) => [k.slice(2), [dts(p).slice(2)]]),
      ),
    },
    imports: { "#tcp": TCP_BY_CONDITION },
  };
  writeFileSync(
    join(outDir, "package.json"),
    JSON.stringify(pkg, null, 2) + "\n",
  );
  for (const file of DOCS) {
    if (existsSync(join(root, file))) {
      copyFileSync(join(root, file), join(outDir, file));
    }
  }
  for (const [condition, p] of Object.entries(TCP_BY_CONDITION)) {
    if (!existsSync(join(outDir, p))) {
      throw new Error(`build:npm: #tcp's "${condition}" module ${p} is not in ${outDir}`);
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
