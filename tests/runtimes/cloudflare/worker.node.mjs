// Cloudflare Workers in the real workerd runtime, through miniflare. Each
// Worker bundle run.ts built (UMQTT_WORKERS: a JSON list of { name, entry,
// npm }) is loaded both ways miniflare can load one:
//   listed      every module given with its contents (wrangler's way);
//   discovered  `modules: true` and the entry's path: miniflare parses the
//               entry and follows its imports (test setups, the Cloudflare
//               Vite plugin's preview); it refuses any import() whose
//               specifier is not a string literal, and any `node:` module
//               without nodejs_compat.
// The source bundle (esbuild, `node:*` external) is loaded listed only: it
// holds the Node adapter's import("node:net"), which never runs in workerd
// but which discovery refuses. In each, a Worker publishes on each fetch and
// the messages arrive at mosquitto (UMQTT_PORT on 127.0.0.1); a Worker
// subscribes and returns what it received; the smoke scenario runs inside a
// Worker; a cron trigger and a queue consumer publish. Clients kept across requests (workerd lets no request use
// another's I/O) and in a Durable Object, a reconnecting client in every
// request and made in the module's top level, and TLS settings workerd
// cannot take or a CA it does not trust (UMQTT_TLS_PORT); MQTT over
// workerd's own WebSocket (UMQTT_WS_URL, mosquitto's WebSocket listener). The test's own MQTT client is the library
// bundled for Node (UMQTT_NODE_BUNDLE).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { connect, createServer } from "node:net";
// Computed: `deno check tests/` reads this file too, and cannot resolve the
// dev folder's packages; Node resolves them from tests/runtimes/node_modules.
const { Miniflare } = await import(String("miniflare"));

const { MQTTClient } = await import(
  pathToFileURL(process.env.UMQTT_NODE_BUNDLE).href
);
const port = process.env.UMQTT_PORT;
const workers = JSON.parse(process.env.UMQTT_WORKERS);
const hex = () => Math.random().toString(16).slice(2, 10);
// How wrangler reads a Worker's .js files (and what the Cloudflare Vite
// plugin writes into its output's wrangler.json): as ES modules.
const modulesRules = [{ type: "ESModule", include: ["**/*.js", "**/*.mjs"] }];

/** Every JavaScript module in the entry's folder, the entry first, as miniflare's `modules` list. */
function listModules(entry) {
  const dir = dirname(entry);
  const paths = readdirSync(dir, { recursive: true })
    .filter((p) => /\.m?js$/.test(p) && join(dir, p) !== entry);
  return [entry, ...paths.map((p) => join(dir, p))].map((path) => ({
    type: "ESModule",
    path: path.slice(dir.length + 1),
    contents: readFileSync(path, "utf8"),
  }));
}

for (const { name, entry, npm } of workers) {
  if (npm) {
    test(`${name}: the bundle imports cloudflare:sockets and no node: module`, () => {
      const code = listModules(entry).map((m) => m.contents).join("\n");
      assert.match(code, /["']cloudflare:sockets["']/);
      assert.doesNotMatch(code, /["']node:[a-z_/]+["']/);
    });
  }
  for (const load of npm ? ["listed", "discovered"] : ["listed"]) {
    describe(`${name}, ${load}`, () => {
      let mf;
      const options = () => ({
        ...(load === "listed" ? { modules: listModules(entry) } : {
          modules: true,
          scriptPath: entry,
          modulesRoot: dirname(entry),
          modulesRules,
        }),
        compatibilityDate: "2025-01-01",
        durableObjects: { HOLDER: "Holder" },
        bindings: { UMQTT_PORT: port },
      });
      before(async () => {
        mf = new Miniflare(options());
        await mf.ready;
      });
      after(() => mf?.dispose());

      async function get(path) {
        const res = await mf.dispatchFetch(`http://worker.test${path}`);
        const body = await res.json();
        assert.equal(res.status, 200, JSON.stringify(body));
        return body;
      }

      test("each fetch publishes, and mosquitto delivers it", async () => {
        const topic = `cf-${hex()}`;
        const sub = new MQTTClient(`t-${topic}`, `mqtt://127.0.0.1:${port}`);
        await sub.connect();
        await sub.subscribe(`${topic}/#`, 1);
        try {
          for (let i = 0; i < 3; i++) {
            assert.deepEqual(
              await get(`/publish?port=${port}&topic=${topic}&n=2`),
              {
                published: 2,
              },
            );
            for (let j = 0; j < 2; j++) {
              const msg = await sub.wait_msg();
              assert.equal(msg.topic, `${topic}/${j}`);
              assert.equal(
                new TextDecoder().decode(msg.payload),
                `from a Worker ${j}`,
              );
              assert.equal(msg.qos, 1);
            }
          }
        } finally {
          await sub.disconnect();
        }
      });

      test("a subscriber inside a Worker returns what it received", async () => {
        const topic = `cf-${hex()}`;
        const pub = new MQTTClient(`t-${topic}`, `mqtt://127.0.0.1:${port}`);
        await pub.connect();
        await pub.subscribe(`${topic}-ready`, 1);
        try {
          const pending = get(`/subscribe?port=${port}&topic=${topic}&n=3`);
          await pub.wait_msg(); // the Worker is subscribed
          for (let i = 0; i < 3; i++) {
            await pub.publish(`${topic}/m${i}`, `to a Worker ${i}`, false, 1);
          }
          assert.deepEqual(await pending, {
            received: [0, 1, 2].map((i) => `${topic}/m${i} to a Worker ${i}`),
          });
        } finally {
          await pub.disconnect();
        }
      });

      /** Subscribes to `topic/#`; returns the next `n` messages as "topic payload". */
      async function watch(topic) {
        const sub = new MQTTClient(`t-${topic}`, `mqtt://127.0.0.1:${port}`);
        await sub.connect();
        await sub.subscribe(`${topic}/#`, 1);
        return {
          async next(n) {
            const got = [];
            while (got.length < n) {
              const m = await sub.wait_msg();
              got.push(`${m.topic} ${new TextDecoder().decode(m.payload)}`);
            }
            return got;
          },
          done: () => sub.disconnect(),
        };
      }

      test("a client kept across requests: the next is told at once, and connects anew", async () => {
        const topic = `cf-${hex()}`;
        const sub = await watch(topic);
        try {
          assert.deepEqual(await get(`/across?port=${port}&topic=${topic}&step=1`), {
            connected: true,
          });
          const second = await get(`/across?port=${port}&topic=${topic}&step=2`);
          assert.equal(second.connected, false, "the connection is request 1's");
          const told = /^MQTTConnectionError: Cannot \w+: Connection opened by another request/;
          assert.match(second.waiting, told);
          assert.match(second.publishing, told);
          assert.equal(second.disconnecting, "resolved");
          assert.deepEqual(await sub.next(2), [
            `${topic}/1 from request 1`,
            `${topic}/2 from request 2`,
          ]);
        } finally {
          await sub.done();
        }
      });

      test("a client kept across requests: connect() in the next request connects anew", async () => {
        const topic = `cf-${hex()}`;
        const sub = await watch(topic);
        try {
          assert.deepEqual(await get(`/across?port=${port}&topic=${topic}&step=1`), {
            connected: true,
          });
          assert.deepEqual(await get(`/across?port=${port}&topic=${topic}&step=connect`), {
            connecting: "resolved",
            publishing: "resolved",
          });
          assert.deepEqual(await sub.next(2), [
            `${topic}/1 from request 1`,
            `${topic}/2 from request 2`,
          ]);
        } finally {
          await sub.done();
        }
      });

      test("a reconnecting client per request publishes while connecting, in every request", async () => {
        const topic = `cf-${hex()}`;
        const sub = await watch(topic);
        try {
          for (let i = 0; i < 3; i++) {
            assert.deepEqual(await get(`/robust?port=${port}&topic=${topic}&i=${i}`), {
              published: true,
              early: false,
            });
          }
          assert.deepEqual(
            await sub.next(3),
            [0, 1, 2].map((i) => `${topic}/${i} while connecting`),
          );
        } finally {
          await sub.done();
        }
      });

      test("a reconnecting client given a signal works where workerd has no WeakRef", async () => {
        // Compatibility dates before 2025-05-05 (this suite's is 2025-01-01) have no WeakRef.
        const topic = `cf-${hex()}`;
        const sub = await watch(topic);
        try {
          assert.deepEqual(await get(`/robust?port=${port}&topic=${topic}&i=0&signal=1`), {
            published: true,
            early: false,
          });
          assert.deepEqual(await sub.next(1), [`${topic}/0 while connecting`]);
        } finally {
          await sub.done();
        }
      });

      test("a reconnecting client kept across requests reconnects in each", async () => {
        const topic = `cf-${hex()}`;
        const sub = await watch(topic);
        try {
          for (const step of [1, 2, 3]) {
            assert.deepEqual(
              await get(`/robust-across?port=${port}&topic=${topic}&step=${step}`),
              { published: true },
            );
          }
          assert.deepEqual(
            await sub.next(3),
            [1, 2, 3].map((i) => `${topic}/${i} from request ${i}`),
          );
        } finally {
          await sub.done();
        }
      });

      /** A broker that is silent (`"silent"`), closes each connection (`"away"`) or is mosquitto (`"up"`). */
      async function flaky() {
        const sockets = new Set();
        let mode = "up";
        const server = createServer((s) => {
          sockets.add(s);
          s.on("close", () => sockets.delete(s)).on("error", () => {});
          if (mode === "away") return s.destroy();
          if (mode === "silent") return;
          const up = connect(Number(port), "127.0.0.1").on("error", () => s.destroy());
          s.on("close", () => up.destroy());
          up.on("close", () => s.destroy());
          s.pipe(up).pipe(s);
        });
        await new Promise((r) => server.listen(0, "127.0.0.1", r));
        return {
          port: server.address().port,
          set(to) {
            mode = to;
            if (to === "away") { for (const s of sockets) s.destroy(); }
          },
          close: () => new Promise((r) => (server.close(r), sockets.forEach((s) => s.destroy()))),
        };
      }

      for (const robust of [false, true]) {
        const what = robust ? "a reconnecting client" : "a client";
        test(`${what} kept across requests outlives a request that ended while it connected`, async () => {
          const topic = `cf-${hex()}`;
          const sub = await watch(topic);
          const broker = await flaky();
          try {
            broker.set("silent");
            const q = `port=${broker.port}&topic=${topic}&robust=${robust ? 1 : 0}`;
            assert.deepEqual(await get(`/stranded?${q}&step=1`), {
              connecting: "still pending after 200 ms",
            });
            if (robust) {
              // Its publish is cancelled with its request, as the README says; the loop must not be.
              broker.set("away");
              await get(`/stranded?${q}&step=2`);
            }
            broker.set("up");
            // Past the stranded attempt's own connect timeout (1 s), however late its timer.
            await new Promise((r) => setTimeout(r, 2200));
            for (const step of ["3", "4"]) {
              assert.deepEqual(await get(`/stranded?${q}&step=${step}`), {
                connecting: robust ? "robust" : "resolved",
                publishing: "resolved",
              }, `step ${step}`);
            }
            assert.deepEqual(await sub.next(2), [`${topic}/3 3`, `${topic}/4 4`]);
          } finally {
            await sub.done();
            await broker.close();
          }
        });
      }

      test("a reconnecting client kept across requests serves requests that run at once", async () => {
        const topic = `cf-${hex()}`;
        const sub = await watch(topic);
        try {
          const requests = [0, 1, 2].map((i) => get(`/shared?port=${port}&topic=${topic}&i=${i}`));
          for (const r of await Promise.all(requests)) {
            assert.deepEqual(r, { publishing: ["resolved", "resolved", "resolved"] });
          }
          // Each at least once (QoS 1): a connection another request took over may resend some.
          const got = new Set();
          while (got.size < 9) got.add((await sub.next(1))[0]);
          const want = [0, 1, 2].flatMap((i) =>
            [0, 1, 2].map((k) => `${topic}/${i} request ${i} message ${k}`)
          );
          assert.deepEqual([...got].sort(), want);
        } finally {
          await sub.done();
        }
      });

      test("a client kept across requests that run at once: the other is told, the owner keeps its connection", async () => {
        const topic = `cf-${hex()}`;
        const sub = await watch(topic);
        try {
          const owner = get(`/beside?port=${port}&topic=${topic}&step=owner`);
          assert.deepEqual(await sub.next(1), [`${topic}/ready owner`]);
          const other = await get(`/beside?port=${port}&topic=${topic}&step=other`);
          assert.equal(other.connected, false, "the connection is the owner's");
          assert.match(
            other.publishing,
            /^MQTTConnectionError: Cannot publish: Connection opened by another request/,
          );
          // A client of this test's own: the Worker's was told its wait ended otherwise.
          const go = new MQTTClient(`t-go-${topic}`, `mqtt://127.0.0.1:${port}`);
          await go.connect();
          await go.publish(`${topic}/go`, "go", false, 1);
          await go.disconnect();
          assert.deepEqual(await owner, { waiting: "resolved", publishing: "resolved" });
          assert.deepEqual(await sub.next(2), [`${topic}/go go`, `${topic}/owner owner`]);
        } finally {
          await sub.done();
        }
      });

      test("MQTT over workerd's own WebSocket; headers it cannot send are refused, not retried", async () => {
        const topic = `cf-${hex()}`;
        const sub = await watch(topic);
        try {
          const r = await get(
            `/ws?url=${encodeURIComponent(process.env.UMQTT_WS_URL)}&topic=${topic}`,
          );
          assert.deepEqual(await sub.next(1), [`${topic}/ws over a WebSocket`]);
          const refusal =
            /^MQTTConnectionError: .*Invalid options\.headers: this runtime's WebSocket takes none$/;
          assert.match(r.headed, refusal);
          assert.match(r.publishing, refusal);
          assert.equal(r.attempts, 1, "one attempt, no retry");
        } finally {
          await sub.done();
        }
      });

      for (const robust of [false, true]) {
        const what = robust ? "a reconnecting client" : "a client";
        const also = robust ? ", a reconnect" : "";
        test(`${what} kept in a Durable Object: keepalive, messages${also} between requests`, async () => {
          const topic = `cf-${hex()}`;
          const sub = await watch(topic);
          const broker = await flaky();
          const pub = new MQTTClient(`t-pub-${topic}`, `mqtt://127.0.0.1:${port}`);
          await pub.connect();
          try {
            const q = `port=${broker.port}&topic=${topic}&robust=${robust ? 1 : 0}`;
            assert.deepEqual(await get(`/do?${q}&step=connect`), { connected: true });
            assert.deepEqual(await sub.next(1), [`${topic}/up connection 1`]);
            const sent = robust ? ["during the outage"] : ["between 1", "between 2"];
            // The connection is cut, and the reconnect announces itself, with no request under way.
            if (robust) broker.set("away");
            for (const m of sent) await pub.publish(`${topic}/in`, m, false, 1);
            if (robust) broker.set("up");
            const between = await sub.next(sent.length + (robust ? 1 : 0));
            const want = sent.map((m) => `${topic}/in ${m}`);
            if (robust) want.push(`${topic}/up connection 2`);
            assert.deepEqual(between.sort(), want.sort());
            // Past 1.5 keepalives: a client whose PINGREQs did not go between requests is dropped.
            await new Promise((r) => setTimeout(r, 3000));
            assert.deepEqual(await get(`/do?${q}&step=poll&n=${sent.length}`), {
              connected: true,
              got: sent,
            });
            assert.deepEqual(await sub.next(1), [`${topic}/out from a later request`]);
            assert.deepEqual(await get(`/do?${q}&step=disconnect`), { connected: false });
          } finally {
            await pub.disconnect();
            await sub.done();
            await broker.close();
          }
        });
      }

      test("a client not disconnected ends with its request, will and all; ctx.waitUntil(disconnect()) disconnects after the response", async () => {
        for (const later of [false, true]) {
          const topic = `cf-${hex()}`;
          const sub = await watch(topic);
          try {
            const q = `port=${port}&topic=${topic}&later=${later ? 1 : 0}`;
            assert.deepEqual(await get(`/forget?${q}`), { published: true });
            assert.deepEqual(await sub.next(1), [`${topic}/p published`]);
            if (later) {
              // The next message is the test's own: a will would come only from a connection dropped.
              const t = new MQTTClient(`t-m-${topic}`, `mqtt://127.0.0.1:${port}`);
              await t.connect();
              await t.publish(`${topic}/marker`, "after", false, 1);
              await t.disconnect();
              assert.deepEqual(await sub.next(1), [`${topic}/marker after`]);
            } else {
              assert.deepEqual(await sub.next(1), [`${topic}/will gone without DISCONNECT`]);
            }
          } finally {
            await sub.done();
          }
        }
      });

      test("ssl_params workerd cannot take are refused, and not retried", async () => {
        const r = await get(`/cadata?port=${port}`);
        const refusal = /^MQTTConnectionError: .*cloudflare:sockets takes no cadata/;
        assert.match(r.refused, refusal);
        assert.match(r.publishing, refusal);
        assert.equal(r.attempts, 1, "one attempt, no retry");
      });

      test("TLS to a broker whose CA workerd does not trust: the error says what it must be", async () => {
        const r = await get(`/tls?port=${process.env.UMQTT_TLS_PORT}`);
        assert.match(r.refused, /^MQTTConnectionError: Cannot connect to 127\.0\.0\.1:\d+: /);
        assert.match(r.refused, /certificate must chain to a public CA and name 127\.0\.0\.1/);
      });

      test("TLS to a server that never answers the handshake: given up when asked, not 2 s later", async () => {
        const silent = createServer((s) => s.on("error", () => {}));
        await new Promise((r) => silent.listen(0, "127.0.0.1", r));
        try {
          const r = await get(`/tls-silent?port=${silent.address().port}`);
          assert.match(
            r.timeout,
            /^MQTTConnectionError: Connection to 127\.0\.0\.1:\d+ timed out: not open \(TCP, TLS or WebSocket handshake\) within 300 ms$/,
          );
          assert.equal(r.disconnect, "resolved");
          assert.equal(r.abort, "TimeoutError: The operation was aborted due to timeout");
          assert.equal(r.stop, "resolved");
          assert.equal(r.stopping, "MQTTConnectionError: Disconnected: disconnect() was called");
        } finally {
          silent.close();
        }
      });

      test("a Worker whose compatibility date predates navigator.userAgent is told apart as a Worker", async () => {
        // Before 2022-03-21 workerd has no global navigator, by which the runtime was told apart.
        const old = new Miniflare({ ...options(), compatibilityDate: "2021-11-03" });
        try {
          const at = (path) => old.dispatchFetch(`http://worker.test${path}`).then((r) => r.json());
          const topic = `cf-${hex()}`;
          const sub = await watch(topic);
          try {
            assert.deepEqual(await at(`/publish?port=${port}&topic=${topic}&n=1`), {
              published: 1,
            });
            assert.deepEqual(await at(`/across?port=${port}&topic=${topic}&step=1`), {
              connected: true,
            });
            const second = await at(`/across?port=${port}&topic=${topic}&step=2`);
            assert.equal(second.connected, false, "the connection is request 1's");
            assert.match(
              second.waiting,
              /^MQTTConnectionError: Cannot wait_msg: Connection opened by another request/,
            );
            assert.equal(second.disconnecting, "resolved");
            assert.deepEqual(await sub.next(3), [
              `${topic}/0 from a Worker 0`,
              `${topic}/1 from request 1`,
              `${topic}/2 from request 2`,
            ]);
          } finally {
            await sub.done();
          }
        } finally {
          await old.dispose();
        }
      });

      test("a cron trigger and a queue consumer publish", async () => {
        const topic = `cf-${hex()}`;
        const sub = await watch(topic);
        try {
          const worker = await mf.getWorker();
          assert.equal((await worker.scheduled({ cron: topic })).outcome, "ok");
          assert.deepEqual(await sub.next(1), [`${topic}/scheduled cron`]);
          const messages = [1, 2].map((i) => ({
            id: `m${i}`,
            timestamp: new Date(),
            attempts: 1,
            body: { topic: `${topic}/queue`, text: `message ${i}` },
          }));
          const done = await worker.queue("umqtt", messages);
          assert.equal(done.outcome, "ok");
          assert.deepEqual(done.explicitAcks, ["m1", "m2"]);
          assert.deepEqual(await sub.next(2), [
            `${topic}/queue message 1`,
            `${topic}/queue message 2`,
          ]);
        } finally {
          await sub.done();
        }
      });

      test("the smoke scenario inside a Worker", async () => {
        assert.deepEqual(await get(`/smoke?port=${port}`), {
          received: 3,
          bytes: 256 + 2 * 65536,
        });
      });
    });
  }
}
