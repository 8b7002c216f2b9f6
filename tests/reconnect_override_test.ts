// A reconnect() override (umqtt.robust's README advises one) against what the client's own
// reconnect guarantees: the calls made meanwhile go in call order, and the application's
// connect() does not collide with the reconnect's attempt.
import assert from "node:assert/strict";
import { MQTTClient, MQTTConnectionError } from "../mod.ts";
import { MQTTClient as RobustClient } from "../lib/robust.ts";
import { forEachBroker } from "./_brokers.ts";
import { offline, proxyTo } from "./_fault_proxy.ts";
import { uniqueId, withTimeout } from "./_test.ts";

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

// The README's way to announce a reconnect ("do the rest in a connected listener") published
// ahead of the publishes made during the outage when the override ran the reconnect: the listener
// found the client connected, and nothing said a reconnect was still under way.
forEachBroker(
  "a reconnect() override: a connected listener's publish goes after those made offline",
  async (broker) => {
    const proxy = await proxyTo(broker);
    const T = uniqueId("status");
    const seen: string[] = [];
    const w = new MQTTClient(uniqueId("w"), broker.host, broker.port);
    w.set_callback((_t, m) => void seen.push(text(m)));
    const c = new Ported(uniqueId("c"), proxy.hostname, proxy.port);
    c.DELAY = 0.05;
    try {
      await w.connect();
      await w.subscribe(T, 1);
      await c.connect(false);
      await offline(c, proxy);
      const queued = [1, 2, 3].map((n) => c.publish(T, `offline ${n}`, false, 1));
      let online: Promise<void> | undefined;
      c.addEventListener("connected", () => void (online ??= c.publish(T, "online", false, 1)));
      proxy.refuse(false);
      await withTimeout(Promise.all(queued), 10_000, "the publishes made offline");
      await withTimeout(online!, 10_000, "the listener's publish");
      while (seen.length < 4) await withTimeout(w.wait_msg(), 10_000, "the messages");
      assert.deepEqual(seen, ["offline 1", "offline 2", "offline 3", "online"]);
    } finally {
      await c.disconnect();
      await w.disconnect();
      await proxy.close();
    }
  },
);

// The README: "Your own connect() during a reconnect attempt waits for it ... the two never
// collide". An override's connect(false) is its reconnect's attempt (it renews the subscriptions as
// one), but an application's connect(false) made meanwhile was refused: "already connecting".
forEachBroker(
  "a reconnect() override: the application's connect(false) during its attempt waits for it",
  async (broker) => {
    const proxy = await proxyTo(broker);
    const c = new Ported(uniqueId("c"), proxy.hostname, proxy.port);
    c.DELAY = 0.05;
    try {
      await c.connect(false);
      await offline(c, proxy);
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
    } finally {
      await c.disconnect();
      await proxy.close();
    }
  },
);

// The README said that calling an override yourself while the client's call of it runs starts a
// second whose connect() collides with the first's. Each now waits for the other's attempt.
forEachBroker(
  "a reconnect() override called by the application while the client's call runs: both connect",
  async (broker) => {
    const proxy = await proxyTo(broker);
    const c = new Ported(uniqueId("c"), proxy.hostname, proxy.port);
    c.DELAY = 0.05;
    try {
      await c.connect(false);
      await offline(c, proxy); // the client's call of the override starts
      const mine = [c.reconnect(), c.reconnect()];
      proxy.delay(300);
      proxy.refuse(false);
      const [a, b] = await withTimeout(Promise.all(mine), 10_000, "the application's calls");
      assert.equal(typeof a, "boolean");
      assert.equal(typeof b, "boolean");
      assert.equal(c.connected, true);
    } finally {
      await c.disconnect();
      await proxy.close();
    }
  },
);

// example_lwt_robust.py publishes "Online" in its connect() override, which umqtt.robust's
// reconnect() calls. With a reconnect() override calling it so, that publish, made once connected
// but within the override, must go: the override's end waits for it.
forEachBroker(
  "a reconnect() override calling a connect() override that publishes once connected: no deadlock",
  async (broker) => {
    const proxy = await proxyTo(broker);
    const T = uniqueId("status");
    const seen: string[] = [];
    const w = new MQTTClient(uniqueId("w"), broker.host, broker.port);
    w.set_callback((_t, m) => void seen.push(text(m)));
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
    const c = new Lwt(uniqueId("c"), proxy.hostname, proxy.port);
    c.DELAY = 0.05;
    try {
      await w.connect();
      await w.subscribe(T, 1);
      await c.connect(false);
      await offline(c, proxy);
      const queued = c.publish(T, "offline", false, 1);
      proxy.refuse(false);
      await withTimeout(queued, 10_000, "the publish made offline");
      while (seen.length < 3) await withTimeout(w.wait_msg(), 10_000, "the messages");
      assert.deepEqual(seen, ["Online", "Online", "offline"]);
    } finally {
      await c.disconnect();
      await w.disconnect();
      await proxy.close();
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
    const proxy = await proxyTo(broker);
    let release!: () => void, waiting!: () => void;
    const held = new Promise<void>((r) => release = r);
    const delaying = new Promise<void>((r) => waiting = r);
    class Waits extends Ported {
      override delay(_i: number): Promise<void> {
        waiting();
        return held; // until the application's connect() has connected
      }
    }
    const c = new Waits(uniqueId("c"), proxy.hostname, proxy.port);
    try {
      await c.connect(false);
      await offline(c, proxy);
      const queued = c.publish(uniqueId("t"), "made offline", false, 1);
      queued.catch(() => {}); // asserted below
      await withTimeout(delaying, 10_000, "the override's delay() after a refused attempt");
      proxy.refuse(false);
      await c.connect(false);
      release();
      await withTimeout(queued, 10_000, "the publish made offline");
      assert.equal(c.connected, true);
    } finally {
      await c.disconnect();
      await proxy.close();
    }
  },
);

// delay() rejects once the client is disconnected, which ends an override's loop that awaits it.
// An override that calls super.delay(i) without awaiting it (a count, a log, then its own wait)
// left that rejection unhandled: the process ended at the next disconnect().
forEachBroker(
  "a delay() override that drops super.delay()'s promise: disconnect() rejects nothing unhandled",
  async (broker) => {
    const proxy = await proxyTo(broker);
    let calls = 0;
    class Counting extends RobustClient {
      override delay(i: number): Promise<void> {
        calls++;
        void super.delay(i); // not awaited, not returned
        return new Promise((r) => setTimeout(r, 20));
      }
    }
    const c = new Counting(uniqueId("c"), proxy.hostname, proxy.port);
    c.DELAY = 5;
    try {
      await c.connect(false);
      await offline(c, proxy);
      while (calls === 0) await new Promise((r) => setTimeout(r, 10));
    } finally {
      await c.disconnect();
      await proxy.close();
    }
    // An unhandled rejection would surface within a timer turn or two.
    await new Promise((r) => setTimeout(r, 50));
  },
);
