/**
 * Checks on the byte streams that the transport adapters make (Deno, Bun and
 * Node alike: no `Deno.*`).
 */
import assert from "node:assert/strict";

/**
 * Cancels a reader of `readable` while a BYOB read waits, and asserts that the
 * read ends (done) within a second. `StreamChannel.close()` cancels, then
 * waits for that read: Bun before 1.4 left it pending unless the source
 * answered it, and `disconnect()` never resolved there.
 */
export async function assertCancelEndsRead(readable: ReadableStream<Uint8Array>): Promise<void> {
  const reader = readable.getReader({ mode: "byob" });
  const read = reader.read(new Uint8Array(4096));
  const cancelled = reader.cancel();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const result = await Promise.race([
    read,
    new Promise<"pending">((r) => timer = setTimeout(() => r("pending"), 1000)),
  ]);
  clearTimeout(timer);
  assert.notEqual(result, "pending", "the read was still pending 1 s after cancel()");
  assert.equal((result as ReadableStreamReadResult<Uint8Array>).done, true);
  await cancelled;
}
