// `umqtt sub` / `umqtt pub` beside mosquitto_sub / mosquitto_pub 2.0.11, found by running the same
// command lines through both: where a script would have noticed umqtt doing otherwise.
import assert from "node:assert/strict";
import { test } from "./_test.ts";
import { spawnCli, withSilentBroker } from "./_cli.ts";

test("sub -W bounds the whole run: a broker that never sends CONNACK ends it at -W, as mosquitto_sub's alarm does", async () => {
  // A broker that takes the connection and never answers (mosquitto_sub -W 1 exits after 1 s;
  // umqtt waited for its 30 s CONNACK timeout, the -W timer started only once subscribed).
  await withSilentBroker(async (port) => {
    const sub = spawnCli(["sub", "-h", "127.0.0.1", "-p", port, "-t", "t"]
      .concat(["-W", "1"]));
    const r = await sub.result(15000);
    assert.equal(r.code, 4, r.stderr);
    assert.equal(r.stderr, "umqtt sub: timed out\n");
  });
});

test("sub stopped by Ctrl-C or SIGTERM before the broker's CONNACK exits 1, not 0 (mosquitto_sub: 255)", async () => {
  // A broker that takes the connection and never answers.
  await withSilentBroker(async (port) => {
    for (const signal of ["SIGINT", "SIGTERM"] as const) {
      const sub = spawnCli(["sub", "-h", "127.0.0.1", "-p", port, "-t", "t"]
        .concat(["-d"]));
      await sub.waitFor(/-> CONNECT/);
      sub.kill(signal);
      const r = await sub.result();
      assert.equal(r.code, 1, `${signal}: ${r.stderr}`);
      assert.match(r.stderr, /umqtt sub: interrupted before connecting\n/);
    }
  });
});
