// A TLS failure says it was TLS, whose certificate was refused, which server,
// and which ssl_params key changes it, through the default connector (Deno's
// own TLS under Deno, node:tls under Bun) and the node:tls adapter, against
// mosquitto TLS listeners. Before, connect() rejected with the runtime's words
// alone ("self-signed certificate in certificate chain", "invalid peer
// certificate: UnknownIssuer"), and a broker refusing our certificate after
// a TLS 1.3 handshake with "Connection lost: " and a line of OpenSSL
// internals, naming no server. And ssl_params the runtime cannot use (a cert
// and key that do not match) are a TypeError the robust client does not
// retry, as any transport refusing its arguments: it retried them for ever.
// No Deno.* here: Bun runs this file too.
import assert from "node:assert/strict";
import process from "node:process";
import { MQTTClient, MQTTConnectionError, type SslParams } from "../mod.ts";
import { MQTTClient as RobustClient } from "../lib/robust.ts";
import { connectNode } from "../lib/transports/node.ts";
import { type Broker, brokerKinds, startMosquitto } from "./_brokers.ts";
import { addBadCerts, makeCerts, type TestCerts } from "./_certs.ts";
import { test, uniqueId, until, withTimeout } from "./_test.ts";

const hasMosquitto = brokerKinds().includes("mosquitto");
const certs: TestCerts | undefined = hasMosquitto ? makeCerts() : undefined;
if (certs) addBadCerts(certs);
if ("Deno" in globalThis) globalThis.addEventListener("unload", () => certs?.remove());
else process.once("exit", () => certs?.remove());
const opts = { ignore: !hasMosquitto };
// Deno's node:tls reports a broker's alert after the handshake now as an error, now as a plain
// end ("Connection closed by the broker before its CONNACK"); and it finds a cert and key that do
// not match only in the handshake ("unsupported protocol"), where Node's and Bun's tls.connect()
// throws. The node:tls adapter's cases of both run under Bun (.ci/run) and Node.
const notDenoNodeTls = (way: Way) => ({
  ignore: !hasMosquitto || way === "node:tls adapter" && "Deno" in globalThis,
});

type Way = "default connector" | "node:tls adapter";
const WAYS: Way[] = ["default connector", "node:tls adapter"];

/** A client of `broker`'s TLS listener, at 127.0.0.1, connecting the `way` given. */
function client(way: Way, b: Broker, ssl_params: SslParams, Client = MQTTClient) {
  const port = b.tlsPort!;
  return new Client(uniqueId("tlserr"), `mqtts://127.0.0.1:${port}`, {
    connectTimeout: 5000,
    ssl_params,
    ...(way === "node:tls adapter"
      ? {
        transport: (signal: AbortSignal) =>
          connectNode({ hostname: "127.0.0.1", port, ssl: true, ssl_params, signal }),
      }
      : {}),
  });
}

/** connect()'s error, which must be an MQTTConnectionError. */
async function refusal(c: MQTTClient): Promise<MQTTConnectionError> {
  const e = await c.connect().then(() => c.disconnect().then(() => null), (e) => e);
  assert.ok(e instanceof MQTTConnectionError, `expected MQTTConnectionError, got ${e}`);
  assert.equal(c.connected, false);
  return e;
}

/**
 * A robust client's publish that its first connection attempt ends: the error it rejects with,
 * an MQTTConnectionError, after one attempt and no retry.
 */
async function givenUp(way: Way, b: Broker, ssl_params: SslParams): Promise<MQTTConnectionError> {
  const robust = client(way, b, ssl_params, RobustClient) as RobustClient;
  robust.DELAY = 0.01;
  let attempts = 0;
  robust.addEventListener("reconnecting", () => attempts++);
  try {
    const p = robust.publish("t", "m", false, 1).then(() => null, (e) => e);
    const e = await withTimeout(p, 5000, "the robust client's publish");
    assert.ok(e instanceof MQTTConnectionError, String(e));
    assert.equal(attempts, 1, "one attempt, no retry");
    return e;
  } finally {
    await robust.disconnect();
  }
}

async function withBroker(
  tls: { certfile?: string; keyfile?: string; requireCertificate?: boolean },
  fn: (b: Broker) => Promise<void>,
) {
  const broker = await startMosquitto({ tls: { ...certs!.serverTls(), ...tls } });
  try {
    await fn(broker);
  } finally {
    await broker.stop();
  }
}

for (const way of WAYS) {
  test(
    `${way}: an untrusted server certificate names the server, TLS and ssl_params.cadata`,
    async () => {
      await withBroker({}, async (b) => {
        const e = await refusal(client(way, b, {}));
        assert.match(
          e.message,
          new RegExp(
            `^Cannot connect to 127\\.0\\.0\\.1:${b.tlsPort}: TLS: the broker's certificate is not signed by a CA the client trusts: give that CA in ssl_params\\.cadata \\(.+\\)$`,
          ),
        );
      });
    },
    opts,
  );

  test(
    `${way}: a server certificate for other names points to ssl_params.server_hostname`,
    async () => {
      await withBroker({}, async (b) => {
        const e = await refusal(
          client(way, b, { cadata: certs!.pem("ca.pem"), server_hostname: "wrong.test" }),
        );
        assert.match(
          e.message,
          /: TLS: the broker's certificate does not name the host connected to: .* ssl_params\.server_hostname \(.*wrong\.test.*\)$/,
        );
      });
    },
    opts,
  );

  test(`${way}: an expired server certificate is refused as expired`, async () => {
    const c = certs!;
    await withBroker(
      { certfile: c.path("expired.pem"), keyfile: c.path("expired.key") },
      async (b) => {
        const e = await refusal(client(way, b, { cadata: c.pem("ca.pem") }));
        assert.match(
          e.message,
          new RegExp(
            `^Cannot connect to 127\\.0\\.0\\.1:${b.tlsPort}: TLS: the broker's certificate has expired or is not valid yet`,
          ),
        );
      },
    );
  }, opts);

  test(
    `${way}: mutual TLS without a client certificate names the server and ssl_params.cert`,
    async () => {
      await withBroker({ requireCertificate: true }, async (b) => {
        const e = await refusal(client(way, b, { cadata: certs!.pem("ca.pem") }));
        assert.match(
          e.message,
          new RegExp(
            `TLS: the broker requires a client certificate: give ssl_params\\.cert and ssl_params\\.key \\(127\\.0\\.0\\.1:${b.tlsPort}: [^\\n]*certificate.?required[^\\n]*\\)$`,
            "i",
          ),
        );
      });
    },
    notDenoNodeTls(way),
  );

  test(`${way}: a client certificate the broker does not trust is named as refused`, async () => {
    const c = certs!;
    await withBroker({ requireCertificate: true }, async (b) => {
      const e = await refusal(
        client(way, b, {
          cadata: c.pem("ca.pem"),
          cert: c.pem("stranger.pem"),
          key: c.pem("stranger.key"),
        }),
      );
      assert.match(
        e.message,
        new RegExp(
          `TLS: the broker refused the client certificate \\(ssl_params\\.cert\\): .* \\(127\\.0\\.0\\.1:${b.tlsPort}: [^\\n]*unknown.?ca[^\\n]*\\)$`,
          "i",
        ),
      );
    });
  }, notDenoNodeTls(way));

  test(
    `${way}: a cert and key that do not match are a TypeError the robust client does not retry`,
    async () => {
      const c = certs!;
      await withBroker({ requireCertificate: true }, async (b) => {
        const ssl_params = {
          cadata: c.pem("ca.pem"),
          cert: c.pem("client.pem"),
          key: c.pem("stranger.key"),
        };
        const e = await refusal(client(way, b, ssl_params));
        assert.match(e.message, /: Invalid ssl_params: /);
        assert.ok(e.cause instanceof TypeError, `cause: ${e.cause}`);

        const later = await givenUp(way, b, ssl_params);
        assert.match(later.message, /Invalid ssl_params: /);
      });
    },
    notDenoNodeTls(way),
  );
}

// A broker refusing our certificate refuses the client itself, the TLS form of
// bad credentials (with use_identity_as_username the certificate is the user
// name): as a refused password, it is not retried, and what waits on the
// robust client's reconnect rejects with it. Before, it reconnected for ever.
for (const way of WAYS) {
  test(
    `${way}: the robust client does not retry a broker's refusal of its certificate`,
    async () => {
      const c = certs!;
      await withBroker({ requireCertificate: true }, async (b) => {
        for (
          const ssl_params of [
            { cadata: c.pem("ca.pem") },
            { cadata: c.pem("ca.pem"), cert: c.pem("stranger.pem"), key: c.pem("stranger.key") },
          ]
        ) {
          const e = await givenUp(way, b, ssl_params);
          assert.match(e.message, /TLS: the broker (requires a|refused the) client certificate/);
        }
      });
    },
    notDenoNodeTls(way),
  );
}

// A broker certificate the client refuses speaks of the server, as a refused
// TCP connection does (its operator may renew it): the robust client goes on
// trying, each `reconnecting` event carrying the explained error.
test("the robust client retries a server certificate it refuses, saying why", async () => {
  await withBroker({}, async (b) => {
    const robust = client("default connector", b, {}, RobustClient) as RobustClient;
    robust.DELAY = 0.01;
    const errors: unknown[] = [];
    robust.addEventListener("reconnecting", (e) => errors.push(e.detail.error));
    const p = robust.publish("t", "m", false, 1).then(() => null, (e) => e);
    try {
      await until(() => errors.length >= 3, "a third attempt");
      assert.match(String(errors[1]), /TLS: the broker's certificate is not signed by a CA/);
    } finally {
      await robust.disconnect();
    }
    assert.ok(await p instanceof MQTTConnectionError);
  });
}, opts);

// A cadata holding PEM but no certificate (the key's file given for the CA's)
// was taken, then ignored by every runtime: the broker's certificate was then
// "not signed by a CA the client trusts", and the error sent the user back
// to the cadata they had given. It is refused when the client is made.
test("ssl_params.cadata with PEM but no certificate in it (a key) is a TypeError", () => {
  const key =
    "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n";
  for (const Client of [MQTTClient, RobustClient]) {
    assert.throws(
      () => new Client("id", "mqtts://h", { ssl_params: { cadata: key } }),
      /^TypeError: Invalid ssl_params\.cadata: no certificate in it \(a key\? give the CA's\)$/,
    );
  }
});

// mqtts:// to a plain MQTT listener: mosquitto takes the ClientHello for a
// packet and resets the connection. That was "connection reset" (Deno) or
// "read ECONNRESET" (Node, Bun) alone: the handshake's cut now asks whether the
// port is a TLS listener's.
for (const way of WAYS) {
  test(`${way}: mqtts:// to a plain MQTT listener asks whether it is a TLS listener`, async () => {
    const broker = await startMosquitto();
    try {
      const plain = { ...broker, tlsPort: broker.port };
      const e = await refusal(client(way, plain, { cadata: certs!.pem("ca.pem") }));
      assert.match(
        e.message,
        new RegExp(
          `^Cannot connect to 127\\.0\\.0\\.1:${broker.port}: TLS: the server ended the connection during the TLS handshake: not a TLS listener\\? \\(mqtt:// for plain MQTT\\) \\(.+\\)$`,
        ),
      );
    } finally {
      await broker.stop();
    }
  }, opts);
}

// mqtts:// to a listener that answers in plain text (a WebSocket or HTTP port):
// the runtime's words alone, "received corrupt message of type
// InvalidContentType" (Deno), a line of OpenSSL internals ending in "wrong
// version number" and blank lines (Node), "WRONG_VERSION_NUMBER" (Bun), named
// no TLS mismatch (Deno's node:tls: both of the first two). It now asks whether the port is a TLS listener's, with the
// runtime's reason alone after it.
for (const way of WAYS) {
  test(
    `${way}: mqtts:// to a plain WebSocket listener asks whether it is a TLS listener`,
    async () => {
      const broker = await startMosquitto({ websockets: true });
      try {
        const port = Number(new URL(broker.wsUrl!).port);
        const e = await refusal(
          client(way, { ...broker, tlsPort: port }, { cadata: certs!.pem("ca.pem") }),
        );
        assert.match(
          e.message,
          new RegExp(
            `^Cannot connect to 127\\.0\\.0\\.1:${port}: TLS: the server's answer is not TLS: not a TLS listener\\? \\(mqtt:// for plain MQTT\\) \\((received corrupt message of type InvalidContentType|wrong version number|WRONG_VERSION_NUMBER)( \\(SSL routines:ssl3_get_record:wrong version number\\))?\\)$`,
          ),
        );
      } finally {
        await broker.stop();
      }
    },
    opts,
  );
}
