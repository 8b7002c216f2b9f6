/**
 * A Deno subscriber: prints every message on a topic filter.
 *
 *     deno run --allow-net examples/deno_subscriber.ts mqtt://127.0.0.1:1883 "sensors/#"
 *
 * A lost connection ends it with the error. To ride out broker restarts, use
 * the reconnecting client from "@umqtt/umqtt/robust" (README "Staying connected").
 *
 * @module
 */
import { MQTTClient } from "../mod.ts";

const [url = "mqtt://127.0.0.1:1883", filter = "#"] = Deno.args;
// A keepalive, or a broker that stops answering is never noticed (0, the default, means none).
const client = new MQTTClient(`sub-${crypto.randomUUID().slice(0, 8)}`, url, { keepalive: 30 });
client.set_callback((topic, msg) => {
  console.log(`${topic} ${new TextDecoder().decode(msg)}`);
});
await client.connect();
await client.subscribe(filter, 1);
let stopping = false;
Deno.addSignalListener("SIGINT", () => {
  stopping = true;
  void client.disconnect();
});
// Said once Ctrl-C is handled: one pressed as soon as it shows ends the subscriber as it should.
console.error(`subscribed to ${filter} on ${url}; Ctrl-C to stop`);
try {
  while (true) await client.wait_msg();
} catch (e) {
  // wait_msg rejects once the connection ends: after Ctrl-C that is the way
  // out; otherwise the connection was lost, and the error says how.
  if (!stopping) throw e;
}
