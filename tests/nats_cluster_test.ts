// The client against a three-node NATS cluster (JetStream, MQTT listener on
// every node; tests/_nats.ts): the harness's own check that a node lost to
// SIGKILL costs nothing but a failover and comes back, and a load scenario of
// 1000 clients in this one process, spread over the nodes. NATS 2.9 speaks MQTT 3.1.1 with QoS 0
// and 1 only. Timings are printed, never asserted.
import assert from "node:assert/strict";
import { type Message, MQTTClient, MQTTConnectionError } from "../mod.ts";
import { natsAvailable, type NatsNode, startNatsCluster } from "./_nats.ts";
import { test, uniqueId, withTimeout } from "./_test.ts";
import { Tap } from "./_tap.ts";

const ignore = !natsAvailable();
const text = (b: Uint8Array) => new TextDecoder().decode(b);
const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

/** A clean- or persistent-session client connected to `node`. */
async function connectTo(node: NatsNode, id: string, clean = true): Promise<MQTTClient> {
  const c = new MQTTClient(id, node.mqttUrl, { connectTimeout: 5000 });
  await c.connect(clean);
  return c;
}

/** The next message, or a failure naming what was awaited after 30 s. */
function next(c: MQTTClient, what: string): Promise<Message> {
  const stop = new AbortController();
  return withTimeout(c.wait_msg({ signal: stop.signal }), 30_000, what).finally(() => stop.abort());
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Runs `attempt` until it succeeds, as an application with the simple
 * client must while the cluster fails over: a connection error (refused,
 * no CONNACK, closed by the server) means try again in 100 ms; anything
 * else fails. Returns the number of attempts; fails after 60 s.
 */
async function retry(what: string, attempt: () => Promise<void>): Promise<number> {
  const deadline = performance.now() + 60_000;
  for (let n = 1;; n++) {
    try {
      await attempt();
      return n;
    } catch (e) {
      if (!(e instanceof MQTTConnectionError)) throw e;
      if (performance.now() > deadline) {
        throw new Error(`${what}: no success in 60 s`, { cause: e });
      }
      await sleep(100);
    }
  }
}

/**
 * Waits for the message whose payload is `payload` on `c`, a client with a
 * persistent session: if the connection is lost meanwhile, reconnects it to
 * the same server with `connect(false)`. Counts what else came first (QoS 1
 * duplicates of earlier messages).
 */
async function receive(c: MQTTClient, payload: string, what: string) {
  let skipped = 0;
  for (;;) {
    if (!c.connected) {
      await retry(`reconnecting for ${what}`, () => c.connect(false).then(() => {}));
    }
    try {
      const msg = await next(c, what);
      if (text(msg.payload) === payload) return { msg, skipped };
      skipped++;
    } catch (e) {
      if (!(e instanceof MQTTConnectionError)) throw e;
    }
  }
}

test(
  "NATS cluster: a node lost to SIGKILL, the others serve, its MQTT session resumes on another; restarted, it rejoins",
  async () => {
    const cluster = await startNatsCluster();
    const clients: MQTTClient[] = [];
    const connect = async (node: NatsNode, id: string, clean: boolean) => {
      const c = new MQTTClient(id, node.mqttUrl, { connectTimeout: 2000 });
      clients.push(c);
      await c.connect(clean);
      return c;
    };
    try {
      // The worst case: the client sits on the node that leads the session
      // stream, so its loss costs a JetStream leader election.
      const sessLeader = await cluster.streamLeader("$MQTT_sess");
      const msgsLeader = await cluster.streamLeader("$MQTT_msgs");
      const victim = sessLeader ?? cluster.nodes[0];
      const [a, b] = cluster.nodes.filter((n) => n !== victim);
      const base = uniqueId("nats");
      const id = `${base}-s`;
      const topic = `${base}/t`;

      const session = await connect(victim, id, false);
      assert.equal(await session.subscribe(topic, 1), 1);
      assert.equal(await cluster.nodeOf(id), victim, "/connz finds the client on its node");
      const watcher = await connect(a, `${base}-w`, false);
      await watcher.subscribe(topic, 1);
      const pub = await connect(b, `${base}-p`, true);

      const t0 = performance.now();
      await victim.kill();
      assert.equal(victim.running, false);
      assert.equal(await cluster.nodeOf(id), undefined, "no running node has the client");

      // Both at once, each timed from the kill:
      // - The two others keep serving: a QoS 1 message published on one
      //   reaches a subscriber on the other. While the message stream has no
      //   leader, NATS closes a publisher's connection after 4 s without
      //   storing; a simple client reconnects and publishes again.
      // - The session fails over: CONNECTs to a surviving node fail until the
      //   session stream has a new leader; then the session is there, with
      //   its subscription and the QoS 1 message published meanwhile.
      let resumed!: MQTTClient;
      const [[pubAttempts, tPuback], [connectAttempts, tFailover]] = await Promise.all([
        retry("publishing while a node is down", async () => {
          if (!pub.connected) await pub.connect(true);
          await pub.publish(topic, "while down", false, 1);
        }).then((n) => [n, performance.now() - t0]),
        retry("resuming the session", async () => {
          const c = new MQTTClient(id, a.mqttUrl, { connectTimeout: 2000 });
          try {
            assert.equal(await c.connect(false), true, "session present after the failover");
            resumed = c;
            clients.push(c);
          } catch (e) {
            await c.disconnect();
            throw e;
          }
        }).then((n) => [n, performance.now() - t0]),
      ]);
      const seen = await receive(watcher, "while down", "the message on a surviving node");
      assert.equal(await cluster.nodeOf(id), a, "the client is on the surviving node now");
      const held = await receive(resumed, "while down", "the message kept in the session");
      assert.deepEqual([held.msg.topic, held.msg.qos], [topic, 1]);

      // Restarted with its store, the node rejoins and serves again, both ways.
      const t1 = performance.now();
      await victim.start();
      const tRejoin = performance.now() - t1;
      const back = await connect(victim, `${base}-r`, true);
      await back.subscribe(`${base}/back`, 1);
      await pub.publish(`${base}/back`, "to the rejoined node", false, 1);
      await receive(back, "to the rejoined node", "a message on the rejoined node");
      await back.publish(topic, "from the rejoined node", false, 1);
      const last = await receive(resumed, "from the rejoined node", "a message from it");

      console.log(
        `NATS failover: killed ${victim.name} (it led ${
          [sessLeader === victim && "$MQTT_sess", msgsLeader === victim && "$MQTT_msgs"]
            .filter(Boolean).join(" and ") || "no MQTT stream"
        }); a QoS 1 publish on ${b.name} was acknowledged after ${seconds(tPuback)} ` +
          `(${pubAttempts} attempt(s)); the session resumed on ${a.name} after ` +
          `${seconds(tFailover)} (${connectAttempts} CONNECT attempts); ${victim.name} rejoined ` +
          `${seconds(tRejoin)} after its restart; duplicates seen: ` +
          `${seen.skipped + held.skipped + last.skipped}`,
      );
    } finally {
      await Promise.all(clients.map((c) => c.disconnect()));
      await cluster.stop();
    }
  },
  { ignore },
);

/**
 * Messages missing on a subscriber of which none came on its (tapped) wire
 * in 30 s, while NATS redelivers what is unacknowledged after 5 s: the
 * broker's loss, not the client's.
 */
class BrokerLoss extends Error {}

/**
 * The load scenario, once, on a cluster of its own. Throws
 * {@linkcode BrokerLoss} when every missing message is the broker's; any
 * other failure (a message that came on the wire but never reached the
 * application, a publish never acknowledged) as it is.
 */
async function loadScenario(): Promise<void> {
  const CLIENTS = 1000;
  const EACH = 10;
  const TOTAL = CLIENTS * EACH;
  // ack_wait short, so that what NATS holds back past the end marker (below)
  // comes within seconds. Each subscription's consumer on one node
  // (consumer_replicas 1; the messages stay on all three): with consumers
  // replicated too, NATS 2.9.10 deletes a message cluster-wide when a node
  // gets one subscriber's replicated ack before the message itself (fixed in
  // 2.9.16), and the other subscribers' consumers skip it or count it
  // acknowledged unsent. Seen here in 3 runs of 14 (1-22 messages, never on
  // the wire, never redelivered); with one replica in none of 16.
  const cluster = await startNatsCluster({ ackWaitMs: 5000, consumerReplicas: 1 });
  const base = uniqueId("load");
  const subs: MQTTClient[] = [];
  const pubs: MQTTClient[] = [];
  try {
    // Each subscriber's connection is tapped: if a message is missing, the
    // failure says whether it ever came on the wire (then it is ours).
    const taps = cluster.nodes.map((node) => new Tap("127.0.0.1", node.mqttPort));
    for (const [k, node] of cluster.nodes.entries()) {
      const s = new MQTTClient(`${base}-s${node.name}`, node.mqttUrl, {
        connectTimeout: 5000,
        transport: taps[k].transport,
      });
      await s.connect(true);
      subs.push(s);
      assert.equal(await s.subscribe(`${base}/#`, 1), 1);
    }
    // Each subscriber counts every copy. An end marker is published once
    // every message has its PUBACK (stored on a majority); NATS mostly
    // delivers it after all of them, but under load it may send it while
    // holding back some earlier messages, which it then sends only as a
    // redelivery after ack_wait (seen on the wire: none of them had been
    // sent before the marker). So a subscriber goes on past the marker
    // until it has every message, and stops then, marker or not: a marker
    // held back in turn (seen once under load) is no lost message. How
    // many came after it is printed.
    const end = `${base}/end`;
    const copies = subs.map(() => new Uint16Array(TOTAL));
    const afterMarker = subs.map(() => -1); // -1: the marker not seen
    const t0 = performance.now();
    // Of the messages subscriber k lacks, how many came on its wire: a
    // PUBLISH that came but never reached the application is our loss;
    // one that never came is the broker's.
    const wireAccount = (k: number) => {
      const missing = new Set<string>();
      copies[k].forEach((c, i) => c === 0 && missing.add(`${Math.floor(i / EACH)}:${i % EACH}`));
      const came = new Set<string>();
      for (const conn of taps[k].conns) {
        for (const p of conn.read) {
          if (p.type !== "publish" || p.topic === end) continue;
          const id = `${Number(p.topic.slice(base.length + 1))}:${text(p.payload)}`;
          if (missing.has(id)) came.add(id);
        }
      }
      const list = (ids: Iterable<string>) => [...ids].slice(0, 20).join(" ") || "none";
      const never = [...missing].filter((id) => !came.has(id));
      return {
        ours: came.size,
        text: `of the ${missing.size} missing (client:message), ${came.size} came on the wire ` +
          `but never reached the application (${list(came)}), ${never.length} never came ` +
          `from the broker (${list(never)})`,
      };
    };
    const receiving = subs.map(async (s, k) => {
      let have = 0;
      for (;;) {
        let m: Message;
        try {
          m = await next(s, `messages on ${cluster.nodes[k].name} (${have} of ${TOTAL})`);
        } catch (e) {
          const wire = wireAccount(k);
          // Missing, and none of them ever sent in 30 s (ack_wait 5 s): the broker's loss.
          const Failure = wire.ours === 0 ? BrokerLoss : Error;
          throw new Failure(
            `${(e as Error).message}; ${wire.text}; NATS says:\n${await cluster.consumers()}`,
            { cause: e },
          );
        }
        if (m.topic === end) {
          afterMarker[k] = TOTAL - have;
        } else {
          const client = Number(m.topic.slice(base.length + 1));
          if (copies[k][client * EACH + Number(text(m.payload))]++ === 0) have++;
        }
        // Every message is what the test asks; the marker, seen or not,
        // only says how many NATS held back past it.
        if (have === TOTAL) return performance.now();
      }
    });

    for (let i = 0; i < CLIENTS; i += 100) {
      const batch = Array.from({ length: Math.min(100, CLIENTS - i) }, async (_, j) => {
        const n = i + j;
        pubs[n] = await connectTo(cluster.nodes[n % 3], `${base}-${n}`);
      });
      await Promise.all(batch);
    }
    const tConnected = performance.now();
    await Promise.all(pubs.map(async (p, n) => {
      for (let k = 0; k < EACH; k++) await p.publish(`${base}/${n}`, String(k), false, 1);
    }));
    const tPublished = performance.now();
    await pubs[0].publish(end, "", false, 1);
    // Every subscriber's outcome: the broker's loss only if no failure is ours.
    const settled = await Promise.allSettled(receiving);
    const failures = settled.flatMap((r) => r.status === "rejected" ? [r.reason] : []);
    if (failures.length > 0) {
      throw failures.find((e) => !(e instanceof BrokerLoss)) ?? failures[0];
    }
    const tDone = settled.map((r) => (r as PromiseFulfilledResult<number>).value);

    const report = cluster.nodes.map((node, k) => {
      const missing = copies[k].filter((c) => c === 0).length;
      const duplicates = copies[k].reduce((sum, c) => sum + Math.max(0, c - 1), 0);
      const ms = Math.round(tDone[k] - tConnected);
      return { node: node.name, missing, duplicates, late: afterMarker[k], ms };
    });
    console.log(
      `NATS load: ${CLIENTS} clients connected in ${seconds(tConnected - t0)}; ` +
        `${TOTAL} QoS 1 publishes acknowledged in ${seconds(tPublished - tConnected)} ` +
        `(${Math.round(TOTAL / ((tPublished - tConnected) / 1000))}/s); per subscriber ` +
        report.map((r) =>
          `${r.node}: ${r.missing} missing, ${r.duplicates} duplicates, ` +
          (r.late < 0 ? "the end marker not seen" : `${r.late} after the end marker`) +
          `, the last in ${seconds(r.ms)} after publishing began`
        ).join("; "),
    );
    for (const r of report) assert.equal(r.missing, 0, `messages missing on ${r.node}`);
  } finally {
    for (let i = 0; i < pubs.length; i += 200) {
      await Promise.all(pubs.slice(i, i + 200).map((p) => p?.disconnect()));
    }
    await Promise.all(subs.map((s) => s.disconnect()));
    await cluster.stop();
  }
}

test(
  "NATS cluster: 1000 clients over three nodes publish 10 QoS 1 messages each; a subscriber on each node gets all 10 000",
  async () => {
    try {
      await loadScenario();
    } catch (e) {
      // NATS 2.9.10 with replicated consumers now and then never sends some
      // messages to a subscriber, while its consumers count them delivered
      // and acknowledged (a premature delete, see loadScenario). That loss is
      // the broker's, which no client can make up for: should it (or another)
      // happen, the scenario runs once more on a fresh cluster, as strict. A
      // message that came on the wire but was not handed out fails at once.
      if (!(e instanceof BrokerLoss)) throw e;
      console.log(
        `NATS load: the broker lost messages, once more on a fresh cluster: ${e.message}`,
      );
      await loadScenario();
    }
  },
  { ignore },
);
