// A connect() given up (disconnect(), its signal) in the turns between its
// transport opening and its CONNECT going out must end with the give-up's
// error, as it does while opening or while the CONNACK is awaited (it ended
// with "Connection closed by the broker" or "write after end"). Each
// delay (in microtasks after the application's transport returns) lands the
// give-up at another point of that path; every one must reject, and leave
// the client disconnected.
import assert from "node:assert/strict";
import { MQTTClient } from "../mod.ts";
import { connectNode } from "../lib/transports/node.ts";
import { brokerKinds, startMosquitto } from "./_brokers.ts";
import { test, uniqueId, withTimeout } from "./_test.ts";

const opts = { ignore: !brokerKinds().includes("mosquitto") };

/** Runs `f` `n` microtasks from now. */
function after(n: number, f: () => void): void {
  let p = Promise.resolve();
  for (let i = 0; i < n; i++) p = p.then();
  void p.then(f);
}

for (const how of ["disconnect()", "signal"] as const) {
  test(`${how} just after the transport opens ends connect(), at every turn`, async () => {
    const broker = await startMosquitto();
    try {
      for (let n = 0; n < 12; n++) {
        const ac = new AbortController();
        let stopped: Promise<void> | undefined;
        const client: MQTTClient = new MQTTClient(uniqueId("gw"), broker.host, {
          port: broker.port,
          connectTimeout: 3000,
          transport: async (signal) => {
            const pair = await connectNode({ hostname: broker.host, port: broker.port, signal });
            after(n, () => {
              if (how === "signal") ac.abort(new Error("given up"));
              else stopped = client.disconnect();
            });
            return pair;
          },
        });
        const got = await withTimeout(
          client.connect({ signal: ac.signal }).then(() => "connected", (e) => e),
          2000,
          `connect() given up ${n} turns after the transport opened`,
        );
        await stopped;
        // With the give-up's own error: not one blaming the broker or the connection.
        if (how === "signal") assert.equal(got, ac.signal.reason, `${n} turns: ${got}`);
        else assert.match(String(got), /Disconnected: disconnect\(\) was called/, `${n} turns`);
        assert.equal(client.connected, false, `${n} turns: the client is connected`);
        await client.disconnect();
      }
    } finally {
      await broker.stop();
    }
  }, opts);
}
