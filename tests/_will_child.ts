// A client with a will and a 1 s keepalive, for tests/will_test.ts to stop (SIGSTOP) and watch
// the broker publish its will when the keepalive runs out. Arguments: host, port, version, topic.
import { MQTTClient } from "../mod.ts";

const [host, port, version, topic] = Deno.args;
const c = new MQTTClient(`will-child-${Deno.pid}`, host, {
  port: Number(port),
  keepalive: 1,
  protocolVersion: Number(version) as 4 | 5,
});
c.set_last_will(topic, "stopped", false, 1);
await c.connect();
console.log("ready");
// Held open until the test kills the process.
await new Promise(() => setInterval(() => {}, 1 << 30));
