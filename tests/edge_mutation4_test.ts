// Edges of the client's API room and of the modules around a connection attempt
// (lib/client.ts, _client_config.ts, _credentials.ts, _attempt.ts, _abort_waits.ts,
// _uncancelled.ts, _bytes.ts) where a systematic mutation run (every comparison, condition,
// constant ±1 and statement, one at a time, against the fast tests of the file; see
// edge_mutation_test.ts) found behaviour no test pinned down. Each test here fails on such a
// mutant and passes on the code. Driven with the scripted broker or by hand; no real broker.
import assert from "node:assert/strict";
import { MQTTClient, MQTTConnectionError } from "../mod.ts";
import { abortable } from "../lib/_abort_waits.ts";
import { MQTTClient as Robust } from "../lib/robust.ts";
import { dropKept, gaveUp, LINGERING, waitsWhy } from "../lib/_uncancelled.ts";
import type { Endpoint } from "../lib/transports/endpoint.ts";
import { acceptConnect, type HostileBroker, startHostileBroker } from "./_hostile_broker.ts";
import { test, uniqueId, until, withTimeout } from "./_test.ts";

test("a connect timeout with the CONNECT unanswered says so and no more: 'no CONNACK within N ms' (mutant 237 of _attempt.ts)", async () => {
  const b = await startHostileBroker(async (peer) => {
    await peer.expect("connect"); // and never a CONNACK
    await peer.clientClosed;
  });
  const port = new URL(b.url).port;
  try {
    const c = new MQTTClient(uniqueId("noack"), b.url, { connectTimeout: 100 });
    await assert.rejects(c.connect(), (e) => {
      assert.ok(e instanceof MQTTConnectionError, String(e));
      assert.equal(
        e.message,
        `Connection to 127.0.0.1:${port} timed out: no CONNACK within 100 ms`,
      );
      return true;
    });
  } finally {
    await b.close();
  }
});

test("connect() aborted by its signal while the broker has not answered rejects with the signal's reason itself (mutant 241 of _attempt.ts)", async () => {
  const b = await startHostileBroker(async (peer) => {
    await peer.expect("connect");
    await peer.clientClosed;
  });
  try {
    const c = new MQTTClient(uniqueId("abort"), b.url);
    const ac = new AbortController();
    const reason = new Error("the user gave up");
    const connecting = c.connect(true, { signal: ac.signal });
    await until(() => (b.peers[0]?.received.length ?? 0) > 0, "the CONNECT went out");
    ac.abort(reason);
    await assert.rejects(connecting, (e) => {
      assert.equal(e, reason);
      return true;
    });
    assert.equal(c.connected, false);
  } finally {
    await b.close();
  }
});

test("a user function returning a string MQTT refuses: the error names the option 'user' (mutant 233 of _credentials.ts)", async () => {
  const c = new MQTTClient(uniqueId("nul"), "mqtt://127.0.0.1:1", { user: () => "a\u0000b" });
  await assert.rejects(
    c.connect(),
    (e) =>
      e instanceof TypeError &&
      e.message === "Invalid user: it contains U+0000 (MQTT-1.5.3-2)",
  );
});

test("a transport that refuses its arguments (a TypeError) is the client's own failure: connect() gives up, no other server is tried (mutant 246 of _attempt.ts)", async () => {
  const tried: number[] = [];
  const c = new MQTTClient(uniqueId("own"), ["mqtt://127.0.0.1:1", "mqtt://127.0.0.1:2"], {
    transport: (_signal, server) => {
      tried.push(server.port);
      throw new TypeError("the transport cannot take these options");
    },
  });
  await assert.rejects(c.connect(), (e) => {
    assert.ok(e instanceof MQTTConnectionError, String(e));
    assert.equal(
      e.message,
      "Cannot connect to 127.0.0.1:1: the transport cannot take these options",
    );
    assert.ok(e.cause instanceof TypeError);
    return true;
  });
  assert.deepEqual(tried, [1], "the second server is not tried");
});

/** A connected client of a scripted broker that sends `messages` once asked (a PINGREQ). */
async function withMessages(
  messages: number,
  fn: (c: MQTTClient, b: HostileBroker) => Promise<void>,
): Promise<void> {
  const b = await startHostileBroker(async (peer) => {
    await acceptConnect(peer);
    for (;;) {
      const p = await peer.next().catch(() => null);
      if (p === null) return;
      if (p.type !== "pingreq") continue;
      await peer.write({ type: "pingresp" });
      for (let i = 0; i < messages; i++) {
        await peer.write({
          type: "publish",
          topic: "em4/t",
          payload: new TextEncoder().encode(`m${i}`),
          qos: 0,
          retain: false,
          dup: false,
        });
      }
    }
  });
  const c = new MQTTClient(uniqueId("em4"), b.url);
  try {
    await c.connect();
    await fn(c, b);
  } finally {
    await c.disconnect();
    await b.close();
  }
}

/** What `p` settled with so far: "pending", or its value or error. */
function outcome<T>(p: Promise<T>): { get: () => unknown } {
  let got: unknown = "pending";
  p.then((v) => (got = v), (e) => (got = e));
  return { get: () => got };
}

test("two wait_msg() calls on one signal: the first answered, an abort still ends the second (mutant 254 of _abort_waits.ts)", async () => {
  await withMessages(1, async (c) => {
    const ac = new AbortController();
    const first = c.wait_msg({ signal: ac.signal });
    const second = outcome(c.wait_msg({ signal: ac.signal }));
    await c.ping(); // the broker sends one message after the PINGRESP
    const m = await first;
    assert.equal(new TextDecoder().decode(m.payload), "m0");
    assert.equal(second.get(), "pending");
    const reason = new Error("no more waiting");
    ac.abort(reason);
    await new Promise((r) => setTimeout(r, 0));
    assert.equal(second.get(), reason);
  });
});

test("a signal reused after its first wait_msg() was answered still ends the next one (mutant 267 of _abort_waits.ts)", async () => {
  await withMessages(1, async (c) => {
    const ac = new AbortController();
    const first = c.wait_msg({ signal: ac.signal });
    await c.ping();
    await first;
    const second = outcome(c.wait_msg({ signal: ac.signal }));
    const reason = new Error("no more waiting");
    ac.abort(reason);
    await new Promise((r) => setTimeout(r, 0));
    assert.equal(second.get(), reason);
  });
});

test("abortable() given a signal that has aborted already rejects with its reason, as documented; the API's calls check their signal before, so this pins the helper itself (mutant 262 of _abort_waits.ts)", async () => {
  const reason = new Error("aborted before the call");
  const never = new Promise<void>(() => {});
  const waiting = outcome(abortable(never, AbortSignal.abort(reason)));
  await new Promise((r) => setTimeout(r, 0));
  assert.equal(waiting.get(), reason);
});

test("client.user shows a user given as text, not one given as a function (mutants 299 and 338 of client.ts)", () => {
  assert.equal(new MQTTClient("u", "127.0.0.1", { user: "alice" }).user, "alice");
  assert.equal(new MQTTClient("u", "127.0.0.1", 1883, "bob", "pw").user, "bob");
  assert.equal(new MQTTClient("u", "127.0.0.1", { user: () => "carol" }).user, undefined);
  assert.equal(new MQTTClient("u", "127.0.0.1").user, undefined);
});

test("connect() and set_last_will() by default: a clean session, and a will of QoS 0 not retained (mutants 311 and 314 of client.ts)", async () => {
  const b = await startHostileBroker(async (peer) => {
    await acceptConnect(peer);
    await peer.clientClosed;
  });
  const c = new MQTTClient(uniqueId("defaults"), b.url);
  try {
    c.set_last_will("em4/will", "gone");
    await c.connect();
    const connect = b.peers[0].received[0];
    assert.equal(connect.type, "connect");
    if (connect.type !== "connect") return;
    assert.equal(connect.cleanSession, true);
    assert.equal(connect.will?.topic, "em4/will");
    assert.equal(connect.will?.qos, 0);
    assert.equal(connect.will?.retain, false);
  } finally {
    await c.disconnect();
    await b.close();
  }
});

test("MQTT 5: a Server Keep Alive of 0 is the keepalive the client shows, not its own (mutant 307 of client.ts)", async () => {
  const b = await startHostileBroker(async (peer) => {
    await acceptConnect(peer, { serverKeepAlive: 0 });
    await peer.clientClosed;
  });
  const c = new MQTTClient(uniqueId("ska"), b.url, { protocolVersion: 5, keepalive: 30 });
  try {
    assert.equal(c.keepalive, 30);
    await c.connect();
    assert.equal(c.keepalive, 0);
  } finally {
    await c.disconnect();
    await b.close();
  }
});

test("ping() with the keepalive off: a broker that never answers makes the connection dead within connectTimeout (mutants 315-317 of client.ts)", async () => {
  const b = await startHostileBroker(async (peer) => {
    await acceptConnect(peer);
    await peer.clientClosed; // reads the PINGREQ, never answers it
  });
  const c = new MQTTClient(uniqueId("pingbound"), b.url, { connectTimeout: 200 });
  try {
    await c.connect();
    await assert.rejects(
      withTimeout(c.ping(), 10_000, "ping() to end"),
      (e) =>
        e instanceof MQTTConnectionError &&
        e.message === "Connection dead: no answer to PINGREQ within 200 ms (connectTimeout)",
    );
    assert.equal(c.connected, false);
  } finally {
    await c.disconnect();
    await b.close();
  }
});

test("ping() with the keepalive on waits for a late PINGRESP: the keepalive, not ping(), judges the connection (mutant 318 of client.ts)", async () => {
  let release!: () => void;
  const released = new Promise<void>((r) => release = r);
  const b = await startHostileBroker(async (peer) => {
    await acceptConnect(peer);
    await peer.expect("pingreq");
    await released;
    await peer.write({ type: "pingresp" });
    await peer.clientClosed;
  });
  const c = new MQTTClient(uniqueId("pinglate"), b.url, { keepalive: 60, connectTimeout: 200 });
  try {
    await c.connect();
    const pinging = c.ping();
    pinging.catch(() => {}); // awaited below, after the release
    await until(() => (b.peers[0]?.received.length ?? 0) > 1, "the PINGREQ arrived");
    await new Promise((r) => setTimeout(r, 20)); // the PINGRESP comes late (not past any limit)
    release();
    await pinging;
    assert.equal(c.connected, true);
  } finally {
    await c.disconnect();
    await b.close();
  }
});

test("MQTT 5 simple client: a QoS 0 publish over the broker's Maximum Packet Size is refused, not sent (mutant 323 of client.ts)", async () => {
  const b = await startHostileBroker(async (peer) => {
    await acceptConnect(peer, { maximumPacketSize: 64 });
    for (let p; (p = await peer.next().catch(() => null));) {
      if (p.type === "pingreq") await peer.write({ type: "pingresp" });
    }
  });
  const c = new MQTTClient(uniqueId("mps"), b.url, { protocolVersion: 5 });
  try {
    await c.connect();
    await assert.rejects(c.publish("em4/big", "x".repeat(100)), RangeError);
    await c.ping();
    assert.deepEqual(b.peers[0].received.map((p) => p.type), ["connect", "pingreq"]);
  } finally {
    await c.disconnect();
    await b.close();
  }
});

test("unsubscribe() of a list resolves with the UNSUBACK's reason codes (mutant 359 of client.ts)", async () => {
  const b = await startHostileBroker(async (peer) => {
    await acceptConnect(peer);
    const u = await peer.expect("unsubscribe");
    await peer.write({ type: "unsuback", packetId: u.packetId, reasonCodes: [0x00, 0x11] });
    await peer.clientClosed;
  });
  const c = new MQTTClient(uniqueId("unsubs"), b.url, { protocolVersion: 5 });
  try {
    await c.connect();
    assert.deepEqual(await c.unsubscribe(["em4/a", "em4/b"]), [0x00, 0x11]);
  } finally {
    await c.disconnect();
    await b.close();
  }
});

test("two robust clients each run their own calls: one constructed later and never connected does not hold up the first's publish (mutant 300 of client.ts)", async () => {
  const b = await startHostileBroker(async (peer) => {
    await acceptConnect(peer);
    for (let p; (p = await peer.next().catch(() => null));) {
      if (p.type === "publish" && p.qos === 1) {
        await peer.write({ type: "puback", packetId: p.packetId! });
      }
    }
  });
  const first = new Robust(uniqueId("first"), b.url);
  const second = new Robust(uniqueId("second"), "mqtt://127.0.0.1:1");
  try {
    await first.connect();
    await withTimeout(first.publish("em4/r", "x", false, 1), 10_000, "the first client's publish");
    assert.equal(b.peers.length, 1);
    assert.equal(b.peers[0].received.filter((p) => p.type === "publish").length, 1);
  } finally {
    await first.disconnect();
    await second.disconnect();
    await b.close();
  }
});

test("robust: disconnect() twice at once, the second asking for another DISCONNECT, is refused as the simple client's (mutant 306 of client.ts)", async () => {
  const b = await startHostileBroker(async (peer) => {
    await acceptConnect(peer);
    await peer.clientClosed;
  });
  const c = new Robust(uniqueId("twice"), b.url, { protocolVersion: 5 });
  try {
    await c.connect();
    const first = c.disconnect({ reasonCode: 0x04 });
    await assert.rejects(c.disconnect({ reasonCode: 0x80 }), {
      name: "TypeError",
      message: "Invalid disconnect() options: a disconnect() under way sends its own DISCONNECT",
    });
    await first;
    await b.peers[0].clientClosed; // all it sent has been read
    const sent = b.peers[0].received.filter((p) => p.type === "disconnect");
    assert.deepEqual(sent.map((p) => p.type === "disconnect" && p.reasonCode), [0x04]);
  } finally {
    await c.disconnect();
    await b.close();
  }
});

// _uncancelled.ts keeps, per client and server, what Deno's TLS left going on after a handshake
// given up (tls_abandon_test.ts drives it through Deno). Here a hand-made Lingering stands for
// the transport's: these pin the bookkeeping itself, on every runtime.
const SERVER: Endpoint = { scheme: "mqtts", hostname: "127.0.0.1", port: 8883, ssl: true };

/** A Lingering as the Deno transport sets one, for the attempt `signal` gave up. */
function lingering(signal: AbortSignal) {
  let end!: () => void;
  const l = { ended: new Promise<void>((r) => end = r), dropped: 0, drop: () => void l.dropped++ };
  LINGERING.set(signal, l);
  return { l, end };
}

test("a handshake kept for a robust client is forgotten once it has ended: no later timeout says it is pending, and the stop no longer drops it (mutants 274, 275, 280 of _uncancelled.ts)", async () => {
  const client = { userClosed: false }, until = new AbortController();
  const attempt = new AbortController();
  attempt.abort();
  const { l, end } = lingering(attempt.signal);
  gaveUp(client, SERVER, attempt.signal, until.signal);
  assert.match(waitsWhy(client, SERVER), /a TLS handshake given up before is still pending/);
  assert.equal(l.dropped, 0, "kept, not dropped");
  end();
  await new Promise((r) => setTimeout(r, 0));
  assert.equal(waitsWhy(client, SERVER), "");
  until.abort();
  assert.equal(l.dropped, 0, "an ended one is not dropped when the robust client stops");
});

test("a second handshake kept for the same server replaces the first, whose end does not forget it (mutant 275 of _uncancelled.ts)", async () => {
  const client = { userClosed: false }, until = new AbortController();
  const a1 = new AbortController(), a2 = new AbortController();
  a1.abort(), a2.abort();
  const first = lingering(a1.signal), second = lingering(a2.signal);
  gaveUp(client, SERVER, a1.signal, until.signal);
  gaveUp(client, SERVER, a2.signal, until.signal);
  first.end();
  await new Promise((r) => setTimeout(r, 0));
  assert.match(waitsWhy(client, SERVER), /still pending/, "the second is still kept");
  until.abort();
  assert.equal(second.l.dropped, 1);
  second.end();
});

test("a handshake given up after the robust client stopped retrying (its signal aborted) is dropped at once, not kept (mutant 272 of _uncancelled.ts)", () => {
  const client = { userClosed: false }, until = new AbortController();
  until.abort();
  const attempt = new AbortController();
  attempt.abort();
  const { l, end } = lingering(attempt.signal);
  gaveUp(client, SERVER, attempt.signal, until.signal);
  assert.equal(l.dropped, 1);
  assert.equal(waitsWhy(client, SERVER), "");
  end();
});

test("dropKept() drops what a client kept and forgets it at once (mutant 281 of _uncancelled.ts)", async () => {
  const client = { userClosed: false }, until = new AbortController();
  const attempt = new AbortController();
  attempt.abort();
  const { l, end } = lingering(attempt.signal);
  gaveUp(client, SERVER, attempt.signal, until.signal);
  const dropping = dropKept(client);
  assert.equal(l.dropped, 1);
  assert.equal(waitsWhy(client, SERVER), "", "forgotten before it has ended");
  end();
  await dropping;
  assert.equal(dropKept(client), undefined, "nothing left to drop");
});

test("constructor: values that are falsy but not absent are checked, not taken for the default (mutants 12, 19, 34 of _client_config.ts)", () => {
  const bad = (o: Record<string, unknown>) => () => new MQTTClient("x", "127.0.0.1", o);
  assert.throws(bad({ port: "" }), { name: "TypeError", message: /^Invalid port/ });
  assert.throws(bad({ ssl: 0 }), { name: "TypeError", message: /^Invalid ssl: must be a boolean/ });
  assert.throws(bad({ protocolVersion: 0 }), {
    name: "RangeError",
    message: /^Invalid protocolVersion 0/,
  });
  // null is umqtt's None: the default.
  const c = new MQTTClient(
    "x",
    "127.0.0.1",
    { port: null, ssl: null, protocolVersion: null } as never,
  );
  assert.equal(c.port, 1883);
  assert.equal(c.ssl, false);
});

test("constructor: port 65535 and keepalive 0 are taken; the keepalive is 0 by default (mutants 18 and 65 of _client_config.ts)", () => {
  assert.equal(new MQTTClient("x", "127.0.0.1", 65535).port, 65535);
  assert.equal(new MQTTClient("x", "127.0.0.1").keepalive, 0);
  assert.equal(new MQTTClient("x", "127.0.0.1", { keepalive: 0 }).keepalive, 0);
  assert.throws(() => new MQTTClient("x", "127.0.0.1", 65536), RangeError);
});

test("constructor: a list of one server is a list; an empty one is refused (mutants 24 and 25 of _client_config.ts)", () => {
  assert.equal(new MQTTClient("x", ["mqtt://127.0.0.1:1884"]).port, 1884);
  assert.throws(() => new MQTTClient("x", []), {
    name: "TypeError",
    message: "Invalid server: an empty list; give at least one host or URL",
  });
});

test("constructor: an empty user name is a user name; an empty password is a password (mutants 26 and 27 of _client_config.ts)", async () => {
  assert.equal(new MQTTClient("x", "127.0.0.1", { user: "" }).user, "");
  // 3.1.1: a password, even empty, needs a user.
  assert.throws(
    () => new MQTTClient("x", "127.0.0.1", { password: "" }),
    /needs a user with a password/,
  );
  const b = await startHostileBroker(async (peer) => {
    await acceptConnect(peer);
    await peer.clientClosed;
  });
  const c = new MQTTClient(uniqueId("empty"), b.url, { user: "", password: "" });
  try {
    await c.connect();
    const connect = b.peers[0].received[0];
    assert.ok(connect.type === "connect");
    assert.equal(connect.username, "");
    assert.deepEqual(connect.password, new Uint8Array(0));
  } finally {
    await c.disconnect();
    await b.close();
  }
});

test("constructor: keepalive 65535 is taken; ssl_params that is no object is refused as such (mutants 70, 71, 74 of _client_config.ts)", () => {
  assert.equal(new MQTTClient("x", "127.0.0.1", { keepalive: 65535 }).keepalive, 65535);
  assert.throws(() => new MQTTClient("x", "127.0.0.1", { keepalive: 65536 }), RangeError);
  for (const sp of ["", "abc", 0]) {
    assert.throws(() => new MQTTClient("x", "127.0.0.1", { ssl_params: sp as never }), {
      name: "TypeError",
      message: `Invalid ssl_params: must be an object, got ${typeof sp}`,
    });
  }
});

test("MQTT 5: CONNECT says the default Maximum Packet Size, 1 MiB (mutants 110 and 111 of _client_config.ts)", async () => {
  const b = await startHostileBroker(async (peer) => {
    await acceptConnect(peer);
    await peer.clientClosed;
  });
  const c = new MQTTClient(uniqueId("mps"), b.url, { protocolVersion: 5 });
  try {
    await c.connect();
    const connect = b.peers[0].received[0];
    assert.ok(connect.type === "connect");
    assert.equal(connect.properties?.maximumPacketSize, 1_048_576);
  } finally {
    await c.disconnect();
    await b.close();
  }
});

test("constructor: the limits' bounds are taken and one past them refused (mutants 112, 113, 115, 119, 124, 126, 127, 183-185 of _client_config.ts)", () => {
  const make = (o: Record<string, unknown>) => new MQTTClient("x", "127.0.0.1", o);
  for (
    const [name, low, high, v5] of [
      ["maxPacketSize", 2, 268_435_460, false],
      ["maxQueuedMessages", 1, Number.MAX_SAFE_INTEGER, false],
      ["connectTimeout", 1, 2_147_483_647, false],
      ["topicAliasMaximum", 0, 65535, true],
    ] as const
  ) {
    const o = v5 ? { protocolVersion: 5 } : {};
    make({ ...o, [name]: low });
    make({ ...o, [name]: high });
    assert.throws(() => make({ ...o, [name]: low - 1 }), RangeError, `${name} ${low - 1}`);
    if (high < Number.MAX_SAFE_INTEGER) {
      assert.throws(() => make({ ...o, [name]: high + 1 }), RangeError, `${name} ${high + 1}`);
    }
  }
});

test("constructor: a sessionStore, MQTT 5 booleans and onAuth that are falsy or incomplete are refused, naming the option (mutants 139, 143, 152, 176, 178, 180, 204, 207, 210-212 of _client_config.ts)", () => {
  const bad = (o: Record<string, unknown>, message: RegExp) =>
    assert.throws(() => new MQTTClient("x", "127.0.0.1", o), { message }, String(message));
  bad({ sessionStore: false }, /^Invalid sessionStore: needs an outgoing Map and an incoming Set$/);
  bad(
    { sessionStore: { outgoing: new Map(), incoming: [] } },
    /^Invalid sessionStore: needs an outgoing Map and an incoming Set$/,
  );
  bad({ protocolVersion: 5, receiveMaximum: 0 }, /Receive Maximum|receiveMaximum/);
  bad({ protocolVersion: 5, requestResponseInformation: 0 }, /^Invalid requestResponseInformation/);
  bad({ protocolVersion: 5, requestProblemInformation: 0 }, /^Invalid requestProblemInformation/);
  bad({ protocolVersion: 5, autoTopicAlias: 0 }, /^Invalid autoTopicAlias/);
  bad({ protocolVersion: 5, onAuth: "x" }, /^Invalid onAuth: must be a function, got string$/);
});

test("MQTT 5 CONNECT: no Receive Maximum by default (65 535 is its meaning when absent), one given otherwise; Request Response Information when asked (mutants 154, 162, 163, 165 of _client_config.ts)", async () => {
  const b = await startHostileBroker(async (peer) => {
    await acceptConnect(peer);
    await peer.clientClosed;
  });
  try {
    for (
      const [o, rm, rri] of [
        [{}, undefined, undefined],
        [{ receiveMaximum: 65534, requestResponseInformation: true }, 65534, true],
        [{ receiveMaximum: 65535, requestResponseInformation: false }, undefined, undefined],
      ] as const
    ) {
      const c = new MQTTClient(uniqueId("rm"), b.url, { protocolVersion: 5, ...o });
      await c.connect();
      await c.disconnect();
      const connect = b.peers.at(-1)!.received[0];
      assert.ok(connect.type === "connect");
      assert.equal(connect.properties?.receiveMaximum, rm, JSON.stringify(o));
      assert.equal(connect.properties?.requestResponseInformation, rri, JSON.stringify(o));
    }
  } finally {
    await b.close();
  }
});

test("MQTT 5: topic aliases are used by default where the broker allows them, and not with autoTopicAlias: false (mutants 186 and 187 of _client_config.ts)", async () => {
  const b = await startHostileBroker(async (peer) => {
    await acceptConnect(peer, { topicAliasMaximum: 10 });
    for (let p; (p = await peer.next().catch(() => null));) {
      if (p.type === "pingreq") await peer.write({ type: "pingresp" });
    }
  });
  try {
    for (const auto of [undefined, false]) {
      const c = new MQTTClient(uniqueId("alias"), b.url, {
        protocolVersion: 5,
        autoTopicAlias: auto,
      });
      await c.connect();
      await c.publish("em4/alias", "1");
      await c.publish("em4/alias", "2");
      await c.ping();
      await c.disconnect();
      const sent = b.peers.at(-1)!.received.filter((p) => p.type === "publish");
      assert.deepEqual(
        sent.map((p) => p.type === "publish" && p.properties?.topicAlias),
        auto === false ? [undefined, undefined] : [1, 1],
        `autoTopicAlias ${auto}`,
      );
    }
  } finally {
    await b.close();
  }
});

test("by default 1000 messages wait in the client's queue: the 1001st unread is dropped (mutants 117 and 118 of _client_config.ts)", async () => {
  const b = await startHostileBroker(async (peer) => {
    await acceptConnect(peer);
    await peer.expect("pingreq");
    const p = { type: "publish", topic: "em4/q", qos: 0, retain: false, dup: false } as const;
    await peer.write(
      ...Array.from({ length: 1001 }, () => ({ ...p, payload: new Uint8Array(1) })),
      { type: "pingresp" },
    );
    for (let p; (p = await peer.next().catch(() => null));) {
      if (p.type === "pingreq") await peer.write({ type: "pingresp" });
    }
  });
  const c = new MQTTClient(uniqueId("queue"), b.url);
  try {
    await c.connect();
    await c.ping(); // its PINGRESP comes after the 1001 messages
    await c.ping();
    assert.equal(c.droppedMessages, 1);
  } finally {
    await c.disconnect();
    await b.close();
  }
});

test("an attempt given up that left nothing going on (any transport but Deno's TLS) keeps nothing (mutant 270 of _uncancelled.ts)", () => {
  const client = { userClosed: false }, until = new AbortController();
  const attempt = new AbortController();
  attempt.abort();
  gaveUp(client, SERVER, attempt.signal, until.signal);
  assert.equal(waitsWhy(client, SERVER), "");
  assert.equal(dropKept(client), undefined);
});
