// The robust client's overridable hooks failing: log() that throws (told of
// the loss by the connection's teardown or by the keepalive timer, or told of
// a failed attempt) and delay() that rejects. The error ends that reconnect,
// as an exception out of umqtt.robust's reconnect() does: reconnect() and
// the publishes kept in the session reject with it, nothing escapes to the
// runtime, and the next call reconnects anew. Each of these once stopped
// reconnecting without a word, the kept publish pending for ever (or, from
// the keepalive timer, the process ended by an uncaught error).
import assert from "node:assert/strict";
import { MQTTClient } from "../lib/robust.ts";
import { forEachBroker } from "./_brokers.ts";
import { FaultProxy } from "./_fault_proxy.ts";
import { uniqueId, withTimeout } from "./_test.ts";

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

const failure = new Error("the application's hook failed");
type Hooked = new (...a: ConstructorParameters<typeof MQTTClient>) => MQTTClient;
const hooks: [string, Hooked, { refuse?: boolean; keepalive?: number }][] = [
  [
    "delay() rejects",
    class extends MQTTClient {
      #calls = 0;
      override delay(i: number): Promise<void> {
        return this.#calls++ === 0 ? Promise.reject(failure) : super.delay(i);
      }
    },
    {},
  ],
  [
    "log() throws when told of the loss",
    class extends MQTTClient {
      override log(in_reconnect: boolean): void {
        if (!in_reconnect) throw failure;
      }
    },
    {},
  ],
  [
    "log() throws when told of the loss by the keepalive",
    class extends MQTTClient {
      override log(in_reconnect: boolean): void {
        if (!in_reconnect) throw failure;
      }
    },
    { keepalive: 1 },
  ],
  [
    "log() throws when told of a failed attempt",
    class extends MQTTClient {
      override log(in_reconnect: boolean): void {
        if (in_reconnect) throw failure;
      }
    },
    { refuse: true },
  ],
];

for (const [name, Client, how] of hooks) {
  forEachBroker(
    `robust: ${name}: the reconnect ends with its error, nothing hangs`,
    async (broker, v) => {
      const proxy = await FaultProxy.start({ hostname: broker.host, port: broker.port });
      const c = new Client(uniqueId("hook"), proxy.hostname, {
        port: proxy.port,
        protocolVersion: v,
        keepalive: how.keepalive ?? 0,
      });
      c.DELAY = 0.01;
      const u = uniqueId("hook/t");
      try {
        await c.connect(false);
        // Written, never acknowledged: kept in the session for the next connection.
        proxy.blackhole(true);
        const kept = c.publish(u, "kept", false, 1);
        kept.catch(() => {}); // asserted below
        await sleep(50);
        if (how.refuse) proxy.refuse(true);
        // The keepalive finds the silence; otherwise the broker's side closes.
        if (how.keepalive === undefined) proxy.cut();
        await assert.rejects(withTimeout(kept, 10_000, "the kept publish"), (e) => e === failure);
        proxy.blackhole(false);
        proxy.refuse(false);
        proxy.cut();
        // The next call reconnects anew.
        await withTimeout(c.publish(u, "after", false, 1), 10_000, "a publish after it");
        assert.ok(c.connected);
      } finally {
        await c.disconnect();
        await proxy.close();
      }
    },
    { timeout: 30_000, versions: [4, 5] },
  );
}
