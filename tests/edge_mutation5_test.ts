// Edges of lib/robust.ts, lib/transports/endpoint.ts, lib/transports/_tls_errors.ts and
// lib/transports/_lazy.ts where a systematic mutation run (every comparison, condition, constant
// ±1 and statement, one at a time, against the fast tests of the file; see edge_mutation_test.ts)
// found behaviour no test pinned down. Each test here fails on such a mutant and passes on the
// code. Pure functions called directly, or the scripted broker; no real broker.
import assert from "node:assert/strict";
import { lazy } from "../lib/transports/_lazy.ts";
import { explainTls } from "../lib/transports/_tls_errors.ts";
import { MQTTClient as Robust, MQTTConnectionError, MQTTException } from "../lib/robust.ts";
import type { ConnectPacket, Packet } from "../lib/codec/packet.ts";
import { acceptConnect, type HostileBroker, withHostileBroker } from "./_hostile_broker.ts";
import { test, uniqueId, until } from "./_test.ts";

test("lazy(): a failed load rejects, and the next call loads again (mutation8 mutants 80 and 81)", async () => {
  let calls = 0;
  const get = lazy(() => ++calls === 1 ? Promise.reject(new Error("offline")) : Promise.resolve(7));
  await assert.rejects(get(), { message: "offline" });
  assert.equal(get.loaded, undefined);
  assert.equal(await get(), 7);
  assert.equal(get.loaded, 7);
  // Loaded once for good: the same promise, no third load.
  assert.equal(await get(), 7);
  assert.equal(calls, 2);
});

test("explainTls(): what is no Error is returned as is, and an error explained once is not explained again (mutation8 mutants 61, 74 and 75)", () => {
  assert.equal(explainTls(undefined), undefined);
  assert.equal(explainTls(null, "h:1"), null);
  assert.equal(
    explainTls("invalid peer certificate: UnknownIssuer"),
    "invalid peer certificate: UnknownIssuer",
  );
  const e = new Error("invalid peer certificate: UnknownIssuer");
  assert.equal(explainTls(e, "127.0.0.1:8883"), e);
  const once = e.message;
  assert.match(
    once,
    /^TLS: the broker's certificate is not signed by a CA the client trusts: give that CA in ssl_params\.cadata \(127\.0\.0\.1:8883: invalid peer certificate: UnknownIssuer\)$/,
  );
  // A second read that fails with the same error (or the handshake's, read again) says it once.
  assert.equal(explainTls(e, "127.0.0.1:8883"), e);
  assert.equal(e.message, once);
});

test("robust: DEBUG is off by default, and reconnectMaxDelay 0 is a RangeError, not the default (mutation8 mutants 84 and 100)", () => {
  assert.equal(new Robust("id", "127.0.0.1").DEBUG, false);
  assert.throws(
    () => new Robust("id", "127.0.0.1", { reconnectMaxDelay: 0 }),
    /^RangeError: Invalid reconnectMaxDelay 0: must be a positive integer of at most 2147483647$/,
  );
});

test("robust, MQTT 5, empty client id: the reconnect resumes the session (Clean Start 0), only 3.1.1 needs a clean one (mutation8 mutant 116)", async () => {
  const connects: ConnectPacket[] = [];
  await withHostileBroker(async (peer) => {
    const connect = await peer.expect("connect");
    connects.push(connect);
    await peer.write({
      type: "connack",
      sessionPresent: connects.length > 1,
      returnCode: 0,
      properties: connects.length > 1 ? {} : { assignedClientIdentifier: "given-by-broker" },
    });
    // The first connection is cut; the second stays.
    if (connects.length === 1) return peer.end();
    await peer.clientClosed;
  }, async (broker) => {
    const c = new Robust("", broker.url, { protocolVersion: 5 });
    c.DELAY = 0.01;
    assert.equal(await c.connect(false), false);
    await until(() => connects.length === 2 && c.connected, "the reconnect");
    await c.disconnect();
  });
  assert.equal(connects[0].cleanSession, false);
  assert.equal(connects[1].cleanSession, false, "MQTT 5 resumes the assigned id's session");
  assert.equal(connects[1].clientId, "given-by-broker");
});

test("robust: the default reconnectMaxDelay caps the planned wait at 30 000 ms (mutation8 mutant 102)", async () => {
  const c = new Robust("id", "mqtt://127.0.0.1:1");
  c.DELAY = 3600; // an hour: the cap decides
  const planned = new Promise<number>((resolve) =>
    c.addEventListener("reconnecting", (e) => resolve(e.detail.delay), { once: true })
  );
  // Full jitter: random × cap. The largest random there is makes the wait the cap itself.
  const random = Math.random;
  Math.random = () => 1 - 2 ** -53;
  let delay: number;
  try {
    const ended = c.reconnect().catch((e) => e);
    delay = await planned;
    Math.random = random;
    await c.disconnect();
    assert.ok((await ended) instanceof MQTTConnectionError);
  } finally {
    Math.random = random;
  }
  assert.ok(delay > 29_999.9 && delay <= 30_000, `planned ${delay} ms`);
});

// A broker that holds its first CONNACK until the test releases it (accepting, or refusing with
// 3.1.1's "server unavailable"), and accepts every later connection at once.
async function heldFirstConnack(
  firstAccepts: boolean,
  fn: (broker: HostileBroker, connected: () => boolean, release: () => void) => Promise<void>,
) {
  let release!: () => void;
  const released = new Promise<void>((r) => release = r);
  let n = 0, firstConnect = false;
  await withHostileBroker(async (peer) => {
    const mine = ++n;
    await peer.expect("connect");
    if (mine === 1) {
      firstConnect = true;
      await released;
      if (!firstAccepts) {
        await peer.write({ type: "connack", sessionPresent: false, returnCode: 3 });
        return void await peer.clientClosed;
      }
    }
    await peer.write({ type: "connack", sessionPresent: false, returnCode: 0 });
    await peer.clientClosed;
  }, (broker) => fn(broker, () => firstConnect, release));
}

test("robust: connect(true) while a reconnect attempt connects throws 'already connected', not its session flag (mutation8 mutant 146)", async () => {
  await heldFirstConnack(true, async (broker, firstConnect, release) => {
    const c = new Robust(uniqueId("m8-146"), broker.url);
    c.DELAY = 0;
    const reconnected = c.reconnect();
    await until(firstConnect, "the reconnect's CONNECT");
    const mine = c.connect(true).then(() => "resolved", (e) => e);
    release();
    assert.equal(await reconnected, false);
    const e = await mine;
    assert.ok(e instanceof TypeError, String(e));
    assert.match(e.message, /already connected/);
    await c.disconnect();
  });
});

test("robust: connect(false) without a signal, while a reconnect attempt is refused, connects (mutation8 mutant 142)", async () => {
  await heldFirstConnack(false, async (broker, firstConnect, release) => {
    const c = new Robust(uniqueId("m8-142"), broker.url);
    c.DELAY = 0;
    const reconnected = c.reconnect();
    await until(firstConnect, "the reconnect's CONNECT");
    const mine = c.connect(false);
    release();
    assert.equal(await mine, false);
    assert.equal(await reconnected, false);
    assert.ok(c.connected);
    await c.disconnect();
  });
});

test("robust: after connect(false) found no session, a reconnect to Session Present 1 renews nothing (mutation8 mutant 128)", async () => {
  let n = 0;
  const afterReconnect: string[] = [];
  await withHostileBroker(async (peer) => {
    const mine = ++n;
    await peer.expect("connect");
    await peer.write({ type: "connack", sessionPresent: mine > 1, returnCode: 0 });
    if (mine === 1) {
      const s = await peer.expect("subscribe");
      await peer.write({ type: "suback", packetId: s.packetId, returnCodes: [1] });
      return peer.end();
    }
    // Up to the publish the test makes once the reconnect is through.
    for (let p: Packet; (p = await peer.next()).type !== "publish";) {
      afterReconnect.push(p.type);
      if (p.type === "subscribe") {
        await peer.write({ type: "suback", packetId: p.packetId, returnCodes: [1] });
      }
    }
    afterReconnect.push("publish");
    await peer.clientClosed;
  }, async (broker) => {
    const c = new Robust(uniqueId("m8-128"), broker.url);
    c.DELAY = 0.01;
    assert.equal(await c.connect(false), false);
    await c.subscribe("m8/renew", 1);
    await until(() => n === 2, "the reconnect");
    assert.equal(await c.reconnect(), true);
    await c.publish("m8/after", "x");
    await until(() => afterReconnect.includes("publish"), "the publish");
    await c.disconnect();
  });
  assert.deepEqual(afterReconnect, ["publish"], "the broker kept the subscription");
});

test("robust: log() prints only when DEBUG is on (mutation8 mutant 138)", () => {
  const printed: unknown[][] = [];
  const error = console.error;
  console.error = (...args: unknown[]) => void printed.push(args);
  try {
    const c = new Robust("id", "127.0.0.1");
    c.log(true, new Error("quiet"));
    assert.deepEqual(printed, []);
    c.DEBUG = true;
    c.log(true, new Error("loud"));
    c.log(false, "lost");
  } finally {
    console.error = error;
  }
  assert.deepEqual(printed, [["mqtt reconnect:", "Error: loud"], ["mqtt:", "lost"]]);
});

test("robust: attempts are numbered 1, 2, 3… across rounds, in the reconnecting events and delay(i) (mutation8 mutant 178)", async () => {
  let n = 0;
  await withHostileBroker(async (peer) => {
    await peer.expect("connect");
    // Server unavailable twice (the reconnect moves on), then accepted.
    await peer.write({ type: "connack", sessionPresent: false, returnCode: ++n < 3 ? 3 : 0 });
    await peer.clientClosed;
  }, async (broker) => {
    const events: number[] = [], delays: number[] = [];
    class Counting extends Robust {
      override delay(i: number) {
        delays.push(i);
        return Promise.resolve();
      }
    }
    const c = new Counting(uniqueId("m8-178"), broker.url);
    c.addEventListener("reconnecting", (e) => events.push(e.detail.attempt));
    assert.equal(await c.reconnect(), false);
    await c.disconnect();
    assert.deepEqual(events, [1, 2, 3]);
    assert.deepEqual(delays, [1, 2, 3]);
  });
});

test("robust: reconnect() that waited for the application's connect(false) resolves with its Session Present 0 (mutation8 mutant 186)", async () => {
  let n = 0;
  await withHostileBroker(async (peer) => {
    await peer.expect("connect");
    // The reconnect's first attempt: server unavailable. The application's connect: accepted.
    await peer.write({ type: "connack", sessionPresent: false, returnCode: ++n === 1 ? 3 : 0 });
    await peer.clientClosed;
  }, async (broker) => {
    class Napping extends Robust {
      // None before the first attempt; before the next one, a wait only a connect() ends.
      override delay(i: number) {
        return i === 1 ? Promise.resolve() : new Promise<void>(() => {});
      }
    }
    const c = new Napping(uniqueId("m8-186"), broker.url);
    let second = false;
    c.addEventListener("reconnecting", (e) => second ||= e.detail.attempt === 2);
    const reconnected = c.reconnect();
    await until(() => second, "the second attempt's wait");
    assert.equal(await c.connect(false), false);
    assert.equal(await reconnected, false);
    await c.disconnect();
  });
});

test("robust: disconnect() during the reconnect: a kept publish rejects with disconnect()'s error, not the reconnect's (mutation8 mutant 162)", async () => {
  let n = 0;
  await withHostileBroker(async (peer) => {
    // An attempt the client gives up on (disconnect()) may end before its CONNECT is read.
    if ((await peer.next().catch(() => null))?.type !== "connect") return;
    if (++n > 1) {
      // Every reconnect attempt: server unavailable.
      await peer.write({ type: "connack", sessionPresent: false, returnCode: 3 }).catch(() => {});
      return void await peer.clientClosed;
    }
    await peer.write({ type: "connack", sessionPresent: false, returnCode: 0 });
    await peer.expect("publish"); // never acknowledged: kept in the session
    peer.end();
  }, async (broker) => {
    const c = new Robust(uniqueId("m8-162"), broker.url);
    c.DELAY = 0.01;
    await c.connect(false);
    const published = c.publish("m8/kept", "x", false, 1).then(() => "resolved", (e) => e);
    await until(() => n >= 3, "two reconnect attempts");
    await c.disconnect();
    const e = await published;
    assert.ok(e instanceof MQTTConnectionError, String(e));
    assert.equal(e.message, "Disconnected: disconnect() was called");
  });
});

test("robust: log() is told which errors came from a reconnect attempt, and which lost a call (mutation8 mutants 196 and 220)", async () => {
  let n = 0;
  const logged: [boolean, string][] = [];
  await withHostileBroker(async (peer) => {
    await peer.expect("connect");
    if (++n > 1) {
      // The reconnect: not authorized, which ends it.
      await peer.write({ type: "connack", sessionPresent: false, returnCode: 5 });
      return void await peer.clientClosed;
    }
    await peer.write({ type: "connack", sessionPresent: false, returnCode: 0 });
    await peer.expect("subscribe"); // never answered: the connection ends under it
    peer.end();
  }, async (broker) => {
    class Logging extends Robust {
      override log(in_reconnect: boolean, e: unknown) {
        logged.push([in_reconnect, (e as Error).constructor.name]);
      }
    }
    const c = new Logging(uniqueId("m8-196"), broker.url);
    c.DELAY = 0;
    await c.connect(false);
    await assert.rejects(c.subscribe("m8/log", 1), MQTTException);
    await c.disconnect();
  });
  assert.deepEqual(logged, [
    [false, "MQTTConnectionError"], // the connection lost
    [false, "MQTTConnectionError"], // the subscribe() it cut off, to be tried again
    [true, "MQTTException"], // the reconnect refused
  ]);
});

test(
  "robust: messages() whose reconnect() override returns without connecting rejects, not ends; its loss is logged as no reconnect's (mutation8 mutants 240 and 242)",
  async () => {
    let release!: () => void;
    const released = new Promise<void>((r) => release = r);
    const logged: boolean[] = [];
    await withHostileBroker(async (peer) => {
      await acceptConnect(peer);
      await released;
      peer.end();
    }, async (broker) => {
      class DoingNothing extends Robust {
        override reconnect() {
          return Promise.resolve(false); // umqtt.robust's README: "not doing anything at all"
        }
        override log(in_reconnect: boolean) {
          logged.push(in_reconnect);
        }
      }
      const c = new DoingNothing(uniqueId("m8-242"), broker.url);
      await c.connect();
      const it = c.messages();
      const next = it.next();
      release();
      await assert.rejects(next, {
        name: "MQTTConnectionError",
        message: "Not connected: reconnect() returned without connecting",
      });
      await c.disconnect();
    });
    assert.deepEqual(logged, [false, false], "the loss, and the iteration it cut off");
  },
);

test("robust: disconnect() during a reconnect's attempt, or its wait, ends reconnect() with 'Not reconnecting' (mutation8 mutants 302 and 312)", async () => {
  for (const during of ["attempt", "wait"] as const) {
    let connects = 0;
    await withHostileBroker(async (peer) => {
      if ((await peer.next().catch(() => null))?.type !== "connect") return;
      connects++;
      // The attempt: no CONNACK. The wait: the attempt is refused (server unavailable).
      if (during === "wait") {
        await peer.write({ type: "connack", sessionPresent: false, returnCode: 3 }).catch(() => {});
      }
      await peer.clientClosed;
    }, async (broker) => {
      class Waiting extends Robust {
        // None before the first attempt; before the next one, a wait only disconnect() ends.
        override delay(i: number) {
          return i === 1 ? Promise.resolve() : new Promise<void>(() => {});
        }
      }
      const c = new Waiting(uniqueId("m8-302"), broker.url);
      let attempts = 0;
      c.addEventListener("reconnecting", () => attempts++);
      const reconnected = c.reconnect().then(() => "resolved", (e) => e);
      await until(() => connects === 1 && (during === "attempt" || attempts === 2), during);
      await c.disconnect();
      const e = await reconnected;
      assert.ok(e instanceof MQTTConnectionError, `${during}: ${e}`);
      assert.equal(e.message, "Not reconnecting: disconnect() was called", during);
    });
  }
});

test("robust: check_msg() that met a lost connection logs it as no reconnect's, and tries again once reconnected (mutation8 mutant 322)", async () => {
  let n = 0;
  const logged: boolean[] = [];
  await withHostileBroker(async (peer) => {
    await acceptConnect(peer);
    if (++n === 1) return peer.end();
    await peer.clientClosed;
  }, async (broker) => {
    let go!: () => void;
    const gate = new Promise<void>((r) => go = r);
    class Gated extends Robust {
      override delay() {
        return gate; // the reconnect waits until check_msg() has met the loss
      }
      override log(in_reconnect: boolean) {
        logged.push(in_reconnect);
      }
    }
    const c = new Gated(uniqueId("m8-322"), broker.url);
    await c.connect();
    await until(() => !c.connected, "the loss");
    const checked = c.check_msg();
    go();
    assert.equal(await checked, undefined);
    assert.ok(c.connected);
    await c.disconnect();
  });
  assert.deepEqual(logged, [false, false], "the loss, and the check_msg() it failed");
});

test("robust: connect() whose signal aborts while it waits for a reconnect attempt rejects with the reason (mutation8 mutant 143)", async () => {
  await heldFirstConnack(true, async (broker, firstConnect, release) => {
    const c = new Robust(uniqueId("m8-143"), broker.url);
    c.DELAY = 0;
    const reconnected = c.reconnect();
    await until(firstConnect, "the reconnect's CONNECT");
    const controller = new AbortController();
    const reason = new Error("given up");
    const mine = c.connect(false, { signal: controller.signal });
    controller.abort(reason);
    await assert.rejects(mine, (e) => e === reason);
    release();
    assert.equal(await reconnected, false);
    await c.disconnect();
  });
});

test("robust: reconnect() called again while the first call's loop runs (before any connect()) shares it (mutation8 mutant 137)", async () => {
  const c = new Robust(uniqueId("m8-137"), "mqtt://127.0.0.1:1");
  c.DELAY = 60; // the loop waits before its first attempt until disconnect()
  const announced = new Promise((resolve) => c.addEventListener("reconnecting", resolve));
  const first = c.reconnect();
  await announced;
  assert.equal(c.reconnect(), first, "one loop");
  await c.disconnect();
  await assert.rejects(first, MQTTConnectionError);
});

test("explainTls(): of an OpenSSL message, only its reason is kept (mutation8 mutants 68 and 69, which Bun's run of tls_errors_test kills too)", () => {
  const alert = new Error(
    "error:0A000412:SSL routines:ssl3_read_bytes:sslv3 alert bad certificate:../ssl/record/rec_layer_s3.c:1605:SSL alert number 42",
  );
  explainTls(alert, "127.0.0.1:8883");
  assert.equal(
    alert.message,
    "TLS: the broker refused the client certificate (ssl_params.cert): it must be valid and signed by a CA the broker trusts (127.0.0.1:8883: sslv3 alert bad certificate)",
  );
  const plain = new Error("error:0A00010B:SSL routines:ssl3_get_record:wrong version number");
  explainTls(plain);
  assert.equal(
    plain.message,
    "TLS: the server's answer is not TLS: not a TLS listener? (mqtt:// for plain MQTT) (wrong version number)",
  );
});

test("robust: a renewal the SUBACK refuses is logged as the reconnect's (mutation8 mutant 211)", async () => {
  let n = 0;
  const logged: [boolean, string][] = [];
  let renewed = false;
  await withHostileBroker(async (peer) => {
    const mine = ++n;
    await acceptConnect(peer); // Session Present 0 every time
    const s = await peer.expect("subscribe");
    // Granted at first; refused (0x80) when renewed.
    await peer.write({
      type: "suback",
      packetId: s.packetId,
      returnCodes: [mine === 1 ? 1 : 0x80],
    });
    if (mine === 1) return peer.end();
    renewed = true;
    await peer.clientClosed;
  }, async (broker) => {
    class Logging extends Robust {
      override log(in_reconnect: boolean, e: unknown) {
        logged.push([in_reconnect, (e as Error).constructor.name]);
      }
    }
    const c = new Logging(uniqueId("m8-211"), broker.url);
    c.DELAY = 0.01;
    await c.connect(false);
    await c.subscribe("m8/refused", 1);
    await until(() => renewed, "the renewal");
    assert.equal(await c.reconnect(), false);
    await c.disconnect();
  });
  assert.deepEqual(logged, [[false, "MQTTConnectionError"], [true, "MQTTException"]]);
});

test("robust: log() that throws when told of the loss ends the reconnect before its first attempt: no reconnecting event, no connection (mutation8 mutant 293)", async () => {
  const failure = new Error("the application's log() failed");
  const events: string[] = [];
  let connections = 0;
  await withHostileBroker(async (peer) => {
    connections++;
    await acceptConnect(peer);
    await peer.expect("publish"); // kept unacknowledged, then the connection is lost
    peer.end();
  }, async (broker) => {
    class Failing extends Robust {
      override log(in_reconnect: boolean) {
        if (!in_reconnect) throw failure;
      }
    }
    const c = new Failing(uniqueId("m8-293"), broker.url);
    c.DELAY = 0.01;
    c.addEventListener("reconnecting", (e) => events.push(`reconnecting ${e.detail.attempt}`));
    await c.connect(false);
    await assert.rejects(c.publish("m8/kept", "x", false, 1), (e) => e === failure);
    assert.deepEqual(events, []);
    assert.equal(connections, 1);
    assert.equal(c.connected, false);
    await c.disconnect();
  });
});
