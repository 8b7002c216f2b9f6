// The reconnecting client and MQTT 5's Server Reference (section 4.11): a
// CONNACK or DISCONNECT with 0x9C (use another server) or 0x9D (server moved)
// names servers, space-separated host[:port], which the next reconnect tries
// in order before the configured list (unless followServerReference is
// false). Scripted brokers (tests/_hostile_broker.ts) play every server.
import assert from "node:assert/strict";
import type { PublishPacket } from "../lib/codec/mod.ts";
import {
  MQTTClient,
  MQTTException,
  type ReconnectingDetail,
  type RobustClientOptions,
} from "../lib/robust.ts";
import {
  acceptConnect,
  ackTwoAtATime,
  type HostileBroker,
  type Peer,
  roundTrip,
  type Scenario,
  startHostileBroker,
  watchUnhandledRejections,
} from "./_hostile_broker.ts";
import type { Transport } from "../lib/transports/types.ts";
import { writingThrough } from "./_writing_through.ts";
import { test, uniqueId } from "./_test.ts";

const TIMEOUT = { timeout: 20_000 };
const text = (b: Uint8Array) => new TextDecoder().decode(b);

/** Runs `fn` with scripted brokers, one per scenario; then closes them and reports their failures. */
async function withBrokers(
  scenarios: Scenario[],
  fn: (brokers: HostileBroker[]) => Promise<void>,
): Promise<void> {
  const unhandled = watchUnhandledRejections();
  const errors: unknown[] = [];
  const brokers = await Promise.all(scenarios.map((s) => startHostileBroker(s, errors)));
  try {
    await fn(brokers);
  } finally {
    // A failed test leaves no client reconnecting behind it.
    await Promise.all(clients.splice(0).map((c) => c.disconnect()));
    await Promise.all(brokers.map((b) => b.close()));
    errors.push(...await unhandled.stop());
  }
  if (errors.length > 0) throw new Error(`${errors.length} failure(s); the first: ${errors[0]}`);
}

const clients: MQTTClient[] = [];

/** A robust MQTT 5 client of `servers` that reconnects at once. */
function robust(servers: HostileBroker[], opts: RobustClientOptions = {}) {
  const client = new MQTTClient(uniqueId("ref"), servers.map((b) => b.url), {
    protocolVersion: 5,
    ...opts,
  });
  client.DELAY = 0;
  clients.push(client);
  const tried: string[] = [];
  client.addEventListener("reconnecting", (e) => {
    tried.push((e as CustomEvent<ReconnectingDetail>).detail.server);
  });
  return { client, tried };
}

/** A broker that accepts, then waits for the client's DISCONNECT. */
const accepting: Scenario = async (peer: Peer) => {
  await acceptConnect(peer);
  await peer.expect("disconnect");
};

/** A broker that refuses every CONNECT with `returnCode`, with `properties`. */
const refusing = (returnCode: number, properties = {}): Scenario => async (peer: Peer) => {
  await peer.expect("connect");
  await peer.write({ type: "connack", sessionPresent: false, returnCode, properties });
  await peer.clientClosed;
};

/**
 * A broker that accepts, then at the client's PINGREQ sends it elsewhere:
 * DISCONNECT `reasonCode` with the Server Reference `ref()`.
 */
const referringAtPing = (reasonCode: number, ref: () => string): Scenario => async (peer) => {
  await acceptConnect(peer);
  await peer.expect("pingreq");
  await peer.write({ type: "disconnect", reasonCode, properties: { serverReference: ref() } });
  await peer.clientClosed;
};

/** A broker that accepts, then drops the connection at the client's PINGREQ. */
async function droppingAtPing(peer: Peer) {
  await acceptConnect(peer);
  await peer.expect("pingreq");
  peer.end();
  await peer.clientClosed;
}

/** Resolves on the client's next `connected` event with the URL the client says it is on then. */
const connected = (client: MQTTClient) =>
  new Promise<string>((resolve) =>
    client.addEventListener("connected", () => resolve(client.url), { once: true })
  );

/** disconnect(), then every broker has seen the client go. */
async function bye(client: MQTTClient, brokers: HostileBroker[]) {
  await client.disconnect();
  for (const b of brokers) for (const peer of b.peers) await peer.clientClosed;
}

test(
  "DISCONNECT 0x9C with a Server Reference: the robust client reconnects there, the publish resolves",
  async () => {
    let b!: HostileBroker;
    await withBrokers([
      async (peer) => {
        await acceptConnect(peer);
        await peer.expect("publish"); // not acknowledged here
        await peer.write({
          type: "disconnect",
          reasonCode: 0x9c,
          properties: { serverReference: `127.0.0.1:${b.port}` },
        });
        await peer.clientClosed;
      },
      async (peer) => {
        const connect = await peer.expect("connect");
        assert.equal(connect.cleanSession, false);
        await peer.write({ type: "connack", sessionPresent: true, returnCode: 0 });
        const resent = await peer.expect("publish");
        assert.equal(resent.dup, true);
        await peer.write({ type: "puback", packetId: resent.packetId! });
        await peer.expect("disconnect");
      },
    ], async ([a, second]) => {
      b = second;
      const { client, tried } = robust([a]);
      await client.connect(false);
      const moved = connected(client);
      await client.publish("t", "m", false, 1);
      assert.equal(await moved, b.url);
      assert.deepEqual(tried, [b.url]);
      assert.equal(a.peers.length, 1, "the configured server is not tried first");
      // Where the client is now: the referred server.
      assert.equal(client.url, b.url);
      assert.equal(client.port, b.port);
      assert.equal(client.server, "127.0.0.1");
      await bye(client, [a, b]);
    });
  },
  TIMEOUT,
);

test(
  "lost on the server a reference led to: the reconnect tries that server first, not the list",
  async () => {
    let b!: HostileBroker;
    let n = 0;
    await withBrokers([
      // The configured server: accepts, then says it moved.
      referringAtPing(0x9d, () => `127.0.0.1:${b.port}`),
      // Where it moved to: drops the first connection at a PINGREQ, keeps the second.
      async (peer) => {
        if (n++ === 0) await droppingAtPing(peer);
        else await accepting(peer);
      },
    ], async ([a, moved]) => {
      b = moved;
      const { client, tried } = robust([a]);
      await client.connect(false);
      const there = connected(client);
      await assert.rejects(client.ping());
      assert.equal(await there, b.url);
      const back = connected(client);
      await assert.rejects(client.ping());
      assert.equal(await back, b.url);
      assert.deepEqual(tried, [b.url, b.url]);
      assert.equal(a.peers.length, 1, "the server that sent the client away is not tried again");
      await bye(client, [a, b]);
    });
  },
  TIMEOUT,
);

test(
  "a Server Reference of several servers: each tried in order before the configured list",
  async () => {
    let refs = "";
    await withBrokers([
      referringAtPing(0x9d, () => refs),
      refusing(0x88), // server unavailable: the client moves on
      accepting,
    ], async (brokers) => {
      const [a, unavailable, c] = brokers;
      refs = `127.0.0.1:${unavailable.port} 127.0.0.1:${c.port}`;
      const { client, tried } = robust([a]);
      await client.connect(false);
      const moved = connected(client);
      await assert.rejects(client.ping());
      assert.equal(await moved, c.url);
      assert.deepEqual(tried, [unavailable.url, c.url]);
      assert.deepEqual([a, unavailable, c].map((x) => x.peers.length), [1, 1, 1]);
      assert.equal(client.url, c.url);
      await bye(client, brokers);
    });
  },
  TIMEOUT,
);

test(
  "a CONNACK 0x9D while reconnecting: its reference is tried next, before the rest of the list",
  async () => {
    let b!: HostileBroker;
    let n = 0;
    await withBrokers([
      // The first server: accepts, drops the connection, then says it moved.
      async (peer) => {
        if (n++ === 0) {
          await droppingAtPing(peer);
        } else {
          await refusing(0x9d, { serverReference: `127.0.0.1:${b.port}` })(peer);
        }
      },
      accepting, // the second of the configured list: must not be tried
      accepting, // where the first moved to
    ], async ([a, x, moved]) => {
      b = moved;
      const { client, tried } = robust([a, x]);
      await client.connect(false);
      const back = connected(client);
      await assert.rejects(client.ping());
      assert.equal(await back, b.url);
      assert.deepEqual(tried, [a.url, b.url]);
      assert.equal(x.peers.length, 0);
      assert.equal(client.url, b.url);
      await bye(client, [a, x, b]);
    });
  },
  TIMEOUT,
);

test(
  "a server that refers to itself is tried again only after the next round's backoff",
  async () => {
    let a!: HostileBroker;
    let n = 0;
    await withBrokers([
      async (peer) => {
        if (n++ === 0) {
          return void await droppingAtPing(peer);
        }
        await refusing(0x9c, { serverReference: `127.0.0.1:${a.port}` })(peer);
      },
    ], async ([first]) => {
      a = first;
      const { client } = robust([a]);
      client.DELAY = 1;
      const delays: number[] = [];
      let done!: () => void;
      const fourth = new Promise<void>((resolve) => (done = resolve));
      client.addEventListener("reconnecting", (e) => {
        delays.push((e as CustomEvent<ReconnectingDetail>).detail.delay);
        if (delays.length === 4) done();
      });
      // The waits themselves are skipped; the planned ones are what is checked.
      client.delay = () => Promise.resolve();
      await client.connect(false);
      await assert.rejects(client.ping());
      await fourth;
      await client.disconnect();
      // Round 1: the list (with backoff), then the reference (at once); round 2 likewise.
      assert.deepEqual(delays.slice(0, 4).map((d) => d > 0), [true, false, true, false]);
    });
  },
  TIMEOUT,
);

test("followServerReference: false: the reference is not followed", async () => {
  let b!: HostileBroker;
  let n = 0;
  await withBrokers([
    (peer) => n++ > 0 ? accepting(peer) : referringAtPing(0x9c, () => `127.0.0.1:${b.port}`)(peer),
    accepting,
  ], async ([a, second]) => {
    b = second;
    const { client, tried } = robust([a], { followServerReference: false });
    await client.connect(false);
    const back = connected(client);
    await assert.rejects(client.ping());
    assert.equal(await back, a.url);
    assert.deepEqual(tried, [a.url]);
    assert.equal(b.peers.length, 0);
    assert.equal(a.peers.length, 2);
    await bye(client, [a, b]);
  });
}, TIMEOUT);

// ---- the robust client's other MQTT 5 behaviours ---------------------------

test(
  "after a reconnect without session, subscriptions are renewed with their MQTT 5 options and properties",
  async () => {
    let n = 0;
    let renewed!: () => void;
    const done = new Promise<void>((resolve) => (renewed = resolve));
    await withBrokers([
      async (peer) => {
        const connect = await peer.expect("connect");
        await peer.write({ type: "connack", sessionPresent: false, returnCode: 0 });
        if (n++ === 0) {
          assert.equal(connect.cleanSession, false);
          for (const granted of [[1], [2]]) {
            const sub = await peer.expect("subscribe");
            await peer.write({ type: "suback", packetId: sub.packetId, returnCodes: granted });
          }
          peer.end();
          return void await peer.clientClosed;
        }
        // One SUBSCRIBE per set of SUBSCRIBE properties, each filter with its options.
        const first = await peer.expect("subscribe");
        assert.deepEqual(first.properties, {
          subscriptionIdentifier: 7,
          userProperties: [["k", "v"]],
        });
        assert.deepEqual(first.subscriptions, [
          { topic: "a/+", qos: 1, noLocal: true, retainAsPublished: false, retainHandling: 2 },
        ]);
        await peer.write({ type: "suback", packetId: first.packetId, returnCodes: [1] });
        const second = await peer.expect("subscribe");
        assert.equal(second.properties, undefined);
        assert.deepEqual(second.subscriptions, [
          { topic: "b", qos: 2, noLocal: false, retainAsPublished: true, retainHandling: 0 },
        ]);
        await peer.write({ type: "suback", packetId: second.packetId, returnCodes: [2] });
        renewed();
        await peer.expect("disconnect");
      },
    ], async ([a]) => {
      const { client } = robust([a]);
      await client.connect(false);
      await client.subscribe("a/+", {
        qos: 1,
        noLocal: true,
        retainHandling: 2,
        subscriptionIdentifier: 7,
        userProperties: [["k", "v"]],
      });
      await client.subscribe("b", { qos: 2, retainAsPublished: true });
      await done;
      await bye(client, [a]);
    });
  },
  TIMEOUT,
);

test(
  "a renewal the new broker's CONNACK refuses (no wildcards) is left out: the kept publish resolves, the other filter is renewed",
  async () => {
    let n = 0;
    const renewals: string[][] = [];
    await withBrokers([
      async (peer) => {
        if (n++ === 0) {
          await acceptConnect(peer);
          for (let i = 0; i < 2; i++) {
            const sub = await peer.expect("subscribe");
            await peer.write({ type: "suback", packetId: sub.packetId, returnCodes: [1] });
          }
          await peer.expect("publish"); // not acknowledged: kept in the session
          peer.end();
          return void await peer.clientClosed;
        }
        // The broker lost the session, and takes no wildcard subscription now.
        await acceptConnect(peer, { wildcardSubscriptionAvailable: false });
        for (;;) {
          const p = await peer.next().catch(() => undefined);
          if (p === undefined || p.type === "disconnect") return;
          if (p.type === "publish") await peer.write({ type: "puback", packetId: p.packetId! });
          if (p.type === "subscribe") {
            renewals.push(p.subscriptions.map((s) => s.topic));
            await peer.write({ type: "suback", packetId: p.packetId, returnCodes: [1] });
          }
        }
      },
    ], async ([a]) => {
      const { client } = robust([a]);
      await client.connect(false);
      await client.subscribe("a/#", 1);
      await client.subscribe("plain", 1);
      // Before, the RangeError of the refused renewal rejected it, though the broker took it.
      await client.publish("t", "kept", false, 1);
      await client.publish("t", "after", false, 1);
      assert.deepEqual(renewals, [["plain"]]);
      await bye(client, [a]);
    });
  },
  TIMEOUT,
);

test("disconnect() options reach the broker through the robust client", async () => {
  await withBrokers([async (peer) => {
    await acceptConnect(peer);
    await peer.clientClosed;
  }], async ([a]) => {
    const { client } = robust([a]);
    await client.connect();
    await client.disconnect({ reasonCode: 0x04, reasonString: "going, with my will" });
    await a.peers[0].clientClosed;
    assert.deepEqual(a.peers[0].received.at(-1), {
      type: "disconnect",
      reasonCode: 0x04,
      properties: { reasonString: "going, with my will" },
    });
  });
}, TIMEOUT);

test(
  "Receive Maximum across a reconnect: the session's two resent first, the rest in call order as acks come",
  async () => {
    const N = 5;
    let n = 0;
    const arrived: string[] = [];
    await withBrokers([async (peer) => {
      const connect = await peer.expect("connect");
      await peer.write({
        type: "connack",
        sessionPresent: !connect.cleanSession && n > 0,
        returnCode: 0,
        properties: { receiveMaximum: 2 },
      });
      if (n++ === 0) {
        // Two arrive; none is acknowledged; the connection drops.
        await peer.expect("publish");
        await peer.expect("publish");
        assert.deepEqual(await roundTrip(peer), []);
        peer.end();
        return void await peer.clientClosed;
      }
      for (const p of await ackTwoAtATime(peer, N)) {
        arrived.push(`${text(p.payload)}${p.dup ? " dup" : ""}`);
      }
      await peer.expect("disconnect");
    }], async ([a]) => {
      const { client } = robust([a]);
      await client.connect(false);
      const publishes = Array.from(
        { length: N },
        (_, i) => client.publish("t", String(i), false, 1),
      );
      await Promise.all(publishes);
      assert.deepEqual(arrived, ["0 dup", "1 dup", "2", "3", "4"]);
      await bye(client, [a]);
    });
  },
  TIMEOUT,
);

test(
  "a request survives a reconnect: the response topic is subscribed again, the reply resolves it",
  async () => {
    let n = 0;
    let correlation!: Uint8Array;
    await withBrokers([async (peer) => {
      await peer.expect("connect");
      await peer.write({ type: "connack", sessionPresent: false, returnCode: 0 });
      const sub = await peer.expect("subscribe");
      await peer.write({ type: "suback", packetId: sub.packetId, returnCodes: [1] });
      const responseTopic = sub.subscriptions[0].topic;
      if (n++ === 0) {
        // The request, QoS 0; then the connection drops.
        correlation = (await peer.expect("publish")).properties!.correlationData!;
        peer.end();
        return void await peer.clientClosed;
      }
      // The robust client renewed the response topic's subscription; the reply comes now.
      assert.match(responseTopic, /\/responses\/[0-9a-f]{12}$/);
      await peer.write({
        type: "publish",
        topic: responseTopic,
        payload: new TextEncoder().encode("answer"),
        qos: 1,
        retain: false,
        dup: false,
        packetId: 9,
        properties: { correlationData: correlation },
      });
      await peer.expect("puback");
      await peer.expect("disconnect");
    }], async ([a]) => {
      const { client } = robust([a]);
      await client.connect(false);
      const reply = await client.request("svc", "q", { timeout: 10_000 });
      assert.equal(text(reply.payload), "answer");
      await bye(client, [a]);
    });
  },
  TIMEOUT,
);

test(
  "a CONNACK refusing the client itself while reconnecting ends the reconnecting: 0x87 is not retried",
  async () => {
    let n = 0;
    await withBrokers([async (peer) => {
      if (n++ === 0) {
        await acceptConnect(peer);
        await peer.expect("publish");
        peer.end();
        return void await peer.clientClosed;
      }
      await refusing(0x87, { reasonString: "banned meanwhile" })(peer);
    }], async ([a]) => {
      const { client } = robust([a]);
      await client.connect(false);
      await assert.rejects(client.publish("t", "m", false, 1), (e: unknown) => {
        assert.ok(e instanceof MQTTException, String(e));
        assert.equal(e.code, 0x87);
        assert.equal(e.reasonString, "banned meanwhile");
        return true;
      });
      assert.equal(a.peers.length, 2);
      assert.equal(client.connected, false);
      await client.disconnect();
    });
  },
  TIMEOUT,
);

test(
  "a connection lost in the turn its CONNACK arrived is reconnected too, not left offline",
  async () => {
    let b!: HostileBroker;
    await withBrokers([
      async (peer) => {
        await peer.expect("connect");
        // Peers 0 and 1: the CONNACK and the FIN leave together, so the
        // loss is seen while the reconnect that made the connection is
        // still settling. Peer 2 stays.
        await peer.write({ type: "connack", sessionPresent: false, returnCode: 0 });
        if (b.peers.indexOf(peer) < 2) peer.end();
        else await peer.expect("disconnect");
      },
    ], async ([broker]) => {
      b = broker;
      const { client } = robust([broker]);
      const third = new Promise<void>((resolve) => {
        client.addEventListener("connected", () => {
          if (broker.peers.length === 3) resolve();
        });
      });
      await client.connect();
      await third;
      assert.equal(client.connected, true);
      await bye(client, [broker]);
    });
  },
  TIMEOUT,
);

test(
  "disconnect() with invalid options rejects and changes nothing: the robust client stays connected and reconnects",
  async () => {
    for (const version of [5, 4] as const) {
      let n = 0;
      await withBrokers([async (peer) => {
        await acceptConnect(peer);
        if (n++ === 0) {
          const p = await peer.expect("publish");
          await peer.write({ type: "puback", packetId: p.packetId! });
          // Lost: a client still running reconnects.
          peer.end();
          return void await peer.clientClosed;
        }
        await peer.expect("disconnect");
      }], async ([a]) => {
        const { client } = robust([a], { protocolVersion: version });
        await client.connect(true);
        const invalid = version === 5
          ? [
            // 0x11 is not a DISCONNECT reason code (MQTT 5.0 section 3.14.2.1).
            [{ reasonCode: 0x11 }, RangeError],
            // A session expiry when the CONNECT asked for none (MQTT 5.0 section 3.14.2.2.2).
            [{ sessionExpiryInterval: 60 }, RangeError],
          ] as const
          : [[{ reasonCode: 0x04 }, TypeError]] as const; // MQTT 5's options with 3.1.1
        for (const [options, error] of invalid) {
          await assert.rejects(client.disconnect(options), error);
          assert.equal(client.connected, true);
        }
        const again = connected(client);
        await client.publish("t", "still running", false, 1);
        await again;
        assert.equal(a.peers.length, 2);
        await bye(client, [a]);
      });
    }
  },
  TIMEOUT,
);

test(
  "Session Present 0 after connect(false): MQTT 5 discards the session and publishes the kept messages anew, DUP=0 (MQTT-3.2.2-5); 3.1.1 retransmits, and forgets incoming QoS 2 ids",
  async () => {
    for (const version of [5, 4] as const) {
      let n = 0;
      const seen: string[] = [];
      let exchanged!: () => void;
      const done = new Promise<void>((resolve) => (exchanged = resolve));
      const show = (p: PublishPacket) =>
        `${text(p.payload)} qos${p.qos} id${p.packetId}${p.dup ? " dup" : ""}`;
      await withBrokers([async (peer) => {
        await peer.expect("connect");
        // Never a session: Session Present 0 every time.
        await peer.write(
          version === 5
            ? { type: "connack", sessionPresent: false, returnCode: 0 }
            : Uint8Array.of(0x20, 2, 0, 0),
        );
        if (n++ === 0) {
          // A QoS 2 message in, PUBREC'd by the client: its id is session state.
          await peer.write({
            type: "publish",
            topic: "in",
            payload: new TextEncoder().encode("old"),
            qos: 2,
            retain: false,
            dup: false,
            packetId: 7,
          });
          assert.equal((await peer.expect("pubrec")).packetId, 7);
          seen.push(show(await peer.expect("publish"))); // QoS 1, not acknowledged
          const two = await peer.expect("publish"); // QoS 2, PUBREC'd, no PUBCOMP
          seen.push(show(two));
          await peer.write({ type: "pubrec", packetId: two.packetId! });
          await peer.expect("pubrel");
          peer.end();
          return void await peer.clientClosed;
        }
        // What the client sends on its own after the CONNACK: two packets, then nothing.
        const resent = [await peer.next(), await peer.next()];
        assert.deepEqual(await roundTrip(peer), []);
        seen.push(
          ...resent.map((p) =>
            p.type === "publish" ? show(p) : `${p.type} id${"packetId" in p ? p.packetId : "-"}`
          ),
        );
        for (const p of resent) {
          if (p.type === "publish" && p.qos === 1) {
            await peer.write({ type: "puback", packetId: p.packetId! });
          } else if (p.type === "publish") {
            await peer.write({ type: "pubrec", packetId: p.packetId! });
            await peer.expect("pubrel");
            await peer.write({ type: "pubcomp", packetId: p.packetId! });
          } else if (p.type === "pubrel") {
            await peer.write({ type: "pubcomp", packetId: p.packetId });
          }
        }
        // The same id as the old session's QoS 2 message: a new message in a new session.
        await peer.write({
          type: "publish",
          topic: "in",
          payload: new TextEncoder().encode("new"),
          qos: 2,
          retain: false,
          dup: false,
          packetId: 7,
        });
        const answer = await peer.expect("pubrec");
        seen.push(`pubrec id${answer.packetId}`);
        await peer.write({ type: "pubrel", packetId: 7 });
        await peer.expect("pubcomp");
        exchanged();
        await peer.expect("disconnect");
      }], async ([a]) => {
        const { client } = robust([a], { protocolVersion: version });
        await client.connect(false);
        assert.equal(text((await client.wait_msg()).payload), "old");
        const one = client.publish("t", "one", false, 1);
        const two = client.publish("t", "two", false, 2);
        await Promise.all([one, two]);
        if (version === 5) {
          // Delivered: after Session Present 0, id 7 is not the old session's message.
          assert.equal(text((await client.wait_msg()).payload), "new");
          await done;
          assert.deepEqual(seen, [
            "one qos1 id1",
            "two qos2 id2",
            // Anew, in order, DUP=0: the QoS 2 one past its PUBREC too (no PUBREL).
            "one qos1 id1",
            "two qos2 id2",
            "pubrec id7",
          ]);
        } else {
          // MQTT 3.1.1: retransmitted as before (MQTT-4.4.0-1); id 7 is a new
          // message of the new session, delivered (it was taken for the old
          // one's resend, answered and lost).
          assert.equal(text((await client.wait_msg()).payload), "new");
          await done;
          assert.deepEqual(seen, [
            "one qos1 id1",
            "two qos2 id2",
            "one qos1 id1 dup",
            "pubrel id2",
            "pubrec id7",
          ]);
        }
        await bye(client, [a]);
      });
    }
  },
  TIMEOUT,
);

test(
  "connect(): a refusal's Server Reference is tried next, before the rest of the list",
  async () => {
    let ok!: HostileBroker;
    await withBrokers([
      // The first listed server refuses: use another server, the third.
      async (peer) => {
        await peer.expect("connect");
        await peer.write({
          type: "connack",
          sessionPresent: false,
          returnCode: 0x9c,
          properties: { serverReference: `127.0.0.1:${ok.port}` },
        });
        await peer.clientClosed;
      },
      // The second listed server is never tried.
      async (peer) => {
        await acceptConnect(peer);
        await peer.expect("disconnect");
      },
      accepting,
    ], async ([a, second, third]) => {
      ok = third;
      const { client } = robust([a, second]);
      const events: string[] = [];
      client.addEventListener("reconnecting", () => events.push("reconnecting"));
      assert.equal(await client.connect(), false);
      assert.equal(client.url, third.url);
      assert.equal(second.peers.length, 0, "the referred server came before the rest of the list");
      assert.deepEqual(events, [], "connect() is not a reconnect");
      await bye(client, [a, third]);
    });
  },
  TIMEOUT,
);

test(
  "connect() with followServerReference: false moves on through the list",
  async () => {
    await withBrokers([
      refusing(0x9c, { serverReference: "127.0.0.1:1" }),
      accepting,
    ], async ([a, b]) => {
      const { client } = robust([a, b], { followServerReference: false });
      await client.connect();
      assert.equal(client.url, b.url);
      await bye(client, [a, b]);
    });
  },
  TIMEOUT,
);

/**
 * A transport to the scripted broker on `port` whose next write fails while
 * `fail.next` is set (and clears it), as a connection lost mid-write would.
 */
function failingWrites(port: number, fail: { next: boolean }): Transport {
  return writingThrough(port, (chunk, writer) => {
    if (!fail.next) return writer.write(chunk);
    fail.next = false;
    throw new Error("the write fails (the test's transport)");
  });
}

/**
 * A v5 robust client, through {@linkcode failingWrites}, to brokers that
 * grant topic aliases. `send` publishes "one" (written) and then "two" with
 * `fail.next` set, so that "two" goes out again on a second connection;
 * each connection's broker checks the PUBLISH it gets with `check`.
 */
async function resentAfterFailedWrite(
  id: string,
  check: (got: PublishPacket, first: boolean) => void,
  send: (client: MQTTClient, fail: { next: boolean }) => Promise<void>,
): Promise<void> {
  let b!: HostileBroker;
  const fail = { next: false };
  await withBrokers([
    async (peer) => {
      const first = peer === b.peers[0];
      await acceptConnect(peer, { topicAliasMaximum: 10 });
      check(await peer.expect("publish"), first);
      if (first) await peer.clientClosed; // "two" never arrives here
      else await peer.expect("disconnect");
    },
  ], async ([broker]) => {
    b = broker;
    const client = new MQTTClient(uniqueId(id), broker.url, {
      protocolVersion: 5,
      transport: failingWrites(broker.port, fail),
    });
    client.DELAY = 0;
    clients.push(client);
    await client.connect();
    await send(client, fail);
    assert.equal(broker.peers.length, 2, "written again on a second connection");
    await bye(client, [broker]);
  });
}

test(
  "a QoS 0 publish whose write failed goes out again whole, after one that went under a topic alias",
  async () => {
    // A QoS 0 publish under a known topic alias is built in its own bytes
    // (lib/_aliases.ts); when its write fails, the robust client publishes
    // it again on the next connection, where aliases start afresh: it must
    // go out whole, with its topic.
    const topic = "sensors/alias/7";
    await resentAfterFailedWrite("alias", (got, first) => {
      assert.equal(got.topic, topic);
      assert.equal(got.properties?.topicAlias, 1);
      assert.equal(text(got.payload), first ? "one" : "two");
    }, async (client, fail) => {
      await client.publish(topic, "one"); // written: the alias is known from now on
      fail.next = true;
      // Under the alias alone, its write fails; it resolves once written again.
      await client.publish(topic, "two");
    });
  },
  TIMEOUT,
);

test(
  "a QoS 0 publish whose write failed goes out again with its payload as given, not as reused",
  async () => {
    // As above; the caller reuses its buffer before the publish settles. The
    // publish sent again must carry the bytes given to publish(), as the
    // first attempt did (and as a 3.1.1 client's does).
    const topic = "sensors/alias/8";
    await resentAfterFailedWrite("reuse", (got, first) => {
      assert.equal(text(got.payload), first ? "one" : "two");
    }, async (client, fail) => {
      const buf = new TextEncoder().encode("one");
      await client.publish(topic, buf);
      fail.next = true;
      buf.set(new TextEncoder().encode("two"));
      const sending = client.publish(topic, buf);
      buf.set(new TextEncoder().encode("xyz")); // reused before the publish settles
      await sending;
    });
  },
  TIMEOUT,
);

test(
  "a QoS 0 publish whose write failed goes out again with its properties as given, not as reused",
  async () => {
    // As above, with properties: the caller changes the user properties and
    // correlation data it gave before the publish settles. Sent again, the
    // publish must carry them as given, as the first attempt did.
    const topic = "sensors/alias/9";
    const given = [["seq", "1"]];
    await resentAfterFailedWrite("props", (got, first) => {
      assert.deepEqual(got.properties?.userProperties, first ? [["seq", "0"]] : given);
      assert.equal(text(got.properties!.correlationData!), first ? "c0" : "c1");
    }, async (client, fail) => {
      const userProperties: [string, string][] = [["seq", "0"]];
      await client.publish(topic, "one", {
        properties: { userProperties, correlationData: new TextEncoder().encode("c0") },
      });
      fail.next = true;
      const again: [string, string][] = [["seq", "1"]];
      const correlationData = new TextEncoder().encode("c1");
      const sending = client.publish(topic, "two", {
        properties: { userProperties: again, correlationData },
      });
      again[0][1] = "2"; // reused before the publish settles
      correlationData.set(new TextEncoder().encode("xx"));
      await sending;
    });
  },
  TIMEOUT,
);

for (const topic of ["s/7", "s/77", "sensors/alias/77"]) {
  test(
    `a QoS 0 publish to "${topic}" whose write failed under a topic alias goes out again whole`,
    async () => {
      // As the first above, for topic names whose aliased packet, built in
      // their bytes, starts where they start (3 bytes), or a byte or more in.
      await resentAfterFailedWrite("alias3", (got, first) => {
        assert.deepEqual([got.topic, got.properties?.topicAlias], [topic, 1]);
        assert.equal(text(got.payload), first ? "one" : "two");
      }, async (client, fail) => {
        await client.publish(topic, "one");
        fail.next = true;
        await client.publish(topic, "two");
      });
    },
    TIMEOUT,
  );
}

test(
  "a renewal SUBSCRIBE cut off is sent again, though the next broker says Session Present 1",
  async () => {
    // A broker that lost our session (Session Present 0), then a cut as the
    // renewal SUBSCRIBE leaves: the CONNECT that met it made a session,
    // empty, which the next connection finds (Session Present 1). The
    // subscription must still be renewed there.
    let n = 0;
    let renewed!: (filters: string[]) => void;
    const renewal = new Promise<string[]>((r) => (renewed = r));
    await withBrokers([async (peer) => {
      const k = ++n;
      const connect = await peer.expect("connect");
      await peer.write({ type: "connack", sessionPresent: k === 3, returnCode: 0 });
      if (k > 3) return void await peer.clientClosed;
      const sub = await peer.expect("subscribe");
      if (k === 2) return peer.end(); // cut: no SUBACK
      await peer.write({ type: "suback", packetId: sub.packetId, returnCodes: [1] });
      if (k === 1) return peer.end();
      assert.equal(connect.cleanSession, false);
      renewed(sub.subscriptions.map((s) => s.topic));
      await peer.expect("disconnect");
    }], async ([b]) => {
      const { client } = robust([b]);
      await client.connect(false);
      await client.subscribe("renew/a", 1);
      assert.deepEqual(await renewal, ["renew/a"]);
      await bye(client, [b]);
    });
  },
  TIMEOUT,
);

test(
  "a publish made while the client's own DISCONNECT is going out is published after the reconnect",
  async () => {
    // The broker breaks the protocol: the client queues DISCONNECT 0x94 and
    // closes once it is written. A QoS 1 publish made in that window (here by
    // the callback of a message read with the bad packet) is a robust call:
    // it waits for the next connection rather than reject.
    let b!: HostileBroker;
    const payload = new TextEncoder().encode("request");
    await withBrokers([
      async (peer) => {
        if (peer === b.peers[0]) {
          await acceptConnect(peer, { topicAliasMaximum: 5 });
          await peer.write(
            { type: "publish", topic: "req", payload, qos: 0, retain: false, dup: false },
            // Topic alias 3 was never set: a protocol error (MQTT-3.3.4-7).
            {
              type: "publish",
              topic: "",
              payload,
              qos: 0,
              retain: false,
              dup: false,
              properties: { topicAlias: 3 },
            },
          );
          assert.equal((await peer.expect("disconnect")).reasonCode, 0x94);
          return;
        }
        await acceptConnect(peer);
        const reply = await peer.expect("publish");
        assert.equal(reply.topic, "resp");
        await peer.write({ type: "puback", packetId: reply.packetId! });
        await peer.expect("disconnect");
      },
    ], async ([broker]) => {
      b = broker;
      const client = new MQTTClient(uniqueId("ending"), broker.url, {
        protocolVersion: 5,
        transport: slowWrites(broker.port, 50),
      });
      client.DELAY = 0;
      clients.push(client);
      let reply: Promise<void> | undefined;
      client.set_callback((topic) => {
        if (topic === "req") reply = client.publish("resp", "reply", false, 1);
      });
      await client.connect(false);
      await client.wait_msg();
      assert.ok(reply, "the callback published");
      await reply;
      assert.equal(broker.peers.length, 2, "published on a second connection");
      await bye(client, [broker]);
    });
  },
  TIMEOUT,
);

/** A transport to the scripted broker on `port` whose every write takes `ms` more, as on a slow link. */
function slowWrites(port: number, ms: number): Transport {
  return writingThrough(port, async (chunk, writer) => {
    await new Promise((r) => setTimeout(r, ms));
    await writer.write(chunk);
  });
}
