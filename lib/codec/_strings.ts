// UTF-8 encoded strings and binary data with a two-byte length prefix
// (MQTT 3.1.1 sections 1.5.3 and 3.1.3.5, MQTT 5.0 sections 1.5.4 and
// 1.5.6), and a bounds-checked body reader.
import { MQTTProtocolError } from "../errors.ts";
import { type Slab, SLAB_MAX, view } from "./_varint.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
// Small text is encoded here first, then copied to a view into a slab: a new
// ArrayBuffer per encode() costs 0.7-0.9 us in Deno 2.9, encodeInto() and the
// copy about 0.13.
const scratch = new Uint8Array(SLAB_MAX);

/** `s` in UTF-8; small text as a view into `slab`, when given. */
function encode(s: string, slab: Slab | undefined): Uint8Array {
  // At most 3 bytes per UTF-16 code unit: text this short fits the scratch buffer.
  if (!slab || s.length * 3 > SLAB_MAX) return encoder.encode(s);
  return slab.copy(view(scratch, 0, encoder.encodeInto(s, scratch).written));
}

/**
 * What a sender should not put in an MQTT string, and a receiver may close
 * the connection over: U+0001-U+001F, U+007F-U+009F (the control characters,
 * Unicode's Cc, U+0000 aside, which is refused before) and the non-characters
 * (U+FDD0-U+FDEF, the last two code points of every plane).
 */
const SHOULD_NOT = /[\p{Cc}\p{Noncharacter_Code_Point}]/u;

/**
 * A lone UTF-16 surrogate (a `u` regex takes a pair as one code point, of
 * another category): what `String.prototype.isWellFormed` finds, which is
 * ES2024 (Chrome 111, Firefox 119, Safari 16.4, none of which is needed otherwise).
 */
const LONE_SURROGATE = /\p{Cs}/u;

/** Largest length a two-byte prefix can say. */
export const MAX_STRING_BYTES = 65_535;

/**
 * Encodes `s` as UTF-8, refusing what MQTT forbids in strings.
 * @param what Names the string in the error message, e.g. `"topic"`.
 * @param slab Where short text's bytes may go (bytes not kept for long).
 */
export function utf8(s: string, what: string, slab?: Slab): Uint8Array {
  if (typeof s !== "string") {
    throw new TypeError(`Invalid ${what}: must be a string, got ${typeName(s)}`);
  }
  if (LONE_SURROGATE.test(s)) {
    throw new TypeError(`Invalid ${what}: it contains a lone UTF-16 surrogate (MQTT-1.5.3-1)`);
  }
  if (s.includes("\0")) {
    throw new TypeError(`Invalid ${what}: it contains U+0000 (MQTT-1.5.3-2)`);
  }
  const c = SHOULD_NOT.exec(s)?.[0].codePointAt(0);
  if (c !== undefined) {
    // mosquitto 2.0 closes the connection over any of them, in any string.
    throw new TypeError(
      `Invalid ${what}: it contains U+${c.toString(16).toUpperCase().padStart(4, "0")}, a ${
        c < 0xa0 ? "control character" : "non-character"
      }, which MQTT strings should not hold (MQTT 3.1.1 section 1.5.3, MQTT 5.0 section 1.5.4)`,
    );
  }
  const bytes = encode(s, slab);
  if (bytes.length > MAX_STRING_BYTES) {
    throw new RangeError(
      `Invalid ${what}: ${bytes.length} bytes in UTF-8, over the limit of ${MAX_STRING_BYTES} (MQTT 3.1.1 section 1.5.3)`,
    );
  }
  return bytes;
}

/** What `v` is, for an error message: `null`, `number`, `string`, `object`, `Array`, `ArrayBuffer`… */
export function typeName(v: unknown): string {
  const c = typeof v === "object" && v !== null ? v.constructor : undefined;
  const name = v === null ? "null" : c ? c.name : typeof v;
  // A plain object's (or one made from it, Object.create({})) is "Object", an anonymous class's "".
  // One made in another realm (a node:vm context's, an iframe's Uint8Array), which `instanceof`
  // refuses, is said so: "must be a Uint8Array, got Uint8Array" would contradict itself.
  return !name || name === "Object"
    ? "object"
    : c && c !== (globalThis as Record<string, unknown>)[name] && name in globalThis
    ? `${name} of another realm`
    : name;
}

/**
 * A value, for an error message: a string quoted, a bigint as its literal
 * (`10n`; `10` would read as if 10 were out of range), else as it is.
 */
export function shown(v: unknown): string {
  return typeof v === "string" ? JSON.stringify(v) : typeof v === "bigint" ? `${v}n` : String(v);
}

/** A key, for an error message: a number as it is, a string quoted (`"7"` is not the id 7), else its type. */
export function keyName(v: unknown): string {
  return typeof v === "number"
    ? String(v)
    : typeof v === "string"
    ? `${JSON.stringify(v)} (a string)`
    : `of type ${typeName(v)}`;
}

/**
 * Encodes a payload given as text or bytes; bytes are used as they are.
 * @param slab Where short text's bytes may go (bytes not kept for long).
 */
export function payloadBytes(payload: string | Uint8Array, slab?: Slab): Uint8Array {
  return typeof payload === "string" ? encode(payload, slab) : payload;
}

/**
 * `bytes`, unless their ArrayBuffer was detached (transferred) or resized
 * below them: they read as 0 bytes then, and would go as none.
 *
 * @throws {TypeError} Naming them `what`.
 */
export function intact(bytes: Uint8Array, what: string): Uint8Array {
  // Only an empty view can be one; slice() throws for it (ES2024 `detached` misses resizing).
  if (!bytes.length) {
    try {
      bytes.slice();
    } catch {
      throw new TypeError(
        `Invalid ${what}: its ArrayBuffer was detached (transferred) or resized below it`,
      );
    }
  }
  return bytes;
}

/**
 * `bytes`, a Uint8Array whose bytes are there to read: an `ArrayBuffer` (a
 * WebSocket's binaryType "arraybuffer"), or a view {@linkcode intact} refuses,
 * would read as no bytes at all.
 *
 * @throws {TypeError} Naming them `what`.
 */
export function readable(bytes: unknown, what: string): Uint8Array {
  if (!(bytes instanceof Uint8Array)) {
    throw new TypeError(
      `Invalid ${what}: must be a Uint8Array (wrap an ArrayBuffer in one), got ${typeName(bytes)}`,
    );
  }
  return intact(bytes, what);
}

/** Writes a two-byte big-endian number at `at`. */
export function writeU16(buf: Uint8Array, at: number, n: number): number {
  buf[at] = n >> 8;
  buf[at + 1] = n & 0xff;
  return at + 2;
}

/** Writes `bytes` with its two-byte length prefix at `at`. */
export function writeBytes(buf: Uint8Array, at: number, bytes: Uint8Array): number {
  at = writeU16(buf, at, bytes.length);
  buf.set(bytes, at);
  return at + bytes.length;
}

/**
 * Reads the fields of one packet body, every read checked against the end of
 * the body so that a truncated field is an error that names the field.
 */
export class BodyReader {
  pos = 0;
  /** Where reads stop: the body's end, or while reading properties, theirs. */
  limit: number;
  /** Reading MQTT 5.0 properties: a read past `limit` overruns their length. */
  inProperties = false;
  constructor(readonly body: Uint8Array, readonly packet: string) {
    this.limit = body.length;
  }

  /** Bytes not yet read. */
  get left(): number {
    return this.limit - this.pos;
  }

  #need(n: number, field: string): void {
    if (this.limit - this.pos < n) {
      const props = this.inProperties;
      throw new MQTTProtocolError(
        `Malformed ${this.packet}: the ${
          props ? "property length" : "packet"
        } ends inside its ${field}`,
        props ? "MQTT 5.0 section 2.2.2.1" : "MQTT 3.1.1 section 2.2.3",
      );
    }
  }

  u8(field: string): number {
    this.#need(1, field);
    return this.body[this.pos++];
  }

  u16(field: string): number {
    this.#need(2, field);
    const n = (this.body[this.pos] << 8) | this.body[this.pos + 1];
    this.pos += 2;
    return n;
  }

  /** A Four Byte Integer (MQTT 5.0 section 1.5.3). */
  u32(field: string): number {
    this.#need(4, field);
    const b = this.body, p = this.pos;
    this.pos += 4;
    return b[p] * 0x1000000 + ((b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3]);
  }

  /** A Variable Byte Integer (MQTT 5.0 section 1.5.5): 1 to 4 bytes, the fewest that fit. */
  vbi(field: string): number {
    let n = 0, scale = 1, b;
    do {
      b = this.u8(field);
      n += (b & 0x7f) * scale;
      scale *= 128;
    } while (b & 0x80 && scale < 2 ** 28);
    // Over 4 bytes, or more bytes than the value needs (MQTT-1.5.5-1).
    if (b & 0x80 || (b === 0 && scale > 128)) {
      throw new MQTTProtocolError(
        `Malformed ${this.packet}: its ${field} is not a Variable Byte Integer of the fewest bytes, at most 4`,
        "MQTT-1.5.5-1",
      );
    }
    return n;
  }

  /** Length-prefixed binary data, as a view into the body. */
  bytes(field: string): Uint8Array {
    const n = this.u16(field);
    this.#need(n, field);
    return view(this.body, this.pos, this.pos += n);
  }

  /** Length-prefixed UTF-8 string, validated (MQTT-1.5.3-1, MQTT-1.5.3-2). */
  string(field: string): string {
    return decodeUtf8(this.bytes(field), `${this.packet} ${field}`);
  }

  /** Everything left, as a view. */
  rest(): Uint8Array {
    const v = view(this.body, this.pos, this.limit);
    this.pos = this.limit;
    return v;
  }

  /** Fails if bytes remain that the packet type does not allow. */
  end(): void {
    if (this.pos !== this.body.length) {
      throw new MQTTProtocolError(
        `Malformed ${this.packet}: ${this.body.length - this.pos} bytes left after its last field`,
        "MQTT 3.1.1 section 2.2.3",
      );
    }
  }
}

/** Decodes UTF-8 that MQTT accepts: well-formed, no U+0000. */
export function decodeUtf8(bytes: Uint8Array, what: string): string {
  const n = bytes.length;
  // Short ASCII strings (most topics) skip TextDecoder's call overhead.
  if (n <= 64) {
    let ascii = true;
    for (let i = 0; i < n; i++) {
      const b = bytes[i];
      if (b === 0) throw nulError(what);
      if (b > 0x7f) {
        ascii = false;
        break;
      }
    }
    if (ascii) return String.fromCharCode.apply(null, bytes as unknown as number[]);
  }
  let s: string;
  try {
    s = decoder.decode(bytes);
  } catch {
    throw new MQTTProtocolError(`Invalid UTF-8 in ${what}`, "MQTT-1.5.3-1");
  }
  if (s.includes("\0")) throw nulError(what);
  return s;
}

/** Whether `bytes` are well-formed UTF-8 (U+0000 allowed: payloads, not MQTT strings). */
export function isUtf8(bytes: Uint8Array): boolean {
  try {
    decoder.decode(bytes);
    return true;
  } catch {
    return false;
  }
}

function nulError(what: string): MQTTProtocolError {
  return new MQTTProtocolError(`U+0000 in ${what}`, "MQTT-1.5.3-2");
}
