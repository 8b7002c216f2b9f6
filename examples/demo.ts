/**
 * `deno task demo [mqtt://host:port]`: starts an embedded aedes broker on a
 * free port (or uses the broker at the URL given), subscribes, publishes at
 * QoS 0 and 1, prints what arrives and exits.
 *
 * @module
 */
import { MQTTClient } from "../mod.ts";

let url = Deno.args[0];
let stopBroker = async () => {};
if (!url) {
  // aedes is the demo's broker only: the library itself has no dependencies.
  const { Aedes } = await import("npm:aedes@1");
  const { createServer } = await import("node:net");
  const broker = await Aedes.createBroker();
  const server = createServer(broker.handle);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  url = `mqtt://127.0.0.1:${port}`;
  console.log(`embedded aedes broker listening on ${url}`);
  stopBroker = async () => {
    await new Promise<void>((resolve) => broker.close(() => resolve()));
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
}

const id = `umqtt-demo-${crypto.randomUUID().slice(0, 8)}`;
const client = new MQTTClient(id, url, { keepalive: 30 });
client.set_callback((topic, msg) => {
  console.log(`received ${topic}: ${new TextDecoder().decode(msg)}`);
});
const sessionPresent = await client.connect();
console.log(`connected to ${url} as ${id} (session present: ${sessionPresent})`);
const granted = await client.subscribe(`${id}/#`, 1);
console.log(`subscribed to ${id}/# with QoS ${granted}`);
await client.publish(`${id}/qos0`, "hello at QoS 0");
await client.publish(`${id}/qos1`, "hello at QoS 1", false, 1);
console.log("published 2 messages (the QoS 1 one acknowledged)");
for (let i = 0; i < 2; i++) {
  const msg = await client.wait_msg();
  console.log(`  qos=${msg.qos} retain=${msg.retain} ${msg.payload.length} bytes`);
}
await client.disconnect();
await stopBroker();
console.log("disconnected; bye");
