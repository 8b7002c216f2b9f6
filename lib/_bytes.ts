// Byte helpers shared by the client, the CLI and the tests.
import type { Slab } from "./codec/_varint.ts";

/**
 * Joins byte chunks into one new buffer; a small one from `slab` when given
 * (bytes written, then dropped).
 */
export function concat(chunks: Uint8Array[], slab?: Slab): Uint8Array {
  if (chunks.length === 1) return chunks[0].slice();
  let n = 0;
  for (const c of chunks) n += c.length;
  const out = slab ? slab.take(n) : new Uint8Array(n);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}
