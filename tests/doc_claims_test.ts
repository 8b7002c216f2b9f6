// JSDoc claims of the public API checked against the running code, where an
// audit of @throws, defaults and stated behaviour found them unasserted or
// untrue (see doc_contract_test.ts for the earlier audit's).
import assert from "node:assert/strict";
import { MQTTClient } from "../mod.ts";
import { MQTTClient as RobustClient } from "../lib/robust.ts";
import { forEachBroker } from "./_brokers.ts";
import { connectWebSocket } from "../lib/transports/websocket.ts";
import { acceptConnect, withHostileBroker } from "./_hostile_broker.ts";
import { test, uniqueId } from "./_test.ts";

// errors.ts: "Bad arguments are plain TypeErrors and RangeErrors". A negative
// highWaterMark held every write for ever (bufferedAmount 0 is over -1): the
// CONNECT went out, and the first publish() after it never resolved.
test("connectWebSocket: a highWaterMark below 0 is a RangeError naming it; 0 works", async () => {
  for (const highWaterMark of [-1, NaN]) {
    await assert.rejects(
      connectWebSocket("ws://127.0.0.1:1/mqtt", { highWaterMark }),
      (e) => e instanceof RangeError && /highWaterMark/.test(e.message),
    );
  }
  // 0, the least: each write waits until the WebSocket has sent what it holds.
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, (req) => {
    const { socket, response } = Deno.upgradeWebSocket(req, { protocol: "mqtt" });
    socket.onmessage = (e) => {
      // CONNECT: CONNACK accepted.
      if (new Uint8Array(e.data)[0] >> 4 === 1) socket.send(Uint8Array.of(0x20, 2, 0, 0));
    };
    return response;
  });
  try {
    const url = `ws://127.0.0.1:${server.addr.port}/mqtt`;
    const c = new MQTTClient(uniqueId("hwm"), url, {
      transport: () => connectWebSocket(url, { highWaterMark: 0 }),
    });
    await c.connect();
    await c.publish("t", "m");
    await c.disconnect();
  } finally {
    await server.shutdown();
  }
});

// cloudflare.ts: "@throws {TypeError} For ssl_params a Worker cannot honour",
// and its message names the key; a key without a cert went unchecked, to be
// dropped without a word by workerd. (Outside workerd the import of
// cloudflare:sockets fails after the check: also a TypeError, not naming ssl_params.)
test("connectCloudflare: an ssl_params key alone is a TypeError naming ssl_params", async () => {
  const { connectCloudflare } = await import("../lib/transports/cloudflare.ts");
  await assert.rejects(
    connectCloudflare({
      hostname: "broker.example",
      port: 8883,
      ssl: true,
      ssl_params: { key: "k" },
    }),
    (e) => e instanceof TypeError && /^Invalid ssl_params/.test(e.message),
  );
});

// topic.ts: "a malformed one (see validateTopicFilter) matches nothing" held
// for a shared subscription's group, not its filter: $share/g/a# matched the
// topic "a#"; and a malformed plain filter or topic name matched as well.
test("topicMatches: a filter or topic name the validators refuse matches nothing", async () => {
  const { topicMatches, validateTopicFilter, validateTopicName } = await import("../mod.ts");
  for (
    const [filter, topic] of [["$share/g/a#", "a#"], ["$share/g/a/#/b", "a/#/b"], ["a+", "a+"]]
  ) {
    assert.throws(() => validateTopicFilter(filter), TypeError);
    assert.equal(topicMatches(filter, topic), false, `${filter} and ${topic}`);
  }
  for (const [filter, topic] of [["#", ""], ["a/+", "a/#"], ["", ""]]) {
    assert.throws(() => filter ? validateTopicName(topic) : validateTopicFilter(filter), TypeError);
    assert.equal(topicMatches(filter, topic), false, `${filter} and ${topic}`);
  }
  assert.ok(topicMatches("$share/g/a/+", "a/b") && topicMatches("a/#", "a"));
  assert.throws(() => topicMatches(1 as unknown as string, "a"), /must be a string, got number/);
});

// client.ts set_last_will: "Call before connect(): set while connected, it
// goes with the next one." MQTT has no way to change a will mid-connection;
// umqtt.simple keeps it for the next CONNECT, and so does this client.
test("set_last_will while connected: no error, and the next CONNECT carries the will", async () => {
  const wills: unknown[] = [];
  await withHostileBroker(async (peer) => {
    wills.push((await acceptConnect(peer)).will?.topic);
    await peer.clientClosed;
  }, async (broker) => {
    const c = new MQTTClient(uniqueId("will"), broker.url);
    await c.connect();
    c.set_last_will("gone/now", "bye");
    await c.disconnect();
    await c.connect();
    await c.disconnect();
  });
  assert.deepEqual(wills, [undefined, "gone/now"]);
});

// README "Requirements": WeakRef, FinalizationRegistry and Symbol.asyncDispose
// are used where present (workerd has no WeakRef before compatibility date
// 2025-05-05); the README listed WeakRef among what a browser must have. The
// robust client's `signal` is the one use of both: watched weakly where they
// exist, held otherwise. And robust.ts: the signal "ends reconnecting (the
// connection stays until disconnect())".
forEachBroker(
  "a robust client given a signal runs where WeakRef and FinalizationRegistry are missing; its abort leaves the connection up",
  async (broker) => {
    const g = globalThis as { WeakRef?: unknown; FinalizationRegistry?: unknown };
    const { WeakRef, FinalizationRegistry } = g;
    delete g.WeakRef, delete g.FinalizationRegistry;
    const stop = new AbortController();
    let c: RobustClient;
    try {
      c = new RobustClient(uniqueId("noweakref"), broker.url, { signal: stop.signal });
    } finally {
      Object.assign(g, { WeakRef, FinalizationRegistry });
    }
    try {
      await c.connect();
      const topic = uniqueId("noweakref/t");
      await c.subscribe(topic, 1);
      await c.publish(topic, "x", false, 1);
      assert.equal(new TextDecoder().decode((await c.wait_msg()).payload), "x");
      stop.abort(new Error("stopped"));
      assert.ok(c.connected, "the signal ends reconnecting, not the connection");
      await c.publish(topic, "y", false, 1);
    } finally {
      await c.disconnect();
    }
  },
);
