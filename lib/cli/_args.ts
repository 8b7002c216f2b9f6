// Command-line parsing for `umqtt pub` and `umqtt sub`: mosquitto's flag
// spellings, applied in order so that a later flag wins over an earlier one
// (as mosquitto does with -L followed by -p, say).
import type { QoS } from "../../mod.ts";

/** Exit codes a script can rely on; documented in --help and the README. */
export const EXIT = {
  /** Done: all published, or -C/-E reached, or stopped by Ctrl-C. */
  ok: 0,
  /** Anything else: a subscription refused, stdout closed, an unexpected error. */
  error: 1,
  /** Bad arguments: an unknown flag, a missing value, a value out of range. */
  usage: 2,
  /** The network: could not connect (refused, unreachable, TLS), or the connection was lost. */
  network: 3,
  /** Timed out: -W expired, or no CONNACK within the connect timeout. */
  timeout: 4,
  /** The broker refused the connection: 10 + the CONNACK return code (11 to 15). */
  refused: 10,
} as const;

/** A bad command line; the message says which flag and why. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** Connection settings shared by pub and sub. */
export interface ConnectionArgs {
  host: string;
  /** 0: the default for the scheme (1883, 8883 with TLS). */
  port: number;
  /** `mqtt`, `mqtts`, `ws` or `wss`; TLS is also turned on by --cafile. */
  scheme: "mqtt" | "mqtts" | "ws" | "wss";
  wsPath: string;
  id?: string;
  idPrefix?: string;
  user?: string;
  password?: string;
  keepalive: number;
  qos: QoS;
  cafile?: string;
  cert?: string;
  key?: string;
  willTopic?: string;
  willPayload?: string;
  willQos: QoS;
  willRetain: boolean;
  debug: boolean;
  quiet: boolean;
  /** -c: persistent session. */
  persistent: boolean;
  help: boolean;
}

/** Where a pub message comes from. */
export type MessageSource =
  | { kind: "message"; text: string }
  | { kind: "file"; path: string }
  | { kind: "stdin" }
  | { kind: "lines" }
  | { kind: "null" };

/** `umqtt pub`'s settings. */
export interface PubArgs extends ConnectionArgs {
  topic?: string;
  retain: boolean;
  source?: MessageSource;
  repeat: number;
  repeatDelay: number;
}

/** `umqtt sub`'s settings. */
export interface SubArgs extends ConnectionArgs {
  topics: string[];
  filterOut: string[];
  unsubscribe: string[];
  verbose: boolean;
  count: number;
  timeout: number;
  noRetained: boolean;
  retainedOnly: boolean;
  removeRetained: boolean;
  exitAfterSubscribe: boolean;
  eol: boolean;
  format?: string;
  json: boolean;
}

type Handler<T> = (o: T, value: string) => void;

interface Flag<T> {
  /** Takes a value (the next argument, or `--name=value`). */
  value: boolean;
  set: Handler<T>;
}

function int(flag: string, value: string, min: number, max: number): number {
  const n = /^-?\d+$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(`${flag} ${value}: must be an integer from ${min} to ${max}`);
  }
  return n;
}

function qos(flag: string, value: string): QoS {
  return int(flag, value, 0, 2) as QoS;
}

/** Parses `-L mqtt(s)|ws(s)://[user[:password]@]host[:port]/topic` into `o`. */
function applyUrl(o: ConnectionArgs & { topic?: string; topics?: string[] }, value: string) {
  const m = /^(mqtts?|wss?):\/\/([^/]*)(?:\/(.*))?$/is.exec(value);
  let url: URL | undefined;
  try {
    // URL parses only the authority: a topic's "#" or "?" is no fragment or query.
    if (m) url = new URL(`http://${m[2]}/`);
  } catch { /* reported below */ }
  if (!m || !url || !m[2]) {
    throw new UsageError(
      `-L ${value}: expected mqtt://, mqtts://, ws:// or wss://[user[:password]@]host[:port]/topic`,
    );
  }
  o.scheme = m[1].toLowerCase() as ConnectionArgs["scheme"];
  o.host = url.hostname.replace(/^\[(.*)\]$/, "$1");
  o.port = url.port ? Number(url.port) : 0;
  if (url.username) o.user = decodeURIComponent(url.username);
  if (url.password) o.password = decodeURIComponent(url.password);
  const topic = decodeURIComponent(m[3] ?? "");
  if (topic === "") throw new UsageError(`-L ${value}: the URL needs a topic as its path`);
  if (o.topics) o.topics.push(topic);
  else o.topic = topic;
}

function connectionFlags<T extends ConnectionArgs>(): Record<string, Flag<T>> {
  const v = (set: Handler<T>): Flag<T> => ({ value: true, set });
  const b = (set: (o: T) => void): Flag<T> => ({ value: false, set });
  return {
    "-h": v((o, x) => o.host = x),
    "--host": v((o, x) => o.host = x),
    "-p": v((o, x) => o.port = int("-p", x, 1, 65535)),
    "--port": v((o, x) => o.port = int("--port", x, 1, 65535)),
    "-L": v((o, x) => applyUrl(o, x)),
    "--url": v((o, x) => applyUrl(o, x)),
    "--ws-path": v((o, x) => o.wsPath = x.startsWith("/") ? x : `/${x}`),
    "-i": v((o, x) => o.id = x),
    "--id": v((o, x) => o.id = x),
    "-I": v((o, x) => o.idPrefix = x),
    "--id-prefix": v((o, x) => o.idPrefix = x),
    "-u": v((o, x) => o.user = x),
    "--username": v((o, x) => o.user = x),
    "-P": v((o, x) => o.password = x),
    "--pw": v((o, x) => o.password = x),
    "-k": v((o, x) => o.keepalive = int("-k", x, 0, 65535)),
    "--keepalive": v((o, x) => o.keepalive = int("--keepalive", x, 0, 65535)),
    "-q": v((o, x) => o.qos = qos("-q", x)),
    "--qos": v((o, x) => o.qos = qos("--qos", x)),
    "-V": v((_, x) => {
      if (!/^(mqttv311|311|v311)$/i.test(x)) {
        throw new UsageError(`-V ${x}: only mqttv311 (MQTT 3.1.1) is supported`);
      }
    }),
    "--protocol-version": v((_, x) => {
      if (!/^(mqttv311|311|v311)$/i.test(x)) {
        throw new UsageError(`--protocol-version ${x}: only mqttv311 (MQTT 3.1.1) is supported`);
      }
    }),
    "-c": b((o) => o.persistent = true),
    "--disable-clean-session": b((o) => o.persistent = true),
    "--cafile": v((o, x) => o.cafile = x),
    "--cert": v((o, x) => o.cert = x),
    "--key": v((o, x) => o.key = x),
    "--will-topic": v((o, x) => o.willTopic = x),
    "--will-payload": v((o, x) => o.willPayload = x),
    "--will-qos": v((o, x) => o.willQos = qos("--will-qos", x)),
    "--will-retain": b((o) => o.willRetain = true),
    "-d": b((o) => o.debug = true),
    "--debug": b((o) => o.debug = true),
    "--quiet": b((o) => o.quiet = true),
    "--help": b((o) => o.help = true),
  };
}

function connectionDefaults(): ConnectionArgs {
  return {
    host: "localhost",
    port: 0,
    scheme: "mqtt",
    wsPath: "/mqtt",
    keepalive: 60,
    qos: 0,
    willQos: 0,
    willRetain: false,
    debug: false,
    quiet: false,
    persistent: false,
    help: false,
  };
}

function run<T extends ConnectionArgs>(args: string[], o: T, flags: Record<string, Flag<T>>): T {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const eq = arg.startsWith("--") ? arg.indexOf("=") : -1;
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    const flag = Object.hasOwn(flags, name) ? flags[name] : undefined;
    if (!flag) {
      throw new UsageError(
        arg.startsWith("-") ? `unknown option ${name}` : `unexpected argument "${arg}"`,
      );
    }
    if (!flag.value) {
      if (eq > 0) throw new UsageError(`${name} takes no value`);
      flag.set(o, "");
      continue;
    }
    let value: string;
    if (eq > 0) value = arg.slice(eq + 1);
    else if (i + 1 < args.length) value = args[++i];
    else throw new UsageError(`${name} needs a value`);
    flag.set(o, value);
  }
  return o;
}

function checkConnection(o: ConnectionArgs): void {
  if (o.password !== undefined && o.user === undefined) {
    throw new UsageError("-P needs -u: MQTT 3.1.1 sends a password only with a user name");
  }
  if ((o.cert === undefined) !== (o.key === undefined)) {
    throw new UsageError("--cert and --key go together");
  }
  if (o.willTopic === undefined && (o.willPayload !== undefined || o.willRetain)) {
    throw new UsageError("--will-payload and --will-retain need --will-topic");
  }
  if (o.persistent && o.id === undefined) {
    throw new UsageError("-c needs a client id (-i): a persistent session is kept per id");
  }
}

/**
 * Parses `umqtt pub`'s arguments.
 *
 * @throws {UsageError} An unknown flag, a missing or bad value, or a bad combination.
 */
export function parsePubArgs(args: string[]): PubArgs {
  const o: PubArgs = { ...connectionDefaults(), retain: false, repeat: 1, repeatDelay: 0 };
  const v = (set: Handler<PubArgs>): Flag<PubArgs> => ({ value: true, set });
  const source = (s: MessageSource) => (o: PubArgs) => {
    if (o.source && o.source.kind !== s.kind) {
      throw new UsageError("only one of -m, -f, -s, -l and -n may be given");
    }
    o.source = s;
  };
  run(args, o, {
    ...connectionFlags<PubArgs>(),
    "-t": v((o, x) => o.topic = x),
    "--topic": v((o, x) => o.topic = x),
    "-r": { value: false, set: (o) => o.retain = true },
    "--retain": { value: false, set: (o) => o.retain = true },
    "-m": v((o, x) => source({ kind: "message", text: x })(o)),
    "--message": v((o, x) => source({ kind: "message", text: x })(o)),
    "-f": v((o, x) => source({ kind: "file", path: x })(o)),
    "--file": v((o, x) => source({ kind: "file", path: x })(o)),
    "-s": { value: false, set: source({ kind: "stdin" }) },
    "--stdin-file": { value: false, set: source({ kind: "stdin" }) },
    "-l": { value: false, set: source({ kind: "lines" }) },
    "--stdin-line": { value: false, set: source({ kind: "lines" }) },
    "-n": { value: false, set: source({ kind: "null" }) },
    "--null-message": { value: false, set: source({ kind: "null" }) },
    "--repeat": v((o, x) => o.repeat = int("--repeat", x, 1, 2 ** 31)),
    "--repeat-delay": v((o, x) => {
      const n = Number(x);
      if (!/^\d+(\.\d+)?$/.test(x) || !(n >= 0)) {
        throw new UsageError(`--repeat-delay ${x}: must be a number of seconds, 0 or more`);
      }
      o.repeatDelay = n;
    }),
  });
  if (o.help) return o;
  checkConnection(o);
  if (o.topic === undefined) throw new UsageError("a topic is needed: -t topic or -L URL/topic");
  if (!o.source) throw new UsageError("a message is needed: one of -m, -f, -s, -l or -n");
  if (o.repeat > 1 && o.source.kind === "lines") {
    throw new UsageError("--repeat works with -m, -f, -s and -n, not -l");
  }
  return o;
}

/**
 * Parses `umqtt sub`'s arguments.
 *
 * @throws {UsageError} An unknown flag, a missing or bad value, or a bad combination.
 */
export function parseSubArgs(args: string[]): SubArgs {
  const o: SubArgs = {
    ...connectionDefaults(),
    topics: [],
    filterOut: [],
    unsubscribe: [],
    verbose: false,
    count: 0,
    timeout: 0,
    noRetained: false,
    retainedOnly: false,
    removeRetained: false,
    exitAfterSubscribe: false,
    eol: true,
    json: false,
  };
  const v = (set: Handler<SubArgs>): Flag<SubArgs> => ({ value: true, set });
  const b = (set: (o: SubArgs) => void): Flag<SubArgs> => ({ value: false, set });
  run(args, o, {
    ...connectionFlags<SubArgs>(),
    "-t": v((o, x) => o.topics.push(x)),
    "--topic": v((o, x) => o.topics.push(x)),
    "-T": v((o, x) => o.filterOut.push(x)),
    "--filter-out": v((o, x) => o.filterOut.push(x)),
    "-U": v((o, x) => o.unsubscribe.push(x)),
    "--unsubscribe": v((o, x) => o.unsubscribe.push(x)),
    "-v": b((o) => o.verbose = true),
    "--verbose": b((o) => o.verbose = true),
    "-C": v((o, x) => o.count = int("-C", x, 1, Number.MAX_SAFE_INTEGER)),
    "--count": v((o, x) => o.count = int("--count", x, 1, Number.MAX_SAFE_INTEGER)),
    "-W": v((o, x) => o.timeout = int("-W", x, 1, 2_147_483)),
    "--timeout": v((o, x) => o.timeout = int("--timeout", x, 1, 2_147_483)),
    "-R": b((o) => o.noRetained = true),
    "--no-retained": b((o) => o.noRetained = true),
    "--retained-only": b((o) => o.retainedOnly = true),
    "--remove-retained": b((o) => o.removeRetained = true),
    "-E": b((o) => o.exitAfterSubscribe = true),
    "-N": b((o) => o.eol = false),
    "--no-eol": b((o) => o.eol = false),
    "-F": v((o, x) => o.format = x),
    "--format": v((o, x) => o.format = x),
    "--json": b((o) => o.json = true),
  });
  if (o.help) return o;
  checkConnection(o);
  if (o.topics.length === 0 && o.unsubscribe.length === 0) {
    throw new UsageError("a topic is needed: -t filter (repeatable) or -L URL/filter");
  }
  if (o.json && o.format !== undefined) throw new UsageError("--json and -F cannot be combined");
  if (o.noRetained && o.retainedOnly) {
    throw new UsageError("-R and --retained-only cannot be combined");
  }
  return o;
}
