// MQTT 5.0's statements that bind a Client, where the other tests leave
// them out: each against a scripted broker (tests/_hostile_broker.ts) that
// records the bytes the client writes.
import assert from "node:assert/strict";
import {
  MQTTClient,
  type MQTTClientOptions,
  MQTTConnectionError,
  MQTTProtocolError,
} from "../mod.ts";
import { acceptConnect, withHostileBroker } from "./_hostile_broker.ts";
import { test, uniqueId } from "./_test.ts";

const TIMEOUT = { timeout: 20_000 };
const bytes = (s: string) => new TextEncoder().encode(s);

test(
  "a PUBREL for a packet id the client holds no QoS 2 message under: PUBCOMP 0x92, Packet Identifier not found; a known one: PUBCOMP 0x00 (MQTT 5.0 section 3.7.2.1, MQTT-4.3.3-11)",
  async () => {
    await withHostileBroker(async (peer) => {
      await acceptConnect(peer);
      await peer.expect("pingreq");
      // 62 02 00 07: a PUBREL for id 7, which no PUBLISH used; then a QoS 2 message, id 8.
      await peer.write([0x62, 0x02, 0x00, 0x07], {
        type: "publish",
        topic: "t",
        payload: bytes("m"),
        qos: 2,
        retain: false,
        dup: false,
        packetId: 8,
      }, { type: "pingresp" });
      let pinged = false;
      for (let p = await peer.next(); p.type !== "pubrec"; p = await peer.next()) {
        pinged ||= p.type === "pingreq";
      }
      await peer.write({ type: "pubrel", packetId: 8 });
      if (!pinged) await peer.expect("pingreq");
      // Answered after the PUBREL: the client has read it when its ping() resolves.
      await peer.write({ type: "pingresp" });
      await peer.clientClosed;
    }, async (broker) => {
      const client = new MQTTClient(uniqueId("pubrel"), broker.url, { protocolVersion: 5 });
      await client.connect();
      const message = client.wait_msg();
      await client.ping();
      assert.equal((await message).qos, 2);
      await client.ping();
      await client.disconnect();
      await broker.peers[0].clientClosed;
      // 70 03 00 07 92: id 7 is not known; 70 02 00 08: id 8, the message delivered, is released.
      assert.deepEqual(broker.peers[0].received.filter((p) => p.type === "pubcomp"), [
        { type: "pubcomp", packetId: 7, reasonCode: 0x92 },
        { type: "pubcomp", packetId: 8, reasonCode: 0 },
      ]);
    });
  },
  TIMEOUT,
);

test(
  "disconnect() with a reason code only a Server sends (0x8E Session taken over, 0x9C Use another server): a RangeError, nothing written, still connected (MQTT-3.14.2-1)",
  async () => {
    await withHostileBroker(async (peer) => {
      await acceptConnect(peer);
      await peer.clientClosed;
    }, async (broker) => {
      const client = new MQTTClient(uniqueId("dcode"), broker.url, { protocolVersion: 5 });
      await client.connect();
      for (const reasonCode of [0x87, 0x8b, 0x8e, 0x9c, 0xa2]) {
        await assert.rejects(
          client.disconnect({ reasonCode }),
          (e: unknown) => {
            assert.ok(e instanceof RangeError, String(e));
            assert.match(
              e.message,
              new RegExp(`reasonCode 0x${reasonCode.toString(16)}.*MQTT-3\\.14\\.2-1`),
            );
            return true;
          },
        );
      }
      assert.equal(client.connected, true);
      // The codes a Client sends go: 0x04 Disconnect with Will Message, e0 01 04.
      await client.disconnect({ reasonCode: 0x04 });
      await broker.peers[0].clientClosed;
      assert.deepEqual(broker.peers[0].received.slice(1), [{
        type: "disconnect",
        reasonCode: 0x04,
      }]);
    });
  },
  TIMEOUT,
);

// An AUTH the broker must not send names the rule it breaks: 4.12.0-4 (the
// broker may refuse the authentication) is none of these.
for (
  const [name, rule, auth, options, atConnect] of [
    [
      "an AUTH 0x19 from the broker, a code only a client starts a re-authentication with",
      "MQTT-4.12.0-2",
      // f0 08 19 | 06 15 00 03 "abc"
      [0xf0, 0x08, 0x19, 0x06, 0x15, 0x00, 0x03, 0x61, 0x62, 0x63],
      { authenticationMethod: "abc", onAuth: () => Uint8Array.of(1) },
      false,
    ],
    [
      "an AUTH 0x18 without the CONNECT's Authentication Method",
      "MQTT-4.12.0-5",
      [0xf0, 0x02, 0x18, 0x00],
      { authenticationMethod: "abc", onAuth: () => Uint8Array.of(1) },
      true,
    ],
    [
      "an AUTH 0x18 to a client whose CONNECT had no Authentication Method",
      "MQTT-4.12.0-6",
      [0xf0, 0x02, 0x18, 0x00],
      {},
      false,
    ],
  ] as const
) {
  test(`${name}: DISCONNECT 0x82, the error names ${rule}`, async () => {
    await withHostileBroker(async (peer) => {
      if (atConnect) await peer.expect("connect");
      else {
        await acceptConnect(peer);
        await peer.expect("pingreq");
      }
      await peer.write([...auth]);
      await peer.clientClosed;
    }, async (broker) => {
      const client = new MQTTClient(uniqueId("authrule"), broker.url, {
        protocolVersion: 5,
        ...options as MQTTClientOptions,
      });
      const broke = (e: unknown) => {
        assert.ok(e instanceof MQTTConnectionError, String(e));
        assert.ok(e.cause instanceof MQTTProtocolError, String(e.cause));
        assert.ok(e.cause.message.endsWith(`(${rule})`), e.cause.message);
        return true;
      };
      if (atConnect) await assert.rejects(client.connect(), broke);
      else {
        await client.connect();
        await assert.rejects(client.ping(), broke);
      }
      await broker.peers[0].clientClosed;
      assert.deepEqual(broker.peers[0].received.at(-1), { type: "disconnect", reasonCode: 0x82 });
    });
  }, TIMEOUT);
}
