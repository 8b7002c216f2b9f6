// The smoke scenario in Deno through the default connector: TCP against each
// broker, TLS and WebSocket against mosquitto listeners made for the test.
import assert from "node:assert/strict";
import { MQTTClient, MQTTConnectionError } from "../../../mod.ts";
import { connectWebSocket } from "../../../lib/transports/websocket.ts";
import { forEachBroker, startMosquitto } from "../../_brokers.ts";
import { makeCerts } from "../../_certs.ts";
import { test, uniqueId } from "../../_test.ts";
import { smoke } from "../_smoke.mjs";
import { assertHeadersReachHandshake } from "../_ws_headers.ts";

forEachBroker(
  "Deno smoke: TCP through the default connector",
  async (broker) => {
    const result = await smoke((id) => new MQTTClient(id, broker.url));
    assert.deepEqual(result, { received: 3, bytes: 256 + 2 * 65536 });
  },
);

test("Deno smoke: TLS (mqtts://) with the test CA", async () => {
  const certs = makeCerts();
  const broker = await startMosquitto({
    tls: certs.serverTls(),
  });
  try {
    await smoke((id) =>
      new MQTTClient(id, `mqtts://127.0.0.1:${broker.tlsPort}`, {
        ssl_params: { cadata: certs.pem("ca.pem") },
      })
    );
  } finally {
    await broker.stop();
    certs.remove();
  }
}, { mosquitto: true });

test(
  "Deno smoke: WebSocket (ws:// URL, then the adapter with headers)",
  async () => {
    const broker = await startMosquitto({ websockets: true });
    try {
      await smoke((id) => new MQTTClient(id, broker.wsUrl!));
      // mosquitto 2.0.11's WebSocket listener needs ~1.5 s to send a 64 KiB
      // message (measured with a bare WebSocket too), so the second client
      // checks the adapter's path and headers without the big payloads.
      const viaAdapter = new MQTTClient(uniqueId("ws"), "unused", {
        transport: () =>
          connectWebSocket(`${broker.wsUrl}/mqtt`, {
            headers: { "x-umqtt-test": "1" },
          }),
      });
      await viaAdapter.connect();
      await viaAdapter.ping();
      // The broker going away must end a pending read (a BYOB read on the
      // WebSocket's byte stream), so that the waiting call learns of it.
      const waiting = viaAdapter.wait_msg().then(() => null, (e) => e);
      await broker.stop();
      assert.ok((await waiting) instanceof MQTTConnectionError);
      assert.equal(viaAdapter.connected, false);
    } finally {
      await broker.stop();
    }
  },
  { mosquitto: true, timeout: 30_000 },
);

test(
  "WebSocket adapter: extra headers reach the handshake (Deno's global WebSocket)",
  assertHeadersReachHandshake,
);
