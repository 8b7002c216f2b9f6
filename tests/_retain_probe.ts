// Run by robust_retain_test.ts in a process of its own, with --expose-gc:
// what robust clients leave alive after GCs. Prints JSON:
// - withSignal, without: how many of 50 robust clients, made and dropped,
//   are still alive, given one long-lived signal or none;
// - listeners: how many abort listeners those 50 left on that signal;
// - reasons: of 50 calls made while the client waits for its connection,
//   each aborted by its own signal, how many of their abort reasons are
//   still held while the wait for the connection goes on.
import { MQTTClient } from "../lib/robust.ts";

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error("run with --v8-flags=--expose-gc");
const signal = new AbortController().signal;
let listeners = 0;
const add = signal.addEventListener.bind(signal), remove = signal.removeEventListener.bind(signal);
signal.addEventListener = (...a: Parameters<typeof add>) => (listeners++, add(...a));
signal.removeEventListener = (...a: Parameters<typeof remove>) => (listeners--, remove(...a));

async function collect() {
  for (let i = 0; i < 5; i++) {
    gc!();
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function alive(withSignal: boolean): Promise<number> {
  const refs: WeakRef<MQTTClient>[] = [];
  for (let i = 0; i < 50; i++) {
    refs.push(
      new WeakRef(new MQTTClient(`retain-${i}`, "127.0.0.1", withSignal ? { signal } : {})),
    );
  }
  await collect();
  return refs.filter((r) => r.deref() !== undefined).length;
}

/** A robust client whose connection never opens; 50 calls waiting for it, aborted. */
async function reasons(): Promise<number> {
  const c = new MQTTClient("retain-offline", "127.0.0.1", {
    transport: () => new Promise(() => {}),
    connectTimeout: 600_000,
  });
  const connecting = c.connect().catch(() => {});
  const refs: WeakRef<Error>[] = [];
  for (let i = 0; i < 50; i++) {
    const controller = new AbortController();
    const waiting = [
      c.wait_msg({ signal: controller.signal }),
      c.subscribe("a/b", { qos: 1, signal: controller.signal }),
      c.publish("a/b", "x", { qos: 1, signal: controller.signal }),
    ].map((p) => p.catch(() => {}));
    const reason = new Error(`aborted ${i}`);
    refs.push(new WeakRef(reason));
    controller.abort(reason);
    await Promise.all(waiting);
  }
  await collect();
  const held = refs.filter((r) => r.deref() !== undefined).length;
  void connecting;
  return held;
}

const withSignal = await alive(true);
const without = await alive(false);
console.log(JSON.stringify({ withSignal, without, listeners, reasons: await reasons() }));
Deno.exit(0); // the offline client's connect never ends
