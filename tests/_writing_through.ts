// A transport for tests: a real TCP connection whose writes pass through a
// function of the test's, which may look at each chunk, hold it, fail it or
// hand it on.
import type { Transport } from "../lib/transports/types.ts";
import { connect } from "./_net.ts";

/**
 * A transport to `127.0.0.1:port` whose writes go through `write`, given
 * each chunk and the connection's own writer.
 */
export function writingThrough(
  port: number,
  write: (chunk: Uint8Array, writer: WritableStreamDefaultWriter<Uint8Array>) => Promise<void>,
): Transport {
  return async () => {
    const conn = await connect({ hostname: "127.0.0.1", port });
    const writer = conn.writable.getWriter();
    return {
      readable: conn.readable,
      writable: new WritableStream<Uint8Array>({ write: (chunk) => write(chunk, writer) }),
      close: () => conn.close(),
    };
  };
}
