// A client sent to a listener that does not speak MQTT over TCP — mqtt:// to
// a WebSocket port, the commonest wrong port — gets an error that shows what
// answered, not only the MQTT rule its bytes happen to break.
import assert from "node:assert/strict";
import { MQTTClient, MQTTConnectionError } from "../mod.ts";
import { startMosquitto } from "./_brokers.ts";
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
