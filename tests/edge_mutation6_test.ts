// Edges of lib/robust.ts, lib/_connection.ts, lib/topic.ts, lib/_auth.ts, lib/_offline.ts and
// lib/_ordered.ts where a systematic mutation run (every comparison, condition, constant ±1 and
// statement, one at a time, against the fast tests of the file; see edge_mutation_test.ts) found
// behaviour no test pinned down. Each test here fails on such a mutant and passes on the code.
// Pure functions called directly, or the scripted broker; no real broker.
import assert from "node:assert/strict";
import { MQTTClient } from "../lib/client.ts";
import { MQTTClient as Robust } from "../lib/robust.ts";
import { topicMatches } from "../lib/topic.ts";
import { acceptConnect, type Peer, startHostileBroker } from "./_hostile_broker.ts";
import { test, until, withTimeout } from "./_test.ts";

test("robust: a client whose signal has aborted reconnects no more: reconnect() rejects with the reason, announcing no attempt (mutation12: robust.ts mutant 313)", async () => {
  const stop = new AbortController();
  const reason = new Error("shut down");
  let transports = 0;
  const c = new Robust("id", "mqtt://127.0.0.1:1", {
    signal: stop.signal,
    transport: () => {
      transports++;
      throw new Error("no network here");
    },
  });
  c.DELAY = 0;
  let events = 0;
  c.addEventListener("reconnecting", () => events++);
  stop.abort(reason);
  await assert.rejects(c.reconnect(), (e) => e === reason);
  assert.equal(events, 0, "a reconnecting event was dispatched");
  assert.equal(transports, 0);
});

test("robust: the client's signal aborted by an attempt that then fails otherwise ends reconnect() with the reason, not the attempt's error (mutation12: robust.ts mutant 301)", async () => {
  const stop = new AbortController();
  const reason = new Error("shut down");
  let transports = 0;
  const c = new Robust("id", "mqtt://127.0.0.1:1", {
    signal: stop.signal,
    transport: () => {
      transports++;
      stop.abort(reason);
      throw new Error("no network here");
    },
  });
  c.DELAY = 0;
  const logged: [boolean, unknown][] = [];
  c.log = (inReconnect: boolean, e: unknown) => void logged.push([inReconnect, e]);
  await assert.rejects(c.reconnect(), (e) => e === reason);
  assert.equal(transports, 1);
  assert.deepEqual(logged, [], "the attempt's error was logged");
});

test("a server given without a scheme that holds a fragment is refused as not a URL, the fragment not shown, as one holding a query is (review of 7252c58)", async () => {
  // 'host#token' went to the resolver as a host name, which every connection error then named,
  // fragment and all ("Cannot connect to host#token:1883: failed to lookup address…"); 'host?token'
  // and 'token@host' were refused, hidden. With a scheme, a URL's fragment is not used.
  const SECRET = "s3cret-fragment";
  for (
    const server of [`127.0.0.1#${SECRET}`, `localhost#access_token=${SECRET}`, `h#x?${SECRET}`]
  ) {
    let client: MQTTClient;
    try {
      client = new MQTTClient("id", server, { port: 1, connectTimeout: 3000 });
    } catch (e) {
      assert.ok(e instanceof TypeError, `${server}: ${e}`);
      assert.match(e.message, /^Invalid server "[^"]*#…": not a URL \(mqtt:\/\/host\[:port\]\)$/);
      assert.ok(!`${e.message}\n${e.stack}`.includes(SECRET), `${server}: ${e.message}`);
      continue;
    }
    const error = await client.connect().then(() => null, (e) => e);
    assert.fail(`${server}: taken as a host name: ${error?.message}`);
  }
  // A URL's fragment is dropped as before.
  assert.equal(new MQTTClient("id", "mqtt://127.0.0.1#x").server, "127.0.0.1");
});

test("topicMatches: a filter whose '+' stands past the topic's last level matches not, even before a '#' (mutation12: topic.ts mutants 203, 229)", () => {
  // '#' matches its parent level, but '+' must match a level of its own: "a/+/#" matches "a/x",
  // not "a". The mutants let the '+' stand for a level the topic does not have.
  assert.equal(topicMatches("a/+/#", "a"), false);
  assert.equal(topicMatches("a/+/#", "a/"), true);
  assert.equal(topicMatches("a/+/#", "a/x"), true);
  assert.equal(topicMatches("+/#", "/"), true);
  assert.equal(topicMatches("a/+/+/#", "a/x"), false);
});

test("robust: messages() ends, not throws, when disconnect() comes while it waits out an outage (mutation12: robust.ts mutant 329)", async () => {
  // The first connection is accepted and then ended by the broker; every later one is refused by
  // close, so the iteration waits for a reconnect that disconnect() gives up.
  const b = await startHostileBroker(async (peer: Peer) => {
    if (b.peers.length > 1) return void (await peer.expect("connect"), peer.end());
    await acceptConnect(peer);
    await peer.next().catch(() => null);
  });
  const c = new Robust("id", b.url, { protocolVersion: 4 });
  c.DELAY = 0.02;
  c.log = () => {};
  try {
    await c.connect(false);
    const iterated = (async () => {
      let n = 0;
      for await (const _ of c.messages()) n++;
      return n;
    })();
    await until(() => b.peers[0].received.length > 0, "the CONNECT");
    b.peers[0].end();
    await until(() => b.peers.length >= 3, "two reconnect attempts");
    await c.disconnect();
    assert.equal(await withTimeout(iterated, 5_000, "the iteration's end"), 0);
  } finally {
    await c.disconnect();
    await b.close();
  }
});
