// A connect() given up while its transport is still opening (a WebSocket or
// TLS handshake that never completes: TCP is accepted, then nothing comes
// back) closes what the transport opened, through the signal the client
// passes to it. Before, each such attempt left a socket open, and a
// reconnecting client leaked one per attempt.
import assert from "node:assert/strict";
import { MQTTClient, MQTTConnectionError } from "../mod.ts";
import { connectNode } from "../lib/transports/node.ts";
import { brokerKinds, startMosquitto } from "./_brokers.ts";
import { makeCerts } from "./_certs.ts";
import { FaultProxy } from "./_fault_proxy.ts";
import { test, uniqueId } from "./_test.ts";

const opts = { ignore: !brokerKinds().includes("mosquitto") };

async function until(f: () => boolean, what: string) {
  for (let i = 0; i < 500 && !f(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(f(), `never ${what}`);
}

/** Connects through a proxy that lets TCP in and nothing through; expects the timeout. */
async function timesOut(client: MQTTClient, proxy: FaultProxy) {
  const e = await client.connect().then(() => null, (e) => e);
  assert.ok(e instanceof MQTTConnectionError, `expected MQTTConnectionError, got ${e}`);
  assert.match(e.message, /timed out/);
  await until(() => proxy.connections === 0, "the attempt's socket is closed");
}

test("a WebSocket whose handshake never completes is closed when connect() times out", async () => {
  const broker = await startMosquitto({ websockets: true });
  const proxy = await FaultProxy.start({
    hostname: broker.host,
    port: Number(new URL(broker.wsUrl!).port),
  });
  try {
    proxy.blackhole(true);
    const c = new MQTTClient(uniqueId("wsab"), `ws://127.0.0.1:${proxy.port}/mqtt`, {
      connectTimeout: 300,
    });
    await timesOut(c, proxy);
  } finally {
    await proxy.close();
    await broker.stop();
  }
}, opts);

test(
  "a node:tls socket whose handshake never completes is destroyed when connect() times out",
  async () => {
    const certs = makeCerts();
    const broker = await startMosquitto({ tls: certs.serverTls(false) });
    const proxy = await FaultProxy.start({ hostname: broker.host, port: broker.tlsPort! });
    try {
      proxy.blackhole(true);
      const c = new MQTTClient(uniqueId("tlsab"), "127.0.0.1", {
        connectTimeout: 300,
        transport: (signal) =>
          connectNode({
            hostname: "127.0.0.1",
            port: proxy.port,
            ssl: true,
            ssl_params: { cadata: certs.pem("ca.pem") },
            signal,
          }),
      });
      await timesOut(c, proxy);
    } finally {
      await proxy.close();
      await broker.stop();
      certs.remove();
    }
  },
  opts,
);
