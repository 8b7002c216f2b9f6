// Persistent sessions across process restarts: a client in a child process,
// on a file-backed session store, killed (SIGKILL) at chosen points and
// started again on the same store, against mosquitto with persistence.
import assert from "node:assert/strict";
import { MQTTClient, type ProtocolVersion } from "../mod.ts";
import { startMosquitto } from "./_brokers.ts";
import { PacketProxy } from "./_packet_proxy.ts";
import { readStoreFile } from "./_file_store.ts";
import { test, uniqueId, withTimeout } from "./_test.ts";

const CHILD = new URL("./_session_child.ts", import.meta.url).pathname;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const text = (b: Uint8Array) => new TextDecoder().decode(b);

class Child {
  readonly lines: string[] = [];
  #proc: Deno.ChildProcess;
  #stdin: WritableStreamDefaultWriter<Uint8Array>;
  #waiters: { re: RegExp; resolve: () => void }[] = [];
  done: Promise<unknown>;
  constructor(cfg: Record<string, unknown>) {
    this.#proc = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", CHILD, JSON.stringify(cfg)],
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    this.#stdin = this.#proc.stdin.getWriter();
    const proc = this.#proc;
    this.done = (async () => {
      let buf = "";
      for await (const c of proc.stdout.pipeThrough(new TextDecoderStream())) {
        buf += c;
        let nl;
        while ((nl = buf.indexOf("\n")) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          this.lines.push(line);
          this.#waiters = this.#waiters.filter((w) => !(w.re.test(line) && (w.resolve(), true)));
        }
      }
      return await proc.status;
    })();
  }
  until(re: RegExp, what = String(re)): Promise<void> {
    if (this.lines.some((l) => re.test(l))) return Promise.resolve();
    return withTimeout(
      new Promise<void>((resolve) => this.#waiters.push({ re, resolve })),
      10_000,
      `${what}; child said: ${this.lines.join(" | ")}`,
    );
  }
  async send(line: string) {
    await this.#stdin.write(new TextEncoder().encode(line + "\n"));
  }
  async kill() {
    try {
      this.#proc.kill("SIGKILL");
    } catch { /* gone */ }
    await this.#stdin.close().catch(() => {});
    await this.done;
  }
}

async function setup(version: ProtocolVersion) {
  const broker = await startMosquitto({ persistence: true });
  const proxy = new PacketProxy(broker.port);
  const dir = await Deno.makeTempDir();
  const topic = uniqueId("pr");
  const got: string[] = [];
  const sub = new MQTTClient(uniqueId("prs"), "127.0.0.1", {
    port: broker.port,
    protocolVersion: version,
  });
  sub.set_callback((_t, m) => void got.push(text(m)));
  await sub.connect(true);
  await sub.subscribe(topic, 2);
  (async () => {
    try {
      for (;;) await sub.wait_msg();
    } catch { /* closed */ }
  })();
  const cfg = (o: Record<string, unknown>) => ({
    port: proxy.port,
    topic,
    store: `${dir}/store.json`,
    version,
    ...o,
  });
  const close = async () => {
    await sub.disconnect().catch(() => {});
    proxy.close();
    await broker.stop();
    await Deno.remove(dir, { recursive: true });
  };
  return { broker, proxy, dir, topic, got, sub, cfg, close };
}

const storeOf = (path: string) => readStoreFile(path);

for (const version of [4, 5] as const) {
  const v5 = version === 5 ? { expiry: 3600 } : {};

  test(
    `v${version}: a publisher killed before PUBACK/PUBREC/PUBCOMP resumes its session`,
    async () => {
      const s = await setup(version);
      try {
        const id = uniqueId("prp");
        const a = new Child(s.cfg({ id, clean: false, ...v5 }));
        await a.until(/^CONNECTED/);
        // q2a gets its PUBREC (the store then holds its PUBREL), not its PUBCOMP.
        s.proxy.drop = (dir, type) => dir === "down" && type === "pubcomp";
        await a.send("pub 2 q2a");
        await s.proxy.until(/down pubcomp.*DROPPED/);
        // q1 and q2b get no answer at all.
        s.proxy.drop = (dir, type) => dir === "down" && /pubcomp|puback|pubrec/.test(type);
        await a.send("pub 1 q1");
        await a.until(/^CALLED q1/);
        await s.proxy.until(/down puback.*DROPPED/);
        // q2b: its PUBREC comes, its PUBREL never reaches the broker.
        s.proxy.drop = (dir, type) =>
          (dir === "down" && /pubcomp|puback/.test(type)) || (dir === "up" && type === "pubrel");
        await a.send("pub 2 q2b");
        await s.proxy.until(/up pubrel.*DROPPED/);
        await s.proxy.until(/down puback.*DROPPED/);
        await a.kill();
        const kept = storeOf(s.cfg({}).store).outgoing;
        assert.equal(kept.length, 3, "three packets kept");
        s.proxy.drop = () => false;
        const from = s.proxy.log.length;
        const b = new Child(s.cfg({ id, clean: false, ...v5 }));
        await b.until(/^CONNECTED/);
        assert.ok(b.lines.includes("CONNECTED true"), b.lines.join(" | "));
        await b.send("pub 1 later");
        await b.until(/^ACKED later/);
        await sleep(300);
        assert.deepEqual(storeOf(s.cfg({}).store).outgoing, [], "all acknowledged");
        // Resent in their original order, before the later publish (mosquitto
        // delivers a QoS 2 message at its PUBREL, so arrival order across QoS differs).
        const ups = s.proxy.log.slice(from).filter((l) => /^up (publish|pubrel)/.test(l));
        assert.match(
          ups.join(", "),
          /^up pubrel id=1, up publish dup=1 qos=1 id=2, up pubrel id=3, up publish dup=0 qos=1 id=\d+/,
        );
        for (const m of ["q2a", "q1", "q2b", "later"]) {
          assert.ok(s.got.includes(m), `${m} lost: ${s.got}`);
        }
        assert.equal(s.got.filter((m) => m === "q2a").length, 1, `q2a once: ${s.got}`);
        assert.equal(s.got.filter((m) => m === "q2b").length, 1, `q2b once: ${s.got}`);
        await b.kill();
      } finally {
        await s.close();
      }
    },
    { timeout: 60_000 },
  );

  test(
    `v${version}: a subscriber killed handling a QoS 2 message`,
    async () => {
      const s = await setup(version);
      try {
        const id = uniqueId("prk");
        const a = new Child(s.cfg({ id, clean: false, ...v5 }));
        await a.until(/^CONNECTED/);
        await a.send("sub 2");
        await a.until(/^SUBSCRIBED/);
        // Killed in its handler: the store has not recorded the id.
        await s.sub.publish(s.topic, "block-1", false, 2);
        await a.until(/^HANDLING block-1/);
        await a.kill();
        assert.deepEqual(storeOf(s.cfg({}).store).incoming, []);
        const b = new Child(s.cfg({ id, clean: false, block: false, ...v5 }));
        await b.until(/^CONNECTED true/);
        await b.send("sub 2");
        await b.until(/^HANDLING block-1/, "block-1 delivered again");
        await s.proxy.until(/up pubcomp/);
        // Killed after the store recorded the id, before the broker has the PUBREC.
        s.proxy.drop = (dir, type) => dir === "up" && type === "pubrec";
        await s.sub.publish(s.topic, "m2", false, 2);
        await b.until(/^HANDLING m2/);
        // The store records the id before the PUBREC goes (and the proxy drops it). Not the
        // child's "STORE incoming add": until() would match block-1's, already said.
        await s.proxy.until(/up pubrec.*DROPPED/);
        await b.kill();
        const ids = storeOf(s.cfg({}).store).incoming;
        assert.equal(ids.length, 1);
        s.proxy.drop = () => false;
        const from = s.proxy.log.length;
        const c = new Child(s.cfg({ id, clean: false, block: false, ...v5 }));
        await c.until(/^CONNECTED true/);
        await c.send("sub 2");
        await s.proxy.until(/up pubcomp/, from);
        await sleep(300);
        assert.ok(!c.lines.some((l) => l.startsWith("HANDLING m2")), c.lines.join(" | "));
        assert.deepEqual(storeOf(s.cfg({}).store).incoming, [], "released");
        await c.kill();
      } finally {
        await s.close();
      }
    },
    { timeout: 60_000 },
  );

  test(
    `v${version}: killed after a clean session, restarted with connect(false)`,
    async () => {
      const s = await setup(version);
      try {
        const id = uniqueId("prc");
        const a = new Child(s.cfg({ id, clean: true }));
        await a.until(/^CONNECTED/);
        // c2a: its PUBREC comes, its PUBREL never reaches the broker.
        s.proxy.drop = (dir, type) => dir === "up" && type === "pubrel";
        await a.send("pub 2 c2a");
        await s.proxy.until(/up pubrel.*DROPPED/);
        s.proxy.drop = (dir, type) => dir === "down" && /pubcomp|puback|pubrec/.test(type);
        await a.send("pub 1 c1");
        await a.send("pub 2 c2b");
        await s.proxy.until(/down pubrec.*DROPPED/);
        await s.proxy.until(/down puback.*DROPPED/);
        await a.kill();
        await sleep(200);
        s.proxy.drop = () => false;
        const from = s.proxy.log.length;
        const b = new Child(s.cfg({ id, clean: false, ...v5 }));
        await b.until(/^CONNECTED/);
        await b.send("pub 1 later");
        await b.until(/^ACKED later/);
        await sleep(300);
        // MQTT 5 documents the loss of a QoS 2 publish past its PUBREC here
        // (README, "sessions": the PUBREL replaced the PUBLISH); 3.1.1 promises
        // "twice rather than not at all" after a clean session.
        const expect = version === 5 ? ["c1", "c2b", "later"] : ["c2a", "c1", "c2b", "later"];
        for (const m of expect) {
          assert.ok(s.got.includes(m), `${m} lost: got ${s.got}; sent ${s.proxy.log.slice(from)}`);
        }
        await b.kill();
      } finally {
        await s.close();
      }
    },
    { timeout: 60_000 },
  );
}

// session_store.ts's sketch, as a user copies it. Map's and Set's constructors
// call `set`/`add`: a store whose overrides save would rewrite its file once per
// loaded entry, each time with only part of the session, and a process killed
// while loading (SIGKILL in the probe of 2000 kept packets: 9 runs in 10) left a
// file that had lost the rest, whose messages were never resent.
test("session_store.ts's sketch: loading a saved session saves nothing until the client writes", async () => {
  const doc = await Deno.readTextFile(new URL("../lib/session_store.ts", import.meta.url));
  const block = /```ts ignore\n([\s\S]*?)```/.exec(doc)![1].replace(/^ \* ?/gm, "");
  const classes = block.slice(block.indexOf("class SavedMap"), block.indexOf("const sessionStore"));
  const src = `export const saves: number[] = [];
    const save = (c: Map<unknown, unknown> | Set<unknown>) => void saves.push(c.size);
    ${classes}
    export { SavedMap, SavedSet };`;
  const m = await import(`data:application/typescript;base64,${btoa(src)}`);
  const outgoing = new m.SavedMap([[1, Uint8Array.of(0x32)], [2, Uint8Array.of(0x32)]]);
  const incoming = new m.SavedSet([7, 8, 9]);
  assert.deepEqual(m.saves, [], "no save while loading");
  assert.equal(outgoing.size, 2);
  assert.equal(incoming.size, 3);
  outgoing.set(3, Uint8Array.of(0x32));
  incoming.delete(7);
  assert.deepEqual(m.saves, [3, 2], "each change the client makes is saved");
});

// session_store.ts, `incoming`: an id is added once its message's handler has
// returned, before the next message is handed out, which is what lets a store
// save a handler's effect in the same write as the id (exactly once across a
// kill). A probe built on it (SIGKILLs at random points, 100 runs, 25 922 QoS 2
// messages) received each message exactly once.
test("a QoS 2 message's id reaches incoming.add right after its handler, before the next message", async () => {
  const broker = await startMosquitto();
  const topic = uniqueId("pr");
  const seen: string[] = [];
  let pending: string | null = null;
  class EffectSet extends Set<number> {
    override add(id: number) {
      seen.push(`${pending}@${id}`);
      pending = null;
      return super.add(id);
    }
  }
  const sub = new MQTTClient(uniqueId("prs"), "127.0.0.1", {
    port: broker.port,
    sessionStore: { outgoing: new Map(), incoming: new EffectSet() },
  });
  const pub = new MQTTClient(uniqueId("prp"), "127.0.0.1", { port: broker.port });
  try {
    await sub.connect(true);
    await sub.subscribe(topic, 2);
    await pub.connect(true);
    const sent = Array.from({ length: 20 }, (_, i) => `m${i}`);
    await Promise.all(sent.map((m) => pub.publish(topic, m, false, 2)));
    sub.set_callback(async (_t, msg) => {
      assert.equal(pending, null, "the previous message's id was added before this one came");
      await sleep(Math.random() * 5);
      pending = text(msg);
    });
    for (let i = 0; i < 10; i++) await sub.wait_msg();
    for await (const msg of sub.messages()) {
      assert.equal(pending, null);
      pending = text(msg.payload);
      if (pending === "m19") break;
    }
    assert.deepEqual(seen.map((s) => s.split("@")[0]), sent);
  } finally {
    await pub.disconnect().catch(() => {});
    await sub.disconnect().catch(() => {});
    await broker.stop();
  }
});
