// Proves the fault-injection tools the robust-client tests stand on: the
// FaultProxy (each fault seen from a real client or raw bytes against real
// brokers) and the harness's mosquitto restart with persistence.
import assert from "node:assert/strict";
import { MQTTClient, MQTTConnectionError } from "../mod.ts";
import { forEachBroker, startMosquitto } from "./_brokers.ts";
import { FaultProxy, proxyTo, type TapEvent } from "./_fault_proxy.ts";
import { PacketLog } from "./_packet_log.ts";
import { test, uniqueId, withTimeout } from "./_test.ts";

const text = (b: Uint8Array) => new TextDecoder().decode(b);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits until `f()` is true, polling; fails after about `ms` milliseconds. */
async function until(f: () => boolean, what: string, ms = 5000): Promise<void> {
  for (const end = Date.now() + ms; !f();) {
    if (Date.now() > end) throw new Error(`Timed out waiting until ${what}`);
    await sleep(5);
  }
}

/** Records how a promise settled, without ever leaving it unhandled. */
function track<T>(p: Promise<T>): { settled: boolean; promise: Promise<T> } {
  const t = { settled: false, promise: p };
  p.then(() => (t.settled = true), () => (t.settled = true));
  return t;
}

/** CONNECT, MQTT 3.1.1, clean session, keepalive 60 s; `id` under 100 bytes. */
function connectPacket(id: string): Uint8Array {
  const idBytes = new TextEncoder().encode(id);
  const body = [
    ...[0, 4, 0x4d, 0x51, 0x54, 0x54], // protocol name "MQTT"
    4, // protocol level 3.1.1
    0x02, // flags: clean session
    ...[0, 60], // keepalive
    ...[0, idBytes.length, ...idBytes], // client id
  ];
  return Uint8Array.of(0x10, body.length, ...body);
}

/** Opens a raw socket to the proxy, writes `bytes`, returns all it reads until EOF. */
async function rawExchange(
  proxy: FaultProxy,
  bytes: Uint8Array,
  beforeWrite: () => void,
): Promise<number[]> {
  const conn = await Deno.connect({ hostname: proxy.hostname, port: proxy.port });
  try {
    await until(() => proxy.connections === 1, "the proxy holds the connection");
    beforeWrite();
    await conn.write(bytes);
    const got: number[] = [];
    const buf = new Uint8Array(1024);
    for (let n; (n = await withTimeout(conn.read(buf), 5000, "EOF")) !== null;) {
      got.push(...buf.subarray(0, n));
    }
    return got;
  } finally {
    conn.close();
  }
}

forEachBroker("FaultProxy cut(): a pending ping rejects, a new connection works", async (b) => {
  await using proxy = await proxyTo(b);
  const client = new MQTTClient(uniqueId("cut"), proxy.url);
  await client.connect();
  assert.equal(proxy.connections, 1);
  const pong = client.ping();
  proxy.cut();
  await assert.rejects(pong, MQTTConnectionError);
  assert.equal(client.connected, false);
  assert.equal(proxy.connections, 0);
  await client.connect();
  await client.ping();
  assert.deepEqual([proxy.accepted, proxy.connections], [2, 1]);
  await client.disconnect();
});

forEachBroker("FaultProxy blackhole(): bytes vanish, the socket stays open", async (b) => {
  await using proxy = await proxyTo(b);
  const client = new MQTTClient(uniqueId("bh"), proxy.url);
  await client.connect();
  proxy.blackhole(true);
  const pong = track(client.ping());
  await until(() => proxy.bytes.dropped === 2, "the 2-byte PINGREQ is dropped");
  // The absence of a PINGRESP cannot be awaited; give one ample time to show.
  await sleep(300);
  assert.equal(pong.settled, false, "no PINGRESP through a blackhole");
  assert.equal(client.connected, true, "no FIN, no RST");
  assert.equal(proxy.connections, 1);
  proxy.blackhole(false);
  proxy.cut();
  await assert.rejects(pong.promise, MQTTConnectionError);

  const again = new MQTTClient(uniqueId("bh"), proxy.url);
  await again.connect();
  await again.ping();
  await again.disconnect();
  assert.equal(proxy.bytes.dropped, 2);
});

test("FaultProxy blackhole(): the broker closing is not seen by the client until it lifts", async () => {
  // Plain TCP as the target: the server side closes whenever the test says.
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  await using proxy = await FaultProxy.start({ hostname: "127.0.0.1", port: listener.addr.port });
  using client = await Deno.connect({ hostname: "127.0.0.1", port: proxy.port });
  const server = await listener.accept();
  const eof = track(client.read(new Uint8Array(16)));
  proxy.blackhole(true);
  server.close(); // as a broker timing the client out while the network is dead
  // The absence of the FIN cannot be awaited; give it ample time to show.
  await sleep(300);
  assert.equal(eof.settled, false, "no FIN through a blackhole");
  assert.equal(proxy.connections, 1);
  proxy.blackhole(false);
  assert.equal(await eof.promise, null, "the FIN comes once the blackhole lifts");
  await until(() => proxy.connections === 0, "the link is closed");
});

forEachBroker(
  "FaultProxy split(1), coalesce(20), delay(5): 100 QoS 1 messages each arrive intact, in order",
  async (b) => {
    await using proxy = await proxyTo(b);
    const topic = uniqueId("shape");
    const sub = new MQTTClient(uniqueId("s"), proxy.url);
    const pub = new MQTTClient(uniqueId("p"), proxy.url);
    await sub.connect();
    await pub.connect();
    await sub.subscribe(topic, 1);
    const shapes: [string, () => void][] = [
      ["split(1)", () => proxy.split(1)],
      ["coalesce(20)", () => (proxy.split(null), proxy.coalesce(20))],
      ["split(3)+coalesce(2)+delay(5)", () => (proxy.split(3), proxy.coalesce(2), proxy.delay(5))],
    ];
    for (const [name, apply] of shapes) {
      apply();
      const sent = Array.from({ length: 100 }, (_, i) => `${name} #${i} ${"x".repeat(i)}`);
      const publishing = Promise.all(sent.map((m) => pub.publish(topic, m, false, 1)));
      const got: string[] = [];
      for (let i = 0; i < sent.length; i++) {
        const msg = await sub.wait_msg();
        assert.deepEqual([msg.topic, msg.qos, msg.dup], [topic, 1, false]);
        got.push(text(msg.payload));
      }
      await publishing;
      assert.deepEqual(got, sent, name);
    }
    await pub.disconnect();
    await sub.disconnect();
  },
);

forEachBroker("FaultProxy delay(): each way adds its latency", async (b) => {
  await using proxy = await proxyTo(b);
  const client = new MQTTClient(uniqueId("dl"), proxy.url);
  await client.connect();
  proxy.delay(25);
  const start = performance.now();
  await client.ping();
  // A lower bound only: the injected latency, up and down, must have passed.
  assert.ok(performance.now() - start >= 49, "PINGREQ and PINGRESP each delayed 25 ms");
  proxy.delay(0);
  await client.disconnect();
});

forEachBroker("FaultProxy cutAfterBytes(): exactly n bytes pass, mid-packet", async (b) => {
  await using proxy = await proxyTo(b);
  // Down: 3 of CONNACK's 4 bytes reach the client, then EOF.
  const connect = connectPacket(uniqueId("cd"));
  const down = await rawExchange(proxy, connect, () => proxy.cutAfterBytes(3, "down"));
  assert.deepEqual(down, [0x20, 0x02, 0x00]);
  assert.equal(proxy.bytes.down, 3);
  await until(() => proxy.connections === 0, "the cut connection is closed");
  // Up: 5 bytes of CONNECT reach the broker, which never answers an incomplete packet.
  const up = await rawExchange(
    proxy,
    connectPacket(uniqueId("cu")),
    () => proxy.cutAfterBytes(5, "up"),
  );
  assert.deepEqual(up, []);
  assert.equal(proxy.bytes.up, connect.length + 5, "the first CONNECT whole, then 5 bytes");
});

forEachBroker(
  "FaultProxy tap: a link's opening, each chunk as it leaves, each write done, its closing",
  async (b) => {
    const seen: TapEvent[] = [];
    await using proxy = await FaultProxy.start({ hostname: b.host, port: b.port }, {
      tap: (e) => seen.push(e),
    });
    proxy.split(8);
    const connect = connectPacket(uniqueId("tap"));
    // Cut after 3 bytes of CONNACK: the tap sees those 3, as the client does.
    const down = await rawExchange(proxy, connect, () => proxy.cutAfterBytes(3, "down"));
    await until(() => proxy.connections === 0, "the cut connection is closed");
    assert.deepEqual(seen.at(0), { type: "open", link: 1 });
    assert.deepEqual(seen.at(-1), { type: "close", link: 1 });
    const way = (dir: "up" | "down") =>
      seen.flatMap((e) =>
        "dir" in e && e.dir === dir ? [`${e.link} ${e.type} ${[...e.bytes]}`] : []
      );
    // The CONNECT leaves whole, then is written in pieces of 8, one event each.
    const pieces = Array.from(
      { length: Math.ceil(connect.length / 8) },
      (_, i) => `1 written ${[...connect.subarray(i * 8, i * 8 + 8)]}`,
    );
    assert.deepEqual(way("up"), [`1 leave ${[...connect]}`, ...pieces]);
    assert.deepEqual(way("down"), [`1 leave ${down}`, `1 written ${down}`]);
  },
);

forEachBroker(
  "FaultProxy cutAfterBytes(): a PUBLISH cut in half is never delivered",
  async (b) => {
    await using proxy = await proxyTo(b);
    const topic = uniqueId("half");
    const watcher = new MQTTClient(uniqueId("w"), b.host, b.port);
    await watcher.connect();
    await watcher.subscribe(`${topic}/#`, 1);
    const pub = new MQTTClient(uniqueId("p"), proxy.url);
    await pub.connect();
    const before = proxy.bytes.up;
    proxy.cutAfterBytes(10, "up");
    await assert.rejects(
      pub.publish(`${topic}/cut`, "y".repeat(100), false, 1),
      MQTTConnectionError,
    );
    assert.equal(proxy.bytes.up - before, 10);
    await watcher.publish(`${topic}/marker`, "marker", false, 1);
    assert.equal((await watcher.wait_msg()).topic, `${topic}/marker`);
    await watcher.disconnect();
  },
);

forEachBroker(
  "FaultProxy tap: PacketLog pairs each link's PUBLISHes with their PUBACKs, skips a half packet",
  async (b) => {
    const log = new PacketLog();
    await using proxy = await FaultProxy.start({ hostname: b.host, port: b.port }, {
      tap: log.tap,
    });
    const topic = uniqueId("tap");
    const id = uniqueId("t");
    const client = new MQTTClient(id, proxy.url);
    await client.connect();
    await client.subscribe(topic, 1);
    await client.publish(topic, "one", false, 1);
    assert.equal(text((await client.wait_msg()).payload), "one");
    await client.ping(); // the PUBACK for "one" has gone up before the cut is armed
    proxy.cutAfterBytes(10, "up");
    await assert.rejects(client.publish(topic, "two".repeat(10), false, 1), MQTTConnectionError);
    await client.connect();
    await client.disconnect();

    assert.deepEqual(log.gaps(), []);
    assert.deepEqual(log.linksOf(id), [1, 2]);
    assert.deepEqual(log.connacks(id).map((c) => c?.packet.sessionPresent), [false, false]);
    const pairs = (dir: "up" | "down") =>
      log.exchanges(dir).map((x) => [
        x.publish.link,
        text(x.publish.packet.payload),
        x.publish.written,
        x.puback?.link,
        x.puback?.written,
      ]);
    assert.deepEqual(pairs("up"), [[1, "one", true, 1, true]], "the cut PUBLISH is not recorded");
    assert.deepEqual(pairs("down"), [[1, "one", true, 1, true]]);
    assert.equal(log.story("one").length, 2);
    assert.ok(log.lines().some((l) => / L1 close \(cut inside up\)$/.test(l)), "the cut is shown");
  },
);

forEachBroker("FaultProxy refuse(): new connections fail, open ones live on", async (b) => {
  await using proxy = await proxyTo(b);
  const open = new MQTTClient(uniqueId("o"), proxy.url);
  await open.connect();
  proxy.refuse(true);
  const refused = new MQTTClient(uniqueId("r"), proxy.url);
  await assert.rejects(refused.connect(), MQTTConnectionError);
  assert.deepEqual([proxy.accepted, proxy.connections], [2, 1]);
  await open.ping();
  proxy.refuse(false);
  await refused.connect();
  await refused.disconnect();
  await open.disconnect();
});

forEachBroker("FaultProxy survives 30 cuts at random byte counts", async (b) => {
  await using proxy = await proxyTo(b);
  const topic = uniqueId("rnd");
  const client = new MQTTClient(uniqueId("r"), proxy.url);
  let cuts = 0;
  while (cuts < 30) {
    if (!client.connected) await client.connect();
    proxy.cutAfterBytes(Math.floor(Math.random() * 120), "both");
    try {
      for (let i = 0;; i++) await client.publish(topic, `#${i}`, false, 1);
    } catch (e) {
      assert.ok(e instanceof MQTTConnectionError, String(e));
      cuts++;
    }
  }
  await until(() => proxy.connections === 0, "every cut connection is closed");
  assert.equal(proxy.accepted, 30);
});

forEachBroker(
  "FaultProxy close() with traffic held in a delay leaves nothing behind",
  async (b) => {
    const proxy = await proxyTo(b);
    const client = new MQTTClient(uniqueId("cl"), proxy.url);
    await client.connect();
    proxy.delay(60_000);
    proxy.coalesce(60_000);
    const pong = client.ping();
    await sleep(50); // lets the proxy read the PINGREQ into its delay queue: a timer is pending
    await proxy.close(); // the sanitizers check that no timer, read or socket is left
    await assert.rejects(pong, MQTTConnectionError);
    assert.equal(proxy.connections, 0);
    await proxy.close();
  },
);

test("FaultProxy to a port nobody listens on: the client's connection is closed", async () => {
  const gone = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = gone.addr.port;
  gone.close();
  await using proxy = await FaultProxy.start({ hostname: "127.0.0.1", port });
  const client = new MQTTClient(uniqueId("d"), proxy.url, { connectTimeout: 5000 });
  await assert.rejects(client.connect(), MQTTConnectionError);
  assert.deepEqual([proxy.accepted, proxy.connections], [1, 0]);
});

test("FaultProxy rejects bad arguments, naming them", async () => {
  await assert.rejects(FaultProxy.start({ hostname: "", port: 1 }), TypeError);
  await assert.rejects(FaultProxy.start({ hostname: "127.0.0.1", port: 0 }), /target\.port/);
  await assert.rejects(
    FaultProxy.start({ hostname: "127.0.0.1", port: 1 }, { listenPort: 70000 }),
    /listenPort/,
  );
  await using proxy = await FaultProxy.start({ hostname: "127.0.0.1", port: 1 });
  assert.match(proxy.url, /^mqtt:\/\/127\.0\.0\.1:\d+$/);
  assert.throws(() => proxy.cutAfterBytes(-1), /Invalid n/);
  assert.throws(() => proxy.cutAfterBytes(1, "sideways" as "up"), TypeError);
  assert.throws(() => proxy.delay(-1), RangeError);
  assert.throws(() => proxy.split(0), /maxChunk/);
  assert.throws(() => proxy.coalesce(Infinity), RangeError);
  assert.throws(() => proxy.blackhole(1 as unknown as boolean), TypeError);
  assert.throws(() => proxy.refuse("yes" as unknown as boolean), TypeError);
});

/** Queues QoS 1 messages for an offline persistent subscriber, restarts mosquitto, reconnects it. */
async function queuedAcrossRestart(persistence: boolean): Promise<[boolean, string[]]> {
  const broker = await startMosquitto({ persistence, extraConfig: ["max_queued_messages 0"] });
  try {
    const topic = uniqueId("persist");
    const sub = new MQTTClient(uniqueId("s"), broker.host, broker.port);
    assert.equal(await sub.connect(false), false);
    await sub.subscribe(topic, 1);
    await sub.disconnect();
    const pub = new MQTTClient(uniqueId("p"), broker.host, broker.port);
    await pub.connect();
    for (let i = 0; i < 5; i++) await pub.publish(topic, `m${i}`, false, 1);
    await pub.disconnect();
    const port = broker.port;
    await broker.restart!();
    assert.equal(broker.port, port, "same port after the restart");
    const present = await sub.connect(false);
    const got: string[] = [];
    await sub.subscribe(`${topic}/marker`, 1);
    await pub.connect();
    await pub.publish(`${topic}/marker`, "marker", false, 1);
    for (let msg; (msg = await sub.wait_msg()).topic !== `${topic}/marker`;) {
      got.push(text(msg.payload));
    }
    await pub.disconnect();
    await sub.disconnect();
    return [present, got];
  } finally {
    await broker.stop();
  }
}

test(
  "mosquitto restart() with persistence keeps an offline session's queued messages",
  async () => {
    assert.deepEqual(await queuedAcrossRestart(true), [true, ["m0", "m1", "m2", "m3", "m4"]]);
  },
  { mosquitto: true },
);

test("mosquitto restart() without persistence forgets them: it really restarts", async () => {
  assert.deepEqual(await queuedAcrossRestart(false), [false, []]);
}, { mosquitto: true });
