// The Remaining Length field (MQTT 3.1.1 section 2.2.3), which MQTT 5.0 calls
// a Variable Byte Integer (section 1.5.5) and uses for property lengths and
// subscription identifiers too: 1–4 bytes, 7 bits each.

/** Largest Remaining Length four bytes can say: 268,435,455. */
export const MAX_REMAINING_LENGTH = 268_435_455;

/** How many bytes `n` takes as a Remaining Length. */
export function varintSize(n: number): number {
  return n < 128 ? 1 : n < 16_384 ? 2 : n < 2_097_152 ? 3 : 4;
}

/** Throws unless `remaining` (not a number included) fits a Remaining Length. */
function checkRemaining(remaining: number): void {
  if (!(remaining <= MAX_REMAINING_LENGTH)) {
    throw new RangeError(
      `Packet too large: remaining length ${remaining} exceeds ${MAX_REMAINING_LENGTH} bytes (MQTT 3.1.1 section 2.2.3)`,
    );
  }
}

/**
 * Writes the fixed header (`byte1`, then `remaining` as a varint) at offset 0.
 * @returns The offset right after it.
 */
export function writeFixedHeader(buf: Uint8Array, byte1: number, remaining: number): number {
  checkRemaining(remaining);
  return writeHeader(buf, byte1, remaining);
}

/** Where an encoded packet's variable header starts: after its fixed header. */
export function headerLength(bytes: Uint8Array): number {
  let at = 1;
  while (bytes[at] & 0x80) at++;
  return at + 1;
}

/** {@linkcode writeFixedHeader} for a `remaining` already checked. */
function writeHeader(buf: Uint8Array, byte1: number, remaining: number): number {
  buf[0] = byte1;
  return writeVarint(buf, 1, remaining);
}

/**
 * Writes `n` (at most {@linkcode MAX_REMAINING_LENGTH}) as a Variable Byte
 * Integer at `at`.
 * @returns The offset right after it.
 */
export function writeVarint(buf: Uint8Array, at: number, n: number): number {
  do {
    let digit = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) digit |= 0x80;
    buf[at++] = digit;
  } while (n > 0);
  return at;
}

/** The Variable Byte Integer at `at` in bytes we encoded (whole; {@linkcode varintSize} long). */
export function varintAt(bytes: Uint8Array, at: number): number {
  let n = 0;
  for (let shift = 0, b = 0x80; b & 0x80; shift += 7) n += ((b = bytes[at++]) & 0x7f) << shift;
  return n;
}

/** Appends `n` (at most {@linkcode MAX_REMAINING_LENGTH}) as a Variable Byte Integer. */
export function pushVarint(out: number[], n: number): void {
  do {
    out.push((n % 128) | (n >= 128 ? 0x80 : 0));
    n = Math.floor(n / 128);
  } while (n > 0);
}

// Small PUBLISH packets and acks are carved out of shared slabs, as Node's
// Buffer pool does: a view on an existing ArrayBuffer costs far less than a
// new ArrayBuffer (21% of the client-only publish profile went to allocating
// them, and a third of a QoS 1 round trip's client side, its GC included;
// about a microsecond each in Deno 2.9). The client's small chunks read and
// small batched writes use slabs too (_channel.ts, _writer.ts).
// Views never overlap, so each packet is still its own bytes. A kept packet
// (QoS 1/2, in the session until acknowledged) pins its slab while it is
// kept, so kept packets share small slabs: one kept long holds at most
// 8 KiB. Packets written and forgotten (QoS 0) share large ones.
/** The largest packet a slab gives out; a larger one has a buffer of its own. */
export const SLAB_MAX = 1024;

/** Where small packets come from: one slab at a time, never reused. */
export class Slab {
  #buf = new ArrayBuffer(0);
  #at = 0;
  /** @param size The bytes of each slab. */
  constructor(readonly size: number) {}

  /** `n` fresh zeroed bytes: a view into the current slab, or over SLAB_MAX a buffer of their own. */
  take(n: number): Uint8Array {
    if (n > SLAB_MAX) return new Uint8Array(n);
    if (this.#at + n > this.#buf.byteLength) {
      this.#buf = new ArrayBuffer(this.size);
      this.#at = 0;
    }
    // Not subarray(): see view().
    const bytes = new Uint8Array(this.#buf, this.#at, n);
    this.#at += n;
    return bytes;
  }

  /** A copy of `bytes`, as {@linkcode Slab.take} gives room for it. */
  copy(bytes: Uint8Array): Uint8Array {
    const out = this.take(bytes.length);
    out.set(bytes);
    return out;
  }
}

/**
 * `buf[start..end)` as a view. Not subarray(), which looks up the species
 * constructor (24 ns a view against 16 in Deno 2); and the view is a plain
 * Uint8Array whatever `buf` is (a Node Buffer's subarray() is a Buffer).
 */
export function view(buf: Uint8Array, start: number, end: number): Uint8Array {
  return new Uint8Array(buf.buffer, buf.byteOffset + start, end - start);
}

/** For packets written, then dropped. */
export const SHORT_LIVED: Slab = new Slab(65_536);
/** For packets the session keeps until their acknowledgement. */
export const KEPT: Slab = new Slab(8192);

/**
 * Allocates a packet buffer for `remaining` body bytes and writes its fixed header.
 * @param slab Where a small packet may come from ({@linkcode SHORT_LIVED}, {@linkcode KEPT});
 * none: a buffer of its own.
 */
export function allocPacket(
  byte1: number,
  remaining: number,
  slab?: Slab,
): [Uint8Array, number] {
  // Checked before the slab moves: a length that is not a number must not leave it unusable.
  checkRemaining(remaining);
  const n = 1 + varintSize(remaining) + remaining;
  const buf = slab ? slab.take(n) : new Uint8Array(n);
  return [buf, writeHeader(buf, byte1, remaining)];
}

/**
 * A whole packet: `byte1`, the Remaining Length, then `parts` in order (for
 * the packets built once in a while; PUBLISH writes into its buffer).
 */
export function buildPacket(byte1: number, parts: ArrayLike<number>[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  let [buf, at] = allocPacket(byte1, n);
  for (const p of parts) buf.set(p, at), at += p.length;
  return buf;
}

/** `n` as a Two Byte Integer. */
export function u16(n: number): number[] {
  return [n >> 8, n & 0xff];
}

/** `bytes` as a field: its two-byte length, then itself (two parts for {@linkcode buildPacket}). */
export function field(bytes: Uint8Array): ArrayLike<number>[] {
  return [u16(bytes.length), bytes];
}
