// The built-in Deno TLS transport against mosquitto TLS listeners, with
// certificates made at test time: verification is on by default, the CA
// comes in through ssl_params.cadata, server_hostname picks the name that is
// verified, and a client certificate works for mutual TLS. The same through
// the node:tls adapter that Node and Bun use; then credentials against a
// password_file, which no error message, inspect output or log may show.
import assert from "node:assert/strict";
import process from "node:process";
import { inspect } from "node:util";
import { MQTTClient, MQTTConnectionError, MQTTException, type SslParams } from "../mod.ts";
import { connectNode } from "../lib/transports/node.ts";
import { type Broker, brokerKinds, startMosquitto } from "./_brokers.ts";
import { makeCerts, type TestCerts } from "./_certs.ts";
import { test, uniqueId } from "./_test.ts";

const hasMosquitto = brokerKinds().includes("mosquitto");
const certs: TestCerts | undefined = hasMosquitto ? makeCerts() : undefined;
// Deno fires "unload" per test file; Bun and Node have the process's "exit".
if ("Deno" in globalThis) globalThis.addEventListener("unload", () => certs?.remove());
else process.once("exit", () => certs?.remove());

async function withTlsBroker(mutual: boolean, fn: (b: Broker, c: TestCerts) => Promise<void>) {
  const c = certs!;
  const broker = await startMosquitto({
    tls: c.serverTls(mutual),
  });
  try {
    await fn(broker, c);
  } finally {
    await broker.stop();
  }
}

/** Connects, publishes to itself at QoS 1, checks the echo, disconnects. */
async function roundTrip(client: MQTTClient) {
  await client.connect();
  const topic = uniqueId("tls");
  await client.subscribe(topic, 1);
  await client.publish(topic, "over tls", false, 1);
  const msg = await client.wait_msg();
  assert.equal(new TextDecoder().decode(msg.payload), "over tls");
  await client.disconnect();
}

const opts = { ignore: !hasMosquitto };

test("mqtts:// with the CA in ssl_params.cadata connects and round-trips", async () => {
  await withTlsBroker(false, async (b, c) => {
    const client = new MQTTClient(uniqueId("tls"), `mqtts://127.0.0.1:${b.tlsPort}`, {
      ssl_params: { cadata: c.pem("ca.pem") },
    });
    assert.equal(client.ssl, true);
    await roundTrip(client);
  });
}, opts);

test("ssl=true with server_hostname verifies that name (Deno.startTls)", async () => {
  await withTlsBroker(false, async (b, c) => {
    const client = new MQTTClient(
      uniqueId("tls"),
      "127.0.0.1",
      b.tlsPort,
      undefined,
      undefined,
      0,
      true,
      { server_hostname: "broker.test", cadata: c.pem("ca.pem") },
    );
    await roundTrip(client);
  });
}, opts);

test("a server whose CA is not trusted is refused", async () => {
  await withTlsBroker(false, async (b) => {
    const client = new MQTTClient(uniqueId("tls"), `mqtts://127.0.0.1:${b.tlsPort}`);
    const e = await client.connect().then(() => null, (e) => e);
    assert.ok(e instanceof MQTTConnectionError, `expected MQTTConnectionError, got ${e}`);
    assert.match(String(e.cause), /certificate|UnknownIssuer/i);
    assert.equal(client.connected, false);
  });
}, opts);

test("a certificate for another host name is refused", async () => {
  await withTlsBroker(false, async (b, c) => {
    const client = new MQTTClient(uniqueId("tls"), "127.0.0.1", {
      port: b.tlsPort,
      ssl: true,
      ssl_params: { server_hostname: "wrong.test", cadata: c.pem("ca.pem") },
    });
    const e = await client.connect().then(() => null, (e) => e);
    assert.ok(e instanceof MQTTConnectionError, `expected MQTTConnectionError, got ${e}`);
    assert.match(String(e.cause), /name|NotValidForName|certificate/i);
  });
}, opts);

test(
  "ssl_params are copied at the constructor: the caller's later changes reach no connect()",
  async () => {
    // The object given was kept: a change to it after the constructor went unchecked into every
    // later connect(), while client.ssl_params still showed the parameters given.
    await withTlsBroker(false, async (b, c) => {
      const ssl_params: SslParams = { cadata: c.pem("ca.pem") };
      const client = new MQTTClient(uniqueId("tls"), `mqtts://127.0.0.1:${b.tlsPort}`, {
        ssl_params,
      });
      ssl_params.server_hostname = "wrong.test";
      assert.equal(client.ssl_params.server_hostname, undefined);
      await roundTrip(client);
    });
  },
  opts,
);

test("mutual TLS: a client certificate from ssl_params.cert/key is accepted", async () => {
  await withTlsBroker(true, async (b, c) => {
    const client = new MQTTClient(uniqueId("mtls"), `mqtts://127.0.0.1:${b.tlsPort}`, {
      ssl_params: { cadata: c.pem("ca.pem"), cert: c.pem("client.pem"), key: c.pem("client.key") },
    });
    await roundTrip(client);
    // The private key, as the password, is the client's alone: not in ssl_params, inspect or JSON.
    assert.equal(client.ssl_params.key, undefined);
    assert.equal(client.ssl_params.cert, c.pem("client.pem"));
    assertNoSecret(client, [c.pem("client.key").split("\n")[1]], "a client with a private key");
  });
}, opts);

test("mutual TLS: without a client certificate the connection fails", async () => {
  await withTlsBroker(true, async (b, c) => {
    const client = new MQTTClient(uniqueId("mtls"), `mqtts://127.0.0.1:${b.tlsPort}`, {
      ssl_params: { cadata: c.pem("ca.pem") },
      connectTimeout: 5000,
    });
    await assert.rejects(client.connect(), MQTTConnectionError);
    assert.equal(client.connected, false);
  });
}, opts);

// ---- the node:tls adapter (Node and Bun; here under Deno's node:tls) ------

/** A client whose transport is the node:tls adapter, to the broker's TLS port. */
function nodeTlsClient(b: Broker, ssl_params: SslParams, id = uniqueId("ntls")) {
  return new MQTTClient(id, "127.0.0.1", {
    connectTimeout: 5000,
    transport: () =>
      connectNode({ hostname: "127.0.0.1", port: b.tlsPort!, ssl: true, ssl_params }),
  });
}

test(
  "node:tls adapter: the CA from ssl_params.cadata is trusted, server_hostname verified",
  async () => {
    await withTlsBroker(false, async (b, c) => {
      await roundTrip(
        nodeTlsClient(b, { cadata: c.pem("ca.pem"), server_hostname: "broker.test" }),
      );
    });
  },
  opts,
);

test("node:tls adapter: a server whose CA is not trusted is refused", async () => {
  await withTlsBroker(false, async (b) => {
    const client = nodeTlsClient(b, { server_hostname: "broker.test" });
    const e = await client.connect().then(() => null, (e) => e);
    assert.ok(e instanceof MQTTConnectionError, `expected MQTTConnectionError, got ${e}`);
    assert.match(String(e.cause), /certificate|self.signed|issuer/i);
    assert.equal(client.connected, false);
  });
}, opts);

test("node:tls adapter: a certificate for another host name is refused", async () => {
  await withTlsBroker(false, async (b, c) => {
    const client = nodeTlsClient(b, { cadata: c.pem("ca.pem"), server_hostname: "wrong.test" });
    const e = await client.connect().then(() => null, (e) => e);
    assert.ok(e instanceof MQTTConnectionError, `expected MQTTConnectionError, got ${e}`);
    assert.match(String(e.cause), /wrong\.test|altnames|host ?name/i);
  });
}, opts);

test(
  "node:tls adapter: mutual TLS with a client certificate from ssl_params.cert/key",
  async () => {
    await withTlsBroker(true, async (b, c) => {
      await roundTrip(
        nodeTlsClient(b, {
          cadata: c.pem("ca.pem"),
          cert: c.pem("client.pem"),
          key: c.pem("client.key"),
        }),
      );
    });
  },
  opts,
);

// A failed handshake used to leave a second "error" event unhandled (the
// broker's CertificateRequired alert); connectNode now destroys the socket.
test("node:tls adapter: mutual TLS without a client certificate is refused", async () => {
  await withTlsBroker(true, async (b, c) => {
    await assert.rejects(
      nodeTlsClient(b, { cadata: c.pem("ca.pem") }).connect(),
      MQTTConnectionError,
    );
  });
}, opts);

// ---- credentials -----------------------------------------------------------

// Unusual enough that no message contains them by chance.
const USER = "user-7c1e";
const PASSWORD = "pw-Ωmega-5b9f2d";

/** Asserts that no text derived from `value` (message, stack, causes, inspect, JSON) holds a secret. */
function assertNoSecret(value: unknown, secrets: string[], what: string) {
  const texts = [inspect(value, { depth: 10, showHidden: true })];
  for (let e = value as Error | undefined, n = 0; e && n < 10; e = e.cause as Error, n++) {
    texts.push(String(e), String(e.message), String(e.stack));
  }
  try {
    texts.push(JSON.stringify(value) ?? "");
  } catch { /* circular: inspect covers it */ }
  for (const secret of secrets) {
    for (const t of texts) assert.ok(!t.includes(secret), `${what} shows a secret: ${t}`);
  }
}

/** Records console output while `fn` runs: the library must log nothing. */
async function silent<T>(fn: () => Promise<T>): Promise<T> {
  const methods = ["log", "info", "warn", "error", "debug", "trace"] as const;
  const saved = methods.map((m) => console[m]);
  const calls: unknown[][] = [];
  for (const m of methods) console[m] = (...args: unknown[]) => void calls.push(args);
  try {
    return await fn();
  } finally {
    methods.forEach((m, i) => (console[m] = saved[i]));
    assert.deepEqual(calls, [], "the library wrote to the console");
  }
}

test(
  "password_file over TLS: the right password connects; wrong ones are MQTTException 5 that show no secret",
  async () => {
    const c = certs!;
    const broker = await startMosquitto({
      passwordFile: [{ user: USER, password: PASSWORD }],
      tls: c.serverTls(),
    });
    const ssl_params = { cadata: c.pem("ca.pem") };
    const url = `mqtts://127.0.0.1:${broker.tlsPort}`;
    try {
      await silent(async () => {
        const good = new MQTTClient(uniqueId("cred"), url, {
          user: USER,
          password: PASSWORD,
          ssl_params,
        });
        await roundTrip(good);
        assertNoSecret(good, [PASSWORD], "a connected client");

        const refusals: [string, string | undefined, string | Uint8Array | undefined][] = [
          ["a wrong password", USER, "not-" + PASSWORD],
          ["a wrong password in bytes", USER, new TextEncoder().encode("bytes-" + PASSWORD)],
          ["an unknown user", "nobody-" + USER, PASSWORD],
          ["no credentials", undefined, undefined],
        ];
        for (const [what, user, password] of refusals) {
          const client = new MQTTClient(uniqueId("cred"), url, { user, password, ssl_params });
          const e = await client.connect().then(() => null, (e) => e);
          assert.ok(e instanceof MQTTException, `${what}: expected MQTTException, got ${e}`);
          assert.equal(e.code, 5, what);
          assert.equal(e.message, "Connection refused: not authorized", what);
          assert.equal(client.connected, false, what);
          assertNoSecret(e, [PASSWORD, USER], `${what}: the error`);
          assertNoSecret(client, [PASSWORD], `${what}: the client`);
          // Later calls explain themselves without the secret either.
          const later = await client.publish("t", "m").then(() => null, (e) => e);
          assert.ok(later instanceof MQTTConnectionError, `${what}: ${later}`);
          assertNoSecret(later, [PASSWORD, USER], `${what}: a later error`);
        }
      });
    } finally {
      await broker.stop();
    }
  },
  opts,
);

test("payloads and passwords never appear in argument errors", () => {
  const secret = "payload-secret-a81c";
  const c = new MQTTClient("args", "127.0.0.1", { user: USER, password: PASSWORD });
  const tooBig = new TextEncoder().encode(secret.repeat(5000)); // over 65535 bytes
  for (
    const [what, fn] of [
      ["a will over 65535 bytes", () => c.set_last_will("t", tooBig)],
      ["a will to a wildcard topic", () => c.set_last_will("t/#", secret)],
      [
        "a password over 65535 bytes",
        () => new MQTTClient("x", "h", { user: "u", password: secret.repeat(5000) }),
      ],
      ["a password without a user", () => new MQTTClient("x", "h", { password: secret })],
    ] as [string, () => unknown][]
  ) {
    const e = (() => {
      try {
        fn();
      } catch (e) {
        return e;
      }
    })();
    assert.ok(e instanceof TypeError || e instanceof RangeError, `${what}: ${e}`);
    assertNoSecret(e, [secret, PASSWORD], what);
  }
});

test(
  "a refused server certificate fails connect() as a connection that never opened, as node:tls says",
  async () => {
    await withTlsBroker(false, async (b) => {
      const client = new MQTTClient(uniqueId("tls"), `mqtts://127.0.0.1:${b.tlsPort}`);
      const e = await client.connect().then(() => null, (e) => e);
      assert.ok(e instanceof MQTTConnectionError, `expected MQTTConnectionError, got ${e}`);
      // The handshake is done while connecting, not at the first read ("Connection lost").
      assert.match(e.message, new RegExp(`^Cannot connect to 127\\.0\\.0\\.1:${b.tlsPort}: `));
    });
  },
  opts,
);
