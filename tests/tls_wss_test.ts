// wss:// to a mosquitto TLS WebSocket listener whose certificate a private CA
// signed: ssl_params do not apply there (a TypeError), and the README's way
// to trust that CA, DENO_CERT, works for the client under Deno, which refuses
// the server without it. Deno only: it runs deno children.
import assert from "node:assert/strict";
import { chmodSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { freePort, startMosquitto } from "./_brokers.ts";
import { makeCerts } from "./_certs.ts";
import { test } from "./_test.ts";

/** Runs a Deno child that connects to `url` and prints "connected" or the error's message. */
async function connectFromChild(url: string, env: Record<string, string>): Promise<string> {
  const mod = new URL("../mod.ts", import.meta.url).href;
  const code = `import { MQTTClient } from ${JSON.stringify(mod)};
const c = new MQTTClient("wss-ca", ${JSON.stringify(url)}, { connectTimeout: 5000 });
await c.connect().then(() => c.disconnect().then(() => console.log("connected")), (e) => console.log(e.message));`;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--quiet", code],
    env,
    stdout: "piped",
    stderr: "inherit",
  }).output();
  return new TextDecoder().decode(out.stdout).trim();
}

test(
  "wss:// with a private CA: refused, then trusted through DENO_CERT as the README says",
  async () => {
    const certs = makeCerts();
    // Read by mosquitto, which drops to its own user.
    chmodSync(certs.dir, 0o755);
    for (const f of readdirSync(certs.dir)) chmodSync(join(certs.dir, f), 0o644);
    const port = freePort();
    const broker = await startMosquitto({
      extraConfig: [
        `listener ${port} 127.0.0.1`,
        "protocol websockets",
        `cafile ${certs.path("ca.pem")}`,
        `certfile ${certs.path("server.pem")}`,
        `keyfile ${certs.path("server.key")}`,
      ],
    });
    try {
      const url = `wss://127.0.0.1:${port}/mqtt`;
      // startMosquitto waits for this extraConfig listener too (tests/_brokers.ts ready()).
      const refused = await connectFromChild(url, {});
      assert.match(refused, /^Cannot connect to 127\.0\.0\.1:\d+: .*UnknownIssuer/);
      assert.equal(await connectFromChild(url, { DENO_CERT: certs.path("ca.pem") }), "connected");
    } finally {
      await broker.stop();
      certs.remove();
    }
  },
  { mosquitto: true },
);
