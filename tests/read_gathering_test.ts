// A stream that arrives in small segments is read a timer turn at a time, so
// that the sender's writes gather: not a read, a wakeup and a window update
// per segment (see lib/_channel.ts). These tests drive the channel over a conn
// whose reads answer at once, on a clock of their own. How many reads a real
// socket takes for a trickled stream depends on the machine's load, so that
// figure is a benchmark row (`deno task bench --only=gather`,
// bench/_gathering.ts), not an assertion here.
import assert from "node:assert/strict";
import { type Channel, channel, GATHER_AFTER, type ReadSink, SMALL_READ } from "../lib/_channel.ts";
import type { StreamPair } from "../lib/transports/types.ts";
import { test } from "./_test.ts";

// The channel itself, over a conn whose reads answer at once with what the
// test says: when a read waits for a timer turn, and what cuts the wait short.

/**
 * A conn whose `read` answers with the next of `sizes`: a byte count at once,
 * `[count, ms]` after `ms` of the test's clock, null for the end.
 */
function conn(sizes: (number | [number, number] | null)[]) {
  const c = {
    reads: 0,
    read(p: Uint8Array): Promise<number | null> {
      const next = sizes[c.reads++] ?? null;
      if (next === null) return Promise.resolve(null);
      const [n, ms] = typeof next === "number" ? [next, 0] : next;
      clock += ms;
      return Promise.resolve(Math.min(n, p.length));
    },
    write: (p: Uint8Array) => Promise.resolve(p.length),
    close() {},
  };
  return c;
}

/** The channel over a conn (a pair with direct read/write, as a Deno.Conn is). */
const open = (c: object): Channel => channel(c as unknown as StreamPair);

/** A sink that keeps what it is given; the test reads on itself. */
function sink() {
  const got: (number | null)[] = [];
  const sink: ReadSink = {
    data(_ch, chunk) {
      got.push(chunk?.length ?? null);
    },
    failed(_ch, e) {
      throw e;
    },
  };
  return { sink, got };
}

/** Runs the queued microtasks, and no timer. */
async function microtasks(): Promise<void> {
  for (let i = 0; i < 10; i++) await null;
}

/** Asks `ch` for a read, then runs the queued microtasks (a read issued at once has completed). */
async function readStep(ch: Channel, s: ReadSink): Promise<void> {
  ch.read(s);
  await microtasks();
}

/** A few timer turns. */
const timers = () => new Promise((r) => setTimeout(r, 20));

/**
 * The channel's clock in these tests (`performance.now()`): it moves only
 * when a test moves it, so "answered at once" does not depend on this
 * machine's load.
 */
let clock = 0;

function channelTest(name: string, fn: () => Promise<void>): void {
  test(name, async () => {
    const now = performance.now;
    performance.now = () => clock;
    try {
      await fn();
    } finally {
      performance.now = now;
    }
  });
}

// 64 fills the first buffer (64 bytes), so the later ones are large. A
// streak: 64, then GATHER_AFTER - 1 more small reads, each answered at once.
const streak = (): number[] => [64, ...Array(GATHER_AFTER - 1).fill(100)];
const G = GATHER_AFTER;

/** Reads `n` times, each issued at once. */
async function readSteps(ch: Channel, s: ReadSink, n: number): Promise<void> {
  for (let i = 0; i < n; i++) await readStep(ch, s);
}

channelTest(
  "channel: after a streak of small reads answered at once, the next read waits a timer turn",
  async () => {
    const c = conn([...streak(), SMALL_READ, 100, 100, null]);
    const { sink: s, got } = sink();
    const ch = open(c);
    await readSteps(ch, s, G - 1);
    await readStep(ch, s); // one short of the streak: at once
    assert.equal(c.reads, G);
    await readStep(ch, s);
    assert.equal(c.reads, G, "read before a timer turn");
    await timers();
    assert.equal(c.reads, G + 1);
    // That wait gathered SMALL_READ bytes: the stream is fast, the next waits too.
    await readStep(ch, s);
    assert.equal(c.reads, G + 1, "read before a timer turn");
    await timers();
    assert.equal(c.reads, G + 2);
    // That wait gathered 100 bytes: not a fast stream, read as it comes.
    await readStep(ch, s);
    await readStep(ch, s);
    assert.deepEqual([c.reads, got.slice(G)], [G + 4, [SMALL_READ, 100, 100, null]]);
  },
);

channelTest(
  "channel: a write issues the waiting read at once, before or after its timer is set",
  async () => {
    const c = conn([...streak(), 100, ...streak().slice(1), 100, 100, null]);
    const { sink: s, got } = sink();
    const ch = open(c);
    await readSteps(ch, s, G);
    // A write in the same turn as the read (a PUBACK, the next publish).
    ch.read(s);
    await ch.write(new Uint8Array(4));
    await microtasks();
    assert.equal(c.reads, G + 1);
    // The write ended the streak: a new one, then a write once the read waits for its timer.
    await readSteps(ch, s, G - 1);
    assert.equal(c.reads, 2 * G, "the write ended the streak");
    await readStep(ch, s);
    assert.equal(c.reads, 2 * G, "read before a timer turn");
    await ch.write(new Uint8Array(4));
    await microtasks();
    assert.deepEqual([c.reads, got.length], [2 * G + 1, 2 * G + 1]);
  },
);

channelTest(
  "channel: close() ends a read that waits for its timer, and reads no more",
  async () => {
    const c = conn([...streak(), 100]);
    const { sink: s, got } = sink();
    const ch = open(c);
    await readSteps(ch, s, G);
    await readStep(ch, s);
    await ch.close();
    await microtasks();
    assert.deepEqual([c.reads, got.length, got.at(-1)], [G, G + 1, null]);
  },
);

channelTest("channel: a large read, or one that waited for its data, ends the streak", async () => {
  for (const breaker of [SMALL_READ, [100, 1] as [number, number]]) {
    // A streak ended by `breaker` at its last read: two more small ones are not one.
    const c = conn([...streak().slice(0, -1), breaker, 100, 100, null]);
    const { sink: s } = sink();
    const ch = open(c);
    await readSteps(ch, s, G + 2);
    assert.equal(c.reads, G + 2, `after ${JSON.stringify(breaker)}: at once`);
    await ch.close();
  }
});

channelTest(
  "channel: every chunk read is its own bytes, small ones out of shared slabs",
  async () => {
    // Sizes around the slab limit and the buffer's growth; read i fills its bytes with i. All
    // chunks are kept: a slab handed out twice, or a read buffer handed out, would show.
    const sizes = Array.from({ length: 600 }, (_, i) => [7, 64, 300, 1024, 1025, 5000][i % 6]);
    let reads = 0;
    const c = {
      read(p: Uint8Array): Promise<number | null> {
        if (reads === sizes.length) return Promise.resolve(null);
        const n = Math.min(sizes[reads], p.length);
        p.fill(reads++ & 0xff, 0, n);
        return Promise.resolve(n);
      },
      write: (p: Uint8Array) => Promise.resolve(p.length),
      close() {},
    };
    const chunks: Uint8Array[] = [];
    let ended = false;
    const ch = open(c);
    const s: ReadSink = {
      data(_ch, chunk) {
        if (chunk === null) ended = true;
        else chunks.push(chunk);
      },
      failed(_ch, e) {
        throw e;
      },
    };
    while (!ended) await readStep(ch, s);
    assert.equal(chunks.length, sizes.length);
    chunks.forEach((chunk, i) => {
      assert.ok(chunk.every((b) => b === (i & 0xff)), `chunk ${i} (${chunk.length} bytes) changed`);
    });
    const small = chunks.filter((chunk) => chunk.length <= 1024);
    const buffers = new Set(small.map((chunk) => chunk.buffer));
    assert.ok(
      buffers.size < small.length / 10,
      `${buffers.size} buffers for ${small.length} chunks`,
    );
  },
);
