// The client against a three-node NATS cluster (JetStream, MQTT listener on
// every node; tests/_nats.ts): the harness's own check that a node lost to
// SIGKILL costs nothing but a failover and comes back. NATS 2.9 speaks MQTT
// 3.1.1 with QoS 0 and 1 only. Timings are printed, never asserted.
import assert from "node:assert/strict";
import { type Message, MQTTClient, MQTTConnectionError } from "../mod.ts";
import { natsAvailable, type NatsNode, startNatsCluster } from "./_nats.ts";
import { test, uniqueId, withTimeout } from "./_test.ts";

const ignore = !natsAvailable();
const text = (b: Uint8Array) => new TextDecoder().decode(b);
const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

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
