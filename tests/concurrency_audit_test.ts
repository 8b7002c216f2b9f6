// The client used concurrently and re-entrantly, through its public API:
// calls that cross each other, made from outside or from inside a callback.
import assert from "node:assert/strict";
import { createServer, type Socket } from "node:net";
import { MQTTClient, MQTTConnectionError } from "../mod.ts";
import { MQTTClient as RobustClient } from "../lib/robust.ts";
import { acceptConnect, withHostileBroker } from "./_hostile_broker.ts";
import { test, uniqueId } from "./_test.ts";

for (const [name, Client] of [["simple", MQTTClient], ["robust", RobustClient]] as const) {
  test(
    `${name}: disconnect(), connect(), disconnect() not awaited: the last disconnect() stops the connect()`,
    async () => {
      await withHostileBroker(async (peer) => {
        await acceptConnect(peer);
        await peer.clientClosed;
      }, async (broker) => {
        const c = new Client(uniqueId("cc"), broker.url);
        await c.connect();
        const first = c.disconnect();
        // Waits for the first disconnect(), which the second one joins.
        const connecting = c.connect().then(() => null, (e) => e);
        await c.disconnect();
        await first;
        const error = await connecting;
        assert.ok(error instanceof MQTTConnectionError, `connect() resolved: ${error}`);
        assert.match(error.message, /disconnect\(\) was called/);
        assert.equal(c.connected, false);
        assert.equal(broker.peers.length, 1, "the connect() opened no connection");
      });
    },
  );
}

for (const [name, Client] of [["simple", MQTTClient], ["robust", RobustClient]] as const) {
  test(
    `${name}: a connect() waiting for a disconnect() under way rejects with its signal's reason when it aborts`,
    async () => {
      // Answers CONNECT, then reads nothing more: disconnect()'s DISCONNECT is stuck behind a
      // large publish, and disconnect() lasts until its bound.
      const sockets: Socket[] = [];
      const server = createServer((socket) => {
        sockets.push(socket);
        socket.once("data", () => {
          socket.write(Uint8Array.of(0x20, 0x02, 0x00, 0x00));
          socket.pause();
        });
        socket.on("error", () => {});
      });
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      try {
        const c = new Client(
          uniqueId("ca"),
          "127.0.0.1",
          (server.address() as { port: number }).port,
        );
        await c.connect();
        const big = c.publish("t", new Uint8Array(32 * 1024 * 1024)).catch(() => {});
        let disconnected = false;
        const disconnecting = c.disconnect().then(() => (disconnected = true));
        const aborted = new AbortController();
        const connecting = c.connect({ signal: aborted.signal });
        const reason = new Error("gave up waiting");
        aborted.abort(reason);
        await assert.rejects(connecting, (e) => e === reason);
        assert.equal(disconnected, false, "connect() waited for disconnect() to end");
        await disconnecting;
        await big;
        assert.equal(c.connected, false);
        assert.equal(sockets.length, 1, "the connect() opened no connection");
      } finally {
        for (const s of sockets) s.destroy();
        await new Promise((resolve) => server.close(resolve));
      }
    },
    { timeout: 15_000 },
  );
}

// A second disconnect() joins the first, whose DISCONNECT is the one sent: a
// second that asked for another (MQTT 5 reason code 0x04, "publish my will")
// resolved as if it had been sent, and the will was never published.
for (const [name, Client] of [["simple", MQTTClient], ["robust", RobustClient]] as const) {
  test(
    `${name}, MQTT 5: a second disconnect() asking for another DISCONNECT than the one under way is a TypeError`,
    async () => {
      await withHostileBroker(async (peer) => {
        await acceptConnect(peer);
        await peer.clientClosed;
      }, async (broker) => {
        const c = new Client(uniqueId("dd"), broker.url, { protocolVersion: 5 });
        await c.connect();
        const first = c.disconnect({ reasonCode: 0, reasonString: "bye" });
        await assert.rejects(
          c.disconnect({ reasonCode: 0x04 }),
          /^TypeError: Invalid disconnect\(\) options: a disconnect\(\) under way sends its own DISCONNECT$/,
        );
        // Joining stays: without options, or with the same ones.
        await Promise.all([
          first,
          c.disconnect(),
          c.disconnect({ reasonCode: 0, reasonString: "bye" }),
        ]);
        await broker.peers[0].clientClosed;
        const sent = broker.peers[0].received;
        assert.deepEqual(sent.map((p) => p.type), ["connect", "disconnect"]);
        assert.equal((sent[1] as { reasonCode?: number }).reasonCode ?? 0, 0);
        // Once it is over, a disconnect() may ask for any DISCONNECT again.
        await c.disconnect({ reasonCode: 0x04 });
      });
    },
  );
}

// The plain DISCONNECT is one, asked for with options or without.
for (const [name, Client] of [["simple", MQTTClient], ["robust", RobustClient]] as const) {
  test(`${name}, MQTT 5: disconnect() then disconnect({ reasonCode: 0 }) join: the same DISCONNECT`, async () => {
    await withHostileBroker(async (peer) => {
      await acceptConnect(peer);
      await peer.clientClosed;
    }, async (broker) => {
      const c = new Client(uniqueId("dd"), broker.url, { protocolVersion: 5 });
      await c.connect();
      await Promise.all([c.disconnect(), c.disconnect({ reasonCode: 0 }), c.disconnect({})]);
      await broker.peers[0].clientClosed;
      assert.deepEqual(broker.peers[0].received.map((p) => p.type), ["connect", "disconnect"]);
    });
  });
}
