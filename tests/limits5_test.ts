// MQTT 5: what the client sends stays within what the broker said it takes
// and what the spec lets a client send, against a scripted broker
// (tests/_hostile_broker.ts): the Maximum Packet Size of the broker's CONNACK
// for DISCONNECT and AUTH too (MQTT-3.2.2-15, MQTT-3.14.2-3/-4), the
// Request Problem Information the client asked for (MQTT-3.1.2-29), a payload
// said to be UTF-8 (section 3.3.2.3.2), and disconnect()'s option names.
import assert from "node:assert/strict";
import {
  type AuthChallenge,
  MQTTClient,
  type MQTTClientOptions,
  MQTTConnectionError,
  MQTTProtocolError,
} from "../mod.ts";
import { type DisconnectPacket, encodeDisconnect } from "../lib/codec/mod.ts";
import { acceptConnect, type HostileBroker, withHostileBroker } from "./_hostile_broker.ts";
import { test, uniqueId } from "./_test.ts";

const TIMEOUT = { timeout: 20_000 };
const METHOD = "SCRAM-SHA-256";
const bytes = (s: string) => new TextEncoder().encode(s);
const LONG = "x".repeat(100);

/** An MQTT 5 client of `broker`. */
function v5(broker: HostileBroker, opts: MQTTClientOptions = {}) {
  return new MQTTClient(uniqueId("lim5"), broker.url, { protocolVersion: 5, ...opts });
}

// ---- DISCONNECT within the broker's Maximum Packet Size ---------------------

for (
  const [name, options, sent] of [
    [
      "both fit: both go",
      { reasonString: "bye", userProperties: [["k", "v"]] },
      { reasonString: "bye", userProperties: [["k", "v"]] },
    ],
    [
      "a long Reason String goes, the User Properties stay",
      { reasonString: LONG, userProperties: [["k", "v"]] },
      { userProperties: [["k", "v"]] },
    ],
    [
      "long User Properties go, the Reason String stays",
      { reasonString: "bye", userProperties: [["k", LONG]] },
      { reasonString: "bye" },
    ],
    [
      "both long: both go, the reason code and expiry stay",
      { reasonString: LONG, userProperties: [["k", LONG]], sessionExpiryInterval: 9 },
      { sessionExpiryInterval: 9 },
    ],
  ] as const
) {
  test(
    `disconnect() over the broker's Maximum Packet Size 60: ${name} (MQTT-3.14.2-3, -4)`,
    async () => {
      await withHostileBroker(async (peer) => {
        await acceptConnect(peer, { maximumPacketSize: 60 });
        await peer.clientClosed;
      }, async (broker) => {
        const client = v5(broker, { sessionExpiryInterval: 5 });
        await client.connect();
        await client.disconnect({
          reasonCode: 0x04,
          ...options,
          userProperties: options.userProperties?.map(([k, v]) => [k, v]),
        });
        const peer = broker.peers[0];
        await peer.clientClosed;
        const disconnect = peer.received.at(-1) as DisconnectPacket;
        assert.equal(disconnect.type, "disconnect");
        assert.equal(disconnect.reasonCode, 0x04);
        assert.deepEqual({ ...disconnect.properties }, sent);
        assert.ok(encodeDisconnect(disconnect, 5).length <= 60, "the DISCONNECT fits");
      });
    },
    TIMEOUT,
  );
}

test("disconnect() takes only its own options: serverReference is the broker's", async () => {
  await withHostileBroker(async (peer) => {
    await acceptConnect(peer);
    await peer.expect("disconnect");
  }, async (broker) => {
    const client = v5(broker);
    await client.connect();
    await assert.rejects(
      client.disconnect({ serverReference: "b" } as never),
      /^TypeError: Invalid option serverReference for disconnect: accepted are reasonCode, sessionExpiryInterval, reasonString, userProperties$/,
    );
    assert.equal(client.connected, true);
    await client.disconnect();
    await broker.peers[0].clientClosed;
  });
}, TIMEOUT);

// ---- AUTH within the broker's Maximum Packet Size ---------------------------

/** A client with enhanced authentication whose `onAuth` answers with `answer`. */
function authClient(broker: HostileBroker, answer: Uint8Array, seen: AuthChallenge[] = []) {
  return v5(broker, {
    authenticationMethod: METHOD,
    onAuth: (challenge) => (seen.push(challenge), answer),
  });
}

test(
  "reauthenticate() with data over the broker's Maximum Packet Size rejects before writing",
  async () => {
    await withHostileBroker(async (peer) => {
      await acceptConnect(peer, { maximumPacketSize: 60 });
      await peer.expect("pingreq");
      await peer.write({ type: "pingresp" });
      await peer.expect("disconnect");
    }, async (broker) => {
      const client = authClient(broker, bytes("ok"));
      await client.connect();
      await assert.rejects(client.reauthenticate(bytes(LONG)), (e: unknown) => {
        assert.ok(e instanceof RangeError, String(e));
        assert.match(
          e.message,
          /^Cannot reauthenticate with a packet of 1\d\d bytes: over the broker's Maximum Packet Size 60 \(maximumPacketSize; MQTT-3\.2\.2-15\)$/,
        );
        return true;
      });
      // Nothing went, nothing waits: the connection goes on, a later one may start.
      await client.ping();
      assert.equal(client.connected, true);
      await client.disconnect();
      const peer = broker.peers[0];
      await peer.clientClosed;
      assert.deepEqual(peer.received.map((p) => p.type), ["connect", "pingreq", "disconnect"]);
    });
  },
  TIMEOUT,
);

test(
  "an onAuth answer over the broker's Maximum Packet Size: the client gives up, DISCONNECT 0x80",
  async () => {
    const seen: AuthChallenge[] = [];
    await withHostileBroker(async (peer) => {
      await acceptConnect(peer, { maximumPacketSize: 60 });
      await peer.expect("auth");
      await peer.write({
        type: "auth",
        reasonCode: 0x18,
        properties: { authenticationMethod: METHOD, authenticationData: bytes("step") },
      });
      assert.equal(await peer.clientClosed, "eof");
    }, async (broker) => {
      const client = authClient(broker, bytes(LONG), seen);
      await client.connect();
      await assert.rejects(client.reauthenticate(bytes("r")), (e: unknown) => {
        assert.ok(e instanceof MQTTConnectionError, String(e));
        assert.match(
          e.message,
          /^Authentication failed: its AUTH cannot be sent: Cannot answer the broker's AUTH with a packet of 1\d\d bytes: over the broker's Maximum Packet Size 60/,
        );
        return true;
      });
      assert.equal(seen.length, 1);
      const peer = broker.peers[0];
      await peer.clientClosed;
      assert.deepEqual(peer.received.at(-1), { type: "disconnect", reasonCode: 0x80 });
      assert.ok(!peer.received.some((p) => p.type === "auth" && p.reasonCode === 0x18));
    });
  },
  TIMEOUT,
);

// ---- Request Problem Information 0 -----------------------------------------

for (
  const [name, packet] of [
    ["a PUBACK with a Reason String", { reasonString: "why" }],
    ["a PUBACK with User Properties", { userProperties: [["k", "v"]] }],
  ] as const
) {
  test(
    `requestProblemInformation false, then ${name}: DISCONNECT 0x82 (MQTT-3.1.2-29)`,
    async () => {
      await withHostileBroker(async (peer) => {
        const connect = await acceptConnect(peer, { reasonString: "welcome" });
        assert.equal(connect.properties?.requestProblemInformation, false);
        const publish = await peer.expect("publish");
        await peer.write({
          type: "puback",
          packetId: publish.packetId!,
          reasonCode: 0x10,
          properties: { ...packet, userProperties: packet.userProperties?.map(([k, v]) => [k, v]) },
        });
        await peer.clientClosed;
      }, async (broker) => {
        // A CONNACK may carry a Reason String all the same.
        const client = v5(broker, { requestProblemInformation: false });
        await client.connect();
        assert.equal(client.connack?.properties.reasonString, "welcome");
        await assert.rejects(client.publish("t", "m", false, 1), (e: unknown) => {
          assert.ok(e instanceof MQTTConnectionError, String(e));
          assert.ok(e.cause instanceof MQTTProtocolError);
          assert.equal(
            e.cause.message,
            "PUBACK with a Reason String or User Properties, which our CONNECT asked the broker not to send (requestProblemInformation false) (MQTT-3.1.2-29)",
          );
          return true;
        });
        const peer = broker.peers[0];
        await peer.clientClosed;
        assert.deepEqual(peer.received.at(-1), { type: "disconnect", reasonCode: 0x82 });
      });
    },
    TIMEOUT,
  );
}

test(
  "requestProblemInformation false: a PUBLISH's and a DISCONNECT's User Properties are allowed",
  async () => {
    await withHostileBroker(async (peer) => {
      await acceptConnect(peer);
      await peer.expect("pingreq");
      await peer.write({
        type: "publish",
        topic: "t",
        payload: bytes("m"),
        qos: 0,
        retain: false,
        dup: false,
        properties: { userProperties: [["k", "v"]] },
      });
      await peer.write({ type: "pingresp" });
      await peer.write({
        type: "disconnect",
        reasonCode: 0x8b,
        properties: { reasonString: "restart", userProperties: [["k", "v"]] },
      });
      await peer.clientClosed;
    }, async (broker) => {
      const client = v5(broker, { requestProblemInformation: false });
      await client.connect();
      const message = client.wait_msg();
      await client.ping();
      assert.deepEqual((await message).properties?.userProperties, [["k", "v"]]);
      await assert.rejects(client.wait_msg(), (e: unknown) => {
        assert.ok(e instanceof MQTTConnectionError, String(e));
        assert.equal(e.reasonCode, 0x8b);
        assert.equal(e.reasonString, "restart");
        return true;
      });
      await broker.peers[0].clientClosed;
      // The broker ended it: the client sent no DISCONNECT of its own.
      assert.ok(!broker.peers[0].received.some((p) => p.type === "disconnect"));
    });
  },
  TIMEOUT,
);

// ---- Payload Format Indicator 1: the payload is UTF-8 ----------------------

test(
  "payloadFormatIndicator true with bytes that are not UTF-8: a TypeError before any byte goes",
  async () => {
    await withHostileBroker(async (peer) => {
      await acceptConnect(peer);
      const publish = await peer.expect("publish");
      assert.equal(new TextDecoder().decode(publish.payload), "é, or \u0000 either");
      await peer.expect("publish");
      await peer.expect("disconnect");
    }, async (broker) => {
      const client = v5(broker);
      const notUtf8 = Uint8Array.of(0x68, 0xff, 0xfe);
      const rule =
        /^TypeError: Invalid (msg|will message): not well-formed UTF-8, and payloadFormatIndicator says it is \(MQTT 5\.0 section 3\.3\.2\.3\.2\)$/;
      assert.throws(
        () => client.set_last_will("w", notUtf8, { properties: { payloadFormatIndicator: true } }),
        rule,
      );
      await client.connect();
      const pfi = { properties: { payloadFormatIndicator: true } };
      await assert.rejects(client.publish("t", notUtf8, pfi), rule);
      // A lone surrogate half, encoded as WTF-8 would: not UTF-8 either.
      await assert.rejects(client.publish("t", Uint8Array.of(0xed, 0xa0, 0x80), pfi), rule);
      // Well-formed bytes go; U+0000 is a character like any other in a payload.
      await client.publish("t", bytes("é, or \u0000 either"), pfi);
      // Not said to be text: any bytes.
      await client.publish("t", notUtf8, { properties: { payloadFormatIndicator: false } });
      await client.disconnect();
      await broker.peers[0].clientClosed;
    });
  },
  TIMEOUT,
);
