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
  const failure = new TypeError("module fetch failed");
  const get = lazy(() => ++loads === 1 ? Promise.reject(failure) : Promise.resolve(loads));
  // A browser's failed import() is a TypeError, which the client counts as its own mistake (a
  // transport refusing its arguments) and a robust client does not retry: it comes as an Error.
  await assert.rejects(get(), (e: Error) => {
    assert.equal(e.constructor, Error);
    assert.equal(e.message, "module fetch failed");
    assert.equal(e.cause, failure);
    return true;
  });
  assert.equal(await get(), 2);
  assert.equal(await get(), 2);
  assert.equal(loads, 2);
});
