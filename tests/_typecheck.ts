// `deno check` on files a test writes: the docs' code (README blocks, JSDoc examples).
import assert from "node:assert/strict";

/** Type-checks `paths` from the repository root; fails with deno check's errors. */
export async function assertTypeChecks(paths: string[]): Promise<void> {
  const { code, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["check", "--quiet", "--no-lock", ...paths],
    cwd: new URL("../", import.meta.url),
    stdout: "null",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  assert.equal(code, 0, new TextDecoder().decode(stderr));
}
