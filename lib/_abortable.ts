// Waiting on a promise that an AbortSignal or a time limit may cut short:
// shared by the core client and the reconnecting one.
import type { Pending } from "./_protocol_types.ts";
import { abortable, onAbort, WORKERD } from "./_abort_waits.ts";
export { abortable, onAbort, WORKERD };

/** A promise with its own settling functions (a wait that something else ends). */
export interface Settleable<T> extends Pending<T> {
  readonly promise: Promise<T>;
}

/** Makes a {@linkcode Settleable}: what several readers of one event wait on. */
export function settleable<T>(): Settleable<T> {
  let p!: Pending<T>;
  const promise = new Promise<T>((resolve, reject) => (p = { resolve, reject }));
  return { ...p, promise };
}

/**
 * A signal that never aborts: `abortable(p, never())` settles as
 * `abortable(p, signal)` does, turn for turn. Made on first use: workerd
 * allows no AbortController in a module's top level.
 */
export function never(): AbortSignal {
  if (neverSignal && !readable(neverSignal)) neverSignal = undefined;
  return neverSignal ??= new AbortController().signal;
}
let neverSignal: AbortSignal | undefined;

/**
 * Whether this code may read `signal`: workerd ties a signal to the request
 * that made it, and reading it in another request throws.
 */
export function readable(signal: AbortSignal): boolean {
  try {
    return signal.aborted || true;
  } catch {
    return false;
  }
}

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

/**
 * Waits for `answer` (never rejects), no longer than `ms` after `asked` has
 * gone out (`written` resolves), and until then no longer than `ms` after the
 * last bytes written on `link`: a request queued behind a large write on a
 * slow link is not given up while that write moves, but is once it is stuck
 * that long. Resolves whether the answer came in time.
 */
export async function answerWithin(
  answer: Promise<unknown>,
  written: Promise<unknown>,
  ms: number,
  link: { readonly lastWrite: number },
): Promise<boolean> {
  let settled = false, writtenAt = 0;
  const start = performance.now();
  written.then(() => (writtenAt = performance.now()), () => {});
  const answered = answer.then(() => (settled = true), () => (settled = true));
  for (let left = ms; left > 0 && !settled;) {
    await within(answered, left);
    left = (writtenAt || Math.max(start, link.lastWrite)) + ms - performance.now();
  }
  return settled;
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

// Withdraws the abort wait of a collected owner from its signal (see watchWeakly).
let unwatch: FinalizationRegistry<() => void> | null | undefined;

// Made apart: a closure over `owner` inside watchWeakly would keep it in the scope that the abort
// listener shares, and so hold it where WeakRef is there too.
const held = <T>(owner: T) => ({ deref: () => owner });

/**
 * Calls `aborted(owner, reason)` when `signal` aborts, holding `owner`
 * weakly: the wait goes once `owner` is collected, so that a long-lived
 * signal keeps neither. `aborted` must not hold `owner` itself. One of
 * {@linkcode onAbort}'s waits: owners by the dozen on one signal (an
 * application's robust clients) put one listener on it, not one each.
 */
export function watchWeakly<T extends object>(
  signal: AbortSignal,
  owner: T,
  aborted: (owner: T, reason: unknown) => void,
): void {
  // workerd has no WeakRef before compatibility date 2025-05-05: the owner is then held.
  const ref = typeof WeakRef === "function" ? new WeakRef(owner) : held(owner);
  const off = onAbort(signal, () => {
    const o = ref.deref();
    if (o) aborted(o, signal.reason);
  });
  // Made on first use: workerd runs nothing of the kind in a module's top level.
  unwatch ??= typeof FinalizationRegistry === "function"
    ? new FinalizationRegistry((f) => f())
    : null;
  unwatch?.register(owner, off);
}
