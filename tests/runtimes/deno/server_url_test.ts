// Server URLs that pick the transport: ws:// and wss:// select WebSocket,
// keep their path (default /mqtt) and default to ports 80/443.
import assert from "node:assert/strict";
import { MQTTClient } from "../../../mod.ts";
import { parseServer, webSocketUrl } from "../../../lib/transports/default.ts";
import { test } from "../../_test.ts";

const cases: [server: string, port: number, ssl: boolean, url: string][] = [
  ["ws://broker.test", 0, false, "ws://broker.test:80/mqtt"],
  ["wss://broker.test", 0, false, "wss://broker.test:443/mqtt"],
  ["ws://broker.test:9001", 0, false, "ws://broker.test:9001/mqtt"],
  ["ws://broker.test:9001/", 0, false, "ws://broker.test:9001/"],
  ["ws://broker.test/custom/path?token=a", 0, false, "ws://broker.test:80/custom/path?token=a"],
  ["ws://broker.test:9001/mqtt", 8080, false, "ws://broker.test:8080/mqtt"],
  ["ws://broker.test", 0, true, "wss://broker.test:443/mqtt"],
  ["WSS://[::1]:8443/mqtt", 0, false, "wss://[::1]:8443/mqtt"],
];

test("ws:// and wss:// URLs: path kept or /mqtt, ports 80/443, ssl turns ws into wss", () => {
  for (const [server, port, ssl, url] of cases) {
    const endpoint = parseServer(server, port, ssl);
    assert.equal(webSocketUrl(endpoint), url, server);
    assert.equal(endpoint.scheme, url.slice(0, url.indexOf(":")), server);
  }
  const client = new MQTTClient("id", "wss://broker.test/mqtt");
  assert.deepEqual([client.server, client.port, client.ssl], ["broker.test", 443, true]);
});

test("mqtt:// URLs and bare hosts keep umqtt's ports and carry no path", () => {
  assert.deepEqual(parseServer("mqtt://h", 0, false), {
    scheme: "mqtt",
    hostname: "h",
    port: 1883,
    ssl: false,
  });
  assert.deepEqual(parseServer("h", 0, true), {
    scheme: "mqtts",
    hostname: "h",
    port: 8883,
    ssl: true,
  });
  assert.throws(() => parseServer("http://h", 0, false), {
    name: "TypeError",
    message: /mqtt:\/\/, mqtts:\/\/, ws:\/\/ or wss:\/\//,
  });
});
