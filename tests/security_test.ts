// Secrets and contradictory TLS settings: a password typed into a server URL
// never shows in an error, and TLS parameters given with no TLS server are a
// TypeError rather than a silent plaintext connection.
import assert from "node:assert/strict";
import { parsePubArgs, parseSubArgs } from "../lib/cli/_args.ts";
import { MQTTClient, MQTTConnectionError } from "../mod.ts";
import { startMosquitto } from "./_brokers.ts";
import { withHostileBroker } from "./_hostile_broker.ts";
import { test, uniqueId } from "./_test.ts";

const PW = "pw-secret-5e1f";

/** A client whose transport records the buffer behind each chunk it writes, into `buffers`. */
function watching(broker: { host: string; port: number }, buffers: ArrayBufferLike[]): MQTTClient {
  return new MQTTClient(uniqueId("watch"), broker.host, {
    port: broker.port,
    transport: async () => {
      const conn = await Deno.connect({ hostname: broker.host, port: broker.port });
      const w = conn.writable.getWriter();
      const writable = new WritableStream<Uint8Array>({
        write(chunk) {
          buffers.push(chunk.buffer);
          return w.write(chunk);
        },
        close: () => w.close(),
        abort: (reason) => w.abort(reason),
      });
      return { readable: conn.readable, writable, close: () => conn.close() };
    },
  });
}

/** Runs `f`, which must throw, and returns the error's message and stack. */
function thrown(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    return `${(e as Error).message}\n${(e as Error).stack}`;
  }
  assert.fail("expected an error");
}

test("a password in a server URL the client refuses never shows in the error", () => {
  for (
    const server of [
      `tcp://user:${PW}@broker`, // another library's scheme
      `ssl://user:${PW}@broker:8883`,
      `user:${PW}@broker`, // no scheme: read as host:port
      `mqtt://user:${PW}@[broken`, // not a URL
      `mqtt://user:${PW}@broker`, // credentials in the URL are not used
    ]
  ) {
    const text = thrown(() => new MQTTClient("id", server));
    assert.ok(!text.includes(PW), `${server}: the error shows the password: ${text}`);
    assert.match(text, /^Invalid server/);
  }
});

test("umqtt -L: a usage error never shows the URL's password", () => {
  for (
    const url of [
      `mqtt://user:${PW}@127.0.0.1:1883`, // no topic
      `tcp://user:${PW}@127.0.0.1:1883/t`, // another scheme
      `mqtt://user:${PW}%zz@127.0.0.1:1883/t`, // a bad escape in the password itself
    ]
  ) {
    for (const parse of [parsePubArgs, parseSubArgs]) {
      const text = thrown(() => parse(["-L", url, "-m", "x"]));
      assert.ok(!text.includes(PW), `-L ${url}: the error shows the password: ${text}`);
      assert.match(text, /-L mqtt|-L tcp/);
    }
  }
});

test("ssl_params with no TLS server is a TypeError, not a plaintext connection", () => {
  const ssl_params = { cadata: "-----BEGIN CERTIFICATE-----\n…", server_hostname: "b.test" };
  for (const server of ["mqtt://127.0.0.1:1883", "127.0.0.1", ["mqtt://a", "b"]]) {
    assert.throws(
      () => new MQTTClient("id", server, { user: "u", password: PW, ssl_params }),
      (e: unknown) =>
        e instanceof TypeError && /ssl_params.*TLS/.test(e.message) && !e.message.includes(PW),
      `${server}`,
    );
  }
  // Where TLS is on for some server, they apply.
  new MQTTClient("id", "mqtts://127.0.0.1", { ssl_params });
  new MQTTClient("id", "127.0.0.1", { ssl: true, ssl_params });
  new MQTTClient("id", ["mqtts://a", "mqtt://b"], { ssl_params });
  // Empty ones are no contradiction.
  new MQTTClient("id", "127.0.0.1", { ssl_params: {} });
  new MQTTClient("id", "127.0.0.1", 1883, "u", "p", 0, false, {});
});

// A WebSocket URL's query often carries the credential (`?token=…`, a signed URL's
// X-Amz-Signature): the connection's error showed it, and so did a server refused as malformed.
test("a token in a WebSocket server's query never shows in an error", async () => {
  const TOKEN = "tok-" + PW;
  for (const server of [`ws://broker:x/mqtt?token=${TOKEN}`, `wss://[broken/mqtt?token=${TOKEN}`]) {
    const text = thrown(() => new MQTTClient("id", server));
    assert.ok(!text.includes(TOKEN), `${server}: the error shows the token: ${text}`);
    assert.match(text, /^Invalid server "wss?:\/\/[^"]*\?…"/);
  }
  // Nothing listens on the port: connect() rejects, and so does the robust client's first attempt.
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const server = `ws://127.0.0.1:${l.addr.port}/mqtt?token=${TOKEN}`;
  l.close();
  const error = await new MQTTClient("id", server).connect().then(() => null, (e) => e);
  assert.ok(error instanceof MQTTConnectionError);
  const cause = error.cause as Error;
  const shown = `${error.message}\n${error.stack}\n${cause.message}\n${cause.stack}`;
  assert.ok(!shown.includes(TOKEN), `the error shows the token: ${shown}`);
  assert.match(shown, /ws:\/\/127\.0\.0\.1:\d+\/mqtt\?…/);
});

test("a query after a host given without a scheme never shows in an error", async () => {
  // A WebSocket URL whose scheme was left out: its token must not show either.
  const TOKEN = "tok-" + PW;
  for (const server of [`127.0.0.1:8883?token=${TOKEN}`, `127.0.0.1?token=${TOKEN}`]) {
    let client: MQTTClient;
    try {
      client = new MQTTClient("id", server, { connectTimeout: 3000 });
    } catch (e) {
      const error = e as Error, cause = error.cause as Error | undefined;
      const shown = `${error.message}\n${error.stack}\n${cause?.message}\n${cause?.stack}`;
      assert.ok(!shown.includes(TOKEN), `${server}: the error shows the token: ${shown}`);
      continue;
    }
    const error = await client.connect().then(() => null, (e) => e);
    assert.ok(error instanceof Error, `${server}: connected`);
    const cause = error.cause as Error | undefined;
    const shown = `${error.message}\n${error.stack}\n${cause?.message}\n${cause?.stack}`;
    assert.ok(!shown.includes(TOKEN), `${server}: the error shows the token: ${shown}`);
  }
});

test("user information before a host given without a scheme never shows in an error", async () => {
  // 'user:pw@host' was refused, hidden, for the colon of a port; 'user:pw@host:1883' (two colons:
  // taken for an IPv6 address) and 'token@host' went to the resolver as host names, which every
  // connection error then named, password and all.
  const SECRET = "s3cret-" + PW;
  for (
    const server of [`user:${SECRET}@127.0.0.1:1883`, `${SECRET}@127.0.0.1`, `u:${SECRET}@[::1]`]
  ) {
    let client: MQTTClient;
    try {
      client = new MQTTClient("id", server, { connectTimeout: 3000 });
    } catch (e) {
      const error = e as Error;
      assert.ok(
        !`${error.message}\n${error.stack}`.includes(SECRET),
        `${server}: ${error.message}`,
      );
      continue;
    }
    const error = await client.connect().then(() => null, (e) => e);
    assert.ok(error instanceof Error, `${server}: connected`);
    const cause = error.cause as Error | undefined;
    const shown = `${error.message}\n${error.stack}\n${cause?.message}\n${cause?.stack}`;
    assert.ok(!shown.includes(SECRET), `${server}: the error shows the password: ${shown}`);
  }
});

// The CONNECT (user name, password, MQTT 5 Authentication Data) was carved out of the 64 KiB slab
// that every client's short-lived packets share: any client's transport then wrote chunks whose
// `.buffer` held another client's password, as long as any of that slab's packets lived.
test("a client's credentials never share a buffer with another client's packets", async () => {
  const broker = await startMosquitto();
  const secrets = ["user-5e1f", PW, "authdata-5e1f"];
  try {
    const buffers: ArrayBufferLike[] = [];
    const a = watching(broker, buffers);
    await a.connect();
    const b = new MQTTClient(uniqueId("b"), broker.host, {
      port: broker.port,
      user: secrets[0],
      password: secrets[1],
    });
    await b.connect();
    // MQTT 5 with a method mosquitto does not know: refused, but its CONNECT went out.
    const b5 = new MQTTClient(uniqueId("b5"), broker.host, {
      port: broker.port,
      protocolVersion: 5,
      authenticationMethod: "X-TEST",
      authenticationData: new TextEncoder().encode(secrets[2]),
    });
    await b5.connect().catch(() => {});
    for (let i = 0; i < 3; i++) await a.publish("t", "x"); // QoS 0: short-lived packets
    await a.ping();
    await b.disconnect();
    await a.disconnect();
    assert.ok(buffers.length > 0);
    const text = new TextDecoder("latin1");
    for (const buffer of buffers) {
      const all = text.decode(new Uint8Array(buffer));
      for (const secret of secrets) {
        assert.ok(!all.includes(secret), `a chunk's buffer holds another client's ${secret}`);
      }
    }
  } finally {
    await broker.stop();
  }
}, { mosquitto: true });

test("re-authentication data never shares a buffer with another client's packets", async () => {
  // reauthenticate()'s AUTH goes with what the client writes in the same turn: the batch is one
  // write, which must not copy the Authentication Data into the buffer every client shares.
  const secret = "reauth-5e1f";
  await withHostileBroker(async (peer) => {
    const connect = await peer.expect("connect");
    await peer.write({ type: "connack", sessionPresent: false, returnCode: 0 });
    const method = connect.properties?.authenticationMethod;
    for (;;) {
      const p = await peer.next();
      if (p.type === "disconnect") return;
      if (p.type === "pingreq") await peer.write({ type: "pingresp" });
      if (p.type === "auth") {
        await peer.write({
          type: "auth",
          reasonCode: 0,
          properties: { authenticationMethod: method },
        });
      }
    }
  }, async (broker) => {
    const buffers: ArrayBufferLike[] = [];
    const a = watching(broker, buffers);
    const b = new MQTTClient(uniqueId("b"), broker.host, {
      port: broker.port,
      protocolVersion: 5,
      authenticationMethod: "X-TEST",
    });
    await b.connect();
    const reauth = b.reauthenticate(new TextEncoder().encode(secret));
    const sent = b.publish("t", "beside it"); // in the same write
    await Promise.all([reauth, sent]);
    await a.connect();
    for (let i = 0; i < 3; i++) await a.publish("t", "x"); // QoS 0: short-lived packets
    await a.ping();
    await b.disconnect();
    await a.disconnect();
    await Promise.all(broker.peers.map((peer) => peer.clientClosed));
    assert.ok(buffers.length > 0);
    const text = new TextDecoder("latin1");
    for (const buffer of buffers) {
      const all = text.decode(new Uint8Array(buffer));
      assert.ok(
        !all.includes(secret),
        "a chunk's buffer holds another client's re-authentication data",
      );
    }
  });
});
