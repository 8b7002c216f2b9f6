// The client's outgoing bytes on its current channel: packets written by one
// run of code (before its next await) go out in one write, those written
// while a write is under way together in the next one, and so do those
// written while the reader holds writes back ("corked") to hand out a chunk.
import type { Channel } from "./_channel.ts";
import { concat } from "./_bytes.ts";
import { SHORT_LIVED } from "./codec/_varint.ts";
import { type Settleable, settleable } from "./_abortable.ts";
import { MQTTConnectionError } from "./errors.ts";

/** Who is told how writes went. */
export interface WriterOwner {
  /**
   * Bytes went out: a whole write, with `sent` the count of packets written
   * so far (see {@linkcode Writer.write}); without it, part of a large one.
   */
  written(sent?: number): void;
  /** A write failed: the connection on `ch` is lost. */
  writeFailed(error: MQTTConnectionError, ch: Channel): void;
  /** Told when a packet whose answer a caller may await is queued (none: no reader waits). */
  readonly inbox?: { asked(): void };
}

/**
 * The packets a caller awaits the broker's answer to, by type (bit n: type
 * n): PUBREL, SUBSCRIBE, UNSUBSCRIBE, PINGREQ and AUTH; and a PUBLISH of QoS
 * 1 or 2. Not the acknowledgements of received messages: a consumer's PUBACKs
 * leave the reader waiting for it (see Inbox.drained).
 */
const ASKS = 0x9540;

// Shared by every writer with nothing queued: never pushed to.
const NONE: never[] = [];

/**
 * A batch of up to this many bytes goes in one write, its packets joined; a
 * larger one in writes of about this size, runs of small packets joined and
 * large ones written as they are: 200 unawaited publishes of 1 MB held twice
 * their size while a write was stuck, in a copy made only to be written.
 */
const JOIN_MAX = 65_536;

/**
 * Queued and not yet in a write: past this many bytes, or packets, the
 * reader waits (see {@linkcode Writer.held}). A broker that sends packets to
 * be answered (PUBRELs, QoS 1 messages) and never reads grew the answers at
 * ~450 MB/s; the keepalive then finds it dead, its PINGREQ unwritten.
 */
const HOLD_BYTES = 1_048_576, HOLD_PACKETS = 16_384;

/**
 * Batches whose write failed (the promises {@linkcode Writer.send} returns):
 * how many of the write's first bytes the transport had taken, which may
 * have reached the peer (the rest never left). A batch that failed before its
 * write began (the connection was lost under the one before) has no entry:
 * none of it left.
 */
export const WRITTEN: WeakMap<Promise<void>, number> = new WeakMap();

/**
 * `chunks` joined into one buffer: from the slab every client shares, but for a batch that holds a
 * CONNECT or an AUTH, whose credentials or Authentication Data another client's chunks' `.buffer`
 * would show (reauthenticate() and what is written beside it go in one write).
 */
const joined = (chunks: Uint8Array[]) =>
  concat(chunks, chunks.some((c) => c[0] === 0x10 || c[0] === 0xf0) ? undefined : SHORT_LIVED);

/** Channels detached, and why: a write cut short by that rejects with the reason. */
const LOST: WeakMap<Channel, Error> = new WeakMap();

/** Batches and writes a client's packets on one channel at a time. */
export class Writer {
  /** DISCONNECT is queued: nothing more goes out on this channel (MQTT-3.14.4-2). */
  sealed = false;
  #ch: Channel | null = null;
  #out: Uint8Array[] = NONE;
  // Bytes in #out.
  #outBytes = 0;
  // One promise for all the bytes going out together, made only when awaited.
  #batch: Settleable<void> | null = null;
  // The channel a write loop runs for: a write stuck on a dead connection
  // must not hold back the next connection's CONNECT.
  #flushing: Channel | null = null;
  #corked = false;
  // Settled once the queued bytes go into a write (or the channel is gone): the reader waits on it.
  #moved: Settleable<void> | null = null;
  // Packets queued so far, and written (or dropped with their channel) so far.
  #queued = 0;
  #sent = 0;
  readonly #owner: WriterOwner;

  /** @param owner Told of each write that went through, and of a failed one. */
  constructor(owner: WriterOwner) {
    this.#owner = owner;
  }

  /** Writes go to `ch` from now on. */
  attach(ch: Channel): void {
    this.#ch = ch;
    this.sealed = false;
  }

  /** The channel is gone: what waited for a write rejects with `error`, unwritten bytes are dropped. */
  detach(error: Error): void {
    if (this.#ch) LOST.set(this.#ch, error);
    this.#ch = null;
    this.#batch?.reject(error);
    this.#batch = null;
    this.#out = NONE;
    this.#outBytes = 0;
    this.#sent = this.#queued;
    this.#corked = false;
    this.#move();
  }

  /**
   * For the reader, before its next read: settles once the packets queued
   * go into a write, when they are over `HOLD_BYTES` or `HOLD_PACKETS`;
   * nothing (read on) otherwise.
   */
  held(): Promise<void> | undefined {
    if (this.#outBytes <= HOLD_BYTES && this.#out.length <= HOLD_PACKETS) return undefined;
    return (this.#moved ??= settleable()).promise;
  }

  #move(): void {
    this.#moved?.resolve();
    this.#moved = null;
  }

  /**
   * Queues `bytes` to go out in the next write, when nobody awaits the
   * writing: a failed write ends the connection, and that settles whatever
   * waits on it. Does nothing when detached or sealed (returns 0). Returns
   * the count of packets queued so far, this one included: the owner's
   * `written(sent)` says when they are out.
   */
  write(bytes: Uint8Array): number {
    const ch = this.#ch;
    if (!ch || this.sealed) return 0;
    const b = bytes[0];
    if ((ASKS >> (b >> 4) & 1) === 1 || (b >> 4 === 3 && (b & 6) !== 0)) this.#owner.inbox?.asked();
    if (this.#out === NONE) this.#out = [bytes];
    else this.#out.push(bytes);
    this.#outBytes += bytes.length;
    if (this.#flushing !== ch && !this.#corked) void this.#flush(ch);
    return ++this.#queued;
  }

  /** Bytes queued for the next write so far: where the next packet will start in it. */
  get queuedBytes(): number {
    return this.#outBytes;
  }

  /** Queues `bytes` as `write` does; resolves once they are written. Needs a channel. */
  send(bytes: Uint8Array): Promise<void> {
    const promise = (this.#batch ??= settleable()).promise;
    this.write(bytes);
    return promise;
  }

  /** Holds writes back until {@linkcode Writer.uncork}. */
  cork(): void {
    this.#corked = true;
  }

  /**
   * Writes what was held back, in one write, at once: the code that wrote
   * has run already, and the write goes before the reader reads again.
   */
  uncork(): void {
    this.#corked = false;
    const ch = this.#ch;
    if (ch && this.#out.length > 0 && this.#flushing !== ch) void this.#flush(ch, true);
  }

  async #flush(ch: Channel, now = false): Promise<void> {
    this.#flushing = ch;
    try {
      // Wait for the code that wrote to finish: a burst of publishes goes
      // out in one write, not its first packet alone and the rest after.
      if (!now) await null;
      while (this.#out.length > 0 && this.#ch === ch) {
        const chunks = this.#out, size = this.#outBytes;
        const batch = this.#batch;
        this.#out = NONE;
        this.#outBytes = 0;
        this.#batch = null;
        this.#move();
        // Bytes of the batch in writes that completed.
        let done = 0;
        try {
          if (chunks.length === 1 || size <= JOIN_MAX) {
            // A small batch (acks, say) joined in a slab: a buffer of its own costs about a µs.
            await ch.write(
              chunks.length === 1 ? chunks[0] : joined(chunks),
              this.#owner,
            );
          } else {
            for (let i = 0; i < chunks.length;) {
              let j = i + 1, n = chunks[i].length;
              while (j < chunks.length && n + chunks[j].length <= JOIN_MAX) n += chunks[j++].length;
              if (done > 0) this.#owner.written();
              const piece = j === i + 1 ? chunks[i] : joined(chunks.slice(i, j));
              await ch.write(piece, this.#owner);
              done += n;
              i = j;
            }
          }
          // Detached meanwhile: detach() counted these as gone already.
          if (this.#ch === ch) this.#sent += chunks.length;
          this.#owner.written(this.#sent);
          batch?.resolve();
        } catch (e) {
          // The connection ended first (the keepalive found this write stuck): its reason, not
          // the transport's word for the write it cut short ("operation canceled"), which stays
          // the cause (a reset's EPIPE says more than the reader's "closed by the broker").
          const error = new MQTTConnectionError(
            LOST.get(ch)?.message ?? `Connection lost while writing: ${(e as Error)?.message ?? e}`,
            { cause: e },
          );
          if (batch) {
            WRITTEN.set(batch.promise, done + ch.taken);
            batch.reject(error);
          }
          this.#owner.writeFailed(error, ch);
        }
      }
    } finally {
      if (this.#flushing === ch) this.#flushing = null;
    }
  }
}
