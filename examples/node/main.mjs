// Node 20+: the npm package, over TCP or (with the ws package, as Node 20 has
// no global WebSocket) over WebSocket.
//
//   npx -y deno@2 task build:npm && cd examples/node && npm install
//   node main.mjs mqtt://127.0.0.1:1883
//   node main.mjs ws://127.0.0.1:8080/mqtt
import { MQTTClient } from "@umqtt/umqtt";
import { connectWebSocket } from "@umqtt/umqtt/websocket";
import WebSocket from "ws";

const url = process.argv[2] ?? "mqtt://127.0.0.1:1883";
const id = `node-${Math.random().toString(16).slice(2, 10)}`;
const client = url.startsWith("ws") && !globalThis.WebSocket
  ? new MQTTClient(id, url, { transport: () => connectWebSocket(url, { WebSocket }) })
  : new MQTTClient(id, url);
client.set_callback((topic, msg) => console.log(topic, new TextDecoder().decode(msg)));
await client.connect();
await client.subscribe(`umqtt/${id}/#`, 1);
await client.publish(`umqtt/${id}/greeting`, "hello from Node", false, 1);
await client.wait_msg(); // runs the callback, then acknowledges
await client.disconnect();
