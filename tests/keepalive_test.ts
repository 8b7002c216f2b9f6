// Automatic keepalive, async iteration, AbortSignal, `await using` and the
// connection events, against real brokers.
import { connect } from "./_net.ts";
import { createServer, type Socket } from "node:net";
import assert from "node:assert/strict";
import { type Message, MQTTClient, MQTTConnectionError } from "../mod.ts";
import { encode } from "../lib/codec/encode.ts";
import { forEachBroker } from "./_brokers.ts";
import { acceptConnect, withHostileBroker } from "./_hostile_broker.ts";
import { Tap } from "./_tap.ts";
import { test, uniqueId, withTimeout } from "./_test.ts";
import { Keepalive } from "../lib/_keepalive.ts";
import type { StreamPair } from "../lib/transports/types.ts";

// The tests that hold for either MQTT version run at both (MQTT 5 on mosquitto only).
const BOTH = { versions: [4, 5] } as const;

const text = (b: Uint8Array) => new TextDecoder().decode(b);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

forEachBroker("an idle client pings by itself and stays connected", async (broker, v) => {
  const tap = new Tap(broker.host, broker.port);
  const c = new MQTTClient(uniqueId("ka"), broker.host, {
    protocolVersion: v,
    transport: tap.transport,
    keepalive: 1,
  });
  await c.connect();
  const count = () => tap.conns[0].written.filter((p) => p.type === "pingreq").length;
  // About 2 s; a loaded machine's late timers get up to 10 s.
  for (let waited = 0; count() < 2 && waited < 10_000; waited += 50) await sleep(50);
  const pings = count();
  assert.ok(pings >= 2, `expected at least 2 PINGREQs with keepalive 1, got ${pings}`);
  assert.ok(tap.conns[0].read.filter((p) => p.type === "pingresp").length >= 1);
  assert.equal(c.connected, true);
  await c.disconnect();
}, BOTH);

/** A connected client with keepalive 1 through a tap, and its first `disconnected` event's error. */
async function tapped(broker: { host: string; port: number }, v: 4 | 5, prefix: string) {
  const tap = new Tap(broker.host, broker.port);
  const c = new MQTTClient(uniqueId(prefix), broker.host, {
    protocolVersion: v,
    transport: tap.transport,
    keepalive: 1,
  });
  const disconnected = new Promise<Error>((resolve) => {
    c.addEventListener("disconnected", (e) => resolve((e as CustomEvent).detail.error), {
      once: true,
    });
  });
  await c.connect();
  return { tap, c, disconnected };
}

forEachBroker("a connection whose PINGREQ gets no answer is declared dead", async (broker, v) => {
  const { tap, c, disconnected } = await tapped(broker, v, "dead");
  // A dead way back: our PINGREQ reaches the broker (which so keeps the
  // connection open), but its PINGRESP never reaches us.
  tap.deaf = true;
  const waiting = c.wait_msg().then(() => null, (e) => e);
  const error = await disconnected;
  assert.ok(error instanceof MQTTConnectionError);
  assert.match(error.message, /no answer to PINGREQ within 500 ms \(keepalive 1 s\)/);
  assert.equal(c.connected, false);
  assert.ok((await waiting) instanceof MQTTConnectionError, "a waiting wait_msg rejects");
}, BOTH);

forEachBroker("a wall clock set back an hour does not silence the keepalive", async (broker, v) => {
  const { tap, c } = await tapped(broker, v, "clock");
  const realNow = Date.now;
  // As NTP or a user setting the clock back while the connection is open.
  Date.now = () => realNow() - 3_600_000;
  try {
    const pings = () => tap.conns[0].written.filter((p) => p.type === "pingreq").length;
    // setTimeout runs on the monotonic clock: 10 s is ten keepalive intervals.
    for (let waited = 0; pings() < 2 && waited < 10_000; waited += 50) await sleep(50);
    assert.ok(pings() >= 2, `expected PINGREQs every second with keepalive 1, got ${pings()}`);
    assert.equal(c.connected, true);
  } finally {
    Date.now = realNow;
    await c.disconnect();
  }
}, BOTH);

forEachBroker(
  "a client that keeps publishing but hears nothing back finds the connection dead",
  async (broker, v) => {
    const { tap, c, disconnected } = await tapped(broker, v, "busy");
    // As a stalled broker: our writes still go out, nothing comes back.
    tap.deaf = true;
    let stop = false;
    const publishes: Promise<unknown>[] = [];
    const loop = (async () => {
      while (!stop) {
        publishes.push(c.publish(uniqueId("busy/t"), "x", false, 1).catch((e) => e));
        await sleep(200); // writes more often than the keepalive interval
      }
    })();
    const error = await disconnected;
    stop = true;
    await loop;
    assert.match(error.message, /no answer to PINGREQ within 500 ms \(keepalive 1 s\)/);
    assert.ok(tap.conns[0].written.some((p) => p.type === "pingreq"), "a PINGREQ went out");
    for (const r of await Promise.all(publishes)) {
      assert.ok(r instanceof MQTTConnectionError, `every publish rejects, got ${r}`);
    }
  },
  { ...BOTH, timeout: 15_000 },
);

forEachBroker(
  "a handler that awaits 3× the keepalive does not lose the connection",
  async (broker, v) => {
    const u = uniqueId("slow");
    const c = new MQTTClient(uniqueId("slow"), broker.host, {
      protocolVersion: v,
      port: broker.port,
      keepalive: 1,
    });
    await c.connect();
    await c.subscribe(u, 1);
    c.set_callback(() => sleep(3000));
    await c.publish(u, "slow", false, 1);
    const msg = await c.wait_msg();
    assert.equal(text(msg.payload), "slow");
    assert.equal(c.connected, true);
    await c.ping();
    await c.disconnect();
  },
  BOTH,
);

forEachBroker(
  "messages() yields from the same queue as wait_msg, one consumer each",
  async (broker, v) => {
    const u = uniqueId("iter");
    const c = new MQTTClient(uniqueId("it"), broker.host, {
      port: broker.port,
      protocolVersion: v,
    });
    let callbacks = 0;
    c.set_callback(() => void callbacks++);
    await c.connect();
    await c.subscribe(u, 1);
    for (let i = 0; i < 5; i++) await c.publish(u, String(i), false, 1);
    const first = await c.wait_msg();
    assert.equal(text(first.payload), "0");
    const seen: string[] = [];
    for await (const msg of c.messages()) {
      seen.push(text(msg.payload));
      if (seen.length === 3) break;
    }
    assert.deepEqual(seen, ["1", "2", "3"]);
    assert.equal(text((await c.wait_msg()).payload), "4");
    assert.equal(callbacks, 2, "the callback ran for wait_msg's messages only");
    await c.disconnect();
  },
  BOTH,
);

forEachBroker("messages() ends after disconnect()", async (broker, v) => {
  const c = new MQTTClient(uniqueId("end"), broker.host, { port: broker.port, protocolVersion: v });
  await c.connect();
  const loop = (async () => {
    const got: Message[] = [];
    for await (const m of c.messages()) got.push(m);
    return got;
  })();
  await c.disconnect();
  assert.deepEqual(await loop, []);
}, BOTH);

forEachBroker(
  "an aborted wait_msg rejects with the reason and loses no message",
  async (broker, v) => {
    const u = uniqueId("abort");
    const c = new MQTTClient(uniqueId("ab"), broker.host, {
      port: broker.port,
      protocolVersion: v,
    });
    await c.connect();
    await c.subscribe(u, 1);
    const ac = new AbortController();
    const waiting = c.wait_msg({ signal: ac.signal });
    ac.abort(new Error("stop waiting"));
    await assert.rejects(waiting, /stop waiting/);
    await c.publish(u, "after", false, 1);
    assert.equal(text((await c.wait_msg()).payload), "after", "the client stays usable");
    await assert.rejects(c.publish(u, "x", { qos: 1, signal: AbortSignal.abort() }), {
      name: "AbortError",
    });
    await c.disconnect();
  },
  BOTH,
);

forEachBroker(
  "await using disconnects, and events report connected and disconnected",
  async (broker, v) => {
    const events: string[] = [];
    {
      await using c = new MQTTClient(uniqueId("use"), broker.host, {
        port: broker.port,
        protocolVersion: v,
      });
      c.addEventListener("connected", () => events.push("connected"));
      c.addEventListener("disconnected", () => events.push("disconnected"));
      await c.connect();
      assert.equal(c.connected, true);
    }
    assert.deepEqual(events, ["connected", "disconnected"]);
  },
  BOTH,
);

forEachBroker("connect accepts an AbortSignal", async (broker, v) => {
  const c = new MQTTClient(uniqueId("ca"), broker.host, { port: broker.port, protocolVersion: v });
  await assert.rejects(c.connect(true, { signal: AbortSignal.abort() }), { name: "AbortError" });
  assert.equal(c.connected, false);
  assert.equal(
    await c.connect({ clean_session: true, signal: new AbortController().signal }),
    false,
  );
  await c.disconnect();
}, BOTH);

test("ping() is answered by its own PINGRESP, not by the one for the keepalive's PINGREQ", async () => {
  const bothSent = Promise.withResolvers<() => Promise<void>>();
  const keepalivePing = Promise.withResolvers<void>();
  await withHostileBroker(async (peer) => {
    await acceptConnect(peer);
    await peer.expect("pingreq"); // the keepalive's: answered only when the test says
    keepalivePing.resolve();
    await peer.expect("pingreq"); // ping()'s
    bothSent.resolve(() => peer.write({ type: "pingresp" }));
    await peer.clientClosed;
  }, async (broker) => {
    const c = new MQTTClient(uniqueId("pong"), broker.url, { keepalive: 1 });
    await c.connect();
    await keepalivePing.promise; // a second of silence: the keepalive's PINGREQ goes out
    let settled = false;
    const pong = c.ping().then(() => void (settled = true));
    const answer = await bothSent.promise;
    await answer(); // the first PINGRESP answers the first PINGREQ, the keepalive's
    await sleep(50);
    assert.equal(settled, false, "ping() resolved on the keepalive's PINGRESP");
    await answer(); // ping()'s
    await pong;
    await c.disconnect();
  });
});

/**
 * A transport over Deno's TCP whose writes go `bytesPerTick` every `tickMs`,
 * as over a slow link, and which calls `afterPing` once a PINGREQ is written.
 */
function slowLink(
  broker: { host: string; port: number },
  bytesPerTick: number,
  tickMs: number,
  afterPing = () => {},
) {
  return async () => {
    const conn = await connect({ hostname: broker.host, port: broker.port });
    return {
      readable: conn.readable,
      writable: conn.writable,
      close: () => conn.close(),
      read: (b: Uint8Array) => conn.read(b),
      write: async (b: Uint8Array) => {
        for (let at = 0; at < b.length; at += bytesPerTick) {
          const part = b.subarray(at, at + bytesPerTick);
          for (let off = 0; off < part.length;) off += await conn.write(part.subarray(off));
          if (b.length > bytesPerTick) await sleep(tickMs);
        }
        if (b[0] === 0xc0 && b.length === 2) afterPing();
        return b.length;
      },
    };
  };
}

forEachBroker(
  "a PINGREQ behind a large PUBLISH on a slow link waits for it, and the connection lives",
  async (broker, v) => {
    // 1 MB at ~400 KB/s: the keepalive (1 s) asks while the PUBLISH is
    // still going out, and its PINGREQ waits behind it. The wait for the
    // answer starts once it is written; before, the client declared the
    // connection dead half an interval after asking, and a robust client
    // sent the publish again, and again.
    const c = new MQTTClient(uniqueId("slow"), broker.host, {
      protocolVersion: v,
      keepalive: 1,
      transport: slowLink(broker, 16_384, 40),
    });
    let lost: unknown;
    c.addEventListener("disconnected", (e) => (lost = (e as CustomEvent).detail.error));
    await c.connect();
    const t0 = performance.now();
    await c.publish(uniqueId("big"), new Uint8Array(1_000_000), false, 1);
    assert.ok(performance.now() - t0 > 2000, "the PUBLISH took two keepalive intervals");
    assert.equal(lost, undefined);
    assert.equal(c.connected, true);
    await c.disconnect();
  },
  { only: ["mosquitto"], versions: [4, 5], timeout: 15_000 },
);

forEachBroker(
  "a PINGRESP that came while the application held the event loop up counts",
  async (broker, v) => {
    // Right after the PINGREQ is written the application computes for 800 ms,
    // past the half interval (500 ms) in which the answer is due. The broker
    // answers at once; the keepalive's late look must see that answer first.
    let blocked = false;
    const c = new MQTTClient(uniqueId("busy"), broker.host, {
      protocolVersion: v,
      keepalive: 1,
      transport: slowLink(broker, 1 << 20, 0, () => {
        if (blocked) return;
        blocked = true;
        for (const end = performance.now() + 800; performance.now() < end;) { /* busy */ }
      }),
    });
    let lost: unknown;
    c.addEventListener("disconnected", (e) => (lost = (e as CustomEvent).detail.error));
    await c.connect();
    for (let waited = 0; !blocked && waited < 10_000; waited += 50) await sleep(50);
    assert.ok(blocked, "a PINGREQ was written");
    await sleep(300);
    assert.equal(lost, undefined);
    assert.equal(c.connected, true);
    await c.disconnect();
  },
  { versions: [4, 5] },
);

/** A raw broker: CONNACK, then stops reading the client and floods it with QoS 0 PUBLISHes. */
async function floodingDeafBroker() {
  const sockets = new Set<Socket>();
  const timers = new Set<ReturnType<typeof setInterval>>();
  const server = createServer((s) => {
    sockets.add(s);
    s.on("error", () => {});
    s.once("data", () => {
      s.write(Uint8Array.of(0x20, 0x02, 0x00, 0x00));
      s.pause(); // reads nothing more: the client's writes back up
      const pub = encode(
        {
          type: "publish",
          topic: "flood",
          payload: new Uint8Array(10),
          qos: 0,
          retain: false,
          dup: false,
        } as never,
        4,
      );
      const t = setInterval(() => {
        if (!s.destroyed) s.write(pub);
      }, 20);
      timers.add(t);
      s.on("close", () => {
        clearInterval(t);
        timers.delete(t);
      });
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const port = (server.address() as { port: number }).port;
  return {
    url: `mqtt://127.0.0.1:${port}`,
    async close() {
      for (const t of timers) clearInterval(t);
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/**
 * A client with keepalive 1 s whose 64 MB QoS 0 publish, awaited, stalls against
 * `floodingDeafBroker()`: the error the connection ended with, and the publish's.
 */
async function stuckWrite(id: string): Promise<{ error: Error; rejected: unknown }> {
  const broker = await floodingDeafBroker();
  const c = new MQTTClient(uniqueId(id), broker.url, { keepalive: 1 });
  try {
    const lost = new Promise<Error>((resolve) =>
      c.addEventListener("disconnected", (e) => resolve((e as CustomEvent).detail.error), {
        once: true,
      })
    );
    await c.connect();
    // 64 MB: more than the loopback socket buffers take, so the write stalls.
    const big = c.publish("big", new Uint8Array(64 * 1024 * 1024)).catch((e) => e);
    const error = await withTimeout(lost, 8000, "the connection found dead");
    return { error, rejected: await big };
  } finally {
    await c.disconnect().catch(() => {});
    await broker.close();
  }
}

test("a broker that floods QoS 0 but reads nothing: the stuck write is found dead", async () => {
  // Before, each byte the broker sent cleared the PINGREQ still queued behind the
  // stuck write, and the connection was never found dead.
  const { error, rejected } = await stuckWrite("flood");
  assert.ok(error instanceof MQTTConnectionError, String(error));
  assert.ok(rejected instanceof MQTTConnectionError);
}, { timeout: 15_000 });

test(
  "a publish whose write the keepalive found stuck rejects with the keepalive's error",
  async () => {
    const { error, rejected } = await stuckWrite("stuck");
    assert.match(error.message, /no answer to PINGREQ/);
    assert.ok(rejected instanceof MQTTConnectionError, String(rejected));
    // Before, the transport's own word for the write cut short: "operation canceled".
    assert.equal(rejected.message, error.message);
  },
  { timeout: 15_000 },
);

test("ping() with keepalive 0 to a broker that never answers it: the connection ends, no hang", async () => {
  await withHostileBroker(async (peer) => {
    await acceptConnect(peer);
    await peer.expect("pingreq"); // never answered
    await peer.clientClosed;
  }, async (broker) => {
    const c = new MQTTClient(uniqueId("p0"), broker.url, { keepalive: 0, connectTimeout: 1000 });
    await c.connect();
    // Before, it waited for ever: nothing else bounds it with the keepalive off.
    const error = await withTimeout(c.ping().then(() => "resolved", (e) => e), 5000, "ping()");
    assert.ok(error instanceof MQTTConnectionError, `ping() rejects, got ${error}`);
    assert.match(error.message, /no answer to PINGREQ within 1000 ms/);
    assert.equal(c.connected, false);
    await c.disconnect();
  });
});

test("ping() with keepalive 0, answered or cut: settles, and leaves no timer", async () => {
  await withHostileBroker(async (peer) => {
    await acceptConnect(peer);
    await peer.expect("pingreq");
    await peer.write({ type: "pingresp" });
    await peer.expect("pingreq");
    peer.end(); // the second is answered by the connection's end
    await peer.clientClosed;
  }, async (broker) => {
    const c = new MQTTClient(uniqueId("p0"), broker.url, { keepalive: 0, connectTimeout: 60_000 });
    await c.connect();
    await c.ping();
    await assert.rejects(withTimeout(c.ping(), 5000, "ping()"), MQTTConnectionError);
    await c.disconnect();
  });
});

test("the shared schedule keeps its deadlines in heap order after one is stopped", async () => {
  // Clients' connect timeouts and keepalives share one timer, set for the
  // earliest of a binary heap of deadlines (each knows its `slot` and `due`).
  // Stopping the first one here moves the heap's last (57) to where it must
  // climb above the 153 one: left below it, it would fire with it, late.
  const owner = {} as ConstructorParameters<typeof Keepalive>[0];
  const all = [162, 153, 222, 117, 246, 45, 57].map((ms) => {
    const k = new Keepalive(owner);
    const done = new Promise<void>((r) => k.deadline(ms, r));
    return { k, done };
  });
  all[0].k.stop();
  const heap = all.map((d) => d.k).filter((k) => k.slot !== -1);
  assert.equal(heap.length, 6);
  for (const k of heap) {
    if (k.slot === 0) continue;
    const parent = heap.find((p) => p.slot === (k.slot - 1) >> 1)!;
    assert.ok(parent.due <= k.due, `slot ${k.slot} (due ${k.due}) under a later deadline`);
  }
  await withTimeout(Promise.all(all.slice(1).map((d) => d.done)), 10_000, "the deadlines");
});

test("a keepalive look that fires late sends the PINGREQ due at once; only the verdict looks again", () => {
  // A hidden page's timers wake once a second (once a minute after 5 min
  // hidden): the late look waited for a second wake-up before its PINGREQ, so
  // keepalive 3 pinged every 5 s in a background tab in Chromium, past the
  // 1.5 x keepalive (4.5 s) a broker waits (probed; 3-4 s now).
  const looks: number[] = [];
  const owner = {
    core: { keepalive: (now: number, ms: number) => (looks.push(now), now + ms) },
    dead() {},
  } as unknown as ConstructorParameters<typeof Keepalive>[0];
  const k = new Keepalive(owner);
  try {
    k.start(3);
    assert.equal(looks.length, 1);
    const late = k.due + 1000;
    k.check(late);
    assert.deepEqual(looks.slice(1), [late], "the late look asked for its PINGREQ");
  } finally {
    k.stop();
  }
});

forEachBroker(
  "ping() with keepalive 0 behind a large PUBLISH on a slow link: its bound runs from when it is written",
  async (broker, v) => {
    // 1 MB at ~400 KB/s: the PINGREQ waits ~2.5 s behind the PUBLISH, longer
    // than connectTimeout (1 s), which bounds ping()'s answer with the
    // keepalive off. Before, that bound ran from the call, and the live
    // connection was declared dead while the PUBLISH was still going out.
    const c = new MQTTClient(uniqueId("pslow"), broker.host, {
      protocolVersion: v,
      keepalive: 0,
      connectTimeout: 1000,
      transport: slowLink(broker, 16_384, 40),
    });
    let lost: unknown;
    c.addEventListener("disconnected", (e) => (lost = (e as CustomEvent).detail.error));
    await c.connect();
    const settled = (p: Promise<unknown>) => p.then(() => "resolved", (e) => e);
    const big = settled(c.publish(uniqueId("big"), new Uint8Array(1_000_000), false, 1));
    await sleep(100); // the PUBLISH is going out: the PINGREQ queues behind it
    assert.equal(await settled(c.ping()), "resolved");
    assert.equal(await big, "resolved");
    assert.equal(lost, undefined);
    assert.equal(c.connected, true);
    await c.disconnect();
  },
  { only: ["mosquitto"], versions: [4, 5], timeout: 15_000 },
);

test(
  "a broker whose messages keep coming but that answers no PINGREQ is found dead (a link dead one way)",
  async () => {
    // As a link dead towards the broker only: what it sends still arrives (a
    // QoS 0 message every 200 ms), what we send never gets there, so no
    // PINGRESP comes. Before, any byte read counted as the answer, and the
    // connection lived for ever: the QoS 1 publish and ping() waited for ever.
    await withHostileBroker(async (peer) => {
      await acceptConnect(peer);
      let open = true;
      peer.clientClosed.then(() => (open = false));
      while (open) {
        await peer.write(
          { type: "publish", topic: "t", payload: new Uint8Array(1), qos: 0 } as never,
        )
          .catch(() => (open = false));
        await sleep(200);
      }
    }, async (broker) => {
      const c = new MQTTClient(uniqueId("oneway"), broker.url, { keepalive: 1 });
      const lost = new Promise<Error>((resolve) =>
        c.addEventListener("disconnected", (e) => resolve((e as CustomEvent).detail.error), {
          once: true,
        })
      );
      await c.connect();
      const settled = (p: Promise<unknown>) => p.then(() => "resolved", (e) => e);
      const publish = settled(c.publish(uniqueId("oneway/t"), "x", false, 1));
      const pong = settled(c.ping());
      const error = await withTimeout(lost, 8000, "the connection found dead");
      assert.ok(error instanceof MQTTConnectionError);
      assert.match(error.message, /no PINGRESP/);
      assert.ok((await publish) instanceof MQTTConnectionError, "the QoS 1 publish rejects");
      assert.ok((await pong) instanceof MQTTConnectionError, "ping() rejects");
      await c.disconnect();
    });
  },
  { timeout: 15_000 },
);

test(
  "MQTT 5: reauthenticate() behind a large PUBLISH on a slow link: its bound runs from when its AUTH is written",
  async () => {
    // 1 MB at ~400 KB/s: the AUTH waits ~2.5 s behind the PUBLISH, longer than
    // connectTimeout (1 s), which bounds a re-authentication. Before, that bound
    // ran from the call: the broker's AUTH 0x00 came too late, and the live
    // connection was closed with DISCONNECT 0x80.
    const method = "TOKEN";
    await withHostileBroker(async (peer) => {
      await peer.expect("connect");
      await peer.write({
        type: "connack",
        sessionPresent: false,
        returnCode: 0,
        properties: { authenticationMethod: method },
      });
      await peer.expect("publish");
      const auth = await peer.expect("auth");
      assert.equal(auth.reasonCode, 0x19);
      await peer.write({
        type: "auth",
        reasonCode: 0,
        properties: { authenticationMethod: method },
      });
      await peer.expect("disconnect");
    }, async (broker) => {
      const c = new MQTTClient(uniqueId("reauth"), broker.url, {
        protocolVersion: 5,
        authenticationMethod: method,
        onAuth: () => new Uint8Array(0),
        connectTimeout: 1000,
        transport: slowLink(broker, 16_384, 40),
      });
      await c.connect();
      const big = c.publish("big", new Uint8Array(1_000_000));
      await sleep(100); // the PUBLISH is going out: the AUTH queues behind it
      const settled = await c.reauthenticate().then(() => "resolved", (e) => e);
      assert.equal(settled, "resolved");
      await big;
      assert.equal(c.connected, true);
      await c.disconnect();
      await broker.peers[0].clientClosed;
    });
  },
  { timeout: 15_000 },
);

/**
 * A raw broker: CONNACK (MQTT 5's with `v5`), then it reads nothing more: the client's writes back
 * up. It writes `later` 100 ms after.
 */
async function deafBroker(v5 = false, later?: Uint8Array) {
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.on("error", () => {});
    s.once("data", () => {
      s.write(
        v5 ? Uint8Array.of(0x20, 0x03, 0x00, 0x00, 0x00) : Uint8Array.of(0x20, 0x02, 0x00, 0x00),
      );
      s.pause();
      if (later) setTimeout(() => s.destroyed || s.write(later), 100);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const port = (server.address() as { port: number }).port;
  return {
    url: `mqtt://127.0.0.1:${port}`,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

// disconnect() waits a bounded time (2 s) for its DISCONNECT to go out, as MQTT 5 does for the one
// that answers a broker's protocol error; a keepalive that found the stuck connection dead meanwhile
// ended it with "Connection dead: …", as if it had been lost for no other reason.
for (const why of ["disconnect()", "a protocol error of the broker (MQTT 5)"]) {
  test(
    `${why} while a write is stuck: a keepalive verdict during the wait for its DISCONNECT keeps why it ended`,
    async () => {
      const v5 = why !== "disconnect()";
      // A packet of reserved type 0: malformed (MQTT-2.2.1).
      const broker = await deafBroker(v5, v5 ? Uint8Array.of(0x00, 0x00) : undefined);
      const c = new MQTTClient(uniqueId("deaf"), broker.url, {
        keepalive: 1,
        protocolVersion: v5 ? 5 : 4,
      });
      try {
        const ended = new Promise<Error>((resolve) =>
          c.addEventListener("disconnected", (e) => resolve((e as CustomEvent).detail.error), {
            once: true,
          })
        );
        await c.connect();
        // 64 MB: more than the loopback socket buffers take, so the write stalls.
        const big = c.publish("big", new Uint8Array(64 * 1024 * 1024)).catch((e) => e);
        // The write is under way; the keepalive finds the connection dead within the wait.
        await sleep(50);
        if (!v5) await c.disconnect();
        const error = await ended;
        const expected = v5
          ? /^Connection closed: the broker broke the protocol: /
          : /^Disconnected: disconnect\(\) was called$/;
        assert.match(error.message, expected);
        const rejected = await big;
        assert.ok(rejected instanceof MQTTConnectionError, String(rejected));
        assert.match(rejected.message, expected);
      } finally {
        await c.disconnect();
        await broker.close();
      }
    },
    { timeout: 15_000 },
  );
}

test("a byte read in the same millisecond just before the PINGREQ went does not answer it", async () => {
  // A Deno.Conn-like transport: its first read answers the CONNACK; the write of the first
  // PINGREQ first hands the client a QoS 0 PUBLISH (read at once), then completes, both at the
  // start of one millisecond; nothing comes after. That PUBLISH came before the PINGREQ went:
  // no answer to it, so the connection is dead half an interval on, at its first PINGREQ. (The
  // times kept in whole milliseconds took it for the answer: a second PINGREQ an interval
  // later, and the dead connection found that much later.)
  const queue: number[][] = [[0x20, 0x02, 0x00, 0x00]];
  let wake: (() => void) | null = null, closed = false, pingreqs = 0, endRead!: () => void;
  const ended = new Promise<null>((resolve) => (endRead = () => resolve(null)));
  const conn = {
    async read(p: Uint8Array): Promise<number | null> {
      while (!queue.length) {
        if (await Promise.race([new Promise<void>((r) => (wake = r)), ended]) === null) return null;
      }
      const bytes = queue.shift()!;
      p.set(bytes);
      return bytes.length;
    },
    async write(p: Uint8Array): Promise<number> {
      if (closed) throw new Error("closed");
      if (p[0] === 0xc0 && ++pingreqs === 1) {
        const ms = Math.floor(performance.now());
        while (Math.floor(performance.now()) === ms); // the start of a millisecond
        queue.push([0x30, 0x04, 0x00, 0x01, 0x74, 0x78]); // PUBLISH "t" "x", QoS 0
        wake?.();
        for (let i = 0; i < 20; i++) await null; // read and handled before the write ends
      }
      return p.length;
    },
    close() {
      closed = true;
      endRead();
    },
  };
  const c = new MQTTClient(uniqueId("samems"), "127.0.0.1", {
    keepalive: 1,
    transport: () => conn as unknown as StreamPair,
  });
  const disconnected = new Promise<Error>((resolve) => {
    c.addEventListener("disconnected", (e) => resolve((e as CustomEvent).detail.error), {
      once: true,
    });
  });
  await c.connect();
  const error = await withTimeout(disconnected, 10_000, "the dead connection found");
  assert.match(error.message, /no answer to PINGREQ within 500 ms/);
  assert.equal(pingreqs, 1, "the PUBLISH read before the PINGREQ went was taken for its answer");
  await c.disconnect();
});
