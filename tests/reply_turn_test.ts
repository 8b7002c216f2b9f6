// A consumer that awaits the broker's answer to each message it handles (a
// bridge's QoS 1 publish, a subscribe, a ping) while a backlog is queued: the
// reader's wait for the consumer (lib/_inbox.ts, drained()) must not hold
// that answer back for a timer turn. Timers can be late by a second in a
// hidden browser tab, or a minute under Chromium's intensive throttling:
// these tests take the timer turns away, or make them slow, and count.
import assert from "node:assert/strict";
import { MQTTClient } from "../mod.ts";
import { startMosquitto } from "./_brokers.ts";
import { test, uniqueId, withTimeout } from "./_test.ts";

const OPTS = { mosquitto: true, timeout: 120_000 };
const text = (b: Uint8Array) => new TextDecoder().decode(b);

/**
 * Replaces the 0-ms timers (a turn of the event loop) with ones that fire
 * after `ms`, or never (null) until `restore()`; the others run as they
 * would. `fired` counts the 0-ms timers that fired.
 */
function slowTurns(ms: number | null) {
  const real = globalThis.setTimeout, realClear = globalThis.clearTimeout;
  const held = new Map<number, () => void>();
  let next = 1 << 30;
  const turns = { fired: 0, restore };
  globalThis.setTimeout = ((f: (...a: unknown[]) => void, delay = 0, ...a: unknown[]) => {
    if (delay > 0) return real(f, delay, ...a);
    if (ms !== null) return real(() => (turns.fired++, f(...a)), ms);
    held.set(++next, () => f(...a));
    return next;
  }) as typeof setTimeout;
  globalThis.clearTimeout = ((id: number) => {
    if (!held.delete(id)) realClear(id);
  }) as typeof clearTimeout;
  function restore() {
    globalThis.setTimeout = real;
    globalThis.clearTimeout = realClear;
    for (const f of held.values()) real(f, 0);
    held.clear();
  }
  return turns;
}

/** A client subscribed to a fresh topic with `n` QoS 1 messages on their way to it, and its broker. */
async function backlog(n: number, version: 4 | 5 = 4) {
  const broker = await startMosquitto();
  const topic = `replyturn/${uniqueId()}`;
  const opts = { port: broker.port, maxQueuedMessages: 10_000, protocolVersion: version };
  const client = new MQTTClient(uniqueId("rt"), broker.host, opts);
  const publisher = new MQTTClient(uniqueId("rtp"), broker.host, opts);
  await client.connect();
  await client.subscribe(topic, 1);
  await publisher.connect();
  await Promise.all(
    Array.from({ length: n }, (_, i) => publisher.publish(topic, `${i}`, false, 1)),
  );
  await publisher.disconnect();
  // Answered after the messages the broker sent first (mosquitto's window: 20 unacknowledged).
  await client.ping();
  const stop = async () => {
    await client.disconnect().catch(() => {});
    await broker.stop();
  };
  return { client, topic, stop, broker };
}

test(
  "a backlog queued: an awaited QoS 1 publish's PUBACK, a SUBACK and a PINGRESP are read with no timer turn",
  async () => {
    const { client, topic, stop } = await backlog(20);
    const turns = slowTurns(null);
    try {
      const it = client.messages();
      for (let i = 0; i < 5; i++) {
        const m = await it.next();
        assert.equal(m.done, false);
        await withTimeout(
          client.publish(`${topic}/echo`, m.value!.payload, false, 1),
          10_000,
          `the PUBACK of publish ${i}, the inbox's timer turn never firing`,
        );
      }
      await it.next();
      await withTimeout(client.subscribe(`${topic}/more`, 1), 10_000, "the SUBACK");
      await it.next();
      await withTimeout(client.ping(), 10_000, "the PINGRESP");
      await it.return();
    } finally {
      turns.restore();
      await stop();
    }
  },
  OPTS,
);

test(
  "a backlog of QoS 1 messages, each answered by an awaited QoS 1 publish: no timer turn per message",
  async () => {
    const n = 200;
    const { client, topic, stop } = await backlog(n);
    // A turn of the event loop takes 100 ms, as in a throttled tab (1 s there).
    const turns = slowTurns(100);
    let handled = 0;
    try {
      await withTimeout(
        (async () => {
          for await (const m of client.messages()) {
            await client.publish(`${topic}/echo`, m.payload, false, 1);
            if (++handled === n) break;
          }
        })(),
        // Far more than the whole backlog needs with a few turns, far less than a turn per message.
        n * 100 / 2,
        `${n} messages, each with a QoS 1 publish`,
      );
    } finally {
      turns.restore();
      await stop();
    }
    assert.equal(handled, n);
    // The inbox's long runs take a turn now and then (at most one per 16 messages taken).
    assert.ok(turns.fired < n / 8, `${turns.fired} timer turns for ${n} messages`);
  },
  OPTS,
);

test(
  "MQTT 5, a backlog queued: an awaited request()'s reply, a QoS 0 publish, is read with no timer turn",
  async () => {
    const { client, topic, stop, broker } = await backlog(20, 5);
    const service = `${topic}/svc`;
    const responder = new MQTTClient(uniqueId("rts"), broker.host, {
      port: broker.port,
      protocolVersion: 5,
    });
    await responder.connect();
    await responder.subscribe(service, 0);
    const serving = (async () => {
      for await (const m of responder.messages()) {
        await responder.respond(m, `re ${text(m.payload)}`);
      }
    })();
    // The response topic's SUBSCRIBE first, before the timer turns go.
    await client.request(service, "first", { timeout: 10_000 });
    const turns = slowTurns(null);
    try {
      const it = client.messages();
      for (let i = 0; i < 3; i++) {
        const m = await it.next();
        assert.equal(m.done, false);
        const reply = await withTimeout(
          client.request(service, m.value!.payload, { timeout: 20_000 }),
          10_000,
          `the reply to request ${i}, the inbox's timer turn never firing`,
        );
        assert.equal(text(reply.payload), `re ${i}`);
      }
      await it.return();
    } finally {
      turns.restore();
      await responder.disconnect();
      await serving;
      await stop();
    }
  },
  OPTS,
);
