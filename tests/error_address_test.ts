// The address a connect() error names, as a user reads it: an IPv6 address
// in brackets, as in the URL, so that its port stands apart ("::1:1883" is
// itself an IPv6 address, with no port).
import assert from "node:assert/strict";
import { MQTTClient, MQTTConnectionError } from "../mod.ts";
import { freePort } from "./_brokers.ts";
import { test, uniqueId } from "./_test.ts";

test("a connect() error names an IPv6 address in brackets, its port after", async () => {
  const port = freePort();
  const client = new MQTTClient(uniqueId("v6"), `mqtt://[::1]:${port}`);
  const e = await client.connect().then(() => null, (e) => e);
  assert.ok(e instanceof MQTTConnectionError, `expected MQTTConnectionError, got ${e}`);
  assert.ok(
    e.message.startsWith(`Cannot connect to [::1]:${port}: `),
    `the address is [::1]:${port} in: ${e.message}`,
  );
});

test("with several servers, each failure names its IPv6 address in brackets", async () => {
  const port = freePort();
  const client = new MQTTClient(uniqueId("v6l"), [`mqtt://[::1]:${port}`, `[::1]`], { port });
  const e = await client.connect().then(() => null, (e) => e);
  assert.ok(e instanceof MQTTConnectionError, `expected MQTTConnectionError, got ${e}`);
  assert.match(e.message, /^Cannot connect to any of the 2 servers: /);
  assert.ok(
    e.message.includes(`mqtt://[::1]:${port}: Cannot connect to [::1]:${port}: `),
    `the address is [::1]:${port} in: ${e.message}`,
  );
});

// A host with IPv6 and IPv4 addresses (`localhost` where /etc/hosts lists
// ::1 too, as Debian's, Fedora's, macOS's and Docker's do) is tried on each
// by node:net's autoSelectFamily, which fails with an AggregateError whose
// message is empty: the error read "Cannot connect to localhost:1883: " and
// said nothing more. The lookup is the test's own, as no /etc/hosts can be
// assumed; node:net is Deno's under `deno test`, Bun's under `bun test`.
test("node:net: a host whose IPv6 and IPv4 addresses both refuse names each attempt", async () => {
  const { connect } = await import("node:net");
  const { socketStreams } = await import("../lib/transports/node.ts");
  const port = freePort();
  const addresses = [{ address: "::1", family: 6 }, { address: "127.0.0.1", family: 4 }];
  const lookup = (
    _host: string,
    _options: unknown,
    callback: (e: null, all: typeof addresses) => void,
  ) => callback(null, addresses);
  const client = new MQTTClient(uniqueId("dual"), "dual.test", {
    port,
    transport: () =>
      socketStreams(connect({ host: "dual.test", port, lookup, autoSelectFamily: true } as never)),
  });
  const e = await client.connect().then(() => null, (e) => e);
  assert.ok(e instanceof MQTTConnectionError, `expected MQTTConnectionError, got ${e}`);
  assert.ok(e.message.includes(`ECONNREFUSED ::1:${port}`), e.message);
  assert.ok(e.message.includes(`ECONNREFUSED 127.0.0.1:${port}`), e.message);
});
