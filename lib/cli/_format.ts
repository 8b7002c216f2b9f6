// How `umqtt sub` prints a message: mosquitto_sub's plain, -v and -F
// outputs, and one JSON object a line for --json / %j.
import type { Message, MessageProperties, UserProperty } from "../../mod.ts";
import { mosquittoName } from "./_props.ts";
import { UsageError } from "./_args.ts";
import { concat } from "../_bytes.ts";

const enc = new TextEncoder();
// Text as it is, a leading BOM kept (the payload's bytes, all of them); `%J` parses past it.
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const json = new TextDecoder("utf-8", { fatal: true });

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
   * escaped (`\x00`, a backslash `\\`), so that binary cannot garble the screen. Through a pipe
   * or into a file payloads go out byte for byte, as mosquitto_sub prints them.
   */
  terminal: boolean;
  /** Says on stderr that a message could not be printed as asked (`%J`); console.error if not given. */
  warn?: (message: string) => void;
}

function text(bytes: Uint8Array, decoder = utf8): string | undefined {
  try {
    return decoder.decode(bytes);
  } catch {
    return undefined;
  }
}

/**
 * The payload as printable text: C0 and C1 controls other than tab and newline, a BOM (U+FEFF,
 * invisible) and invalid UTF-8 escaped as their bytes (`\xNN`), a backslash doubled: each escape
 * reads one way, as a payload's own `\x01` prints `\\x01`.
 */
export function escapePayload(bytes: Uint8Array): Uint8Array {
  const s = text(bytes);
  // deno-lint-ignore no-control-regex
  const odd = /[\x00-\x08\x0b-\x1f\x7f-\x9f\\\ufeff]/g;
  if (s !== undefined && !odd.test(s)) return bytes;
  let out = "";
  if (s !== undefined) {
    out = s.replace(odd, (c) => c === "\\" ? "\\\\" : hex(enc.encode(c), false, "\\x"));
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

function hex(bytes: Uint8Array, upper: boolean, before = ""): string {
  let s = "";
  for (const b of bytes) s += before + hex2(b);
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
 * `retain` as 0/1, `payloadlen`, then with MQTT 5 `properties` by
 * mosquitto's names, `payload`, null when empty), plus `"encoding": "base64"`
 * when the payload is not UTF-8 text and `payload` holds it in base64.
 * `tst` is ISO 8601 in UTC (`--json`) unless given (`%j`: mosquitto_sub's).
 */
export function jsonLine(msg: Message, tst: string = new Date().toISOString()): string {
  const s = text(msg.payload);
  // An empty payload is null, as mosquitto_sub prints it.
  const tail = JSON.stringify({
    payload: msg.payload.length === 0 ? null : s ?? base64(msg.payload),
    ...(s === undefined ? { encoding: "base64" } : {}),
  });
  return `${jsonHead(msg, tst)},${tail.slice(1)}`;
}

/**
 * mosquitto_sub's `%J`: `%j`'s object with the payload as the JSON value it holds (`null` when
 * empty), or undefined when the payload is not JSON text. The value is written out again, as
 * mosquitto_sub does (`{ "a" : 1.50 }` prints as `{"a":1.5}`), by JavaScript's rules.
 */
export function jsonPayloadLine(msg: Message, tst: string): string | undefined {
  let payload = "null";
  if (msg.payload.length > 0) {
    const s = text(msg.payload, json);
    if (s === undefined) return undefined;
    try {
      payload = JSON.stringify(JSON.parse(s));
    } catch {
      return undefined;
    }
  }
  return `${jsonHead(msg, tst)},"payload":${payload}}`;
}

/** `%j`'s and `%J`'s object up to the payload, without its closing brace. */
function jsonHead(msg: Message, tst: string): string {
  const head = JSON.stringify({
    tst,
    topic: msg.topic,
    qos: msg.qos,
    retain: msg.retain ? 1 : 0,
    payloadlen: msg.payload.length,
  });
  const props = msg.properties && Object.keys(msg.properties).length > 0
    ? `,"properties":${jsonProperties(msg.properties)}`
    : "";
  return head.slice(0, -1) + props;
}

/**
 * A message's properties as mosquitto_sub's `%j` prints them: in the order
 * they came, by mosquitto's names, user properties as one object (a name
 * that repeats is repeated, as mosquitto does), one `subscription-identifier`
 * per identifier. Correlation data is text, or base64 with
 * `"correlation-data-encoding": "base64"` when it is not UTF-8.
 */
function jsonProperties(props: MessageProperties): string {
  const q = JSON.stringify;
  const out: string[] = [];
  for (const [key, v] of Object.entries(props)) {
    if (v === undefined) continue;
    const name = q(mosquittoName(key));
    if (key === "userProperties") {
      const pairs = (v as UserProperty[]).map(([k, val]) => `${q(k)}:${q(val)}`);
      out.push(`"user-properties":{${pairs.join(",")}}`);
    } else if (key === "subscriptionIdentifiers") {
      for (const id of v as number[]) out.push(`${name}:${id}`);
    } else if (v instanceof Uint8Array) {
      const s = text(v);
      out.push(`${name}:${q(s ?? base64(v))}`);
      if (s === undefined) out.push(`${q(`${mosquittoName(key)}-encoding`)}:"base64"`);
    } else out.push(`${name}:${q(typeof v === "boolean" ? +v : v)}`);
  }
  return `{${out.join(",")}}`;
}

/**
 * `now` as strftime's `%Y-%m-%dT%H:%M:%S` in local time (the TZ environment variable's), and `%z`:
 * what mosquitto_sub prints in `%I` and `%j`.
 */
function localTime(now: Date): { time: string; zone: string } {
  const d2 = (n: number) => String(n).padStart(2, "0");
  const time = `${String(now.getFullYear()).padStart(4, "0")}-${d2(now.getMonth() + 1)}-` +
    `${d2(now.getDate())}T${d2(now.getHours())}:${d2(now.getMinutes())}:${d2(now.getSeconds())}`;
  const east = -now.getTimezoneOffset();
  const zone = `${east < 0 ? "-" : "+"}${d2(Math.floor(Math.abs(east) / 60))}${
    d2(Math.abs(east) % 60)
  }`;
  return { time, zone };
}

/**
 * Sub-second digits: mosquitto_sub prints the clock's nanoseconds (`%U`) or microseconds (`%j`);
 * `Date` has milliseconds, so the digits past them are zeros.
 */
function fraction(now: Date, digits: 6 | 9): string {
  return String(now.getTime() % 1000).padStart(3, "0").padEnd(digits, "0");
}

/**
 * `%j`'s `tst` as mosquitto_sub 2.0 prints it: the local time with microseconds, then "Z" and
 * the offset from UTC, "Z" though the time is not UTC (2026-12-04T23:40:59.058000Z+0530).
 */
function mosquittoTst(now: Date): string {
  const { time, zone } = localTime(now);
  return `${time}.${fraction(now, 6)}Z${zone}`;
}

const DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];
const MONTHS = [
  ...["January", "February", "March", "April", "May", "June", "July", "August", "September"],
  ...["October", "November", "December"],
];

/**
 * mosquitto_sub's `@X`: strftime's `%X` for `now` in the C locale and local time, or `@N`, the
 * nanoseconds of the second (`Date` has milliseconds: the digits past them are zeros). As glibc,
 * a conversion it does not know is printed as it is (`@q` as `%q`). `@Z` is the zone's short name
 * as Intl knows it, which is not always tzdata's (`GMT+1` for Europe/Paris, where glibc has `CET`).
 */
function strftime(c: string, now: Date): string {
  const pad = (n: number, w = 2, p = "0") => String(n).padStart(w, p);
  const { time, zone } = localTime(now);
  const h12 = now.getHours() % 12 || 12;
  const day = 86_400_000;
  const date = Date.UTC(now.getFullYear(), now.getMonth(), now.getDate());
  const yday = (date - Date.UTC(now.getFullYear(), 0, 1)) / day;
  // Weeks: %U from the first Sunday, %W from the first Monday; ISO 8601's (%V, %G) are those of
  // the week's Thursday.
  const week = (first: number) => pad(Math.floor((yday + 7 - (now.getDay() + 7 - first) % 7) / 7));
  const thursday = new Date(date + (3 - (now.getDay() + 6) % 7) * day);
  const isoYear = thursday.getUTCFullYear();
  const conv: Record<string, () => string> = {
    a: () => DAYS[now.getDay()].slice(0, 3),
    A: () => DAYS[now.getDay()],
    b: () => MONTHS[now.getMonth()].slice(0, 3),
    h: () => MONTHS[now.getMonth()].slice(0, 3),
    B: () => MONTHS[now.getMonth()],
    c: () => `${conv.a()} ${conv.b()} ${conv.e()} ${conv.T()} ${conv.Y()}`,
    C: () => pad(Math.floor(now.getFullYear() / 100)),
    d: () => pad(now.getDate()),
    D: () => `${conv.m()}/${conv.d()}/${conv.y()}`,
    e: () => pad(now.getDate(), 2, " "),
    F: () => time.slice(0, 10),
    g: () => pad(isoYear % 100),
    G: () => String(isoYear),
    H: () => pad(now.getHours()),
    I: () => pad(h12),
    j: () => pad(yday + 1, 3),
    k: () => pad(now.getHours(), 2, " "),
    l: () => pad(h12, 2, " "),
    m: () => pad(now.getMonth() + 1),
    M: () => pad(now.getMinutes()),
    n: () => "\n",
    N: () => fraction(now, 9),
    p: () => now.getHours() < 12 ? "AM" : "PM",
    P: () => conv.p().toLowerCase(),
    r: () => `${conv.I()}:${conv.M()}:${conv.S()} ${conv.p()}`,
    R: () => time.slice(11, 16),
    s: () => String(Math.floor(now.getTime() / 1000)),
    S: () => pad(now.getSeconds()),
    t: () => "\t",
    T: () => time.slice(11),
    u: () => String(now.getDay() || 7),
    U: () => week(0),
    V: () => pad(Math.floor((thursday.getTime() - Date.UTC(isoYear, 0, 1)) / day / 7) + 1),
    w: () => String(now.getDay()),
    W: () => week(1),
    x: () => conv.D(),
    X: () => conv.T(),
    y: () => pad(now.getFullYear() % 100),
    Y: () => String(now.getFullYear()),
    z: () => zone,
    Z: () =>
      new Intl.DateTimeFormat("en-US", { timeZoneName: "short" }).formatToParts(now)
        .find((p) => p.type === "timeZoneName")?.value ?? "",
    "%": () => "%",
    "@": () => "@",
  };
  return Object.hasOwn(conv, c) ? conv[c]() : `%${c}`;
}

type Part =
  | string
  | ((msg: Message, payload: (b: Uint8Array) => Uint8Array, now: Date) => string | Uint8Array);

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

/** A `%` sequence's flags, as mosquitto_sub reads them: `%[-][0][width][.precision]X`. */
interface Field {
  /** `-`: left-aligned, padded with blanks on the right. */
  left: boolean;
  /** `0`: numbers (and a blank for an absent one) padded with zeros. */
  pad: " " | "0";
  width: number;
  /** `.N`: at most N bytes of a text field (-1: no limit). */
  precision: number;
}

function repeat(c: string, n: number): string {
  return n > 0 ? c.repeat(n) : "";
}

/** printf's `%d` with the field's flags. */
function int(n: number, f: Field): string {
  const s = String(n);
  if (f.left) return s + repeat(" ", f.width - s.length);
  if (f.pad === "0") {
    const digits = s.replace("-", "");
    return (n < 0 ? "-" : "") + repeat("0", f.width - s.length) + digits;
  }
  return repeat(" ", f.width - s.length) + s;
}

/** printf's `%s` with the field's flags: width and precision count bytes, as in C. */
function str(s: string, f: Field): Uint8Array {
  let bytes = enc.encode(s);
  if (f.precision >= 0) bytes = bytes.subarray(0, f.precision);
  const blanks = enc.encode(repeat(" ", f.width - bytes.length));
  return f.left ? concat([bytes, blanks]) : concat([blanks, bytes]);
}

/** A payload field (`%p`, `%x`, `%X`): at least `width` bytes or hex digits, padded. */
function padded(bytes: Uint8Array, f: Field): Uint8Array {
  const blanks = enc.encode(repeat(f.left ? " " : f.pad, f.width - bytes.length));
  return f.left ? concat([bytes, blanks]) : concat([blanks, bytes]);
}

/** The blank mosquitto_sub prints for an absent number property: `width` pad characters. */
function blank(f: Field, pad = f.pad): string {
  return repeat(pad, f.width);
}

/** Compiles a -F format string once. @throws {UsageError} An unknown `%` or `\` escape. */
function compile(format: string, warn: (message: string) => void): Part[] {
  const parts: Part[] = [];
  let lit = "";
  const push = (p: Part) => {
    if (lit) parts.push(lit);
    lit = "";
    parts.push(p);
  };
  const incomplete = () => new UsageError(`-F ${format}: incomplete format specifier at the end`);
  for (let i = 0; i < format.length; i++) {
    const c = format[i];
    if (c === "@") {
      // As mosquitto_sub: @X is strftime's %X in local time (@N the nanoseconds, @@ an @).
      const n = format[++i];
      if (n === undefined) throw incomplete();
      push((_m, _p, now) => strftime(n, now));
      continue;
    }
    if (c !== "%" && c !== "\\") {
      lit += c;
      continue;
    }
    if (c === "\\") {
      const n = format[++i];
      if (n === undefined) throw new UsageError(`-F ${format}: a lone \\ at the end`);
      if (!(n in ESCAPES)) throw new UsageError(`-F ${format}: unknown escape \\${n}`);
      lit += ESCAPES[n];
      continue;
    }
    const m = /^(-?)(0?)(\d*)(?:\.(\d*))?/.exec(format.slice(i + 1))!;
    const f: Field = {
      left: m[1] === "-",
      pad: m[2] === "0" ? "0" : " ",
      width: Number(m[3] || 0),
      precision: m[4] === undefined ? -1 : Number(m[4] || 0),
    };
    // Each message would pad to it: past what a string can hold, every message fails at run time.
    if (f.width > 65535) throw new UsageError(`-F ${format}: width ${m[3]} is over 65535`);
    i += m[0].length + 1;
    const n = format[i];
    if (n === undefined) throw incomplete();
    const props = (m: Message) => m.properties ?? {};
    switch (n) {
      case "%":
        lit += "%";
        break;
      case "t":
        push((m) => str(m.topic, f));
        break;
      case "p":
        push((m, payload) => padded(payload(m.payload), f));
        break;
      case "q":
        push((m) => String(m.qos));
        break;
      case "r":
        push((m) => m.retain ? "1" : "0");
        break;
      case "l":
        push((m) => int(m.payload.length, f));
        break;
      case "x":
        push((m) => padded(enc.encode(hex(m.payload, false)), f));
        break;
      case "X":
        push((m) => padded(enc.encode(hex(m.payload, true)), f));
        break;
      case "j":
        push((m, _p, now) => jsonLine(m, mosquittoTst(now)));
        break;
      case "J":
        // As mosquitto_sub: a payload that is not JSON is said on stderr, and the field is empty.
        push((m, _p, now) => {
          const line = jsonPayloadLine(m, mosquittoTst(now));
          if (line === undefined) {
            warn(`%J: message payload is not valid JSON on topic ${m.topic}`);
          }
          return line ?? "";
        });
        break;
      case "I":
        // strftime's "%FT%T%z", as mosquitto_sub prints it: 2026-12-04T17:59:26+0000.
        push((_m, _p, now) => {
          const { time, zone } = localTime(now);
          return str(time + zone, f);
        });
        break;
      case "U":
        // Seconds since the epoch with 9 decimals, as mosquitto_sub prints them.
        push((_m, _p, now) => `${Math.floor(now.getTime() / 1000)}.${fraction(now, 9)}`);
        break;
      // MQTT 5 properties: blank (or nothing) when the message has none, as mosquitto_sub prints.
      case "A":
        // The client resolves topic aliases and does not say which one a message came with.
        push(() => blank(f));
        break;
      case "C":
        push((m) => {
          const v = props(m).contentType;
          return v === undefined ? blank(f, " ") : str(v, f);
        });
        break;
      case "D":
        push((m, payload) => {
          const v = props(m).correlationData;
          return v === undefined ? "" : payload(v);
        });
        break;
      case "E":
        push((m) => {
          const v = props(m).messageExpiryInterval;
          return v === undefined ? blank(f) : int(v, f);
        });
        break;
      case "F":
        push((m) => {
          const v = props(m).payloadFormatIndicator;
          return v === undefined ? blank(f) : int(+v, f);
        });
        break;
      case "P":
        push((m) => (props(m).userProperties ?? []).map(([k, v]) => `${k}:${v}`).join(" "));
        break;
      case "R":
        push((m) => {
          const v = props(m).responseTopic;
          return v === undefined ? "" : str(v, f);
        });
        break;
      case "S":
        push((m) => {
          // The first, as mosquitto_sub prints.
          const v = props(m).subscriptionIdentifiers?.[0];
          return v === undefined ? blank(f) : int(v, f);
        });
        break;
      default:
        throw new UsageError(
          `-F ${format}: unknown %${n} (known: %t %p %q %r %l %x %X %j %J %I %U %P %C %D %E %F %R %S %A %%)`,
        );
    }
  }
  if (lit) parts.push(lit);
  return parts;
}

/**
 * Makes the formatter for `o`; `clock` gives the time a message is printed at (tests fix it).
 *
 * @throws {UsageError} A bad -F format.
 */
export function formatter(o: FormatOptions, clock: () => Date = () => new Date()): Formatter {
  const eol = o.eol ? enc.encode("\n") : new Uint8Array(0);
  const payloadOf = o.terminal ? escapePayload : (b: Uint8Array) => b;
  if (o.json) return (m) => enc.encode(jsonLine(m) + "\n");
  if (o.format !== undefined) {
    const parts = compile(o.format, o.warn ?? ((message) => console.error(message)));
    return (m) => {
      // One time for every time field of the message.
      const now = clock();
      const out: Uint8Array[] = parts.map((p) => {
        const v = typeof p === "string" ? p : p(m, payloadOf, now);
        return typeof v === "string" ? enc.encode(v) : v;
      });
      out.push(eol);
      return concat(out);
    };
  }
  // An empty payload, as mosquitto_sub prints it: "topic (null)" with -v, unless -N; else nothing.
  const empty = (m: Message) => enc.encode(o.verbose && o.eol ? `${m.topic} (null)\n` : "");
  if (o.verbose) {
    return (m) =>
      m.payload.length ? concat([enc.encode(m.topic + " "), payloadOf(m.payload), eol]) : empty(m);
  }
  return (m) => m.payload.length ? concat([payloadOf(m.payload), eol]) : empty(m);
}
