// More of lib/_connection.ts's edges where a systematic mutation run (every comparison,
// condition, constant ±1 and statement, one at a time, against the fast tests of the file; see
// edge_mutation_test.ts and edge_mutation2_test.ts) found behaviour no test pinned down. Each
// test here fails on such a mutant and passes on the code. Driven with the scripted broker or by
// hand; no real broker.
import assert from "node:assert/strict";
import { MQTTClient as Simple, MQTTConnectionError } from "../mod.ts";
import { MQTTClient as Robust, type ReconnectingDetail } from "../lib/robust.ts";
import { acceptConnect, roundTrip, startHostileBroker } from "./_hostile_broker.ts";
import { test, uniqueId, until } from "./_test.ts";

test("messages() of a client never connected throws 'call connect() first', not an iteration that ends at once (mutant 554 of _connection.ts)", async () => {
  const c = new Simple(uniqueId("never"), "mqtt://127.0.0.1:1");
  const it = c.messages();
  await assert.rejects(
    it.next(),
    (e) =>
      e instanceof MQTTConnectionError &&
      e.message === "Cannot iterate messages: not connected; call connect() first",
  );
});

test("robust: lost by a broker's DISCONNECT other than 0x9C/0x9D, the server that worked last is tried first (mutant 567 of _connection.ts)", async () => {
  let na = 0;
  // A: accepts, then at the client's PINGREQ sends DISCONNECT 0x8B (server shutting down);
  // accepts any later connection. B (listed after A): refuses 0x88 (server unavailable).
  const a = await startHostileBroker(async (peer) => {
    await acceptConnect(peer);
    if (na++ === 0) {
      await peer.expect("pingreq");
      await peer.write({ type: "disconnect", reasonCode: 0x8b });
    }
    await peer.clientClosed;
  });
  const b = await startHostileBroker(async (peer) => {
    await peer.expect("connect");
    await peer.write({ type: "connack", sessionPresent: false, returnCode: 0x88 });
    await peer.clientClosed;
  });
  const client = new Robust(uniqueId("shutdown"), [a.url, b.url], { protocolVersion: 5 });
  client.DELAY = 0;
  const tried: string[] = [];
  client.addEventListener(
    "reconnecting",
    (e) => tried.push((e as CustomEvent<ReconnectingDetail>).detail.server),
  );
  try {
    await client.connect(false);
    const up = new Promise((r) => client.addEventListener("connected", r, { once: true }));
    await assert.rejects(client.ping());
    await up;
    assert.deepEqual(
      tried,
      [a.url],
      "A, which worked last and did not send the client away, first",
    );
    assert.equal(b.peers.length, 0);
  } finally {
    await client.disconnect();
    await a.close();
    await b.close();
  }
});

test("robust: one publish in flight when the broker lost the session: the renewed SUBSCRIBE goes before its resend (mutant 623 of _connection.ts)", async () => {
  let n = 0;
  const order: string[] = [];
  const b = await startHostileBroker(async (peer) => {
    await acceptConnect(peer); // Session Present 0: on the second connection, the session is gone
    if (++n === 1) {
      const sub = await peer.expect("subscribe");
      await peer.write({ type: "suback", packetId: sub.packetId, returnCodes: [1] });
      await peer.expect("publish"); // unacknowledged: in flight when the connection drops
      peer.end();
    } else {
      for (let i = 0; i < 2; i++) {
        const p = await peer.next();
        order.push(p.type);
        if (p.type === "subscribe") {
          await peer.write({ type: "suback", packetId: p.packetId, returnCodes: [1] });
        } else if (p.type === "publish") {
          await peer.write({ type: "puback", packetId: p.packetId! });
        }
      }
    }
    await peer.clientClosed;
  });
  const c = new Robust(uniqueId("renew1"), b.url, { protocolVersion: 4 });
  c.DELAY = 0;
  try {
    await c.connect(false);
    await c.subscribe("t/#", 1);
    await c.publish("t/1", "x", false, 1); // resolves with the PUBACK on the second connection
    assert.deepEqual(order, ["subscribe", "publish"]);
  } finally {
    await c.disconnect();
    await b.close();
  }
});

for (const close of ["end", "reset"] as const) {
  test(`disconnect() with a publish in flight, the broker closing (${close}) after our DISCONNECT: the publish and 'disconnected' say disconnect() was called (mutants 655, 671 of _connection.ts)`, async () => {
    const b = await startHostileBroker(async (peer) => {
      await acceptConnect(peer);
      await peer.expect("publish"); // never acknowledged
      await peer.expect("disconnect");
      peer[close](); // as a broker does: it closes after the client's DISCONNECT
      await peer.clientClosed;
    });
    const c = new Simple(uniqueId("linger"), b.url, { protocolVersion: 4 });
    const errors: string[] = [];
    c.addEventListener("disconnected", (e) => errors.push(e.detail.error.message));
    try {
      await c.connect();
      const pub = c.publish("t", "x", false, 1).then(() => "resolved", (e: Error) => e.message);
      await until(() => b.peers[0]?.received.some((p) => p.type === "publish"), "the PUBLISH");
      await c.disconnect(); // lingers: reads until the broker closes
      assert.equal(await pub, "Disconnected: disconnect() was called");
      assert.deepEqual(errors, ["Disconnected: disconnect() was called"]);
    } finally {
      await c.disconnect();
      await b.close();
    }
  });
}

test("text from the broker after its CONNACK is a protocol error of its own, not 'Expected CONNACK first' (mutant 663 of _connection.ts)", async () => {
  const b = await startHostileBroker(async (peer) => {
    await acceptConnect(peer);
    await roundTrip(peer); // the CONNACK was read: the text comes in a read of its own
    // Long enough that the packet its first bytes begin (a PUBACK of 84 bytes) is all there.
    await peer.write(
      new TextEncoder().encode(`HTTP/1.1 400 Bad Request\r\n\r\n${"x".repeat(100)}`),
    );
    await peer.clientClosed;
  });
  const c = new Simple(uniqueId("text"), b.url, { protocolVersion: 4 });
  const errors: string[] = [];
  c.addEventListener("disconnected", (e) => errors.push(e.detail.error.message));
  try {
    await c.connect();
    await until(() => errors.length > 0, "the connection's end");
    assert.match(errors[0], /^Connection closed: the broker broke the protocol: /);
    assert.doesNotMatch(errors[0], /CONNACK/, "the CONNACK came: the text is no answer to CONNECT");
  } finally {
    await c.disconnect();
    await b.close();
  }
});

test("MQTT 5: a publish made at once after the broker broke the protocol rejects; nothing goes after the client's DISCONNECT (mutant 695 of _connection.ts)", async () => {
  const b = await startHostileBroker(async (peer) => {
    await acceptConnect(peer);
    // A message, and in the same write a PUBACK for a packet id the client never used.
    await peer.write(
      {
        type: "publish",
        topic: "t",
        payload: new Uint8Array(1),
        qos: 0,
        retain: false,
        dup: false,
      },
      { type: "puback", packetId: 7 },
    );
    await peer.clientClosed;
  });
  const c = new Simple(uniqueId("sealed"), b.url, { protocolVersion: 5 });
  try {
    await c.connect();
    const msg = await c.messages().next(); // handed out after the PUBACK was read
    assert.equal(msg.value?.topic, "t");
    const why = await c.publish("t", "y").then(() => "resolved", (e: Error) => e.message);
    assert.match(why, /^Cannot publish: Connection closed: the broker broke the protocol: /);
    await until(() => b.peers[0].received.some((p) => p.type === "disconnect"), "the DISCONNECT");
    const types = b.peers[0].received.map((p) => p.type);
    assert.equal(types.at(-1), "disconnect", `nothing after the DISCONNECT: ${types}`);
  } finally {
    await c.disconnect();
    await b.close();
  }
});
