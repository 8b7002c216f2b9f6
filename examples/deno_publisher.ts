/**
 * A Deno publisher: sends one message at QoS 1 and waits for its PUBACK.
 *
 *     deno run --allow-net examples/deno_publisher.ts mqtt://127.0.0.1:1883 sensors/kitchen 21.5
 *
 * @module
 */
import { MQTTClient } from "../mod.ts";

const [url = "mqtt://127.0.0.1:1883", topic = "umqtt/hello", text = "hello"] = Deno.args;
const client = new MQTTClient(`pub-${crypto.randomUUID().slice(0, 8)}`, url);
await client.connect();
await client.publish(topic, text, { qos: 1 });
console.log(`published to ${topic}: ${text}`);
await client.disconnect();
