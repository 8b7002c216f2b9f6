// The client where the built-ins are frozen before it is imported, as a
// lockdown (SES-like) leaves them (tests/host_test.ts): a property that a
// frozen prototype holds cannot be set on an instance by assignment. Argument:
// a broker's URL. Prints "ok", or the first error.
for (const c of [Object, Function, Array, Promise, Error, TypeError, RangeError, Map, Set]) {
  Object.freeze(c.prototype);
  Object.freeze(c);
}
for (const c of [Uint8Array, DataView, ArrayBuffer, EventTarget, Event, AbortSignal]) {
  Object.freeze(c.prototype);
}
try {
  const { MQTTClient, MQTTException, MQTTProtocolError } = await import("../mod.ts");
  const robust = await import("../lib/robust.ts");
  const c = new robust.MQTTClient("frozen-child", Deno.args[0]);
  await c.connect();
  await c.subscribe("frozen/t", 1);
  await c.publish("frozen/t", "hi", false, 1);
  await c.wait_msg();
  await c.disconnect();
  const refused = await new MQTTClient("x", "mqtt://127.0.0.1:1").connect().catch((e) => e);
  const errors = [refused, new MQTTException("x", 5), new MQTTProtocolError("y", "MQTT-1")];
  console.log(errors.map((e) => e.name).join(" "));
} catch (e) {
  console.log(`${e}`);
}
// A failed disconnect() leaves the connection open: end anyway.
Deno.exit(0);
