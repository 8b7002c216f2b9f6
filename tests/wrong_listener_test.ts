// A client sent to a listener that does not speak MQTT over TCP — mqtt:// to
// a WebSocket port, the commonest wrong port — gets an error that shows what
// answered, not only the MQTT rule its bytes happen to break.
import assert from "node:assert/strict";
import { MQTTClient, MQTTConnectionError } from "../mod.ts";
import { type AddressInfo, createServer } from "node:net";
import process from "node:process";
import { createServer as createTlsServer } from "node:tls";
import { connectNode } from "../lib/transports/node.ts";
import { brokerKinds, startMosquitto } from "./_brokers.ts";
import { makeCerts } from "./_certs.ts";
import { MQTTClient as RobustClient } from "../lib/robust.ts";
import { test, uniqueId, until } from "./_test.ts";

for (const protocolVersion of [4, 5] as const) {
  test(`mqtt:// to a WebSocket listener: the error shows its HTTP answer (MQTT ${protocolVersion})`, async () => {
    const broker = await startMosquitto({ websockets: true });
    try {
      const url = new URL(broker.wsUrl!);
      const client = new MQTTClient(uniqueId("wrong"), `mqtt://${url.host}`, { protocolVersion });
      const e = await client.connect().then(() => null, (e) => e);
      assert.ok(e instanceof MQTTConnectionError, `expected MQTTConnectionError, got ${e}`);
      assert.match(
        e.message,
        /Expected CONNACK first, got text "HTTP\/1\.[01] 4[^"]*": not an MQTT listener\? \(MQTT-3\.2\.0-1\)/,
      );
      assert.equal(client.connected, false);
    } finally {
      await broker.stop();
    }
  });
}

// mqtt:// to a TLS listener: mosquitto takes the CONNECT for a ClientHello and
// resets the connection before answering anything. That was "Connection lost:
// Connection reset by peer" (Deno) or "read ECONNRESET" (Node, Bun) alone,
// naming neither the server nor TLS; a reset before the broker's first byte
// now names both, through the default connector and the node:net adapter.
const certs = brokerKinds().includes("mosquitto") ? makeCerts() : undefined;
if ("Deno" in globalThis) globalThis.addEventListener("unload", () => certs?.remove());
else process.once("exit", () => certs?.remove());
for (const way of ["default connector", "node:net adapter"]) {
  test(`${way}: mqtt:// to a TLS listener asks whether it is one`, async () => {
    const broker = await startMosquitto({ tls: certs!.serverTls() });
    try {
      const port = broker.tlsPort!;
      const client = new MQTTClient(uniqueId("wrong"), `mqtt://127.0.0.1:${port}`, {
        connectTimeout: 5000,
        ...(way === "node:net adapter"
          ? { transport: (signal) => connectNode({ hostname: "127.0.0.1", port, signal }) }
          : {}),
      });
      const e = await client.connect().then(() => null, (e) => e);
      assert.ok(e instanceof MQTTConnectionError, `expected MQTTConnectionError, got ${e}`);
      assert.match(
        e.message,
        new RegExp(
          `^Connection lost: 127\\.0\\.0\\.1:${port} reset the connection before answering CONNECT: a TLS listener\\? \\(mqtts:// for TLS\\) \\(.+\\)$`,
        ),
      );
      assert.equal(client.connected, false);
    } finally {
      await broker.stop();
    }
  }, { ignore: !certs });
}

// A TLS listener that answers a plain CONNECT with a TLS alert (rustls: Deno's
// node:tls) was "the broker broke the protocol: CONNECT fixed header flags are
// 0x5, must be 0x0 (MQTT-2.2.2-1)", the alert's bytes read as a packet; one that
// ends the connection (OpenSSL's s_server, Node's node:tls) "Connection closed by
// the broker before its CONNACK", which said no more. Both now point at TLS.
const ANSWERS = {
  "a TLS alert": [0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x46], // fatal protocol_version
  "an end": [],
};
const SAID = {
  "a TLS alert":
    "Connection closed: the broker broke the protocol: Expected CONNACK first, got a TLS alert (mqtts:// for TLS): not an MQTT listener? (MQTT-3.2.0-1)",
  "an end":
    "Connection closed by the broker before its CONNACK (a TLS listener, or a CONNECT it refuses?)",
};
for (const [answer, bytes] of Object.entries(ANSWERS) as [keyof typeof ANSWERS, number[]][]) {
  test(`mqtt:// to a listener that answers CONNECT with ${answer} asks whether it is TLS`, async () => {
    const e = await answeredWith(bytes);
    assert.ok(e instanceof MQTTConnectionError, `expected MQTTConnectionError, got ${e}`);
    assert.equal(e.message, SAID[answer]);
  });
}

/** What connect() fails with when the server answers CONNECT with `bytes` and ends. */
async function answeredWith(bytes: readonly number[]): Promise<unknown> {
  const server = createServer((socket) => {
    socket.on("error", () => {});
    socket.once("data", () => socket.end(Uint8Array.from(bytes)));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  try {
    const { port } = server.address() as AddressInfo;
    const client = new MQTTClient(uniqueId("wrong"), `mqtt://127.0.0.1:${port}`);
    return await client.connect().then(() => null, (e) => e);
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
}

// A real one: this runtime's node:tls, which answers one way or the other.
test("mqtt:// to a node:tls listener asks whether it is TLS", async () => {
  const server = createTlsServer({ cert: certs!.pem("server.pem"), key: certs!.pem("server.key") });
  server.on("tlsClientError", () => {});
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  try {
    const { port } = server.address() as AddressInfo;
    const client = new MQTTClient(uniqueId("wrong"), `mqtt://127.0.0.1:${port}`);
    const e = await client.connect().then(() => null, (e) => e);
    assert.ok(e instanceof MQTTConnectionError, `expected MQTTConnectionError, got ${e}`);
    assert.ok(
      Object.values(SAID).includes(e.message) || /a TLS listener\?/.test(e.message),
      e.message,
    );
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
}, { ignore: !certs });

// README "Errors": what a 3.1.1 client makes of an MQTT 5 broker's CONNACK 0x84
// (MQTT-3.1.2-2 lets a broker answer another level so), a port 0 in a URL, and an
// IPv6 address without brackets in one.
test("README Errors: a 3.1.1 client cannot read an MQTT 5 CONNACK 0x84", async () => {
  for (
    const [bytes, said] of [
      [[0x20, 3, 0, 0x84, 0], /Malformed CONNACK: 1 bytes left after its last field/],
      [[0x20, 2, 0, 0x84], /^Connection refused: reserved return code 132$/],
    ] as const
  ) {
    const e = await answeredWith(bytes) as Error | null;
    assert.match(e?.message ?? `${e}`, said);
  }
});

test("README Errors: :0 in a URL is the scheme's default port; mqtt://::1:1883 is not a URL", () => {
  assert.equal(new MQTTClient("id", "mqtt://127.0.0.1:0").url, "mqtt://127.0.0.1:1883");
  assert.throws(
    () => new MQTTClient("id", "mqtt://::1:1883"),
    /^TypeError: Invalid server "mqtt:\/\/::1:1883": not a URL \(mqtt:\/\/host\[:port\]\)$/,
  );
});

test("README Errors: the robust client retries a wrong port (a TLS listener's alert)", async () => {
  const server = createServer((socket) => {
    socket.on("error", () => {});
    socket.once("data", () => socket.end(Uint8Array.from(ANSWERS["a TLS alert"])));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const client = new RobustClient(uniqueId("wrong"), `mqtt://127.0.0.1:${port}`);
  client.DELAY = 0.01;
  try {
    const errors: unknown[] = [];
    client.addEventListener("reconnecting", (e) => errors.push(e.detail.error));
    void client.reconnect().catch(() => {});
    await until(() => errors.length >= 3, "three reconnect attempts");
    assert.match(String(errors[2]), /got a TLS alert \(mqtts:\/\/ for TLS\)/);
  } finally {
    await client.disconnect();
    await new Promise((resolve) => server.close(resolve));
  }
});
