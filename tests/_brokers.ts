/**
 * Real brokers for client tests: mosquitto and aedes, each a subprocess on
 * its own free 127.0.0.1 port. Runs under Deno and Bun (node: modules only;
 * `Deno.*`/`Bun.*` only behind runtime checks).
 *
 * How shared brokers coexist with Deno's sanitizers (measured, Deno 2.9):
 * - A child process spawned inside a sanitized test and still running when
 *   the test ends is reported as a leaked resource *and* a leaked op (the
 *   wait for its exit), `unref()` or `stdio: "ignore"` notwithstanding.
 * - Anything started before a test (module evaluation) is not counted, but an
 *   op started before a test that *completes* during it is ("a timer was
 *   started before the test, but completed during the test"), so readiness
 *   polling and pipe reads must not straddle the test boundary.
 * So {@linkcode forEachBroker} spawns one broker per kind per test file
 * synchronously while the file registers its tests (ports picked with a
 * synchronous bind probe, aedes' port read from a file rather than a pipe),
 * and each test then waits for readiness itself: connect probes and file
 * reads that finish inside that test. The process lives until the file's
 * `unload` (Deno runs each test file in its own worker, with its own module
 * state) or `process` `exit` (Bun, Node). Tests keep sanitizeOps and
 * sanitizeResources on; only the first test of a file pays the start-up.
 * Brokers with a special config ({@linkcode startMosquitto} with options,
 * {@linkcode startAedes}) are started and stopped inside one test.
 *
 * Beware: Deno 2.9's resource sanitizer sees `Deno.connect` sockets but not
 * `node:net` ones; a leaked node:net socket passes (checked).
 *
 * No broker outlives the test process: each runs under a small `sh` watchdog
 * that kills it when its stdin pipe (held by the test process) closes, which
 * the kernel does even if the test process is SIGKILLed.
 *
 * @module
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { connect } from "node:net";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import process from "node:process";
import type { ProtocolVersion } from "../lib/codec/packet.ts";
import { test, type TestOptions } from "./_test.ts";

/** A broker implementation the harness can run. */
export type BrokerKind = "mosquitto" | "aedes";

/** A running broker. */
export interface Broker {
  /** Which implementation this is; tests may branch on known differences. */
  name: BrokerKind;
  /** Always `127.0.0.1`. */
  host: string;
  /** Plain MQTT (TCP) port. */
  port: number;
  /** `mqtt://127.0.0.1:<port>`. */
  url: string;
  /** TLS listener port, when started with `tls`. */
  tlsPort?: number;
  /** `ws://127.0.0.1:<port>` when started with `websockets`; clients must ask for subprotocol `mqtt`. */
  wsUrl?: string;
  /** Stops the broker and waits for its exit. A no-op on the shared brokers of {@linkcode forEachBroker}. */
  stop(): Promise<void>;
  /**
   * Only on a broker from {@linkcode startMosquitto}: stops mosquitto with
   * SIGTERM (so that, with `persistence`, it saves its state), waits for its
   * exit and starts it again with the same config on the same ports, ready;
   * with `extraConfig`, those lines instead of the start's (a broker whose
   * limits changed, say `max_qos 1`).
   */
  restart?(extraConfig?: string[]): Promise<void>;
}

/** Server-side TLS files for {@linkcode startMosquitto}; paths, copied so mosquitto can read them. */
export interface MosquittoTlsOptions {
  cafile: string;
  certfile: string;
  keyfile: string;
  /** Ask for and verify a client certificate (mutual TLS). */
  requireCertificate?: boolean;
}

/** Special configurations for {@linkcode startMosquitto}. */
export interface MosquittoOptions {
  /** Turn off anonymous access and accept only these users. */
  passwordFile?: { user: string; password: string }[];
  /** Literal topic filters whose SUBSCRIBE gets return code 0x80; all else is allowed. */
  denySubscribe?: string[];
  /**
   * The dynamic-security plugin for anonymous clients, as `denySubscribe`
   * starts it, with more: `deny` lists `[acltype, topic]` pairs refused to
   * them (e.g. `["publishClientSend", "a/b"]`: an MQTT 5 QoS 1 PUBLISH there
   * gets PUBACK 0x87, and the connection stays open); with `control`
   * they may send the plugin's commands to `$CONTROL/dynamic-security/v1`
   * (`createClient`, `disableClient`, …) and read its answers.
   */
  dynsec?: { deny?: [DynsecAclType, string][]; control?: boolean };
  /** Add a WebSocket listener (`Broker.wsUrl`). */
  websockets?: boolean;
  /** Add a TLS listener (`Broker.tlsPort`). */
  tls?: MosquittoTlsOptions;
  /**
   * Keep sessions and queued messages in a file in the broker's temp folder,
   * saved only on exit (`autosave_interval 0`), so a {@linkcode Broker.restart}
   * keeps exactly what the broker held when it was stopped.
   */
  persistence?: boolean;
  /**
   * More config lines, e.g. `max_queued_messages 0`, `max_inflight_messages 1`,
   * `max_qos 1`; written right after the main TCP listener's, so listener
   * options apply to it. A `listener PORT [HOST]` line here adds a listener
   * that startMosquitto waits for too (on 127.0.0.1 when it names no host).
   */
  extraConfig?: string[];
}

/** The dynamic-security plugin's ACL types. */
export type DynsecAclType =
  | "publishClientSend"
  | "publishClientReceive"
  | "subscribeLiteral"
  | "subscribePattern"
  | "unsubscribeLiteral"
  | "unsubscribePattern";

/** The dynamic-security plugin's command topic (`dynsec.control`); answers come on `…/response`. */
export const DYNSEC_CONTROL = "$CONTROL/dynamic-security/v1";

const HOST = "127.0.0.1";
const DYNSEC_PLUGINS = [
  "/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so",
  "/usr/lib/aarch64-linux-gnu/mosquitto_dynamic_security.so",
  "/usr/lib/mosquitto_dynamic_security.so",
  "/usr/local/lib/mosquitto_dynamic_security.so",
];
// Runs the broker ("$@") with stdin closed and stderr in the log file ($0).
// Once the test process's end of our stdin pipe closes, removes the temp dir
// ($0's folder; first, since the broker's exit ends this script) and kills
// the broker. SIGKILL, not SIGTERM: mosquitto takes ~100 ms to act on
// SIGTERM, and a stopped test broker has nothing to save (its folder goes,
// and an MQTT 3.1.1 server sends nothing on shutdown; the kernel closes
// sockets). restart() alone needs SIGTERM (mosquitto saves its persistence
// file on it) and sends it to the broker itself, by the pid written here;
// the broker's exit then ends this script, folder kept, stdin still open.
/**
 * The `sh -c` script that runs a broker (`"$@"`, stderr to the file `$0`,
 * its pid written to `pid` beside it) and kills it, removing `$0`'s folder,
 * once its stdin pipe closes: spawn it with `stdio: ["pipe", …]` and hold
 * the pipe, so no broker outlives the test process.
 */
export const WATCHDOG = `exec 3<&0 </dev/null 2>"$0"
"$@" 3<&- &
c=$!
echo $c >"\${0%/*}/pid"
{ read -r _ <&3; rm -rf "\${0%/*}"; kill -KILL $c 2>/dev/null; } &
r=$!
wait $c; s=$?
kill $r 2>/dev/null
exit $s`;

/** Path of the mosquitto binary: `/usr/sbin/mosquitto` or one on `PATH`, else `undefined`. */
export function mosquittoPath(): string | undefined {
  const dirs = ["/usr/sbin", ...(process.env.PATH ?? "").split(delimiter).filter(Boolean)];
  return dirs.map((dir) => join(dir, "mosquitto")).find((path) => existsSync(path));
}

/**
 * The broker kinds this machine can run: aedes always, mosquitto when
 * installed.
 *
 * @throws {Error} If `CI=true` and mosquitto is missing: CI must test against
 * both brokers, so a missing one is a failure, not a skip.
 */
export function brokerKinds(): BrokerKind[] {
  if (mosquittoPath()) return ["mosquitto", "aedes"];
  if (process.env.CI === "true") {
    throw new Error("CI=true but mosquitto is not installed (apt-get install -y mosquitto)");
  }
  return ["aedes"];
}

/** A broker's listeners. */
interface Ports {
  port: number;
  wsPort?: number;
  tlsPort?: number;
}

/** One spawned broker process and what the harness knows about it. */
interface Launch {
  kind: BrokerKind;
  dir: string;
  child: ChildProcess;
  /** Listener ports, when chosen up front (mosquitto). */
  ports?: Ports;
  /** File the broker writes `PORT <n>` to, when it chooses its own (aedes). */
  portFile?: string;
  log: string;
  /** The command the watchdog runs, kept for a restart. */
  argv: string[];
  /** mosquitto: its options, to write its config again for a restart with other lines. */
  opts?: MosquittoOptions;
}

const live = new Set<Launch>();
let exitHookInstalled = false;

/** Spawns `argv` under the watchdog, synchronously, in a fresh temp dir. */
function launch(kind: BrokerKind, dir: string, argv: string[], ports?: Ports): Launch {
  const log = join(dir, "stderr.log");
  // A restart's: the last launch's pid must not pass for this one's (see brokerPid).
  rmSync(join(dir, "pid"), { force: true });
  const child = spawn("sh", ["-c", WATCHDOG, log, ...argv], {
    stdio: ["pipe", "ignore", "ignore"],
  });
  // Swallow EPIPE if the watchdog is already gone when we close its stdin.
  child.stdin?.on("error", () => {});
  const l: Launch = { kind, dir, child, ports, log, argv };
  if (kind === "aedes") l.portFile = argv.at(-1);
  live.add(l);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    const killAll = () => [...live].forEach(release);
    if ("Deno" in globalThis) globalThis.addEventListener("unload", killAll);
    else process.on("exit", killAll);
  }
  return l;
}

/** Closes the watchdog's stdin (which kills the broker) and removes the temp dir. */
function release(l: Launch): void {
  live.delete(l);
  l.child.stdin?.destroy();
  rmSync(l.dir, { recursive: true, force: true });
}

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

async function stopLaunch(l: Launch): Promise<void> {
  if (!live.has(l)) return;
  const gone = exited(l.child) ? Promise.resolve() : new Promise((r) => l.child.once("close", r));
  release(l);
  await gone;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** True if a TCP connection to the port succeeds; resolves only once the socket is closed. */
function accepts(port: number, host = HOST): Promise<boolean> {
  return new Promise((resolve) => {
    let ok = false;
    const socket = connect(port, host);
    socket.once("connect", () => {
      ok = true;
      socket.destroy();
    });
    socket.once("error", () => {});
    socket.once("close", () => resolve(ok));
  });
}

function tail(path: string): string {
  try {
    return readFileSync(path, "utf8").slice(-2000).trim() || "(empty)";
  } catch {
    return "(no output)";
  }
}

/**
 * The listeners a mosquitto config's extra lines add (`listener PORT [HOST]`),
 * as [port, host to probe]; a listener on every interface is probed on 127.0.0.1.
 */
function extraListeners(lines: readonly string[] = []): [number, string][] {
  return lines.flatMap((line) => {
    const m = /^\s*listener\s+(\d+)(?:\s+(\S+))?/.exec(line);
    return m ? [[Number(m[1]), m[2] ?? HOST] as [number, string]] : [];
  });
}

/**
 * Waits until every listener accepts connections, those of a mosquitto's
 * `extraConfig` too; returns the harness's ports. mosquitto opens its
 * listeners one after another and a WebSocket one 25-100 ms after the first
 * accepts (measured), so no listener stands for another.
 */
async function ready(l: Launch, timeoutMs: number): Promise<Ports> {
  const deadline = Date.now() + timeoutMs;
  const extra = extraListeners(l.opts?.extraConfig);
  for (;;) {
    if (exited(l.child)) {
      const how = l.child.signalCode ?? `code ${l.child.exitCode}`;
      throw new Error(
        `${l.kind} exited (${how}) before accepting connections; stderr:\n${tail(l.log)}`,
      );
    }
    const ports = l.ports ?? readPortFile(l.portFile!);
    const all: [number, string][] = ports
      ? [...Object.values(ports).map((p): [number, string] => [p, HOST]), ...extra]
      : [];
    if (ports && (await Promise.all(all.map(([p, h]) => accepts(p, h)))).every(Boolean)) {
      return ports;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `${l.kind} did not accept connections on ${
          all.map(([p, h]) => `${h}:${p}`).join(", ") || "?"
        } ` +
          `within ${timeoutMs} ms; stderr:\n${tail(l.log)}`,
      );
    }
    await sleep(10);
  }
}

function readPortFile(path: string): Ports | undefined {
  if (!existsSync(path)) return undefined;
  const match = /^PORT (\d+)/.exec(readFileSync(path, "utf8"));
  return match ? { port: Number(match[1]) } : undefined;
}

/** Ports freePort() has returned in this process. */
const handedOut = new Set<number>();

/**
 * A port that nothing listens on right now, checked with a synchronous bind
 * so brokers can be spawned during module evaluation. Chosen below Linux's
 * ephemeral range (32768+), so the kernel never hands it to another socket
 * between our probe and the broker's bind; only another harness picking the
 * same random port at the same moment can collide, and startMosquitto
 * retries that. A port is handed out once per process (until 6000 have
 * been): the probe's socket is closed before the next draw, so two calls
 * made before anything binds (one broker's listeners) could otherwise meet.
 */
export function freePort(): number {
  if (handedOut.size >= 6000) handedOut.clear();
  for (let i = 0; i < 100; i++) {
    const port = 20000 + Math.floor(Math.random() * 12000);
    if (!handedOut.has(port) && canBind(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error("no free port found in 20000-31999 on 127.0.0.1");
}

function canBind(port: number): boolean {
  const { Bun } = globalThis as unknown as {
    Bun?: { listen(o: object): { stop(closeActive?: boolean): void } };
  };
  try {
    if ("Deno" in globalThis) Deno.listen({ hostname: HOST, port }).close();
    else if (Bun) Bun.listen({ hostname: HOST, port, socket: { data() {} } }).stop(true);
    // Node has no synchronous bind; the caller's retry covers a taken port.
    return true;
  } catch {
    return false;
  }
}

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "umqtt-broker-"));
  // Started as root, mosquitto drops to user `mosquitto`, which must read
  // everything here.
  chmodSync(dir, 0o755);
  return dir;
}

function writeReadable(path: string, text: string): string {
  writeFileSync(path, text);
  chmodSync(path, 0o644);
  return path;
}

/** Writes a config for `opts` and spawns mosquitto on fresh ports. */
function launchMosquitto(opts: MosquittoOptions): Launch {
  const bin = mosquittoPath();
  if (!bin) throw new Error("mosquitto is not installed (apt-get install -y mosquitto)");
  if (opts.passwordFile && (opts.denySubscribe || opts.dynsec)) {
    // The dynamic-security plugin takes over authentication, so the password
    // file would silently stop applying.
    throw new TypeError(
      "startMosquitto: passwordFile and denySubscribe or dynsec cannot be combined",
    );
  }
  const dir = tempDir();
  try {
    const ports: Ports = {
      port: freePort(),
      ...(opts.websockets ? { wsPort: freePort() } : {}),
      ...(opts.tls ? { tlsPort: freePort() } : {}),
    };
    const l = launch("mosquitto", dir, [bin, "-c", writeConfig(dir, ports, opts)], ports);
    l.opts = opts;
    return l;
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

/** Writes mosquitto.conf (and the files it names) into `dir`; returns its path. */
function writeConfig(dir: string, ports: Ports, opts: MosquittoOptions): string {
  const conf = [
    `listener ${ports.port} ${HOST}`,
    `persistence ${opts.persistence ? "true" : "false"}`,
    "log_dest stderr",
    "log_type error",
    "log_type warning",
    `allow_anonymous ${opts.passwordFile ? "false" : "true"}`,
  ];
  if (opts.persistence) {
    // Written by the `mosquitto` user it drops to; saved on exit only, so
    // what survives a restart does not depend on when a timer fired.
    const data = join(dir, "data");
    mkdirSync(data, { recursive: true }); // there already when written again for a restart
    chmodSync(data, 0o777);
    conf.push(`persistence_location ${data}/`, "autosave_interval 0");
  }
  for (const line of opts.extraConfig ?? []) {
    if (typeof line !== "string" || /[\r\n]/.test(line)) {
      throw new TypeError(`startMosquitto: extraConfig must hold single lines, got ${line}`);
    }
    conf.push(line);
  }
  if (opts.passwordFile) {
    const file = writeReadable(join(dir, "passwd"), "");
    for (const { user, password } of opts.passwordFile) {
      execFileSync("mosquitto_passwd", ["-b", file, user, password]);
    }
    conf.push(`password_file ${file}`);
  }
  if (opts.denySubscribe || opts.dynsec) {
    const plugin = DYNSEC_PLUGINS.find((path) => existsSync(path));
    if (!plugin) {
      throw new Error(`mosquitto dynamic-security plugin not found in ${DYNSEC_PLUGINS}`);
    }
    const deny: [DynsecAclType, string][] = [
      ...(opts.denySubscribe ?? []).map((t): [DynsecAclType, string] => ["subscribeLiteral", t]),
      ...opts.dynsec?.deny ?? [],
    ];
    const acls = deny.map(([acltype, topic]) => ({ acltype, topic, allow: false }));
    if (opts.dynsec?.control) {
      // Allowed explicitly: defaultACLAccess does not reach $CONTROL (checked: SUBACK 0x87).
      acls.push(
        { acltype: "publishClientSend", topic: `${DYNSEC_CONTROL}`, allow: true },
        { acltype: "subscribePattern", topic: `${DYNSEC_CONTROL}/#`, allow: true },
        { acltype: "publishClientReceive", topic: `${DYNSEC_CONTROL}/#`, allow: true },
      );
    }
    const dynsec = {
      defaultACLAccess: {
        publishClientSend: true,
        publishClientReceive: true,
        subscribe: true,
        unsubscribe: true,
      },
      clients: [],
      groups: [{ groupname: "anonymous", roles: [{ rolename: "deny" }], clients: [] }],
      roles: [{ rolename: "deny", acls }],
      anonymousGroup: "anonymous",
    };
    // (Changes made through $CONTROL are not saved: the folder is root's. They need not be.)
    const file = writeReadable(join(dir, "dynsec.json"), JSON.stringify(dynsec));
    conf.push(`plugin ${plugin}`, `plugin_opt_config_file ${file}`);
  }
  if (ports.wsPort) conf.push(`listener ${ports.wsPort} ${HOST}`, "protocol websockets");
  if (opts.tls) {
    const copy = (name: string, from: string) => {
      copyFileSync(from, join(dir, name));
      chmodSync(join(dir, name), 0o644);
      return join(dir, name);
    };
    conf.push(
      `listener ${ports.tlsPort} ${HOST}`,
      `cafile ${copy("ca.pem", opts.tls.cafile)}`,
      `certfile ${copy("cert.pem", opts.tls.certfile)}`,
      `keyfile ${copy("key.pem", opts.tls.keyfile)}`,
      `require_certificate ${opts.tls.requireCertificate ? "true" : "false"}`,
    );
  }
  return writeReadable(join(dir, "mosquitto.conf"), conf.join("\n") + "\n");
}

function launchAedes(): Launch {
  const dir = tempDir();
  const script = join(import.meta.dirname!, "_aedes_server.ts");
  const portFile = join(dir, "port");
  const argv = "Deno" in globalThis
    ? [Deno.execPath(), "run", "--quiet", "--allow-all", script, portFile]
    // Bun runs TypeScript directly; so would a Node that strips types.
    : [process.execPath, script, portFile];
  return launch("aedes", dir, argv);
}

/**
 * The broker's pid, which the watchdog writes just after starting it: under
 * load, after the broker is up and a test connected (a restart right then
 * read no file: ENOENT), so it is waited for.
 */
async function brokerPid(l: Launch): Promise<number> {
  const file = join(l.dir, "pid");
  for (let waited = 0;; waited += 10) {
    const text = existsSync(file) ? readFileSync(file, "utf8") : "";
    if (text.endsWith("\n")) return Number(text);
    if (waited >= 5000) throw new Error(`${l.kind}'s watchdog wrote no pid within 5 s`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/**
 * SIGTERMs the broker itself (not the watchdog, whose stdin stays open, so
 * the folder and its persistence file stay), waits for its exit, and
 * launches the same command in the same folder on the same ports.
 */
async function restartLaunch(l: Launch, extraConfig?: string[]): Promise<Launch> {
  if (!live.has(l)) throw new Error(`Cannot restart ${l.kind}: it was stopped`);
  const pid = await brokerPid(l);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const exit = exited(l.child) ? Promise.resolve(true) : Promise.race([
    new Promise<boolean>((resolve) => l.child.once("close", () => resolve(true))),
    new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), 10_000))),
  ]);
  if (!exited(l.child)) process.kill(pid, "SIGTERM");
  const gone = await exit;
  clearTimeout(timer);
  if (!gone) throw new Error(`${l.kind} did not exit within 10 s of SIGTERM`);
  live.delete(l);
  l.child.stdin?.destroy();
  const opts = extraConfig ? { ...l.opts, extraConfig } : l.opts;
  if (extraConfig) writeConfig(l.dir, l.ports!, opts!);
  const next = launch(l.kind, l.dir, l.argv, l.ports);
  next.opts = opts;
  try {
    await ready(next, TIMEOUT[l.kind]);
    return next;
  } catch (err) {
    await stopLaunch(next);
    throw err;
  }
}

/** Wraps a ready launch as a Broker. */
function asBroker(l: Launch, { port, wsPort, tlsPort }: Ports, owned = true): Broker {
  let current = l;
  return {
    name: l.kind,
    host: HOST,
    port,
    url: `mqtt://${HOST}:${port}`,
    ...(wsPort ? { wsUrl: `ws://${HOST}:${wsPort}` } : {}),
    ...(tlsPort ? { tlsPort } : {}),
    stop: owned ? () => stopLaunch(current) : () => Promise.resolve(),
    ...(owned && l.kind === "mosquitto"
      ? { restart: async (extra) => void (current = await restartLaunch(current, extra)) }
      : {}),
  };
}

// First start of the aedes script may download aedes from npm.
const TIMEOUT = { mosquitto: 5000, aedes: 60000 };

/**
 * Starts a mosquitto with its own config, for a test that needs one; call
 * `stop()` before the test ends. The listeners bind 127.0.0.1 on free ports;
 * persistence is off unless asked for. `restart()` keeps the ports.
 *
 * @example A broker that keeps sessions across a restart
 * ```ts ignore
 * const broker = await startMosquitto({ persistence: true, extraConfig: ["max_queued_messages 0"] });
 * await broker.restart!(); // SIGTERM (state saved), then up again on broker.port
 * await broker.stop();
 * ```
 *
 * @throws {Error} If mosquitto is missing or does not come up (the message
 * carries its stderr).
 * @throws {TypeError} If `passwordFile` and `denySubscribe` are combined, or
 * an `extraConfig` entry is not one line.
 */
export async function startMosquitto(opts: MosquittoOptions = {}): Promise<Broker> {
  for (let attempt = 1;; attempt++) {
    const l = launchMosquitto(opts);
    try {
      return asBroker(l, await ready(l, TIMEOUT.mosquitto));
    } catch (err) {
      await stopLaunch(l);
      // Another harness may have bound the port we probed; pick again.
      // (mosquitto words it so for its own listeners, the other way for
      // libwebsockets'.)
      if (attempt < 3 && /Address already in use|Unable to create websockets/.test(String(err))) {
        continue;
      }
      throw err;
    }
  }
}

/**
 * Starts an aedes broker subprocess under the current runtime (Deno or
 * Bun), for a test that needs its own; call `stop()` before the test ends.
 *
 * @throws {Error} If it does not come up (the message carries its stderr).
 */
export async function startAedes(): Promise<Broker> {
  const l = launchAedes();
  try {
    return asBroker(l, await ready(l, TIMEOUT.aedes));
  } catch (err) {
    await stopLaunch(l);
    throw err;
  }
}

/** Per kind: the file's shared broker, spawned at registration, ready on first await. */
const shared = new Map<BrokerKind, { launch: Launch; broker?: Promise<Broker> }>();

function sharedBroker(kind: BrokerKind): () => Promise<Broker> {
  let entry = shared.get(kind);
  if (!entry) {
    entry = { launch: kind === "mosquitto" ? launchMosquitto({}) : launchAedes() };
    shared.set(kind, entry);
  }
  const e = entry;
  return () =>
    e.broker ??= ready(e.launch, TIMEOUT[kind]).then((ports) => asBroker(e.launch, ports, false));
}

/** Options for {@linkcode forEachBroker}. */
export interface ForEachBrokerOptions extends Omit<TestOptions, "mosquitto"> {
  /** Register only for these kinds. */
  only?: readonly BrokerKind[];
  /**
   * The MQTT versions to run the body at, on each broker that speaks them
   * (aedes speaks 4 only); default `[4]`. A version 5 run is named
   * `"<title> [<kind>, MQTT 5]"`.
   */
  versions?: readonly ProtocolVersion[];
}

/** Which MQTT versions each broker kind speaks. */
const SPEAKS: Record<BrokerKind, ProtocolVersion[]> = { mosquitto: [4, 5], aedes: [4] };

/**
 * Registers `fn` once per broker kind, as `"<title> [mosquitto]"` and
 * `"<title> [aedes]"`, each given the test file's shared broker of that kind
 * (plain TCP, anonymous) and the MQTT version to speak; with `versions: [4,
 * 5]` also as `"<title> [mosquitto, MQTT 5]"`. A kind this machine cannot
 * run is registered as ignored. Call it at module level: the brokers are
 * spawned right here, so that they are not resources of any one test.
 *
 * @example
 * ```ts ignore
 * forEachBroker("CONNECT gets CONNACK 0", async (broker, protocolVersion) => {
 *   const client = new MQTTClient(uniqueId("c"), broker.host, { port: broker.port, protocolVersion });
 *   await client.connect();
 *   await client.disconnect();
 * }, { versions: [4, 5] });
 * ```
 *
 * @throws {Error} If `CI=true` and mosquitto is missing (see {@linkcode brokerKinds}).
 */
export function forEachBroker(
  title: string,
  fn: (broker: Broker, version: ProtocolVersion) => Promise<void>,
  opts: ForEachBrokerOptions = {},
): void {
  const kinds = opts.only ?? ["mosquitto", "aedes"];
  // Only a file that wants mosquitto should fail for its absence under CI.
  const available = kinds.includes("mosquitto") ? brokerKinds() : ["aedes"];
  for (const version of opts.versions ?? [4]) {
    for (const kind of kinds) {
      if (!SPEAKS[kind].includes(version)) continue;
      const name = `${title} [${kind}${version === 4 ? "" : `, MQTT ${version}`}]`;
      if (opts.ignore || !available.includes(kind)) {
        test(name, () => {}, { ignore: true });
        continue;
      }
      const broker = sharedBroker(kind);
      test(name, async () => fn(await broker(), version), opts);
    }
  }
}
