// A publish aborted while it waits for a slot in the broker's Receive
// Maximum leaves nothing behind, though no slot ever frees up (a broker that
// stopped acknowledging): a long-running client that gives up such
// publishes by timeout must not pile them up. Measured in a process of its
// own, which needs --expose-gc.
import assert from "node:assert/strict";
import { test } from "./_test.ts";

test("publishes aborted while waiting for a Receive Maximum slot are let go at once", async () => {
  const probe = new URL("./_slot_probe.ts", import.meta.url).pathname;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--no-config", "--v8-flags=--expose-gc", probe],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  assert.equal(out.code, 0, "the probe ran");
  const { held } = JSON.parse(new TextDecoder().decode(out.stdout));
  assert.ok(held <= 5, `${held} of 50 aborted publishes' reasons still held`);
});
