// A robust client in a process whose --allow-net lets it reach only some of
// its servers (tests/host_test.ts). Argument: the servers, comma
// separated. Prints one JSON line: how reconnect() ended, and how many
// attempts the reconnecting events announced; "retrying" if it was still at
// it after 3 s (then it stops it).
import { MQTTClient } from "../lib/robust.ts";

const c = new MQTTClient("perm-child", Deno.args[0].split(","), { reconnectMaxDelay: 50 });
c.DELAY = 0.02;
let attempts = 0;
c.addEventListener("reconnecting", () => attempts++);
const still = setTimeout(() => {
  console.log(JSON.stringify({ outcome: "retrying", attempts }));
  c.disconnect();
}, 3000);
try {
  await c.reconnect();
  clearTimeout(still);
  await c.publish("perm/child", "through the permitted server", false, 1);
  console.log(JSON.stringify({ outcome: "connected", attempts }));
  await c.disconnect();
} catch (e) {
  const err = e as Error;
  if (attempts > 0 && !/disconnect\(\) was called/.test(err.message)) {
    clearTimeout(still);
    const cause = (err.cause as Error)?.name;
    console.log(JSON.stringify({ outcome: `${err.name} (${cause}): ${err.message}`, attempts }));
  }
}
