// Bytes the client keeps for every CONNECT to come (the will, the password, MQTT 5's
// authenticationData) are copies: a Node Buffer, as Node code passes bytes, included. The copies
// were made with slice(), which for a Buffer (a Uint8Array whose slice() is a view) shares the
// caller's memory: a password wiped once handed over, or a will's buffer reused, changed the next
// CONNECT.
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { MQTTClient } from "../mod.ts";
import type { ConnectPacket } from "../lib/codec/packet.ts";
import { acceptConnect, withHostileBroker } from "./_hostile_broker.ts";
import { test, uniqueId } from "./_test.ts";

test("a Buffer given as the will, password or authenticationData is copied, not kept", async () => {
  const connects: ConnectPacket[] = [];
  await withHostileBroker(async (peer) => {
    connects.push(await acceptConnect(peer));
    await peer.clientClosed;
  }, async (broker) => {
    const password = Buffer.from("secret");
    const authenticationData = Buffer.from("token");
    const msg = Buffer.from("gone");
    const correlationData = Buffer.from([1, 2]);
    const c = new MQTTClient(uniqueId("bufcopy"), broker.url, {
      protocolVersion: 5,
      user: "u",
      password,
      authenticationMethod: "m",
      authenticationData,
    });
    c.set_last_will("w", msg, { qos: 1, properties: { correlationData } });
    // The caller wipes its secrets and reuses its buffers.
    for (const b of [password, authenticationData, msg, correlationData]) b.fill(0);
    await c.connect();
    await c.disconnect();
  });
  assert.equal(connects.length, 1);
  const [connect] = connects;
  const text = (b?: Uint8Array) => new TextDecoder().decode(b);
  assert.equal(text(connect.password), "secret");
  assert.equal(text(connect.properties?.authenticationData), "token");
  assert.equal(text(connect.will?.payload), "gone");
  assert.deepEqual([...connect.will?.properties?.correlationData ?? []], [1, 2]);
});

test("the CONNECT's userProperties are copied at the constructor, as the will's are", async () => {
  // They were kept as given: the caller's later changes to the array, or to a pair, went into
  // every CONNECT to come.
  const connects: ConnectPacket[] = [];
  await withHostileBroker(async (peer) => {
    connects.push(await acceptConnect(peer));
    await peer.clientClosed;
  }, async (broker) => {
    const userProperties: [string, string][] = [["a", "1"]];
    const c = new MQTTClient(uniqueId("propcopy"), broker.url, {
      protocolVersion: 5,
      userProperties,
    });
    userProperties[0][1] = "changed";
    userProperties.push(["b", "2"]);
    await c.connect();
    await c.disconnect();
  });
  assert.equal(connects.length, 1);
  assert.deepEqual(connects[0].properties?.userProperties, [["a", "1"]]);
});
