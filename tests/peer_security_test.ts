// Security bugs peer MQTT clients have had against a malicious or broken
// broker, each tried on umqtt with a scripted broker (tests/_hostile_broker.ts)
// where no other test pinned it: what the broker makes the client hold stays
// bounded, what it makes the client wait for ends, what it makes the client
// print holds no secret. The peer's report is named above each test.
import assert from "node:assert/strict";
import { inspect } from "node:util";
import { AckOrder } from "../lib/_ack_order.ts";
import { endpointUrl, referredServers } from "../lib/_servers.ts";
import type { Packet, PublishPacket } from "../lib/codec/mod.ts";
import { encode } from "../lib/codec/encode.ts";
import { parseServer } from "../lib/transports/endpoint.ts";
import { MQTTClient as RobustClient, type ReconnectingDetail } from "../lib/robust.ts";
import { MQTTClient, MQTTConnectionError, MQTTException } from "../mod.ts";
import {
  acceptConnect,
  type HostileBroker,
  type Peer,
  roundTrip,
  type Scenario,
  startHostileBroker,
  watchUnhandledRejections,
  withHostileBroker,
} from "./_hostile_broker.ts";
import { test, uniqueId } from "./_test.ts";

const TIMEOUT = { timeout: 30_000 };
const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);

/** A PUBLISH to topic `t`, encoded at `version`. */
function publish(packetId: number, qos: 1 | 2, payload: string, version: 4 | 5 = 4): Uint8Array {
  const p: PublishPacket = {
    type: "publish",
    topic: "t",
    payload: bytes(payload),
    qos,
    retain: false,
    dup: false,
    packetId,
  };
  return encode(p, version);
}

/**
 * Counts, while `fn` runs, the acknowledgements the client holds back: the
 * places taken in an `AckOrder` (one per QoS 1/2 PUBLISH that may get an
 * ack) after the first one not yet settled, which wait for it. Read through
 * the class's own calls, as nothing public counts them.
 */
async function countHeldAcks(fn: (held: () => number) => Promise<void>): Promise<void> {
  const { next, settle } = AckOrder.prototype;
  const state = new WeakMap<AckOrder, { taken: number; done: number; settled: Set<number> }>();
  const of = (o: AckOrder) => {
    let s = state.get(o);
    if (!s) state.set(o, s = { taken: 0, done: 0, settled: new Set() });
    return s;
  };
  const all: AckOrder[] = [];
  AckOrder.prototype.next = function () {
    if (!state.has(this)) all.push(this);
    of(this).taken++;
    return next.call(this);
  };
  AckOrder.prototype.settle = function (seq, ackBytes, out) {
    const s = of(this);
    s.settled.add(seq);
    while (s.settled.delete(s.done + 1)) s.done++;
    return settle.call(this, seq, ackBytes, out);
  };
  try {
    await fn(() => all.reduce((n, o) => n + of(o).taken - of(o).done, 0));
  } finally {
    AckOrder.prototype.next = next;
    AckOrder.prototype.settle = settle;
  }
}

// ---- QoS 2 resends: what a broker's duplicates make the client keep ---------

// eclipse/mosquitto CVE-2023-28366 (fixed in 2.0.16): a peer that sent many
// QoS 2 PUBLISHes under one packet id, and never answered PUBREC, made the
// receiver leak memory for each. Here the receiver is our client: every
// resend of a QoS 2 message took a place among the acks waiting for an
// older message's handler, kept until it finished — 20 000 resends, 20 000
// PUBRECs held, then written at once — although none counted against our
// Receive Maximum.
test(
  "resends of a handled QoS 2 message while an older one is handled: one PUBREC kept per packet id, not one per resend",
  async () => {
    const N = 20_000;
    const acks: Packet[] = [];
    await countHeldAcks(async (held) => {
      await withHostileBroker(async (peer) => {
        await acceptConnect(peer);
        await peer.write(publish(1, 1, "slow"), publish(2, 2, "fast"));
        // The client pings once "fast" is handled (its PUBREC waits behind "slow").
        await peer.expect("pingreq");
        await peer.write(...Array.from({ length: N }, () => publish(2, 2, "fast")));
        // All read: a PUBREL for an id never used is answered at once (PUBCOMP).
        assert.deepEqual(await roundTrip(peer), []);
        await peer.write({ type: "pingresp" });
        for (let p = await peer.next(); p.type !== "disconnect"; p = await peer.next()) {
          acks.push(p);
        }
        await peer.clientClosed;
      }, async (broker) => {
        const c = new MQTTClient(uniqueId("resend"), broker.url);
        let release!: () => void;
        const slow = new Promise<void>((resolve) => release = resolve);
        const handled: string[] = [];
        c.set_callback(async (_topic, msg) => {
          if (text(msg) === "slow") await slow;
          handled.push(text(msg));
        });
        await c.connect();
        const first = c.wait_msg();
        await c.wait_msg();
        await c.ping(); // answered only once the broker's resends are all read
        assert.ok(held() <= 3, `${held()} acks held for 2 messages and ${N} resends`);
        release();
        await first;
        await c.disconnect();
        await broker.peers[0].clientClosed;
        assert.deepEqual(handled, ["fast", "slow"], "each message handled once");
      });
    });
    // In the order the PUBLISHes came: "slow"'s PUBACK first, then PUBRECs of id 2.
    assert.deepEqual(acks[0], { type: "puback", packetId: 1 });
    const pubrecs = acks.slice(1);
    assert.ok(pubrecs.length >= 1 && pubrecs.length <= 2, `${pubrecs.length} PUBRECs`);
    for (const p of pubrecs) assert.deepEqual(p, { type: "pubrec", packetId: 2 });
  },
  TIMEOUT,
);

// The same CVE, the message not yet handled: each duplicate of a QoS 2
// message still queued took a place of its own among the acks, kept until
// the message was handled, though it gets no ack at all.
test(
  "duplicates of a queued QoS 2 message: delivered once, one PUBREC, no place kept per duplicate (MQTT 5)",
  async () => {
    const N = 20_000;
    await countHeldAcks(async (held) => {
      await withHostileBroker(async (peer) => {
        await acceptConnect(peer);
        await peer.write(...Array.from({ length: N + 1 }, () => publish(7, 2, "once", 5)));
        await peer.expect("pingreq");
        // All read: a PUBREL for an id never used is answered at once (PUBCOMP).
        assert.deepEqual(await roundTrip(peer), []);
        await peer.write({ type: "pingresp" });
        // Handled now: one PUBREC, which the PUBREL completes.
        const seen: string[] = [];
        for (let p = await peer.next(); p.type !== "disconnect"; p = await peer.next()) {
          seen.push(`${p.type} ${"packetId" in p ? p.packetId : ""}`.trim());
          if (p.type === "pubrec") await peer.write({ type: "pubrel", packetId: p.packetId });
          if (p.type === "pingreq") await peer.write({ type: "pingresp" });
        }
        assert.deepEqual(seen.sort(), ["pingreq", "pubcomp 7", "pubrec 7"]);
        await peer.clientClosed;
      }, async (broker) => {
        const c = new MQTTClient(uniqueId("dupq"), broker.url, { protocolVersion: 5 });
        await c.connect();
        await c.ping(); // answered only once the duplicates are all read
        assert.equal(held(), 1, `${held()} places held for 1 message and ${N} duplicates`);
        const m = await c.wait_msg();
        assert.equal(text(m.payload), "once");
        assert.equal(await c.check_msg(), undefined, "no duplicate delivered");
        await c.ping(); // the PUBREL comes before its PINGRESP
        await c.disconnect();
        await broker.peers[0].clientClosed;
      });
    });
  },
  TIMEOUT,
);

// ---- exchanges a broker never ends ------------------------------------------

// Enhanced authentication (MQTT 5.0 section 4.12) lets the broker ask again
// and again (AUTH 0x18); a client that answers each for ever is held in
// connect() as long as the broker likes — the "endless challenge" of
// SASL-style exchanges. connectTimeout bounds the whole exchange.
test(
  "a broker that answers every AUTH with another challenge: connect() fails at connectTimeout",
  async () => {
    let asked = 0;
    await withHostileBroker(async (peer) => {
      await peer.expect("connect");
      for (;;) {
        const challenge = { authenticationMethod: "loop", authenticationData: bytes("again") };
        await peer.write({ type: "auth", reasonCode: 0x18, properties: challenge });
        const p = await peer.next().catch(() => null);
        if (p?.type !== "auth") break;
      }
      await peer.clientClosed;
    }, async (broker) => {
      const c = new MQTTClient(uniqueId("authloop"), broker.url, {
        protocolVersion: 5,
        connectTimeout: 400,
        authenticationMethod: "loop",
        onAuth: () => (asked++, bytes("answer")),
      });
      await assert.rejects(c.connect(), (e: unknown) => {
        assert.ok(e instanceof MQTTConnectionError, String(e));
        assert.match(e.message, /timed out: no CONNACK within 400 ms/);
        return true;
      });
      assert.equal(c.connected, false);
      await broker.peers[0].clientClosed;
      const after = asked;
      assert.ok(after > 1, `onAuth asked ${after} times`);
      // Nothing goes on answering once the attempt is given up.
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.equal(asked, after);
    });
  },
  TIMEOUT,
);

// A slowloris broker: the CONNACK, a long MQTT 5 one, one byte at a time.
// Clients whose connect timeout restarts with every byte read, or that time
// only the TCP connection, wait as long as the broker keeps dribbling.
test(
  "a CONNACK sent one byte at a time: connect() still fails at connectTimeout",
  async () => {
    let sent = 0;
    await withHostileBroker(async (peer) => {
      await peer.expect("connect");
      const connack = encode({
        type: "connack",
        sessionPresent: false,
        returnCode: 0,
        properties: { reasonString: "x".repeat(400) },
      }, 5);
      let closed = false;
      peer.clientClosed.then(() => closed = true);
      for (const b of connack) {
        if (closed) break;
        await peer.write([b]);
        sent++;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      await peer.clientClosed;
    }, async (broker) => {
      const c = new MQTTClient(uniqueId("slowloris"), broker.url, {
        protocolVersion: 5,
        connectTimeout: 300,
      });
      await assert.rejects(c.connect(), /timed out: no CONNACK within 300 ms/);
      assert.equal(c.connected, false);
      await broker.peers[0].clientClosed;
    });
    assert.ok(sent > 1 && sent < 400, `${sent} bytes of the CONNACK sent`);
  },
  TIMEOUT,
);

// ---- Server References that point at each other ------------------------------

// MQTT 5.0 section 4.11 sets no limit on following references; brokers that
// each accept, then send the client to the other (DISCONNECT 0x9C), are a
// redirect loop. The robust client follows each, but the connections it
// makes end at once, so its backoff grows as for a broker that closes every
// connection: the loop slows down instead of spinning.
test(
  "two brokers that accept, then refer the client to each other: it follows, with a backoff that grows",
  async () => {
    const brokers: HostileBroker[] = [];
    const referring: Scenario = async (peer: Peer) => {
      await acceptConnect(peer);
      // The first connection, connect()'s, at the client's PINGREQ; the others at once.
      if (peer === brokers[0].peers[0]) await peer.expect("pingreq");
      const other = brokers.find((b) => !b.peers.includes(peer))!;
      await peer.write({
        type: "disconnect",
        reasonCode: 0x9c,
        properties: { serverReference: `127.0.0.1:${other.port}` },
      });
      await peer.clientClosed;
    };
    const unhandled = watchUnhandledRejections();
    const errors: unknown[] = [];
    brokers.push(await startHostileBroker(referring, errors));
    brokers.push(await startHostileBroker(referring, errors));
    const random = Math.random;
    Math.random = () => 0.5; // the jitter's draw: half of each ceiling
    const client = new RobustClient(uniqueId("refloop"), brokers[0].url, { protocolVersion: 5 });
    try {
      client.DELAY = 1;
      client.delay = () => Promise.resolve(); // the planned waits are what is checked
      const seen: { server: string; delay: number }[] = [];
      let done!: () => void;
      const twelve = new Promise<void>((resolve) => done = resolve);
      client.addEventListener("reconnecting", (e) => {
        const { server, delay } = (e as CustomEvent<ReconnectingDetail>).detail;
        if (seen.push({ server, delay }) === 12) done();
      });
      await client.connect();
      const pinging = client.ping().catch(() => {});
      await twelve;
      await client.disconnect();
      await pinging;
      const b = brokers[1].url;
      // Rounds: each starts with the backoff, then tries at once the reference
      // (followed once a round, not back and forth) and the list.
      assert.equal(seen[0].server, b, "the reference followed");
      const starts = seen.flatMap((s, i) => s.delay > 0 ? [i] : []);
      assert.equal(starts[0], 0);
      assert.ok(starts.length >= 4, `rounds at ${starts} of ${JSON.stringify(seen)}`);
      for (let r = 1; r < starts.length; r++) {
        assert.ok(starts[r] - starts[r - 1] <= 3, `attempts in a round: ${JSON.stringify(seen)}`);
      }
      const delays = starts.map((i) => seen[i].delay);
      for (let r = 1; r < delays.length; r++) {
        assert.ok(delays[r] >= delays[r - 1], `round delays ${delays}`);
      }
      assert.ok(delays.at(-1)! >= 4 * delays[0], `round delays ${delays}`);
    } finally {
      Math.random = random;
      await client.disconnect();
      await Promise.all(brokers.map((x) => x.close()));
      errors.push(...await unhandled.stop());
    }
    if (errors.length > 0) throw new Error(`${errors.length} failure(s); the first: ${errors[0]}`);
  },
  TIMEOUT,
);

// A broker reached over TLS names a server by URL, mqtt:// or ws://: a client
// that took the URL as given would reconnect in clear, sending the password
// the TLS connection protected.
test("a Server Reference URL without TLS, from a TLS connection, is reached over TLS", () => {
  const urls = (reference: string, like: string) =>
    referredServers(reference, parseServer(like, 0, false)).map(endpointUrl);
  assert.deepEqual(urls("mqtt://h:1884 ws://w:8080/mqtt", "mqtts://a"), [
    "mqtts://h:1884",
    "wss://w:8080",
  ]);
  assert.deepEqual(urls("mqtt://h:1884", "wss://a/mqtt"), ["mqtts://h:1884"]);
  // Without TLS, as given.
  assert.deepEqual(urls("mqtt://h:1884", "mqtt://a"), ["mqtt://h:1884"]);
});

// ---- what the broker names: keys of the client's own objects -----------------

// mqttjs/mqtt-packet#88: User Properties decoded into a plain object, keyed
// by the broker's names, let a name such as "__proto__" reach the object's
// prototype. Here they stay name/value pairs.
test("User Properties named __proto__, constructor and toString stay pairs; no prototype is touched", async () => {
  const props: [string, string][] = [
    ["__proto__", "polluted"],
    ["constructor", "x"],
    ["toString", "y"],
    ["hasOwnProperty", "z"],
  ];
  await withHostileBroker(async (peer) => {
    await acceptConnect(peer);
    await peer.write({
      type: "publish",
      topic: "t",
      payload: bytes("m"),
      qos: 0,
      retain: false,
      dup: false,
      properties: { userProperties: props, contentType: "__proto__" },
    });
    await peer.clientClosed;
  }, async (broker) => {
    const c = new MQTTClient(uniqueId("proto"), broker.url, { protocolVersion: 5 });
    await c.connect();
    const m = await c.wait_msg();
    assert.deepEqual(m.properties?.userProperties, props);
    assert.equal(m.properties?.contentType, "__proto__");
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.equal(typeof ({}).toString, "function");
    await c.disconnect();
  });
});

// ---- secrets: the robust client, and what DEBUG prints -----------------------

// eclipse-paho/paho.mqtt.golang#499, dotnet/MQTTnet#543: the password (in a
// CONNECT's String(), or in a debug logger's arguments) reached logs. The
// simple client is checked by tls_test.ts; here the robust one, whose DEBUG
// prints every connection error, with MQTT 5 Authentication Data (a token)
// besides the password, against a broker that refuses with its own text.
test("robust client: with DEBUG on, nothing it prints or shows holds the password or the Authentication Data", async () => {
  const PASSWORD = "pw-5e1f-secret", TOKEN = "tok-9a7c-secret";
  await withHostileBroker(async (peer) => {
    await peer.expect("connect");
    await peer.write({
      type: "connack",
      sessionPresent: false,
      returnCode: 0x87,
      properties: { reasonString: "go away", authenticationMethod: "token" },
    });
    await peer.clientClosed;
  }, async (broker) => {
    const printed: unknown[][] = [];
    const methods = ["log", "info", "warn", "error", "debug"] as const;
    const saved = methods.map((m) => console[m]);
    for (const m of methods) console[m] = (...args: unknown[]) => void printed.push(args);
    let failure: unknown;
    const c = new RobustClient(uniqueId("secret"), broker.url, {
      protocolVersion: 5,
      user: "u",
      password: PASSWORD,
      authenticationMethod: "token",
      authenticationData: bytes(TOKEN),
      onAuth: () => bytes(TOKEN),
    });
    try {
      c.DEBUG = true;
      failure = await c.connect().then(() => null, (e) => e);
      await c.disconnect();
    } finally {
      methods.forEach((m, i) => (console[m] = saved[i]));
    }
    assert.ok(failure instanceof MQTTException, String(failure));
    assert.equal(failure.code, 0x87);
    const tokenBytes = [...bytes(TOKEN)].join(", ");
    const texts = [
      inspect(c, { depth: 10, showHidden: true }),
      JSON.stringify(c) ?? "",
      String(c),
      inspect(failure, { depth: 10, showHidden: true }),
      String(failure),
      JSON.stringify(failure) ?? "",
      ...printed.flat().map((x) => typeof x === "string" ? x : inspect(x, { depth: 10 })),
    ];
    for (const t of texts) {
      for (const secret of [PASSWORD, TOKEN, tokenBytes]) {
        assert.ok(!t.includes(secret), `shows a secret: ${t}`);
      }
    }
  });
});
