// Secrets and contradictory TLS settings: a password typed into a server URL
// never shows in an error, and TLS parameters given with no TLS server are a
// TypeError rather than a silent plaintext connection.
import assert from "node:assert/strict";
import { parsePubArgs, parseSubArgs } from "../lib/cli/_args.ts";
import { MQTTClient, MQTTConnectionError } from "../mod.ts";
import { test } from "./_test.ts";

const PW = "pw-secret-5e1f";

/** Runs `f`, which must throw, and returns the error's message and stack. */
function thrown(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    return `${(e as Error).message}\n${(e as Error).stack}`;
  }
  assert.fail("expected an error");
}

test("a password in a server URL the client refuses never shows in the error", () => {
  for (
    const server of [
      `tcp://user:${PW}@broker`, // another library's scheme
      `ssl://user:${PW}@broker:8883`,
      `user:${PW}@broker`, // no scheme: read as host:port
      `mqtt://user:${PW}@[broken`, // not a URL
      `mqtt://user:${PW}@broker`, // credentials in the URL are not used
    ]
  ) {
    const text = thrown(() => new MQTTClient("id", server));
    assert.ok(!text.includes(PW), `${server}: the error shows the password: ${text}`);
    assert.match(text, /^Invalid server/);
  }
});

test("umqtt -L: a usage error never shows the URL's password", () => {
  for (
    const url of [
      `mqtt://user:${PW}@127.0.0.1:1883`, // no topic
      `tcp://user:${PW}@127.0.0.1:1883/t`, // another scheme
      `mqtt://user:${PW}%zz@127.0.0.1:1883/t`, // a bad escape in the password itself
    ]
  ) {
    for (const parse of [parsePubArgs, parseSubArgs]) {
      const text = thrown(() => parse(["-L", url, "-m", "x"]));
      assert.ok(!text.includes(PW), `-L ${url}: the error shows the password: ${text}`);
      assert.match(text, /-L mqtt|-L tcp/);
    }
  }
});

test("ssl_params with no TLS server is a TypeError, not a plaintext connection", () => {
  const ssl_params = { cadata: "-----BEGIN CERTIFICATE-----\n…", server_hostname: "b.test" };
  for (const server of ["mqtt://127.0.0.1:1883", "127.0.0.1", ["mqtt://a", "b"]]) {
    assert.throws(
      () => new MQTTClient("id", server, { user: "u", password: PW, ssl_params }),
      (e: unknown) =>
        e instanceof TypeError && /ssl_params.*TLS/.test(e.message) && !e.message.includes(PW),
      `${server}`,
    );
  }
  // Where TLS is on for some server, they apply.
  new MQTTClient("id", "mqtts://127.0.0.1", { ssl_params });
  new MQTTClient("id", "127.0.0.1", { ssl: true, ssl_params });
  new MQTTClient("id", ["mqtts://a", "mqtt://b"], { ssl_params });
  // Empty ones are no contradiction.
  new MQTTClient("id", "127.0.0.1", { ssl_params: {} });
  new MQTTClient("id", "127.0.0.1", 1883, "u", "p", 0, false, {});
});

// A WebSocket URL's query often carries the credential (`?token=…`, a signed URL's
// X-Amz-Signature): the connection's error showed it, and so did a server refused as malformed.
test("a token in a WebSocket server's query never shows in an error", async () => {
  const TOKEN = "tok-" + PW;
  for (const server of [`ws://broker:x/mqtt?token=${TOKEN}`, `wss://[broken/mqtt?token=${TOKEN}`]) {
    const text = thrown(() => new MQTTClient("id", server));
    assert.ok(!text.includes(TOKEN), `${server}: the error shows the token: ${text}`);
    assert.match(text, /^Invalid server "wss?:\/\/[^"]*\?…"/);
  }
  // Nothing listens on the port: connect() rejects, and so does the robust client's first attempt.
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const server = `ws://127.0.0.1:${l.addr.port}/mqtt?token=${TOKEN}`;
  l.close();
  const error = await new MQTTClient("id", server).connect().then(() => null, (e) => e);
  assert.ok(error instanceof MQTTConnectionError);
  const cause = error.cause as Error;
  const shown = `${error.message}\n${error.stack}\n${cause.message}\n${cause.stack}`;
  assert.ok(!shown.includes(TOKEN), `the error shows the token: ${shown}`);
  assert.match(shown, /ws:\/\/127\.0\.0\.1:\d+\/mqtt\?…/);
});
