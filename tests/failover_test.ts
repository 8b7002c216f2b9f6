// Several servers: connect() tries them in order and moves on past failures
// that speak of the server; the robust client reconnects from the server that
// worked last, one `reconnecting` event per server tried; credentials given as
// functions are fetched for every attempt. Real brokers behind loopback
// proxies, scripted brokers for refusals.
import assert from "node:assert/strict";
import { createServer } from "node:net";
import { MQTTClient, MQTTConnectionError, MQTTException } from "../mod.ts";
import { MQTTClient as RobustClient, type ReconnectingDetail } from "../lib/robust.ts";
import { type Broker, forEachBroker, startMosquitto } from "./_brokers.ts";
import { FaultProxy } from "./_fault_proxy.ts";
import { connect } from "./_net.ts";
import { acceptConnect, type Peer, startHostileBroker } from "./_hostile_broker.ts";
import { endpointUrl, referredServers } from "../lib/_servers.ts";
import { parseServer } from "../lib/transports/endpoint.ts";
import { test, uniqueId, until } from "./_test.ts";

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

/** A scripted broker that answers every CONNECT with CONNACK `code`. */
function refusing(code: number) {
  return startHostileBroker(async (peer) => {
    await peer.expect("connect");
    await peer.write(Uint8Array.of(0x20, 0x02, 0x00, code));
    await peer.clientClosed;
  });
}

/** A scripted broker that accepts TCP and never answers. */
function silent() {
  return startHostileBroker(async (peer) => {
    await peer.clientClosed;
  });
}

test("a list of servers: each entry parsed as a single server; a non-zero port replaces every entry's", () => {
  const c = new MQTTClient("id", ["mqtt://a:1000", "mqtts://b", "c", "ws://d/x"]);
  assert.equal(c.url, "mqtt://a:1000", "before any connection: the first entry");
  assert.equal(c.server, "a");
  assert.equal(c.port, 1000);
  assert.equal(c.ssl, false);
  const p = new MQTTClient("id", ["mqtt://a:1000", "mqtts://b"], { port: 2000 });
  assert.equal(p.url, "mqtt://a:2000");
  const s = new MQTTClient("id", ["a", "[::1]"], { ssl: true });
  assert.equal(s.url, "mqtts://a:8883");
  assert.equal(new MQTTClient("id", ["::1"], {}).url, "mqtt://[::1]:1883");
  assert.throws(() => new MQTTClient("id", []), /Invalid server: an empty list/);
  assert.throws(() => new MQTTClient("id", ["a", "http://b"]), /Invalid server "http:\/\/b"/);
  assert.throws(() => new MQTTClient("id", ["a", ""]), /Invalid server/);
});

forEachBroker(
  "connect() moves on past a refused port, a silent server and 'server unavailable', to the broker",
  async (broker: Broker) => {
    const unavailable = await refusing(3);
    const quiet = await silent();
    const dead = await closedPort();
    const c = new MQTTClient(uniqueId("fo"), [
      `mqtt://127.0.0.1:${dead}`,
      quiet.url,
      unavailable.url,
      broker.url,
    ], { connectTimeout: 1500 });
    const connected: unknown[] = [];
    c.addEventListener("connected", (e) => connected.push((e as CustomEvent).detail));
    try {
      assert.equal(await c.connect(), false);
      assert.equal(c.url, broker.url, "connected to the last entry");
      assert.equal(c.port, broker.port);
      assert.deepEqual(connected, [{ sessionPresent: false }]);
      assert.equal(quiet.peers.length, 1, "the silent server was tried once");
      assert.equal(unavailable.peers.length, 1);
      await c.publish(uniqueId("t"), "hi", false, 1);
    } finally {
      await c.disconnect();
      await unavailable.close();
      await quiet.close();
    }
  },
);

test("a refusal of the client itself does not move on: bad credentials reject at once", async () => {
  const bad = await refusing(4);
  const next = await refusing(0);
  try {
    const c = new MQTTClient(uniqueId("fo"), [bad.url, next.url]);
    await assert.rejects(c.connect(), (e: Error) => e instanceof MQTTException && e.code === 4);
    assert.equal(next.peers.length, 0, "the next server was not tried");
    assert.equal(c.connected, false);
  } finally {
    await bad.close();
    await next.close();
  }
});

test("a `connected` listener already sees the server that accepted in client.url", async () => {
  const unavailable = await refusing(3);
  const accepting = await refusing(0);
  try {
    const c = new MQTTClient(uniqueId("fo"), [unavailable.url, accepting.url]);
    let seen = "";
    c.addEventListener("connected", () => (seen = c.url));
    await c.connect();
    assert.equal(seen, accepting.url);
    await c.disconnect();
    await accepting.peers[0].clientClosed;
  } finally {
    await unavailable.close();
    await accepting.close();
  }
});

test("when every server fails, connect() rejects with the last error, listing each address and why", async () => {
  const dead = await closedPort();
  const unavailable = await refusing(3);
  try {
    const c = new MQTTClient(uniqueId("fo"), [`mqtt://127.0.0.1:${dead}`, unavailable.url]);
    const e = await c.connect().then(() => null, (e) => e);
    assert.ok(e instanceof MQTTException, `the last error's class: ${e}`);
    assert.equal(e.code, 3);
    assert.match(e.message, /any of the 2 servers/);
    assert.ok(e.message.includes(`mqtt://127.0.0.1:${dead}: `), e.message);
    assert.ok(e.message.includes(`${unavailable.url}: Connection refused: server unavailable`));
  } finally {
    await unavailable.close();
  }
});

test("MQTT 5: when every server fails, the last refusal keeps its reason string and reference", async () => {
  const dead = await closedPort();
  const moved = await startHostileBroker(async (peer) => {
    await peer.expect("connect");
    await peer.write({
      type: "connack",
      sessionPresent: false,
      returnCode: 0x9d,
      properties: { reasonString: "moved for good", serverReference: "elsewhere:1883" },
    });
    await peer.clientClosed;
  });
  try {
    // The simple client follows no Server Reference: it moves on, here past the end of the list.
    const c = new MQTTClient(uniqueId("fo"), [`mqtt://127.0.0.1:${dead}`, moved.url], {
      protocolVersion: 5,
    });
    const e = await c.connect().then(() => null, (e) => e);
    assert.ok(e instanceof MQTTException, `the last error's class: ${e}`);
    assert.equal(e.code, 0x9d);
    assert.equal(e.reasonString, "moved for good");
    assert.equal(e.serverReference, "elsewhere:1883");
    assert.match(e.message, /^Cannot connect to any of the 2 servers: /);
    assert.ok(e.message.includes(`${moved.url}: `), e.message);
    assert.equal(moved.peers.length, 1);
  } finally {
    await moved.close();
  }
});

test("MQTT 5: quota exceeded (0x97) and connection rate exceeded (0x9F) move on, and the robust client retries them", async () => {
  const v5 = (code: number) => Uint8Array.of(0x20, 0x03, 0x00, code, 0x00); // CONNACK, no properties
  const quota = await refusingV5(0x97);
  const rate = await refusingV5(0x9f);
  // Accepts, then drops the connection; then refuses twice, then accepts for good.
  let n = 0;
  const flaky = await startHostileBroker(async (peer) => {
    await peer.expect("connect");
    const i = n++;
    await peer.write(v5([0, 0x9f, 0x97, 0][i] ?? 0));
    if (i === 0) peer.end();
    await peer.clientClosed;
  });
  function refusingV5(code: number) {
    return startHostileBroker(async (peer) => {
      await peer.expect("connect");
      await peer.write(v5(code));
      await peer.clientClosed;
    });
  }
  try {
    const c = new MQTTClient(uniqueId("fo"), [rate.url, quota.url, flaky.url], {
      protocolVersion: 5,
    });
    assert.equal(await c.connect(), false);
    assert.equal(c.url, flaky.url, "past both refusals");
    assert.deepEqual([rate.peers.length, quota.peers.length], [1, 1]);
    await c.disconnect();
    n = 0;
    const r = new RobustClient(uniqueId("fo"), flaky.url, { protocolVersion: 5 });
    r.DELAY = 0.01;
    const events: ReconnectingDetail[] = [];
    r.addEventListener("reconnecting", (e) => events.push((e as CustomEvent).detail));
    await r.connect(false);
    await until(() => n === 4 && r.connected, "the fourth connection");
    assert.deepEqual(
      events.map((e) => e.error instanceof MQTTException ? e.error.code : "lost"),
      ["lost", 0x9f, 0x97],
    );
    await r.disconnect();
  } finally {
    await quota.close();
    await rate.close();
    await flaky.close();
  }
});

test("disconnect() during connect() stops trying the servers", async () => {
  const quiet = await silent();
  const next = await refusing(0);
  try {
    const c = new MQTTClient(uniqueId("fo"), [quiet.url, next.url]);
    const connecting = c.connect().then(() => null, (e) => e);
    await until(() => quiet.peers.length === 1, "the first server is being tried");
    await c.disconnect();
    const e = await connecting;
    assert.ok(e instanceof MQTTConnectionError);
    assert.match(e.message, /disconnect\(\) was called/);
    assert.equal(next.peers.length, 0);
  } finally {
    await quiet.close();
    await next.close();
  }
});

forEachBroker(
  "robust: after a loss it reconnects from the server that worked last, one event per server tried",
  async (broker) => {
    const a = await FaultProxy.start({ hostname: broker.host, port: broker.port });
    const b = await FaultProxy.start({ hostname: broker.host, port: broker.port });
    const urlA = `mqtt://127.0.0.1:${a.port}`;
    const urlB = `mqtt://127.0.0.1:${b.port}`;
    const c = new RobustClient(uniqueId("rf"), [urlA, urlB]);
    c.DELAY = 0.02;
    const events: ReconnectingDetail[] = [];
    c.addEventListener("reconnecting", (e) => events.push((e as CustomEvent).detail));
    try {
      await c.connect(false);
      assert.equal(c.url, urlA);
      // A goes away: the reconnect tries A (the last that worked), then B.
      a.refuse(true);
      a.cut();
      await until(() => c.connected && c.url === urlB, "connected to B");
      assert.deepEqual(events.map((e) => [e.attempt, e.server]), [[1, urlA], [2, urlB]]);
      assert.ok(events[0].error instanceof MQTTConnectionError, "the loss");
      assert.ok(events[0].delay >= 0 && events[0].delay <= 20, "full jitter before the first");
      assert.equal(events[1].delay, 0, "no wait between the servers of one round");
      assert.ok(events[1].error instanceof MQTTConnectionError, "A's refusal");
      // B goes away, A is back: B first (it worked last), then A.
      events.length = 0;
      a.refuse(false);
      b.refuse(true);
      b.cut();
      await until(() => c.connected && c.url === urlA, "connected to A again");
      assert.deepEqual(events.map((e) => e.server), [urlB, urlA]);
      await c.publish(uniqueId("t"), "after failover", false, 1);
    } finally {
      await c.disconnect();
      await a.close();
      await b.close();
    }
  },
);

test(
  "robust: a failover renews each subscription at the QoS asked for, not the one the last broker granted",
  async () => {
    const capped = await startMosquitto({ extraConfig: ["max_qos 1"] });
    const full = await startMosquitto();
    const u = uniqueId("renew");
    const c = new RobustClient(uniqueId("rq"), [
      `mqtt://${capped.host}:${capped.port}`,
      `mqtt://${full.host}:${full.port}`,
    ]);
    c.DELAY = 0.02;
    const pub = new MQTTClient(uniqueId("p"), full.host, { port: full.port });
    try {
      await c.connect(false);
      assert.equal(await c.subscribe(u, 2), 1, "the first broker grants QoS 1");
      await capped.stop();
      await until(() => c.connected && c.url.endsWith(`:${full.port}`), "failed over");
      // The renewal asked the second broker for QoS 2, which it grants: a QoS 2 message arrives so.
      await pub.connect();
      await pub.publish(u, "exactly once", false, 2);
      const m = await c.wait_msg();
      assert.equal(m.qos, 2);
    } finally {
      await pub.disconnect();
      await c.disconnect();
      await c.connect(true).then(() => c.disconnect(), () => {});
      await full.stop();
      await capped.stop();
    }
  },
  { timeout: 30_000 },
);

forEachBroker(
  "robust: with every server down it goes round the list with backoff between rounds",
  async (broker) => {
    const a = await FaultProxy.start({ hostname: broker.host, port: broker.port });
    const b = await FaultProxy.start({ hostname: broker.host, port: broker.port });
    const c = new RobustClient(uniqueId("rr"), [
      `mqtt://127.0.0.1:${a.port}`,
      `mqtt://127.0.0.1:${b.port}`,
    ]);
    c.DELAY = 0.02;
    const events: ReconnectingDetail[] = [];
    c.addEventListener("reconnecting", (e) => events.push((e as CustomEvent).detail));
    try {
      await c.connect(false);
      a.refuse(true);
      b.refuse(true);
      a.cut();
      await until(() => events.length >= 6, "three rounds");
      assert.deepEqual(events.slice(0, 6).map((e) => e.attempt), [1, 2, 3, 4, 5, 6]);
      for (const [i, e] of events.slice(0, 6).entries()) {
        const round = Math.floor(i / 2) + 1;
        if (i % 2 === 1) assert.equal(e.delay, 0);
        else assert.ok(e.delay <= 20 * 2 ** Math.max(round - 2, 0), `round ${round}: ${e.delay}`);
      }
      a.refuse(false);
      await until(() => c.connected, "back");
    } finally {
      await c.disconnect();
      await a.close();
      await b.close();
    }
  },
);

forEachBroker(
  "robust: a credential function that throws while reconnecting is tried again; nothing kept is lost",
  async (broker) => {
    const proxy = await FaultProxy.start({ hostname: broker.host, port: broker.port });
    const down = new Error("token service down");
    let calls = 0;
    const c = new RobustClient(uniqueId("rc"), `mqtt://127.0.0.1:${proxy.port}`, {
      user: "dev",
      password: () => (++calls === 2 ? Promise.reject(down) : "token"),
    });
    c.DELAY = 0.02;
    const events: ReconnectingDetail[] = [];
    // Published from the first `reconnecting` event, when the client is
    // offline for sure: with a 0–20 ms jitter the outage can be shorter than
    // any poll for it. Kept while offline: a reconnect that gave up would
    // reject it.
    let kept: Promise<void> | undefined;
    let offline = false;
    c.addEventListener("reconnecting", (e) => {
      events.push((e as CustomEvent).detail);
      offline ||= !c.connected;
      kept ??= c.publish(uniqueId("t"), "kept", false, 1);
    });
    try {
      await c.connect(false);
      proxy.cut();
      await until(() => kept !== undefined, "the loss seen");
      await kept;
      assert.ok(offline, "published while offline");
      assert.ok(c.connected);
      assert.equal(calls, 3, "the initial connect, the failed fetch, the one that worked");
      assert.deepEqual(events.map((e) => e.attempt), [1, 2]);
      assert.equal(events[1].error, down, "the second attempt is told why the first failed");
    } finally {
      await c.disconnect();
      await proxy.close();
    }
  },
);

test("user and password may be functions, called on every connection attempt", async () => {
  const broker = await startMosquitto({ passwordFile: [{ user: "dev", password: "token-2" }] });
  const calls: string[] = [];
  let token = "token-1";
  const c = new MQTTClient(uniqueId("cr"), broker.url, {
    user: () => (calls.push("user"), "dev"),
    password: async () => {
      calls.push("password");
      await sleep(1);
      return token;
    },
  });
  try {
    assert.equal(c.user, undefined, "a user function is not exposed");
    const e = await c.connect().then(() => null, (e) => e);
    assert.ok(e instanceof MQTTException, `refused: ${e}`);
    assert.ok(!e.message.includes("token"), "no secret in the error");
    token = "token-2"; // rotated
    await c.connect();
    assert.deepEqual(calls, ["user", "password", "user", "password"]);
  } finally {
    await c.disconnect();
    await broker.stop();
  }
}, { mosquitto: true });

test(
  "MicroPython's positional form takes credential functions and a readonly list of servers",
  async () => {
    const broker = await startMosquitto({ passwordFile: [{ user: "dev", password: "token-2" }] });
    const servers = [broker.url] as const;
    const c = new MQTTClient(
      uniqueId("cr"),
      servers,
      0,
      () => "dev",
      () => Promise.resolve("token-2"),
    );
    try {
      assert.equal(await c.connect(), false);
      assert.equal(c.url, broker.url);
    } finally {
      await c.disconnect();
      await broker.stop();
    }
  },
  { mosquitto: true },
);

test(
  "a credential function that never settles: connect() ends at connectTimeout, the signal or disconnect()",
  async () => {
    const broker = await startMosquitto();
    let hang = true;
    const c = new MQTTClient(uniqueId("cr"), broker.url, {
      user: "dev",
      password: () => hang ? new Promise<string>(() => {}) : "token",
      connectTimeout: 300,
    });
    try {
      await assert.rejects(c.connect(), (e: unknown) => {
        assert.ok(e instanceof MQTTConnectionError, String(e));
        assert.match(e.message, /the user or password function did not settle within 300 ms/);
        return true;
      });
      const reason = new Error("given up");
      await assert.rejects(c.connect({ signal: AbortSignal.abort(reason) }), (e) => e === reason);
      const connecting = c.connect();
      await sleep(50);
      await c.disconnect();
      await assert.rejects(connecting, /Disconnected: disconnect\(\) was called/);
      // Not stuck "already connecting": the next attempt, with credentials, connects.
      hang = false;
      assert.equal(await c.connect(), false);
    } finally {
      await c.disconnect();
      await broker.stop();
    }
  },
  { mosquitto: true },
);

test("connectTimeout bounds the whole attempt, the wait for the credential functions included", async () => {
  // A broker that answers CONNACK 500 ms after the CONNECT.
  const slow = await startHostileBroker(async (peer) => {
    await peer.expect("connect");
    await sleep(500);
    await peer.write(Uint8Array.of(0x20, 0x02, 0x00, 0x00)).catch(() => {});
    await peer.clientClosed;
  });
  let wait = 600;
  const c = new MQTTClient(uniqueId("cr"), slow.url, {
    user: "dev",
    password: () => sleep(wait).then(() => "token"),
    connectTimeout: 1000,
  });
  try {
    // 600 ms for the password, then 500 for the CONNACK: past the 1000 ms of the attempt.
    await assert.rejects(c.connect(), (e: unknown) => {
      assert.ok(e instanceof MQTTConnectionError, String(e));
      assert.match(e.message, /timed out: no CONNACK within 1000 ms/);
      return true;
    });
    wait = 0; // the same broker, the password at once: within the attempt's time
    assert.equal(await c.connect(), false);
  } finally {
    await c.disconnect();
    await slow.close();
  }
});

test("a credential function that returns the wrong type rejects connect() with a TypeError", async () => {
  const c = new MQTTClient("id", "127.0.0.1", {
    user: "u",
    password: () => 5 as unknown as string,
  });
  await assert.rejects(
    c.connect(),
    (e: Error) => e instanceof TypeError && /password/.test(e.message),
  );
  const d = new MQTTClient("id", "127.0.0.1", { user: () => 5 as unknown as string });
  await assert.rejects(d.connect(), /Invalid user: the user function returned number/);
  assert.throws(() => new MQTTClient("id", "h", { user: 5 as unknown as string }), /Invalid user/);
});

test("a Server Reference: host[:port] entries reached as the current server is, URLs as given, anything else left out", () => {
  const urls = (reference: string, like: string) =>
    referredServers(reference, parseServer(like, 0, false)).map(endpointUrl);
  assert.deepEqual(urls("h h:1884 10.0.0.1:8883 [fe80::1]:1883", "mqtt://a"), [
    "mqtt://h:1883",
    "mqtt://h:1884",
    "mqtt://10.0.0.1:8883",
    "mqtt://[fe80::1]:1883",
  ]);
  assert.deepEqual(urls("h:1884", "mqtts://a"), ["mqtts://h:1884"], "TLS as the current server");
  // A URL is not prefixed with the current scheme (that made "mqtt" the host name).
  assert.deepEqual(urls("mqtt://127.0.0.1:1884 mqtts://other", "mqtt://a"), [
    "mqtt://127.0.0.1:1884",
    "mqtts://other:8883",
  ]);
  assert.deepEqual(urls("http://x h/path user@h h:99999", "mqtt://a"), []);
});

test("a Server Reference: each server once, and at most the first 8", () => {
  const urls = (reference: string) =>
    referredServers(reference, parseServer("mqtt://a", 0, false)).map(endpointUrl);
  assert.deepEqual(urls("h h:1883 mqtt://h g h"), ["mqtt://h:1883", "mqtt://g:1883"]);
  // A broker's reference of 1000 servers (a robust client tried them all, with no wait).
  const many = Array.from({ length: 1000 }, (_, i) => `n${i}`).join(" ");
  assert.deepEqual(urls(many), Array.from({ length: 8 }, (_, i) => `mqtt://n${i}:1883`));
});

test("disconnect() during a round of the list: no further server is tried, connect() says why", async () => {
  let opened = 0, asked = 0;
  const client = new MQTTClient(uniqueId("fostop"), [
    "mqtt://127.0.0.1:1",
    "mqtt://127.0.0.1:2",
    "mqtt://127.0.0.1:3",
  ], {
    user: () => (asked++, "u"),
    // Opens nothing until given up.
    transport: (signal) => {
      opened++;
      return new Promise((_, reject) =>
        signal.addEventListener("abort", () => reject(signal.reason), { once: true })
      );
    },
  });
  const connecting = client.connect().catch((e) => e);
  for (let i = 0; i < 500 && opened === 0; i++) await sleep(1);
  await client.disconnect();
  const e = await connecting;
  assert.ok(e instanceof MQTTConnectionError, String(e));
  assert.equal(e.message, "Disconnected: disconnect() was called");
  assert.deepEqual([opened, asked], [1, 1], "another server was tried");
});

test("a robust client with one server: its connect() error is that server's, not a list's", async () => {
  const client = new RobustClient(uniqueId("foone"), "127.0.0.1", {
    transport: () => {
      throw new Error("no route");
    },
  });
  await assert.rejects(client.connect(), (e: unknown) => {
    assert.ok(e instanceof MQTTConnectionError, String(e));
    assert.match(e.message, /^Cannot connect to 127\.0\.0\.1:1883: no route$/);
    return true;
  });
});

forEachBroker(
  "a custom transport is told the server of each attempt: a list fails over through it too",
  async (broker) => {
    const dead = await closedPort();
    const asked: string[] = [];
    const c = new MQTTClient(uniqueId("fotr"), [`mqtt://127.0.0.1:${dead}`, broker.url], {
      // tests/_net.ts: Deno's connect, or node:net's under Bun.
      transport: (_signal, server) => {
        asked.push(endpointUrl(server));
        return connect({ hostname: server.hostname, port: server.port });
      },
    });
    try {
      assert.equal(await c.connect(), false);
      assert.deepEqual(asked, [`mqtt://127.0.0.1:${dead}`, broker.url]);
      assert.equal(c.url, broker.url);
      await c.publish(uniqueId("t"), "through the transport", false, 1);
    } finally {
      await c.disconnect();
    }
  },
  { only: ["mosquitto"] },
);

test("a hole in the list of servers is refused as an invalid server, when the client is made", () => {
  // deno-lint-ignore no-sparse-arrays
  const holed = [, "mqtt://a"] as unknown as string[];
  assert.throws(() => new MQTTClient("id", holed), {
    name: "TypeError",
    message: "Invalid server: must be a host name, an IP address or an mqtt:// URL",
  });
  assert.throws(() => new MQTTClient("id", new Array<string>(2)), /^TypeError: Invalid server: /);
});

test("an explicit port 80 is kept, in a list entry of any scheme as in a Server Reference", async () => {
  // URL's own parsing drops a port that is its scheme's default: http's 80 was taken for none.
  const tried: string[] = [];
  const c = new MQTTClient(uniqueId("fo80"), [
    "mqtt://127.0.0.1:80",
    "mqtts://127.0.0.1:80",
    "wss://127.0.0.1:80/mqtt",
    "ws://127.0.0.1:80",
  ], {
    transport: (_signal, server) => {
      tried.push(endpointUrl(server));
      throw new Error("not opened");
    },
  });
  assert.equal(c.url, "mqtt://127.0.0.1:80");
  assert.equal(c.port, 80);
  await assert.rejects(c.connect(), /any of the 4 servers/);
  assert.deepEqual(tried, [
    "mqtt://127.0.0.1:80",
    "mqtts://127.0.0.1:80",
    "wss://127.0.0.1:80",
    "ws://127.0.0.1:80",
  ]);
  const like = parseServer("mqtt://a", 0, false);
  assert.deepEqual(referredServers("h:80 mqtt://g:80", like).map(endpointUrl), [
    "mqtt://h:80",
    "mqtt://g:80",
  ]);
});

test("a Server Reference naming port 0, or a host no server has, is left out: not reached elsewhere", () => {
  const urls = (reference: string) =>
    referredServers(reference, parseServer("mqtt://a", 0, false)).map(endpointUrl);
  // Port 0 made the default port (1883); "\" ended the host ("a", path "/b:1884"); "%41" became "A".
  assert.deepEqual(urls("h:0 h:00 mqtt://g:0 a\\b:1884 h%41:1884"), []);
  assert.deepEqual(urls("h:0 ok:1884"), ["mqtt://ok:1884"], "the valid ones still followed");
});
test(
  "a credential function that never settles is the client's own failure: connect() tries no other server with it",
  async () => {
    const accept = async (peer: Peer) => (await acceptConnect(peer), void await peer.clientClosed);
    const brokers = [await startHostileBroker(accept), await startHostileBroker(accept)];
    let calls = 0;
    const c = new MQTTClient(uniqueId("cr"), brokers.map((b) => b.url), {
      user: "dev",
      password: () => (calls++, new Promise<string>(() => {})),
      connectTimeout: 300,
    });
    try {
      await assert.rejects(c.connect(), (e: unknown) => {
        assert.ok(e instanceof MQTTConnectionError, String(e));
        // Not "Cannot connect to any of the 2 servers", each blamed for the function's silence.
        assert.match(
          e.message,
          /^Connection attempt timed out: the user or password function did not settle within 300 ms/,
        );
        return true;
      });
      assert.equal(calls, 1, "asked again for the next server");
      assert.deepEqual(brokers.map((b) => b.peers.length), [0, 0]);
      // The robust client asks again later, as for a function that threw.
      calls = 0;
      const r = new RobustClient(uniqueId("cr"), brokers.map((b) => b.url), {
        user: "dev",
        password: () => calls++ === 0 ? new Promise<string>(() => {}) : "token",
        connectTimeout: 300,
      });
      r.DELAY = 0;
      await assert.rejects(r.connect(), /did not settle within 300 ms/);
      await r.publish("t", "after the outage", { qos: 0 });
      assert.equal(calls, 2);
      await r.disconnect();
    } finally {
      for (const b of brokers) await b.close();
    }
  },
);
