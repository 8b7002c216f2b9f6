// The smoke scenario in Bun (`bun test ./tests/runtimes/bun/smoke.bun.ts`):
// TCP through the default connector against each broker, TLS through the Bun
// adapter, WebSocket through Bun's global WebSocket. Named *.bun.ts so that
// `deno test tests/` leaves it to Bun.
import assert from "node:assert/strict";
import { MQTTClient } from "../../../mod.ts";
import { connectBun } from "../../../lib/transports/bun.ts";
import { forEachBroker, startMosquitto } from "../../_brokers.ts";
import { makeCerts } from "../../_certs.ts";
import { test } from "../../_test.ts";
import { smoke } from "../_smoke.mjs";
import { assertHeadersReachHandshake } from "../_ws_headers.ts";

if (!("Bun" in globalThis)) throw new Error("run this file with bun test");

forEachBroker(
  "Bun smoke: TCP through the default connector",
  async (broker) => {
    const result = await smoke((id) => new MQTTClient(id, broker.url));
    assert.deepEqual(result, { received: 3, bytes: 256 + 2 * 65536 });
  },
);

test("Bun smoke: TLS with the test CA, checking server_hostname", async () => {
  const certs = makeCerts();
  const broker = await startMosquitto({
    tls: certs.serverTls(),
  });
  try {
    const ssl_params = {
      cadata: certs.pem("ca.pem"),
      server_hostname: "broker.test",
    };
    await smoke((id) => new MQTTClient(id, `mqtts://127.0.0.1:${broker.tlsPort}`, { ssl_params }));
    const wrongName = new MQTTClient("x", "127.0.0.1", {
      transport: () =>
        connectBun({
          hostname: "127.0.0.1",
          port: broker.tlsPort!,
          ssl: true,
          ssl_params: { ...ssl_params, server_hostname: "other.test" },
        }),
    });
    await assert.rejects(wrongName.connect(), /other\.test|altnames|hostname/i);
    const untrusted = new MQTTClient(
      "x",
      `mqtts://127.0.0.1:${broker.tlsPort}`,
    );
    await assert.rejects(
      untrusted.connect(),
      /certificate|self.signed|issuer/i,
    );
  } finally {
    await broker.stop();
    certs.remove();
  }
}, { mosquitto: true });

test("Bun smoke: WebSocket through the global WebSocket", async () => {
  const broker = await startMosquitto({ websockets: true });
  try {
    await smoke((id) => new MQTTClient(id, broker.wsUrl!));
  } finally {
    await broker.stop();
  }
}, { mosquitto: true });

test(
  "WebSocket adapter: extra headers reach the handshake (Bun's global WebSocket)",
  assertHeadersReachHandshake,
);
