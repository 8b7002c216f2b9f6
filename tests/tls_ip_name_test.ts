// ssl_params.server_hostname given as an IP address, through the node:tls
// adapter (Node and Bun): the address is verified against the certificate's
// IP entries, and nothing is printed (Node's DEP0123 for an IP `servername`)
// or thrown (Bun refuses one) on the way. Run with `bun test` for Bun.
import assert from "node:assert/strict";
import process from "node:process";
import { MQTTClient, MQTTConnectionError, type SslParams } from "../mod.ts";
import { connectNode } from "../lib/transports/node.ts";
import { brokerKinds, startMosquitto } from "./_brokers.ts";
import { makeCerts } from "./_certs.ts";
import { test, uniqueId } from "./_test.ts";

const hasMosquitto = brokerKinds().includes("mosquitto");
const certs = hasMosquitto ? makeCerts() : undefined;
if ("Deno" in globalThis) globalThis.addEventListener("unload", () => certs?.remove());
else process.once("exit", () => certs?.remove());

/** Connects to "localhost" verifying `server_hostname`; returns the error, if any, and the warnings. */
async function attempt(server_hostname: string) {
  const broker = await startMosquitto({ tls: certs!.serverTls() });
  const warnings: string[] = [];
  const onWarning = (w: Error) => void warnings.push(`${w.name}: ${w.message}`);
  process.on("warning", onWarning);
  try {
    const ssl_params: SslParams = { cadata: certs!.pem("ca.pem"), server_hostname };
    const client = new MQTTClient(uniqueId("tlsip"), "localhost", {
      connectTimeout: 5000,
      transport: () =>
        connectNode({ hostname: "localhost", port: broker.tlsPort!, ssl: true, ssl_params }),
    });
    const error = await client.connect().then(() => client.disconnect(), (e) => e);
    await new Promise((r) => setTimeout(r, 10)); // warnings are emitted on a later tick
    return { error, warnings };
  } finally {
    process.off("warning", onWarning);
    await broker.stop();
  }
}

const opts = { ignore: !hasMosquitto };

test(
  "node:tls adapter: server_hostname as an IP in the certificate connects, silently",
  async () => {
    const { error, warnings } = await attempt("127.0.0.1");
    assert.equal(error, undefined, `connect failed: ${error}`);
    assert.deepEqual(warnings, []);
  },
  opts,
);

test("node:tls adapter: server_hostname as an IP not in the certificate is refused", async () => {
  const { error, warnings } = await attempt("10.1.2.3");
  assert.ok(error instanceof MQTTConnectionError, `expected MQTTConnectionError, got ${error}`);
  assert.match(String(error.cause), /10\.1\.2\.3 is not in the cert's list/);
  assert.deepEqual(warnings, []);
}, opts);
