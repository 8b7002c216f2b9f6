// The client-only workloads for Node and Bun: bundled by bench/run.ts with
// esbuild (Node 20 runs no TypeScript, and neither resolves `npm:`), then run
// as `node|bun bundle.mjs PORT COUNT ROUNDS`. Prints one JSON line.
// umqtt connects through its default connector, i.e. the runtime's adapter.
import process from "node:process";
import mqtt from "mqtt";
import { MQTTClient } from "../mod.ts";

const [port, n, rounds] = process.argv.slice(2).map(Number);
const payload = new Uint8Array(64).fill(0x62);
let seq = 0;
const id = () => `${Date.now().toString(36)}${(seq++).toString(36)}`;

type Run = () => Promise<{ run(): Promise<void>; close(): Promise<void> }>;

function mqttjs(clientId: string): Promise<mqtt.MqttClient> {
  const c = mqtt.connect({
    host: "127.0.0.1",
    port,
    clientId,
    protocolVersion: 4,
    reconnectPeriod: 0,
    keepalive: 0,
  });
  return new Promise((resolve, reject) => {
    c.once("connect", () => resolve(c));
    c.once("error", reject);
  });
}
/** Throws unless `got` messages of `bytes` in all are the `n` 64-byte ones sent. */
function verify(who: string, got: number, bytes: number): void {
  if (got !== n || bytes !== n * payload.length) {
    throw new Error(
      `${who}: ${got} messages of ${bytes} bytes, expected ${n} of ${n * payload.length}`,
    );
  }
}

/** `p`, or a rejection when it takes more than a minute: a stall fails the run instead of hanging it. */
function stall<T>(p: Promise<T>, what: string): Promise<T> {
  let timer!: ReturnType<typeof setTimeout>;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`bench stalled: ${what}`)), 60_000);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

const end = (c: mqtt.MqttClient) => new Promise<void>((r) => c.end(false, {}, () => r()));

const workloads: Record<string, Record<string, Run>> = {
  publish: {
    async umqtt() {
      const c = new MQTTClient(`sink-${id()}`, "127.0.0.1", { port });
      await c.connect();
      return {
        async run() {
          for (let i = 0; i < n;) {
            let last!: Promise<void>;
            for (const stop = Math.min(i + 1000, n); i < stop; i++) {
              last = c.publish("bench/sink", payload);
            }
            await last;
          }
        },
        close: () => c.disconnect(),
      };
    },
    async "MQTT.js"() {
      const c = await mqttjs(`sink-${id()}`);
      return {
        async run() {
          for (let i = 0; i < n;) {
            const stop = Math.min(i + 1000, n);
            for (; i < stop - 1; i++) c.publish("bench/sink", payload as Buffer, { qos: 0 });
            i++;
            await new Promise<void>((r, j) =>
              c.publish("bench/sink", payload as Buffer, { qos: 0 }, (e) => e ? j(e) : r())
            );
          }
        },
        close: () => end(c),
      };
    },
  },
  receive: {
    async umqtt() {
      const c = new MQTTClient(`blast-${n}-${id()}`, "127.0.0.1", {
        port,
        maxQueuedMessages: n,
      });
      await c.connect();
      let got = 0, bytes = 0;
      return {
        async run() {
          await c.subscribe("bench/#", 0);
          for (; got < n; got++) bytes += (await c.wait_msg()).payload.length;
        },
        close: () => (verify("umqtt", got, bytes), c.disconnect()),
      };
    },
    async "MQTT.js"() {
      const c = await mqttjs(`blast-${n}-${id()}`);
      let got = 0, bytes = 0, done!: () => void;
      const all = new Promise<void>((r) => (done = r));
      c.on("message", (_topic: string, message: Uint8Array) => {
        bytes += message.length;
        if (++got === n) done();
      });
      return {
        async run() {
          await c.subscribeAsync("bench/#", { qos: 0 });
          await all;
        },
        close: () => (verify("MQTT.js", got, bytes), end(c)),
      };
    },
  },
};

const out: Record<string, unknown> = {};
for (const [name, contenders] of Object.entries(workloads)) {
  const rate: Record<string, number[]> = {}, cpu: Record<string, number[]> = {};
  const names = Object.keys(contenders);
  for (let r = -1; r < rounds; r++) {
    for (let k = 0; k < names.length; k++) {
      const who = names[(r + 1 + k) % names.length];
      const w = await stall(contenders[who](), `${name}, ${who}: setting up`);
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      await stall(w.run(), `${name}, ${who}: ${n} messages`);
      const ms = performance.now() - t0;
      const c = process.cpuUsage(c0);
      await stall(w.close(), `${name}, ${who}: closing`);
      if (r < 0) continue; // warm-up
      (rate[who] ??= []).push(n / ms * 1000);
      (cpu[who] ??= []).push((c.user + c.system) / n);
    }
  }
  out[name] = { rate, cpu };
}
console.log(JSON.stringify(out));
process.exit(0);
