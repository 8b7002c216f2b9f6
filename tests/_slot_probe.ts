// Run by slot_leak_test.ts in a process of its own, with --expose-gc: of
// 50 QoS 1 publishes waiting for a slot in a broker's Receive Maximum of 1
// (taken by a publish never acknowledged), each aborted by its own signal,
// how many of their abort reasons are still held. Prints JSON { held }.
import { MQTTClient } from "../mod.ts";
import { acceptConnect, startHostileBroker } from "./_hostile_broker.ts";

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error("run with --v8-flags=--expose-gc");
const broker = await startHostileBroker(async (peer) => {
  await acceptConnect(peer, { receiveMaximum: 1 });
  await peer.clientClosed;
});
const client = new MQTTClient("slot-probe", broker.url, { protocolVersion: 5 });
await client.connect();
const first = client.publish("slot/held", "x", { qos: 1 }).catch(() => {});
const refs: WeakRef<Error>[] = [];
for (let i = 0; i < 50; i++) {
  const controller = new AbortController();
  const waiting = client.publish(`slot/${i}`, "x", { qos: 1, signal: controller.signal });
  const reason = new Error(`aborted ${i}`);
  refs.push(new WeakRef(reason));
  controller.abort(reason);
  await waiting.catch(() => {});
}
for (let i = 0; i < 5; i++) {
  gc();
  await new Promise((r) => setTimeout(r, 10));
}
console.log(JSON.stringify({ held: refs.filter((r) => r.deref() !== undefined).length }));
await client.disconnect();
await first;
await broker.close();
