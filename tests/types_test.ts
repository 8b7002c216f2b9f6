// The public types as a strict TypeScript user meets them, checked by `deno check` (and under
// Bun and Node, for the npm package, by tests/runtimes): the events' `detail` is typed by the
// event's name, without the `(e as CustomEvent)` cast, and holds at run time what its type says.
// Lines marked @ts-expect-error must stay errors: a check that passed them would fail here.
import assert from "node:assert/strict";
import {
  type ConnectedDetail,
  type DisconnectedDetail,
  MQTTClient,
  MQTTConnectionError,
  type QoS,
} from "../mod.ts";
import { MQTTClient as Robust, type ReconnectingDetail } from "../lib/robust.ts";
import { forEachBroker } from "./_brokers.ts";
import { uniqueId } from "./_test.ts";

/** Type-level only: never called. */
export function typed(c: MQTTClient, r: Robust): void {
  c.addEventListener("connected", (e) => {
    const present: boolean = e.detail.sessionPresent;
    const dropped: RangeError[] | undefined = e.detail.dropped;
    void [present, dropped];
  });
  c.addEventListener("disconnected", (e) => {
    const error: MQTTConnectionError = e.detail.error;
    const code: number | undefined = e.detail.reasonCode;
    void [error, code];
  }, { once: true });
  r.addEventListener("reconnecting", (e) => {
    const { server, attempt, delay, error } = e.detail;
    const s: string = server, a: number = attempt, d: number = delay, why: unknown = error;
    void [s, a, d, why];
  });
  r.addEventListener("connected", (e) => void e.detail.sessionPresent);
  // The README's forms still compile: the cast, any other event name, a listener object.
  c.addEventListener("disconnected", (e) => console.log((e as CustomEvent).detail.error));
  c.addEventListener("connected", () => c.publish("s", "Online", true).catch(() => {}));
  c.addEventListener("another", (e) => void e.type);
  c.addEventListener("connected", { handleEvent: (e) => void e.type });
  const named = (e: { detail: ConnectedDetail }) => void e.detail.sessionPresent;
  c.addEventListener("connected", named);
  c.removeEventListener("connected", named);
  const target: EventTarget = r;
  // @ts-expect-error: a misspelt field of the detail
  c.addEventListener("connected", (e) => e.detail.sessionPresnt);
  // @ts-expect-error: the simple client has no `reconnecting` event: its events carry no detail
  c.addEventListener("reconnecting", (e) => e.detail);
  // @ts-expect-error: `error` is an MQTTConnectionError, not a string
  c.addEventListener("disconnected", (e) => e.detail.error.toUpperCase());
  void target;
}

/** A subclass may still override the listener methods as `EventTarget`'s methods. */
export class Logged extends Robust {
  override addEventListener(...args: Parameters<EventTarget["addEventListener"]>): void {
    console.log("listening to", args[0]);
    super.addEventListener(...args);
  }
  override removeEventListener(...args: Parameters<EventTarget["removeEventListener"]>): void {
    super.removeEventListener(...args);
  }
}

/**
 * Type-level only: after umqtt's positional retain and qos, the options take what the run time
 * takes there (tests/arguments5_test.ts: `signal` and `properties` for a publish, `properties` for
 * the will); the options object in retain's place takes them all.
 */
export async function trailingOptions(c: MQTTClient, signal: AbortSignal): Promise<void> {
  await c.publish("t", "m", false, 1, { signal, properties: { contentType: "text/plain" } });
  await c.publish("t", "m", { qos: 1, retain: true, signal }, 0, { signal });
  c.set_last_will("t", "m", true, 1, { properties: { willDelayInterval: 5 } });
  c.set_last_will("t", "m", { retain: true, qos: 1, properties: { willDelayInterval: 5 } });
  c.setLastWill("t", "m", true, 1, { properties: { willDelayInterval: 5 } });
  // @ts-expect-error: a second qos, which would go unused (a TypeError at run time)
  await c.publish("t", "m", false, 1, { qos: 2 });
  // @ts-expect-error: a second retain
  await c.publish("t", "m", false, 0, { retain: true });
  // @ts-expect-error: the will's second qos
  c.set_last_will("t", "m", false, 1, { qos: 2 });
  // @ts-expect-error: the will's second retain, through the camelCase twin
  c.setLastWill("t", "m", false, 1, { retain: true });
}

forEachBroker("events carry the details their types name; calls give the types' values", async (
  broker,
  v,
) => {
  const url = `mqtt://${broker.host}:${broker.port}`;
  const c = new MQTTClient(uniqueId("types"), url, { protocolVersion: v });
  const connected: ConnectedDetail[] = [], disconnected: DisconnectedDetail[] = [];
  c.addEventListener("connected", (e) => connected.push(e.detail));
  c.addEventListener("disconnected", (e) => disconnected.push(e.detail));
  const present: boolean = await c.connect();
  assert.equal(present, false);
  assert.deepEqual(connected, [{ sessionPresent: false }]);
  assert.deepEqual(Object.keys(c.connack!).sort(), ["properties", "reasonCode", "sessionPresent"]);
  const granted: number = await c.subscribe("types/a", 1);
  const codes: number[] = await c.subscribe([["types/b", 2], ["types/c", 0 as QoS]]);
  const gone: void = await c.unsubscribe("types/c");
  const codes2: number[] = await c.unsubscribe(["types/b", "types/none"]);
  assert.deepEqual([granted, codes, gone, codes2], [
    1,
    [2, 0],
    undefined,
    v === 5 ? [0, 17] : [0, 0],
  ]);
  assert.equal(await c.check_msg(), undefined);
  await c.disconnect();
  assert.equal(disconnected.length, 1);
  assert.ok(disconnected[0].error instanceof MQTTConnectionError);
  // Every field of the type is there, reasonCode and the rest undefined without a DISCONNECT.
  assert.deepEqual(Object.keys(disconnected[0]).sort(), [
    "error",
    "reasonCode",
    "reasonString",
    "serverReference",
  ]);
  assert.equal(disconnected[0].reasonCode, undefined);

  // The robust client's reconnect announces each attempt.
  const r = new Robust(uniqueId("types-r"), [url], { protocolVersion: v });
  r.DELAY = 0;
  const attempts: ReconnectingDetail[] = [];
  r.addEventListener("reconnecting", (e) => attempts.push(e.detail));
  await r.reconnect();
  await r.disconnect();
  assert.equal(attempts.length, 1);
  const [{ server, attempt, delay }] = attempts;
  assert.deepEqual([server, attempt, delay], [url, 1, 0]);
}, { only: ["mosquitto"], versions: [4, 5] });
