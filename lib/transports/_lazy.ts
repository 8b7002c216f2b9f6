// A module imported on first use and kept for the process: an import() of a
// module already loaded still costs Deno 2.9 about 2 µs (it resolves the
// specifier again), and the default connector made two per connect, a tenth
// of a connect's CPU.

/**
 * `load()`'s promise, made on the first call and returned by every later
 * one; after a failure the next call loads again (a module fetched over
 * the network may come next time).
 */
export function lazy<T>(load: () => Promise<T>): () => Promise<T> {
  let loading: Promise<T> | undefined;
  return () =>
    loading ??= load().catch((e) => {
      loading = undefined;
      throw e;
    });
}
