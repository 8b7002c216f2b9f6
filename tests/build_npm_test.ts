// scripts/build_npm.ts empties its output folder first. `deno task build:npm
// [outDir]` takes any folder, and `deno task` runs in the repository root, so
// `deno task build:npm .` (or a folder of the user's own files) must be
// refused, not emptied.
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { buildNpm } from "../scripts/build_npm.ts";
import { test } from "./_test.ts";

const root = resolve(import.meta.dirname!, "..");

test("build:npm refuses to empty a folder that holds other files, and leaves them", async () => {
  const dir = mkdtempSync(join(tmpdir(), "umqtt-build-npm-"));
  try {
    writeFileSync(join(dir, "notes.txt"), "mine");
    mkdirSync(join(dir, "src"));
    writeFileSync(join(dir, "src/app.ts"), "mine too");
    await assert.rejects(
      buildNpm(dir),
      (e: Error) => e.message.includes(dir) && e.message.includes("notes.txt"),
    );
    assert.ok(existsSync(join(dir, "notes.txt")), "notes.txt was deleted");
    assert.ok(existsSync(join(dir, "src/app.ts")), "src/app.ts was deleted");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("build:npm refuses the repository root and the folders above it", async () => {
  for (const dir of [root, dirname(root)]) {
    await assert.rejects(buildNpm(dir), (e: Error) => e.message.includes(dir));
    assert.ok(existsSync(join(root, "deno.json")), `building into ${dir} emptied the repository`);
  }
});

test("build:npm given a file refuses it in its own words, and keeps it", async () => {
  const dir = mkdtempSync(join(tmpdir(), "umqtt-build-npm-"));
  const file = join(dir, "notes.txt");
  try {
    writeFileSync(file, "a file of the user's");
    await assert.rejects(
      buildNpm(file),
      (e: Error) => e.message.startsWith(`build:npm: ${file} is a file`),
    );
    assert.equal(Deno.readTextFileSync(file), "a file of the user's");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("build:npm builds into an empty folder, and again over its own build and npm pack's tarball", async () => {
  const dir = mkdtempSync(join(tmpdir(), "umqtt-build-npm-"));
  try {
    const pkg = await buildNpm(dir);
    assert.equal(pkg.name, "@umqtt/umqtt");
    // The module doc says: cd there and npm pack (or publish), which leaves the tarball there;
    // a second pack, or a publish after it, must not ship it inside the new one.
    writeFileSync(join(dir, "umqtt-umqtt-0.1.0.tgz"), "npm pack's tarball");
    writeFileSync(join(dir, "notes.txt"), "a file of the user's");
    const files = await packedFiles(dir);
    assert.deepEqual(files.filter((f) => !/^(mod|lib\/.*)\.(d\.ts|js)$/.test(f)), [
      "CHANGELOG.md",
      "LICENSE",
      "README.md",
      "package.json",
    ]);
    assert.ok(files.includes("lib/robust.js") && files.includes("lib/robust.d.ts"));
    await buildNpm(dir);
    assert.ok(existsSync(join(dir, "mod.js")));
    assert.ok(existsSync(join(dir, "mod.d.ts")));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** The files `npm pack` would put in the tarball of the package in `dir`, sorted. */
async function packedFiles(dir: string): Promise<string[]> {
  const { code, stdout } = await new Deno.Command("npm", {
    args: ["pack", "--dry-run", "--json", "--silent"],
    cwd: dir,
    stdout: "piped",
    stderr: "inherit",
  }).output();
  assert.equal(code, 0, "npm pack --dry-run failed");
  const [{ files }] = JSON.parse(new TextDecoder().decode(stdout));
  return files.map((f: { path: string }) => f.path).sort();
}
