// The client against a scripted broker that breaks the protocol or misbehaves
// (tests/_hostile_broker.ts), one case per test. Each time: the pending calls
// reject with MQTTConnectionError (its cause the MQTTProtocolError when the
// peer broke the protocol), the client closes the socket (the peer sees it),
// no promise rejection goes unhandled, and the sanitizers find nothing left.
import assert from "node:assert/strict";
import { encode } from "../lib/codec/encode.ts";
import type { Packet } from "../lib/codec/packet.ts";
import { connectNode } from "../lib/transports/node.ts";
import {
  MQTTClient,
  type MQTTClientOptions,
  MQTTConnectionError,
  MQTTException,
  MQTTProtocolError,
} from "../mod.ts";
import {
  acceptConnect,
  type HostileBroker,
  type Peer,
  withHostileBroker,
} from "./_hostile_broker.ts";
import { test as registerTest, type TestOptions, uniqueId, withTimeout } from "./_test.ts";

type Via = "default transport" | "node:net adapter";

const TIMEOUT = { timeout: 20_000 };
const text = (s: string) => new TextEncoder().encode(s);

/** An assert.rejects validator: MQTTConnectionError caused by an MQTTProtocolError matching `rule`. */
function brokeProtocol(rule: RegExp) {
  return (e: unknown) => {
    assert.ok(e instanceof MQTTConnectionError, `expected MQTTConnectionError, got ${e}`);
    assert.match(e.message, /the broker broke the protocol/);
    assert.ok(
      e.cause instanceof MQTTProtocolError,
      `expected a protocol error cause, got ${e.cause}`,
    );
    assert.match(e.cause.message, rule);
    return true;
  };
}

/** After a failure: not connected, and every call reports the same closure. */
async function assertClosedBecause(client: MQTTClient, rule: RegExp, peer: Peer) {
  assert.equal(client.connected, false);
  await peer.clientClosed;
  // Later calls say why the connection is gone, with the original error as the cause.
  await assert.rejects(client.publish("t", "m"), (e: unknown) => {
    assert.ok(e instanceof MQTTConnectionError, String(e));
    assert.match(e.message, /^Cannot publish: /);
    assert.ok(e.cause instanceof MQTTConnectionError);
    assert.match(String((e.cause as Error).cause), rule);
    return true;
  });
  await assert.rejects(client.wait_msg(), MQTTConnectionError);
  await assert.rejects(client.check_msg(), MQTTConnectionError);
}

/** A scripted broker that accepts the client, waits for `trigger`, then does `misbehave`. */
function afterTrigger(
  trigger: "pingreq" | "subscribe" | "publish",
  misbehave: (peer: Peer) => Promise<void>,
) {
  return async (peer: Peer) => {
    await acceptConnect(peer);
    await peer.expect(trigger);
    await misbehave(peer);
    await peer.clientClosed;
  };
}

/**
 * Registers every case once per transport: the runtime's default (here
 * `Deno.connect`) and the node:net adapter that Node and Bun use, whose
 * close and error paths go through web streams instead.
 */
function register(via: Via) {
  const newClient = (broker: HostileBroker, prefix: string, opts: MQTTClientOptions = {}) =>
    new MQTTClient(uniqueId(prefix), broker.url, {
      ...opts,
      ...(via === "node:net adapter"
        ? { transport: () => connectNode({ hostname: broker.host, port: broker.port }) }
        : {}),
    });
  const test = (name: string, fn: () => Promise<void>, opts: TestOptions) =>
    registerTest(`${name} [${via}]`, fn, opts);

  test("garbage bytes after CONNACK: pending calls reject, the socket is closed", async () => {
    await withHostileBroker(
      afterTrigger("subscribe", (peer) => peer.write([0x00, 0xde, 0xad, 0xbe, 0xef])),
      async (broker) => {
        const client = newClient(broker, "garbage");
        await client.connect();
        const waiting = client.wait_msg();
        const subscribing = client.subscribe("t", 1);
        const rule = /Reserved packet type 0/;
        await assert.rejects(subscribing, brokeProtocol(rule));
        await assert.rejects(waiting, brokeProtocol(rule));
        await assertClosedBecause(client, rule, broker.peers[0]);
      },
    );
  }, TIMEOUT);

  test(
    "an HTTP server's answer instead of CONNACK: connect rejects, the socket is closed",
    async () => {
      const page = "HTTP/1.1 400 Bad Request\r\nContent-Type: text/html\r\n\r\n" +
        "<html><body>" + "This is not an MQTT broker. ".repeat(8) + "</body></html>";
      await withHostileBroker(async (peer) => {
        await peer.expect("connect");
        // Kept open: the client must give up because of the bytes, not because of a close.
        await peer.write(text(page));
        await peer.clientClosed;
      }, async (broker) => {
        const client = newClient(broker, "http");
        // Not taken as MQTT ("H" a PUBACK with flags 8, "T" a remaining length of 84): shown as text.
        await assert.rejects(client.connect(), (e: unknown) => {
          assert.ok(e instanceof MQTTConnectionError, String(e));
          assert.ok(e.cause instanceof MQTTProtocolError, String(e.cause));
          assert.match(e.cause.message, /got text "HTTP\/1\.1 400 Bad Request".*MQTT-3\.2\.0-1/);
          return true;
        });
        assert.equal(client.connected, false);
        await broker.peers[0].clientClosed;
      });
    },
    TIMEOUT,
  );

  test("a remaining length over maxPacketSize is refused from the fixed header", async () => {
    await withHostileBroker(
      afterTrigger("pingreq", async (peer) => {
        // PUBLISH announcing a 10 MiB body; the body never comes, so only the
        // header can be what the client refuses.
        await peer.write([0x30, 0x80, 0x80, 0x80, 0x05, 0x00, 0x01, 0x74]);
      }),
      async (broker) => {
        const client = newClient(broker, "huge", { maxPacketSize: 1024 });
        await client.connect();
        const waiting = client.wait_msg();
        const rule = /packet of 10485765 bytes exceeds maxPacketSize 1024/;
        await assert.rejects(client.ping(), brokeProtocol(rule));
        await assert.rejects(waiting, brokeProtocol(rule));
        await assertClosedBecause(client, rule, broker.peers[0]);
      },
    );
  }, TIMEOUT);

  test("a second CONNACK on the connection: pending calls reject (MQTT-3.2.0-1)", async () => {
    await withHostileBroker(
      afterTrigger("pingreq", (peer) => peer.write([0x20, 0x02, 0x00, 0x00])),
      async (broker) => {
        const client = newClient(broker, "connack2");
        await client.connect();
        const rule = /A second CONNACK.*MQTT-3\.2\.0-1/;
        await assert.rejects(client.ping(), brokeProtocol(rule));
        await assertClosedBecause(client, rule, broker.peers[0]);
      },
    );
  }, TIMEOUT);

  test("two CONNACKs in one read: connect does not report a connection that is gone", async () => {
    await withHostileBroker(async (peer) => {
      await peer.expect("connect");
      await peer.write([0x20, 0x02, 0x00, 0x00, 0x20, 0x02, 0x00, 0x00]);
      await peer.clientClosed;
    }, async (broker) => {
      const client = newClient(broker, "connack2");
      await assert.rejects(client.connect(), brokeProtocol(/A second CONNACK/));
      assert.equal(client.connected, false);
      await broker.peers[0].clientClosed;
    });
  }, TIMEOUT);

  test("a PUBACK for a packet id not in flight: the publish rejects", async () => {
    await withHostileBroker(async (peer) => {
      await acceptConnect(peer);
      const publish = await peer.expect("publish");
      await peer.write({ type: "puback", packetId: (publish.packetId! % 65535) + 1 });
      await peer.clientClosed;
    }, async (broker) => {
      const client = newClient(broker, "puback");
      await client.connect();
      const rule = /PUBACK for packet id \d+, which has no QoS 1 PUBLISH in flight/;
      await assert.rejects(client.publish("t", "m", false, 1), brokeProtocol(rule));
      await assertClosedBecause(client, rule, broker.peers[0]);
    });
  }, TIMEOUT);

  test("a SUBACK for a packet id not in flight: the subscribe rejects", async () => {
    await withHostileBroker(async (peer) => {
      await acceptConnect(peer);
      const subscribe = await peer.expect("subscribe");
      await peer.write({
        type: "suback",
        packetId: (subscribe.packetId % 65535) + 1,
        returnCodes: [0],
      });
      await peer.clientClosed;
    }, async (broker) => {
      const client = newClient(broker, "suback");
      await client.connect();
      const rule = /SUBACK for packet id \d+, which has no SUBSCRIBE in flight/;
      await assert.rejects(client.subscribe("t", 1), brokeProtocol(rule));
      await assertClosedBecause(client, rule, broker.peers[0]);
    });
  }, TIMEOUT);

  test("a SUBACK with the wrong number of return codes: the subscribe rejects", async () => {
    await withHostileBroker(async (peer) => {
      await acceptConnect(peer);
      const subscribe = await peer.expect("subscribe");
      await peer.write({ type: "suback", packetId: subscribe.packetId, returnCodes: [0, 1, 2] });
      await peer.clientClosed;
    }, async (broker) => {
      const client = newClient(broker, "suback");
      await client.connect();
      const rule = /SUBACK has 3 return codes for a SUBSCRIBE of 1 filters.*MQTT-3\.8\.4-5/;
      await assert.rejects(client.subscribe("t", 1), brokeProtocol(rule));
      await assertClosedBecause(client, rule, broker.peers[0]);
    });
  }, TIMEOUT);

  const neverToClient: Packet[] = [
    { type: "connect", clientId: "evil", cleanSession: true, keepalive: 0 },
    { type: "subscribe", packetId: 1, subscriptions: [{ topic: "#", qos: 0 }] },
  ];
  for (const packet of neverToClient) {
    const name = packet.type.toUpperCase();
    test(`a ${name} sent to the client: pending calls reject`, async () => {
      await withHostileBroker(
        afterTrigger("pingreq", (peer) => peer.write(packet)),
        async (broker) => {
          const client = newClient(broker, "never");
          await client.connect();
          const waiting = client.wait_msg();
          const rule = new RegExp(`${name} is a packet a broker must never send to a client`);
          await assert.rejects(client.ping(), brokeProtocol(rule));
          await assert.rejects(waiting, brokeProtocol(rule));
          await assertClosedBecause(client, rule, broker.peers[0]);
        },
      );
    }, TIMEOUT);
  }

  test(
    "the broker closes in the middle of a packet: pending calls reject, nothing half-read is delivered",
    async () => {
      const publish = encode({
        type: "publish",
        topic: "t",
        payload: text("half a message"),
        qos: 0,
        retain: false,
        dup: false,
      });
      await withHostileBroker(
        afterTrigger("pingreq", async (peer) => {
          await peer.write(publish.subarray(0, 8));
          peer.end();
        }),
        async (broker) => {
          const client = newClient(broker, "half");
          await client.connect();
          const waiting = client.wait_msg();
          const closed = (e: unknown) => {
            assert.ok(e instanceof MQTTConnectionError, String(e));
            assert.match(e.message, /Connection closed by the broker/);
            return true;
          };
          await assert.rejects(client.ping(), closed);
          await assert.rejects(waiting, closed);
          assert.equal(client.connected, false);
          assert.equal(await client.check_msg().catch(() => "rejected"), "rejected");
          await broker.peers[0].clientClosed;
        },
      );
    },
    TIMEOUT,
  );

  test("a broker that never answers CONNECT: connect times out after connectTimeout", async () => {
    await withHostileBroker(async (peer) => {
      await peer.expect("connect");
      await peer.clientClosed;
    }, async (broker) => {
      const client = newClient(broker, "silent", { connectTimeout: 300 });
      await assert.rejects(client.connect(), (e: unknown) => {
        assert.ok(e instanceof MQTTConnectionError, String(e));
        assert.match(
          e.message,
          new RegExp(
            `Connection to 127\\.0\\.0\\.1:${broker.port} timed out: no CONNACK within 300 ms`,
          ),
        );
        return true;
      });
      assert.equal(client.connected, false);
      assert.equal(await broker.peers[0].clientClosed, "eof");
      // The client is reusable: a later connect tries again.
      await assert.rejects(client.connect(), /timed out/);
      assert.equal(broker.peers.length, 2);
    });
  }, TIMEOUT);

  test(
    "a connect timeout is kept on time while another client's keepalive is due much later",
    async () => {
      // The first connection is accepted; every later one gets no CONNACK.
      let accepted = false;
      await withHostileBroker(async (peer) => {
        if (!accepted) {
          accepted = true;
          await acceptConnect(peer);
        } else await peer.expect("connect");
        await peer.clientClosed;
      }, async (broker) => {
        // Its keepalive holds the shared clock's first deadline 600 s away.
        const idle = newClient(broker, "idle", { keepalive: 600 });
        await idle.connect();
        const silent = newClient(broker, "silent", { connectTimeout: 300 });
        const started = performance.now();
        await assert.rejects(silent.connect(), /timed out: no CONNACK within 300 ms/);
        const took = performance.now() - started;
        // Not a timing assertion: without the earlier deadline it would be 600 s.
        assert.ok(took < 60_000, `the connect timeout came after ${took} ms`);
        assert.equal(idle.connected, true);
        await idle.disconnect();
      });
    },
    TIMEOUT,
  );

  test(
    "a flood of QoS 0 messages nobody reads: the queue stays at maxQueuedMessages, drops are counted",
    async () => {
      const FLOOD = 5000;
      const KEEP = 100;
      await withHostileBroker(async (peer) => {
        await acceptConnect(peer);
        await peer.expect("pingreq");
        const flood = Array.from(
          { length: FLOOD },
          (_, i) =>
            encode({
              type: "publish",
              topic: "flood",
              payload: text(String(i)),
              qos: 0,
              retain: false,
              dup: false,
            }),
        );
        // PINGRESP last: when ping() resolves, the whole flood has been read.
        await peer.write(...flood, { type: "pingresp" });
        await peer.expect("disconnect");
        assert.equal(await peer.clientClosed, "eof");
      }, async (broker) => {
        const client = newClient(broker, "flood", { maxQueuedMessages: KEEP });
        await client.connect();
        await client.ping();
        assert.equal(client.droppedMessages, FLOOD - KEEP);
        // Oldest dropped first: the newest KEEP are left, in order.
        const left = [];
        for (let m = await client.check_msg(); m; m = await client.check_msg()) {
          left.push(Number(new TextDecoder().decode(m.payload)));
        }
        assert.deepEqual(left, Array.from({ length: KEEP }, (_, i) => FLOOD - KEEP + i));
        await client.disconnect();
        await broker.peers[0].clientClosed;
      });
    },
    TIMEOUT,
  );

  test(
    "garbage while nothing is pending: no unhandled rejection, the next call says why",
    async () => {
      await withHostileBroker(
        // A QoS 0 publish leaves nothing waiting once it is written.
        afterTrigger("publish", (peer) => peer.write([0xf0, 0x00])),
        async (broker) => {
          const client = newClient(broker, "idle");
          await client.connect();
          await client.publish("t", "m");
          await broker.peers[0].clientClosed;
          await assertClosedBecause(client, /Reserved packet type 15/, broker.peers[0]);
        },
      );
    },
    TIMEOUT,
  );

  test(
    "a PUBLISH after a refusing CONNACK is not handed out: the connection is closed (MQTT-3.2.2-5)",
    async () => {
      await withHostileBroker(async (peer) => {
        await peer.expect("connect");
        // CONNACK 5 (not authorized) and, in the same write, a message it must not send.
        const publish = { type: "publish", topic: "secret", payload: text("x"), qos: 0 } as const;
        await peer.write(Uint8Array.of(0x20, 2, 0, 5), { ...publish, retain: false, dup: false });
        await peer.clientClosed;
      }, async (broker) => {
        const client = newClient(broker, "refused");
        await assert.rejects(client.connect(), (e: unknown) => e instanceof MQTTException);
        assert.equal(client.connected, false);
        await broker.peers[0].clientClosed;
        await assert.rejects(client.check_msg(), MQTTConnectionError);
      });
    },
    TIMEOUT,
  );

  test("a payload never appears in the error a malformed PUBLISH causes", async () => {
    const secret = "payload-secret-7f3a9c";
    await withHostileBroker(
      afterTrigger("pingreq", async (peer) => {
        const good = encode({
          type: "publish",
          topic: "t",
          payload: text(secret),
          qos: 1,
          retain: false,
          dup: false,
          packetId: 9,
        });
        good[0] |= 0x06; // QoS 3
        await peer.write(good);
      }),
      async (broker) => {
        const client = newClient(broker, "secret");
        await client.connect();
        const e = await client.ping().then(() => null, (e) => e);
        brokeProtocol(/PUBLISH with QoS 3.*MQTT-3\.3\.1-4/)(e);
        for (let err = e; err; err = err.cause) {
          assert.ok(!String(err.message).includes(secret), `"${err.message}" shows the payload`);
          assert.ok(!String(err.stack).includes(secret));
        }
        await broker.peers[0].clientClosed;
      },
    );
  }, TIMEOUT);
}

register("default transport");
register("node:net adapter");

registerTest(
  "resumed session: a queued QoS 1 message the broker sends again is handed out once, and acknowledged",
  async () => {
    // Not yet handed out when the connection was lost, the message cannot be
    // acknowledged on it; the broker sends it again on the resumed session
    // (MQTT-4.4.0-1). Before, both copies were queued: the first handed out
    // unacknowledged, the second as a duplicate, and a connection that kept
    // failing piled up copies.
    const message = {
      type: "publish",
      topic: "t",
      payload: text("once"),
      qos: 1,
      retain: false,
      dup: false,
      packetId: 7,
    } as const;
    await withHostileBroker(async (peer) => {
      await peer.expect("connect");
      await peer.write({ type: "connack", sessionPresent: true, returnCode: 0 });
      if (!message.dup) {
        await peer.write(message);
        return peer.end();
      }
      await peer.write({ ...message, dup: true });
      await peer.clientClosed;
      assert.deepEqual(peer.received.slice(1), [
        { type: "puback", packetId: 7 },
        { type: "disconnect" },
      ]);
    }, async (broker) => {
      const client = new MQTTClient(uniqueId("resumed"), broker.url);
      const lost = new Promise((r) => client.addEventListener("disconnected", r, { once: true }));
      await client.connect(false);
      await lost;
      (message as { dup: boolean }).dup = true;
      assert.equal(await client.connect(false), true, "the session was resumed");
      assert.equal(new TextDecoder().decode((await client.wait_msg()).payload), "once");
      assert.equal(await client.check_msg(), undefined, "no second copy");
      await client.disconnect();
      await broker.peers[1].clientClosed; // what it sent is read before the broker closes
    });
  },
  TIMEOUT,
);

registerTest(
  "a PUBACK and malformed bytes in one read: the PUBACK counts, then the connection closes",
  async () => {
    await withHostileBroker(async (peer) => {
      await acceptConnect(peer);
      const p = await peer.expect("publish");
      // The PUBACK, then a reserved packet type, in one write.
      await peer.write(Uint8Array.of(0x40, 0x02, p.packetId! >> 8, p.packetId! & 0xff, 0x00, 0x00));
      await peer.clientClosed;
    }, async (broker) => {
      const client = new MQTTClient(uniqueId("acked"), broker.host, { port: broker.port });
      await client.connect();
      const closed = new Promise<unknown>((r) =>
        client.addEventListener("disconnected", (e) => r((e as CustomEvent).detail.error), {
          once: true,
        })
      );
      await client.publish("t", "m", false, 1); // resolves: its PUBACK came whole
      assert.ok(brokeProtocol(/Reserved packet type 0/)(await closed));
      assert.equal(client.connected, false);
    });
  },
  TIMEOUT,
);

registerTest(
  "a CONNECT answered by a closed connection says it closed before its CONNACK",
  async () => {
    // As mosquitto refuses a 3.1.1 will it cannot take (QoS 2 under max_qos 1): no CONNACK.
    await withHostileBroker(async (peer) => {
      await peer.expect("connect");
      peer.end();
      await peer.clientClosed;
    }, async (broker) => {
      const client = new MQTTClient(uniqueId("refused"), broker.host, { port: broker.port });
      await assert.rejects(client.connect(), (e: unknown) => {
        assert.ok(e instanceof MQTTConnectionError, String(e));
        assert.match(e.message, /Connection closed by the broker before its CONNACK/);
        return true;
      });
      assert.equal(client.connected, false);
    });
  },
  TIMEOUT,
);

registerTest(
  "a broker that sends PUBRELs and never reads: reads stop, and the keepalive finds it dead",
  async () => {
    // Each PUBREL is answered with a PUBCOMP the broker never takes: the
    // answers would pile up in memory while the client kept reading (~450 MB/s).
    const { createServer } = await import("node:net");
    const pubrels = new Uint8Array(4 * 16_384);
    for (let i = 0; i < pubrels.length; i += 4) pubrels.set([0x62, 0x02, 0x00, 0x01], i);
    let sent = 0;
    const server = createServer((socket) => {
      socket.on("error", () => {});
      socket.once("data", async () => { // the CONNECT
        socket.pause(); // and nothing more is read
        socket.write(Uint8Array.of(0x20, 0x02, 0x00, 0x00));
        while (!socket.destroyed && sent < 64 * 1_048_576) {
          sent += pubrels.length;
          if (!socket.write(pubrels)) await new Promise((r) => socket.once("drain", r));
        }
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const { port } = server.address() as { port: number };
    const client = new MQTTClient(uniqueId("unread"), "127.0.0.1", { port, keepalive: 1 });
    try {
      const dead = new Promise<unknown>((r) =>
        client.addEventListener("disconnected", (e) => r((e as CustomEvent).detail.error))
      );
      await client.connect();
      const error = await withTimeout(dead, 15_000, "the connection found dead");
      assert.match(String(error), /Connection dead: no answer to PINGREQ/);
      // Reading stopped long before the broker had sent all it would.
      assert.ok(sent < 64 * 1_048_576, `${sent} bytes of PUBRELs sent`);
    } finally {
      await client.disconnect().catch(() => {});
      server.close();
    }
  },
  TIMEOUT,
);
