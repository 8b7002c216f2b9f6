// The inbox (lib/_inbox.ts) where a systematic mutation run (every comparison, condition,
// constant ±1 and statement, one at a time) found behaviour no test pinned down: the QoS 0 drop
// policy after the handed-out slots are dropped, a waiting call of one client, messages()'s call
// order, and which queued QoS 1 messages a resumed session keeps. A third pass (all 302 mutants)
// added the drop policy's bookkeeping at the queue's first slot, after resumed() and after a
// compaction, the broker's resends at a resume, an aborted wait_msg, a chained throw(), disposal,
// and a second long run's timer turn. Driven as in inbox_test.ts: the inbox with a stand-in for
// its connection; no broker.
import assert from "node:assert/strict";
import { Inbox } from "../lib/_inbox.ts";
import type { Incoming } from "../lib/_protocol.ts";
import type { QoS } from "../lib/codec/packet.ts";
import type { PublishProperties } from "../lib/codec/properties.ts";
import type { Message } from "../lib/options.ts";
import { incoming } from "./_incoming.ts";
import { test } from "./_test.ts";

function setup(max = 100) {
  const log: string[] = [];
  const inbox = new Inbox(max, {
    core: {
      ack: (m: Incoming) => void log.push(`ack ${m.packet.topic}`),
      unhandled: (m: Incoming) => void log.push(`unhandled ${m.packet.topic}`),
    },
    closed: () => null,
    userClosed: false,
  });
  const push = (topic: string, qos: QoS = 1, properties?: PublishProperties) =>
    inbox.push(incoming(topic, qos, qos ? 1 : undefined, properties));
  const rest = async () => {
    const got = [];
    for (let m; (m = await inbox.check());) got.push(m.topic);
    return got;
  };
  return { inbox, log, push, rest };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A consumer that keeps up: one message queued at a time, a0…a1023 handed out, a1024 queued. */
async function keepUp(
  inbox: ReturnType<typeof setup>["inbox"],
  push: ReturnType<typeof setup>["push"],
): Promise<void> {
  push("a0");
  for (let i = 1; i < 1025; i++) {
    push(`a${i}`);
    assert.equal((await inbox.check())?.topic, `a${i - 1}`);
  }
}

test("inbox: past 1024 handed-out slots, dropped from the queue's front, the oldest QoS 0 message still goes first and the count holds", async () => {
  // maxQueuedMessages: past it, QoS 0 messages are dropped oldest first (README).
  const { inbox, push, rest } = setup(3);
  // A consumer that keeps up: one message queued at a time, 1024 handed out.
  await keepUp(inbox, push);
  push("x", 0), push("y", 0); // a1024, x, y: 3, full
  // The 1025th hand-out drops the handed-out slots before the queue's head.
  assert.equal((await inbox.check())?.topic, "a1024");
  push("w", 0); // x, y, w: room for it
  assert.equal(inbox.dropped, 0);
  push("v", 0); // full: x, the oldest QoS 0 message, goes
  assert.equal(inbox.dropped, 1);
  assert.deepEqual(await rest(), ["y", "w", "v"]);
});

test("inbox: a call waiting for one client's message is not handed another client's", async () => {
  const one = setup(), other = setup();
  const waiting = one.inbox.receive(undefined);
  other.push("for-other");
  one.push("for-one");
  assert.equal((await waiting).topic, "for-one");
  assert.deepEqual(await other.rest(), ["for-other"]);
  assert.deepEqual(one.log, ["ack for-one"]);
  assert.deepEqual(other.log, ["ack for-other"]);
});

test("messages(): results settle in call order, a call made after a waiting one settled included", async () => {
  // As an async generator's: each call runs, and settles, after the one before it.
  const { inbox, log, push } = setup();
  const it = inbox.messages(undefined);
  const settled: string[] = [];
  const track = (p: Promise<IteratorResult<Message, void>>, name: string) =>
    p.then((r) => (settled.push(`${name} ${r.done ? "done" : r.value.topic}`), r));
  const first = track(it.next(), "first"), second = track(it.next(), "second");
  push("a"), push("b"), push("c");
  await first;
  // The second call is still under way: the third runs after it.
  const third = track(it.next(), "third");
  await Promise.all([second, third]);
  assert.deepEqual(settled, ["first a", "second b", "third c"]);
  assert.deepEqual(log, ["ack a", "ack b"]);
  await it.return();
  assert.deepEqual(log, ["ack a", "ack b", "ack c"]);
});

test("resumed(), MQTT 5: a queued QoS 1 message's expiry counts from its arrival; a QoS 0 message's does not keep those before it", async () => {
  const { inbox, push, rest } = setup();
  // "b" has no more than its last second (the broker counts whole seconds): it stays.
  push("b", 1, { messageExpiryInterval: 1 });
  inbox.resumed();
  assert.deepEqual(await rest(), ["b"]);
  // "a" will be sent again (3600 s left); "c", QoS 0, is not, and stays: its expiry keeps nothing.
  push("a", 1, { messageExpiryInterval: 3600 }), push("c", 0, { messageExpiryInterval: 1 });
  inbox.resumed();
  assert.deepEqual(await rest(), ["c"]);
  // "d" has 2 s, so more than its last second, left just after it came: it goes, however long
  // the process has run (the clock's origin is the process's start).
  while (performance.now() < 1500) await sleep(100);
  push("d", 1, { messageExpiryInterval: 2 });
  inbox.resumed();
  assert.deepEqual(await rest(), []);
});

test("inbox: a new inbox, full of QoS 0 messages, drops the first one queued", async () => {
  // maxQueuedMessages: the oldest QoS 0 message goes, even when it is the very first in the
  // queue (the search for it starts at the queue's first slot).
  const { inbox, push, rest } = setup(2);
  push("a", 0), push("b", 0), push("c", 0);
  assert.equal(inbox.dropped, 1);
  assert.deepEqual(await rest(), ["b", "c"]);
});

test("resumed(): a queued QoS 1 message the broker sends again goes; one it may not send again stays", async () => {
  // The protocol state tells which (MQTT-4.4.0-1): one of the present session, its CONNECT
  // answered, is resent on the new connection; one of a session ended since is not.
  const { inbox, push, rest } = setup();
  push("again", 1), push("lost", 1), push("zero", 0);
  inbox.resumed({ resends: (m) => m.packet.topic === "again" });
  assert.deepEqual(await rest(), ["lost", "zero"]);
});

test("inbox: after resumed(), the queue's fullness counts its messages and drops the oldest QoS 0 one", async () => {
  // maxQueuedMessages 2: "a" alone leaves room for "b"; "c" makes "a", the oldest, go.
  const { inbox, push, rest } = setup(2);
  push("a", 0);
  inbox.resumed();
  push("b", 0);
  assert.equal(inbox.dropped, 0);
  push("c", 0);
  assert.equal(inbox.dropped, 1);
  assert.deepEqual(await rest(), ["b", "c"]);
});

test("inbox: a dropped message's empty slot, once passed, no longer counts against the queue's room", async () => {
  const { inbox, push, rest } = setup(2);
  push("a", 1), push("b", 0), push("c", 0); // full: "b" goes, its slot left empty
  assert.deepEqual(await rest(), ["a", "c"]);
  // Empty again: the next three QoS 0 messages fill it and the first of them goes.
  push("d", 0), push("e", 0), push("f", 0);
  assert.equal(inbox.dropped, 2);
  assert.deepEqual(await rest(), ["e", "f"]);
});

test("resumed(): the queue it keeps, a dropped message's slot closed up, drops its oldest QoS 0 message when full", async () => {
  const { inbox, push, rest } = setup(2);
  push("a", 1), push("b", 0), push("c", 0); // full: "b" goes, its slot left empty
  inbox.resumed({ resends: () => false }); // "a" stays: [a, c]
  push("d", 0); // full: "c" goes
  assert.equal(inbox.dropped, 2);
  assert.deepEqual(await rest(), ["a", "d"]);
});

test("wait_msg with a signal already aborted rejects with its reason and takes no message", async () => {
  const { inbox, push, rest } = setup();
  const ac = new AbortController();
  ac.abort(new Error("stop"));
  await assert.rejects(inbox.receive(ac.signal), /stop/); // nothing queued: no wait either
  push("a");
  await assert.rejects(inbox.receive(ac.signal), /stop/);
  assert.deepEqual(await rest(), ["a"]);
});

test("messages(): throw() called while a next() waits rejects with its error once that next() has its message", async () => {
  // As an async generator's throw(): it runs after the call before it, and rethrows.
  const { inbox, log, push } = setup();
  const it = inbox.messages(undefined);
  const first = it.next();
  const thrown = it.throw(new Error("body failed"));
  push("a");
  assert.equal((await first).value?.topic, "a");
  await assert.rejects(thrown, /body failed/);
  assert.deepEqual(log, ["ack a"]);
  assert.deepEqual(await it.next(), { value: undefined, done: true });
});

test("inbox: past 1024 handed-out slots dropped after a drop, the next drop still takes the oldest QoS 0 message", async () => {
  // Where the search for the oldest QoS 0 message starts moves with the queue's front.
  const { inbox, push, rest } = setup(3);
  await keepUp(inbox, push);
  push("x", 0), push("y", 0), push("z", 0); // a1024, x, y, z: "x" goes
  assert.equal((await inbox.check())?.topic, "a1024"); // the handed-out slots are dropped
  push("w", 0); // y, z, w: room for it
  push("v", 0); // full: "y" goes
  assert.equal(inbox.dropped, 2);
  assert.deepEqual(await rest(), ["z", "w", "v"]);
});

test("wait_msg: a second long backlog, after one that waited for a timer turn, lets timers run between too", async () => {
  // RUN_MS: each run of hand-outs without a turn is bounded, not only the first one.
  const busy = (ms: number) => {
    for (const end = performance.now() + ms; performance.now() < end;);
  };
  const { inbox, push } = setup(1000);
  const n = 100;
  for (const round of [1, 2]) {
    for (let i = 0; i < n; i++) push(`m${i}`, 0);
    let handled = 0, timerRanAt = -1;
    setTimeout(() => (timerRanAt = handled), 0);
    for (let i = 0; i < n; i++) await inbox.receive(undefined, () => (busy(3), handled++));
    assert.ok(
      timerRanAt >= 0 && timerRanAt < n,
      `round ${round}: the timer ran after ${timerRanAt} of ${n}`,
    );
  }
});

test("messages(): disposing of the loop (await using) acknowledges the message handed out last", async () => {
  const { inbox, log, push } = setup();
  const it = inbox.messages(undefined);
  push("a");
  assert.equal((await it.next()).done, false);
  await it[Symbol.asyncDispose]();
  assert.deepEqual(log, ["ack a"]);
  assert.deepEqual(await it.next(), { value: undefined, done: true });
});
