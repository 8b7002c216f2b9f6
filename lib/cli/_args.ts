// Command-line parsing for `umqtt pub` and `umqtt sub`: mosquitto's flag
// spellings, applied in order so that a later flag wins over an earlier one
// (as mosquitto does with -L followed by -p, say).
import type { QoS } from "../../mod.ts";
import { validateTopicFilter, validateTopicName } from "../topic.ts";
import { portIn, withoutCredentials } from "../transports/endpoint.ts";
import {
  anyProperties,
  type Command,
  COMMANDS,
  hasProperties,
  noProperties,
  type Properties,
  PropertyError,
  takeProperty,
} from "./_props.ts";

/** Exit codes a script can rely on; documented in --help and the README. */
export const EXIT = {
  /** Done: all published, or -C/-E reached, or stopped by Ctrl-C. */
  ok: 0,
  /** Anything else: a subscription refused, an unexpected error. */
  error: 1,
  /** Bad arguments: an unknown flag, a missing value, a value out of range. */
  usage: 2,
  /** The network: could not connect (refused, unreachable, TLS), or the connection was lost. */
  network: 3,
  /** Timed out: -W expired, or no CONNACK within the connect timeout. */
  timeout: 4,
  /**
   * The broker refused the connection: 10 + the CONNACK return code (11 to 15; MQTT 5's reason
   * codes as the return code they stand for), 10 for an MQTT 5 reason without one.
   */
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
  /** 4 (MQTT 3.1.1, the default) or 5: `-V 5`, or `-D` without `-V`. */
  version: 4 | 5;
  /** -V as given, if it was: `-D` or `-x` with `-V 311` is an error. */
  versionFlag?: string;
  /** -x: the session expiry interval in seconds (0xFFFFFFFF: never). */
  sessionExpiry?: number;
  /** -D: MQTT 5 properties, per command. */
  properties: Properties;
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
  /** --retain-as-published: MQTT 5's subscription option. */
  retainAsPublished: boolean;
}

type Handler<T> = (o: T, value: string) => void;

interface Flag<T> {
  /** Takes a value (the next argument, or `--name=value`). */
  value: boolean;
  set: Handler<T>;
  /** Takes several values (-D): reads them from `args` at `at`, returns how many. */
  take?: (o: T, args: string[], at: number) => number;
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

/**
 * Parses `-L mqtt(s)|ws(s)://[user[:password]@]host[:port]/topic` into `o`. The topic is taken as
 * typed, `%` and all, as mosquitto does; the user name and password are %-decoded, so that they can
 * hold ":" and "@".
 */
function applyUrl(o: ConnectionArgs & { topic?: string; topics?: string[] }, value: string) {
  const shown = withoutCredentials(value); // what an error may echo: no password
  const m = /^(mqtts?|wss?):\/\/([^/]*)(?:\/(.*))?$/is.exec(value);
  let url: URL | undefined, http = "";
  try {
    // URL parses only the authority: a topic's "#" or "?" is no fragment or query.
    if (m) url = new URL(http = `http://${m[2]}/`);
  } catch { /* reported below */ }
  if (!m || !url || !m[2]) {
    throw new UsageError(
      `-L ${shown}: expected mqtt://, mqtts://, ws:// or wss://[user[:password]@]host[:port]/topic`,
    );
  }
  o.scheme = m[1].toLowerCase() as ConnectionArgs["scheme"];
  o.host = url.hostname.replace(/^\[(.*)\]$/, "$1");
  o.port = portIn(url, http);
  const decode = (part: string, what: string) => {
    try {
      return decodeURIComponent(part);
    } catch {
      throw new UsageError(
        `-L ${shown}: the ${what} has a % that does not start an escape (%XX, two hex digits)`,
      );
    }
  };
  if (url.username) o.user = decode(url.username, "user name");
  if (url.password) o.password = decode(url.password, "password");
  const topic = m[3] ?? "";
  if (topic === "") throw new UsageError(`-L ${shown}: the URL needs a topic as its path`);
  if (o.topics) o.topics.push(topicArg("-L", topic));
  else o.topic = topicArg("-L", topic, false);
}

/**
 * A topic given by `flag`: a valid topic filter (`filter`), else topic name, as mosquitto's tools
 * check them before connecting; or a usage error that says what is wrong with it. The string's
 * own checks (U+0000, control characters, …) come with the client's call.
 */
function topicArg(flag: string, x: string, filter = true): string {
  try {
    (filter ? validateTopicFilter : validateTopicName)(x);
  } catch (e) {
    // The library's message is `Cannot subscribe to "FILTER": why`; the why is what is wanted.
    const message = (e as Error).message;
    const quoted = `"${x}": `;
    const why = message.includes(quoted)
      ? message.slice(message.indexOf(quoted) + quoted.length)
      : message;
    throw new UsageError(
      `${flag} ${x || '""'}: not a valid topic ${filter ? "filter" : "name"}: ${why}`,
    );
  }
  return x;
}

/** -V: 311 (mqttv311) or 5 (mqttv5), as mosquitto spells them; MQTT 3.1 is refused. */
function protocolVersion(o: ConnectionArgs, flag: string, x: string): void {
  if (/^(mqttv311|v311|311)$/i.test(x)) o.version = 4;
  else if (/^(mqttv5|v5|5)$/i.test(x)) o.version = 5;
  else if (/^(mqttv31|v31|31)$/i.test(x)) {
    throw new UsageError(`${flag} ${x}: MQTT 3.1 is not supported; use mqttv311 or mqttv5`);
  } else throw new UsageError(`${flag} ${x}: expected mqttv311 (311) or mqttv5 (5)`);
  o.versionFlag = `${flag} ${x}`;
}

/** -D COMMAND PROPERTY VALUE; a usage error names what is wrong. */
function property(o: ConnectionArgs, flag: string, args: string[], at: number): number {
  try {
    return takeProperty(flag, args, at, o.properties);
  } catch (e) {
    if (e instanceof PropertyError) throw new UsageError(e.message);
    throw e;
  }
}

/** -x SECS: 0 to 4294967295, or -1 or ∞ for a session that does not expire (4294967295). */
function sessionExpiry(x: string): number {
  if (x === "-1" || x === "∞") return 0xffffffff;
  const n = /^\d+$/.test(x) ? Number(x) : NaN;
  if (!(n <= 0xffffffff)) {
    throw new UsageError(`-x ${x}: must be an integer from 0 to 4294967295, or -1 or ∞ for never`);
  }
  return n;
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
    "-V": v((o, x) => protocolVersion(o, "-V", x)),
    "--protocol-version": v((o, x) => protocolVersion(o, "--protocol-version", x)),
    "-D": { value: true, set: () => {}, take: (o, args, at) => property(o, "-D", args, at) },
    "--property": {
      value: true,
      set: () => {},
      take: (o, args, at) => property(o, "--property", args, at),
    },
    "-x": v((o, x) => o.sessionExpiry = sessionExpiry(x)),
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
    "--nodelay": b(() => {}), // mosquitto's flag to turn Nagle off, which is always off here
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
    version: 4,
    properties: noProperties(),
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
        arg.startsWith("-")
          ? `unknown option ${name}`
          // A URL's user information, or user:password@, is hidden: "hello@world" is no credentials.
          : `unexpected argument "${/:\/\/|:.*@/.test(arg) ? withoutCredentials(arg) : arg}"`,
      );
    }
    if (!flag.value) {
      if (eq > 0) throw new UsageError(`${name} takes no value`);
      flag.set(o, "");
      continue;
    }
    if (flag.take) {
      if (eq > 0) {
        throw new UsageError(`${name} takes COMMAND PROPERTY VALUE as separate arguments`);
      }
      i += flag.take(o, args, i + 1);
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

const PACKET: Record<Command, string> = {
  connect: "CONNECT",
  publish: "PUBLISH",
  subscribe: "SUBSCRIBE",
  unsubscribe: "UNSUBSCRIBE",
  disconnect: "DISCONNECT",
  will: "will",
};

/** What pub and sub check alike; `sends` are the -D commands the program has a use for. */
function checkConnection(o: ConnectionArgs, program: string, sends: Command[]): void {
  if (anyProperties(o.properties)) {
    // As mosquitto: -D means MQTT 5. It ignores -D after -V 311 and drops the properties when -V 311
    // comes after; either way the command line asks for two things at once.
    if (o.version === 4 && o.versionFlag !== undefined) {
      throw new UsageError(`-D needs MQTT 5: it cannot be combined with ${o.versionFlag}`);
    }
    o.version = 5;
  }
  if (o.sessionExpiry !== undefined) {
    if (o.version === 4) {
      throw new UsageError("-x needs -V 5: MQTT 3.1.1 has no session expiry interval");
    }
    if (o.properties.connect.sessionExpiryInterval !== undefined) {
      throw new UsageError("-x and -D connect session-expiry-interval set the same: give one");
    }
  }
  for (const c of COMMANDS) {
    if (hasProperties(o.properties, c) && !sends.includes(c)) {
      throw new UsageError(`-D ${c}: umqtt ${program} sends no ${PACKET[c]}`);
    }
  }
  if (hasProperties(o.properties, "will") && o.willTopic === undefined) {
    throw new UsageError("-D will needs --will-topic");
  }
  if (o.password !== undefined && o.user === undefined && o.version === 4) {
    throw new UsageError("-P needs -u: MQTT 3.1.1 sends a password only with a user name");
  }
  if ((o.cert === undefined) !== (o.key === undefined)) {
    throw new UsageError("--cert and --key go together");
  }
  // mosquitto_pub ignores them then, and connects in clear: the library refuses its ssl_params.
  if (o.cert !== undefined && o.scheme === "mqtt" && o.cafile === undefined) {
    throw new UsageError("--cert and --key need TLS: give --cafile, or an mqtts:// URL with -L");
  }
  if (o.willTopic === undefined && (o.willPayload !== undefined || o.willRetain)) {
    throw new UsageError("--will-payload and --will-retain need --will-topic");
  }
  // MQTT 5 keeps a session for its expiry interval: only one that never expires needs a known id
  // (mosquitto's rule); -c alone asks for that.
  const expiry = o.sessionExpiry ?? o.properties.connect.sessionExpiryInterval;
  if (o.id === undefined) {
    if (o.persistent && (o.version === 4 || expiry === undefined)) {
      throw new UsageError("-c needs a client id (-i): a persistent session is kept per id");
    }
    if (expiry === 0xffffffff) {
      throw new UsageError("a session that never expires needs a client id (-i)");
    }
  }
  const atDisconnect = o.properties.disconnect.sessionExpiryInterval;
  if (atDisconnect && !(expiry ?? (o.persistent ? 1 : 0))) {
    throw new UsageError(
      `-D disconnect session-expiry-interval ${atDisconnect}: the session expiry at CONNECT is 0, ` +
        "so DISCONNECT may not set one (MQTT 5.0 section 3.14.2.2.2); give -c or -x",
    );
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
  // As mosquitto_pub: one message source, given once (a second -m does not replace the first).
  let sourceFlag: string | undefined;
  const source = (flag: string, s: MessageSource) => (o: PubArgs) => {
    if (sourceFlag !== undefined) {
      throw new UsageError(
        `${flag}: only one message may be given, and ${sourceFlag} gave one already`,
      );
    }
    sourceFlag = flag;
    o.source = s;
  };
  run(args, o, {
    ...connectionFlags<PubArgs>(),
    "-t": v((o, x) => o.topic = topicArg("-t", x, false)),
    "--topic": v((o, x) => o.topic = topicArg("--topic", x, false)),
    "-r": { value: false, set: (o) => o.retain = true },
    "--retain": { value: false, set: (o) => o.retain = true },
    "-m": v((o, x) => source("-m", { kind: "message", text: x })(o)),
    "--message": v((o, x) => source("--message", { kind: "message", text: x })(o)),
    "-f": v((o, x) => source("-f", { kind: "file", path: x })(o)),
    "--file": v((o, x) => source("--file", { kind: "file", path: x })(o)),
    "-s": { value: false, set: source("-s", { kind: "stdin" }) },
    "--stdin-file": { value: false, set: source("--stdin-file", { kind: "stdin" }) },
    "-l": { value: false, set: source("-l", { kind: "lines" }) },
    "--stdin-line": { value: false, set: source("--stdin-line", { kind: "lines" }) },
    "-n": { value: false, set: source("-n", { kind: "null" }) },
    "--null-message": { value: false, set: source("--null-message", { kind: "null" }) },
    "--repeat": v((o, x) => o.repeat = int("--repeat", x, 1, 2 ** 31)),
    "--repeat-delay": v((o, x) => {
      const n = Number(x);
      // No longer than a timer can wait (2^31 - 1 ms): past it setTimeout fires at once.
      if (!/^\d+(\.\d+)?$/.test(x) || !(n * 1000 <= 2_147_483_647)) {
        throw new UsageError(
          `--repeat-delay ${x}: must be a number of seconds from 0 to 2147483.647`,
        );
      }
      o.repeatDelay = n;
    }),
  });
  if (o.help) return o;
  checkConnection(o, "pub", ["connect", "publish", "disconnect", "will"]);
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
    retainAsPublished: false,
  };
  const v = (set: Handler<SubArgs>): Flag<SubArgs> => ({ value: true, set });
  const b = (set: (o: SubArgs) => void): Flag<SubArgs> => ({ value: false, set });
  run(args, o, {
    ...connectionFlags<SubArgs>(),
    "-t": v((o, x) => o.topics.push(topicArg("-t", x))),
    "--topic": v((o, x) => o.topics.push(topicArg("--topic", x))),
    "-T": v((o, x) => o.filterOut.push(topicArg("-T", x))),
    "--filter-out": v((o, x) => o.filterOut.push(topicArg("--filter-out", x))),
    "-U": v((o, x) => o.unsubscribe.push(topicArg("-U", x))),
    "--unsubscribe": v((o, x) => o.unsubscribe.push(topicArg("--unsubscribe", x))),
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
    "--retain-as-published": b((o) => o.retainAsPublished = true),
  });
  if (o.help) return o;
  checkConnection(o, "sub", ["connect", "subscribe", "unsubscribe", "disconnect", "will"]);
  if (o.topics.length === 0 && o.unsubscribe.length === 0) {
    throw new UsageError("a topic is needed: -t filter (repeatable) or -L URL/filter");
  }
  if (o.json && o.format !== undefined) throw new UsageError("--json and -F cannot be combined");
  if (o.noRetained && o.retainedOnly) {
    throw new UsageError("-R and --retained-only cannot be combined");
  }
  if (o.retainAsPublished && o.version !== 5) {
    throw new UsageError("--retain-as-published needs -V 5: it is an MQTT 5 subscription option");
  }
  return o;
}
