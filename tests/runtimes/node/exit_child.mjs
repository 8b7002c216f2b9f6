// Run by node/smoke.test.mjs in the npm app as its own process, with the
// runtime's default handling of unhandled rejections and 'error' events
// (either ends it with a non-zero code): a refused connect, a connect timed
// out by a server that never answers, disconnect() while connecting, a robust
// client disconnected while it reconnects, a connection reset while idle, and
// a connect/disconnect against the broker in argv[2]. Each client is left
// without a listener or pending call. The process must then exit by itself,
// with code 0, printing "done".
import { createServer } from "node:net";
import { MQTTClient } from "@umqtt/umqtt";
import { MQTTClient as Robust } from "@umqtt/umqtt/robust";

const listen = (server) =>
  new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server.address().port)));
const rejects = async (promise, what) => {
  const ok = await promise.then(() => true, () => false);
  if (ok) throw new Error(`${what} resolved`);
};

// A port nothing listens on.
const spare = createServer();
const refused = await listen(spare);
await new Promise((resolve) => spare.close(resolve));
// Accepts and never answers; unref'd, so only the clients could hold the process.
const mute = createServer((s) => s.on("error", () => {}));
const mutePort = await listen(mute);
mute.unref();
// Answers CONNECT with CONNACK, then resets the connection (RST) on the next
// packet: the client's own keepalive PINGREQ.
const resets = createServer((s) => {
  s.on("error", () => {});
  s.once("data", () => {
    s.write(Uint8Array.of(0x20, 2, 0, 0));
    s.once("data", () => s.resetAndDestroy());
  });
});
const resetPort = await listen(resets);

await rejects(new MQTTClient("exit-refused", `mqtt://127.0.0.1:${refused}`).connect(), "refused");
await rejects(
  new MQTTClient("exit-mute", `mqtt://127.0.0.1:${mutePort}`, { connectTimeout: 200 }).connect(),
  "no CONNACK",
);
const early = new MQTTClient("exit-early", `mqtt://127.0.0.1:${mutePort}`);
const connecting = rejects(early.connect(), "disconnected while connecting");
await new Promise((resolve) => setTimeout(resolve, 50));
await early.disconnect();
await connecting;
const robust = new Robust("exit-robust", `mqtt://127.0.0.1:${mutePort}`, { connectTimeout: 100 });
const reconnecting = rejects(robust.connect(), "robust, disconnected");
await new Promise((resolve) => setTimeout(resolve, 300));
await robust.disconnect();
await reconnecting;

const reset = new MQTTClient("exit-reset", `mqtt://127.0.0.1:${resetPort}`, { keepalive: 1 });
const lost = new Promise((resolve) => reset.addEventListener("disconnected", resolve));
await reset.connect();
await lost; // the reset, met by the keepalive with no call of ours pending
resets.close();

const real = new MQTTClient("exit-real", process.argv[2], { keepalive: 30 });
await real.connect();
await real.subscribe("exit-real/#", 1);
await real.disconnect();
console.log("done");
