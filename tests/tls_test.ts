// The built-in Deno TLS transport against mosquitto TLS listeners, with
// certificates made at test time: verification is on by default, the CA
// comes in through ssl_params.cadata, server_hostname picks the name that is
// verified, and a client certificate works for mutual TLS.
import assert from "node:assert/strict";
import { MQTTClient, MQTTConnectionError } from "../mod.ts";
import { type Broker, brokerKinds, startMosquitto } from "./_brokers.ts";
import { makeCerts, type TestCerts } from "./_certs.ts";
import { test, uniqueId } from "./_test.ts";

const hasMosquitto = brokerKinds().includes("mosquitto");
const certs: TestCerts | undefined = hasMosquitto ? makeCerts() : undefined;
globalThis.addEventListener?.("unload", () => certs?.remove());

async function withTlsBroker(mutual: boolean, fn: (b: Broker, c: TestCerts) => Promise<void>) {
  const c = certs!;
  const broker = await startMosquitto({
    tls: {
      cafile: c.path("ca.pem"),
      certfile: c.path("server.pem"),
      keyfile: c.path("server.key"),
      requireCertificate: mutual,
    },
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

test("mutual TLS: a client certificate from ssl_params.cert/key is accepted", async () => {
  await withTlsBroker(true, async (b, c) => {
    const client = new MQTTClient(uniqueId("mtls"), `mqtts://127.0.0.1:${b.tlsPort}`, {
      ssl_params: { cadata: c.pem("ca.pem"), cert: c.pem("client.pem"), key: c.pem("client.key") },
    });
    await roundTrip(client);
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
