// A reconnect storm, issue 16: a mosquitto restart under 1000 connected
// robust clients in this one process. The full jitter before each client's
// first attempt spreads the reconnects; the backoff between rounds keeps a
// client that finds the broker still down from retrying in a hot loop. The
// histogram of reconnect times is printed, never asserted.
import assert from "node:assert/strict";
import { MQTTClient } from "../lib/robust.ts";
import { startMosquitto } from "./_brokers.ts";
import { test, uniqueId, withTimeout } from "./_test.ts";

const CLIENTS = 1000;
// umqtt.robust's DELAY, in seconds: each client's first attempt comes at a
// random time within it, so the storm spreads over about a second.
const DELAY = 1;
// With full jitter and the delay ceiling doubling each round after the
// second (1, 1, 2, 4, 8 … s), ten attempts would need nine waits adding up
// to less than the outage (well under a second here, a few under load): a
// client that tries more often than that is in a hot loop.
const MAX_ATTEMPTS = 10;
const BUCKET_MS = 100;

/** One line per bucket of `BUCKET_MS`, from 0 to the last value: `200–300 ms | ####### 71`. */
function histogram(values: number[]): string {
  const counts = new Array(Math.floor(Math.max(...values) / BUCKET_MS) + 1).fill(0);
  for (const v of values) counts[Math.floor(v / BUCKET_MS)]++;
  const width = String((counts.length) * BUCKET_MS).length;
  const scale = Math.max(...counts) > 50 ? 50 / Math.max(...counts) : 1;
  return counts.map((n, i) => {
    const range = `${String(i * BUCKET_MS).padStart(width)}–${
      String((i + 1) * BUCKET_MS).padStart(width)
    } ms`;
    return `  ${range} | ${"#".repeat(Math.round(n * scale)).padEnd(50)} ${n}`;
  }).join("\n");
}

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];

test(
  "reconnect storm: a mosquitto restart under 1000 robust clients: all come back, spread by the jitter, none in a hot loop",
  async () => {
    const broker = await startMosquitto();
    const base = uniqueId("storm");
    const clients: MQTTClient[] = [];
    // Per client, after the restart: its attempts, its CONNACKs' times, when it saw the loss.
    const attempts = new Uint32Array(CLIENTS);
    const reconnected: number[][] = Array.from({ length: CLIENTS }, () => []);
    const lost = new Float64Array(CLIENTS);
    let t0 = Infinity;
    try {
      for (let i = 0; i < CLIENTS; i += 100) {
        await Promise.all(Array.from({ length: 100 }, async (_, k) => {
          const n = i + k;
          const c = new MQTTClient(`${base}-${n}`, broker.url, { keepalive: 60 });
          c.DELAY = DELAY;
          clients[n] = c;
          c.addEventListener("reconnecting", () => attempts[n]++);
          c.addEventListener("disconnected", () => (lost[n] = performance.now() - t0));
          c.addEventListener("connected", () => {
            if (performance.now() > t0) reconnected[n].push(performance.now() - t0);
          });
          await c.connect();
        }));
      }
      assert.equal(clients.filter((c) => c.connected).length, CLIENTS);

      t0 = performance.now();
      await broker.restart!(); // SIGTERM, wait for the exit, start again on the same port
      const tUp = performance.now() - t0;
      const everyone = (async () => {
        while (reconnected.some((r) => r.length === 0)) {
          await new Promise((r) => setTimeout(r, 50));
        }
      })();
      await withTimeout(
        everyone,
        30_000,
        `every client to reconnect (${
          reconnected.filter((r) => r.length > 0).length
        } of ${CLIENTS} did)`,
      );
      // A moment for any client that would drop and come again to show it.
      await new Promise((r) => setTimeout(r, 500));

      const times = reconnected.map((r) => r[0]);
      const sorted = [...times].sort((a, b) => a - b);
      const lossSorted = [...lost].sort((a, b) => a - b);
      const byAttempts = new Map<number, number>();
      for (const a of attempts) byAttempts.set(a, (byAttempts.get(a) ?? 0) + 1);
      console.log(
        `reconnect storm: ${CLIENTS} robust clients, DELAY ${DELAY} s; mosquitto restarted ` +
          `(SIGTERM → accepting again) in ${tUp.toFixed(0)} ms; clients saw the loss at ` +
          `${lossSorted[0].toFixed(0)}–${lossSorted[CLIENTS - 1].toFixed(0)} ms; reconnected ` +
          `(ms after the restart began) first ${sorted[0].toFixed(0)}, median ` +
          `${percentile(sorted, 0.5).toFixed(0)}, 90% ${
            percentile(sorted, 0.9).toFixed(0)
          }, last ` +
          `${sorted[CLIENTS - 1].toFixed(0)}; attempts per client: ${
            [...byAttempts].sort((a, b) => a[0] - b[0]).map(([a, n]) => `${a}: ${n} clients`)
              .join(", ")
          } (${attempts.reduce((s, a) => s + a, 0)} in all)\n` + histogram(times),
      );

      assert.equal(clients.filter((c) => c.connected).length, CLIENTS, "all back");
      const flapping = reconnected.filter((r) => r.length > 1).length;
      assert.equal(flapping, 0, "each client reconnected once and stayed");
      const most = Math.max(...attempts);
      assert.ok(most <= MAX_ATTEMPTS, `a client made ${most} attempts: a hot loop`);
      assert.ok(Math.min(...attempts) >= 1, "each client announced its attempts");
    } finally {
      for (let i = 0; i < clients.length; i += 200) {
        await Promise.all(clients.slice(i, i + 200).map((c) => c?.disconnect()));
      }
      await broker.stop();
    }
  },
  { mosquitto: true },
);
