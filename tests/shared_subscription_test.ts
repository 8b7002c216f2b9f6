// Shared subscriptions, `$share/{group}/{filter}`: what the client accepts and
// refuses (MQTT 5.0 section 4.8.2, served to 3.1.1 clients too), how
// topicMatches reads them, and, against mosquitto (which serves `$share` in
// both versions), that a group of consumers splits a QoS 1 stream without
// losing a message, also when one of them leaves mid-stream.
import assert from "node:assert/strict";
import { type Message, MQTTClient, topicMatches, validateTopicFilter } from "../mod.ts";
import { type Broker, forEachBroker } from "./_brokers.ts";
import type { ProtocolVersion } from "../lib/codec/packet.ts";
import { test, uniqueId, withTimeout } from "./_test.ts";

// --- validation and matching --------------------------------------------

test("$share filters: well-formed ones are accepted, the filter after the group as any filter", () => {
  for (
    const filter of [
      "$share/g/a",
      "$share/g/+",
      "$share/g/#",
      "$share/g/a/+/c/#",
      "$share/g//finance", // the filter "/finance": an empty first level
      "$share/g/$SYS/#",
      "$share/consumer-1.a_b~é/x",
      "$share/g/$share/h/x", // the filter "$share/h/x", nothing forbids it
      "$share", // no "/": an ordinary filter
      "$shared/x", // not the "$share/" prefix: an ordinary filter
      "a/$share/+",
    ]
  ) {
    validateTopicFilter(filter);
    validateTopicFilter(filter, "unsubscribe");
  }
});

const malformed: [string, string][] = [
  [
    "$share/a+b/x",
    `Cannot subscribe to "$share/a+b/x": a shared subscription's group name must not contain "/", "+" or "#" (MQTT-4.8.2-2)`,
  ],
  [
    "$share/#/x",
    `Cannot subscribe to "$share/#/x": a shared subscription's group name must not contain "/", "+" or "#" (MQTT-4.8.2-2)`,
  ],
  [
    "$share/+/x",
    `Cannot subscribe to "$share/+/x": a shared subscription's group name must not contain "/", "+" or "#" (MQTT-4.8.2-2)`,
  ],
  [
    "$share/#",
    `Cannot subscribe to "$share/#": a shared subscription's group name must not contain "/", "+" or "#" (MQTT-4.8.2-2)`,
  ],
  [
    "$share//x",
    `Cannot subscribe to "$share//x": a shared subscription's group name must be at least one character (MQTT-4.8.2-1)`,
  ],
  [
    "$share/",
    `Cannot subscribe to "$share/": a shared subscription's group name must be at least one character (MQTT-4.8.2-1)`,
  ],
  [
    "$share/group",
    `Cannot subscribe to "$share/group": a shared subscription's group name must be followed by "/" and a topic filter (MQTT-4.8.2-2)`,
  ],
  [
    "$share/group/",
    `Cannot subscribe to "$share/group/": a shared subscription's group name must be followed by "/" and a topic filter (MQTT-4.8.2-2)`,
  ],
  [
    "$share/g/a+",
    `Cannot subscribe to "$share/g/a+": "+" must occupy a whole level (MQTT-4.7.1-3)`,
  ],
  [
    "$share/g/#/a",
    `Cannot subscribe to "$share/g/#/a": "#" must be the last character and a whole level (MQTT-4.7.1-2)`,
  ],
];

test("$share filters: each malformed one is refused with the rule it breaks", () => {
  for (const [filter, message] of malformed) {
    assert.throws(() => validateTopicFilter(filter), { name: "TypeError", message });
    assert.throws(() => validateTopicFilter(filter, "unsubscribe"), {
      name: "TypeError",
      message: message.replace("Cannot subscribe to", "Cannot unsubscribe from"),
    });
  }
});

test("subscribe and unsubscribe reject a malformed $share filter before any byte", async () => {
  let opened = 0;
  const client = new MQTTClient("share-args", "127.0.0.1", {
    transport: () => {
      opened++;
      throw new Error("no network in this test");
    },
  });
  for (const [filter, message] of malformed) {
    await assert.rejects(client.subscribe(filter, 1), { name: "TypeError", message });
    await assert.rejects(client.subscribe([["ok", 0], [filter, 1]]), { message });
    await assert.rejects(client.unsubscribe(filter), {
      name: "TypeError",
      message: message.replace("Cannot subscribe to", "Cannot unsubscribe from"),
    });
  }
  assert.equal(opened, 0, "the transport was never opened");
});

test("topicMatches reads $share/{group}/{filter} as its filter", () => {
  const table: [string, string, boolean][] = [
    ["$share/g/a/+", "a/b", true],
    ["$share/g/a/+", "a/b/c", false],
    ["$share/g/a/#", "a", true],
    ["$share/g/#", "a/b", true],
    ["$share/g/#", "$SYS/x", false], // MQTT-4.7.2-1 applies to the filter after the group
    ["$share/g/$SYS/#", "$SYS/x", true],
    ["$share/g//finance", "/finance", true],
    ["$share/g/x", "$share/g/x", false], // the group's filter is "x"
    // malformed: match nothing
    ["$share/g", "g", false],
    ["$share/g/", "", false],
    ["$share//x", "x", false],
    ["$share/+/x", "x", false],
    // not the "$share/" prefix: ordinary filters
    ["$share", "$share", true],
    ["$shared/x", "$shared/x", true],
  ];
  for (const [filter, topic, expected] of table) {
    assert.equal(topicMatches(filter, topic), expected, `${filter} vs ${topic}`);
  }
});

// --- a consumer group on mosquitto -----------------------------------------
//
// Each consumer also subscribes to a marker topic of its own, outside the
// group's filter. mosquitto delivers a client's messages in the order it
// queued them, so once a consumer has its marker, it has had everything
// mosquitto routed to it before the marker was published: no test waits for
// a count, and a lost message fails the test at once, counted.

/** How a consumer takes its messages: umqtt's three ways. */
type Style = "callback" | "wait_msg" | "messages";
const STYLES: Style[] = ["callback", "wait_msg", "messages"];

/** Handles one message; resolves `true` to stop consuming. */
type Handler = (topic: string, payload: Uint8Array) => Promise<boolean>;

/** The abort reason that ends a consumer early (a failed test's cleanup). */
const STOP = new Error("stop consuming");

/**
 * Feeds `client`'s messages to `handle` in the given style until it returns
 * true or `signal` aborts with {@linkcode STOP}: the umqtt callback (run by
 * `wait_msg`, whose result is ignored), `wait_msg`'s result, or `messages()`.
 * Each message is acknowledged after `handle` has run.
 */
async function consume(
  client: MQTTClient,
  style: Style,
  handle: Handler,
  signal: AbortSignal,
): Promise<void> {
  try {
    if (style === "callback") {
      let stop = false;
      client.set_callback(async (topic, msg) => {
        stop = await handle(topic, msg);
      });
      while (!stop) await client.wait_msg({ signal });
    } else if (style === "wait_msg") {
      for (;;) {
        const msg: Message = await client.wait_msg({ signal });
        if (await handle(msg.topic, msg.payload)) return;
      }
    } else {
      for await (const msg of client.messages({ signal })) {
        if (await handle(msg.topic, msg.payload)) return;
      }
    }
  } catch (e) {
    if (e !== STOP) throw e;
  }
}

/** Which consumer got which of the messages "0" … "total-1", and how often. */
class Tally {
  /** copies[i]: how many times message i arrived, all consumers together. */
  readonly copies: Uint16Array;
  /** owner[i]: the consumer that got message i first (-1: none). */
  readonly owner: Int8Array;
  #distinct = 0;
  #waiters: { n: number; resolve: () => void }[] = [];

  constructor(readonly total: number) {
    this.copies = new Uint16Array(total);
    this.owner = new Int8Array(total).fill(-1);
  }

  /** Records that `consumer` got the message whose payload is `payload`. */
  record(consumer: number, payload: Uint8Array): void {
    const text = new TextDecoder().decode(payload);
    const i = /^\d+$/.test(text) ? Number(text) : -1;
    assert.ok(i >= 0 && i < this.total, `unexpected payload "${text}"`);
    if (this.copies[i]++ > 0) return;
    this.owner[i] = consumer;
    this.#distinct++;
    const due = this.#waiters.filter((w) => w.n <= this.#distinct);
    this.#waiters = this.#waiters.filter((w) => w.n > this.#distinct);
    for (const w of due) w.resolve();
  }

  /** Resolves once `n` distinct messages have arrived. */
  reached(n: number): Promise<void> {
    if (this.#distinct >= n) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ n, resolve }));
  }

  missing(): number[] {
    return [...this.copies.keys()].filter((i) => this.copies[i] === 0);
  }

  duplicates(): number {
    return this.copies.reduce((sum, c) => sum + Math.max(0, c - 1), 0);
  }

  /** How many messages each of `consumers` consumers got first. */
  split(consumers: number): number[] {
    const n = new Array(consumers).fill(0);
    for (const o of this.owner) if (o >= 0) n[o]++;
    return n;
  }
}

/**
 * A group of clean-session consumers on `broker` and a publisher, with their
 * topics, speaking MQTT `protocolVersion`.
 */
async function group(broker: Broker, n: number, protocolVersion: ProtocolVersion) {
  const base = uniqueId("share");
  const clients = await Promise.all(Array.from({ length: n + 1 }, async (_, i) => {
    const c = new MQTTClient(uniqueId(i === 0 ? "pub" : `c${i}`), broker.host, {
      port: broker.port,
      protocolVersion,
    });
    await c.connect();
    return c;
  }));
  const [pub, ...consumers] = clients;
  const filter = `$share/${base}/${base}/+`;
  const markers = consumers.map((_, k) => `${base}/ctl/${k}`); // outside `${base}/+`
  for (const [k, c] of consumers.entries()) {
    assert.equal(await c.subscribe(markers[k], 1), 1);
    assert.equal(await c.subscribe(filter, 1), 1);
  }
  const stop = new AbortController();
  return {
    pub,
    consumers,
    filter,
    markers,
    topic: `${base}/m`,
    stop,
    /** Ends the consumers still running and disconnects every client. */
    close: async () => {
      stop.abort(STOP);
      await Promise.all(clients.map((c) => c.disconnect()));
    },
  };
}

/** A consumer's handler: records each message until its marker comes. */
function recorder(tally: Tally, k: number, marker: string): Handler {
  return (topic, payload) => {
    if (topic === marker) return Promise.resolve(true);
    tally.record(k, payload);
    return Promise.resolve(false);
  };
}

/**
 * Publishes messages "0" … "total-1" to `topic` at QoS 1 in batches of 100,
 * each batch awaited (so every message in it is routed), never more than 600
 * ahead of what the consumers have taken, so that no consumer's queue at
 * mosquitto nears `max_queued_messages` (1000), past which mosquitto drops
 * QoS 1 messages. `counter.sent` counts the publishes made; `onRouted(n)`
 * runs after each batch with the number routed so far, and the next batch
 * waits for what it returns.
 */
async function publishAll(
  pub: MQTTClient,
  topic: string,
  tally: Tally,
  counter = { sent: 0 },
  onRouted: (n: number) => void | Promise<void> = () => {},
): Promise<void> {
  for (let start = 0; start < tally.total; start += 100) {
    await tally.reached(start - 600);
    const batch = [];
    for (let i = start; i < Math.min(start + 100, tally.total); i++) {
      counter.sent++;
      batch.push(pub.publish(topic, String(i), false, 1));
    }
    await Promise.all(batch);
    await onRouted(Math.min(start + 100, tally.total));
  }
}

/** Runs `scenario`, failing with what is still missing if it takes over 60 s. */
async function bounded(tally: Tally, what: string, scenario: Promise<void>): Promise<void> {
  try {
    await withTimeout(scenario, 60_000, what);
  } catch (e) {
    const missing = tally.missing();
    throw new Error(
      `${(e as Error).message}; ${missing.length} of ${tally.total} messages missing ` +
        `(first: ${missing.slice(0, 10).join(", ")})`,
      { cause: e },
    );
  }
}

forEachBroker(
  "three consumers in one $share group split 3000 QoS 1 messages: disjoint, none missing",
  async (broker, v) => {
    const g = await group(broker, 3, v);
    const tally = new Tally(3000);
    try {
      const t0 = performance.now();
      const consuming = g.consumers.map((c, k) =>
        consume(c, STYLES[k], recorder(tally, k, g.markers[k]), g.stop.signal)
      );
      await bounded(
        tally,
        "3000 messages through the group",
        (async () => {
          await publishAll(g.pub, g.topic, tally);
          for (const m of g.markers) await g.pub.publish(m, "", false, 1);
          await Promise.all(consuming);
        })(),
      );
      const split = tally.split(3);
      console.log(
        `$share split of 3000 QoS 1 messages (callback/wait_msg/messages): ${split.join("/")}, ` +
          `${tally.duplicates()} duplicates, ${(performance.now() - t0).toFixed(0)} ms`,
      );
      assert.deepEqual(tally.missing(), [], "every message reached a consumer");
      assert.equal(tally.duplicates(), 0, "each message reached exactly one consumer, once");
      for (const [k, n] of split.entries()) assert.ok(n > 0, `the ${STYLES[k]} consumer got none`);
    } finally {
      await g.close();
    }
  },
  { only: ["mosquitto"], versions: [4, 5] },
);

for (const leaverStyle of STYLES) {
  forEachBroker(
    `a ${leaverStyle} consumer leaves a $share group mid-stream (unsubscribe, drain, disconnect): nothing lost`,
    async (broker, v) => {
      const g = await group(broker, 3, v);
      const tally = new Tally(3000);
      // Consumer 0 leaves; the other two take the two other styles.
      const styles = [leaverStyle, ...STYLES.filter((s) => s !== leaverStyle)];
      const leaver = g.consumers[0];
      const counter = { sent: 0 };
      let routed1000!: () => void;
      const thousandRouted = new Promise<void>((resolve) => (routed1000 = resolve));
      // The last 1000 wait for the leaver's UNSUBACK, so that some are surely
      // published after it: mosquitto, Nagle on, may hold a 4-byte UNSUBACK
      // ~40 ms for the leaver's delayed ACK, and 2000 publishes take less.
      let left!: () => void;
      const hasLeft = new Promise<void>((resolve) => (left = resolve));
      const leave = { handled: 0, unsubscribed: false, sentAtUnsuback: -1, drained: 0 };
      try {
        const t0 = performance.now();
        const leaving = consume(leaver, styles[0], async (topic, payload) => {
          // Its own marker, sent after its UNSUBACK: all routed to it is handled.
          if (topic === g.markers[0]) return true;
          tally.record(0, payload);
          if (leave.unsubscribed) leave.drained++;
          if (++leave.handled === 50) {
            // Hold this message (more pile up behind it) until the stream is
            // well under way; then leave while the publisher goes on.
            await thousandRouted;
            await leaver.unsubscribe(g.filter);
            leave.unsubscribed = true;
            leave.sentAtUnsuback = counter.sent;
            left();
            await leaver.publish(g.markers[0], "", false, 1);
          }
          return false;
        }, g.stop.signal).then(() => leaver.disconnect());
        const staying = [1, 2].map((k) =>
          consume(g.consumers[k], styles[k], recorder(tally, k, g.markers[k]), g.stop.signal)
        );
        await bounded(
          tally,
          "3000 messages through the group while one consumer leaves",
          (async () => {
            await publishAll(g.pub, g.topic, tally, counter, (n) => {
              if (n >= 1000) routed1000();
              if (n >= 2000) return hasLeft;
            });
            await leaving;
            for (const m of g.markers.slice(1)) await g.pub.publish(m, "", false, 1);
            await Promise.all(staying);
          })(),
        );
        const split = tally.split(3);
        const after = [0, 0, 0];
        for (let i = leave.sentAtUnsuback; i < 3000; i++) {
          if (tally.owner[i] >= 0) after[tally.owner[i]]++;
        }
        console.log(
          `$share, ${leaverStyle} consumer leaving: split ${split.join("/")} ` +
            `(leaver, ${styles[1]}, ${styles[2]}); the leaver handled ${leave.drained} after ` +
            `its UNSUBACK; of the ${3000 - leave.sentAtUnsuback} published after that, the ` +
            `others got ${after[1]}/${after[2]}; ${tally.missing().length} missing, ` +
            `${tally.duplicates()} duplicates, ${(performance.now() - t0).toFixed(0)} ms`,
        );
        assert.deepEqual(tally.missing(), [], "every message reached a consumer");
        assert.equal(tally.duplicates(), 0, "each message reached exactly one consumer, once");
        assert.ok(
          leave.drained > 0,
          "messages were routed to the leaver and not yet handled when it unsubscribed",
        );
        assert.equal(after[0], 0, "nothing published after the UNSUBACK went to the leaver");
        assert.ok(after[1] > 0 && after[2] > 0, "both staying consumers took the rest");
      } finally {
        await g.close();
      }
    },
    { only: ["mosquitto"], versions: [4, 5] },
  );
}

forEachBroker(
  "a clean-session $share consumer that just disconnects: mosquitto drops what it held",
  async (broker, v) => {
    // The caveat in the README's "Scaling out", shown: MQTT 3.1.1 lets a
    // broker discard a clean session's undelivered messages, and mosquitto
    // 2.0.11 does so for a shared subscription's too, rather than hand them
    // to another member of the group.
    const g = await group(broker, 3, v);
    const tally = new Tally(600);
    const [leaver, ...staying] = g.consumers;
    const publish = (i: number) => g.pub.publish(g.topic, String(i), false, 1);
    try {
      let handled = 0;
      const leaving = consume(leaver, "wait_msg", (_, payload) => {
        tally.record(0, payload);
        return Promise.resolve(++handled === 10); // then it takes no more
      }, g.stop.signal);
      const consuming = staying.map((c, k) =>
        consume(c, STYLES[k], recorder(tally, k + 1, g.markers[k + 1]), g.stop.signal)
      );
      await bounded(
        tally,
        "the messages not routed to the consumer that disconnected",
        (async () => {
          // 300 messages, all routed once their PUBACKs are in.
          await Promise.all(Array.from({ length: 300 }, (_, i) => publish(i)));
          await leaving;
          await leaver.disconnect(); // with messages in flight and queued for it, unacknowledged
          // mosquitto reads each connection on its own, so it may route some
          // of the next messages to the leaver before it reads its
          // DISCONNECT. A CONNECT under the leaver's client id is a barrier:
          // once it is accepted, the old connection is gone (had the
          // DISCONNECT not been read, the takeover ends it; the session is
          // clean either way), and nothing more is routed to that member.
          const barrier = new MQTTClient(leaver.client_id, broker.host, {
            port: broker.port,
            protocolVersion: v,
          });
          await barrier.connect();
          await barrier.disconnect();
          await Promise.all(Array.from({ length: 300 }, (_, i) => publish(300 + i)));
          for (const m of g.markers.slice(1)) await g.pub.publish(m, "", false, 1);
          await Promise.all(consuming);
        })(),
      );
      const lost = tally.missing();
      console.log(
        `$share consumer disconnected holding messages: ${lost.length} of 600 lost ` +
          `(it had handled ${handled}; mosquitto gave the rest of its share to no one)`,
      );
      assert.ok(lost.length > 0, "mosquitto kept or rerouted the messages: update the README");
      assert.ok(lost.every((i) => i < 300), "only messages routed before the disconnect are lost");
      assert.equal(tally.duplicates(), 0);
    } finally {
      await g.close();
    }
  },
  { only: ["mosquitto"], versions: [4, 5] },
);
