// The client over mosquitto's WebSocket listener, through the default
// connector (ws:// URL) and the WebSocket adapter, under Deno.
import assert from "node:assert/strict";
import { MQTTClient } from "../mod.ts";
import { startMosquitto } from "./_brokers.ts";
import { test, uniqueId } from "./_test.ts";

const CHILD = new URL("./_exit_after_disconnect.ts", import.meta.url).pathname;

test(
  "disconnect() over WebSocket resolves once the DISCONNECT is out: exiting right after leaves no will",
  async () => {
    const broker = await startMosquitto({ websockets: true });
    try {
      for (let i = 0; i < 3; i++) {
        const willTopic = uniqueId("ws-exit");
        const watcher = new MQTTClient(uniqueId("ws-watch"), broker.host, { port: broker.port });
        await watcher.connect();
        await watcher.subscribe(willTopic);
        const child = await new Deno.Command(Deno.execPath(), {
          args: ["run", "-A", "--quiet", CHILD, `${broker.wsUrl}/mqtt`, willTopic],
          stdout: "piped",
          stderr: "piped",
        }).output();
        assert.equal(child.code, 0, new TextDecoder().decode(child.stderr));
        // A will, had the broker seen the connection drop without DISCONNECT,
        // would be here by now (the broker publishes it as the socket closes).
        await watcher.ping();
        await new Promise((r) => setTimeout(r, 200));
        const will = await watcher.check_msg();
        await watcher.disconnect();
        assert.equal(will, undefined, `round ${i}: the broker published the will`);
      }
    } finally {
      await broker.stop();
    }
  },
  { mosquitto: true },
);
