// Bugs users reported in mosquitto_pub/mosquitto_sub (and MQTT.js's CLI),
// checked against `umqtt pub` / `umqtt sub`: each test runs umqtt's command
// and, where the README claims mosquitto's behaviour, mosquitto's tool on the
// same input, against real brokers.
import assert from "node:assert/strict";
import { brokerKinds, forEachBroker, freePort, startMosquitto } from "./_brokers.ts";
import { test, uniqueId, withTimeout } from "./_test.ts";
import { at, cli, run, spawnCli, subscribed } from "./_cli.ts";

const hasMosquitto = brokerKinds().includes("mosquitto");
const enc = new TextEncoder();
const dec = new TextDecoder();

/** mosquitto_sub (or another peer) left running, with its stdout so far and a bounded wait on it. */
class Peer {
  stdout = "";
  readonly #child: Deno.ChildProcess;
  readonly #pump: Promise<void>;
  readonly #stderr: Promise<string>;
  #waiters: { re: RegExp; resolve: () => void }[] = [];

  constructor(cmd: string, args: string[]) {
    const child = new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).spawn();
    this.#child = child;
    this.#stderr = new Response(child.stderr).text();
    this.#pump = (async () => {
      for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
        this.stdout += chunk;
        this.#waiters = this.#waiters.filter((w) => w.re.test(this.stdout) ? w.resolve() : true);
      }
    })();
  }

  waitFor(re: RegExp, ms = 15000): Promise<void> {
    if (re.test(this.stdout)) return Promise.resolve();
    const seen = new Promise<void>((resolve) => this.#waiters.push({ re, resolve }));
    return withTimeout(seen, ms, `${re} on stdout; got: ${this.stdout}`);
  }

  kill(signal: Deno.Signal): void {
    this.#child.kill(signal);
  }

  async result(ms = 20000): Promise<{ code: number; stdout: string; stderr: string }> {
    const { code } = await withTimeout(this.#child.status, ms, "mosquitto_sub to exit");
    const [stderr] = await Promise.all([this.#stderr, this.#pump]);
    return { code, stdout: this.stdout, stderr };
  }
}

forEachBroker(
  "--retained-only with -T: a live message on a filtered-out topic ends sub, as it ends mosquitto_sub",
  async (b) => {
    // mosquitto_sub checks --retained-only before -T: the first message that is not retained
    // says the retained ones are over, whatever its topic. umqtt skipped it and waited on.
    const root = uniqueId("peer-ro");
    assert.equal((await cli(["pub", ...at(b), "-t", `${root}/a`, "-m", "kept", "-r"])).code, 0);
    const args = ["-t", `${root}/#`, "--retained-only", "-T", `${root}/skip`, "-v", "-W", "10"];
    const umqtt = await subscribed([...at(b), ...args]);
    const mosq = new Peer("mosquitto_sub", [...at(b), ...args]);
    // The retained message arrives right after the SUBACK: mosquitto_sub has subscribed.
    await mosq.waitFor(/kept\n/);
    assert.equal((await cli(["pub", ...at(b), "-t", `${root}/skip`, "-m", "live"])).code, 0);
    const [u, m] = [await umqtt.result(), await mosq.result()];
    assert.equal(m.code, 0, m.stderr);
    assert.equal(m.stdout, `${root}/a kept\n`);
    assert.equal(u.code, 0, u.stderr);
    assert.equal(dec.decode(u.stdout), m.stdout);
    assert.equal((await cli(["pub", ...at(b), "-t", `${root}/a`, "-n", "-r"])).code, 0);
  },
  { only: ["mosquitto"], ignore: !hasMosquitto },
);

forEachBroker(
  "pub -l: CRLF keeps its \\r, a 300 KB line is one message, a last line without \\n is sent, as by mosquitto_pub",
  async (b) => {
    // mosquitto#131 and #2078 (long lines cut or corrupted at 1024 bytes), #1475 (last line lost).
    const root = uniqueId("peer-l");
    const long = "L".repeat(300_000);
    const input = `a\r\n\nb\r\n${long}\ntail`;
    const sub = await subscribed([
      ...at(b),
      "-t",
      `${root}/+`,
      "-q",
      "1",
      "-C",
      "10",
      "-F",
      "%t %l %x",
    ]);
    const u = await cli(["pub", ...at(b), "-t", `${root}/u`, "-l", "-q", "1"], input);
    assert.equal(u.code, 0, u.stderr);
    const file = await Deno.makeTempFile();
    try {
      await Deno.writeTextFile(file, input);
      const m = await new Deno.Command("sh", {
        args: [
          "-c",
          'exec mosquitto_pub "$@" < "$0"',
          file,
          ...at(b),
          "-t",
          `${root}/m`,
          "-l",
          "-q",
          "1",
        ],
      }).output();
      assert.equal(m.code, 0, dec.decode(m.stderr));
    } finally {
      await Deno.remove(file);
    }
    const r = await sub.result();
    assert.equal(r.code, 0, r.stderr);
    const by = (who: string) =>
      dec.decode(r.stdout).split("\n").filter((l) => l.startsWith(`${root}/${who} `))
        .map((l) => l.slice(root.length + 3));
    const hex = (s: string) =>
      Array.from(enc.encode(s), (x) => x.toString(16).padStart(2, "0")).join("");
    assert.deepEqual(by("u"), [
      "2 610d",
      "0 ",
      "2 620d",
      `300000 ${hex(long)}`,
      `4 ${hex("tail")}`,
    ]);
    assert.deepEqual(by("u"), by("m"));
  },
  { only: ["mosquitto"], ignore: !hasMosquitto },
);

forEachBroker("pub -l: a NUL byte in a line goes out byte for byte", async (b) => {
  // mosquitto_pub 2.0.11 measures a line with strlen: "x\0y" goes out as "x" and the next line is
  // lost. umqtt publishes the bytes it read.
  const topic = uniqueId("peer-nul");
  const sub = await subscribed([...at(b), "-t", topic, "-q", "1", "-C", "2", "-F", "%l %x"]);
  const u = await cli(
    ["pub", ...at(b), "-t", topic, "-l", "-q", "1"],
    Uint8Array.of(0x78, 0, 0x79, 10, 0x7a, 10),
  );
  assert.equal(u.code, 0, u.stderr);
  assert.equal(dec.decode((await sub.result()).stdout), "3 780079\n1 7a\n");
});

forEachBroker(
  "pub -l with empty stdin connects, publishes nothing and exits 0, as mosquitto_pub 2.0 (#676, #1302)",
  async (b) => {
    const topic = uniqueId("peer-l0");
    const u = await cli(["pub", ...at(b), "-t", topic, "-l", "-d"], "");
    assert.equal(u.code, 0, u.stderr);
    assert.match(u.stderr, /<- CONNACK/);
    assert.doesNotMatch(u.stderr, /-> PUBLISH/);
    assert.match(u.stderr, /-> DISCONNECT/);
    const m = await new Deno.Command("sh", {
      args: ["-c", 'exec mosquitto_pub "$@" < /dev/null', "sh", ...at(b), "-t", topic, "-l", "-d"],
    }).output();
    assert.equal(m.code, 0);
    assert.doesNotMatch(dec.decode(m.stdout), /sending PUBLISH/);
    assert.match(dec.decode(m.stdout), /sending DISCONNECT/);
  },
  { only: ["mosquitto"], ignore: !hasMosquitto },
);

forEachBroker(
  "pub -l publishes each line as it is read, stdin still open (MQTT.js#402)",
  async (b) => {
    const topic = uniqueId("peer-live");
    const sub = await subscribed([...at(b), "-t", topic, "-C", "1"]);
    const pub = spawnCli(["pub", ...at(b), "-t", topic, "-l"], "open");
    await pub.stdin!.write(enc.encode("first\n"));
    // The subscriber ends with the first line while the publisher's stdin is still open.
    const r = await sub.result();
    assert.equal(dec.decode(r.stdout), "first\n");
    const p = await pub.result(); // closes stdin: end of input
    assert.equal(p.code, 0, p.stderr);
  },
);

forEachBroker(
  "pub -f: a missing file or a directory fails before connecting; an empty file is an empty message, as with mosquitto_pub",
  async (b) => {
    for (const path of ["/nonexistent/peer-cli", "/tmp"]) {
      const u = await cli(["pub", ...at(b), "-t", "x", "-f", path, "-d"]);
      // umqtt's exit code for a bad argument; mosquitto_pub exits 1 ("Error loading input file").
      assert.equal(u.code, 2, u.stderr);
      assert.match(u.stderr, new RegExp(`^umqtt pub: -f ${path}: cannot read it: `));
      assert.doesNotMatch(u.stderr, /CONNECT/);
      const m = await run("mosquitto_pub", [...at(b), "-t", "x", "-f", path]);
      assert.equal(m.code, 1);
      assert.match(m.stderr, /Error loading input file/);
    }
    const root = uniqueId("peer-f0");
    const empty = await Deno.makeTempFile();
    try {
      const sub = await subscribed([...at(b), "-t", `${root}/+`, "-v", "-C", "2"]);
      assert.equal(
        (await run("mosquitto_pub", [...at(b), "-t", `${root}/m`, "-f", empty])).code,
        0,
      );
      assert.equal((await cli(["pub", ...at(b), "-t", `${root}/u`, "-f", empty])).code, 0);
      assert.equal(dec.decode((await sub.result()).stdout), `${root}/m (null)\n${root}/u (null)\n`);
    } finally {
      await Deno.remove(empty);
    }
  },
  { only: ["mosquitto"], ignore: !hasMosquitto },
);

test("-h ::1 and -L mqtt://[::1]:PORT/topic reach an IPv6 listener", async () => {
  const port6 = freePort();
  const broker = await startMosquitto({ extraConfig: [`listener ${port6} ::1`] });
  try {
    const topic = uniqueId("peer-v6");
    const sub = await subscribed(["-L", `mqtt://[::1]:${port6}/${topic}`, "-C", "2", "-v"]);
    assert.equal(
      (await cli(["pub", "-h", "::1", "-p", String(port6), "-t", topic, "-m", "u"])).code,
      0,
    );
    // mosquitto_pub takes -h ::1 too (its -L does not take [::1]: "No such file or directory").
    assert.equal(
      (await run("mosquitto_pub", ["-h", "::1", "-p", String(port6), "-t", topic, "-m", "m"])).code,
      0,
    );
    const r = await sub.result();
    assert.equal(r.code, 0, r.stderr);
    assert.equal(dec.decode(r.stdout), `${topic} u\n${topic} m\n`);
  } finally {
    await broker.stop();
  }
}, { mosquitto: true });

forEachBroker(
  "SIGTERM: sub sends DISCONNECT and the will is not published; mosquitto_sub -V 5 sends 0x04 and its will is",
  async (b) => {
    const willTopic = uniqueId("peer-will");
    const watcher = await subscribed([...at(b), "-t", willTopic, "-C", "1"]);
    for (const v of ["mqttv311", "mqttv5"]) {
      const sub = await subscribed([
        ...at(b),
        ...[
          "-V",
          v,
          "-t",
          uniqueId("peer-term"),
          "--will-topic",
          willTopic,
          "--will-payload",
          `umqtt ${v}`,
        ],
      ]);
      sub.kill("SIGTERM");
      const r = await sub.result();
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /-> DISCONNECT( \[[^\]]*\])? \(2 bytes\)\n$/);
    }
    // mosquitto_sub 2.0.11 on SIGINT/SIGTERM/-W: DISCONNECT with reason 0x04, "disconnect with
    // will message": under MQTT 5 the broker publishes its will (3.1.1 has no reason code).
    // It prints a retained message once subscribed (its -d lines stay in its stdout buffer).
    const ready = uniqueId("peer-term");
    assert.equal((await cli(["pub", ...at(b), "-t", ready, "-m", "ready", "-r"])).code, 0);
    const mosq = new Peer("mosquitto_sub", [
      ...at(b),
      ...["-V", "5", "-t", ready, "--will-topic", willTopic, "--will-payload", "mosquitto_sub 5"],
    ]);
    await mosq.waitFor(/ready\n/);
    assert.equal((await cli(["pub", ...at(b), "-t", ready, "-n", "-r"])).code, 0);
    mosq.kill("SIGTERM");
    assert.equal((await mosq.result()).code, 0);
    // Had one of umqtt's wills gone out, the watcher would have printed it first.
    assert.equal(dec.decode((await watcher.result()).stdout), "mosquitto_sub 5\n");
  },
  { only: ["mosquitto"], ignore: !hasMosquitto },
);

forEachBroker("sub -E without -d subscribes before it exits (mosquitto#1418)", async (b) => {
  const id = uniqueId("peer-E");
  const topic = uniqueId("peer-E");
  const base = [...at(b), "-i", id, "-t", topic, "-q", "1"];
  const e = await cli(["sub", ...base, "-c", "-E"]);
  assert.equal(e.code, 0, e.stderr);
  assert.equal(e.stderr, "");
  assert.equal((await cli(["pub", ...at(b), "-t", topic, "-m", "queued", "-q", "1"])).code, 0);
  // The session -E left holds the subscription: the message waited for us.
  const r = await cli(["sub", ...base, "-c", "-C", "1"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(dec.decode(r.stdout), "queued\n");
  assert.equal((await cli(["sub", ...base, "-E"])).code, 0); // a clean session ends it
});

forEachBroker(
  "sub -C 1 -W 60 exits at the message, not at the timeout (mosquitto#3009)",
  async (b) => {
    const topic = uniqueId("peer-CW");
    const sub = await subscribed([...at(b), "-t", topic, "-C", "1", "-W", "60"]);
    assert.equal((await cli(["pub", ...at(b), "-t", topic, "-m", "one"])).code, 0);
    const r = await sub.result(15000); // fails (throws) long before -W would end it
    assert.equal(r.code, 0, r.stderr);
    assert.equal(dec.decode(r.stdout), "one\n");
  },
);

forEachBroker(
  "-i longer than 23 characters is sent as given; -I makes PREFIX+pid, as mosquitto_pub does",
  async (b) => {
    const long = "abcdefghijklmnopqrstuvwxyz0123456789";
    const u = await cli(["pub", ...at(b), "-t", "x", "-n", "-i", long, "-d"]);
    assert.equal(u.code, 0, u.stderr);
    assert.match(u.stderr, new RegExp(`-> CONNECT id "${long}"`));
    const m = await run("mosquitto_pub", [...at(b), "-t", "x", "-n", "-i", long, "-d"]);
    assert.equal(m.code, 0, m.stderr);
    assert.match(dec.decode(m.stdout), new RegExp(`Client ${long} received CONNACK \\(0\\)`));
    const p = await cli(["pub", ...at(b), "-t", "x", "-n", "-I", "pre-", "-d"]);
    assert.match(p.stderr, /-> CONNECT id "pre-\d+"/);
    const mp = await run("mosquitto_pub", [...at(b), "-t", "x", "-n", "-I", "pre-", "-d"]);
    assert.match(dec.decode(mp.stdout), /Client pre-\d+ sending CONNECT/);
  },
  { only: ["mosquitto"], ignore: !hasMosquitto },
);
