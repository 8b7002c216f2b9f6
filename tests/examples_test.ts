// The programs in examples/, run as their header comments say, as
// subprocesses against a harness broker: what they print and how they end.
// `deno check … examples/` (deno task check) only type-checks them.
import assert from "node:assert/strict";
import { forEachBroker, startMosquitto } from "./_brokers.ts";
import { proxyTo } from "./_fault_proxy.ts";
import { acceptConnect, withHostileBroker } from "./_hostile_broker.ts";
import { MQTTClient } from "../mod.ts";
import { test, uniqueId, until, withTimeout } from "./_test.ts";

const text = (b: Uint8Array) => new TextDecoder().decode(b);

/** A running example: its stdout and stderr so far, as text. */
class Example {
  stdout = "";
  stderr = "";
  readonly #child: Deno.ChildProcess;
  readonly #pumps: Promise<void>[];

  constructor(child: Deno.ChildProcess) {
    this.#child = child;
    this.#pumps = (["stdout", "stderr"] as const).map(async (name) => {
      for await (const s of child[name].pipeThrough(new TextDecoderStream())) this[name] += s;
    });
  }

  /** Resolves once `re` matches stdout or stderr (bounded, so a hang fails with what was printed). */
  waitFor(re: RegExp): Promise<void> {
    return until(() => re.test(this.stdout) || re.test(this.stderr), `${re} in ${this.output}`);
  }

  get output(): string {
    return `stdout: ${JSON.stringify(this.stdout)}, stderr: ${JSON.stringify(this.stderr)}`;
  }

  kill(signal: Deno.Signal): void {
    this.#child.kill(signal);
  }

  /** The exit code, once the program has ended and its output is read. */
  async code(): Promise<number> {
    const { code } = await withTimeout(this.#child.status, 20_000, `exit; ${this.output}`);
    await Promise.all(this.#pumps);
    return code;
  }
}

/** `deno run --allow-net examples/<file> …args`, as the examples' headers give it. */
function example(file: string, args: string[], allow = ["--allow-net"]): Example {
  const path = new URL(`../examples/${file}`, import.meta.url).pathname;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", ...allow, path, ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  return new Example(child);
}

forEachBroker("examples/deno_publisher.ts: publishes at QoS 1, says so, exits 0", async (b) => {
  const topic = `ex/${uniqueId("pub")}`;
  const watcher = new MQTTClient(uniqueId("watch"), b.url);
  await watcher.connect();
  try {
    await watcher.subscribe(topic, 1);
    const pub = example("deno_publisher.ts", [b.url, topic, "21.5"]);
    assert.equal(await pub.code(), 0, pub.output);
    assert.equal(pub.stdout, `published to ${topic}: 21.5\n`);
    const msg = await watcher.wait_msg();
    assert.deepEqual(
      [msg.topic, new TextDecoder().decode(msg.payload), msg.qos],
      [topic, "21.5", 1],
    );
  } finally {
    await watcher.disconnect();
  }
});

forEachBroker("examples/demo.ts given a broker: both messages come back, exits 0", async (b) => {
  const demo = example("demo.ts", [b.url], ["--allow-net"]);
  assert.equal(await demo.code(), 0, demo.output);
  const out = demo.stdout;
  assert.match(out, /received umqtt-demo-\w+\/qos0: hello at QoS 0\n/);
  assert.match(out, /received umqtt-demo-\w+\/qos1: hello at QoS 1\n/);
  assert.match(out, /disconnected; bye\n$/);
});

// README "Try it": `deno task demo` with no broker starts aedes in-process; the broker must not
// keep the process alive after the demo.
test("examples/demo.ts alone (deno task demo): its embedded broker serves it, exits 0", async () => {
  const config = JSON.parse(await Deno.readTextFile(new URL("../deno.json", import.meta.url)));
  const allow = (config.tasks.demo as string).split(" ").filter((a) => a.startsWith("--allow"));
  const demo = example("demo.ts", [], allow);
  assert.equal(await demo.code(), 0, demo.output);
  assert.match(demo.stdout, /^embedded aedes broker listening on mqtt:\/\/127\.0\.0\.1:\d+\n/);
  assert.match(demo.stdout, /hello at QoS 1\n[\s\S]*disconnected; bye\n$/);
});

// README "Try it" runs the task as it is: the permissions it grants are what the demo needs (the
// library net, aedes's streams env), each one missed (stdin is no terminal: Deno does not prompt).
test("deno task demo grants no permission the demo does without", async () => {
  const config = JSON.parse(await Deno.readTextFile(new URL("../deno.json", import.meta.url)));
  const allow = (config.tasks.demo as string).split(" ").filter((a) => a.startsWith("--allow"));
  for (const flag of allow) {
    const demo = example("demo.ts", [], allow.filter((a) => a !== flag));
    assert.notEqual(await demo.code(), 0, `it ran without ${flag}: ${demo.output}`);
  }
});

forEachBroker(
  "examples/deno_subscriber.ts: prints what arrives; Ctrl-C ends it with 0",
  async (b) => {
    const topic = `ex/${uniqueId("sub")}`;
    const sub = example("deno_subscriber.ts", [b.url, `${topic}/#`]);
    await sub.waitFor(/Ctrl-C to stop/);
    const pub = new MQTTClient(uniqueId("pub"), b.url);
    await pub.connect();
    await pub.publish(`${topic}/a`, "one", false, 1);
    await pub.disconnect();
    await sub.waitFor(/ one\n/);
    sub.kill("SIGINT");
    assert.equal(await sub.code(), 0, sub.output);
    assert.equal(sub.stdout, `${topic}/a one\n`);
  },
);

// The subscriber swallowed the end of its connection: `if (client.connected)
// throw e` is false after a lost connection as after Ctrl-C, so a broker that
// went away ended it silently with exit code 0, as if asked to stop.
test(
  "examples/deno_subscriber.ts: a broker that goes away ends it with an error, not 0",
  async () => {
    const b = await startMosquitto();
    try {
      const sub = example("deno_subscriber.ts", [b.url, "ex/#"]);
      await sub.waitFor(/Ctrl-C to stop/);
      await b.stop();
      assert.notEqual(await sub.code(), 0, sub.output);
      assert.match(sub.stderr, /MQTTConnectionError/);
    } finally {
      await b.stop();
    }
  },
  { mosquitto: true },
);

// A subscriber runs for as long as it is left: with keepalive 0 (the
// constructor's default, as in umqtt) a broker that stops answering, or a
// connection a NAT dropped, is never noticed (README "Keepalive"), and it
// waits for ever, printing nothing. It asks for a keepalive (the loss itself
// takes 1.5 keepalives to see, too long for this test; keepalive_test.ts has it).
test("examples/deno_subscriber.ts asks for a keepalive, so a dead connection is found", async () => {
  const keepalives: number[] = [];
  await withHostileBroker(async (peer) => {
    keepalives.push((await acceptConnect(peer)).keepalive);
    const { packetId } = await peer.expect("subscribe");
    await peer.write({ type: "suback", packetId, returnCodes: [1] });
    await peer.clientClosed;
  }, async (broker) => {
    const sub = example("deno_subscriber.ts", [broker.url, "ex/#"]);
    await sub.waitFor(/Ctrl-C to stop/);
    sub.kill("SIGINT");
    assert.equal(await sub.code(), 0, sub.output);
  });
  assert.equal(keepalives.length, 1);
  assert.ok(keepalives[0] > 0, `keepalive ${keepalives[0]}`);
});

// examples/worker/worker.ts's fetch handler, called in Deno (the default
// connector picks Deno.connect; the Worker's own runtime is tests/runtimes'
// business). The topic is the request's path, which arrives percent-encoded:
// `curl -d 21.5 localhost:8787/home/living%20room` published to
// "home/living%20room". A topic the client refuses threw out of the handler
// (a 500 with a stack) and left the connection open for the runtime to cut,
// without DISCONNECT.
forEachBroker(
  "examples/worker/worker.ts: the path, decoded, is the topic; a bad one is a 400",
  async (b) => {
    const { default: worker } = await import("../examples/worker/worker.ts");
    const env = { BROKER: b.url };
    const base = uniqueId("wk");
    const watcher = new MQTTClient(uniqueId("watch"), b.url);
    await watcher.connect();
    try {
      await watcher.subscribe(`${base}/#`, 1);
      const post = (path: string) =>
        worker.fetch(
          new Request(`http://localhost/${path}`, { method: "POST", body: "21.5" }),
          env,
        );
      const ok = await post(`${base}/living%20room/caf%C3%A9`);
      assert.equal(await ok.text(), `published to ${base}/living room/café\n`);
      assert.equal(ok.status, 200);
      const msg = await watcher.wait_msg();
      assert.equal(msg.topic, `${base}/living room/café`);
      for (const path of [`${base}/+`, `${base}/%E0%A4%A`]) {
        const refused = await post(path);
        assert.equal(refused.status, 400, path);
        assert.match(await refused.text(), /^(TypeError|URIError): /, path);
      }
      // Only a POST publishes (a browser's GET / and /favicon.ico would otherwise).
      const get = await worker.fetch(new Request(`http://localhost/${base}/x`), env);
      await get.body?.cancel();
      assert.equal(get.status, 405);
      // None of those published: the next message is the one sent after them.
      assert.equal((await post(`${base}/end`)).status, 200);
      assert.equal((await watcher.wait_msg()).topic, `${base}/end`);
    } finally {
      await watcher.disconnect();
    }
  },
);

// examples/browser/index.html's script, run in Deno (its WebSocket) against
// mosquitto's WebSocket listener, with the three inputs and the log as stubs
// of the page's elements and `./umqtt.js` as the library, each client it
// makes counted. Submits made while the first connected each made a client
// of their own (`client?.connected` is false until CONNACK), replacing the
// one being connected: that one's subscribe then went to an unconnected
// client ("Cannot subscribe: not connected"), its message was not
// published, and the connection it opened stayed open for the page's life.
test("examples/browser/index.html: submits made while connecting share one client", async () => {
  const b = await startMosquitto({ websockets: true });
  const made: MQTTClient[] = [];
  const dir = await Deno.makeTempDir();
  const g = globalThis as { document?: unknown; __made?: MQTTClient[] };
  try {
    const page = await Deno.readTextFile(
      new URL("../examples/browser/index.html", import.meta.url),
    );
    const script = page.match(/<script type="module">([\s\S]*?)<\/script>/)![1];
    await Deno.writeTextFile(
      `${dir}/umqtt.js`,
      `import { MQTTClient as C } from ${
        JSON.stringify(new URL("../mod.ts", import.meta.url).href)
      };
       export class MQTTClient extends C {
         constructor(...a) { super(...a); globalThis.__made.push(this); }
       }`,
    );
    await Deno.writeTextFile(`${dir}/page.js`, script);
    const topic = `ex/${uniqueId("page")}`;
    const el: Record<string, { value?: string; textContent?: string; onsubmit?: unknown }> = {
      url: { value: `${b.wsUrl}/mqtt` },
      topic: { value: topic },
      text: { value: "hello" },
      log: { textContent: "" },
      f: {},
    };
    g.document = { getElementById: (id: string) => el[id] };
    g.__made = made;
    await import(`file://${dir}/page.js`);
    const submit = el.f.onsubmit as (e: { preventDefault(): void }) => Promise<void>;
    await Promise.all([1, 2, 3].map(() => submit({ preventDefault() {} })));
    const lines = () => el.log.textContent!.split("\n").filter(Boolean);
    await until(() => lines().length >= 3, `3 lines in the log: ${el.log.textContent}`);
    assert.deepEqual(lines(), Array(3).fill(`${topic}/x: hello`));
    assert.equal(made.length, 1);
    assert.ok(made[0].keepalive > 0, `keepalive ${made[0].keepalive}`);
  } finally {
    for (const c of made) await c.disconnect();
    delete g.document;
    delete g.__made;
    await Deno.remove(dir, { recursive: true });
    await b.stop();
  }
}, { mosquitto: true });

// examples/deno_sensor.ts: started before its broker is up (connect() would reject; it awaits
// reconnect()), publishes across a broker restart, and Ctrl-C ends it with 0 after "stopped".
test(
  "examples/deno_sensor.ts: waits for its broker, rides out a restart, Ctrl-C ends it with 0",
  async () => {
    const b = await startMosquitto();
    const proxy = await proxyTo(b);
    proxy.refuse(true); // not up yet when the sensor starts
    const topic = `ex/${uniqueId("sensor")}`;
    const watcher = new MQTTClient(uniqueId("watch"), b.url);
    const seqs = async (n: number) => {
      const got: number[] = [];
      while (got.length < n) got.push(JSON.parse(text((await watcher.wait_msg()).payload)).seq);
      return got;
    };
    let sensor: ReturnType<typeof example> | undefined;
    try {
      sensor = example("deno_sensor.ts", [`mqtt://${proxy.hostname}:${proxy.port}`, topic]);
      await sensor.waitFor(/reconnecting, attempt 2: MQTTConnectionError/);
      proxy.refuse(false);
      await sensor.waitFor(/Ctrl-C to stop/);
      await watcher.connect();
      await watcher.subscribe(topic, 1);
      const before = await seqs(3);
      await b.restart!();
      await watcher.connect();
      await watcher.subscribe(topic, 1);
      const after = await seqs(3);
      assert.ok(after[0] > before[2], `${before} then ${after}`);
      sensor.kill("SIGINT");
      assert.equal(await sensor.code(), 0, sensor.output);
      assert.match(sensor.stderr, /stopped\n$/);
    } finally {
      // Ended by Ctrl-C above, unless something before it failed: not left running then.
      try {
        sensor?.kill("SIGKILL");
      } catch { /* ended */ }
      if (watcher.connected) await watcher.disconnect();
      await proxy.close();
      await b.stop();
    }
  },
  { mosquitto: true },
);

// Ctrl-C while the sensor still waits for its broker (never up): it said "stops cleanly on
// Ctrl-C", yet its SIGINT listener took Ctrl-C's default away and reconnect() kept waiting.
test("examples/deno_sensor.ts: Ctrl-C before its broker is up ends it with 0", async () => {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close(); // nothing listens there: every attempt is refused
  const sensor = example("deno_sensor.ts", [`mqtt://127.0.0.1:${port}`, "ex/never"]);
  try {
    await sensor.waitFor(/reconnecting, attempt 2: MQTTConnectionError/);
    sensor.kill("SIGINT");
    assert.equal(await sensor.code(), 0, sensor.output);
    assert.match(sensor.stderr, /stopped\n$/);
  } finally {
    try {
      sensor.kill("SIGKILL");
    } catch { /* ended */ }
  }
});
