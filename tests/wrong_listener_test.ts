// A client sent to a listener that does not speak MQTT over TCP — mqtt:// to
// a WebSocket port, the commonest wrong port — gets an error that shows what
// answered, not only the MQTT rule its bytes happen to break.
import assert from "node:assert/strict";
import { MQTTClient, MQTTConnectionError } from "../mod.ts";
import process from "node:process";
import { connectNode } from "../lib/transports/node.ts";
import { brokerKinds, startMosquitto } from "./_brokers.ts";
import { makeCerts } from "./_certs.ts";
import { test, uniqueId } from "./_test.ts";

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
