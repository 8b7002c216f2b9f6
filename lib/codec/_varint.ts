// The Remaining Length field (MQTT 3.1.1 section 2.2.3): 1–4 bytes, 7 bits each.

/** Largest Remaining Length four bytes can say: 268,435,455. */
export const MAX_REMAINING_LENGTH = 268_435_455;

/** How many bytes `n` takes as a Remaining Length. */
export function varintSize(n: number): number {
  return n < 128 ? 1 : n < 16_384 ? 2 : n < 2_097_152 ? 3 : 4;
}

/**
 * Writes the fixed header (`byte1`, then `remaining` as a varint) at offset 0.
 * @returns The offset right after it.
 */
export function writeFixedHeader(buf: Uint8Array, byte1: number, remaining: number): number {
  if (remaining > MAX_REMAINING_LENGTH) {
    throw new RangeError(
      `Packet too large: remaining length ${remaining} exceeds ${MAX_REMAINING_LENGTH} bytes (MQTT 3.1.1 section 2.2.3)`,
    );
  }
  buf[0] = byte1;
  let i = 1;
  do {
    let digit = remaining % 128;
    remaining = Math.floor(remaining / 128);
    if (remaining > 0) digit |= 0x80;
    buf[i++] = digit;
  } while (remaining > 0);
  return i;
}

/** Allocates a packet buffer for `remaining` body bytes and writes its fixed header. */
export function allocPacket(byte1: number, remaining: number): [Uint8Array, number] {
  const buf = new Uint8Array(1 + varintSize(remaining) + remaining);
  return [buf, writeFixedHeader(buf, byte1, remaining)];
}
