// Edges of lib/_connection.ts where a systematic mutation run (every comparison, condition,
// constant ±1 and statement, one at a time, against the fast tests of the file; see
// edge_mutation_test.ts) found behaviour no test pinned down. Each test here fails on such a
// mutant and passes on the code. The scripted broker, or a transport of the test's own; no
// real broker.
import assert from "node:assert/strict";
import { MQTTClient } from "../lib/client.ts";
import { MQTTClient as Robust } from "../lib/robust.ts";
import type { StreamPair } from "../lib/transports/types.ts";
import { connectNode } from "../lib/transports/node.ts";
import { encodeAuth } from "../lib/codec/auth.ts";
import { acceptConnect, watchUnhandledRejections, withHostileBroker } from "./_hostile_broker.ts";
import { test, uniqueId, withTimeout } from "./_test.ts";

const METHOD = "SCRAM-SHA-256";
// Connections each scripted broker has taken so far (the first is scripted apart).
let reauthPeers = 0, lingerPeers = 0, ackPeers = 0;

test("a client not yet connected says connected false, not undefined (mutation13: _connection.ts mutant 706)", () => {
  const c = new MQTTClient(uniqueId("m7"), "mqtt://127.0.0.1:1");
  assert.equal(c.connected, false);
  const r = new Robust(uniqueId("m7"), "mqtt://127.0.0.1:1");
  assert.equal(r.connected, false);
});

test("a re-authentication cut off by the connection's loss leaves none under way: the next connection may reauthenticate (mutation13: _connection.ts mutant 827)", async () => {
  await withHostileBroker(async (peer) => {
    await acceptConnect(peer, { authenticationMethod: METHOD });
    if (reauthPeers++ === 0) {
      await peer.expect("auth"); // the first reauthenticate(): cut off unanswered
      return peer.end();
    }
    const auth = await peer.expect("auth");
    assert.equal(auth.reasonCode, 0x19);
    await peer.write({ type: "auth", reasonCode: 0, properties: { authenticationMethod: METHOD } });
    await peer.clientClosed;
  }, async (broker) => {
    const c = new MQTTClient(uniqueId("m7"), broker.url, {
      protocolVersion: 5,
      authenticationMethod: METHOD,
      onAuth: () => assert.fail("no challenge comes"),
    });
    await c.connect();
    await assert.rejects(c.reauthenticate(undefined), /closed by the broker/);
    await c.connect();
    await withTimeout(c.reauthenticate(undefined), 10_000, "the second re-authentication");
    await c.disconnect();
  });
});

test("after a disconnect() that waited for the broker to close, the next connection's close by the broker still ends it (mutation13: _connection.ts mutant 780)", async () => {
  await withHostileBroker(async (peer) => {
    await acceptConnect(peer);
    if (lingerPeers++ === 0) {
      await peer.expect("publish"); // never acknowledged: disconnect() reads until we close
      await peer.expect("disconnect");
      return peer.end();
    }
    // The second connection: the broker closes it.
    await peer.expect("subscribe");
    peer.end();
  }, async (broker) => {
    const c = new MQTTClient(uniqueId("m7"), broker.url);
    await c.connect();
    const pending = c.publish("t", "x", false, 1).catch(() => undefined);
    await c.disconnect();
    await pending;
    await c.connect();
    const lost = new Promise((resolve) => c.addEventListener("disconnected", resolve));
    c.subscribe("t", 0).catch(() => undefined);
    await withTimeout(lost, 10_000, "the disconnected event of the connection the broker closed");
    assert.equal(c.connected, false);
  });
});

test("MQTT 5 robust: a PUBACK in the chunk after the broker's DISCONNECT settles nothing: the PUBLISH goes again on the next connection (mutation13: _connection.ts mutant 790)", async () => {
  const second: string[] = [];
  await withHostileBroker(async (peer) => {
    if (ackPeers++ === 0) {
      await acceptConnect(peer);
      const p = await peer.expect("publish");
      // Nothing may come after the broker's DISCONNECT (MQTT-3.14.4-1): this PUBACK does not count.
      await peer.write(
        { type: "disconnect", reasonCode: 0x8b },
        { type: "puback", packetId: p.packetId! },
      );
      return void await peer.clientClosed;
    }
    await peer.expect("connect");
    await peer.write({ type: "connack", sessionPresent: true, returnCode: 0 });
    for (;;) {
      const p = await peer.next().catch(() => null);
      if (!p) return;
      second.push(p.type);
      if (p.type === "publish") await peer.write({ type: "puback", packetId: p.packetId! });
      else if (p.type === "pingreq") await peer.write({ type: "pingresp" });
      else return;
    }
  }, async (broker) => {
    const c = new Robust(uniqueId("m7"), broker.url, { protocolVersion: 5 });
    c.DELAY = 0;
    await c.connect(false);
    await withTimeout(c.publish("t", "x", false, 1), 10_000, "the publish");
    await withTimeout(c.ping(), 10_000, "a ping on the second connection");
    await c.disconnect();
    assert.deepEqual(second.slice(0, 2), ["publish", "pingreq"]);
  });
});

test("a connect() whose signal aborts in the turns after its transport opened rejects with the reason, whatever the turn (mutation13: _connection.ts mutant 742)", async () => {
  await withHostileBroker(async (peer) => {
    await acceptConnect(peer).catch(() => undefined);
    await peer.clientClosed;
  }, async (broker) => {
    for (let turns = 0; turns < 12; turns++) {
      const ac = new AbortController();
      const reason = new Error(`aborted after ${turns} turns`);
      const c = new MQTTClient(uniqueId("m7"), broker.url, {
        transport: async (): Promise<StreamPair> => {
          const pair = await connectNode({ hostname: broker.host, port: broker.port });
          let q: Promise<unknown> = Promise.resolve();
          for (let i = 0; i < turns; i++) q = q.then();
          void q.then(() => ac.abort(reason));
          return pair as StreamPair;
        },
      });
      const outcome = await withTimeout(
        c.connect(true, { signal: ac.signal }).then(() => "connected", (e) => e),
        10_000,
        `connect() aborted after ${turns} turns`,
      );
      if (outcome === "connected") await c.disconnect();
      else assert.equal(outcome, reason, `after ${turns} turns: ${outcome}`);
    }
  });
});

/**
 * A transport whose first write (the CONNECT) is answered with `connack`, and whose every later
 * write stays stuck (a broker that stopped reading); `toClient` feeds the client's readable.
 */
function stuckAfterConnect(connack: Uint8Array): {
  pair: StreamPair;
  toClient: ReadableStreamDefaultController<Uint8Array>;
} {
  let toClient!: ReadableStreamDefaultController<Uint8Array>;
  let writes = 0;
  const pair: StreamPair = {
    readable: new ReadableStream<Uint8Array>({ start: (c) => void (toClient = c) }),
    writable: new WritableStream<Uint8Array>({
      write() {
        if (writes++ > 0) return new Promise<void>(() => {});
        toClient.enqueue(connack);
      },
      abort() {},
    }),
  };
  return { pair, toClient };
}

test("MQTT 3.1.1: a protocol error read while disconnect()'s DISCONNECT waits behind a stuck write does not end the connection under the protocol error (mutation13: _connection.ts mutant 809)", async () => {
  const { pair, toClient } = stuckAfterConnect(Uint8Array.of(0x20, 0x02, 0x00, 0x00));
  const c = new MQTTClient(uniqueId("m7"), "mqtt://127.0.0.1:1", { transport: () => pair });
  await c.connect();
  const ended = new Promise<Error>((resolve) =>
    c.addEventListener("disconnected", (e) => resolve((e as CustomEvent).detail.error))
  );
  c.publish("t", "stuck").catch(() => undefined);
  const closing = c.disconnect();
  // The DISCONNECT is queued behind the stuck write: now the broker's bytes break the protocol.
  toClient.enqueue(Uint8Array.of(0x00, 0x00));
  await closing;
  const error = await ended;
  assert.doesNotMatch(error.message, /broke the protocol/, error.message);
});

test("MQTT 5: a DISCONNECT of onAuth's failure stuck behind a write, failed as the broker closes, leaves no unhandled rejection (mutation13: _connection.ts mutant 813)", async () => {
  const unhandled = watchUnhandledRejections();
  const { pair, toClient } = stuckAfterConnect(Uint8Array.of(0x20, 0x03, 0x00, 0x00, 0x00)); // MQTT 5
  let asked!: () => void;
  const challenged = new Promise<void>((r) => (asked = r));
  const c = new MQTTClient(uniqueId("m7"), "mqtt://127.0.0.1:1", {
    protocolVersion: 5,
    transport: () => pair,
    authenticationMethod: METHOD,
    onAuth: () => {
      asked();
      throw new Error("no key");
    },
  });
  await c.connect();
  const ended = new Promise<Error>((resolve) =>
    c.addEventListener("disconnected", (e) => resolve((e as CustomEvent).detail.error))
  );
  const reauth = c.reauthenticate(undefined).catch((e) => e);
  // The broker's challenge: onAuth throws, and the client's DISCONNECT 0x80 queues behind its
  // stuck AUTH; then the broker closes, which fails that write.
  toClient.enqueue(encodeAuth({
    type: "auth",
    reasonCode: 0x18,
    properties: { authenticationMethod: METHOD },
  }));
  await challenged;
  await new Promise((r) => setTimeout(r, 0));
  toClient.close();
  const error = await withTimeout(ended, 10_000, "the disconnected event");
  assert.match(error.message, /closed by the broker|Authentication failed/, error.message);
  assert.ok(await reauth instanceof Error);
  await c.disconnect();
  assert.deepEqual(await unhandled.stop(), []);
});
