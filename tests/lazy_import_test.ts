// The default connector imports each runtime's adapter once per process
// (lib/transports/_lazy.ts): an import() of a module already loaded costs
// Deno a resolve each time. A failed import must not stick: the next
// connect tries again.
import assert from "node:assert/strict";
import { lazy } from "../lib/transports/_lazy.ts";
import { test } from "./_test.ts";

test("lazy() loads on the first call only, and every call gets the same module", async () => {
  let loads = 0;
  const mod = { connect: () => "tcp" };
  const get = lazy(() => (loads++, Promise.resolve(mod)));
  assert.equal(loads, 0);
  const [a, b] = await Promise.all([get(), get()]);
  assert.equal(await get(), mod);
  assert.equal(a, mod);
  assert.equal(b, mod);
  assert.equal(loads, 1);
});

test("lazy() loads again after a failed load, and keeps the load that worked", async () => {
  let loads = 0;
  const get = lazy(() =>
    ++loads === 1 ? Promise.reject(new TypeError("module fetch failed")) : Promise.resolve(loads)
  );
  await assert.rejects(get(), { name: "TypeError", message: "module fetch failed" });
  assert.equal(await get(), 2);
  assert.equal(await get(), 2);
  assert.equal(loads, 2);
});
