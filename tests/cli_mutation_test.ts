// Gaps found by mutation testing of lib/cli/ (session s59, area mutation11): behaviour of
// `umqtt pub` / `umqtt sub` the other CLI tests left open. Broker-free where it can be: the
// parsers and the formatter are called in-process.
import assert from "node:assert/strict";
import { forEachBroker, freePort } from "./_brokers.ts";
import { test, uniqueId } from "./_test.ts";
import { at, cli, subscribed } from "./_cli.ts";
import { parsePubArgs, parseSubArgs } from "../lib/cli/_args.ts";
import { escapePayload, formatter, jsonLine } from "../lib/cli/_format.ts";
import type { Message } from "../mod.ts";

const pub = (...a: string[]) => parsePubArgs(["-t", "t", "-m", "x", ...a]);
const sub = (...a: string[]) => parseSubArgs(["-t", "t", ...a]);

test("--name=value: the value is what follows the =, for every flag that takes one", () => {
  assert.equal(parsePubArgs(["--topic=a/b", "--message=hi"]).topic, "a/b");
  assert.deepEqual(parsePubArgs(["--topic=a/b", "--message=hi"]).source, {
    kind: "message",
    text: "hi",
  });
  assert.equal(pub("--port=1884").port, 1884);
  assert.equal(pub("--keepalive=30").keepalive, 30);
  // Only the first = splits: the value may hold one.
  assert.equal(pub("--username=a=b").user, "a=b");
  assert.throws(() => pub("--retain=1"), {
    name: "UsageError",
    message: "--retain takes no value",
  });
});

test("-k / --keepalive: 0 to 65535, as MQTT's Keep Alive field holds", () => {
  for (const flag of ["-k", "--keepalive"]) {
    assert.equal(pub(flag, "0").keepalive, 0);
    assert.equal(pub(flag, "65535").keepalive, 65535);
    for (const bad of ["-1", "65536"]) {
      assert.throws(() => pub(flag, bad), {
        name: "UsageError",
        message: `${flag} ${bad}: must be an integer from 0 to 65535`,
      });
    }
  }
});

test("-x: 4294967295 is the largest interval (never expires), 4294967296 is refused", () => {
  assert.equal(sub("-V", "5", "-i", "x", "-x", "4294967295").sessionExpiry, 0xffffffff);
  assert.equal(sub("-V", "5", "-x", "4294967294").sessionExpiry, 4294967294);
  assert.throws(() => sub("-V", "5", "-x", "4294967296"), {
    name: "UsageError",
    message: /^-x 4294967296: must be an integer from 0 to 4294967295/,
  });
});

test("the defaults: what pub and sub do without the optional flags", () => {
  const connection = {
    host: "localhost",
    port: 0,
    scheme: "mqtt",
    wsPath: "/mqtt",
    keepalive: 60,
    qos: 0,
    willQos: 0,
    willRetain: false,
    debug: false,
    quiet: false,
    persistent: false,
    help: false,
    version: 4,
    properties: {
      connect: {},
      publish: {},
      subscribe: {},
      unsubscribe: {},
      disconnect: {},
      will: {},
    },
  };
  assert.deepEqual(parseSubArgs(["-t", "t"]), {
    ...connection,
    topics: ["t"],
    filterOut: [],
    unsubscribe: [],
    verbose: false,
    // No -C: no end; no -W: no time limit.
    count: 0,
    timeout: 0,
    noRetained: false,
    retainedOnly: false,
    // Retained messages are left alone unless --remove-retained asks.
    removeRetained: false,
    exitAfterSubscribe: false,
    eol: true,
    json: false,
    retainAsPublished: false,
  });
  assert.deepEqual(parsePubArgs(["-t", "t", "-n"]), {
    ...connection,
    topic: "t",
    source: { kind: "null" },
    retain: false,
    repeat: 1,
    repeatDelay: 0,
  });
});

test("sub's flags without a value each set what they name", () => {
  const cases: [string, Record<string, unknown>][] = [
    ["-v", { verbose: true }],
    ["--verbose", { verbose: true }],
    ["-R", { noRetained: true }],
    ["--no-retained", { noRetained: true }],
    ["--retained-only", { retainedOnly: true }],
    ["--remove-retained", { removeRetained: true }],
    ["-E", { exitAfterSubscribe: true }],
    ["-N", { eol: false }],
    ["--no-eol", { eol: false }],
    ["--json", { json: true }],
    ["-c", { persistent: true }],
    ["--disable-clean-session", { persistent: true }],
    ["-d", { debug: true }],
    ["--debug", { debug: true }],
    ["--quiet", { quiet: true }],
    ["--help", { help: true }],
  ];
  for (const [flag, want] of cases) {
    const o = sub("-i", "id", flag) as unknown as Record<string, unknown>;
    for (const [k, v] of Object.entries(want)) assert.equal(o[k], v, flag);
  }
  assert.equal(sub("-V", "5", "--retain-as-published").retainAsPublished, true);
});

test("pub's message sources that take no value: -s, -l, -n and their long names", () => {
  for (
    const [flag, kind] of [
      ["-s", "stdin"],
      ["--stdin-file", "stdin"],
      ["-l", "lines"],
      ["--stdin-line", "lines"],
      ["-n", "null"],
      ["--null-message", "null"],
    ]
  ) {
    // Last on the command line: a flag that wanted a value would say it needs one.
    assert.deepEqual(parsePubArgs(["-t", "t", flag]).source, { kind }, flag);
  }
});

test("-C, -W and --repeat: their bounds, each way", () => {
  for (const flag of ["-C", "--count"]) {
    assert.equal(sub(flag, "1").count, 1);
    assert.throws(() => sub(flag, "0"), {
      name: "UsageError",
      message: `${flag} 0: must be an integer from 1 to ${Number.MAX_SAFE_INTEGER}`,
    });
  }
  for (const flag of ["-W", "--timeout"]) {
    assert.equal(sub(flag, "1").timeout, 1);
    assert.equal(sub(flag, "2147483").timeout, 2147483);
    for (const bad of ["0", "2147484"]) {
      assert.throws(() => sub(flag, bad), {
        name: "UsageError",
        message: `${flag} ${bad}: must be an integer from 1 to 2147483`,
      });
    }
  }
  assert.equal(pub("--repeat", "1").repeat, 1);
  assert.equal(pub("--repeat", String(2 ** 31)).repeat, 2 ** 31);
  for (const bad of ["0", String(2 ** 31 + 1)]) {
    assert.throws(() => pub("--repeat", bad), {
      name: "UsageError",
      message: `--repeat ${bad}: must be an integer from 1 to ${2 ** 31}`,
    });
  }
});

test("MQTT 5 -c with an expiring session needs no client id; one that never expires does", () => {
  // mosquitto's rule: only a session kept for ever must be found again by its id.
  assert.equal(sub("-V", "5", "-c", "-x", "60").persistent, true);
  assert.equal(sub("-c", "-D", "connect", "session-expiry-interval", "60").version, 5);
  assert.throws(() => sub("-V", "5", "-c"), /-c needs a client id \(-i\)/);
  assert.throws(() => sub("-c"), /-c needs a client id \(-i\)/);
  assert.throws(() => sub("-V", "5", "-x", "-1"), /never expires needs a client id/);
});

test("--help alone is enough: no topic or message needed; without it both are", () => {
  assert.equal(parsePubArgs(["--help"]).help, true);
  assert.equal(parseSubArgs(["--help"]).help, true);
  assert.throws(() => parsePubArgs(["-t", "t"]), {
    name: "UsageError",
    message: "a message is needed: one of -m, -f, -s, -l or -n",
  });
});

test("-D: integer properties at their bounds, topics without wildcards, binary up to 65535 bytes", () => {
  const p = (...a: string[]) => pub("-i", "id", "-D", ...a).properties;
  assert.equal(
    p("publish", "message-expiry-interval", "4294967295").publish.messageExpiryInterval,
    0xffffffff,
  );
  assert.equal(
    p("connect", "session-expiry-interval", "4294967295").connect.sessionExpiryInterval,
    0xffffffff,
  );
  assert.throws(() => p("connect", "session-expiry-interval", "4294967296"), /0 to 4294967295/);
  assert.equal(p("connect", "topic-alias-maximum", "65535").connect.topicAliasMaximum, 65535);
  assert.equal(p("connect", "maximum-packet-size", "2").connect.maxPacketSize, 2);
  for (
    const [prop, bad, range] of [
      ["message-expiry-interval", "4294967296", "0 to 4294967295"],
      ["topic-alias-maximum", "65536", "0 to 65535"],
      ["maximum-packet-size", "1", "2 to 268435460"],
    ]
  ) {
    const command = prop === "message-expiry-interval" ? "publish" : "connect";
    assert.throws(() => p(command, prop, bad), {
      name: "UsageError",
      message: `-D ${command} ${prop} ${bad}: must be an integer from ${range}`,
    });
  }
  for (const bad of ["", "a/+", "a/#"]) {
    assert.throws(() => p("publish", "response-topic", bad), /must be a topic name/, bad);
  }
  const big = "x".repeat(65535);
  assert.equal(p("publish", "correlation-data", big).publish.correlationData, big);
  assert.throws(() => p("publish", "correlation-data", big + "x"), /65536 bytes, over the limit/);
});

const msg = (payload: Uint8Array | string, retain = false): Message => ({
  topic: "t",
  payload: typeof payload === "string" ? new TextEncoder().encode(payload) : payload,
  qos: 0,
  retain,
  dup: false,
});
const print = (format: string, m: Message, now = new Date()) =>
  new TextDecoder().decode(
    formatter({ verbose: false, eol: false, format, json: false, terminal: false }, () => now)(m),
  );

test("on a terminal, a payload that is not UTF-8 keeps a blank and escapes DEL", () => {
  assert.equal(
    new TextDecoder().decode(escapePayload(new Uint8Array([0xff, 0x20, 0x7e, 0x7f]))),
    "\\xff ~\\x7f",
  );
});

test("%j and --json: a retained message has retain 1", () => {
  assert.match(jsonLine(msg("x", true)), /"retain":1,/);
  assert.match(jsonLine(msg("x", false)), /"retain":0,/);
});

test("-F: a \\ escape prints its character; @C is the century; @Z a zone name", () => {
  assert.equal(print("%t\\t%p\\n", msg("x")), "t\tx\n");
  assert.equal(print("@C", msg(""), new Date(2000, 5, 1)), "20");
  assert.match(print("@Z", msg("")), /^[A-Z+-]/);
});

test("-F %I and @z: a whole-hour offset from UTC prints its hours (Europe/Paris in January: +0100)", async () => {
  // The zone is read when the process starts: the formatter runs in a child with TZ set.
  const code = `
    import { formatter } from ${
    JSON.stringify(new URL("../lib/cli/_format.ts", import.meta.url).href)
  };
    const f = formatter({ verbose: false, eol: false, format: "%I|@z", json: false, terminal: false },
      () => new Date(Date.UTC(2026, 0, 15, 12, 0, 0)));
    console.log(new TextDecoder().decode(f({ topic: "t", payload: new Uint8Array(0), qos: 0, retain: false, dup: false })));
  `;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--quiet", code],
    env: { TZ: "Europe/Paris" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  assert.equal(out.code, 0, dec.decode(out.stderr));
  assert.equal(dec.decode(out.stdout), "2026-01-15T13:00:00+0100|+0100\n");
});

forEachBroker("pub -l: a last line of one byte without \\n is published too", async (b) => {
  const topic = uniqueId("cli-mut-l");
  const sub = await subscribed([...at(b), "-t", topic, "-C", "2"]);
  const pub = await cli(["pub", ...at(b), "-t", topic, "-l", "-q", "1"], "ab\nc");
  assert.equal(pub.code, 0, pub.stderr);
  const r = await sub.result();
  assert.equal(new TextDecoder().decode(r.stdout), "ab\nc\n", r.stderr);
}, { only: ["mosquitto"] });

test("--quiet: a connection error prints nothing, and the exit code still says it (pub and sub)", async () => {
  const port = String(freePort());
  for (const command of [["pub", "-m", "x"], ["sub"]]) {
    const r = await cli([...command, "--quiet", "-h", "127.0.0.1", "-p", port, "-t", "t"]);
    assert.equal(r.code, 3, command[0]);
    assert.equal(r.stderr, "", command[0]);
  }
});
