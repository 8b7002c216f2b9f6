// Waiting on a promise that an AbortSignal or a time limit may cut short:
// shared by the core client and the reconnecting one.

/** `p`, or a rejection with the signal's reason once it aborts (at once if it has). */
export function abortable<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return p;
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    // Handled even when the signal has already aborted: a later rejection of
    // `p` (the connection ending) must not go unhandled.
    p.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
    if (signal.aborted) return onAbort();
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * A signal that never aborts: `abortable(p, never())` settles as
 * `abortable(p, signal)` does, turn for turn. Made on first use: workerd
 * allows no AbortController in a module's top level.
 */
export function never(): AbortSignal {
  return neverSignal ??= new AbortController().signal;
}
let neverSignal: AbortSignal | undefined;

/** Waits for `p`, but no longer than `ms`. */
export async function within(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([p, new Promise((r) => (timer = setTimeout(r, ms)))]);
  clearTimeout(timer);
}

/** Resolves after `ms`, or as soon as `signal` aborts (at once if it has); never rejects. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}
