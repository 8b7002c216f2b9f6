// The reconnecting client and MQTT 5's Server Reference (section 4.11): a
// CONNACK or DISCONNECT with 0x9C (use another server) or 0x9D (server moved)
// names servers, space-separated host[:port], which the next reconnect tries
// in order before the configured list (unless followServerReference is
// false). Scripted brokers (tests/_hostile_broker.ts) play every server.
import assert from "node:assert/strict";
import { MQTTClient, type ReconnectingDetail, type RobustClientOptions } from "../lib/robust.ts";
import {
  acceptConnect,
  type HostileBroker,
  type Peer,
  type Scenario,
  startHostileBroker,
  watchUnhandledRejections,
} from "./_hostile_broker.ts";
import { test, uniqueId } from "./_test.ts";

const TIMEOUT = { timeout: 20_000 };

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
  "a Server Reference of several servers: each tried in order before the configured list",
  async () => {
    let refs = "";
    await withBrokers([
      async (peer) => {
        await acceptConnect(peer);
        await peer.expect("pingreq");
        await peer.write({
          type: "disconnect",
          reasonCode: 0x9d,
          properties: { serverReference: refs },
        });
        await peer.clientClosed;
      },
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
          await acceptConnect(peer);
          await peer.expect("pingreq");
          peer.end();
          await peer.clientClosed;
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
          await acceptConnect(peer);
          await peer.expect("pingreq");
          peer.end();
          return void await peer.clientClosed;
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
    async (peer) => {
      await acceptConnect(peer);
      if (n++ > 0) return void await peer.expect("disconnect");
      await peer.expect("pingreq");
      await peer.write({
        type: "disconnect",
        reasonCode: 0x9c,
        properties: { serverReference: `127.0.0.1:${b.port}` },
      });
      await peer.clientClosed;
    },
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
