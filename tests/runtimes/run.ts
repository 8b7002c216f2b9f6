/**
 * Runs the runtime tests that need more than `deno test`: a broker from the
 * harness, a build, then the real runtime as a subprocess.
 *
 *   deno run -A tests/runtimes/run.ts browser      # Chromium + playwright-core
 *   deno run -A tests/runtimes/run.ts cloudflare   # workerd through miniflare
 *   deno run -A tests/runtimes/run.ts npm          # npm pack → Node 20 and Bun
 *
 * The drivers (playwright-core, miniflare, ws) come from
 * tests/runtimes/package.json (`npm ci --prefix tests/runtimes`), so the
 * library itself never depends on them. A missing tool skips with a notice,
 * but is a failure under `CI=true`.
 *
 * @module
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { startMosquitto } from "../_brokers.ts";
import { makeCerts } from "../_certs.ts";
import { buildNpm } from "../../scripts/build_npm.ts";

const here = import.meta.dirname!;
const root = join(here, "../..");

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

async function bundle(
  entry: string,
  out: string,
  platform: "browser" | "node" = "browser",
) {
  await run(Deno.execPath(), [
    "bundle",
    "--quiet",
    `--platform=${platform}`,
    // Only workerd has it; the source imports it (unused elsewhere) by name.
    "--external",
    "cloudflare:*",
    "-o",
    out,
    entry,
  ]);
}

const drivers = need(
  existsSync(join(here, "node_modules/playwright-core")) &&
    existsSync(join(here, "node_modules/miniflare")),
  "tests/runtimes/node_modules is missing (npm ci --prefix tests/runtimes)",
);
const tmp = await Deno.makeTempDir({ prefix: "umqtt-runtimes-" });
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
      const broker = await startMosquitto({ websockets: true });
      try {
        await bundle(join(root, "mod.ts"), join(tmp, "umqtt.js"));
        await run("node", ["--test", join(here, "browser/browser.node.mjs")], {
          env: {
            UMQTT_WS_URL: broker.wsUrl!,
            UMQTT_BUNDLE: join(tmp, "umqtt.js"),
            CHROMIUM: chromium,
          },
        });
      } finally {
        await broker.stop();
      }
    } else if (which === "cloudflare") {
      if (!drivers) continue;
      const broker = await startMosquitto({});
      try {
        await bundle(
          join(here, "cloudflare/worker.ts"),
          join(tmp, "worker.js"),
        );
        await bundle(join(root, "mod.ts"), join(tmp, "umqtt.node.js"), "node");
        await run(
          "node",
          ["--test", join(here, "cloudflare/worker.node.mjs")],
          {
            env: {
              UMQTT_PORT: String(broker.port),
              UMQTT_WORKER: join(tmp, "worker.js"),
              UMQTT_NODE_BUNDLE: join(tmp, "umqtt.node.js"),
            },
          },
        );
      } finally {
        await broker.stop();
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

/** Builds the npm package, packs it, installs the tarball into a fresh project, runs the smoke test there. */
async function runNpm() {
  const pkg = join(tmp, "package");
  await buildNpm(pkg);
  await run("npm", ["pack", "--silent", "--pack-destination", tmp], {
    cwd: pkg,
  });
  const tarball = [...Deno.readDirSync(tmp)].find((e) => e.name.endsWith(".tgz"))!.name;
  const app = join(tmp, "app");
  Deno.mkdirSync(app);
  Deno.writeTextFileSync(
    join(app, "package.json"),
    JSON.stringify({ type: "module", private: true }),
  );
  // Offline-friendly: ws comes from the dev folder's copy, not the registry.
  await run("npm", [
    "install",
    "--silent",
    "--no-audit",
    "--no-fund",
    join(tmp, tarball),
    join(here, "node_modules/ws"),
  ], { cwd: app });
  Deno.copyFileSync(join(here, "_smoke.mjs"), join(app, "_smoke.mjs"));
  Deno.mkdirSync(join(app, "node"));
  Deno.copyFileSync(join(here, "node/smoke.node.mjs"), join(app, "node/smoke.test.mjs"));
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
    await run("node", ["--test", "node/smoke.test.mjs"], { cwd: app, env });
    await run("npx", ["-y", "bun", "test", "./node/smoke.test.mjs"], {
      cwd: app,
      env,
    });
  } finally {
    await broker.stop();
    certs.remove();
  }
}
