// The part of _abortable.ts the TCP transports use (deno.ts, _tcp.ts), in a
// module of its own: they are loaded on first use (import()), so a bundle
// holding both defers everything they import, and the rest of _abortable.ts,
// which every part of the client uses, stays out of that (esbuild wraps each
// deferred module in a lazy initialiser, called before each use).

interface Waiter {
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

// The waits on each promise `abortable()` was given, still pending: one
// reaction per promise settles them all, in the order they began. An aborted
// wait leaves nothing on its promise, which may stay pending long (a
// reconnect through an outage, while calls with a timeout come and go).
const WAITS = new WeakMap<Promise<unknown>, Set<Waiter>>();

// The waits each signal ends, run by one listener of its own: adding a
// listener looks through those already there (Deno, Bun and Node), and Node
// warns past 10. 40 000 publishes waiting offline on one took 6 s to make.
const ABORTS = new WeakMap<AbortSignal, Aborts>();

/** `p`, or a rejection with the signal's reason once it aborts (at once if it has). */
export function abortable<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return p;
  let waits = WAITS.get(p);
  if (!waits) {
    // Made even when the signal has already aborted: a later rejection of
    // `p` (the connection ending) must not go unhandled.
    const all = waits = new Set();
    WAITS.set(p, all);
    const settle = (each: (w: Waiter) => void) => {
      WAITS.delete(p);
      for (const w of all) each(w);
    };
    p.then((v) => settle((w) => w.resolve(v)), (e) => settle((w) => w.reject(e)));
  }
  if (signal.aborted) return Promise.reject(signal.reason);
  const all = waits;
  return new Promise<T>((resolve, reject) => {
    const off = onAbort(signal, () => (all.delete(w), reject(signal.reason)));
    const w: Waiter = {
      resolve: (v) => (off(), resolve(v as T)),
      reject: (e) => (off(), reject(e)),
    };
    all.add(w);
  });
}

/** The waits one signal ends (see `ABORTS`), and its one listener. */
class Aborts extends Set<() => void> {
  handleEvent(): void {
    this.forEach((f) => f());
  }
}

/** Runs `fn` once `signal` aborts (see `ABORTS`); returns what withdraws it. */
export function onAbort(signal: AbortSignal, fn: () => void): () => void {
  let on = ABORTS.get(signal);
  if (!on) {
    ABORTS.set(signal, on = new Aborts());
    signal.addEventListener("abort", on, { once: true });
  }
  const set = on.add(fn);
  // The last wait withdrawn takes the listener with it: a long-lived signal keeps nothing.
  return () => {
    if (set.delete(fn) && !set.size) {
      ABORTS.delete(signal);
      signal.removeEventListener("abort", set);
    }
  };
}

/**
 * Whether this is workerd (Cloudflare Workers): timers, signals and sockets
 * are per request. Its global `navigator` came with compatibility date
 * 2022-03-21; `WebSocketPair`, its own, is there whatever the date.
 */
export const WORKERD: boolean =
  (globalThis as { navigator?: { userAgent?: string } }).navigator?.userAgent ===
    "Cloudflare-Workers" || "WebSocketPair" in globalThis;
