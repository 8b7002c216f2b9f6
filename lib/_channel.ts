// The client's byte source and sink over a StreamPair. Two implementations:
// direct read(buf)/write(bytes) where the transport offers them (a Deno.Conn),
// which skips the streams' per-chunk cost, and the streams otherwise, read
// with a BYOB reader where the stream is a byte stream so that an idle
// connection pins a small buffer, not the default reader's 64 KiB.
import { Slab, view } from "./codec/_varint.ts";
import { readable } from "./codec/_strings.ts";
import type { StreamPair } from "./transports/types.ts";

/**
 * Where a channel's reads go. Called once per read(), from a promise
 * reaction: an idle connection holds one pending read and no suspended
 * async function, whose frames, promises and resume closures would cost
 * about 1 KB per connection.
 */
export interface ReadSink {
  /**
   * The bytes read, in a buffer never reused afterwards; null at end of
   * stream. `at`: when the read completed (performance.now()), if the
   * channel looked at the clock (a call costs about as much as handling an ack).
   */
  data(ch: Channel, chunk: Uint8Array | null, at?: number): void;
  /** The read failed. */
  failed(ch: Channel, error: unknown): void;
}

/** Told of a large write's progress. */
export interface WriteProgress {
  /** Part of the bytes went out (a piece of at most WRITE_PIECE bytes, not the last). */
  written(): void;
}

/** What the client core reads from and writes to. */
export interface Channel {
  /** Reads the next bytes, for `sink`: one read at a time. */
  read(sink: ReadSink): void;
  /** The sink of the last read. */
  readonly sink: ReadSink | null;
  /**
   * Of the write under way, or the last one, the bytes the transport has
   * taken so far (the rest never left): after a failed write, what may have
   * reached the peer.
   */
  readonly taken: number;
  /**
   * Writes all of `bytes`, more than WRITE_PIECE of them in pieces, telling
   * `progress` of each piece but the last.
   */
  write(bytes: Uint8Array, progress?: WriteProgress): Promise<void>;
  /** Closes both directions; a pending read ends. Never throws. */
  close(): Promise<void>;
  /**
   * Gathers the packet being read: the rest of a large one is read straight
   * into its body (see Framer.room), not copied there from each chunk.
   */
  framer?: { room(min: number): Uint8Array | null };
}

interface Conn {
  read(p: Uint8Array): Promise<number | null>;
  write(p: Uint8Array): Promise<number>;
  /** A node:net socket's (NodeConn) settles once what was written is flushed, bounded. */
  close(): void | Promise<void>;
}

// An idle connection holds one pending read of MIN_READ bytes: keep it small.
const MIN_READ = 64;
/**
 * Where each chunk read is copied: a small one (up to SLAB_MAX bytes) into a
 * shared slab, as a buffer of its own (an ArrayBuffer each) costs about a
 * microsecond, more than the rest of handling an ack. A message kept from
 * such a chunk keeps its slab alive (8 KiB, as Node's Buffer pool).
 */
const CHUNKS = new Slab(8192);
const MAX_READ = 65_536;
/**
 * Most bytes handed to the transport in one write: a large PUBLISH on a
 * slow link goes in pieces, and each piece written shows the keepalive that
 * the link still moves while its PINGREQ waits behind it.
 */
const WRITE_PIECE = 65_536;
/**
 * How long close() waits for queued writes before closing anyway, and the
 * client's disconnect() for its DISCONNECT to be written.
 */
export const CLOSE_WAIT_MS = 2000;

/**
 * Reads below SMALL_READ bytes, each answered within FAST_READ_US of being
 * issued, GATHER_AFTER in a row with nothing written since, mean a fast
 * stream arriving in small segments: the next read waits one timer turn
 * (1–2 ms in Deno). It goes on waiting while each wait gathers SMALL_READ
 * bytes or more; a wait that gathers less ends it.
 *
 * Why: a broker that writes each packet as it routes it, with Nagle's
 * algorithm on (mosquitto's default), sends the next segment as soon as the
 * last one is acknowledged, and Linux acknowledges at once when the reader
 * empties its socket buffer after a small segment. A reader that keeps up
 * thus keeps the segments small: measured through mosquitto, ~230 bytes per
 * read against ~60 KB once it falls behind, and 7× the CPU per QoS 0
 * message (2.9 against 0.4 µs), in runs that differed only in which of the
 * two states the first milliseconds chose. Waiting lets the broker's writes
 * gather. But a reader that waits also acknowledges later, and a slower
 * stream then sits behind the broker's Nagle for a delayed ACK (~40 ms):
 * hence the long streak before waiting, and the end of it as soon as a wait
 * gathers little. A write issues a waiting read at once (a PUBACK, the next
 * publish: the reply may come soon). bench/RESULTS.md has the measurements.
 */
export const SMALL_READ = 4096;
const FAST_READ_US = 50;
/**
 * `performance.now()` in whole microseconds, wrapped to 32 bits: a small
 * integer, which a field holds unboxed (a fraction costs a heap number per
 * connection). A difference taken with `>>> 0` is right across a wrap, up to
 * 71.6 minutes: a read pending for a multiple of that, give or take 50 µs,
 * would count as fast (one step of a streak that needs GATHER_AFTER).
 */
const usNow = (): number => (performance.now() * 1000) | 0;
/** Reads like that in a row before the next waits. */
export const GATHER_AFTER = 8;

/** Grows the read buffer while reads fill it, shrinks it when they do not. */
function nextSize(size: number, got: number): number {
  if (got === size) return Math.min(size * 2, MAX_READ);
  if (got < size >> 2) return Math.max(size >> 1, MIN_READ);
  return size;
}

/**
 * Size of a reused read buffer: a large one costs nothing per read, so a read
 * that fills it moves up a step (MIN_READ, SMALL_READ, MAX_READ: one read
 * then takes all that is waiting), and one that comes in small moves down,
 * for the read it leaves pending is what a quiet connection pins: a message
 * of a few hundred bytes leaves SMALL_READ pending, not MAX_READ (10 000 such
 * connections: 40 MB, not 640), and an ack or a PINGRESP MIN_READ.
 */
function reuseSize(size: number, got: number): number {
  if (got === size) return size < SMALL_READ ? SMALL_READ : MAX_READ;
  if (got < MIN_READ) return MIN_READ;
  if (got < SMALL_READ && size > SMALL_READ) return SMALL_READ;
  return size;
}

/** Makes the channel for a transport's stream pair. */
export function channel(pair: StreamPair): Channel {
  // With `in`: reading a Deno.Conn's `readable` would make its stream (a KB per idle connection).
  if (typeof pair !== "object" || pair === null || !("readable" in pair) && !("read" in pair)) {
    throw new TypeError(
      `Invalid transport: it gave ${pair === null ? "null" : typeof pair}${
        typeof pair === "object" && pair !== null ? " without readable" : ""
      }, not a StreamPair { readable, writable }`,
    );
  }
  const conn = pair as unknown as Partial<Conn>;
  if (
    typeof conn.read === "function" && typeof conn.write === "function" &&
    typeof conn.close === "function"
  ) {
    return new ConnChannel(conn as Conn);
  }
  return new StreamChannel(pair);
}

/**
 * Over direct read(buf)/write(bytes). One read buffer for the connection's
 * life; each read hands out a copy of just the bytes read. Copying n bytes
 * is cheaper than zero-filling a fresh buffer of `size` per read, and a
 * small copy (an ack) lives on the JS heap.
 */
class ConnChannel implements Channel {
  taken = 0;
  framer?: { room(min: number): Uint8Array | null };
  /** Where the pending read goes, when not #buf: a packet body's room. */
  #room: Uint8Array | null = null;
  readonly #conn: Conn;
  #buf = new Uint8Array(MIN_READ);
  #closed = false;
  /** Settles once the transport is closed (close() awaits it); none made until then. */
  #done: Promise<unknown> | undefined;
  #sink: ReadSink | null = null;
  /** When the pending read was issued (usNow()). */
  #issued = 0;
  /** Small reads answered at once in a row, with nothing written since. */
  #streak = 0;
  /** The pending read waited for a timer turn. */
  #waited = false;
  /** The timer a gathering read waits for. */
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(conn: Conn) {
    this.#conn = conn;
  }

  get sink(): ReadSink | null {
    return this.#sink;
  }

  read(sink: ReadSink): void {
    this.#sink = sink;
    // Decided a turn later: what the last chunk caused may be on its way to write().
    if (this.#streak >= GATHER_AFTER) queueMicrotask(() => this.#gatherOrRead());
    else this.#readNow();
  }

  // Methods, not per-channel closures: an idle connection keeps its channel.
  #gatherOrRead(): void {
    if (this.#streak >= GATHER_AFTER && !this.#closed) {
      this.#timer = setTimeout(() => this.#readNow(true), 0);
    } else this.#readNow();
  }

  #readNow(waited = false): void {
    this.#timer = undefined;
    this.#waited = waited;
    if (this.#closed) return this.#sink!.data(this, null);
    this.#issued = usNow();
    try {
      this.#room = this.framer?.room(MAX_READ) ?? null;
      this.#conn.read(this.#room ?? this.#buf).then(this.#onRead, this.#onFail);
    } catch (e) {
      queueMicrotask(() => this.#onFail(e));
    }
  }

  // Made once per channel, not per read; bound methods, 48 B each, where two arrow functions
  // cost 56 B each and their shared context 40.
  readonly #onRead = this.#read.bind(this);
  readonly #onFail = this.#fail.bind(this);

  #read(n: number | null): void {
    if (n === null) return this.#sink!.data(this, null);
    // Read once, for the streak and for the sink (the connection's last read).
    const now = performance.now();
    if (this.#waited) {
      // A wait that gathered little: the stream is not that fast, read as it comes.
      if (n < SMALL_READ) this.#streak = 0;
    } else {
      const fast = n < SMALL_READ && ((now * 1000 | 0) - this.#issued) >>> 0 < FAST_READ_US;
      this.#streak = fast ? Math.min(this.#streak + 1, GATHER_AFTER) : 0;
    }
    // Read into a body's room: the bytes are where the framer wants them, not to be reused.
    if (this.#room) return this.#sink!.data(this, view(this.#room, 0, n), now);
    const buf = this.#buf;
    const chunk = CHUNKS.copy(n === buf.length ? buf : view(buf, 0, n));
    const size = reuseSize(buf.length, n);
    if (size !== buf.length) this.#buf = new Uint8Array(size);
    this.#sink!.data(this, chunk, now);
  }

  #fail(e: unknown): void {
    if (this.#closed) this.#sink!.data(this, null);
    else this.#sink!.failed(this, e);
  }

  async write(bytes: Uint8Array, progress?: WriteProgress): Promise<void> {
    this.#streak = 0;
    // A read put off for its timer is issued now: the reply may come soon.
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#readNow();
    }
    // Deno.Conn.write may take only part of what it is given; a call that fails takes nothing.
    this.taken = 0;
    for (let off = 0; off < bytes.length;) {
      if (off > 0) progress?.written();
      this.taken = off += await this.#conn.write(bytes.subarray(off, off + WRITE_PIECE));
    }
  }

  close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      try {
        this.#done = Promise.resolve(this.#conn.close()).catch(() => {});
      } catch { /* already closed by the peer */ }
      // A read waiting for its timer ends now, as a pending read does.
      if (this.#timer !== undefined) {
        clearTimeout(this.#timer);
        queueMicrotask(() => this.#readNow());
      }
    }
    return (this.#done ?? Promise.resolve()) as Promise<void>;
  }
}

/**
 * Over the streams, read with a BYOB reader where the stream is a byte
 * stream, so that an idle connection pins a small buffer, not the default
 * reader's 64 KiB.
 */
class StreamChannel implements Channel {
  taken = 0;
  readonly #pair: StreamPair;
  readonly #byob: ReadableStreamBYOBReader | null = null;
  readonly #reader: ReadableStreamDefaultReader<Uint8Array> | null = null;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  #size = MIN_READ;
  #closed = false;
  /** The read side ended (the peer closed, or it failed): nothing written can arrive now. */
  #ended = false;

  constructor(pair: StreamPair) {
    this.#pair = pair;
    try {
      this.#byob = pair.readable.getReader({ mode: "byob" });
    } catch {
      this.#reader = pair.readable.getReader();
    }
    this.#writer = pair.writable.getWriter();
  }

  #sink: ReadSink | null = null;

  get sink(): ReadSink | null {
    return this.#sink;
  }

  read(sink: ReadSink): void {
    this.#sink = sink;
    try {
      if (this.#byob) this.#byob.read(new Uint8Array(this.#size)).then(this.#onByob, this.#onFail);
      else this.#reader!.read().then(this.#onRead, this.#onFail);
    } catch (e) {
      queueMicrotask(() => this.#onFail(e));
    }
  }

  // Made once per channel, not per read (bound methods: see ConnChannel's).
  readonly #onByob = this.#readByob.bind(this);
  readonly #onRead = this.#read.bind(this);
  readonly #onFail = this.#fail.bind(this);

  #readByob({ value, done }: ReadableStreamReadResult<Uint8Array>): void {
    if (done || !value) return this.#end();
    this.#size = nextSize(this.#size, value.length);
    this.#sink!.data(this, value);
  }

  #read({ value, done }: ReadableStreamReadResult<Uint8Array>): void {
    if (done) return this.#end();
    try {
      // A transport of one's own (in JavaScript) may give an ArrayBuffer: it would read as nothing.
      readable(value, "chunk from the transport");
    } catch (e) {
      return this.#fail(e);
    }
    this.#sink!.data(this, value);
  }

  #end(): void {
    this.#ended = true;
    this.#sink!.data(this, null);
  }

  #fail(e: unknown): void {
    this.#ended = true;
    if (this.#closed) this.#sink!.data(this, null);
    else this.#sink!.failed(this, e);
  }

  write(bytes: Uint8Array, progress?: WriteProgress): Promise<void> {
    // A stream says nothing of what a failed write took: a piece failing counts as none of it.
    this.taken = 0;
    return bytes.length <= WRITE_PIECE ? this.#writer.write(bytes) : this.#pieces(bytes, progress);
  }

  async #pieces(bytes: Uint8Array, progress: WriteProgress | undefined): Promise<void> {
    for (let off = 0; off < bytes.length; off += WRITE_PIECE) {
      if (off > 0) progress?.written();
      await this.#writer.write(bytes.subarray(off, off + WRITE_PIECE));
      this.taken = Math.min(off + WRITE_PIECE, bytes.length);
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const writer = this.#writer;
    if (this.#ended) {
      // The peer closed: a write stuck on it can never arrive. It fails now, as
      // pair.close() ends the connection, not after CLOSE_WAIT_MS (by then the
      // robust client has reconnected, and would take it as a new connection's).
      void writer.abort().catch(() => {});
    } else {
      // Bounded: behind a write stuck on a peer that stopped reading,
      // writer.close() never settles; pair.close() then ends the connection.
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        Promise.allSettled([
          (this.#byob ?? this.#reader!).cancel(),
          writer.close().catch(() => writer.abort()),
        ]),
        new Promise((resolve) => (timer = setTimeout(resolve, CLOSE_WAIT_MS))),
      ]);
      clearTimeout(timer);
    }
    try {
      await this.#pair.close?.();
    } catch { /* already closed */ }
  }
}
