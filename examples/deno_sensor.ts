/**
 * A Deno sensor: publishes a JSON reading at QoS 1 every 100 ms with the
 * reconnecting client, rides out broker restarts (and a broker not up yet),
 * and stops cleanly on Ctrl-C.
 *
 *     deno run --allow-net examples/deno_sensor.ts mqtt://127.0.0.1:1883 sensors/kitchen
 *
 * @module
 */
import { MQTTClient } from "../lib/robust.ts";

const [url = "mqtt://127.0.0.1:1883", topic = "sensors/demo"] = Deno.args;
// A keepalive finds a connection gone silent; 0, the default, never would.
const client = new MQTTClient(`sensor-${crypto.randomUUID().slice(0, 8)}`, url, { keepalive: 30 });
client.addEventListener("reconnecting", ({ detail: { attempt, error } }) => {
  console.error(`reconnecting, attempt ${attempt}${error ? `: ${error}` : ""}`);
});
client.addEventListener("connected", () => console.error(`connected to ${client.url}`));
const stop = new AbortController();
Deno.addSignalListener("SIGINT", () => {
  stop.abort();
  // Still waiting for the broker: disconnect() ends the wait (reconnect() then rejects).
  if (!client.connected) void client.disconnect();
});
// Not connect(): it tries once and rejects if the broker is not up yet; reconnect() retries.
await client.reconnect().catch((e) => {
  if (!stop.signal.aborted) throw e;
});
console.error(`publishing to ${topic}; Ctrl-C to stop`);
for (let seq = 0; !stop.signal.aborted; seq++) {
  const reading = JSON.stringify({ seq, at: Date.now(), celsius: 20 + Math.random() * 2 });
  try {
    // Resolves on PUBACK, however many reconnects that takes; Ctrl-C ends the wait.
    await client.publish(topic, reading, { qos: 1, signal: stop.signal });
  } catch (e) {
    if (!stop.signal.aborted) throw e;
  }
  await new Promise((r) => setTimeout(r, 100));
}
await client.disconnect();
console.error("stopped");
