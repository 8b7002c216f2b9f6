// A module imported on first use and kept for the process: an import() of a
// module already loaded still costs Deno 2.9 about 2 µs (it resolves the
// specifier again), and the default connector made two per connect, a tenth
// of a connect's CPU. Once loaded it is also there to call at once
// (`loaded`): a promise and a closure less per layer and connect.

/** `load()`'s promise, and the module itself once it has loaded. */
export interface Lazy<T> {
  (): Promise<T>;
  /** The module, once loaded: callers use it directly, without a turn. */
  loaded?: T;
}

/**
 * `load()`'s promise, made on the first call and returned by every later
 * one; after a failure the next call loads again (a module fetched over
 * the network may come next time). Its failure is an `Error`: a browser's
 * is a `TypeError`, which the client would take for its own (a transport
 * refusing its arguments) and not try again.
 */
export function lazy<T>(load: () => Promise<T>): Lazy<T> {
  let loading: Promise<T> | undefined;
  const get: Lazy<T> = () =>
    loading ??= load().then((m) => get.loaded = m, (e) => {
      loading = undefined;
      throw new Error(String(e?.message ?? e), { cause: e });
    });
  return get;
}
