// `umqtt sub` / `umqtt pub` beside mosquitto_sub / mosquitto_pub 2.0.11, found by running the same
// command lines through both: where a script would have noticed umqtt doing otherwise.
import assert from "node:assert/strict";
import { test } from "./_test.ts";
import { cli, run, spawnCli, withSilentBroker } from "./_cli.ts";
import { formatter } from "../lib/cli/_format.ts";
import { parsePubArgs, parseSubArgs } from "../lib/cli/_args.ts";

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

test("-F @ prints every strftime conversion of the C locale, as mosquitto_sub's strftime does", async () => {
  // mosquitto_sub passes @X to strftime; umqtt printed "@c", "@g", "@G", "@P", "@r", "@U", "@V",
  // "@W", "@x" and "@X" as "%c" and so on. glibc's `date` is the reference, in the same TZ,
  // on dates where the ISO week-based year and the week numbers turn.
  const seconds = [
    Date.UTC(2026, 11, 7, 7, 24, 17), // Monday
    Date.UTC(2021, 0, 1, 13, 5, 9), // Friday: ISO week 53 of 2020
    Date.UTC(2024, 11, 30, 23, 59, 59), // Monday: ISO week 1 of 2025
    Date.UTC(2023, 0, 1, 0, 0, 0), // Sunday: %U 01, %W 00, ISO week 52 of 2022
    Date.UTC(2020, 1, 29, 12, 0, 0), // leap day, noon
  ].map((ms) => ms / 1000);
  const convs = "aAbBcCdDeFgGhHIjklmMpPrRSTuUVwWxXyY";
  for (const s of seconds) {
    const now = new Date(s * 1000);
    const theirs = (await run("date", [
      "-d",
      `@${s}`,
      "+" + [...convs].map((c) => `%${c}`).join("|"),
    ]))
      .stdout;
    const ours = formatter({
      verbose: false,
      eol: false,
      format: [...convs].map((c) => `@${c}`).join("|"),
      json: false,
      terminal: false,
    }, () => now)({ topic: "t", payload: new Uint8Array(0), qos: 0, retain: false, dup: false });
    assert.equal(
      new TextDecoder().decode(ours),
      new TextDecoder().decode(theirs).trimEnd(),
      `${now}`,
    );
  }
});

test("where umqtt reads the command line otherwise than mosquitto's atoi and -L do (README)", () => {
  // mosquitto_pub -p 1883abc -q 1.0 -k 60.5 --repeat 2.5 connects to 1883 and publishes twice at
  // QoS 1: its atoi reads as far as the digits go. umqtt names the flag instead.
  for (
    const [flag, value] of [["-p", "1883abc"], ["-q", "1.0"], ["-k", "60.5"], ["--repeat", "2.5"]]
  ) {
    assert.throws(() => parsePubArgs(["-t", "t", "-m", "x", flag, value]), {
      name: "UsageError",
      message: new RegExp(`^${flag} ${value.replace(".", "\\.")}: must be an integer`),
    });
  }
  // An empty -L port is the default one (mosquitto: "No such file or directory").
  assert.equal(parseSubArgs(["-L", "mqtt://h:/t"]).port, 0);
  // An empty user name with a password is refused, as -P without -u (mosquitto sends "" and it).
  assert.throws(() => parseSubArgs(["-L", "mqtt://:pw@h/t"]), /-P needs -u/);
  // -U needs no -t (mosquitto_sub: "You must specify a topic to subscribe to").
  assert.deepEqual(parseSubArgs(["-U", "a/#"]).topics, []);
});

test("-h with a bad host exits 2, an unknown one 3, where mosquitto_pub exits 1 for both (README)", async () => {
  // mosquitto_pub says "Unable to connect (Lookup error.)" to both and exits 1; umqtt's exit codes
  // are its own table: a host no name can be (a space) is a bad argument, a name not found a
  // network failure.
  const bad = await cli(["pub", "-h", "bad host", "-t", "t", "-m", "x"]);
  assert.equal(bad.code, 2, bad.stderr);
  assert.match(bad.stderr, /^umqtt pub: Invalid server "bad host": .+\n$/);
  const unknown = await cli(["pub", "-h", "no-such-host.invalid", "-t", "t", "-m", "x"]);
  assert.equal(unknown.code, 3, unknown.stderr);
  assert.match(unknown.stderr, /^umqtt pub: Cannot connect to no-such-host\.invalid:1883: .+\n$/);
});
