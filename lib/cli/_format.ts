// How `umqtt sub` prints a message: mosquitto_sub's plain, -v and -F
// outputs, and one JSON object a line for --json / %j.
import type { Message } from "../../mod.ts";
import { UsageError } from "./_args.ts";
import { concat } from "../_bytes.ts";

const enc = new TextEncoder();
const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Turns a message into the bytes printed for it (newline included). */
export type Formatter = (msg: Message) => Uint8Array;

/** Options that shape the output. */
export interface FormatOptions {
  verbose: boolean;
  eol: boolean;
  format?: string;
  json: boolean;
  /**
   * Stdout is a terminal: payloads that are not printable text are shown
   * escaped (`\x00`), so that binary cannot garble the screen. Through a pipe
   * or into a file payloads go out byte for byte, as mosquitto_sub prints them.
   */
  terminal: boolean;
}

function text(bytes: Uint8Array): string | undefined {
  try {
    return utf8.decode(bytes);
  } catch {
    return undefined;
  }
}

/** The payload as printable text: control characters other than tab and newline, and invalid UTF-8, escaped. */
export function escapePayload(bytes: Uint8Array): Uint8Array {
  const s = text(bytes);
  // deno-lint-ignore no-control-regex
  if (s !== undefined && !/[\x00-\x08\x0b-\x1f\x7f]/.test(s)) return bytes;
  let out = "";
  if (s !== undefined) {
    for (const ch of s) {
      const c = ch.codePointAt(0)!;
      out += (c < 0x20 && c !== 9 && c !== 10) || c === 0x7f ? `\\x${hex2(c)}` : ch;
    }
  } else {
    // Not UTF-8: keep printable ASCII, escape every other byte.
    for (const b of bytes) {
      out += b === 0x5c ? "\\\\" : b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : `\\x${hex2(b)}`;
    }
  }
  return enc.encode(out);
}

function hex2(n: number): string {
  return n.toString(16).padStart(2, "0");
}

function hex(bytes: Uint8Array, upper: boolean): string {
  let s = "";
  for (const b of bytes) s += hex2(b);
  return upper ? s.toUpperCase() : s;
}

function base64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

/**
 * One JSON object: mosquitto_sub's `%j` fields (`tst`, `topic`, `qos`,
 * `retain` as 0/1, `payloadlen`, `payload`), plus `"encoding": "base64"` when
 * the payload is not UTF-8 text and `payload` holds it in base64.
 */
export function jsonLine(msg: Message, now: Date = new Date()): string {
  const s = text(msg.payload);
  return JSON.stringify({
    tst: now.toISOString(),
    topic: msg.topic,
    qos: msg.qos,
    retain: msg.retain ? 1 : 0,
    payloadlen: msg.payload.length,
    payload: s ?? base64(msg.payload),
    ...(s === undefined ? { encoding: "base64" } : {}),
  });
}

type Part = string | ((msg: Message, payload: Uint8Array) => string | Uint8Array);

const ESCAPES: Record<string, string> = {
  "\\": "\\",
  "0": "\0",
  a: "\x07",
  e: "\x1b",
  n: "\n",
  r: "\r",
  t: "\t",
  v: "\v",
};

/** Compiles a -F format string once. @throws {UsageError} An unknown `%` or `\` escape. */
function compile(format: string): Part[] {
  const parts: Part[] = [];
  let lit = "";
  const push = (p: Part) => {
    if (lit) parts.push(lit);
    lit = "";
    parts.push(p);
  };
  for (let i = 0; i < format.length; i++) {
    const c = format[i];
    if (c !== "%" && c !== "\\") {
      lit += c;
      continue;
    }
    const n = format[++i];
    if (n === undefined) throw new UsageError(`-F ${format}: a lone ${c} at the end`);
    if (c === "\\") {
      if (!(n in ESCAPES)) throw new UsageError(`-F ${format}: unknown escape \\${n}`);
      lit += ESCAPES[n];
      continue;
    }
    switch (n) {
      case "%":
        lit += "%";
        break;
      case "t":
        push((m) => m.topic);
        break;
      case "p":
        push((_, payload) => payload);
        break;
      case "q":
        push((m) => String(m.qos));
        break;
      case "r":
        push((m) => m.retain ? "1" : "0");
        break;
      case "l":
        push((m) => String(m.payload.length));
        break;
      case "x":
        push((m) => hex(m.payload, false));
        break;
      case "X":
        push((m) => hex(m.payload, true));
        break;
      case "j":
        push((m) => jsonLine(m));
        break;
      case "I":
        push(() => new Date().toISOString());
        break;
      case "U":
        push(() => (Date.now() / 1000).toFixed(3));
        break;
      default:
        throw new UsageError(
          `-F ${format}: unknown %${n} (known: %t %p %q %r %l %x %X %j %I %U %%)`,
        );
    }
  }
  if (lit) parts.push(lit);
  return parts;
}

/**
 * Makes the formatter for `o`.
 *
 * @throws {UsageError} A bad -F format.
 */
export function formatter(o: FormatOptions): Formatter {
  const eol = o.eol ? enc.encode("\n") : new Uint8Array(0);
  const payloadOf = o.terminal ? escapePayload : (b: Uint8Array) => b;
  if (o.json) return (m) => enc.encode(jsonLine(m) + "\n");
  if (o.format !== undefined) {
    const parts = compile(o.format);
    return (m) => {
      const payload = payloadOf(m.payload);
      const out: Uint8Array[] = parts.map((p) => {
        const v = typeof p === "string" ? p : p(m, payload);
        return typeof v === "string" ? enc.encode(v) : v;
      });
      out.push(eol);
      return concat(out);
    };
  }
  if (o.verbose) return (m) => concat([enc.encode(m.topic + " "), payloadOf(m.payload), eol]);
  return (m) => concat([payloadOf(m.payload), eol]);
}
