// Run as a subprocess by websocket_test.ts: connects with a will, publishes
// 200 KB (so that bytes are still queued), disconnects, and exits at once.
// `deno run -A tests/_exit_after_disconnect.ts URL WILL_TOPIC`
import { MQTTClient } from "../mod.ts";

const [url, willTopic] = Deno.args;
const client = new MQTTClient(`exit-${crypto.randomUUID().slice(0, 8)}`, url);
client.set_last_will(willTopic, "died");
await client.connect();
await client.publish(`${willTopic}/bulk`, new Uint8Array(200_000));
await client.disconnect();
Deno.exit(0);
