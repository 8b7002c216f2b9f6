// The CLI's TLS flags against a mosquitto TLS listener. `-d` connects as the
// built-in transport does: the handshake while connecting, so a refused
// certificate fails before CONNECT is traced, with the same explained error
// (before, -d opened Deno.connectTls without a handshake: "-> CONNECT", then
// "Connection lost: invalid peer certificate: UnknownIssuer"). And --cert
// without TLS says which flag turns TLS on, not which library option.
import assert from "node:assert/strict";
import { startMosquitto } from "./_brokers.ts";
import { makeCerts, type TestCerts } from "./_certs.ts";
import { cli } from "./_cli.ts";
import { test, uniqueId } from "./_test.ts";

let certs: TestCerts | undefined;
globalThis.addEventListener("unload", () => certs?.remove());

test(
  "pub -d: a server certificate the CA does not sign fails before CONNECT, explained",
  async () => {
    certs ??= makeCerts();
    const broker = await startMosquitto({ tls: certs.serverTls() });
    try {
      const url = `mqtts://127.0.0.1:${broker.tlsPort}/${uniqueId("clitls")}`;
      for (const debug of [[], ["-d"]]) {
        const r = await cli(["pub", ...debug, "-L", url, "-m", "x"]);
        assert.equal(r.code, 3, r.stderr);
        assert.equal(
          r.stderr,
          `umqtt pub: Cannot connect to 127.0.0.1:${broker.tlsPort}: TLS: the broker's certificate is not signed by a CA the client trusts: give that CA in ssl_params.cadata (invalid peer certificate: UnknownIssuer)\n`,
          `with ${debug.join(" ") || "no flags"}`,
        );
      }
    } finally {
      await broker.stop();
    }
  },
  { mosquitto: true },
);

test("pub -d over TLS with --cafile publishes, tracing CONNECT and CONNACK", async () => {
  certs ??= makeCerts();
  const broker = await startMosquitto({ tls: certs.serverTls() });
  try {
    const r = await cli([
      "pub",
      "-d",
      "-h",
      "127.0.0.1",
      "-p",
      String(broker.tlsPort),
      "--cafile",
      certs.path("ca.pem"),
      "-t",
      uniqueId("clitls"),
      "-m",
      "x",
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /-> CONNECT .*\n.*<- CONNACK/);
  } finally {
    await broker.stop();
  }
}, { mosquitto: true });

test("--cert and --key without TLS name the flags that turn it on", async () => {
  const r = await cli(["pub", "-t", "t", "-m", "x", "--cert", "c.pem", "--key", "k.pem"]);
  assert.equal(r.code, 2);
  assert.equal(
    r.stderr,
    "umqtt pub: --cert and --key need TLS: give --cafile, or an mqtts:// URL with -L (see --help)\n",
  );
});
