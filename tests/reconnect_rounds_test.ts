// The robust client's backoff across a broker's restarts: the rounds of
// attempts a broker that was down refused are no sign of a broker that closes
// each connection at once, and must not carry over to the next outage (README
// "The waits"). Measured before (a mosquitto SIGKILLed every 10–20 s, DELAY
// 0.02 s): a subscriber whose reconnect took 9 refused rounds, then kept its
// connection 9 s, waited up to 10 s, then 13.9 s, before the first attempts of
// the next outage, the broker up meanwhile.
import assert from "node:assert/strict";
import type { ReconnectingDetail } from "../lib/robust.ts";
import { forEachBroker } from "./_brokers.ts";
import { proxyTo } from "./_fault_proxy.ts";
import { robust } from "./_robust.ts";
import { until } from "./_test.ts";

forEachBroker(
  "a connection lost soon after a reconnect that the broker refused for rounds goes on one round further, not from the rounds it was down",
  async (broker, v) => {
    const proxy = await proxyTo(broker);
    const { c, attempts } = robust(proxy, v, {}, 0.01);
    const random = Math.random;
    Math.random = () => 1; // every wait its ceiling
    const delays = () => attempts.map((a: ReconnectingDetail) => a.delay);
    try {
      await c.connect(false);
      proxy.refuse(true); // the broker is down
      proxy.cut();
      await until(() => attempts.length >= 5, "five refused attempts");
      proxy.refuse(false); // back
      await until(() => c.connected, "reconnected");
      const outage = attempts.length;
      // Rounds 1 and 2 wait DELAY, then twice as long each round.
      assert.deepEqual(delays().slice(0, 5), [10, 10, 20, 40, 80]);
      proxy.cut(); // lost at once: the broker may close every connection so
      await until(() => attempts.length > outage && c.connected, "reconnected again");
      // The reconnect before began in round 1: this one begins in round 2 (DELAY), not in the
      // round after those the broker was down.
      assert.equal(delays()[outage], 10, `delays: ${delays()}`);
    } finally {
      Math.random = random;
      await c.disconnect();
      await proxy.close();
    }
  },
  { only: ["mosquitto"], versions: [4, 5] },
);
