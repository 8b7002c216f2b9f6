// The robust client over several servers, the cases failover_test.ts and
// robust5_test.ts leave out: which server comes first after a later loss, how
// a refusal's Server Reference is reached, and a credential function that
// throws what is not an Error.
import assert from "node:assert/strict";
import { MQTTClient as Robust, type ReconnectingDetail } from "../lib/robust.ts";
import {
  acceptConnect,
  type HostileBroker,
  type Peer,
  startHostileBroker,
} from "./_hostile_broker.ts";
import { test, uniqueId } from "./_test.ts";

const TIMEOUT = { timeout: 20_000 };

/** Accepts; drops the connection at the client's PINGREQ. */
async function droppingAtPing(peer: Peer) {
  await acceptConnect(peer);
  await peer.expect("pingreq");
  peer.end();
  await peer.clientClosed;
}

/** Accepts and holds the connection until the client leaves. */
async function accepting(peer: Peer) {
  await acceptConnect(peer);
  await peer.clientClosed;
}

/** The servers `client`'s `reconnecting` events name, in order, from now on. */
function triedServers(client: Robust): string[] {
  const tried: string[] = [];
  client.addEventListener(
    "reconnecting",
    (e) => tried.push((e as CustomEvent<ReconnectingDetail>).detail.server),
  );
  return tried;
}

function refuse(peer: Peer, returnCode: number, serverReference?: string) {
  return (async () => {
    await peer.expect("connect");
    await peer.write({
      type: "connack",
      sessionPresent: false,
      returnCode,
      properties: serverReference ? { serverReference } : {},
    });
    await peer.clientClosed;
  })();
}

const connectedOnce = (c: Robust) =>
  new Promise<void>((r) => c.addEventListener("connected", () => r(), { once: true }));

test(
  "robust: a Server Reference met in one outage is not tried first after a later loss: the server that worked last is",
  async () => {
    let na = 0, nb = 0;
    // A: accepts once and drops at a PINGREQ; from then on refuses 0x9C, naming itself.
    const a: HostileBroker = await startHostileBroker(async (peer) => {
      if (na++ === 0) return void await droppingAtPing(peer);
      await refuse(peer, 0x9c, `127.0.0.1:${a.port}`);
    });
    // B: the first connection drops at a PINGREQ; the second stays.
    const b = await startHostileBroker(async (peer) => {
      if (nb++ === 0) return void await droppingAtPing(peer);
      await accepting(peer);
    });
    const c = new Robust(uniqueId("gap"), [a.url, b.url], { protocolVersion: 5 });
    c.DELAY = 0;
    const tried = triedServers(c);
    try {
      await c.connect(false);
      // Lost on A: A refuses (naming itself, followed at once), A refuses again, B accepts.
      let up = connectedOnce(c);
      await assert.rejects(c.ping());
      await up;
      assert.equal(c.url, b.url);
      assert.deepEqual(tried, [a.url, a.url, b.url]);
      // Lost on B: B worked last and must be tried first (README, "The order").
      tried.length = 0;
      up = connectedOnce(c);
      await assert.rejects(c.ping());
      await up;
      assert.equal(tried[0], b.url, `tried: ${tried.join(", ")}`);
    } finally {
      await c.disconnect();
      await a.close();
      await b.close();
    }
  },
  TIMEOUT,
);

test(
  "robust: a host:port Server Reference in a refusal is reached as the server that refused is, not as the one lost",
  async () => {
    // A WebSocket broker: accepts the first connection and closes it at a PINGREQ, then is unavailable.
    let nw = 0;
    const ws = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, (req) => {
      const { socket, response } = Deno.upgradeWebSocket(req, { protocol: "mqtt" });
      const first = nw++ === 0;
      socket.binaryType = "arraybuffer";
      socket.onmessage = (m) => {
        const type = new Uint8Array(m.data as ArrayBuffer)[0] >> 4;
        if (type === 1) socket.send(Uint8Array.of(0x20, 0x03, 0x00, first ? 0x00 : 0x88, 0x00));
        if (type === 12) socket.close();
      };
      return response;
    });
    const wsUrl = `ws://127.0.0.1:${ws.addr.port}`;
    // A plain MQTT server that refuses: "use another server", host:port.
    const tcp = await startHostileBroker((peer) => refuse(peer, 0x9c, `127.0.0.1:${target.port}`));
    const target = await startHostileBroker(accepting);
    const c = new Robust(uniqueId("gap"), [wsUrl, tcp.url], {
      protocolVersion: 5,
      connectTimeout: 1000,
    });
    c.DELAY = 0;
    const tried = triedServers(c);
    try {
      await c.connect(false);
      assert.equal(c.url, `${wsUrl}`);
      await assert.rejects(c.ping());
      // Connected, or round the list again without reaching the server referred to.
      for (const end = Date.now() + 3000; !c.connected && tried.length < 4 && Date.now() < end;) {
        await new Promise((r) => setTimeout(r, 5));
      }
      assert.deepEqual(tried.slice(0, 3), [wsUrl, tcp.url, target.url]);
      assert.equal(c.url, target.url);
    } finally {
      await c.disconnect();
      await tcp.close();
      await target.close();
      await ws.shutdown();
    }
  },
  TIMEOUT,
);

test(
  "robust: a credential function that throws a string while reconnecting is tried again too; the kept publish resolves",
  async () => {
    let n = 0;
    const b = await startHostileBroker(async (peer) => {
      await acceptConnect(peer);
      if (n++ === 0) {
        await peer.expect("publish"); // not acknowledged: kept in the session
        peer.end();
        return void await peer.clientClosed;
      }
      for (;;) {
        const p = await peer.next().catch(() => undefined);
        if (p === undefined || p.type === "disconnect") return;
        if (p.type === "publish") await peer.write({ type: "puback", packetId: p.packetId! });
      }
    });
    let calls = 0;
    const c = new Robust(uniqueId("gap"), b.url, {
      user: "dev",
      // The second call (the first reconnect attempt) fails as a token service that is down.
      password: () => (++calls === 2 ? Promise.reject("token service down") : "token"),
    });
    c.DELAY = 0.01;
    try {
      await c.connect(false);
      await c.publish("t", "kept", false, 1);
      assert.equal(calls, 3, "the initial connect, the failed fetch, the one that worked");
    } finally {
      await c.disconnect();
      await b.close();
    }
  },
  TIMEOUT,
);

test(
  "robust: a Server Reference naming a listed server: lost there, the list goes on from it, not from the server that sent the client away",
  async () => {
    let na = 0, nb = 0;
    // A: accepts, then at a PINGREQ sends the client to B; accepts any later connection.
    const a: HostileBroker = await startHostileBroker(async (peer) => {
      if (na++ > 0) return void await accepting(peer);
      await acceptConnect(peer);
      await peer.expect("pingreq");
      await peer.write({
        type: "disconnect",
        reasonCode: 0x9c,
        properties: { serverReference: `127.0.0.1:${b.port}` },
      });
      await peer.clientClosed;
    });
    // B (listed after A): the first connection drops at a PINGREQ; later ones are refused 0x88.
    const b: HostileBroker = await startHostileBroker(async (peer) => {
      if (nb++ === 0) return void await droppingAtPing(peer);
      await refuse(peer, 0x88);
    });
    const c = await startHostileBroker(accepting);
    const client = new Robust(uniqueId("gap"), [a.url, b.url, c.url], { protocolVersion: 5 });
    client.DELAY = 0;
    const tried = triedServers(client);
    try {
      await client.connect(false);
      let up = connectedOnce(client);
      await assert.rejects(client.ping());
      await up;
      assert.equal(client.url, b.url, "moved to B");
      // Lost on B: B first (it worked last), then C, which follows B in the list.
      tried.length = 0;
      up = connectedOnce(client);
      await assert.rejects(client.ping());
      await up;
      assert.deepEqual(tried, [b.url, c.url]);
      assert.equal(client.url, c.url);
      assert.equal(na, 1, "A, which sent the client away, was not tried again");
    } finally {
      await client.disconnect();
      await a.close();
      await b.close();
      await c.close();
    }
  },
  TIMEOUT,
);

for (const [code, name] of [[0x9c, "use another server"], [0x9d, "server moved"]] as const) {
  test(
    `robust: a DISCONNECT 0x${
      code.toString(16)
    } (${name}) without a Server Reference: the next server of the list first, the one that sent the client away last`,
    async () => {
      // MQTT 5.0 section 4.11: the client SHOULD switch to another server, "either already
      // known to the Client, or specified using a Server Reference".
      let na = 0;
      // A: accepts, sends the client away at its PINGREQ; accepts any later connection.
      const a = await startHostileBroker(async (peer) => {
        if (na++ > 0) return void await accepting(peer);
        await acceptConnect(peer);
        await peer.expect("pingreq");
        await peer.write({ type: "disconnect", reasonCode: code });
        await peer.clientClosed;
      });
      // B and C: unavailable (0x88), so that the round goes on to A.
      const b = await startHostileBroker((peer) => refuse(peer, 0x88));
      const c = await startHostileBroker((peer) => refuse(peer, 0x88));
      const client = new Robust(uniqueId("gap"), [a.url, b.url, c.url], { protocolVersion: 5 });
      client.DELAY = 0;
      const tried = triedServers(client);
      try {
        await client.connect(false);
        const up = connectedOnce(client);
        await assert.rejects(client.ping());
        await up;
        assert.deepEqual(tried, [b.url, c.url, a.url], "A, which sent the client away, last");
        assert.equal(client.url, a.url);
        assert.equal(na, 2);
      } finally {
        await client.disconnect();
        await a.close();
        await b.close();
        await c.close();
      }
    },
    TIMEOUT,
  );
}
