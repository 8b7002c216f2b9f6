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

/**
 * How late (ms) a timer may fire and still be believed: later than that, the
 * event loop was held up (the application's synchronous code, a debugger, a
 * long GC), and what the network delivered meanwhile is not handled yet.
 */
export const LATE_MS = 20;

/**
 * Calls `expired` once `ms` have passed: a time limit on the network. A
 * timer that fires more than `LATE_MS` late waits once more, as long as it was
 * late (at most `ms`): the time the event loop was held up does not count
 * against the peer, whose answer may be read but not handled yet, or whose
 * request went out late. Returns what cancels it.
 */
export function timeLimit(ms: number, expired: () => void): () => void {
  const due = performance.now() + ms;
  let timer = setTimeout(() => {
    const late = performance.now() - due;
    if (late <= LATE_MS) return expired();
    timer = setTimeout(expired, Math.min(late, ms));
  }, ms);
  return () => clearTimeout(timer);
}

/** Waits for `p`, but no longer than `ms` (a {@linkcode timeLimit}). */
export async function within(p: Promise<unknown>, ms: number): Promise<void> {
  let cancel: (() => void) | undefined;
  await Promise.race([p, new Promise<void>((r) => (cancel = timeLimit(ms, r)))]);
  cancel!();
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
