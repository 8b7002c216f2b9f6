// What a chunk read causes is written before the next read is issued: a
// publish that awaited its PUBACK goes out, then the reader reads on, as a
// raw client does (lib/_writer.ts `uncork`, lib/_connection.ts `handed`).
// Over a conn with direct read()/write() (the channel Deno's TCP uses) whose
// broker is a script, so the order of the calls is the test's to see.
import assert from "node:assert/strict";
import { MQTTClient } from "../mod.ts";
import { test, uniqueId } from "./_test.ts";

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
