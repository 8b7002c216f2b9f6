// A TypeScript app of the packed npm package, type-checked by run.ts's npm
// scenario with tsc under the module resolutions users have (node16,
// bundler, and the older node10 that reads no `exports`), with strict
// settings (exactOptionalPropertyTypes, noUncheckedIndexedAccess,
// skipLibCheck false) and a browser's lib, no @types/node. Never run. (Under
// `deno check`, "@umqtt/umqtt" is the source itself.)
import { type Message, MQTTClient, type MQTTClientOptions } from "@umqtt/umqtt";
import { MQTTClient as Robust } from "@umqtt/umqtt/robust";
import { PacketDecoder } from "@umqtt/umqtt/codec";
import { connectWebSocket } from "@umqtt/umqtt/websocket";
import { connectCloudflare } from "@umqtt/umqtt/cloudflare";

declare const env: string | undefined;
declare const signal: AbortSignal | undefined;

export async function main(): Promise<number> {
  // Options that may be undefined, as from the environment.
  const options: MQTTClientOptions = {
    user: env,
    password: env,
    protocolVersion: 5,
  };
  const c = new MQTTClient("id", "mqtt://broker", options);
  const seen: Message[] = [];
  c.set_callback((_topic, _msg, message) => seen.push(message)); // returns a number
  await c.connect({ clean_session: false, signal });
  const granted: number = await c.subscribe("a/#", 1);
  const codes: number[] = await c.subscribe([["b/#", {
    qos: 2,
    noLocal: true,
  }]], { signal });
  await c.publish("a/b", "m", { qos: 1, properties: { contentType: env } });
  // umqtt.simple's positional parameters, None (null) for user and password, as the README says.
  const none = new MQTTClient("id", "broker", 1883, null, null, 30);
  const robustNone = new Robust("id", "broker", 1883, null, null, 30, false);
  const r = new Robust("id", ["mqtt://a", "mqtt://b"], {
    reconnectMaxDelay: 5000,
  });
  // Events typed by name: no cast to CustomEvent.
  c.addEventListener("connected", (e) => seen.length > Number(e.detail.sessionPresent));
  r.addEventListener("reconnecting", (e) => e.detail.server.length + e.detail.delay);
  await r.connect(false);
  new PacketDecoder({ protocolVersion: 5 }).push(new Uint8Array(2));
  // A subclass may override the async disposer as the method it is.
  class Mine extends MQTTClient {
    override async [Symbol.asyncDispose](): Promise<void> {
      await super[Symbol.asyncDispose]();
    }
  }
  await using m = new Mine("x", "mqtt://broker");
  // The DOM's WebSocket, or a subclass of it, passed as the constructor.
  class Logged extends WebSocket {}
  const ws = new MQTTClient("id", "wss://broker/mqtt", {
    transport: (signal) => connectWebSocket("wss://broker/mqtt", { WebSocket: Logged, signal }),
  });
  void [m, ws, connectCloudflare, none, robustNone];
  return granted + codes.length + seen.length;
}
