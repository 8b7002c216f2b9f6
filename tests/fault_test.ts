// Nothing lost under faults: thousands of messages through a proxy that cuts
// the connections at random points (and, for mosquitto, a broker restart),
// published and received by robust clients with persistent sessions.
// The figures are printed for the record; the assertions are exact. The
// proxy's packet trace tells whose fault a lost QoS 1 message is, ours or
// the broker's.
import assert from "node:assert/strict";
import { MQTTClient } from "../lib/robust.ts";
import { MemorySessionStore, type Message, type QoS } from "../mod.ts";
import { type Broker, forEachBroker, startMosquitto } from "./_brokers.ts";
import { FaultProxy } from "./_fault_proxy.ts";
import { PacketLog } from "./_packet_log.ts";
import { type Exchange, MqttTrace } from "./_mqtt_trace.ts";
import { uniqueId, withTimeout } from "./_test.ts";

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

interface Run {
  qos: QoS;
  total: number;
  window: number;
  minCuts: number;
  restart: boolean;
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

/** Where the messages that never arrived went missing, from the proxy's packet trace (QoS 1). */
interface LossReport {
  /**
   * Lost messages that the broker acknowledged to the publisher and for
   * which the subscriber never sent a PUBACK: the broker owed them still.
   */
  brokerSide: number[];
  /** Of those, the ones whose last delivery's packet id the subscriber later acknowledged for another message. */
  idReused: number;
  /** Promises our clients broke: a PUBACK for a message never handed over, a publish settled unacknowledged. */
  ours: string[];
  /** A packet-level account of the first broker-side loss. */
  evidence: string[];
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
  const trace = new MqttTrace();
  const proxy = await FaultProxy.start({ hostname: broker.host, port: broker.port }, {
    tap: (e) => {
      log.tap(e);
      trace.tap(e);
    },
  });
  const topic = uniqueId("fault");
  const make = (prefix: string, sessionStore?: MemorySessionStore) => {
    const c = new MQTTClient(uniqueId(prefix), proxy.hostname, {
      port: proxy.port,
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
  const start = Date.now();
  const counts = new Map<number, number>();
  const firstSeen: number[] = [];
  let cuts = 0;
  let published = 0;
  let restarts = 0;
  let done = false;
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
      const text = new TextDecoder().decode(msg.payload);
      log.delivered(sub.client_id, text);
      const n = Number(text);
      if (!counts.has(n)) firstSeen.push(n);
      counts.set(n, (counts.get(n) ?? 0) + 1);
    };
    const receiving = (async () => {
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
    const progress = Deno.env.get("FAULT_DEBUG")
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
    receiving.finally(() => clearInterval(progress));
    const stalled = () => published === run.total && Date.now() - lastAt > 2000;
    const cutting = (async () => {
      while (cuts < run.minCuts || (!done && counts.size < run.total && !stalled())) {
        await sleep(10 + Math.random() * 40);
        if (run.restart && restarts === 0 && counts.size > run.total / 2) {
          log.note("broker restart");
          await broker.restart!();
          restarts++;
          continue;
        }
        // Cut now, or once a random number of bytes more has passed: inside
        // a packet, between PUBREC and PUBREL, wherever it falls.
        if (Math.random() < 0.5) {
          log.note("cut");
          proxy.cut();
        } else {
          const n = Math.floor(Math.random() * 4000);
          log.note(`cut after ${n} bytes`);
          proxy.cutAfterBytes(n);
        }
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
            published++;
            settled.add(j);
          }),
        );
      }
      await Promise.all(batch); // every publish settles, and settles resolved
    }
    await receiving;
    done = true;
    await cutting;
    // Redeliveries still on their way are counted too.
    await sleep(200);
    for (let msg; (msg = await sub.check_msg().catch(() => undefined));) record(msg);
  } finally {
    done = true;
    await pub.disconnect();
    await sub.disconnect();
    await proxy.close();
    const traceFile = Deno.env.get("FAULT_TRACE");
    if (traceFile) await Deno.writeTextFile(traceFile, log.lines().join("\n") + "\n");
  }
  const received = [...counts.values()].reduce((a, b) => a + b, 0);
  const connacks = trace.connacks(sub.client_id);
  return {
    firstSeen,
    log,
    pub: pub.client_id,
    sub: sub.client_id,
    loss: run.qos === 1
      ? lossReport(trace, pub.client_id, sub.client_id, counts, run.total)
      : { brokerSide: [], idReused: 0, ours: [], evidence: [] },
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
      sessionsLost: connacks.slice(1).filter((c) => c?.sessionPresent === false).length,
      ms: Date.now() - start,
      brokerResends: log.brokerResendsAfterPubrel(sub.client_id).length,
    },
  };
}

/**
 * Tells, from the packets the proxy saw, whose fault each lost message is.
 * Ours when the subscriber sent a PUBACK for a message the application never
 * got, or when a publish settled without the broker's PUBACK; the broker's
 * when it acknowledged the message to the publisher and the subscriber never
 * acknowledged it: the broker still owed it, through every reconnect with
 * session present.
 */
function lossReport(
  trace: MqttTrace,
  pubId: string,
  subId: string,
  counts: Map<number, number>,
  total: number,
): LossReport {
  const pubLinks = new Set(trace.linksOf(pubId));
  const subLinks = new Set(trace.linksOf(subId));
  const accepted = new Map<string, Exchange>();
  for (const x of trace.exchanges("up")) {
    if (x.puback && pubLinks.has(x.publish.link)) accepted.set(x.publish.payload!, x);
  }
  const delivered = trace.exchanges("down").filter((x) => subLinks.has(x.publish.link));
  const ours: string[] = [];
  const acknowledged = new Set<string>();
  // Where each payload last went to the subscriber, and each id's deliveries, in order.
  const lastDelivery = new Map<string, number>();
  const byId = new Map<number, number[]>();
  delivered.forEach(({ publish: p, puback }, i) => {
    lastDelivery.set(p.payload!, i);
    const same = byId.get(p.id!);
    if (same) same.push(i);
    else byId.set(p.id!, [i]);
    if (!puback) return;
    acknowledged.add(p.payload!);
    if (!counts.has(Number(p.payload))) {
      ours.push(
        `the subscriber acknowledged "${p.payload}" (link ${p.link}, id ${p.id}) but never handed it to the application`,
      );
    }
  });
  const brokerSide: number[] = [];
  let idReused = 0;
  let evidence: string[] = [];
  for (let n = 0; n < total; n++) {
    const payload = String(n);
    if (counts.has(n) || acknowledged.has(payload)) continue;
    const ack = accepted.get(payload);
    if (!ack) {
      ours.push(`the publish of "${n}" settled, but the broker never acknowledged it`);
      continue;
    }
    brokerSide.push(n);
    const i = lastDelivery.get(payload);
    const last = i === undefined ? undefined : delivered[i].publish;
    // A later delivery of another message under the id this one last went
    // out with, which the subscriber acknowledged.
    const later = last && byId.get(last.id!)!.find((j) => j > i! && delivered[j].puback);
    const reuse = later === undefined ? undefined : delivered[later];
    if (reuse) idReused++;
    if (evidence.length > 0) continue;
    const after = last?.t ?? ack.puback!.t;
    const resumed = trace.connacks(subId).filter((c) => c?.sessionPresent && c.t > after).length;
    const then = reuse
      ? `Then the broker sent "${reuse.publish.payload}" under the same id ${reuse.publish.id} ` +
        `(link ${reuse.publish.link}, ${reuse.publish.t} ms), and the subscriber acknowledged that one.`
      : last
      ? `No other message went to the subscriber under id ${last.id} after that.`
      : "The broker never sent it to the subscriber.";
    evidence = [
      `"${n}": the broker acknowledged it to the publisher; the subscriber never acknowledged it.`,
      ...trace.story(payload),
      then,
      `Afterwards the subscriber resumed its session ${resumed} times (CONNACK session present), ` +
      "and the broker did not send it again.",
    ];
  }
  return { brokerSide, idReused, ours, evidence };
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
  async (shared) => {
    const own = shared.name === "mosquitto"
      ? await startMosquitto({ persistence: true, extraConfig: ["max_queued_messages 0"] })
      : undefined;
    try {
      const { figures, firstSeen, loss, log, pub } = await withTimeout(
        faultRun(own ?? shared, {
          qos: 1,
          total: 10_000,
          window: 200,
          minCuts: 20,
          restart: own !== undefined,
        }),
        180_000,
        "the QoS 1 fault run",
      );
      console.log(
        `QoS 1 fault run [${shared.name}]:`,
        JSON.stringify({ ...figures, brokerLost: loss.brokerSide.length, idReused: loss.idReused }),
      );
      // Our half holds with any broker: no message acknowledged without being
      // handed over, no publish settled without the broker's PUBACK.
      assert.deepEqual(loss.ours, [], "our clients lost no message");
      assert.ok(figures.cuts >= 20);
      // However often resent, a message keeps its packet id (robust.ts's promise).
      assert.deepEqual(log.senderBreaches(pub), [], "the publisher broke a sender's rule");
      if (loss.brokerSide.length > 0) {
        console.log(
          `The broker lost ${loss.brokerSide.length} message(s) it had acknowledged, e.g.\n  ${
            loss.evidence.join("\n  ")
          }`,
        );
      }
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
      }
      // aedes may deliver a message queued for a reconnecting subscriber after
      // newer live ones; mosquitto keeps the order, so the order is ours to keep.
      if (shared.name === "mosquitto") assertInOrder(firstSeen);
    } finally {
      await own?.stop();
    }
  },
);

forEachBroker("2000 QoS 2 messages survive 20+ random cuts: each exactly once", async (shared) => {
  // mosquitto 2.0.11 stalls queued outgoing QoS 2 once its in-flight window
  // fills (fixed upstream in 2.0.13): an unlimited window avoids that bug.
  const own = shared.name === "mosquitto"
    ? await startMosquitto({ extraConfig: ["max_inflight_messages 0"] })
    : undefined;
  try {
    const { figures, firstSeen, log, pub, sub } = await withTimeout(
      faultRun(own ?? shared, { qos: 2, total: 2000, window: 100, minCuts: 20, restart: false }),
      180_000,
      "the QoS 2 fault run",
    );
    console.log(`QoS 2 fault run [${shared.name}]:`, JSON.stringify(figures));
    assert.ok(figures.cuts >= 20);
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
    // seen at the proxy before the repeat; any other duplicate is ours.
    if (shared.name === "mosquitto") {
      assert.equal(figures.unique, 2000, "no message lost");
      assert.deepEqual(
        log.unexplainedDuplicates(sub),
        [],
        "the client delivered a message twice",
      );
      assertInOrder(firstSeen);
    }
  } finally {
    await own?.stop();
  }
});
