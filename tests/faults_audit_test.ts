// Delivery under network faults, probed from outside against mosquitto
// through the fault proxy: what the fault runs (fault_test.ts) do not reach.
import assert from "node:assert/strict";
import { MQTTClient as Robust } from "../lib/robust.ts";
import { MQTTClient, type ProtocolVersion } from "../mod.ts";
import { startMosquitto } from "./_brokers.ts";
import { FaultProxy } from "./_fault_proxy.ts";
import { seeded, test, uniqueId, until } from "./_test.ts";

const text = (b: Uint8Array) => new TextDecoder().decode(b);

/**
 * A subscriber whose handler for a QoS 2 message is still running when its
 * connection is lost and resumed: the broker resends the message on the new
 * connection (MQTT-4.4.0-1), and the resend is held back while the first copy
 * is being handled (it must not be handled twice). The handler then fails:
 * the held resend is the broker's "again", and must be handed out, as a QoS 1
 * one is; otherwise the message waits on the live connection for ever,
 * holding one of the broker's in-flight slots (here its only one: the later
 * messages wait too).
 */
async function handlerFailsAfterResume(robust: boolean, version: ProtocolVersion) {
  const broker = await startMosquitto({ extraConfig: ["max_inflight_messages 1"] });
  // The links on which a PUBLISH was written to the subscriber after the first one.
  const resent = new Set<number>();
  const down = new Map<number, Uint8Array>();
  const proxy = await FaultProxy.start({ hostname: broker.host, port: broker.port }, {
    tap: (e) => {
      if (e.type !== "written" || e.dir !== "down" || e.link === 1) return;
      // The packets' fixed headers, across writes: a CONNACK and a PUBLISH may share one.
      let b = new Uint8Array([...down.get(e.link) ?? [], ...e.bytes]);
      for (;;) {
        let len = 0, i = 1;
        for (let mul = 1; i < b.length; i++, mul *= 128) {
          len += (b[i] & 127) * mul;
          if (!(b[i] & 128)) break;
        }
        if (i >= b.length || b.length < i + 1 + len) break;
        if (b[0] >> 4 === 3) resent.add(e.link);
        b = b.subarray(i + 1 + len);
      }
      down.set(e.link, b);
    },
  });
  const topic = uniqueId("resume-fail");
  const options = { port: proxy.port, protocolVersion: version, keepalive: 10 };
  const sub = robust
    ? new Robust(uniqueId("rfs"), proxy.hostname, options)
    : new MQTTClient(uniqueId("rfs"), proxy.hostname, options);
  if (sub instanceof Robust) sub.DELAY = 0.01;
  const pub = new MQTTClient(uniqueId("rfp"), broker.url, { protocolVersion: version });
  const handled: string[] = [];
  const failures: string[] = [];
  let first = true;
  sub.set_callback(async (_topic, msg) => {
    if (first) {
      first = false;
      // Lost and resumed while this runs; the broker's resend has come. The loss is
      // awaited as an event: the robust client may be back before a poll would see it.
      const lost = new Promise((r) => sub.addEventListener("disconnected", r, { once: true }));
      proxy.cut();
      await lost;
      if (!robust) await sub.connect(false);
      await until(() => sub.connected && resent.size > 0, "the broker resends the message");
      throw new Error("handler failed");
    }
    handled.push(text(msg));
  });
  let reading: Promise<void> = Promise.resolve();
  try {
    await sub.connect(false);
    await sub.subscribe(topic, 2);
    reading = (async () => {
      while (handled.length < 3) {
        try {
          await sub.wait_msg();
        } catch (e) {
          failures.push((e as Error).message);
          if (failures.length > 5) return;
        }
      }
    })();
    await pub.connect();
    for (const m of ["m0", "m1", "m2"]) await pub.publish(topic, m, false, 2);
    await until(() => handled.length === 3, "m0 is handled again, then m1 and m2");
    assert.deepEqual(handled, ["m0", "m1", "m2"]);
    assert.equal(failures[0], "handler failed");
  } finally {
    await sub.disconnect();
    await reading;
    await pub.disconnect();
    await proxy.close();
    await broker.stop();
  }
}

for (const version of [4, 5] as const) {
  for (const robust of [true, false]) {
    test(
      `${
        robust ? "robust" : "simple"
      } v${version}: a QoS 2 message whose handler fails after the session resumed is handed out again on that connection`,
      () => handlerFailsAfterResume(robust, version),
      { mosquitto: true, timeout: 30_000 },
    );
  }
}

// Replay a failure with UMQTT_FAULT_SEED=<the seed it printed>.
const SEED = Number(Deno.env.get("UMQTT_FAULT_SEED") ?? Date.now() % 100_000);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * What fault_test.ts's runs leave out: half-open stalls (bytes stop, no FIN:
 * only the keepalive can tell), cuts counted in one direction only (mid-CONNACK,
 * mid-PUBACK, between PUBREC and PUBREL), and a subscriber that takes its
 * messages through the callback or messages() rather than wait_msg alone.
 */
async function seededRun(version: ProtocolVersion, qos: 1 | 2, viaMessages: boolean) {
  const random = seeded(SEED * 10 + version + qos);
  const total = 400;
  const broker = await startMosquitto({
    persistence: true,
    extraConfig: ["max_queued_messages 0", ...(qos === 2 ? ["max_inflight_messages 0"] : [])],
  });
  const proxy = await FaultProxy.start({ hostname: broker.host, port: broker.port });
  const make = (prefix: string) => {
    const c = new Robust(uniqueId(prefix), proxy.hostname, {
      port: proxy.port,
      protocolVersion: version,
      keepalive: 1,
      connectTimeout: 2000,
      reconnectMaxDelay: 200,
    });
    c.DELAY = 0.01;
    return c;
  };
  const topic = uniqueId("seeded");
  const pub = make("sdp"), sub = make("sds");
  const counts = new Map<number, number>();
  const firstSeen: number[] = [];
  const record = (payload: Uint8Array) => {
    const n = Number(text(payload));
    if (!counts.has(n)) firstSeen.push(n);
    counts.set(n, (counts.get(n) ?? 0) + 1);
  };
  const faults: string[] = [];
  let receiving: Promise<void> = Promise.resolve();
  let faulting: Promise<void> = Promise.resolve();
  let done = false;
  try {
    await sub.connect(false);
    await sub.subscribe(topic, qos);
    await pub.connect(false);
    if (viaMessages) {
      receiving = (async () => {
        for await (const msg of sub.messages()) {
          record(msg.payload);
          if (counts.size === total) return;
        }
      })();
    } else {
      sub.set_callback((_topic, msg) => record(msg));
      receiving = (async () => {
        while (counts.size < total && !done) await sub.wait_msg().catch(() => {});
      })();
    }
    let restarted = false;
    faulting = (async () => {
      while (!done) {
        await sleep(20 + random() * 200);
        const r = random();
        if (!restarted && counts.size > total / 2) {
          restarted = true;
          faults.push("restart");
          await broker.restart!();
        } else if (r < 0.3) {
          faults.push("cut");
          proxy.cut();
        } else if (r < 0.8) {
          const n = Math.floor(random() * 600);
          const dir = (["up", "down", "both"] as const)[Math.floor(random() * 3)];
          faults.push(`cut after ${n} bytes ${dir}`);
          proxy.cutAfterBytes(n, dir);
        } else {
          faults.push("stall");
          proxy.blackhole(true);
          await sleep(1800 + random() * 600); // keepalive 1 s: found dead within 1.5 s
          proxy.blackhole(false);
          proxy.cut(); // what a stall left of the stream is broken mid-packet
        }
        await sleep(100);
      }
    })();
    for (let i = 0; i < total; i += 10) {
      await sleep(random() * 40);
      const batch = [];
      for (let j = i; j < i + 10; j++) batch.push(pub.publish(topic, String(j), false, qos));
      await Promise.all(batch); // each settles, resolved: the robust client rides the faults
    }
    await until(() => counts.size === total, "every message arrived", 60_000);
  } catch (e) {
    throw new Error(
      `seed ${SEED} (replay with UMQTT_FAULT_SEED=${SEED}); faults: ${faults.join(", ")}`,
      { cause: e },
    );
  } finally {
    done = true;
    proxy.blackhole(false);
    await faulting;
    await pub.disconnect();
    await sub.disconnect();
    await receiving.catch(() => {});
    await proxy.close();
    await broker.stop();
  }
  const missing = Array.from({ length: total }, (_, i) => i).filter((i) => !counts.has(i));
  assert.deepEqual(missing, [], `seed ${SEED}: none lost`);
  // mosquitto keeps the order of first arrival; the client keeps it too.
  const late = firstSeen.findIndex((n, i) => i > 0 && n < firstSeen[i - 1]);
  assert.equal(late, -1, `seed ${SEED}: ${firstSeen[late]} came after ${firstSeen[late - 1]}`);
  assert.ok(faults.length >= 5, `seed ${SEED}: only ${faults.length} faults`);
  console.log(`seeded fault run, seed ${SEED}: ${faults.length} faults (${faults.join(", ")})`);
}

for (const version of [4, 5] as const) {
  const viaMessages = version === 5;
  test(
    `v${version} QoS 1, ${
      viaMessages ? "messages()" : "callback"
    } subscriber: seeded cuts either way, half-open stalls and a restart lose nothing`,
    () => seededRun(version, 1, viaMessages),
    { mosquitto: true, timeout: 120_000 },
  );
}
