// Cloudflare Workers in the real workerd runtime, through miniflare: a Worker
// (worker.ts, bundled with the library by run.ts as UMQTT_WORKER) publishes
// on each fetch and the messages arrive at mosquitto (UMQTT_PORT on
// 127.0.0.1); a Worker subscribes and returns what it received; the smoke
// scenario runs inside a Worker. The test's own MQTT client is the library
// bundled for Node (UMQTT_NODE_BUNDLE).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
// Computed: `deno check tests/` reads this file too, and cannot resolve the
// dev folder's packages; Node resolves them from tests/runtimes/node_modules.
const { Miniflare } = await import(String("miniflare"));

const { MQTTClient } = await import(
  pathToFileURL(process.env.UMQTT_NODE_BUNDLE).href
);
const port = process.env.UMQTT_PORT;
const hex = () => Math.random().toString(16).slice(2, 10);
let mf;

before(async () => {
  mf = new Miniflare({
    // As text: a scriptPath outside miniflare's working folder is refused.
    // Listed, not discovered: miniflare's module discovery refuses the
    // source bundle's import("node:net") (never run in workerd) unless
    // nodejs_compat is on.
    modules: [{
      type: "ESModule",
      path: "worker.js",
      contents: readFileSync(process.env.UMQTT_WORKER, "utf8"),
    }],
    compatibilityDate: "2025-01-01",
  });
  await mf.ready;
});
after(() => mf?.dispose());

async function get(path) {
  const res = await mf.dispatchFetch(`http://worker.test${path}`);
  const body = await res.json();
  assert.equal(res.status, 200, JSON.stringify(body));
  return body;
}

test("workerd: each fetch publishes, and mosquitto delivers it", async () => {
  const topic = `cf-${hex()}`;
  const sub = new MQTTClient(`t-${topic}`, `mqtt://127.0.0.1:${port}`);
  await sub.connect();
  await sub.subscribe(`${topic}/#`, 1);
  try {
    for (let i = 0; i < 3; i++) {
      assert.deepEqual(await get(`/publish?port=${port}&topic=${topic}&n=2`), {
        published: 2,
      });
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

test("workerd: a subscriber inside a Worker returns what it received", async () => {
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

test("workerd: the smoke scenario inside a Worker", async () => {
  assert.deepEqual(await get(`/smoke?port=${port}`), {
    received: 3,
    bytes: 256 + 2 * 65536,
  });
});
