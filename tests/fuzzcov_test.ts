// Regressions found by coverage-guided fuzzing (Jazzer.js, libFuzzer's mutations guided by
// the coverage of the decoder, the CLI's argument parser and the server parser): each the
// smallest input the fuzzer found, kept as it was.
import assert from "node:assert/strict";
import { parsePubArgs, parseSubArgs } from "../lib/cli/_args.ts";
import { Console, makeClient } from "../lib/cli/_common.ts";
import { MQTTClient } from "../mod.ts";
import { parseServer, webSocketUrl } from "../lib/transports/endpoint.ts";
import { test } from "./_test.ts";

const PW = "pw-secret-5e1f";

test("umqtt: a URL given without -L is refused without showing its password", () => {
  // The fuzzer's input: -F took "-L" as its format, leaving the URL alone. Typed by hand, the
  // same happens to `umqtt pub mqtt://user:pw@host/t -m x`, a -L forgotten.
  const cases: [string[], (args: string[]) => unknown][] = [
    [["-F", "-L", `ws://u:${PW}@h:80/t/#`], parseSubArgs],
    [[`mqtt://user:${PW}@127.0.0.1/t`, "-m", "x"], parsePubArgs],
    [[`mqtt://user:${PW}@127.0.0.1/t`], parseSubArgs],
    [["-t", "t", "-m", "x", `mqtts://user:${PW}@[::1]:8883/t`], parsePubArgs],
  ];
  for (const [args, parse] of cases) {
    assert.throws(
      () => parse(args),
      (e: unknown) =>
        e instanceof Error && e.name === "UsageError" &&
        e.message.startsWith("unexpected argument") && !e.message.includes(PW) &&
        e.message.includes("…@"),
      JSON.stringify(args),
    );
  }
});

test('an empty bracketed host ("[]") is refused like an empty server', async () => {
  // parseServer("[]") gave the host name "", which Node's net.connect reads as localhost
  // (Deno.connect refuses it): a client given "[]" connected to 127.0.0.1 under Node.
  for (const ssl of [false, true]) {
    assert.throws(() => parseServer("[]", 0, ssl), {
      name: "TypeError",
      message: "Invalid server: must be a host name, an IP address or an mqtt:// URL",
    });
  }
  assert.throws(() => new MQTTClient("id", "[]"), TypeError);
  // umqtt -h "[]": a usage error before connecting.
  await assert.rejects(
    makeClient(MQTTClient, parsePubArgs(["-h", "[]", "-t", "t", "-m", "x"]), new Console("pub")),
    { name: "UsageError" },
  );
  // A bracketed address still is one.
  assert.equal(parseServer("[::1]", 0, false).hostname, "::1");
});

test("a ws:// URL's path is /mqtt only when it has none, whatever its query ends with", () => {
  // Whether a path was given was told by the URL's last character: "ws://h/?x=1" (the root, with
  // a query) went to /mqtt?x=1, and "ws://h?x=/" (no path) to the root. The fuzzer found the
  // second by the round trip parseServer(webSocketUrl(e)), which gave another path.
  const cases: [string, string][] = [
    ["ws://broker.local/?x=1", "ws://broker.local:80/?x=1"],
    ["ws://broker.local?x=/", "ws://broker.local:80/mqtt?x=/"],
    ["wss://broker.local/#top", "wss://broker.local:443/"],
    ["wss://0\t? \t0xn--mqtt:///", "wss://0.0.0.0:443/mqtt?%200xn--mqtt:///"], // the fuzzer's, cut short
    // Unchanged:
    ["ws://broker.local/", "ws://broker.local:80/"],
    ["ws://broker.local?x=1", "ws://broker.local:80/mqtt?x=1"],
    ["ws://broker.local/ws?x=1", "ws://broker.local:80/ws?x=1"],
  ];
  for (const [server, url] of cases) {
    const e = parseServer(server, 0, false);
    assert.equal(webSocketUrl(e), url, JSON.stringify(server));
    assert.deepEqual(parseServer(webSocketUrl(e), 0, e.ssl), e, `${JSON.stringify(server)} again`);
  }
});

test("a ws:// URL's extra slashes before the host are no path", () => {
  // The URL parser skips slashes and backslashes before a ws:// or wss:// URL's host (as for
  // http://): "ws:///h" is the host h with no path, /mqtt as before the path was told from what
  // follows the host; the slash after "//" was taken for a given root path.
  const cases: [string, string][] = [
    ["ws:///broker.local", "ws://broker.local:80/mqtt"],
    ["ws://\\broker.local", "ws://broker.local:80/mqtt"],
    ["wss:////broker.local:8443?x=1", "wss://broker.local:8443/mqtt?x=1"],
    // A path after the host is still one.
    ["ws:///broker.local/", "ws://broker.local:80/"],
    ["ws://\\broker.local\\ws", "ws://broker.local:80/ws"],
  ];
  for (const [server, url] of cases) {
    assert.equal(webSocketUrl(parseServer(server, 0, false)), url, JSON.stringify(server));
  }
});
