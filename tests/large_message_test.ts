// Large messages in: the body of a packet larger than a read is read straight
// into the buffer it is gathered in, not copied there from each chunk read
// (lib/_channel.ts, lib/codec/_framer.ts `room`). Over a real TCP connection
// to the broker whose read() calls the test watches: which buffers they fill.
import assert from "node:assert/strict";
import { MQTTClient } from "../mod.ts";
import { uniqueId } from "./_test.ts";
import { forEachBroker } from "./_brokers.ts";
import { connect } from "./_net.ts";
import type { StreamPair } from "../lib/transports/types.ts";

const SIZE = 4 * 1_048_576;

/** A transport whose conn's read() calls are logged: the buffer each filled, and how much. */
function watchedReads(port: number) {
  const reads: { buffer: ArrayBufferLike; n: number }[] = [];
  const transport = async () => {
    const conn = await connect({ hostname: "127.0.0.1", port });
    return {
      read: async (buf: Uint8Array) => {
        const n = await conn.read(buf);
        if (n !== null) reads.push({ buffer: buf.buffer, n });
        return n;
      },
      write: (bytes: Uint8Array) => conn.write(bytes),
      close: () => conn.close(),
    } as unknown as StreamPair;
  };
  return { reads, transport };
}

forEachBroker(
  "a 4 MiB message is read into the buffer its payload is in, not copied from 64 KiB reads",
  async (broker, v) => {
    const topic = uniqueId("large/in");
    const { reads, transport } = watchedReads(broker.port);
    const sub = new MQTTClient(uniqueId("ls"), broker.host, {
      port: broker.port,
      protocolVersion: v,
      maxPacketSize: 2 * SIZE,
      transport,
    });
    const pub = new MQTTClient(uniqueId("lp"), broker.host, {
      port: broker.port,
      protocolVersion: v,
    });
    await sub.connect();
    await pub.connect();
    try {
      await sub.subscribe(topic, 1);
      const payload = new Uint8Array(SIZE).map((_, i) => i * 7);
      const before = reads.length;
      await pub.publish(topic, payload, false, 1);
      const msg = await sub.wait_msg();
      assert.deepEqual(msg.payload, payload);
      const mine = reads.slice(before);
      const seen = JSON.stringify(mine.map((r) => [r.buffer.byteLength, r.n]));
      // The first 64 KiB gathered and the last bytes (which may share a read
      // with what follows) come through the channel's buffer; the rest not.
      const inPlace = mine.filter((r) => r.buffer === msg.payload.buffer)
        .reduce((s, r) => s + r.n, 0);
      assert.ok(inPlace > SIZE / 2, `${inPlace} bytes read into the payload's buffer: ${seen}`);
      // The body's buffers, grown as it came: the last of them its whole length.
      let bodies = 0;
      for (const b of new Set(mine.map((r) => r.buffer))) {
        if (b.byteLength > 65_536) bodies += b.byteLength;
      }
      assert.ok(bodies < 1.5 * SIZE, `${bodies} bytes of body buffers for ${SIZE}: ${seen}`);
    } finally {
      await pub.disconnect();
      await sub.disconnect();
    }
  },
  { versions: [4, 5] },
);
