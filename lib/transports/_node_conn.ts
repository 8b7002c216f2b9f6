// A node:net TCP socket as direct read(buf)/write(bytes)/close(), which the
// client's channel (lib/_channel.ts) prefers to the streams, as it does a
// Deno.Conn's: no web stream between the socket and the client (Node's cost
// several µs a chunk each way), and the channel's read gathering applies.
// For that the socket reads only while a read is pending: through `onread`,
// node:net reads into one buffer, and a paused socket stops reading from the
// kernel (a paused net.Socket otherwise goes on reading into its queue), so
// a read put off for a timer turn gets what came meanwhile in one chunk.
import type { Socket } from "node:net";
import type { StreamPair } from "./types.ts";
import { concat } from "../_bytes.ts";

/** How long closing waits for written bytes to be flushed before it destroys the socket. */
const CLOSE_WAIT_MS = 2000;

/**
 * The error, named: a host with IPv6 and IPv4 addresses (often `localhost`)
 * is tried on each (autoSelectFamily) and fails with an AggregateError whose
 * message is empty, in Node, Bun and Deno's node:net: it takes its attempts'.
 */
export const named = (e: unknown): unknown =>
  e instanceof AggregateError && !e.message
    ? Object.assign(e, { message: e.errors.map((x) => x?.message).join("; ") })
    : e;

/**
 * Ends the socket and resolves once what was written is flushed, so that a
 * process may exit right after (bounded, for a peer that stops reading);
 * at once when the socket is gone.
 */
export function endSocket(
  socket: Socket | import("node:stream").Duplex,
  gone: boolean,
): Promise<void> {
  return new Promise<void>((resolve) => {
    if (socket.destroyed || gone) return resolve(void socket.destroy());
    const timer = setTimeout(() => {
      socket.destroy();
      resolve();
    }, CLOSE_WAIT_MS);
    socket.end(() => {
      clearTimeout(timer);
      socket.destroy();
      resolve();
    });
  });
}

/**
 * Writes `p` to `socket`: nothing to wait for (undefined) when node:net took
 * it under its high-water mark, else a promise of "drain".
 *
 * @throws {Error} The socket is destroyed; the promise rejects if it closes first.
 */
export function writeSocket(
  socket: import("node:stream").Duplex,
  p: Uint8Array,
): Promise<void> | undefined {
  if (socket.destroyed) throw new Error("The socket is closed");
  if (socket.write(p)) return undefined;
  return new Promise((resolve, reject) => {
    const settle = () => {
      socket.off("drain", settle).off("close", settle);
      socket.destroyed ? reject(new Error("The socket closed before drain")) : resolve();
    };
    socket.on("drain", settle).on("close", settle);
  });
}

/**
 * Where every connection's reads land: `onread` hands the bytes over at
 * once and they are copied out before it returns, so one buffer serves all
 * (an idle connection pins none).
 */
let shared: Uint8Array | undefined;
/** The `onread` option for `net.connect` that feeds `conn`. */
export const onread = (
  conn: NodeConn,
): { buffer: Uint8Array; callback(n: number, b: Uint8Array): boolean } => ({
  buffer: shared ??= new Uint8Array(65_536),
  callback: (n, b) => conn.got(new Uint8Array(b.buffer, b.byteOffset, n)),
});

/** A connected TCP socket made with {@linkcode onread}, as a Conn and a StreamPair. */
export class NodeConn implements StreamPair {
  #socket!: Socket;
  /** Bytes read while no read was pending (the socket is paused until they are taken). */
  #stash: Uint8Array | null = null;
  #want: Uint8Array | null = null;
  #answer: ((n: number | null) => void) | null = null;
  #fail: ((e: unknown) => void) | null = null;
  #paused = false;
  /** The pending read takes the kept bytes and what comes until its setImmediate. */
  #gathering = false;
  /** The socket ended (null), failed (the error), or is open (undefined). */
  #end: unknown = undefined;
  #closing: Promise<void> | undefined;
  #readable: ReadableStream<Uint8Array> | undefined;
  #writable: WritableStream<Uint8Array> | undefined;

  /** Reads from `socket` (made with `onread: onread(this)`) from now on. */
  attach(socket: Socket): this {
    this.#socket = socket;
    const finish = (e: unknown) => {
      if (this.#end !== undefined) return;
      this.#end = e;
      // A gathering read is answered by its flush, with the bytes kept.
      if (!this.#answer || this.#gathering) return;
      const fail = this.#fail!;
      if (e === null) this.#settle(null);
      else {
        this.#answer = this.#fail = this.#want = null;
        fail(e);
      }
    };
    socket.once("end", () => finish(null));
    socket.once("close", () => finish(null));
    socket.on("error", (e) => finish(named(e)));
    // Flowing, so that "end" is emitted; reading is paused and resumed below.
    socket.resume();
    return this;
  }

  /** From `onread`: the bytes in the shared buffer, for the pending read or kept. False pauses. */
  got(bytes: Uint8Array): boolean {
    if (this.#closing) return true; // read on to see the peer's FIN, dropping what comes
    const want = this.#want;
    if (want && !this.#gathering) {
      const n = Math.min(bytes.length, want.length);
      want.set(n === bytes.length ? bytes : bytes.subarray(0, n));
      this.#settle(n);
      if (n === bytes.length) return true;
      bytes = bytes.subarray(n);
    }
    const stash = this.#stash;
    // A copy either way: `bytes` is the shared buffer, read into again next.
    this.#stash = concat(stash ? [stash, bytes] : [bytes]);
    // A read that takes the rest of this turn's bytes reads on until they fill it.
    if (this.#gathering && this.#stash.length < this.#want!.length) return true;
    if (this.#gathering) this.#flush();
    if (!this.#stash) return true;
    this.#paused = true;
    return false;
  }

  #settle(n: number | null): void {
    const answer = this.#answer!;
    this.#answer = this.#fail = this.#want = null;
    answer(n);
  }

  /** Moves kept bytes into `p`. */
  #take(p: Uint8Array): number {
    const stash = this.#stash!;
    const n = Math.min(stash.length, p.length);
    p.set(n === stash.length ? stash : stash.subarray(0, n));
    this.#stash = n === stash.length ? null : stash.subarray(n);
    return n;
  }

  /** Reads into `p`: the count of bytes, or null at the end of the stream. */
  read(p: Uint8Array): Promise<number | null> {
    const stash = this.#stash;
    if (stash && (stash.length >= p.length || !this.#paused || this.#end !== undefined)) {
      return Promise.resolve(this.#take(p));
    }
    if (!stash && this.#end !== undefined) {
      return this.#end === null ? Promise.resolve(null) : Promise.reject(this.#end);
    }
    return new Promise((resolve, reject) => {
      this.#want = p;
      this.#answer = resolve;
      this.#fail = reject;
      if (stash) {
        // Bytes kept while paused: what came since waits in the kernel. The
        // read takes both, after one turn of reading, as one chunk: so a
        // read put off to gather (lib/_channel.ts) gets what gathered.
        this.#gathering = true;
        setImmediate(this.#turn);
      }
      if (this.#paused) {
        this.#paused = false;
        this.#socket.resume();
      }
    });
  }

  /** Answers the gathering read with what was kept (the rest stays kept). */
  #flush(): void {
    this.#gathering = false;
    if (this.#want) this.#settle(this.#take(this.#want));
  }

  // Made once per connection, not per read.
  readonly #turn = (): void => {
    if (!this.#gathering) return; // filled, or closed, meanwhile
    this.#flush();
    if (this.#stash && !this.#paused) {
      this.#paused = true;
      this.#socket.pause();
    }
  };

  /** Writes all of `p`; resolves once node:net took it, or after "drain". */
  write(p: Uint8Array): Promise<number> {
    try {
      const drained = writeSocket(this.#socket, p);
      return drained ? drained.then(() => p.length) : Promise.resolve(p.length);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** Ends the socket once what was written is flushed; a pending read ends (null). */
  close(): Promise<void> {
    if (this.#closing) return this.#closing;
    const gone = this.#end !== undefined;
    this.#stash = null;
    if (this.#answer) this.#settle(null);
    this.#closing = endSocket(this.#socket, gone);
    if (this.#paused) {
      this.#paused = false;
      this.#socket.resume();
    }
    return this.#closing;
  }

  /** The bytes read, as a stream, for a user of the pair (the client calls read()). */
  get readable(): ReadableStream<Uint8Array> {
    return this.#readable ??= new ReadableStream({
      type: "bytes",
      autoAllocateChunkSize: 16_384,
      pull: async (c) => {
        const v = c.byobRequest!.view!;
        const n = await this.read(new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
        if (n !== null) return c.byobRequest!.respond(n);
        c.close();
        c.byobRequest?.respond(0);
      },
      cancel: () => this.close(),
    }) as ReadableStream<Uint8Array>;
  }

  /** The bytes to write, as a stream, for a user of the pair. */
  get writable(): WritableStream<Uint8Array> {
    return this.#writable ??= new WritableStream<Uint8Array>({
      write: async (chunk) => void await this.write(chunk),
      close: () => this.close(),
      abort: () => void this.#socket.destroy(),
    });
  }
}
