// Resource bounds: what the client spends for inputs a user or a broker
// controls, counted (never timed) through the public API.
import assert from "node:assert/strict";
import { MQTTClient as Simple } from "../mod.ts";
import { forEachBroker } from "./_brokers.ts";
import { offline, proxyTo } from "./_fault_proxy.ts";
import { robust } from "./_robust.ts";
import { test, uniqueId, withTimeout } from "./_test.ts";
import { MQTTClient as Robust } from "../lib/robust.ts";

/**
 * Counts the "abort" listeners on each AbortSignal while `fn` runs; returns
 * the most any one signal had at once.
 */
async function mostAbortListeners(fn: () => Promise<void>): Promise<number> {
  const proto = EventTarget.prototype;
  const add = proto.addEventListener, remove = proto.removeEventListener;
  const live = new Map<EventTarget, Set<unknown>>();
  let most = 0;
  proto.addEventListener = function (this: EventTarget, type: string, fn: unknown, o?: unknown) {
    if (type === "abort" && this instanceof AbortSignal) {
      const set = live.get(this) ?? live.set(this, new Set()).get(this)!;
      set.add(fn);
      most = Math.max(most, set.size);
    }
    return add.call(this, type, fn as EventListener, o as AddEventListenerOptions);
  };
  proto.removeEventListener = function (this: EventTarget, type: string, fn: unknown, o?: unknown) {
    if (type === "abort") live.get(this)?.delete(fn);
    return remove.call(this, type, fn as EventListener, o as EventListenerOptions);
  };
  try {
    await fn();
  } finally {
    proto.addEventListener = add;
    proto.removeEventListener = remove;
  }
  return most;
}

forEachBroker(
  "robust: publishes waiting offline put one abort listener on a signal, not one each",
  async (broker, v) => {
    // Adding a listener looks through those already on the target (Deno, Bun
    // and Node alike), and Node warns of a leak past 10 on one signal: 40 000
    // publishes called offline took 6 s of CPU, their wait for room 2 s more.
    const proxy = await proxyTo(broker);
    const { c } = robust(proxy, v, { maxOfflineMessages: 100 });
    try {
      await c.connect();
      await offline(c, proxy);
      const shared = new AbortController().signal;
      let sent = 0;
      const most = await mostAbortListeners(async () => {
        const calls: Promise<void>[] = [];
        for (let i = 0; i < 300; i++) {
          calls.push(c.publish("bounds/off", String(i), { signal: i % 2 ? shared : undefined }));
        }
        await new Promise((r) => setTimeout(r, 50));
        proxy.refuse(false);
        await Promise.all(calls.map((p) => p.then(() => void sent++)));
      });
      assert.equal(sent, 300);
      assert.ok(most <= 10, `${most} abort listeners on one signal at once`);
    } finally {
      await c.disconnect();
      await proxy.close();
    }
  },
  { only: ["mosquitto"] },
);

forEachBroker(
  "request() and wait_msg() calls sharing one signal put one abort listener on it",
  async (broker, v) => {
    // 20 000 request()s given one signal took 3.7 s of CPU to make, 2.9 s to abort.
    const c = new Simple(uniqueId("sig"), broker.host, { port: broker.port, protocolVersion: v });
    await c.connect();
    try {
      const controller = new AbortController();
      const signal = controller.signal;
      const outcomes: unknown[] = [];
      const most = await mostAbortListeners(async () => {
        const calls = [];
        for (let i = 0; i < 100; i++) {
          calls.push(c.request(`bounds/nobody/${i}`, "q", { signal }).catch((e) => e));
          calls.push(c.wait_msg({ signal }).catch((e) => e));
        }
        controller.abort(new Error("enough"));
        outcomes.push(...await Promise.all(calls));
      });
      assert.equal(outcomes.length, 200);
      for (const e of outcomes) assert.equal((e as Error).message, "enough");
      assert.ok(most <= 10, `${most} abort listeners on one signal at once`);
    } finally {
      await c.disconnect();
    }
  },
  { only: ["mosquitto"], versions: [5] },
);

forEachBroker(
  "clients connecting at once with one signal put one abort listener on it",
  async (broker, v) => {
    // An application's one shutdown signal given to each of its clients' connect(): from 11 at
    // once, Node warned "Possible EventTarget memory leak detected" (one listener per connect).
    const { signal } = new AbortController();
    const clients = Array.from({ length: 20 }, (_, i) =>
      new Simple(uniqueId("sig"), broker.host, {
        port: broker.port,
        protocolVersion: v,
        // Half of them wait for a credential function first, under the same signal.
        ...(i % 2 ? { user: () => Promise.resolve("u") } : {}),
      }));
    try {
      const most = await mostAbortListeners(async () => {
        await Promise.all(clients.map((c) => c.connect({ signal })));
      });
      // One each would be 10 even with only the credential waits (or only the CONNACK waits).
      assert.ok(most <= 2, `${most} abort listeners on one signal at once`);
    } finally {
      await Promise.all(clients.map((c) => c.disconnect()));
    }
  },
  { only: ["mosquitto"] },
);

test("robust clients given one application-wide signal put one abort listener on it", async () => {
  // The robust client's `signal` option is one for the whole application: from 11 clients,
  // Node warned "Possible EventTarget memory leak detected" (one listener per client).
  const controller = new AbortController();
  const reason = new Error("shutting down");
  let outcomes: unknown[] = [];
  const most = await mostAbortListeners(async () => {
    const clients = Array.from({ length: 20 }, () => {
      const c = new Robust(uniqueId("app"), "127.0.0.1", {
        signal: controller.signal,
        transport: () => new Promise(() => {}), // never opens: the publish waits
        connectTimeout: 600_000,
      });
      return c;
    });
    const calls = clients.map((c) => c.publish("bounds/app", "x", { qos: 1 }).catch((e) => e));
    await new Promise((r) => setTimeout(r, 10));
    controller.abort(reason);
    // Each client still hears of the abort: what waits for its connection rejects with it.
    outcomes = await withTimeout(Promise.all(calls), 5000, "the publishes after the abort");
    await Promise.all(clients.map((c) => c.disconnect().catch(() => {})));
  });
  assert.equal(outcomes.length, 20);
  for (const e of outcomes) assert.equal(e, reason);
  assert.ok(most <= 2, `${most} abort listeners on one signal at once`);
});

/** A signal that is never aborted, and the number of abort listeners on it now. */
function longLivedSignal(): { signal: AbortSignal; live(): number } {
  const signal = new AbortController().signal;
  const on = new Set<unknown>();
  const add = signal.addEventListener.bind(signal),
    remove = signal.removeEventListener.bind(signal);
  signal.addEventListener = (...a: Parameters<typeof add>) => (on.add(a[1]), add(...a));
  signal.removeEventListener = (...a: Parameters<typeof remove>) => (on.delete(a[1]), remove(...a));
  return { signal, live: () => on.size };
}

forEachBroker(
  "one signal given to every call of a long-lived client keeps no listener once they settle, through reconnects",
  async (broker, v) => {
    // A soak of 30 000 such calls each and 6000 reconnects grew nothing: this keeps it so.
    const proxy = await proxyTo(broker);
    const { c } = robust(proxy, v);
    const simple = new Simple(uniqueId("sig"), broker.host, {
      port: broker.port,
      protocolVersion: v,
    });
    const { signal, live } = longLivedSignal();
    const topicOf = (x: Simple) => `bounds/${x.client_id}`;
    try {
      for (const x of [c, simple]) {
        await x.connect({ clean_session: true, signal });
        await x.subscribe(topicOf(x), 2, { signal });
      }
      for (let round = 0; round < 3; round++) {
        for (const x of [c, simple]) {
          const topic = topicOf(x);
          for (const qos of [0, 1, 2] as const) {
            await x.publish(topic, "x", { qos, signal });
            await x.wait_msg({ signal });
          }
          await x.publish(topic, "x", { qos: 1, signal });
          for await (const _ of x.messages({ signal })) break;
          if (v === 5) {
            await x.request(`${topic}/nobody`, "q", { timeout: 1, signal }).catch(() => {});
          }
          await x.unsubscribe(`${topic}/other`, { signal });
          await x.check_msg();
        }
        assert.equal(live(), 0, `abort listeners left on the signal after round ${round}`);
        await offline(c, proxy); // calls on the robust client wait for the reconnect
        const calls = [c.publish(topicOf(c), "y", { qos: 1, signal }), c.wait_msg({ signal })];
        proxy.refuse(false);
        await Promise.all(calls);
      }
      assert.equal(live(), 0, "abort listeners left on the signal");
    } finally {
      await simple.disconnect();
      await c.disconnect();
      await proxy.close();
    }
  },
  { only: ["mosquitto"], versions: [4, 5] },
);
