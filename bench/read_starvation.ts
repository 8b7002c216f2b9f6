/**
 * Whether a Deno process that keeps writing leaves its other sockets unread:
 * `deno run -A bench/read_starvation.ts [none|timer|message|immediate]`.
 *
 * A child process sends this one 8 bytes every 2 ms (its clock inside them)
 * on one socket; meanwhile this process writes 80 KB bursts into a second
 * socket, with 0.4 ms of busy JS before each (about what encoding 1000
 * publishes costs), until the child is done. After every 256 KB written it
 * waits for nothing (`none`), a `setTimeout(0)` (`timer`), a
 * `MessageChannel` message (`message`) or `setImmediate` (`immediate`).
 * Prints how late the child's bytes were read (median, 99th percentile,
 * worst) and how many bursts were written. The check behind bench/RESULTS.md's
 * "What stalls the pipeline in umqtt's rounds": on Deno 2.9.6, `none`,
 * `message` and `immediate` read them 11–12 ms late at the median, `timer`
 * about 1 ms late, at half the bursts.
 *
 * @module
 */

const YIELD_BYTES = 262_144;
const variant = Deno.args[0] ?? "none";
const channel = new MessageChannel();
const waits: Record<string, () => Promise<unknown>> = {
  none: () => Promise.resolve(),
  timer: () => new Promise((resolve) => setTimeout(resolve, 0)),
  message: () =>
    new Promise<void>((resolve) => {
      channel.port1.onmessage = () => resolve();
      channel.port2.postMessage(0);
    }),
  immediate: () => new Promise((resolve) => setImmediate(resolve)),
};
const wait = waits[variant];
if (!wait) throw new TypeError(`Unknown variant ${variant}: one of ${Object.keys(waits)}`);

const HOST = "127.0.0.1";
const sinkListener = Deno.listen({ hostname: HOST, port: 0 });
const sourceListener = Deno.listen({ hostname: HOST, port: 0 });
const child = new Deno.Command(Deno.execPath(), {
  args: [
    "eval",
    `const c = await Deno.connect({ hostname: "${HOST}", port: ${sourceListener.addr.port} });
     c.setNoDelay(true);
     const at = new Float64Array(1);
     for (let i = 0; i < 400; i++) {
       at[0] = performance.timeOrigin + performance.now();
       await c.write(new Uint8Array(at.buffer));
       await new Promise((r) => setTimeout(r, 2));
     }
     c.close();`,
  ],
}).spawn();
const source = await sourceListener.accept();
const sink = await Deno.connect({ hostname: HOST, port: sinkListener.addr.port });
const sinkEnd = await sinkListener.accept();

// The sink's far end drains whatever comes.
const draining = (async () => {
  const buf = new Uint8Array(65_536);
  try {
    while ((await sinkEnd.read(buf)) !== null);
  } catch { /* closed */ }
})();

const delays: number[] = [];
let done = false;
const reading = (async () => {
  const buf = new Uint8Array(8);
  for (;;) {
    for (let got = 0; got < 8;) {
      const n = await source.read(buf.subarray(got));
      if (n === null) return void (done = true);
      got += n;
    }
    const sent = new Float64Array(buf.slice().buffer)[0];
    delays.push(performance.timeOrigin + performance.now() - sent);
  }
})();

const burst = new Uint8Array(80_000);
let bursts = 0;
let unwaited = 0;
while (!done) {
  const start = performance.now();
  while (performance.now() - start < 0.4) { /* the JS of a burst */ }
  await sink.write(burst);
  bursts++;
  unwaited += burst.length;
  if (unwaited >= YIELD_BYTES) {
    unwaited = 0;
    await wait();
  }
}
await reading;
channel.port1.close();
sink.close();
await draining;
source.close();
sinkListener.close();
sourceListener.close();
await child.status;

delays.sort((a, b) => a - b);
const at = (q: number) => delays[Math.min(delays.length - 1, Math.floor(delays.length * q))];
console.log(
  `${variant}: ${bursts} bursts of 80 KB written; the child's bytes read late by ` +
    `${at(0.5).toFixed(2)} ms (median), ${at(0.99).toFixed(1)} ms (p99), ` +
    `${delays.at(-1)!.toFixed(1)} ms (worst)`,
);
