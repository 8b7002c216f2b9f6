// The built-in Deno transport turns Nagle's algorithm off (TCP_NODELAY), as
// the node:net one does: with it on, a small write that follows another
// still unacknowledged (a PUBACK, then the next PUBLISH) waits for the
// broker's delayed ACK, ~40 ms on Linux, so each MQTT 5 request/response
// round trip took ~44 ms instead of ~3. Read from the socket itself, through
// getsockopt: Linux only (/proc, libc), under Deno.
import assert from "node:assert/strict";
import { MQTTClient } from "../mod.ts";
import { connectNode } from "../lib/transports/node.ts";
import { startMosquitto } from "./_brokers.ts";
import { makeCerts } from "./_certs.ts";
import { test, uniqueId } from "./_test.ts";

const linux = "Deno" in globalThis && Deno.build.os === "linux";

/** TCP_NODELAY of each of this process's established TCP connections to `port`. */
function noDelayTo(port: number): number[] {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, "0")}`;
  const inodes = Deno.readTextFileSync("/proc/self/net/tcp").split("\n").slice(1)
    .map((row) => row.trim().split(/\s+/))
    // remote address, state 01 (ESTABLISHED), inode
    .filter((f) => f[2]?.endsWith(hex) && f[3] === "01")
    .map((f) => `socket:[${f[9]}]`);
  const libc = Deno.dlopen("libc.so.6", {
    getsockopt: { parameters: ["i32", "i32", "i32", "buffer", "buffer"], result: "i32" },
  });
  try {
    const found: number[] = [];
    for (const { name } of Deno.readDirSync("/proc/self/fd")) {
      let link: string;
      try {
        link = Deno.readLinkSync(`/proc/self/fd/${name}`);
      } catch {
        continue; // closed meanwhile
      }
      if (!inodes.includes(link)) continue;
      const value = new Int32Array(1);
      const size = new Uint32Array([4]);
      // IPPROTO_TCP 6, TCP_NODELAY 1
      assert.equal(libc.symbols.getsockopt(Number(name), 6, 1, value, size), 0);
      found.push(value[0]);
    }
    return found;
  } finally {
    libc.close();
  }
}

test("the Deno transport sets TCP_NODELAY: no write waits for a delayed ACK", async () => {
  const broker = await startMosquitto();
  try {
    const c = new MQTTClient(uniqueId("nodelay"), broker.host, {
      port: broker.port,
      protocolVersion: 5,
    });
    await c.connect();
    assert.deepEqual(noDelayTo(broker.port), [1]);
    await c.disconnect();
  } finally {
    await broker.stop();
  }
}, { mosquitto: true, ignore: !linux });

// eclipse-paho/paho.mqtt.c#530, bytebeamio/rumqtt#871, Azure/iot-operations-sdks#1358
// (every TLS path too), eclipse-mosquitto/mosquitto#433: without TCP_NODELAY a
// small write behind an unacknowledged one waits for the peer's delayed ACK,
// ~40 ms. The test above pins Deno's plain TCP; here the other ways
// under Deno: node:net, the default connector's TLS (mqtts://, with a client
// certificate and with a server_hostname), node:tls. Until 2026-12-06 every
// mqtts:// connection under Deno had Nagle on: a request/response round trip
// took 44 ms instead of 0.7.
test(
  "TCP_NODELAY under Deno on node:net, on mqtts:// (with a client certificate, with a server_hostname) and on node:tls",
  async () => {
    const certs = makeCerts();
    const broker = await startMosquitto({ tls: certs.serverTls(false) });
    try {
      const cadata = certs.pem("ca.pem");
      const cert = certs.pem("client.pem"), key = certs.pem("client.key");
      const tls = broker.tlsPort!;
      const ways: [string, number, () => MQTTClient][] = [
        ["node:net", broker.port, () =>
          new MQTTClient(uniqueId("nd"), "unused", {
            transport: () => connectNode({ hostname: "127.0.0.1", port: broker.port }),
          })],
        [
          "mqtts://",
          tls,
          () =>
            new MQTTClient(uniqueId("nd"), `mqtts://127.0.0.1:${tls}`, { ssl_params: { cadata } }),
        ],
        [
          "mqtts:// with a client certificate",
          tls,
          () =>
            new MQTTClient(uniqueId("nd"), `mqtts://127.0.0.1:${tls}`, {
              ssl_params: { cadata, cert, key },
            }),
        ],
        [
          "mqtts:// with a server_hostname",
          tls,
          () =>
            new MQTTClient(uniqueId("nd"), `mqtts://127.0.0.1:${tls}`, {
              ssl_params: { cadata, server_hostname: "broker.test" },
            }),
        ],
        ["node:tls", tls, () =>
          new MQTTClient(uniqueId("nd"), "unused", {
            transport: () =>
              connectNode({ hostname: "127.0.0.1", port: tls, ssl: true, ssl_params: { cadata } }),
          })],
      ];
      const found: Record<string, number[]> = {};
      for (const [way, port, make] of ways) {
        const c = make();
        await c.connect();
        found[way] = noDelayTo(port);
        await c.disconnect();
      }
      // Deno.connectTls, the only way Deno presents a client certificate, makes
      // a TlsConn with no setNoDelay: Nagle stays on there (README, Transports).
      // Should this fail, Deno has learnt to turn it off: do so, and say so.
      const expected = (way: string) => way.includes("client certificate") ? [0] : [1];
      assert.deepEqual(found, Object.fromEntries(ways.map(([way]) => [way, expected(way)])));
    } finally {
      await broker.stop();
      certs.remove();
    }
  },
  { mosquitto: true, ignore: !linux },
);
