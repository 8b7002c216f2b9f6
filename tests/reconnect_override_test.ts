// A reconnect() override (umqtt.robust's README advises one) against what the client's own
// reconnect guarantees: the calls made meanwhile go in call order, and the application's
// connect() does not collide with the reconnect's attempt.
import assert from "node:assert/strict";
import { MQTTClient, MQTTConnectionError } from "../mod.ts";
import { MQTTClient as RobustClient } from "../lib/robust.ts";
import { type Broker, forEachBroker } from "./_brokers.ts";
import { type FaultProxy, offline, proxyTo } from "./_fault_proxy.ts";
import { test, uniqueId, withTimeout } from "./_test.ts";

const text = (b: Uint8Array) => new TextDecoder().decode(b);

/** umqtt.robust's: `while 1: try: return self.connect(False) except OSError: i += 1; self.delay(i)`. */
class Ported extends RobustClient {
  connecting: ((attempt: { connect: Promise<boolean> }) => void) | undefined;
  override async reconnect(): Promise<boolean> {
    for (let i = 0;;) {
      try {
        const attempt = this.connect(false);
        this.connecting?.({ connect: attempt });
        return await attempt;
      } catch (e) {
        if (!(e instanceof MQTTConnectionError)) throw e;
        i++;
        await this.delay(i);
      }
    }
  }
}

/**
 * A robust client, made by `make` to go through a fault proxy to `broker`, connected with
 * `connect(false)`, then cut off with the proxy refusing connections: `fn` runs in the outage.
 * The client is disconnected and the proxy closed after.
 */
async function inOutage<C extends RobustClient>(
  broker: Broker,
  make: (host: string, port: number) => C,
  fn: (c: C, proxy: FaultProxy) => Promise<void>,
): Promise<void> {
  const proxy = await proxyTo(broker);
  const c = make(proxy.hostname, proxy.port);
  try {
    await c.connect(false);
    await offline(c, proxy);
    await fn(c, proxy);
  } finally {
    await c.disconnect();
    await proxy.close();
  }
}

/** A `Ported` client with a short delay between its attempts. */
function ported(host: string, port: number): Ported {
  const c = new Ported(uniqueId("c"), host, port);
  c.DELAY = 0.05;
  return c;
}

/** A client subscribed to `topic` at QoS 1 straight at `broker`, and the payloads it got. */
async function watching(broker: Broker, topic: string) {
  const seen: string[] = [];
  const w = new MQTTClient(uniqueId("w"), broker.host, broker.port);
  w.set_callback((_t, m) => void seen.push(text(m)));
  await w.connect();
  await w.subscribe(topic, 1);
  /** Waits until `n` messages came. */
  const until = async (n: number) => {
    while (seen.length < n) await withTimeout(w.wait_msg(), 10_000, "the messages");
    return seen;
  };
  return { w, until };
}

// The README's way to announce a reconnect ("do the rest in a connected listener") published
// ahead of the publishes made during the outage when the override ran the reconnect: the listener
// found the client connected, and nothing said a reconnect was still under way.
forEachBroker(
  "a reconnect() override: a connected listener's publish goes after those made offline",
  async (broker) => {
    const T = uniqueId("status");
    const { w, until } = await watching(broker, T);
    try {
      await inOutage(broker, ported, async (c, proxy) => {
        const queued = [1, 2, 3].map((n) => c.publish(T, `offline ${n}`, false, 1));
        let online: Promise<void> | undefined;
        c.addEventListener("connected", () => void (online ??= c.publish(T, "online", false, 1)));
        proxy.refuse(false);
        await withTimeout(Promise.all(queued), 10_000, "the publishes made offline");
        await withTimeout(online!, 10_000, "the listener's publish");
        assert.deepEqual(await until(4), ["offline 1", "offline 2", "offline 3", "online"]);
      });
    } finally {
      await w.disconnect();
    }
  },
);

// The README: "Your own connect() during a reconnect attempt waits for it ... the two never
// collide". An override's connect(false) is its reconnect's attempt (it renews the subscriptions as
// one), but an application's connect(false) made meanwhile was refused: "already connecting".
forEachBroker(
  "a reconnect() override: the application's connect(false) during its attempt waits for it",
  async (broker) => {
    await inOutage(broker, ported, async (c, proxy) => {
      const next = () => new Promise<{ connect: Promise<boolean> }>((r) => c.connecting = r);
      const refused = await withTimeout(next(), 10_000, "an attempt in the outage");
      await assert.rejects(refused.connect, MQTTConnectionError);
      const attempt = next();
      proxy.delay(300); // the next attempt, that connects, under way for a while
      proxy.refuse(false);
      const { connect } = await withTimeout(attempt, 10_000, "the override's attempt");
      const present = await withTimeout(c.connect(false), 10_000, "connect(false)");
      assert.equal(present, await connect, "the attempt's session-present flag");
      assert.equal(c.connected, true);
    });
  },
);

// The README said that calling an override yourself while the client's call of it runs starts a
// second whose connect() collides with the first's. Each now waits for the other's attempt.
forEachBroker(
  "a reconnect() override called by the application while the client's call runs: both connect",
  async (broker) => {
    // The outage: the client's call of the override starts.
    await inOutage(broker, ported, async (c, proxy) => {
      const mine = [c.reconnect(), c.reconnect()];
      proxy.delay(300);
      proxy.refuse(false);
      const [a, b] = await withTimeout(Promise.all(mine), 10_000, "the application's calls");
      assert.equal(typeof a, "boolean");
      assert.equal(typeof b, "boolean");
      assert.equal(c.connected, true);
    });
  },
);

// example_lwt_robust.py publishes "Online" in its connect() override, which umqtt.robust's
// reconnect() calls. With a reconnect() override calling it so, that publish, made once connected
// but within the override, must go: the override's end waits for it.
forEachBroker(
  "a reconnect() override calling a connect() override that publishes once connected: no deadlock",
  async (broker) => {
    const T = uniqueId("status");
    // def connect(self, clean_session=True): try: return super().connect(clean_session)
    //     finally: self.publish(b"status", b"Online", retain=True)   (here: when it connected)
    class Lwt extends Ported {
      override async connect(clean_session = true): Promise<boolean> {
        try {
          return await super.connect(clean_session);
        } finally {
          if (this.connected) await this.publish(T, "Online", false, 1);
        }
      }
    }
    const lwt = (host: string, port: number) => {
      const c = new Lwt(uniqueId("c"), host, port);
      c.DELAY = 0.05;
      return c;
    };
    const { w, until } = await watching(broker, T);
    try {
      await inOutage(broker, lwt, async (c, proxy) => {
        const queued = c.publish(T, "offline", false, 1);
        proxy.refuse(false);
        await withTimeout(queued, 10_000, "the publish made offline");
        assert.deepEqual(await until(3), ["Online", "Online", "offline"]);
      });
    } finally {
      await w.disconnect();
    }
  },
);

// The README: while the reconnect waits before its next attempt, your connect() goes at once, "and
// the reconnect waits for it". An override's next connect(false) met the connection the
// application's had made ("already connected or connecting"), and the publish made offline, waiting
// for the override, rejected with that TypeError.
forEachBroker(
  "a reconnect() override: the application's connect(false) during its delay() is its connection",
  async (broker) => {
    let release!: () => void, waiting!: () => void;
    const held = new Promise<void>((r) => release = r);
    const delaying = new Promise<void>((r) => waiting = r);
    class Waits extends Ported {
      override delay(_i: number): Promise<void> {
        waiting();
        return held; // until the application's connect() has connected
      }
    }
    const waits = (host: string, port: number) => new Waits(uniqueId("c"), host, port);
    await inOutage(broker, waits, async (c, proxy) => {
      const queued = c.publish(uniqueId("t"), "made offline", false, 1);
      queued.catch(() => {}); // asserted below
      await withTimeout(delaying, 10_000, "the override's delay() after a refused attempt");
      proxy.refuse(false);
      await c.connect(false);
      release();
      await withTimeout(queued, 10_000, "the publish made offline");
      assert.equal(c.connected, true);
    });
  },
);

// delay() rejects once the client is disconnected, which ends an override's loop that awaits it.
// An override that calls super.delay(i) without awaiting it (a count, a log, then its own wait)
// left that rejection unhandled: the process ended at the next disconnect().
forEachBroker(
  "a delay() override that drops super.delay()'s promise: disconnect() rejects nothing unhandled",
  async (broker) => {
    let calls = 0;
    class Counting extends RobustClient {
      override delay(i: number): Promise<void> {
        calls++;
        void super.delay(i); // not awaited, not returned
        return new Promise((r) => setTimeout(r, 20));
      }
    }
    const counting = (host: string, port: number) => {
      const c = new Counting(uniqueId("c"), host, port);
      c.DELAY = 5;
      return c;
    };
    await inOutage(broker, counting, async () => {
      while (calls === 0) await new Promise((r) => setTimeout(r, 10));
    });
    // An unhandled rejection would surface within a timer turn or two.
    await new Promise((r) => setTimeout(r, 50));
  },
);

test("delay() given no attempt number is a RangeError, not no wait at all", async () => {
  // An override of reconnect() that calls this.delay() with nothing (umqtt.robust's delay()
  // ignores its i) waited not at all: 2 ** NaN ms, a timer of ~1 ms, the attempts one on another.
  const c = new RobustClient(uniqueId("delay"), "127.0.0.1");
  c.DELAY = 60;
  for (const i of [undefined, NaN, "2", {}]) {
    await assert.rejects(c.delay(i as number), {
      name: "RangeError",
      message: `Invalid delay() attempt ${
        String(i)
      }: must be a number, the attempt about to be made (from 1)`,
    }, String(i));
  }
  await c.disconnect();
});
