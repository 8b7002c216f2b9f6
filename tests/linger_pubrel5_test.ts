// MQTT 5: a PUBREC that comes while disconnect() lingers for acknowledgements
// (lib/_connection.ts stop(), tests/disconnect_linger_test.ts). No PUBREL may
// go after our DISCONNECT (MQTT-3.14.4-1): the PUBREL is kept in the session
// and goes on the next connect(false). A broker that completed the exchange
// meanwhile, or lost its half of it, answers that PUBREL with PUBCOMP 0x92
// (Packet Identifier not found: "not an error during recovery", MQTT 5.0
// section 3.7.2.1): the exchange ends there, without an error, and leaves the
// session. (mosquitto 2.0.11 answers a PUBREL it has no state for with
// PUBCOMP 0x00, so only a scripted broker sends 0x92.)
import assert from "node:assert/strict";
import { MemorySessionStore, MQTTClient, MQTTConnectionError } from "../mod.ts";
import { MQTTClient as Robust } from "../lib/robust.ts";
import { acceptConnect, type Peer, roundTrip, withHostileBroker } from "./_hostile_broker.ts";
import { test, uniqueId, until } from "./_test.ts";

test(
  "MQTT 5: a PUBREC read while disconnect() lingers writes no PUBREL after the DISCONNECT; the PUBREL kept goes on connect(false), and its PUBCOMP 0x92 ends the exchange without an error",
  async () => {
    const afterConnack: string[][] = [];
    const seen = (peer: Peer) => peer.received.slice(1).map((p) => p.type);
    await withHostileBroker(async (peer) => {
      const at = afterConnack.push([]) - 1;
      if (at === 0) {
        await acceptConnect(peer);
        const publish = await peer.expect("publish");
        await peer.expect("disconnect");
        // Read by the client while it lingers for acknowledgements, after its DISCONNECT.
        await peer.write({ type: "pubrec", packetId: publish.packetId! });
        await new Promise((r) => setTimeout(r, 100));
        peer.end();
        await peer.clientClosed;
      } else {
        await peer.expect("connect");
        await peer.write({ type: "connack", sessionPresent: true, returnCode: 0 });
        const pubrel = await peer.expect("pubrel");
        await peer.write({ type: "pubcomp", packetId: pubrel.packetId, reasonCode: 0x92 });
        // The client read the PUBCOMP and goes on: its next publish comes (before the round trip's
        // PUBCOMP, or after it).
        const before = await roundTrip(peer);
        const next = before.find((p) => p.type === "publish") ?? await peer.expect("publish");
        assert.equal(next.type, "publish");
        await peer.write({ type: "pubrec", packetId: next.packetId! });
        const rel = await peer.expect("pubrel");
        await peer.write({ type: "pubcomp", packetId: rel.packetId });
        await peer.clientClosed;
      }
      afterConnack[at] = seen(peer);
    }, async (broker) => {
      const store = new MemorySessionStore();
      const c = new MQTTClient(uniqueId("lingerrel"), broker.url, {
        protocolVersion: 5,
        sessionStore: store,
        sessionExpiryInterval: 60,
      });
      const lost: unknown[] = [];
      await c.connect(false);
      const first = c.publish("lr/t", "once", false, 2).then(() => null, (e) => e);
      await until(() => broker.peers[0].received.some((p) => p.type === "publish"), "published");
      await c.disconnect();
      await broker.peers[0].clientClosed;
      // Its PUBCOMP could not come: as every call pending at disconnect(), it rejects.
      assert.ok(await first instanceof MQTTConnectionError, String(await first));
      assert.deepEqual([...store.outgoing.values()].map((b) => b[0]), [0x62], "its PUBREL kept");

      c.addEventListener("disconnected", (e) => lost.push(e.detail.error));
      assert.equal(await c.connect(false), true);
      await until(() => store.outgoing.size === 0, "the PUBCOMP 0x92 took the PUBREL out");
      await c.publish("lr/t", "next", false, 2); // a fresh exchange, on the same connection
      assert.equal(c.connected, true);
      assert.deepEqual(lost, [], "the connection went on");
      await c.disconnect();
      await broker.peers[1].clientClosed;
    });
    assert.deepEqual(afterConnack[0], ["publish", "disconnect"], "nothing after the DISCONNECT");
    assert.deepEqual(afterConnack[1].filter((t) => t !== "pubcomp"), [
      "pubrel",
      "publish",
      "pubrel",
      "disconnect",
    ]);
  },
  { timeout: 20_000 },
);

test(
  "MQTT 5, robust client: a QoS 2 publish past its PUBREC when the connection is lost resolves when the PUBREL resent on the next connection gets PUBCOMP 0x92",
  async () => {
    let connections = 0;
    await withHostileBroker(async (peer) => {
      await peer.expect("connect");
      const first = ++connections === 1;
      await peer.write({ type: "connack", sessionPresent: !first, returnCode: 0 });
      if (first) {
        const publish = await peer.expect("publish");
        await peer.write({ type: "pubrec", packetId: publish.packetId! });
        await peer.expect("pubrel");
        peer.reset(); // its PUBCOMP never comes
      } else {
        const pubrel = await peer.expect("pubrel");
        await peer.write({ type: "pubcomp", packetId: pubrel.packetId, reasonCode: 0x92 });
      }
      await peer.clientClosed;
    }, async (broker) => {
      const c = new Robust(uniqueId("relrb"), broker.url, {
        protocolVersion: 5,
        sessionExpiryInterval: 60,
      });
      c.DELAY = 0.01;
      try {
        await c.connect(false);
        // Resolves: the broker took the message at its PUBREC; 0x92 is no error in recovery.
        await c.publish("lr/t", "x", false, 2);
        assert.equal(connections, 2);
      } finally {
        await c.disconnect();
      }
    });
  },
  { timeout: 20_000 },
);
