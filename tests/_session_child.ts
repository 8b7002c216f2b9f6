// A client in its own process, for tests that kill it (SIGKILL) and start it
// again on the same file store. One JSON argument; it reports on stdout, one
// line per event, and takes commands on stdin:
//   pub <qos> <payload>     publish to `${topic}` (not awaited; ACKED/REJECTED later)
//   sub <qos>               subscribe to `${topic}`, then hand messages out for ever
//   exit                    disconnect and exit
// A message whose payload starts with "block" blocks its handler for ever.
import { MQTTClient } from "../mod.ts";
import { fileStore } from "./_file_store.ts";

const cfg = JSON.parse(Deno.args[0]);
const out = (s: string) => Deno.stdout.writeSync(new TextEncoder().encode(s + "\n"));
const store = fileStore(cfg.store, (what) => out(`STORE ${what}`));
const client = new MQTTClient(cfg.id, "127.0.0.1", {
  port: cfg.port,
  protocolVersion: cfg.version ?? 4,
  keepalive: 0,
  connectTimeout: 5000,
  sessionStore: store,
  ...(cfg.expiry !== undefined ? { sessionExpiryInterval: cfg.expiry } : {}),
});
const text = (b: Uint8Array) => new TextDecoder().decode(b);
try {
  const sp = await client.connect(cfg.clean);
  out(`CONNECTED ${sp}`);
} catch (e) {
  out(`CONNECTFAILED ${e}`);
  Deno.exit(3);
}
const lines = Deno.stdin.readable.pipeThrough(new TextDecoderStream());
let buf = "";
for await (const chunk of lines) {
  buf += chunk;
  let nl;
  while ((nl = buf.indexOf("\n")) >= 0) {
    const [cmd, ...args] = buf.slice(0, nl).split(" ");
    buf = buf.slice(nl + 1);
    if (cmd === "pub") {
      const [qos, payload] = args;
      client.publish(cfg.topic, payload, false, Number(qos) as 1 | 2).then(
        () => out(`ACKED ${payload}`),
        (e) => out(`REJECTED ${payload} ${e}`),
      );
      out(`CALLED ${payload}`);
    } else if (cmd === "sub") {
      await client.subscribe(cfg.topic, Number(args[0]) as 1 | 2);
      out("SUBSCRIBED");
      client.set_callback(async (_t, msg, m) => {
        out(`HANDLING ${text(msg)} dup=${m.dup}`);
        if (cfg.block !== false && text(msg).startsWith("block")) await new Promise(() => {});
      });
      (async () => {
        for (;;) {
          await client.wait_msg({}).then(undefined, (e) => {
            out(`WAITFAILED ${e}`);
            return new Promise((r) => setTimeout(r, 200));
          });
        }
      })();
    } else if (cmd === "exit") {
      await client.disconnect();
      out("EXITED");
      Deno.exit(0);
    }
  }
}
