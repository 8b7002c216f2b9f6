// Nothing lost under faults: thousands of messages through a proxy that cuts
// the connections at random points (and, for mosquitto, a broker restart),
// published and received by robust clients with persistent sessions.
// The figures are printed for the record; the assertions are exact.
import assert from "node:assert/strict";
import { MQTTClient } from "../lib/robust.ts";
import { MemorySessionStore, type QoS } from "../mod.ts";
import { type Broker, forEachBroker, startMosquitto } from "./_brokers.ts";
import { FaultProxy } from "./_fault_proxy.ts";
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
  ms: number;
}

/** Publishes `total` numbered messages while cutting connections; returns what the subscriber saw. */
async function faultRun(
  broker: Broker,
  run: Run,
): Promise<{ figures: Figures; firstSeen: number[] }> {
  const proxy = await FaultProxy.start({ hostname: broker.host, port: broker.port });
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
        const n = Number(new TextDecoder().decode(msg.payload));
        if (!counts.has(n)) firstSeen.push(n);
        counts.set(n, (counts.get(n) ?? 0) + 1);
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
          await broker.restart!();
          restarts++;
          continue;
        }
        // Cut now, or once a random number of bytes more has passed: inside
        // a packet, between PUBREC and PUBREL, wherever it falls.
        if (Math.random() < 0.5) proxy.cut();
        else proxy.cutAfterBytes(Math.floor(Math.random() * 4000));
        cuts++;
      }
      calmAt = Date.now();
      if (counts.size < run.total) proxy.cut();
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
    for (let msg; (msg = await sub.check_msg().catch(() => undefined));) {
      const n = Number(new TextDecoder().decode(msg.payload));
      if (!counts.has(n)) firstSeen.push(n);
      counts.set(n, (counts.get(n) ?? 0) + 1);
    }
  } finally {
    done = true;
    await pub.disconnect();
    await sub.disconnect();
    await proxy.close();
  }
  const received = [...counts.values()].reduce((a, b) => a + b, 0);
  return {
    firstSeen,
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
      ms: Date.now() - start,
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
  async (shared) => {
    const own = shared.name === "mosquitto"
      ? await startMosquitto({ persistence: true, extraConfig: ["max_queued_messages 0"] })
      : undefined;
    try {
      const { figures, firstSeen } = await withTimeout(
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
      console.log(`QoS 1 fault run [${shared.name}]:`, JSON.stringify(figures));
      assert.equal(figures.unique, 10_000, "every message arrived at least once");
      assert.ok(figures.cuts >= 20);
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
    const { figures, firstSeen } = await withTimeout(
      faultRun(own ?? shared, { qos: 2, total: 2000, window: 100, minCuts: 20, restart: false }),
      180_000,
      "the QoS 2 fault run",
    );
    console.log(`QoS 2 fault run [${shared.name}]:`, JSON.stringify(figures));
    assert.ok(figures.cuts >= 20);
    // Exactly once needs the broker's half of QoS 2 across reconnects, which
    // mosquitto keeps. aedes does not (seen here): it resends an outgoing
    // QoS 2 PUBLISH with DUP=0, forwards our DUP=1 resends as new messages,
    // and after a reconnect may start a new message under a packet id still
    // awaiting its PUBREL, which a receiver must take for a resend
    // (MQTT-4.3.3-2). Against aedes only our side is checked: every publish
    // completed its PUBREC/PUBCOMP exchange (the batches above settled).
    if (shared.name === "mosquitto") {
      assert.equal(figures.unique, 2000, "no message lost");
      assert.equal(figures.duplicates, 0, "no message delivered twice");
      assertInOrder(firstSeen);
    }
  } finally {
    await own?.stop();
  }
});
