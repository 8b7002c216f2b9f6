// The inbox alone (lib/_inbox.ts): its queue, waiters and acknowledgements,
// driven with messages and a fake connection. Checks the orders a generator
// over the queue gave, now that queued messages skip the generator.
import assert from "node:assert/strict";
import { Inbox } from "../lib/_inbox.ts";
import type { Incoming } from "../lib/_protocol.ts";
import type { QoS } from "../lib/codec/packet.ts";
import type { PublishProperties } from "../lib/codec/properties.ts";
import { MQTTConnectionError } from "../lib/errors.ts";
import type { Message } from "../lib/options.ts";
import { incoming } from "./_incoming.ts";
import { test } from "./_test.ts";

function setup(max = 100) {
  const log: string[] = [];
  let closed: MQTTConnectionError | null = null;
  const link = {
    core: {
      ack: (m: Incoming) => void log.push(`ack ${m.packet.topic}`),
      unhandled: (m: Incoming) => void log.push(`unhandled ${m.packet.topic}`),
    },
    closed: (what: string) =>
      closed && new MQTTConnectionError(`Cannot ${what}: ${closed.message}`),
    userClosed: false,
  };
  const inbox = new Inbox(max, link);
  const push = (topic: string, qos: QoS = 1, properties?: PublishProperties) =>
    inbox.push(incoming(topic, qos, qos ? 1 : undefined, properties));
  const end = (error: MQTTConnectionError, user = false) => {
    closed = error;
    link.userClosed = user;
    inbox.fail(error);
  };
  return { inbox, log, push, end };
}

const topic = (r: IteratorResult<Message, void>) => r.done ? "done" : r.value.topic;

test("messages(): each message acknowledged when the next is asked for, or the loop is left", async () => {
  const { inbox, log, push } = setup();
  push("a"), push("b"), push("c");
  const it = inbox.messages(undefined);
  assert.equal(topic(await it.next()), "a");
  assert.deepEqual(log, []);
  assert.equal(topic(await it.next()), "b");
  assert.deepEqual(log, ["ack a"]);
  assert.equal(topic(await it.return()), "done");
  assert.deepEqual(log, ["ack a", "ack b"]);
  assert.equal(topic(await it.next()), "done");
  // Not handed out, so neither acknowledged nor lost.
  assert.equal((await inbox.check())?.topic, "c");
});

test("messages(): calls made while one waits run after it, in order", async () => {
  const { inbox, log, push } = setup();
  const it = inbox.messages(undefined);
  const first = it.next(), second = it.next(), ended = it.return();
  push("a");
  assert.equal(topic(await first), "a");
  push("b");
  assert.equal(topic(await second), "b");
  assert.equal(topic(await ended), "done");
  assert.deepEqual(log, ["ack a", "ack b"]);
});

test("messages(): throw() acknowledges the message and rejects; a later next() is done", async () => {
  const { inbox, log, push } = setup();
  push("a");
  const it = inbox.messages(undefined);
  await it.next();
  const boom = new Error("boom");
  await assert.rejects(it.throw(boom), (e) => e === boom);
  assert.deepEqual(log, ["ack a"]);
  assert.equal(topic(await it.next()), "done");
});

test("messages(): an abort rejects the waiting call and loses no message", async () => {
  const { inbox, push } = setup();
  const ac = new AbortController();
  const it = inbox.messages(ac.signal);
  const waiting = it.next();
  ac.abort(new Error("stop"));
  await assert.rejects(waiting, /stop/);
  push("a");
  assert.equal(topic(await it.next()), "done");
  assert.equal((await inbox.receive(undefined)).topic, "a");
  // Aborted before it asks: rejects at once.
  await assert.rejects(inbox.messages(ac.signal).next(), /stop/);
});

test("messages(): queued messages first, then the lost connection's error; after disconnect() the end", async () => {
  const w = setup();
  const waiting = w.inbox.messages(undefined).next();
  w.end(new MQTTConnectionError("lost"));
  await assert.rejects(waiting, /^MQTTConnectionError: lost$/);

  const { inbox, push, end } = setup();
  push("a");
  const it = inbox.messages(undefined);
  end(new MQTTConnectionError("lost"));
  assert.equal(topic(await it.next()), "a");
  await assert.rejects(it.next(), /iterate messages: lost/);
  assert.equal(topic(await it.next()), "done");

  const b = setup();
  const it2 = b.inbox.messages(undefined);
  const next = it2.next();
  b.end(new MQTTConnectionError("bye"), true);
  assert.equal(topic(await next), "done");
});

test("wait_msg: a callback that throws leaves the message unacknowledged; an async one is awaited", async () => {
  const { inbox, log, push } = setup();
  push("a"), push("b"), push("c"), push("d");
  const boom = new Error("boom");
  await assert.rejects(
    inbox.receive(undefined, () => {
      throw boom;
    }),
    (e) => e === boom,
  );
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const b = inbox.receive(undefined, () => gate);
  await null;
  assert.deepEqual(log, ["unhandled a"]);
  release();
  assert.equal((await b).topic, "b");
  await assert.rejects(inbox.receive(undefined, () => Promise.reject(boom)), (e) => e === boom);
  const seen: string[] = [];
  const d = await inbox.check((t, _p, m) => void seen.push(`${t} ${m.qos}`));
  assert.equal(d?.topic, "d");
  assert.deepEqual(seen, ["d 1"]);
  assert.deepEqual(log, ["unhandled a", "ack b", "unhandled c", "ack d"]);
  assert.equal(await inbox.check(), undefined);
});

test("wait_msg: concurrent calls are served in call order, queued or waiting", async () => {
  const { inbox, push } = setup();
  push("a");
  const calls = [inbox.receive(undefined), inbox.receive(undefined), inbox.receive(undefined)];
  push("b"), push("c");
  assert.deepEqual((await Promise.all(calls)).map((m) => m.topic), ["a", "b", "c"]);
});

/** Holds the event loop `ms` milliseconds, as a slow synchronous message handler does. */
function busy(ms: number) {
  for (const end = performance.now() + ms; performance.now() < end;);
}

for (
  const [way, drain] of [
    ["wait_msg", async (inbox: Inbox, n: number, each: () => void) => {
      for (let i = 0; i < n; i++) await inbox.receive(undefined, each);
    }],
    ["check_msg", async (inbox: Inbox, n: number, each: () => void) => {
      for (let i = 0; i < n; i++) assert.ok(await inbox.check(each));
    }],
    ["messages()", async (inbox: Inbox, n: number, each: () => void) => {
      let i = 0;
      for await (const _ of inbox.messages(undefined)) {
        each();
        if (++i === n) break;
      }
    }],
  ] as const
) {
  test(`${way}: a long backlog handed out one message after another lets timers run between`, async () => {
    // Each queued message is handed out in a settled promise: without a
    // timer turn now and then, a backlog of slow handlers holds the event
    // loop until it is empty, and the keepalive's PINGREQ waits that long.
    const { inbox, log, push } = setup(1000);
    const n = 100;
    for (let i = 0; i < n; i++) push(`m${i}`, 0);
    let handled = 0;
    let timerRanAt = -1;
    setTimeout(() => (timerRanAt = handled), 0);
    await drain(inbox, n, () => (busy(3), handled++));
    assert.equal(handled, n);
    // 100 handlers of 3 ms each: 300 ms, several times the run allowed without a turn.
    assert.ok(timerRanAt >= 0 && timerRanAt < n, `the timer ran after ${timerRanAt} of ${n}`);
    assert.deepEqual(log, Array.from({ length: n }, (_, i) => `ack m${i}`));
  });
}

test("a full queue drops its oldest QoS 0 message, never a QoS 1 one", async () => {
  const { inbox, push } = setup(2);
  push("a", 1), push("b", 0), push("c", 0), push("d", 1), push("e", 0);
  assert.equal(inbox.dropped, 2);
  const got = [];
  for (let m; (m = await inbox.check());) got.push(m.topic);
  assert.deepEqual(got, ["a", "d", "e"]);
});

test("drained(): waits while a consumer takes messages, until the queue empties or the event loop turns", async () => {
  const { inbox, push } = setup();
  assert.equal(inbox.drained(), undefined);
  push("a"), push("b"), push("c");
  // Nobody took a message since the last call: the reader goes on at once.
  assert.equal(inbox.drained(), undefined);
  await inbox.check();
  let settled = false;
  const d = inbox.drained()!.then(() => (settled = true));
  await inbox.check();
  await null;
  assert.equal(settled, false);
  await inbox.check();
  await d;
  push("d"), push("e");
  await inbox.check();
  // The consumer stops with "e" left: the reader goes on after a turn of the event loop…
  await inbox.drained();
  // …and from then on at once, until a consumer takes a message again.
  assert.equal(inbox.drained(), undefined);
  assert.equal((await inbox.check())?.topic, "e");
});

test("resumed(): queued QoS 1 messages go, QoS 0 and 2 ones stay in order, after what was handed out", async () => {
  const { inbox, push } = setup();
  for (const [t, qos] of [["a", 1], ["b", 0], ["c", 1], ["d", 2], ["e", 1], ["f", 0]] as const) {
    push(t, qos);
  }
  assert.equal((await inbox.check())?.topic, "a"); // handed out before the resume
  inbox.resumed();
  const rest = [];
  for (let m; (m = await inbox.check());) rest.push(m.topic);
  assert.deepEqual(rest, ["b", "d", "f"]);
  inbox.resumed(); // nothing queued: nothing to do
  push("g", 1);
  inbox.resumed();
  assert.equal(await inbox.check(), undefined);
});

test("a full queue drops the oldest QoS 0 message, finding it once past a QoS 1 backlog, not per drop", async () => {
  // 20 000 QoS 1 messages queued (a broker within a large Receive Maximum, a
  // consumer that does not keep up), then 2000 QoS 0 ones with room for 100.
  let looks = 0;
  const inbox = new Inbox(100, {
    core: { ack: () => {}, unhandled: () => {} },
    closed: () => null,
    userClosed: false,
  });
  const message = (topic: string, qos: QoS): Incoming => {
    const packet = {
      type: "publish",
      topic,
      payload: new Uint8Array(0),
      qos,
      retain: false,
      dup: false,
    } as const;
    return {
      get packet() {
        looks++;
        return packet;
      },
      generation: 1,
      session: 1,
      seq: 0,
    } as unknown as Incoming;
  };
  for (let i = 0; i < 20_000; i++) inbox.push(message(`q1/${i}`, 1));
  for (let i = 0; i < 2000; i++) inbox.push(message(`q0/${i}`, 0));
  // Full, with no QoS 0 message queued: each is the oldest QoS 0 message, and goes.
  assert.equal(inbox.dropped, 2000);
  const left: string[] = [];
  for (let m; (m = await inbox.check());) left.push(m.topic);
  assert.deepEqual(left, Array.from({ length: 20_000 }, (_, i) => `q1/${i}`));
  // The backlog is walked once in all, not once per QoS 0 message (20 000 × 2000).
  assert.ok(looks < 100_000, `${looks} looks at queued messages`);
});

test("a full queue drops its oldest QoS 0 message without moving the rest of the queue", async () => {
  // A firehose of QoS 0 messages into a full queue (a slow consumer, a deep
  // maxQueuedMessages): each drop must cost about the same whatever the
  // queue's length, not move every message queued after the dropped one.
  // Counted: array slots that array methods move or copy.
  const proto = Array.prototype as unknown as Record<string, (...a: number[]) => unknown>;
  const methods = ["splice", "copyWithin", "slice", "shift", "unshift"] as const;
  const saved = methods.map((m) => proto[m]);
  let moved = 0;
  proto.splice = function (this: unknown[], start: number, del = 0, ...items: number[]) {
    moved += Math.max(0, this.length - start - del) + items.length;
    return saved[0].call(this, start, del, ...items);
  };
  proto.copyWithin = function (this: unknown[], target: number, start: number, end?: number) {
    moved += Math.max(0, (end ?? this.length) - start);
    return saved[1].call(this, target, start, end!);
  };
  proto.slice = function (this: unknown[], start?: number, end?: number) {
    const r = saved[2].call(this, start!, end!) as unknown[];
    moved += r.length;
    return r;
  };
  proto.shift = function (this: unknown[]) {
    moved += Math.max(0, this.length - 1);
    return saved[3].call(this);
  };
  proto.unshift = function (this: unknown[], ...items: number[]) {
    moved += this.length + items.length;
    return saved[4].call(this, ...items);
  };
  const max = 10_000, extra = 20_000;
  let left: string[];
  const counts: Record<string, number> = {};
  try {
    for (const qos1Ahead of [0, 20]) {
      const { inbox, push } = setup(max);
      // A few QoS 1 messages first, as a broker's in-flight window lets through.
      for (let i = 0; i < qos1Ahead; i++) push(`q1/${i}`, 1);
      for (let i = 0; i < max + extra; i++) push(`q0/${i}`, 0);
      moved = 0;
      for (let i = max + extra; i < max + 2 * extra; i++) push(`q0/${i}`, 0);
      counts[qos1Ahead] = moved;
      assert.equal(inbox.dropped, 2 * extra + qos1Ahead);
      left = [];
      for (let m; (m = await inbox.check());) left.push(m.topic);
      // The QoS 1 messages, then the newest QoS 0 ones, in order.
      assert.deepEqual(left, [
        ...Array.from({ length: qos1Ahead }, (_, i) => `q1/${i}`),
        ...Array.from({ length: max - qos1Ahead }, (_, i) => `q0/${2 * extra + qos1Ahead + i}`),
      ]);
    }
  } finally {
    methods.forEach((m, i) => (proto[m] = saved[i]));
  }
  // 20 000 drops: a few slots each, not the queue's 10 000 (2 × 10^8 in all).
  for (const [ahead, n] of Object.entries(counts)) {
    assert.ok(n < 50 * extra, `${n} slots moved for ${extra} drops (${ahead} QoS 1 ahead)`);
  }
});

test("messages(): a message is acknowledged once, however often the loop is called after it ended", async () => {
  const { inbox, log, push } = setup();
  push("a");
  const it = inbox.messages(undefined);
  assert.equal(topic(await it.next()), "a");
  await it.return();
  assert.equal(topic(await it.next()), "done");
  await it.return();
  assert.deepEqual(log, ["ack a"]);
});

test("drained(): a message handed straight to a waiting call counts as taken: the reader waits for the consumer", async () => {
  const { inbox, push } = setup();
  assert.equal(inbox.drained(), undefined);
  const first = inbox.receive(undefined);
  push("a"); // straight to the waiting call
  push("b"); // queued behind it
  const wait = inbox.drained();
  assert.ok(wait instanceof Promise, "a consumer is taking messages: the next read waits");
  assert.equal((await first).topic, "a");
  assert.equal((await inbox.receive(undefined)).topic, "b");
  await wait;
});

test("a full queue drops its oldest QoS 0 message without moving the QoS 1 messages queued before it", async () => {
  // A broker that keeps sending QoS 1 and QoS 0 messages to a consumer that
  // does not keep up: the QoS 1 ones stay, so the oldest QoS 0 message sits
  // behind more of them with each drop. Counted: array slots moved or copied.
  const proto = Array.prototype as unknown as Record<string, (...a: unknown[]) => unknown>;
  const methods = ["splice", "copyWithin", "slice", "filter"] as const;
  const saved = methods.map((m) => proto[m]);
  let moved = 0;
  proto.splice = function (this: unknown[], start, del = 0, ...items) {
    moved += Math.max(0, this.length - (start as number) - (del as number)) + items.length;
    return saved[0].call(this, start, del, ...items);
  };
  proto.copyWithin = function (this: unknown[], target, start, end) {
    moved += Math.max(0, ((end as number) ?? this.length) - (start as number));
    return saved[1].call(this, target, start, end);
  };
  for (const i of [2, 3] as const) {
    proto[methods[i]] = function (this: unknown[], ...a: unknown[]) {
      const r = saved[i].apply(this, a) as unknown[];
      moved += i === 3 ? this.length : r.length;
      return r;
    };
  }
  const pairs = 20_000;
  const { inbox, push } = setup(1000);
  try {
    for (let i = 0; i < pairs; i++) push(`q1/${i}`, 1), push(`q0/${i}`, 0);
  } finally {
    methods.forEach((m, i) => (proto[m] = saved[i]));
  }
  // Full from the 500th pair on: 500 QoS 0 messages stay, the newest.
  assert.equal(inbox.dropped, pairs - 500);
  const left: string[] = [];
  for (let m; (m = await inbox.check());) left.push(m.topic);
  assert.deepEqual(
    left,
    Array.from({ length: pairs }, (_, i) => i < pairs - 500 ? [`q1/${i}`] : [`q1/${i}`, `q0/${i}`])
      .flat(),
  );
  // A few slots a drop, not the QoS 1 backlog's length (about 2 × 10^8 in all).
  assert.ok(moved < 50 * pairs, `${moved} slots moved for ${pairs - 500} drops`);
});

for (
  const [way, call] of [
    ["wait_msg", (inbox: Inbox, each: (t: string) => void) => inbox.receive(undefined, each)],
    ["check_msg", (inbox: Inbox, each: (t: string) => void) => inbox.check(each)],
  ] as const
) {
  test(`${way}: concurrent calls over a long backlog handle the messages in the order they came`, async () => {
    // A call that takes a message after the run of hand-outs lasted too long
    // hands it out after a timer turn: the calls made meanwhile must wait for
    // that turn too, or their messages are handled first, and a message
    // pushed to a call waiting meanwhile as well.
    const { inbox, log, push } = setup(1000);
    const n = 200;
    for (let i = 0; i < n; i++) push(`m${i}`);
    const handled: string[] = [];
    const resolved: string[] = [];
    const calls = [];
    for (let i = 0; i <= n; i++) {
      const p = call(inbox, (t) => (busy(1), handled.push(t)));
      calls.push(p.then((m) => void resolved.push(m?.topic ?? "none")));
    }
    push(`m${n}`); // to the last call, waiting (wait_msg) or handed out after a turn (check_msg)
    await Promise.all(calls);
    const came = Array.from({ length: n + 1 }, (_, i) => `m${i}`);
    const got = way === "wait_msg" ? came : came.slice(0, n);
    assert.deepEqual(handled, got, "the callback ran in arrival order");
    assert.deepEqual(
      resolved.filter((t) => t !== "none"),
      got,
      "the calls resolved in arrival order",
    );
    assert.deepEqual(log, got.map((t) => `ack ${t}`));
  });
}

test("messages(): an acknowledgement that throws (a failing session store) rejects next() and return(), and ends the loop", async () => {
  // An async iterator's methods return promises: `it.next().catch(…)` must
  // see the error, and the loop ends with it, as a generator whose `finally`
  // threw would, rather than go on handing out messages after return().
  for (const method of ["next", "return"] as const) {
    const log: string[] = [];
    let failing = false;
    const inbox = new Inbox(100, {
      core: {
        ack: (m: Incoming) => {
          if (failing) throw new Error("disk full");
          log.push(`ack ${m.packet.topic}`);
        },
        unhandled: (m: Incoming) => void log.push(`unhandled ${m.packet.topic}`),
      },
      closed: () => null,
      userClosed: false,
    });
    for (const t of ["a", "b"]) {
      inbox.push(incoming(t, 2, 1));
    }
    const it = inbox.messages(undefined);
    assert.equal(topic(await it.next()), "a");
    failing = true;
    let call: Promise<unknown> | undefined;
    assert.doesNotThrow(() => void (call = it[method]()), `${method}() throws synchronously`);
    await assert.rejects(call!, /disk full/);
    failing = false;
    assert.equal(topic(await it.next()), "done", `after ${method}() failed`);
    assert.deepEqual(log, ["unhandled a"]);
    assert.equal((await inbox.check())?.topic, "b", "b stays queued for another consumer");
  }
});

test("resumed(), MQTT 5: QoS 1 messages up to the last whose Message Expiry Interval (about) ran out stay, in order", async () => {
  // mosquitto sends no expired message again at a resume: dropped, it was
  // lost. Those before it stay too, so that the order holds (the broker's
  // resends of them come after, with DUP set); those after it go as before.
  const { inbox, push } = setup();
  const cases = [["a", 1, 3600], ["b", 1, 1], ["c", 0, 1], ["d", 1, 3600], [
    "e",
    1,
    undefined,
  ]] as const;
  for (const [topic, qos, messageExpiryInterval] of cases) {
    push(topic, qos, messageExpiryInterval ? { messageExpiryInterval } : {});
  }
  inbox.resumed(); // "b" has less than a second left: the broker may take it for expired
  const rest = [];
  for (let m; (m = await inbox.check());) rest.push(m.topic);
  assert.deepEqual(rest, ["a", "b", "c"]);
});

test("asked(): a packet that awaits the broker's answer went out: the reader reads on at once", async () => {
  const { inbox, push } = setup();
  push("a"), push("b"), push("c"), push("d");
  await inbox.check();
  // Taken, then a publish awaiting its PUBACK went out (before the reader's next read)…
  inbox.asked();
  assert.equal(inbox.drained(), undefined, "the answer is read at once");
  // …or while the reader waits for the consumer: the wait ends now, not after a timer turn.
  await inbox.check();
  let settled = false;
  const wait = inbox.drained()!.then(() => (settled = true));
  inbox.asked();
  await null;
  assert.equal(settled, true);
  await wait;
  // A consumer that takes messages and asks nothing is waited for again.
  await inbox.check();
  const again = inbox.drained();
  assert.ok(again instanceof Promise);
  await again;
});
