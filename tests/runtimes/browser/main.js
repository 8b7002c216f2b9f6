// The page's script, as a user of the library writes it: imports the
// library by its package name and runs the smoke scenario over WebSocket to
// the broker named in ?ws=. run.ts bundles it three ways: the TypeScript
// source (esbuild, an IIFE, "@umqtt/umqtt" aliased to mod.ts), and the
// packed npm package in a fresh app (esbuild; Vite with index.html).
import { MQTTClient } from "@umqtt/umqtt";
import { smoke } from "../_smoke.mjs";

const ws = new URL(location.href).searchParams.get("ws");
// Plain MQTT has no sockets here: connect() must say so (from the default
// connector's TCP half), not hang or throw something obscure.
const tcp = new MQTTClient("tcp", "mqtt://127.0.0.1").connect().then(
  () => "connected?!",
  (e) => String(e?.message),
);
globalThis.result = smoke((id) => new MQTTClient(id, ws)).then(
  async (r) => ({ ok: true, ...r, tcp: await tcp }),
  (e) => ({ ok: false, error: String(e?.stack ?? e) }),
);
