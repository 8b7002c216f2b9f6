// The robust client after a reconnect to a broker that lost the session: its
// renewed subscriptions must be in place before the publishes it resends, or
// those (written before the broker went, not yet acknowledged) reach none of
// its own subscriptions. Publishes made while offline already waited for the
// renewal; the resent ones went out first, with the CONNACK.
import assert from "node:assert/strict";
import { MQTTClient } from "../lib/robust.ts";
import type { ProtocolVersion } from "../lib/codec/packet.ts";
import { startMosquitto } from "./_brokers.ts";
import { acceptConnect, withHostileBroker } from "./_hostile_broker.ts";
import { test, uniqueId } from "./_test.ts";

for (const v of [4, 5] as ProtocolVersion[]) {
  test(`MQTT ${v === 4 ? "3.1.1" : "5"}: publishes in flight when the broker restarts without the session reach the client's own renewed subscription`, async () => {
    // The restart must come while publishes are in flight, which a busy machine may let the
    // broker outrun (all 300 acknowledged before its SIGTERM): then once more, on a fresh broker,
    // with a longer burst.
    let unacked: number[] = [], got = new Set<number>();
    for (const count of [300, 1000, 3000]) {
      ({ unacked, got } = await burstAcrossRestart(v, count));
      if (unacked.length > 0) break;
    }
    assert.ok(unacked.length > 0, "the restart came while publishes were in flight");
    assert.deepEqual(unacked.filter((n) => !got.has(n)), []);
  });
}

test(
  "a broker that resets each connection on the renewal's SUBSCRIBE still gets the publish in flight, which is not taken for the packet it refuses",
  async () => {
    // MQTT 3.1.1: a broker cannot say it refuses a SUBSCRIBE (over a max_packet_size smaller
    // since a restart, say): it resets the connection. The renewal went ahead of the resent
    // PUBLISH on every connection, so the broker never read it, and after 3 resets the client
    // took the PUBLISH for the packet refused: rejected with a RangeError, dropped from the
    // session. Before the renewal went first, the PUBLISH went ahead of it and was acknowledged.
    let n = 0;
    await withHostileBroker(async (peer) => {
      await acceptConnect(peer); // Session Present 0, every time
      if (++n === 1) {
        const s = await peer.expect("subscribe");
        await peer.write({ type: "suback", packetId: s.packetId, returnCodes: [1] });
        await peer.expect("publish");
        return peer.end(); // lost before the PUBACK: the publish is kept, to be resent
      }
      for (let p; (p = await peer.next().catch(() => null));) {
        if (p.type === "subscribe") return peer.reset();
        if (p.type === "publish") await peer.write({ type: "puback", packetId: p.packetId! });
      }
    }, async (broker) => {
      const c = new MQTTClient(uniqueId("reset"), broker.url);
      c.DELAY = 0.01;
      c.log = () => {};
      await c.connect(false);
      await c.subscribe("reset/#", 1);
      await c.publish("reset/m", "kept", false, 1); // resolves once a broker acknowledged it
      await c.disconnect();
      for (const peer of broker.peers) await peer.clientClosed;
    });
  },
  { timeout: 20_000 },
);

/**
 * `count` QoS 1 publishes of 4 KiB, to the client's own subscription, with a
 * mosquitto restart (no persistence) right after they were made: which were
 * not acknowledged when the broker went, and which came back to the client.
 */
async function burstAcrossRestart(v: ProtocolVersion, count: number) {
  const broker = await startMosquitto();
  const u = uniqueId("resend");
  const c = new MQTTClient(u, broker.host, { port: broker.port, protocolVersion: v });
  c.DELAY = 0.02;
  try {
    await c.connect();
    await c.subscribe(`${u}/#`, 1);
    const acked = new Set<number>();
    const publishes = Array.from({ length: count }, (_, n) => {
      const payload = new Uint8Array(4096);
      new DataView(payload.buffer).setUint32(0, n);
      return c.publish(`${u}/m`, payload, false, 1).then(() => acked.add(n));
    });
    await broker.restart!(); // no persistence: the session and its subscription are gone
    const unacked = Array.from({ length: count }, (_, n) => n).filter((n) => !acked.has(n));
    await Promise.all(publishes);
    // A last one, after all: the broker routes one client's messages in order, so once it
    // is here, every earlier one that will arrive has.
    await c.publish(`${u}/last`, "", false, 1);
    const got = new Set<number>();
    for await (const m of c.messages()) {
      if (m.topic === `${u}/last`) break;
      got.add(new DataView(m.payload.buffer, m.payload.byteOffset).getUint32(0));
    }
    return { unacked, got };
  } finally {
    await c.disconnect();
    await broker.stop();
  }
}
