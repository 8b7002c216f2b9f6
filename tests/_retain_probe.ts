// Run by robust_retain_test.ts in a process of its own, with --expose-gc:
// how many of 50 robust clients, made and dropped, are still alive after
// GCs, given one long-lived signal or none. Prints JSON.
import { MQTTClient } from "../lib/robust.ts";

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error("run with --v8-flags=--expose-gc");
const signal = new AbortController().signal;

async function alive(withSignal: boolean): Promise<number> {
  const refs: WeakRef<MQTTClient>[] = [];
  for (let i = 0; i < 50; i++) {
    refs.push(
      new WeakRef(new MQTTClient(`retain-${i}`, "127.0.0.1", withSignal ? { signal } : {})),
    );
  }
  for (let i = 0; i < 5; i++) {
    gc!();
    await new Promise((r) => setTimeout(r, 10));
  }
  return refs.filter((r) => r.deref() !== undefined).length;
}

console.log(JSON.stringify({ withSignal: await alive(true), without: await alive(false) }));
