// `umqtt pub` / `umqtt sub` run as subprocesses (`deno run -A lib/cli/mod.ts`)
// against real brokers: output formats, exit codes, TLS, credentials, Ctrl-C,
// a broker restart, and interop with mosquitto_pub/mosquitto_sub.
import assert from "node:assert/strict";
import { brokerKinds, forEachBroker, startMosquitto } from "./_brokers.ts";
import { makeCerts, type TestCerts } from "./_certs.ts";
import { test, uniqueId, withTimeout } from "./_test.ts";
import { at, cli, ENTRY, run, spawnCli, subscribed, withSilentBroker } from "./_cli.ts";
import { escapePayload } from "../lib/cli/_format.ts";
import { parsePubArgs, parseSubArgs } from "../lib/cli/_args.ts";

const hasMosquitto = brokerKinds().includes("mosquitto");
const enc = new TextEncoder();
const dec = new TextDecoder();

forEachBroker("sub -v prints `topic payload` for a pub -m at QoS 1", async (b) => {
  const topic = `${uniqueId("cli")}/text`;
  const sub = await subscribed([
    ...at(b),
    "-t",
    `${topic.split("/")[0]}/#`,
    "-q",
    "1",
    "-v",
    "-C",
    "1",
  ]);
  const pub = await cli(["pub", ...at(b), "-t", topic, "-m", "héllo wörld", "-q", "1"]);
  assert.equal(pub.code, 0, pub.stderr);
  assert.equal(pub.stderr, "");
  const r = await sub.result();
  assert.equal(r.code, 0, r.stderr);
  assert.equal(dec.decode(r.stdout), `${topic} héllo wörld\n`);
});

forEachBroker("binary payloads go through byte for byte (-f file, -s stdin, -N)", async (b) => {
  const topic = uniqueId("cli-bin");
  const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
  const file = await Deno.makeTempFile();
  try {
    await Deno.writeFile(file, bytes);
    const sub = await subscribed([...at(b), "-t", topic, "-C", "2", "-N"]);
    assert.equal((await cli(["pub", ...at(b), "-t", topic, "-f", file])).code, 0);
    assert.equal((await cli(["pub", ...at(b), "-t", topic, "-s"], bytes.toReversed())).code, 0);
    const r = await sub.result();
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout, new Uint8Array([...bytes, ...bytes.toReversed()]));
  } finally {
    await Deno.remove(file);
  }
});

forEachBroker("pub -l publishes one message per stdin line, a blank one empty", async (b) => {
  const topic = uniqueId("cli-lines");
  const sub = await subscribed([...at(b), "-t", topic, "-q", "1", "-C", "4", "-F", "%l:%p"]);
  const pub = await cli(["pub", ...at(b), "-t", topic, "-l", "-q", "1"], "one\ntwo\n\nthree");
  assert.equal(pub.code, 0, pub.stderr);
  const r = await sub.result();
  // mosquitto_pub 2.0 publishes an empty message for a blank line too.
  assert.equal(dec.decode(r.stdout), "3:one\n3:two\n0:\n5:three\n");
  const again = await subscribed([...at(b), "-t", topic, "-C", "3"]);
  assert.equal((await cli(["pub", ...at(b), "-t", topic, "-m", "x", "--repeat", "3"])).code, 0);
  assert.equal(dec.decode((await again.result()).stdout), "x\nx\nx\n");
});

forEachBroker(
  "pub -s with empty stdin publishes nothing and fails, as mosquitto_pub",
  async (b) => {
    const topic = uniqueId("cli-empty");
    assert.equal(
      (await cli(["pub", ...at(b), "-t", topic, "-m", "kept", "-r", "-q", "1"])).code,
      0,
    );
    // An empty retained message would delete the retained one.
    const empty = await cli(["pub", ...at(b), "-t", topic, "-s", "-r", "-q", "1", "-d"], "");
    assert.equal(empty.code, 1);
    assert.equal(
      empty.stderr,
      "umqtt pub: -s: stdin is empty (zero-length input); -n publishes an empty message\n",
    );
    const r = await cli(["sub", ...at(b), "-t", topic, "-C", "1"]);
    assert.equal(dec.decode(r.stdout), "kept\n");
    assert.equal((await cli(["pub", ...at(b), "-t", topic, "-n", "-r"])).code, 0);
  },
);

forEachBroker("-F and --json print the fields asked for", async (b) => {
  const topic = uniqueId("cli-fmt");
  const fmt = await subscribed([...at(b), "-t", topic, "-C", "2", "-F", "%t|%q|%r|%l|%x|%p%%"]);
  const json = await subscribed([...at(b), "-t", topic, "-C", "2", "--json"]);
  assert.equal((await cli(["pub", ...at(b), "-t", topic, "-m", "hi"])).code, 0);
  assert.equal((await cli(["pub", ...at(b), "-t", topic, "-s"], Uint8Array.of(0, 0xff))).code, 0);
  const f = await fmt.result();
  assert.equal(f.code, 0, f.stderr);
  assert.deepEqual(
    f.stdout,
    new Uint8Array([
      ...enc.encode(`${topic}|0|0|2|6869|hi%\n${topic}|0|0|2|00ff|`),
      0,
      0xff,
      ...enc.encode("%\n"),
    ]),
  );
  const j = await json.result();
  const lines = dec.decode(j.stdout).trimEnd().split("\n").map((l) => JSON.parse(l));
  for (const l of lines) assert.match(l.tst, /^\d{4}-\d\d-\d\dT/), delete l.tst;
  assert.deepEqual(lines, [
    { topic, qos: 0, retain: 0, payloadlen: 2, payload: "hi" },
    { topic, qos: 0, retain: 0, payloadlen: 2, payload: "AP8=", encoding: "base64" },
  ]);
});

forEachBroker("retained: pub -r is printed with %r=1; sub -R skips it", async (b) => {
  const topic = uniqueId("cli-ret");
  assert.equal((await cli(["pub", ...at(b), "-t", topic, "-m", "old", "-r", "-q", "1"])).code, 0);
  const all = await cli(["sub", ...at(b), "-t", topic, "-C", "1", "-F", "%r %p"]);
  assert.equal(dec.decode(all.stdout), "1 old\n");
  const fresh = await subscribed([...at(b), "-t", topic, "-C", "1", "-R", "-F", "%r %p"]);
  assert.equal((await cli(["pub", ...at(b), "-t", topic, "-m", "new"])).code, 0);
  const r = await fresh.result();
  assert.equal(dec.decode(r.stdout), "0 new\n");
  // Clear the retained message: an empty retained publish.
  assert.equal((await cli(["pub", ...at(b), "-t", topic, "-n", "-r"])).code, 0);
});

forEachBroker("-W with no message exits 4 with `timed out` and prints nothing", async (b) => {
  const r = await cli(["sub", ...at(b), "-t", uniqueId("cli-w"), "-W", "1"]);
  assert.equal(r.code, 4);
  assert.equal(r.stdout.length, 0);
  assert.equal(r.stderr, "umqtt sub: timed out\n");
});

forEachBroker("-T filters topics out; -C counts only what is printed", async (b) => {
  const root = uniqueId("cli-t");
  const sub = await subscribed([
    ...at(b),
    "-t",
    `${root}/#`,
    "-T",
    `${root}/noise/#`,
    "-v",
    "-C",
    "1",
  ]);
  assert.equal((await cli(["pub", ...at(b), "-t", `${root}/noise/x`, "-m", "no"])).code, 0);
  assert.equal((await cli(["pub", ...at(b), "-t", `${root}/signal`, "-m", "yes"])).code, 0);
  assert.equal(dec.decode((await sub.result()).stdout), `${root}/signal yes\n`);
});

test("-T takes only valid topic filters: a bad one is a usage error, as with mosquitto_sub", async () => {
  // mosquitto_sub: "Error: Invalid filter topic 'tt/#/y', are all '+' and '#' wildcards correct?"
  const r = await cli(["sub", "-t", "tt/#", "-T", "tt/#/y"]);
  assert.equal(r.code, 2);
  assert.equal(
    r.stderr,
    `umqtt sub: -T tt/#/y: not a valid topic filter: "#" must be the last character and a whole ` +
      "level (MQTT-4.7.1-2) (see --help)\n",
  );
  assert.throws(
    () => parseSubArgs(["-t", "a/#", "--filter-out", "a/b+"]),
    /^UsageError: --filter-out a\/b\+: not a valid topic filter: "\+" must occupy a whole level/,
  );
  assert.throws(
    () => parseSubArgs(["-t", "a/#", "-T", ""]),
    /^UsageError: -T "": not a valid topic filter: a topic filter must be at least one/,
  );
  assert.deepEqual(parseSubArgs(["-t", "#", "-T", "a/+/c", "-T", "$SYS/#"]).filterOut, [
    "a/+/c",
    "$SYS/#",
  ]);
});

forEachBroker("pub -q 2 reaches a QoS 2 subscriber", async (b) => {
  const topic = uniqueId("cli-q2");
  const sub = await subscribed([...at(b), "-t", topic, "-q", "2", "-C", "1", "-F", "%q %p"]);
  const pub = await cli(["pub", ...at(b), "-t", topic, "-m", "exactly once", "-q", "2"]);
  assert.equal(pub.code, 0, pub.stderr);
  assert.equal(dec.decode((await sub.result()).stdout), "2 exactly once\n");
});

forEachBroker("-d traces packets without payloads or passwords", async (b) => {
  const topic = uniqueId("cli-d");
  const r = await cli([
    "pub",
    ...at(b),
    "-t",
    topic,
    "-m",
    "sekret-payload",
    "-q",
    "1",
    "-d",
    ...(b.name === "aedes" ? ["-u", "someone", "-P", "sekret-password"] : []),
  ]);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stderr.trimEnd().split("\n");
  assert.deepEqual(lines.map((l) => l.split(" ").slice(2, 4).join(" ")), [
    "-> CONNECT",
    "<- CONNACK",
    "-> PUBLISH",
    "<- PUBACK",
    "-> DISCONNECT",
  ]);
  assert.match(
    lines[2],
    new RegExp(
      `^umqtt pub: -> PUBLISH d0 q1 r0, id \\d+, "${topic}", 14-byte payload \\(\\d+ bytes\\)$`,
    ),
  );
  assert.doesNotMatch(r.stderr, /sekret/);
});

forEachBroker("bad arguments exit 2 with a one-line message", async (b) => {
  const bad = await cli(["sub", ...at(b), "-t", "x", "--bogus"]);
  assert.equal(bad.code, 2);
  assert.equal(bad.stderr, "umqtt sub: unknown option --bogus (see --help)\n");
  const noTopic = await cli(["pub", ...at(b), "-m", "x"]);
  assert.equal(noTopic.code, 2);
  assert.equal(
    noTopic.stderr,
    "umqtt pub: a topic is needed: -t topic or -L URL/topic (see --help)\n",
  );
  const qos = await cli(["pub", ...at(b), "-t", "x", "-m", "x", "-q", "3"]);
  assert.equal(qos.code, 2);
  assert.equal(qos.stderr, "umqtt pub: -q 3: must be an integer from 0 to 2 (see --help)\n");
  const wildcard = await cli(["pub", ...at(b), "-t", "a/+", "-m", "x"]);
  assert.equal(wildcard.code, 2);
  assert.match(wildcard.stderr, /^umqtt pub: .*wildcard.*\n$/);
  const help = await cli(["sub", "--help"]);
  assert.equal(help.code, 0);
  assert.match(dec.decode(help.stdout), /Exit codes:/);
}, { only: ["aedes"] });

test("pub takes one message source: a second -m (or -n after -m) is a usage error", async () => {
  // mosquitto_pub: "Error: Only one type of message can be sent at once." (a repeat included).
  const twice = await cli(["pub", "-t", "t", "-m", "first", "-m", "second"]);
  assert.equal(twice.code, 2);
  assert.equal(
    twice.stderr,
    "umqtt pub: -m: only one message may be given, and -m gave one already (see --help)\n",
  );
  assert.throws(
    () => parsePubArgs(["-t", "t", "--message", "x", "-n"]),
    /^UsageError: -n: only one message may be given, and --message gave one already$/,
  );
  for (const flag of ["-s", "-l", "-n"]) {
    assert.throws(() => parsePubArgs(["-t", "t", flag, flag]), new RegExp(`^UsageError: ${flag}:`));
  }
  assert.throws(() => parsePubArgs(["-t", "t", "-f", "a", "--file", "b"]), /^UsageError: --file:/);
});

test("a closed port exits 3 with the socket's reason", async () => {
  // A port from the ephemeral range just released: nothing listens there.
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  const r = await cli(["sub", "-h", "127.0.0.1", "-p", String(port), "-t", "x"]);
  assert.equal(r.code, 3);
  assert.match(r.stderr, /^umqtt sub: Cannot connect to 127\.0\.0\.1:\d+: .*refused.*\n$/i);
});

test(
  "wrong credentials exit 15 (CONNACK 5) with the broker's reason; right ones work",
  async () => {
    const broker = await startMosquitto({ passwordFile: [{ user: "alice", password: "wonder" }] });
    try {
      const wrong = await cli([
        "pub",
        ...at(broker),
        "-u",
        "alice",
        "-P",
        "nope",
        "-t",
        "t",
        "-m",
        "x",
      ]);
      assert.equal(wrong.code, 15);
      assert.equal(
        wrong.stderr,
        "umqtt pub: Connection refused: not authorized (CONNACK return code 5)\n",
      );
      // MQTT 5 says it with a reason code (0x87); the exit code is the 3.1.1 one it stands for.
      const wrong5 = await cli([
        ...["pub", ...at(broker), "-V", "5", "-u", "alice", "-P", "nope", "-t", "t", "-m", "x"],
      ]);
      assert.equal(wrong5.code, 15);
      assert.equal(
        wrong5.stderr,
        "umqtt pub: Connection refused: Not authorized (CONNACK reason code 0x87)\n",
      );
      const right = await cli([
        "pub",
        ...at(broker),
        "-u",
        "alice",
        "-P",
        "wonder",
        "-t",
        "t",
        "-m",
        "x",
      ]);
      assert.equal(right.code, 0, right.stderr);
      const url = await cli([
        "pub",
        "-L",
        `mqtt://alice:wonder@127.0.0.1:${broker.port}/t`,
        "-m",
        "x",
      ]);
      assert.equal(url.code, 0, url.stderr);
    } finally {
      await broker.stop();
    }
  },
  { mosquitto: true },
);

const certs: TestCerts | undefined = hasMosquitto ? makeCerts() : undefined;
globalThis.addEventListener?.("unload", () => certs?.remove());

test("TLS with --cafile: sub and pub over mqtts; without the CA it fails with exit 3", async () => {
  const c = certs!;
  const broker = await startMosquitto({
    tls: c.serverTls(),
  });
  try {
    const topic = uniqueId("cli-tls");
    const tls = ["-h", "127.0.0.1", "-p", String(broker.tlsPort), "--cafile", c.path("ca.pem")];
    const sub = await subscribed([...tls, "-t", topic, "-C", "1"]);
    const pub = await cli([
      "pub",
      "-L",
      `mqtts://127.0.0.1:${broker.tlsPort}/${topic}`,
      "--cafile",
      c.path("ca.pem"),
      "-m",
      "secret",
    ]);
    assert.equal(pub.code, 0, pub.stderr);
    assert.equal(dec.decode((await sub.result()).stdout), "secret\n");
    const untrusted = await cli([
      "pub",
      "-L",
      `mqtts://127.0.0.1:${broker.tlsPort}/${topic}`,
      "-m",
      "x",
    ]);
    assert.equal(untrusted.code, 3);
    assert.match(untrusted.stderr, /^umqtt pub: .*certificate.*\n$/i);
  } finally {
    await broker.stop();
  }
}, { mosquitto: true });

forEachBroker(
  "interop: mosquitto_sub gets umqtt pub's messages, umqtt sub gets mosquitto_pub's",
  async (b) => {
    const topic = uniqueId("cli-mosq");
    const port = String(b.port);
    // mosquitto_sub's -d shows its SUBACK; wait for it as for ours.
    // stdbuf: mosquitto_sub's -d lines would sit in stdio's buffer, stdout being a pipe.
    const theirs = new Deno.Command("stdbuf", {
      args: [
        "-oL",
        "mosquitto_sub",
        "-h",
        b.host,
        "-p",
        port,
        "-t",
        topic,
        "-C",
        "2",
        "-v",
        "-q",
        "1",
        "-d",
      ],
      stdout: "piped",
      stderr: "null",
    }).spawn();
    const ours = await subscribed([...at(b), "-t", topic, "-C", "2", "-v", "-q", "1"]);
    const stdout = theirs.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let seen = "";
    while (!seen.includes("received SUBACK")) {
      const { value } = await withTimeout(stdout.read(), 15000, `mosquitto_sub's SUBACK: ${seen}`);
      seen += value ?? "";
    }
    assert.equal(
      (await cli(["pub", ...at(b), "-t", topic, "-m", "from umqtt", "-q", "1"])).code,
      0,
    );
    const mp = await run("mosquitto_pub", [
      "-h",
      b.host,
      "-p",
      port,
      "-t",
      topic,
      "-m",
      "from mosquitto",
      "-q",
      "1",
    ]);
    assert.equal(mp.code, 0, mp.stderr);
    for (;;) {
      const { value, done } = await withTimeout(stdout.read(), 15000, "mosquitto_sub's output");
      if (done) break;
      seen += value;
    }
    assert.equal((await theirs.status).code, 0);
    const printed = seen.split("\n").filter((l) => l.startsWith(topic));
    assert.deepEqual(printed, [`${topic} from umqtt`, `${topic} from mosquitto`]);
    assert.equal(
      dec.decode((await ours.result()).stdout),
      `${topic} from umqtt\n${topic} from mosquitto\n`,
    );
  },
  { ignore: !hasMosquitto },
);

forEachBroker("Ctrl-C sends DISCONNECT, exits 0, and the will is not published", async (b) => {
  const willTopic = uniqueId("cli-will");
  const watcher = await subscribed([...at(b), "-t", willTopic, "-C", "1"]);
  const sub = await subscribed([
    ...at(b),
    "-t",
    uniqueId("cli-int"),
    "--will-topic",
    willTopic,
    "--will-payload",
    "died",
  ]);
  sub.kill("SIGINT");
  const r = await sub.result();
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /-> CONNECT .*will "cli-will-[0-9a-f]+" q0 r0 4-byte payload/);
  assert.match(r.stderr, /-> DISCONNECT \(2 bytes\)\n$/);
  // Had the will gone out, the watcher would print it before this.
  assert.equal((await cli(["pub", ...at(b), "-t", willTopic, "-m", "sentinel"])).code, 0);
  assert.equal(dec.decode((await watcher.result()).stdout), "sentinel\n");
});

test("a long sub survives a mosquitto restart, says so on stderr, and keeps printing", async () => {
  const broker = await startMosquitto();
  try {
    assert.ok(broker.restart, "the harness can restart mosquitto");
    const topic = uniqueId("cli-restart");
    const id = uniqueId("cli-rs");
    const sub = await subscribed([...at(broker), "-i", id, "-t", topic, "-C", "2", "-q", "1"]);
    assert.equal(
      (await cli(["pub", ...at(broker), "-t", topic, "-m", "before", "-q", "1"])).code,
      0,
    );
    await broker.restart!();
    await sub.waitFor(/umqtt sub: reconnected to 127\.0\.0\.1:\d+\n/);
    // Clean session: the sub subscribed again before saying so.
    assert.equal(
      (await cli(["pub", ...at(broker), "-t", topic, "-m", "after", "-q", "1"])).code,
      0,
    );
    const r = await sub.result();
    assert.equal(r.code, 0, r.stderr);
    assert.equal(dec.decode(r.stdout), "before\nafter\n");
    assert.match(r.stderr, /umqtt sub: Connection (closed|lost)[^\n]*; reconnecting\n/);
    // One lost connection, said once (the wait for a message failed with the same error).
    assert.equal(r.stderr.match(/; reconnecting\n/g)?.length, 1, r.stderr);
    // Reconnecting resumed a session (connect(false)); without -c none is left behind.
    const probe = await cli(["sub", ...at(broker), "-i", id, "-c", "-t", topic, "-E", "-d"]);
    assert.equal(probe.code, 0, probe.stderr);
    assert.match(probe.stderr, /<- CONNACK session 0, rc 0/);
  } finally {
    await broker.stop();
  }
}, { mosquitto: true });

test("-L ws:// subscribes and publishes over WebSocket", async () => {
  const broker = await startMosquitto({ websockets: true });
  try {
    const topic = uniqueId("cli-ws");
    const sub = await subscribed(["-L", `${broker.wsUrl}/${topic}`, "-C", "1", "-v"]);
    const pub = await cli([
      "pub",
      "-L",
      `${broker.wsUrl}/${topic}`,
      "--ws-path",
      "/mqtt",
      "-m",
      "over ws",
    ]);
    assert.equal(pub.code, 0, pub.stderr);
    assert.equal(dec.decode((await sub.result()).stdout), `${topic} over ws\n`);
  } finally {
    await broker.stop();
  }
}, { mosquitto: true });

forEachBroker(
  "Ctrl-C during pub -l, stdin still open, disconnects cleanly and exits 0",
  async (b) => {
    const topic = uniqueId("cli-pubint");
    const pub = spawnCli(["pub", ...at(b), "-t", topic, "-l", "-q", "1", "-d"], "open");
    await pub.stdin!.write(enc.encode("first\n"));
    await pub.waitFor(/<- PUBACK/);
    pub.kill("SIGINT");
    // Stdin stays open until the DISCONNECT is out: closing it at once
    // raced the signal (end of input also disconnects and exits 0, and
    // Deno's signal thread could then find no listener left: exit 130).
    await pub.waitFor(/-> DISCONNECT/);
    const r = await pub.result();
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /-> DISCONNECT \(2 bytes\)\n$/);
  },
);

test("on a terminal, payloads that are not printable text are escaped", () => {
  const esc = (b: Uint8Array) => dec.decode(escapePayload(b));
  const text = enc.encode("plain\ttext\nwith ünïcode");
  assert.equal(escapePayload(text), text);
  assert.equal(esc(enc.encode("bell\x07 esc\x1b[2J")), "bell\\x07 esc\\x1b[2J");
  assert.equal(esc(Uint8Array.of(0x41, 0x00, 0xff, 0x5c, 0x0a)), "A\\x00\\xff\\\\\\x0a");
});

test("-L takes user, password, host, port and topic; later flags win", () => {
  const o = parseSubArgs([
    "-L",
    "mqtts://al%40ice:p%3Ass@broker.test:8884/a%2Fb/%23",
    "-p",
    "9000",
  ]);
  assert.deepEqual(
    [o.scheme, o.user, o.password, o.host, o.port, o.topics],
    // The topic as typed, as mosquitto takes it; only the user name and password are decoded.
    ["mqtts", "al@ice", "p:ss", "broker.test", 9000, ["a%2Fb/%23"]],
  );
  const w = parsePubArgs(["-L", "ws://[::1]/t", "--ws-path", "ws", "-n"]);
  assert.deepEqual([w.scheme, w.host, w.port, w.topic, w.wsPath], ["ws", "::1", 0, "t", "/ws"]);
  // Wildcards as they are typed: "#" is no URL fragment here.
  assert.deepEqual(parseSubArgs(["-L", "mqtt://h/a/+/#"]).topics, ["a/+/#"]);
  assert.throws(() => parseSubArgs(["-L", "http://h/t"]), /-L http:\/\/h\/t: expected mqtt:\/\//);
});

forEachBroker("-L takes its topic as typed, a % included, as mosquitto_pub does", async (b) => {
  const root = uniqueId("cli-pct");
  const sub = await subscribed([...at(b), "-t", `${root}/#`, "-v", "-C", "2"]);
  const url = `mqtt://${b.host}:${b.port}/${root}`;
  const bad = await cli(["pub", "-L", `${url}/100%`, "-m", "x"]);
  assert.equal(bad.code, 0, bad.stderr);
  const escaped = await cli(["pub", "-L", `${url}/a%20b`, "-m", "y"]);
  assert.equal(escaped.code, 0, escaped.stderr);
  assert.equal(dec.decode((await sub.result()).stdout), `${root}/100% x\n${root}/a%20b y\n`);
  // The user name and password are %-decoded (they cannot hold ":" or "@" otherwise): a bad
  // escape there is a usage error, which shows neither (the password may be the bad one).
  const user = await cli(["pub", "-L", `mqtt://us%zz:pw@${b.host}:${b.port}/t`, "-m", "x"]);
  assert.equal(user.code, 2);
  assert.equal(
    user.stderr,
    `umqtt pub: -L mqtt://…@${b.host}:${b.port}/t: the user name has a % that does not ` +
      "start an escape (%XX, two hex digits) (see --help)\n",
  );
  assert.throws(
    () => parseSubArgs(["-L", "mqtt://u:p%4@h/t"]),
    /^UsageError: -L mqtt:\/\/…@h\/t: the password has a % that does not start an escape/,
  );
});

forEachBroker(
  "--retained-only --remove-retained prints the retained message and clears it",
  async (b) => {
    const topic = uniqueId("cli-rr");
    assert.equal(
      (await cli(["pub", ...at(b), "-t", topic, "-m", "stale", "-r", "-q", "1"])).code,
      0,
    );
    const r = await cli([
      "sub",
      ...at(b),
      "-t",
      topic,
      "--retained-only",
      "--remove-retained",
      "-C",
      "1",
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(dec.decode(r.stdout), "stale\n");
    const after = await cli(["sub", ...at(b), "-t", topic, "-W", "1"]);
    assert.equal(after.code, 4);
    assert.equal(after.stdout.length, 0);
  },
);

forEachBroker("on a terminal (script's pty), a binary payload prints escaped", async (b) => {
  const topic = uniqueId("cli-tty");
  const cmd = [Deno.execPath(), "run", "-A", "--quiet", ENTRY, "sub", ...at(b), "-t", topic];
  // script(1) runs the sub on a pseudo-terminal: stdout and stderr both go to it.
  const child = new Deno.Command("script", {
    args: ["-qefc", [...cmd, "-C", "1", "-d"].join(" "), "/dev/null"],
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  while (!seen.includes("<- SUBACK")) {
    const { value, done } = await withTimeout(reader.read(), 15000, `SUBACK on the pty: ${seen}`);
    if (done) break;
    seen += value;
  }
  const payload = Uint8Array.of(0x41, 0x00, 0x1b, 0x5b, 0x32, 0x4a, 0xff, 0x0a);
  assert.equal((await cli(["pub", ...at(b), "-t", topic, "-s"], payload)).code, 0);
  for (;;) {
    const { value, done } = await withTimeout(reader.read(), 15000, `output on the pty: ${seen}`);
    if (done) break;
    seen += value;
  }
  assert.equal((await child.status).code, 0);
  // The pty turns "\n" into "\r\n"; the payload's ESC and bytes that are not UTF-8 come out as text.
  assert.match(seen, /\r\nA\\x00\\x1b\[2J\\xff\\x0a\r\n/);
});

forEachBroker("sub prints a message over 1 MiB, as mosquitto_sub does", async (b) => {
  const topic = uniqueId("cli-big");
  const versions = b.name === "mosquitto" ? [["-V", "311"], ["-V", "5"]] : [[]];
  for (const v of versions) {
    const sub = await subscribed([...at(b), ...v, "-t", topic, "-C", "1", "-F", "%l %X"]);
    const big = new Uint8Array(3 * 1024 * 1024).fill(0xab);
    assert.equal((await cli(["pub", ...at(b), "-t", topic, "-s", "-q", "1"], big)).code, 0);
    const r = await sub.result();
    assert.equal(r.code, 0, r.stderr);
    assert.equal(dec.decode(r.stdout), `${big.length} ${"AB".repeat(big.length)}\n`);
  }
});

forEachBroker(
  "sub prints an empty payload as mosquitto_sub does: topic (null) with -v, else nothing",
  async (b) => {
    // mosquitto_sub 2.0.11, the same two messages (mosquitto_pub -n, then -m x):
    // -v "t (null)\nt x\n", none "x\n", -N -v "t x", -N "x".
    const cases: [string[], (t: string) => string][] = [
      [["-v"], (t) => `${t} (null)\n${t} x\n`],
      [[], () => "x\n"],
      [["-N", "-v"], (t) => `${t} x`],
      [["-N"], () => "x"],
    ];
    for (const [flags, expected] of cases) {
      const topic = uniqueId("cli-empty");
      const sub = await subscribed([...at(b), "-t", topic, "-C", "2", ...flags]);
      assert.equal((await cli(["pub", ...at(b), "-t", topic, "-n"])).code, 0);
      assert.equal((await cli(["pub", ...at(b), "-t", topic, "-m", "x"])).code, 0);
      const { code, stdout } = await sub.result();
      assert.equal(code, 0);
      assert.equal(dec.decode(stdout), expected(topic), `flags ${flags.join(" ")}`);
    }
  },
  { only: ["mosquitto"] },
);

forEachBroker(
  "sub whose reader has gone (| head -1) ends with 0, as mosquitto_sub does",
  async (b) => {
    const topic = uniqueId("cli-head");
    const sub = [Deno.execPath(), "run", "-A", "--quiet", ENTRY, "sub", ...at(b), "-t", topic];
    const script = `${sub.join(" ")} -C 10 -v -d | head -n 1; echo "exit=\${PIPESTATUS[0]}"`;
    const bash = new Deno.Command("bash", {
      args: ["-c", script],
      stdout: "piped",
      stderr: "piped",
    })
      .spawn();
    const stderr = bash.stderr.pipeThrough(new TextDecoderStream()).getReader();
    for (let seen = ""; !seen.includes("<- SUBACK");) {
      const { value, done } = await withTimeout(stderr.read(), 15000, `SUBACK: ${seen}`);
      if (done) throw new Error(`sub ended: ${seen}`);
      seen += value;
    }
    // The first message ends head; a later one finds the pipe closed.
    for (let i = 1; i <= 3; i++) {
      assert.equal((await cli(["pub", ...at(b), "-t", topic, "-m", `m${i}`])).code, 0);
      await new Promise((r) => setTimeout(r, 100));
    }
    const out = await withTimeout(new Response(bash.stdout).text(), 15000, "bash's output");
    await stderr.cancel();
    assert.equal((await bash.status).code, 0);
    assert.equal(out, `${topic} m1\nexit=0\n`);
  },
  { only: ["mosquitto"] },
);

test("--nodelay, as scripts written for mosquitto's tools pass it, is taken and changes nothing", () => {
  const plain = parseSubArgs(["-t", "a/#", "-v"]);
  assert.deepEqual(parseSubArgs(["--nodelay", "-t", "a/#", "-v"]), plain);
  assert.deepEqual(
    parsePubArgs(["-t", "a", "-m", "x", "--nodelay"]),
    parsePubArgs(["-t", "a", "-m", "x"]),
  );
});

test(
  "Ctrl-C or SIGTERM before pub -m's message is published exits 1, not 0 (mosquitto_pub fails too)",
  async () => {
    // A broker that takes the connection and never answers: the message cannot go out.
    await withSilentBroker(async (port) => {
      for (const signal of ["SIGINT", "SIGTERM"] as const) {
        const pub = spawnCli([
          ...["pub", "-h", "127.0.0.1", "-p", port, "-t", "t", "-m", "x"],
          ...["-q", "1", "-d"],
        ]);
        await pub.waitFor(/-> CONNECT/);
        pub.kill(signal);
        const r = await pub.result();
        assert.equal(r.code, 1, `${signal}: ${r.stderr}`);
        assert.match(r.stderr, /umqtt pub: interrupted before the message was published\n/);
      }
    });
  },
);
