// Node 20+: the npm package over TCP (node:net, picked by the default
// connector; mqtts:// for TLS).
//
//   npx -y deno@2 task build:npm && cd examples/node && npm install
//   node main.mjs mqtt://127.0.0.1:1883
//
// For ws:// on Node 20, which has no global WebSocket, give the client one
// (npm install ws):
//   import WebSocket from "ws";
//   import { connectWebSocket } from "@umqtt/umqtt/websocket";
//   new MQTTClient(id, url, { transport: () => connectWebSocket(url, { WebSocket }) });
import { MQTTClient } from "@umqtt/umqtt";

const url = process.argv[2] ?? "mqtt://127.0.0.1:1883";
const id = `node-${Math.random().toString(16).slice(2, 10)}`;
const client = new MQTTClient(id, url);
client.set_callback((topic, msg) => console.log(topic, new TextDecoder().decode(msg)));
await client.connect();
await client.subscribe(`umqtt/${id}/#`, 1);
await client.publish(`umqtt/${id}/greeting`, "hello from Node", false, 1);
await client.wait_msg(); // runs the callback, then acknowledges
await client.disconnect();
