// A robust client given a long-lived AbortSignal (one for the whole
// application) can still be garbage-collected once dropped: the listener it
// adds to the signal holds it weakly. Measured in a process of its own,
// which needs --expose-gc.
import assert from "node:assert/strict";
import { test } from "./_test.ts";

test("a robust client given an application-wide signal is collected once dropped", async () => {
  const probe = new URL("./_retain_probe.ts", import.meta.url).pathname;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-config", "--v8-flags=--expose-gc", probe],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  assert.equal(out.code, 0, "the probe ran");
  const { withSignal, without, listeners, reasons } = JSON.parse(
    new TextDecoder().decode(out.stdout),
  );
  // Without a signal nearly all go (one or two may survive in a register or a cache).
  assert.ok(without <= 2, `without a signal, ${without} of 50 alive`);
  assert.ok(withSignal <= without + 2, `with one signal, ${withSignal} of 50 still alive`);
  // Nor do they leave their abort listeners on it once collected.
  assert.ok(listeners <= withSignal + 2, `${listeners} listeners left on the signal`);
  // Calls aborted while the client waits for its connection leave nothing on that wait.
  assert.ok(reasons <= 5, `${reasons} of 50 aborted calls' reasons still held`);
});
