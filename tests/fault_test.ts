// Nothing lost under faults: thousands of messages through a proxy that cuts
// the connections at random points (and, for mosquitto, a broker restart),
// published and received by robust clients with persistent sessions, in
// MQTT 3.1.1 and, against mosquitto, MQTT 5 (its resend, Session Present
// and Receive Maximum paths differ).
// The figures are printed for the record; the assertions are exact. The
// proxy's packet log (tests/_packet_log.ts) checks our side on the wire and
// tells whose doing a lost QoS 1 message or a repeated QoS 2 one is, ours or
// the broker's.
import process from "node:process";
import { writeFileSync } from "node:fs";
import assert from "node:assert/strict";
import { MQTTClient } from "../lib/robust.ts";
import { MemorySessionStore, type Message, type ProtocolVersion, type QoS } from "../mod.ts";
import { type Broker, forEachBroker, startMosquitto } from "./_brokers.ts";
import { FaultProxy } from "./_fault_proxy.ts";
import { type LossReport, PacketLog } from "./_packet_log.ts";
import { seeded, uniqueId, withTimeout } from "./_test.ts";

// The cuts' random choices (when, and where in the stream) come from this
// seed: a failure prints it; replay with UMQTT_FAULT_SEED=<seed>. The timing of
// the run itself still varies, so a replay repeats the choices, not every byte.
const SEED = Number(process.env.UMQTT_FAULT_SEED ?? Date.now() % 100_000); // process: Bun runs it too
const replay = `seed ${SEED}; replay with UMQTT_FAULT_SEED=${SEED}`;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const noop = () => {};

interface Run {
  qos: QoS;
  version: ProtocolVersion;
  total: number;
  window: number;
  minCuts: number;
  restart: boolean;
  /** The random choices of the cuts. */
  random: () => number;
}

interface Figures {
  sent: number;
  received: number;
  unique: number;
  lost: number;
  duplicates: number;
  cuts: number;
  reconnects: number;
  restarts: number;
  maxReconnectMs: number;
  /** Subscriber reconnects answered with session-present=false. */
  sessionsLost: number;
  ms: number;
  /** QoS 2 messages the broker sent the subscriber again after their PUBREL (MQTT-4.3.3). */
  brokerResends: number;
}

/**
 * Publishes `total` numbered messages while cutting connections; returns
 * what the subscriber saw, where lost messages went missing, and the
 * packets that went through the proxy (FAULT_TRACE=FILE writes them to FILE).
 */
async function faultRun(
  broker: Broker,
  run: Run,
): Promise<{
  figures: Figures;
  firstSeen: number[];
  loss: LossReport;
  log: PacketLog;
  pub: string;
  sub: string;
}> {
  const log = new PacketLog();
  const proxy = await FaultProxy.start({ hostname: broker.host, port: broker.port }, {
    tap: log.tap,
  });
  const topic = uniqueId("fault");
  const make = (prefix: string, sessionStore?: MemorySessionStore) => {
    const c = new MQTTClient(uniqueId(prefix), proxy.hostname, {
      port: proxy.port,
      protocolVersion: run.version,
      connectTimeout: 2000,
      // On a loaded machine a CONNACK may take longer than the gap between
      // two cuts, and each failed attempt doubles the wait before the next:
      // capped, the subscriber is never away for seconds.
      reconnectMaxDelay: 200,
      sessionStore,
    });
    c.DELAY = 0.01;
    return c;
  };
  const pub = make("fp");
  const subStore = new MemorySessionStore();
  const sub = make("fs", subStore);
  const settled = new Set<number>();
  let reconnects = 0;
  let maxReconnectMs = 0;
  let subConnectedAt = 0;
  sub.addEventListener("connected", () => (subConnectedAt = Date.now()));
  for (const c of [pub, sub]) {
    let lostAt = 0;
    c.addEventListener("disconnected", () => (lostAt = Date.now()));
    c.addEventListener("connected", () => {
      if (!lostAt) return;
      reconnects++;
      maxReconnectMs = Math.max(maxReconnectMs, Date.now() - lostAt);
      lostAt = 0;
    });
  }
  // A robust client reconnects by itself, announcing each attempt, each
  // over within the connect timeout: one offline with no attempt for 10 s
  // has stopped for good, and what waits on it would wait until the run's
  // timeout. So would a run where nothing settles or arrives any more (a
  // session not resent, say): messages flow every few milliseconds, and
  // even the quiet end ends within 10 s. Either fails the run at once.
  let progressAt = Date.now();
  const lastSign = new Map<MQTTClient, number>();
  const clients = [[pub, "publisher"], [sub, "subscriber"]] as const;
  for (const [c] of clients) {
    for (const type of ["connected", "disconnected", "reconnecting"]) {
      c.addEventListener(type, () => lastSign.set(c, Date.now()));
    }
  }
  let stop: (e: Error) => void = noop;
  const stopped = new Promise<never>((_, reject) => (stop = reject));
  stopped.catch(noop);
  const watched = <T>(p: Promise<T>) => Promise.race([p, stopped]);
  const watchdog = setInterval(() => {
    for (const [c, name] of clients) {
      const at = lastSign.get(c);
      if (at !== undefined && !c.connected && Date.now() - at > 10_000) {
        stop(new Error(`The ${name} stopped reconnecting: offline, no attempt for 10 s`));
      }
    }
    if (Date.now() - progressAt > 30_000) {
      stop(new Error("No publish settled and no message arrived for 30 s"));
    }
  }, 500);
  const start = Date.now();
  const counts = new Map<number, number>();
  const firstSeen: number[] = [];
  let cuts = 0;
  let published = 0;
  let restarts = 0;
  let done = false;
  let receiving: Promise<void> = Promise.resolve();
  let cutting: Promise<void> = Promise.resolve();
  try {
    await sub.connect(false);
    await sub.subscribe(topic, run.qos);
    await pub.connect(false);

    // Receives until every message has come. The faults stop once every
    // publish has settled and nothing has come for 2 s (a subscriber that
    // cannot get through the cuts is slow, not lost); after one last cut, so
    // that the subscriber resumes its session once more in calm and the
    // broker resends all it still holds (MQTT-4.4.0-1), receiving ends when a
    // connected subscriber has had nothing for 5 s: a broker that lost a
    // message fails the assertions below instead of hanging the test.
    let lastAt = Date.now();
    let calmAt = 0;
    const record = (msg: Message) => {
      progressAt = Date.now();
      const text = new TextDecoder().decode(msg.payload);
      log.delivered(sub.client_id, text);
      const n = Number(text);
      if (!counts.has(n)) firstSeen.push(n);
      counts.set(n, (counts.get(n) ?? 0) + 1);
    };
    receiving = (async () => {
      while (counts.size < run.total) {
        const quiet = new AbortController();
        const timer = setTimeout(() => quiet.abort(), 1000);
        let msg;
        try {
          msg = await sub.wait_msg({ signal: quiet.signal });
        } catch (e) {
          if (!quiet.signal.aborted) throw e;
          const since = Math.max(lastAt, calmAt, subConnectedAt);
          if (calmAt && sub.connected && Date.now() - since > 5000) return;
          continue;
        } finally {
          clearTimeout(timer);
        }
        lastAt = Date.now();
        record(msg);
      }
    })();

    // FAULT_DEBUG=1 prints progress: received, cuts, connected flags, open connections.
    const progress = process.env.FAULT_DEBUG
      ? setInterval(
        () =>
          console.error(
            "progress",
            counts.size,
            cuts,
            pub.connected,
            sub.connected,
            proxy.connections,
            JSON.stringify({
              missing: Array.from({ length: run.total }, (_, i) => i)
                .filter((i) => !counts.has(i)).slice(0, 5).map((i) => [i, settled.has(i)]),
              incoming: [...subStore.incoming].slice(0, 10),
              published,
            }),
          ),
        2000,
      )
      : undefined;
    receiving.catch(noop).finally(() => clearInterval(progress));
    const stalled = () => published === run.total && Date.now() - lastAt > 2000;
    // Publishes settled plus messages received: what got through so far.
    const through = () => published + counts.size;
    const finished = () => published === run.total && counts.size === run.total;
    cutting = (async () => {
      let atCut = -1;
      while (cuts < run.minCuts || (!done && counts.size < run.total && !stalled())) {
        await sleep(10 + run.random() * 40);
        // Cut again only once something got through since the last cut: on a
        // loaded machine a reconnect may take longer than the gap between
        // two cuts, and the run would then be cut faster than it can move.
        // (Nothing getting through for 30 s fails the run: the watchdog.)
        while (through() === atCut && !done && !finished() && !stalled()) await sleep(10);
        if (run.restart && restarts === 0 && counts.size > run.total / 2) {
          log.note("broker restart");
          await broker.restart!();
          restarts++;
          continue;
        }
        // Cut now, or once a random number of bytes more has passed: inside
        // a packet, between PUBREC and PUBREL, wherever it falls.
        if (run.random() < 0.5) {
          log.note("cut");
          proxy.cut();
        } else {
          const n = Math.floor(run.random() * 4000);
          log.note(`cut after ${n} bytes`);
          proxy.cutAfterBytes(n);
        }
        atCut = through();
        cuts++;
      }
      calmAt = Date.now();
      if (counts.size < run.total) {
        log.note("last cut, then calm");
        proxy.cut();
      }
    })();

    for (let i = 0; i < run.total; i += run.window) {
      const batch = [];
      for (let j = i; j < Math.min(i + run.window, run.total); j++) {
        batch.push(
          pub.publish(topic, String(j), false, run.qos).then(() => {
            progressAt = Date.now();
            published++;
            settled.add(j);
          }),
        );
      }
      await watched(Promise.all(batch)); // every publish settles, and settles resolved
    }
    await watched(receiving);
    done = true;
    await cutting;
    // Redeliveries still on their way are counted too.
    await sleep(200);
    for (let msg; (msg = await sub.check_msg().catch(() => undefined));) record(msg);
  } finally {
    done = true;
    clearInterval(watchdog);
    await pub.disconnect();
    await sub.disconnect();
    // Ended early, they end now: nothing left running past the test.
    await Promise.all([receiving.catch(noop), cutting]);
    await proxy.close();
    const traceFile = process.env.FAULT_TRACE;
    if (traceFile) writeFileSync(traceFile, log.lines().join("\n") + "\n");
  }
  const received = [...counts.values()].reduce((a, b) => a + b, 0);
  const connacks = log.connacks(sub.client_id);
  return {
    firstSeen,
    log,
    pub: pub.client_id,
    sub: sub.client_id,
    loss: run.qos === 1
      ? log.losses(pub.client_id, sub.client_id, [...settled].map(String))
      : { ours: [], broker: [], idReused: 0, evidence: [] },
    figures: {
      sent: run.total,
      received,
      unique: counts.size,
      lost: run.total - counts.size,
      duplicates: received - counts.size,
      cuts,
      reconnects,
      restarts,
      maxReconnectMs,
      sessionsLost: connacks.slice(1).filter((c) => c?.packet.sessionPresent === false).length,
      ms: Date.now() - start,
      brokerResends: log.brokerResendsAfterPubrel(sub.client_id).length,
    },
  };
}

function assertInOrder(firstSeen: number[]) {
  for (let i = 1; i < firstSeen.length; i++) {
    if (firstSeen[i] < firstSeen[i - 1]) {
      assert.fail(`message ${firstSeen[i]} first arrived after ${firstSeen[i - 1]}`);
    }
  }
}

forEachBroker(
  "10 000 QoS 1 messages survive 20+ random cuts (and a broker restart): none lost",
  async (shared, version) => {
    const own = shared.name === "mosquitto"
      ? await startMosquitto({ persistence: true, extraConfig: ["max_queued_messages 0"] })
      : undefined;
    try {
      const { figures, firstSeen, loss, log, pub } = await withTimeout(
        faultRun(own ?? shared, {
          qos: 1,
          version,
          total: 10_000,
          random: seeded(SEED * 10 + version + 1),
          window: 200,
          minCuts: 20,
          restart: own !== undefined,
        }),
        180_000,
        "the QoS 1 fault run",
      );
      console.log(
        `QoS 1 fault run [${shared.name}, MQTT ${version === 5 ? "5" : "3.1.1"}]:`,
        JSON.stringify({ ...figures, brokerLost: loss.broker.length, idReused: loss.idReused }),
      );
      if (loss.broker.length > 0) {
        console.log(
          `The broker lost ${loss.broker.length} message(s) it had acknowledged, e.g.\n  ${
            loss.evidence.join("\n  ")
          }`,
        );
      }
      // The checks below read a complete record of the traffic.
      assert.deepEqual(log.gaps(), [], "the packet log followed every connection");
      // Our half holds with any broker: no message acknowledged without being
      // handed over, no publish settled without the broker's PUBACK.
      assert.deepEqual(loss.ours, [], "our clients lost no message");
      assert.ok(figures.cuts >= 20);
      // However often resent, a message keeps its packet id (robust.ts's promise).
      assert.deepEqual(log.senderBreaches(pub), [], "the publisher broke a sender's rule");
      // aedes 1.2.0 loses queued QoS 1 messages of a persistent session when
      // its subscriber reconnects often (diagnosed on these traces with a
      // logging aedes): it numbers each connection's PUBLISHes from a random
      // start, without skipping the packet ids that queued messages still
      // hold from earlier connections (MQTT-2.3.1-4), and its PUBACK handler
      // removes the first queued message with the acknowledged id. A message
      // given id X on a connection that died before it got through is then
      // removed by the subscriber's PUBACK for another message given X on a
      // later connection, and never sent again. Against aedes, losses the
      // trace shows to be the broker's are reported above, not failed on.
      if (shared.name !== "aedes") {
        assert.equal(figures.unique, 10_000, "every message arrived at least once");
      } else assert.equal(figures.lost, loss.broker.length, "each lost message is the broker's");
      // aedes may deliver a message queued for a reconnecting subscriber after
      // newer live ones; mosquitto keeps the order, so the order is ours to keep.
      if (shared.name === "mosquitto") assertInOrder(firstSeen);
    } catch (e) {
      console.log(`${shared.name}, protocol level ${version}: failed with ${replay}`);
      throw e;
    } finally {
      await own?.stop();
    }
  },
  { versions: [4, 5] },
);

forEachBroker(
  "2000 QoS 2 messages survive 20+ random cuts: each exactly once",
  async (shared, version) => {
    // mosquitto 2.0.11 stalls queued outgoing QoS 2 once its in-flight window
    // fills (fixed upstream in 2.0.13): an unlimited window avoids that bug.
    const own = shared.name === "mosquitto"
      ? await startMosquitto({ extraConfig: ["max_inflight_messages 0"] })
      : undefined;
    try {
      const { figures, firstSeen, log, pub, sub } = await withTimeout(
        faultRun(own ?? shared, {
          qos: 2,
          version,
          total: 2000,
          random: seeded(SEED * 10 + version + 2),
          window: 100,
          minCuts: 20,
          restart: false,
        }),
        180_000,
        "the QoS 2 fault run",
      );
      console.log(
        `QoS 2 fault run [${shared.name}, MQTT ${version === 5 ? "5" : "3.1.1"}]:`,
        JSON.stringify(figures),
      );
      assert.ok(figures.cuts >= 20);
      assert.deepEqual(log.gaps(), [], "the packet log followed every connection");
      // Whatever the broker, our publisher keeps the QoS 2 sender's rules on
      // the wire: one packet id per message, no PUBLISH after its PUBREL.
      assert.deepEqual(log.senderBreaches(pub), [], "the publisher broke a QoS 2 sender's rule");
      // Exactly once needs the broker's half of QoS 2 across reconnects too.
      // aedes does not keep it (seen here): it resends an outgoing QoS 2
      // PUBLISH with DUP=0, forwards our DUP=1 resends as new messages, and
      // after a reconnect may start a new message under a packet id still
      // awaiting its PUBREL, which a receiver must take for a resend
      // (MQTT-4.3.3-2). Against aedes only our side is checked: the rules above,
      // and every publish completed its PUBREC/PUBCOMP exchange (the batches
      // settled).
      //
      // mosquitto keeps it but for one breach of MQTT-4.3.3 ("MUST NOT re-send
      // the PUBLISH once it has sent the corresponding PUBREL"), seen in one
      // run in five to ten: when a reconnect's resend of a PUBREL fails (the
      // connection cut right after CONNACK), the message stays in its "resend
      // PUBREL" state, and the next reconnect turns every state but "wait for
      // PUBCOMP" back into "publish" (db__message_reconnect_reset_outgoing in
      // src/database.c: so from 2.0.11 to 2.0.22 and on master; no upstream
      // issue found, and no setting avoids it). It then sends the PUBLISH
      // again, DUP=1, under the packet id the subscriber released on that
      // PUBREL, and a receiver must take that for a new message (MQTT-4.3.3).
      // So a message handed out twice is excused only by such a resend of it,
      // seen at the proxy before the repeat and written to the subscriber after
      // a PUBREL of it that was written too; any other duplicate is ours.
      if (shared.name === "mosquitto") {
        assert.equal(figures.unique, 2000, "no message lost");
        assert.deepEqual(
          log.unexplainedDuplicates(sub),
          [],
          "the client delivered a message twice",
        );
        assertInOrder(firstSeen);
      }
    } catch (e) {
      console.log(`${shared.name}, protocol level ${version}: failed with ${replay}`);
      throw e;
    } finally {
      await own?.stop();
    }
  },
  { versions: [4, 5] },
);
