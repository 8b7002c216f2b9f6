// What a chunk read causes is written before the next read is issued: a
// publish that awaited its PUBACK goes out, then the reader reads on, as a
// raw client does (lib/_writer.ts `uncork`, lib/_connection.ts `handed`).
// Over a conn with direct read()/write() (the channel Deno's TCP uses) whose
// broker is a script, so the order of the calls is the test's to see.
import assert from "node:assert/strict";
import { MQTTClient } from "../mod.ts";
import { test, uniqueId } from "./_test.ts";
import { forEachBroker } from "./_brokers.ts";
import { writingThrough } from "./_writing_through.ts";

/** A conn that answers CONNECT with CONNACK and each QoS 1 PUBLISH with its PUBACK; logs each call. */
function scriptedConn() {
  const log: string[] = [];
  const answers: Uint8Array[] = [];
  let waiting: { buf: Uint8Array; resolve: (n: number | null) => void } | null = null;
  let closed = false;
  const name = (b: Uint8Array) => (b[0] === 0x20 ? "CONNACK" : `PUBACK ${b[3]}`);
  const deliver = () => {
    if (!waiting || (answers.length === 0 && !closed)) return;
    const { buf, resolve } = waiting;
    waiting = null;
    const next = answers.shift();
    if (!next) return resolve(null);
    buf.set(next);
    log.push(`read ${name(next)}`);
    resolve(next.length);
  };
  const conn = {
    log,
    read(buf: Uint8Array): Promise<number | null> {
      log.push("read issued");
      return new Promise((resolve) => {
        waiting = { buf, resolve };
        deliver();
      });
    },
    write(bytes: Uint8Array): Promise<number> {
      for (let at = 0; at < bytes.length; at += 2 + bytes[at + 1]) {
        const type = bytes[at] >> 4;
        if (type === 1) log.push("write CONNECT"), answers.push(Uint8Array.of(0x20, 2, 0, 0));
        if (type === 3) {
          // QoS 1, topic "t": the packet id follows the 3-byte topic field.
          const id = bytes[at + 6];
          log.push(`write PUBLISH ${id}`);
          answers.push(Uint8Array.of(0x40, 2, 0, id));
        }
        if (type === 14) log.push("write DISCONNECT");
      }
      queueMicrotask(deliver);
      return Promise.resolve(bytes.length);
    },
    close() {
      closed = true;
      deliver();
    },
  };
  return conn;
}

test("a PUBLISH that a PUBACK resumed is written before the next read is issued", async () => {
  const conn = scriptedConn();
  const c = new MQTTClient(uniqueId("order"), "127.0.0.1", {
    transport: () => Promise.resolve(conn as unknown as Deno.Conn),
  });
  try {
    await c.connect();
    for (let i = 0; i < 3; i++) await c.publish("t", "x", false, 1);
  } finally {
    await c.disconnect();
  }
  const log = conn.log;
  for (const id of [1, 2]) {
    const acked = log.indexOf(`read PUBACK ${id}`);
    assert.ok(acked > 0, `PUBACK ${id} read: ${log.join(", ")}`);
    assert.deepEqual(
      log.slice(acked + 1, acked + 3),
      [`write PUBLISH ${id + 1}`, "read issued"],
      `after PUBACK ${id}: ${log.join(", ")}`,
    );
  }
});

forEachBroker(
  "a large batch goes out in its packets' own bytes, not in a copy joining them",
  async (broker, v) => {
    // Three 100 KB publishes in one turn make one batch of 300 KB: joined,
    // it would be held twice (the packets and their copy) while it is written.
    const buffers = new Set<ArrayBufferLike>();
    const topic = uniqueId("wo/big");
    const sub = new MQTTClient(uniqueId("ws"), broker.host, {
      port: broker.port,
      protocolVersion: v,
    });
    await sub.connect();
    await sub.subscribe(topic, 0);
    const pub = new MQTTClient(uniqueId("wp"), broker.host, {
      port: broker.port,
      protocolVersion: v,
      transport: writingThrough(broker.port, (chunk, writer) => {
        if (chunk.length > 10_000) buffers.add(chunk.buffer);
        return writer.write(chunk);
      }),
    });
    try {
      await pub.connect();
      const payloads = [1, 2, 3].map((k) => new Uint8Array(100_000).fill(k));
      await Promise.all(payloads.map((p) => pub.publish(topic, p, false, 0)));
      assert.equal(buffers.size, 3, "one buffer per packet");
      for (const p of payloads) assert.deepEqual((await sub.wait_msg()).payload, p);
    } finally {
      await pub.disconnect();
      await sub.disconnect();
    }
  },
  { versions: [4, 5] },
);
