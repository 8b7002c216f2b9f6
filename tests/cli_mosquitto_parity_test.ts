// `umqtt sub` / `umqtt pub` beside mosquitto_sub / mosquitto_pub 2.0.11, found by running the same
// command lines through both: where a script would have noticed umqtt doing otherwise.
import assert from "node:assert/strict";
import { test } from "./_test.ts";
import { spawnCli } from "./_cli.ts";

test("sub -W bounds the whole run: a broker that never sends CONNACK ends it at -W, as mosquitto_sub's alarm does", async () => {
  // A broker that takes the connection and never answers (mosquitto_sub -W 1 exits after 1 s;
  // umqtt waited for its 30 s CONNACK timeout, the -W timer started only once subscribed).
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const c of listener) conns.push(c);
  })();
  try {
    const sub = spawnCli(["sub", "-h", "127.0.0.1", "-p", String(listener.addr.port), "-t", "t"]
      .concat(["-W", "1"]));
    const r = await sub.result(15000);
    assert.equal(r.code, 4, r.stderr);
    assert.equal(r.stderr, "umqtt sub: timed out\n");
  } finally {
    listener.close();
    await accepting.catch(() => {});
    for (const c of conns) c.close();
  }
});

test("sub stopped by Ctrl-C or SIGTERM before the broker's CONNACK exits 1, not 0 (mosquitto_sub: 255)", async () => {
  // A broker that takes the connection and never answers.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const c of listener) conns.push(c);
  })();
  try {
    for (const signal of ["SIGINT", "SIGTERM"] as const) {
      const sub = spawnCli(["sub", "-h", "127.0.0.1", "-p", String(listener.addr.port), "-t", "t"]
        .concat(["-d"]));
      await sub.waitFor(/-> CONNECT/);
      sub.kill(signal);
      const r = await sub.result();
      assert.equal(r.code, 1, `${signal}: ${r.stderr}`);
      assert.match(r.stderr, /umqtt sub: interrupted before connecting\n/);
    }
  } finally {
    listener.close();
    await accepting.catch(() => {});
    for (const c of conns) c.close();
  }
});
