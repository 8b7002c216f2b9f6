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
