/**
 * Bun: subscribe, publish to yourself at QoS 1, print what comes back.
 * Bun runs the TypeScript sources straight from a clone; from npm, import
 * from "@umqtt/umqtt" instead.
 *
 *     npx -y bun examples/bun.ts mqtt://127.0.0.1:1883
 *
 * @module
 */
import { MQTTClient } from "../mod.ts";

const url = process.argv[2] ?? "mqtt://127.0.0.1:1883";
const topic = `umqtt/bun/${crypto.randomUUID().slice(0, 8)}`;
const client = new MQTTClient(`bun-${crypto.randomUUID().slice(0, 8)}`, url);
await client.connect(); // node:net under Bun, picked by the default connector
await client.subscribe(`${topic}/#`, 1);
await client.publish(`${topic}/greeting`, "hello from Bun", false, 1);
const msg = await client.wait_msg();
console.log(msg.topic, new TextDecoder().decode(msg.payload));
await client.disconnect();
