/**
 * A three-node NATS cluster with JetStream and its MQTT listener, for tests
 * that need a broker made of several servers: Debian's `nats-server` (2.9),
 * three processes on loopback ports, started and stopped inside one test
 * (as {@linkcode startMosquitto} brokers are), each under the same `sh`
 * watchdog as the mosquitto brokers of `_brokers.ts`, so that no
 * nats-server outlives the test process even if it is SIGKILLed.
 *
 * Facts this harness relies on (NATS 2.9.10, checked):
 * - The cluster is ready when every node's `/jsz` reports a JetStream meta
 *   leader of a 3-node group; the first MQTT connection to a node then
 *   creates or looks up the MQTT streams (a few seconds for the very first),
 *   so {@linkcode startNatsCluster} makes one on each node before it resolves.
 * - `mqtt { stream_replicas: 3 }`: without it the MQTT streams get as many
 *   replicas as a node has routes, and QoS 1 messages do not survive the
 *   loss of a node. A PUBACK comes once the message is stored on a majority.
 * - `mqtt { ack_wait }` (default 30 s) is how long a delivered but
 *   unacknowledged QoS 1 message waits before it is delivered again.
 * - `$MQTT_msgs` keeps a message while some QoS 1 subscription's consumer
 *   still needs it (interest retention). With the consumers replicated (the
 *   default: as many replicas as the stream), a node that gets one
 *   consumer's replicated ack before the message itself asks the stream to
 *   delete the message on every node (NATS before 2.9.16), so under load
 *   other subscribers' consumers skip it or, if they had it pending, count it
 *   acknowledged: it never reaches them (a `MSG_TERMINATED` advisory at most).
 *   {@linkcode NatsClusterOptions.consumerReplicas} 1 avoids that.
 * - Losing the node that led the session stream (`$MQTT_sess`) costs about
 *   4–9 s of refused or unanswered CONNECTs on the other nodes, until a new
 *   leader is elected; {@linkcode NatsCluster.streamLeader} tells which.
 * - `/healthz` is no sign of a restarted node having rejoined: it may report
 *   an idle MQTT consumer "not current" for minutes. {@linkcode NatsNode.start}
 *   waits for the meta group, the routes and an MQTT CONNECT instead.
 * - MQTT 3.1.1 only, QoS 0 and 1 (a QoS 2 PUBLISH closes the connection).
 *
 * @module
 */
import { type ChildProcess, spawn } from "node:child_process";
import { connect } from "node:net";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import process from "node:process";
import { freePort, WATCHDOG } from "./_brokers.ts";

const HOST = "127.0.0.1";

/** One server of a {@linkcode NatsCluster}. */
export interface NatsNode {
  /** Its `server_name`: `n1`, `n2`, `n3`. */
  name: string;
  /** Its MQTT listener's port on 127.0.0.1. */
  mqttPort: number;
  /** `mqtt://127.0.0.1:<mqttPort>`. */
  mqttUrl: string;
  /** `http://127.0.0.1:<port>`: the monitoring endpoints (`/jsz`, `/connz`, `/routez`, …). */
  monitorUrl: string;
  /** Whether its process runs (false between {@linkcode kill} and {@linkcode start}). */
  readonly running: boolean;
  /**
   * Kills the server with SIGKILL (no goodbye to clients or peers, as when a
   * machine dies) and waits for its exit. Its JetStream store is kept for
   * {@linkcode start}.
   */
  kill(): Promise<void>;
  /**
   * Starts the server again after {@linkcode kill}, with the same config,
   * ports and store; resolves once it has rejoined: it sees the meta leader
   * of the 3-node group, has a route to every other running node, and
   * answers an MQTT CONNECT.
   */
  start(): Promise<void>;
}

/** A running cluster from {@linkcode startNatsCluster}. */
export interface NatsCluster {
  /** The three nodes, `n1` to `n3`. */
  nodes: NatsNode[];
  /** Each node's `mqttUrl`, in order: the server list a failover client is given. */
  urls: string[];
  /**
   * The node an MQTT client id is connected to right now (from each
   * running node's `/connz?mqtt_client=ID`), or `undefined`.
   */
  nodeOf(clientId: string): Promise<NatsNode | undefined>;
  /**
   * The node that leads a JetStream stream of the MQTT layer, as that node
   * reports it: `$MQTT_sess` (sessions, the default), `$MQTT_msgs` (QoS 1
   * messages) or `$MQTT_rmsgs` (retained messages); `undefined` while there
   * is no leader.
   */
  streamLeader(stream?: string): Promise<NatsNode | undefined>;
  /**
   * What each consumer of `$MQTT_msgs` (one per QoS 1 subscription) has
   * done, as its leader reports it, one line each: the stream's last
   * sequence, then per consumer the last delivered and acknowledged
   * sequences, how many wait to be delivered, to be acknowledged, and how
   * many were delivered again; then the end of each node's log. For a
   * failure message: it tells messages the broker still holds from messages
   * it thinks done.
   */
  consumers(): Promise<string>;
  /** Kills every node, waits for their exit and removes their folders. */
  stop(): Promise<void>;
}

/** Options for {@linkcode startNatsCluster}. */
export interface NatsClusterOptions {
  /**
   * `mqtt { ack_wait }` in milliseconds: how long a delivered, unacknowledged
   * QoS 1 message waits before it is delivered again (NATS' default: 30 000).
   */
  ackWaitMs?: number;
  /**
   * `mqtt { consumer_replicas }`: how many servers keep each QoS 1
   * subscription's JetStream consumer (NATS' default: as many as the
   * message stream, here 3).
   */
  consumerReplicas?: number;
}

/** Path of `nats-server`: `/usr/sbin/nats-server` or one on `PATH`, else `undefined`. */
export function natsServerPath(): string | undefined {
  const dirs = ["/usr/sbin", ...(process.env.PATH ?? "").split(delimiter).filter(Boolean)];
  return dirs.map((dir) => join(dir, "nats-server")).find((path) => existsSync(path));
}

/**
 * Whether this machine can run the cluster: `nats-server` is installed.
 * Call it at registration, as `test(name, fn, { ignore: !natsAvailable() })`.
 *
 * @example
 * ```ts ignore
 * test("a node rejoins", async () => {}, { ignore: !natsAvailable() });
 * ```
 *
 * @throws {Error} If `CI=true` and nats-server is missing: CI must run the
 * cluster tests, so a missing server is a failure, not a skip.
 */
export function natsAvailable(): boolean {
  if (natsServerPath()) return true;
  if (process.env.CI === "true") {
    throw new Error("CI=true but nats-server is not installed (apt-get install -y nats-server)");
  }
  return false;
}

/** The fixed ports of one node. */
interface NodePorts {
  cluster: number;
  http: number;
  mqtt: number;
}

/** One nats-server process under its watchdog. */
interface Proc {
  child: ChildProcess;
  log: string;
}

const live = new Set<Proc>();
let exitHookInstalled = false;

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/** Spawns nats-server with `conf` under the watchdog; its log and pid file go in `dir`. */
function spawnNode(bin: string, dir: string, conf: string, run: number): Proc {
  const log = join(dir, `stderr-${run}.log`);
  return spawnProc(["sh", "-c", WATCHDOG, log, bin, "-c", conf], log);
}

/** Spawns `argv` with a stdin pipe that the test process holds until release. */
function spawnProc([cmd, ...args]: string[], log = "/dev/null"): Proc {
  const child = spawn(cmd, args, { stdio: ["pipe", "ignore", "ignore"] });
  child.stdin?.on("error", () => {}); // EPIPE if it is already gone
  const p = { child, log };
  live.add(p);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    // Deno runs each test file in a worker of its own; its unload is the
    // file's end. Closing the pipe makes each watchdog kill its server.
    const killAll = () => [...live].forEach((q) => (live.delete(q), q.child.stdin?.destroy()));
    if ("Deno" in globalThis) globalThis.addEventListener("unload", killAll);
    else process.on("exit", killAll);
  }
  return p;
}

function waitExit(p: Proc): Promise<void> {
  return exited(p.child) ? Promise.resolve() : new Promise((r) => p.child.once("close", () => r()));
}

function tail(path: string): string {
  try {
    return readFileSync(path, "utf8").slice(-2000).trim() || "(empty)";
  } catch {
    return "(no output)";
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** GETs a monitoring endpoint's JSON; `undefined` if the server does not answer. */
async function monitor<T>(url: string): Promise<T | undefined> {
  try {
    const res = await fetch(url);
    if (!res.ok) {
      await res.body?.cancel();
      return undefined;
    }
    return await res.json() as T;
  } catch {
    return undefined;
  }
}

interface Jsz {
  meta_cluster?: { leader?: string; cluster_size?: number };
  account_details?: {
    stream_detail?: {
      name: string;
      cluster?: { leader?: string };
      state?: { messages?: number; last_seq?: number };
      consumer_detail?: JszConsumer[];
    }[];
  }[];
}

type JszStream = NonNullable<
  NonNullable<Jsz["account_details"]>[number]["stream_detail"]
>[number];

/** `node`'s view of `stream` (with its consumers when asked), or undefined. */
async function streamDetail(
  node: { monitorUrl: string },
  stream: string,
  consumers = false,
): Promise<JszStream | undefined> {
  const jsz = await monitor<Jsz>(
    `${node.monitorUrl}/jsz?accounts=true&streams=true${consumers ? "&consumers=true" : ""}`,
  );
  return jsz?.account_details?.flatMap((a) => a.stream_detail ?? []).find((s) => s.name === stream);
}

interface JszConsumer {
  name: string;
  cluster?: { leader?: string };
  delivered?: { stream_seq?: number };
  ack_floor?: { stream_seq?: number };
  num_ack_pending?: number;
  num_redelivered?: number;
  num_pending?: number;
}

/**
 * Sends an MQTT 3.1.1 CONNECT (clean session, client id `id`) as raw bytes,
 * so that a bug in the client under test cannot hide one in the harness;
 * true on CONNACK 0, after which it sends DISCONNECT. Resolves once the
 * socket is closed.
 */
function mqttProbe(port: number, id: string, timeoutMs: number): Promise<boolean> {
  const idBytes = new TextEncoder().encode(id);
  const body = [
    ...[0, 4, 77, 81, 84, 84], // protocol name "MQTT"
    4, // protocol level: 3.1.1
    0x02, // flags: clean session
    0,
    30, // keepalive 30 s
    idBytes.length >> 8,
    idBytes.length & 0xff,
    ...idBytes,
  ];
  return new Promise((resolve) => {
    let got: number[] = [];
    let ok = false;
    const socket = connect(port, HOST);
    const timer = setTimeout(() => socket.destroy(), timeoutMs);
    socket.once("connect", () => socket.write(new Uint8Array([0x10, body.length, ...body])));
    socket.on("data", (chunk: Uint8Array) => {
      got = [...got, ...chunk];
      if (got.length < 4) return;
      ok = got[0] === 0x20 && got[1] === 2 && got[3] === 0;
      if (ok) socket.end(new Uint8Array([0xe0, 0])); // DISCONNECT
      else socket.destroy();
    });
    socket.on("error", () => {});
    socket.once("close", () => {
      clearTimeout(timer);
      resolve(ok);
    });
  });
}

/** Polls `check` every 50 ms until it is true or `deadline` (ms since epoch) passes. */
async function until(
  check: () => Promise<boolean>,
  deadline: number,
  failure: () => string,
): Promise<void> {
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(failure());
    await sleep(50);
  }
}

const SIZE = 3;

/**
 * Starts a three-node NATS cluster (JetStream, MQTT with `stream_replicas:
 * 3`) on free 127.0.0.1 ports, each node with its own store in a fresh temp
 * folder; resolves once every node sees the JetStream meta leader and has
 * answered an MQTT CONNECT. Call `stop()` before the test ends.
 *
 * @example Which node a client is on, and losing it
 * ```ts ignore
 * const cluster = await startNatsCluster();
 * const client = new MQTTClient("meter-7", cluster.nodes[0].mqttUrl);
 * await client.connect(false);
 * const node = await cluster.nodeOf("meter-7"); // cluster.nodes[0]
 * await node!.kill(); // SIGKILL; the other two keep serving
 * await node!.start(); // same store and ports; resolves once it has rejoined
 * await cluster.stop();
 * ```
 *
 * @throws {Error} If nats-server is missing or the cluster is not ready
 * within 30 s (the message carries the nodes' logs).
 */
export async function startNatsCluster(opts: NatsClusterOptions = {}): Promise<NatsCluster> {
  for (let attempt = 1;; attempt++) {
    try {
      return await launchCluster(opts);
    } catch (err) {
      // Another harness may have bound a port we probed; pick again.
      if (attempt < 3 && /address already in use/i.test(String(err))) continue;
      throw err;
    }
  }
}

async function launchCluster(opts: NatsClusterOptions): Promise<NatsCluster> {
  const bin = natsServerPath();
  if (!bin) throw new Error("nats-server is not installed (apt-get install -y nats-server)");
  if (opts.ackWaitMs !== undefined && !(Number.isInteger(opts.ackWaitMs) && opts.ackWaitMs > 0)) {
    throw new RangeError(`startNatsCluster: ackWaitMs must be a positive integer`);
  }
  const r = opts.consumerReplicas;
  if (r !== undefined && !(Number.isInteger(r) && r >= 1 && r <= SIZE)) {
    throw new RangeError(`startNatsCluster: consumerReplicas must be an integer from 1 to ${SIZE}`);
  }
  const root = mkdtempSync(join(tmpdir(), "umqtt-nats-"));
  const ports: NodePorts[] = Array.from(
    { length: SIZE },
    () => ({ cluster: freePort(), http: freePort(), mqtt: freePort() }),
  );
  const names = ports.map((_, i) => `n${i + 1}`);
  const clusterName = `umqtt-${crypto.randomUUID().slice(0, 8)}`;
  const procs: (Proc | undefined)[] = new Array(SIZE);
  const runs = new Array(SIZE).fill(0);
  const dirs = names.map((name) => join(root, name));
  const confs = names.map((name, i) => {
    mkdirSync(dirs[i]);
    const routes = ports.filter((_, j) => j !== i).map((p) =>
      `"nats-route://${HOST}:${p.cluster}"`
    );
    const conf = [
      `server_name: ${name}`,
      `listen: "${HOST}:-1"`, // the NATS client port: unused, any free one
      `http: "${HOST}:${ports[i].http}"`,
      `cluster {`,
      // A name of its own: should a node of another test's cluster come up
      // on a port this one's routes name (a killed node's ports are free
      // until it restarts), the route is refused rather than the clusters merged.
      `  name: ${clusterName}`,
      `  listen: "${HOST}:${ports[i].cluster}"`,
      `  routes: [${routes.join(", ")}]`,
      `}`,
      `jetstream { store_dir: "${join(dirs[i], "js")}" }`,
      `mqtt {`,
      `  listen: "${HOST}:${ports[i].mqtt}"`,
      `  stream_replicas: ${SIZE}`,
      ...(opts.ackWaitMs ? [`  ack_wait: "${opts.ackWaitMs}ms"`] : []),
      ...(opts.consumerReplicas ? [`  consumer_replicas: ${opts.consumerReplicas}`] : []),
      `}`,
    ].join("\n") + "\n";
    const path = join(dirs[i], "nats.conf");
    writeFileSync(path, conf);
    return path;
  });
  const monitorUrls = ports.map((p) => `http://${HOST}:${p.http}`);
  const logs = () =>
    names.map((n, i) => `--- ${n}:\n${procs[i] ? tail(procs[i]!.log) : "(not running)"}`)
      .join("\n");

  const run = (i: number) => (procs[i] = spawnNode(bin, dirs[i], confs[i], ++runs[i]));
  const running = (i: number) => procs[i] !== undefined && !exited(procs[i]!.child);
  const assertAlive = (i: number) => {
    if (!running(i)) {
      throw new Error(`nats-server ${names[i]} exited before it was ready; logs:\n${logs()}`);
    }
  };
  /** Meta leader of the full group seen by node i, and routes to every other running node. */
  const joined = async (i: number) => {
    assertAlive(i);
    const jsz = await monitor<Jsz>(`${monitorUrls[i]}/jsz`);
    if (!jsz?.meta_cluster?.leader || jsz.meta_cluster.cluster_size !== SIZE) return false;
    const routez = await monitor<{ num_routes?: number }>(`${monitorUrls[i]}/routez`);
    const others = names.filter((_, j) => j !== i && running(j)).length;
    return (routez?.num_routes ?? 0) >= others;
  };
  const answersMqtt = (i: number) => {
    assertAlive(i);
    return mqttProbe(ports[i].mqtt, `umqtt-harness-${names[i]}`, 3000);
  };

  const kill = async (i: number) => {
    const p = procs[i];
    if (!p || !live.has(p)) return;
    if (!exited(p.child)) {
      // The server itself, by the pid its watchdog wrote: the watchdog then
      // exits without removing the folder (its stdin is still open).
      const pid = Number(readFileSync(join(dirs[i], "pid"), "utf8"));
      process.kill(pid, "SIGKILL");
    }
    await waitExit(p);
    live.delete(p);
    p.child.stdin?.destroy();
    procs[i] = undefined;
  };
  const stop = async () => {
    const all = [janitor, ...procs].filter((p): p is Proc => p !== undefined && live.has(p));
    for (const p of all) {
      live.delete(p);
      p.child.stdin?.destroy(); // the watchdog kills the server, removes its folder
    }
    await Promise.all(all.map(waitExit));
    rmSync(root, { recursive: true, force: true });
  };

  // A node's watchdog removes the node's folder, but a node killed and not
  // restarted has none left: this one removes the whole cluster's once its
  // stdin closes, when stop() runs or the test process dies.
  const janitor = spawnProc(["sh", "-c", `read -r _; rm -rf "$0"`, root]);
  try {
    for (let i = 0; i < SIZE; i++) run(i);
    const deadline = Date.now() + 30_000;
    for (let i = 0; i < SIZE; i++) {
      await until(
        () => joined(i),
        deadline,
        () => `NATS cluster not formed in 30 s; logs:\n${logs()}`,
      );
    }
    for (let i = 0; i < SIZE; i++) {
      await until(
        () => answersMqtt(i),
        deadline,
        () => `${names[i]} did not answer an MQTT CONNECT in 30 s; logs:\n${logs()}`,
      );
    }
  } catch (err) {
    await stop();
    throw err;
  }

  const nodes: NatsNode[] = names.map((name, i) => ({
    name,
    mqttPort: ports[i].mqtt,
    mqttUrl: `mqtt://${HOST}:${ports[i].mqtt}`,
    monitorUrl: monitorUrls[i],
    get running() {
      return running(i);
    },
    kill: () => kill(i),
    start: async () => {
      if (running(i)) throw new Error(`Cannot start ${name}: it is running`);
      run(i);
      const deadline = Date.now() + 30_000;
      await until(() => joined(i), deadline, () => `${name} did not rejoin in 30 s:\n${logs()}`);
      await until(
        () => answersMqtt(i),
        deadline,
        () => `${name} did not answer an MQTT CONNECT in 30 s:\n${logs()}`,
      );
    },
  }));

  return {
    nodes,
    urls: nodes.map((n) => n.mqttUrl),
    async nodeOf(clientId) {
      for (const node of nodes.filter((n) => n.running)) {
        const connz = await monitor<{ num_connections?: number }>(
          `${node.monitorUrl}/connz?mqtt_client=${encodeURIComponent(clientId)}`,
        );
        if ((connz?.num_connections ?? 0) > 0) return node;
      }
      return undefined;
    },
    async streamLeader(stream = "$MQTT_sess") {
      for (const node of nodes.filter((n) => n.running)) {
        const detail = await streamDetail(node, stream);
        // Only the leader's own word: a follower's view may be stale.
        if (detail?.cluster?.leader === node.name) return node;
      }
      return undefined;
    },
    async consumers() {
      const lines: string[] = [];
      for (const node of nodes.filter((n) => n.running)) {
        const msgs = await streamDetail(node, "$MQTT_msgs", true);
        if (msgs?.cluster?.leader === node.name) {
          lines.push(`$MQTT_msgs (leader ${node.name}): last sequence ${msgs.state?.last_seq}`);
        }
        for (const c of msgs?.consumer_detail ?? []) {
          if (c.cluster?.leader !== node.name) continue;
          lines.push(
            `consumer ${c.name} (leader ${node.name}): delivered up to ${c.delivered?.stream_seq}, ` +
              `acknowledged up to ${c.ack_floor?.stream_seq}, ${c.num_pending} to deliver, ` +
              `${c.num_ack_pending} awaiting ack, ${c.num_redelivered} redelivered`,
          );
        }
      }
      return `${lines.join("\n") || "(no node answered)"}\nlogs:\n${logs()}`;
    },
    stop,
  };
}
