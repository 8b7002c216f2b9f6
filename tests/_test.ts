/**
 * Test registration that keeps Deno's leak sanitizers on, plus small helpers
 * every client test needs (fresh ids, bounded waits).
 *
 * Deno 2.9 leaves the op/resource sanitizers off unless asked for, and
 * `node:test` tests never get them, so a leaked keepalive timer or socket
 * would pass silently. Registering through {@linkcode test} asks for them
 * under Deno and falls back to `node:test` under Bun and Node.
 *
 * @module
 */
import { test as nodeTest } from "node:test";
// A cycle (_brokers.ts registers its tests through here), safe because each
// side uses the other's functions only when called, never while loading.
import { brokerKinds } from "./_brokers.ts";

/** Options for {@linkcode test}. */
export interface TestOptions {
  /** Fail the test if it has not settled after this many milliseconds. */
  timeout?: number;
  /** Register the test but do not run it (reported as ignored/skipped). */
  ignore?: boolean;
  /**
   * The test starts its own mosquitto: ignore it where mosquitto is not
   * installed, but throw at registration under `CI=true` (see `brokerKinds`).
   */
  mosquitto?: boolean;
}

/**
 * Registers a test: `Deno.test` with `sanitizeOps` and `sanitizeResources`
 * under Deno, `node:test`'s `test` elsewhere.
 *
 * @example
 * ```ts ignore
 * test("QoS 1 publish resolves only after PUBACK", async () => {});
 * ```
 */
export function test(
  name: string,
  fn: () => Promise<void> | void,
  opts: TestOptions = {},
): void {
  const { timeout } = opts;
  const ignore = opts.ignore === true ||
    (opts.mosquitto === true && !brokerKinds().includes("mosquitto"));
  if ("Deno" in globalThis) {
    // Deno.test has no timeout option; withTimeout clears its timer, so the
    // wrapper itself never trips the op sanitizer.
    const run = timeout === undefined
      ? fn
      : () => withTimeout(Promise.resolve().then(fn), timeout, `test "${name}"`);
    Deno.test({ name, fn: run, sanitizeOps: true, sanitizeResources: true, ignore });
  } else {
    nodeTest(name, { skip: ignore, timeout }, async () => {
      await fn();
    });
  }
}

/**
 * Returns `prefix` plus 12 random hex digits, cut to 23 characters: a client
 * id every MQTT 3.1.1 broker must accept (MQTT-3.1.3-5), and a topic
 * segment no other test uses.
 *
 * @example
 * ```ts
 * import { uniqueId } from "./_test.ts";
 * const id = uniqueId("qos1");
 * if (id.length > 23 || !id.startsWith("qos1-")) throw new Error(id);
 * ```
 */
export function uniqueId(prefix = "umqtt"): string {
  const bytes = crypto.getRandomValues(new Uint8Array(6));
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  return `${prefix.slice(0, 10)}-${hex}`;
}

/**
 * Settles like `promise`, or rejects with `Timed out after <ms> ms waiting
 * for <what>` if it takes longer. The timer is cleared either way, so a
 * sanitized test that uses it leaks nothing.
 *
 * @example
 * ```ts
 * import { withTimeout } from "./_test.ts";
 * await withTimeout(Promise.resolve(1), 100, "a resolved promise");
 * ```
 */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`Timed out after ${ms} ms waiting for ${what}`)),
      ms,
    );
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Waits until `f()` holds, looking every 5 ms; throws `Timed out waiting
 * until <what>` after `ms`.
 *
 * @example
 * ```ts
 * import { until } from "./_test.ts";
 * let ready = false;
 * setTimeout(() => (ready = true), 10);
 * await until(() => ready, "ready");
 * ```
 */
export async function until(f: () => boolean, what: string, ms = 10_000): Promise<void> {
  for (const end = Date.now() + ms; !f();) {
    if (Date.now() > end) throw new Error(`Timed out waiting until ${what}`);
    await new Promise<void>((r) => setTimeout(r, 5));
  }
}

/**
 * mulberry32: a generator of numbers in [0, 1), as `Math.random`, that gives
 * the same ones in the same order for the same seed, so that a failing run's
 * random choices can be replayed.
 *
 * @example
 * ```ts
 * import { seeded } from "./_test.ts";
 * const a = seeded(42), b = seeded(42);
 * if (a() !== b() || a() !== b()) throw new Error("not replayable");
 * ```
 */
export function seeded(seed: number): () => number {
  return () => {
    seed = (seed + 0x6D2B79F5) >>> 0;
    let t = seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
