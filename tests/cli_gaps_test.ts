// Gaps found by mutation testing of `umqtt pub` / `umqtt sub`: behaviour the
// other CLI tests left open, pinned here against mosquitto (and aedes where
// no broker feature is needed).
import assert from "node:assert/strict";
import { forEachBroker, startMosquitto } from "./_brokers.ts";
import { test, uniqueId } from "./_test.ts";
import { at, cli, subscribed } from "./_cli.ts";
import { parsePubArgs, parseSubArgs } from "../lib/cli/_args.ts";
import { escapePayload, formatter, jsonLine, jsonPayloadLine } from "../lib/cli/_format.ts";
import type { Message } from "../mod.ts";

const dec = new TextDecoder();

test("-p 0 is a usage error, not the scheme's default port", () => {
  for (const flag of ["-p", "--port"]) {
    assert.throws(() => parseSubArgs(["-t", "t", flag, "0"]), {
      name: "UsageError",
      message: `${flag} 0: must be an integer from 1 to 65535`,
    });
  }
  assert.equal(parsePubArgs(["-t", "t", "-n", "-p", "1"]).port, 1);
});

test(
  "sub with one of its subscriptions refused goes on with the others; all refused exits 1",
  async () => {
    const broker = await startMosquitto({ denySubscribe: ["gaps/secret"] });
    try {
      const hp = ["-h", broker.host, "-p", String(broker.port)];
      const open = `gaps/${uniqueId("open")}`;
      const sub = await subscribed([...hp, "-t", "gaps/secret", "-t", open, "-C", "1"]);
      await sub.waitFor(new RegExp(`<- SUBACK.*\\n(.|\\n)*<- SUBACK`));
      assert.equal((await cli(["pub", ...hp, "-t", open, "-m", "still here"])).code, 0);
      const r = await sub.result();
      assert.equal(r.code, 0, r.stderr);
      assert.equal(dec.decode(r.stdout), "still here\n");
      const all = await cli(["sub", ...hp, "-t", "gaps/secret"]);
      assert.equal(all.code, 1, all.stderr);
      assert.match(all.stderr, /every subscription was refused\n$/);
    } finally {
      await broker.stop();
    }
  },
  { mosquitto: true },
);

test("-L: the scheme in any case, as mosquitto takes it; an empty topic is a usage error", () => {
  const o = parseSubArgs(["-L", "MQTTS://broker.test/a/b"]);
  assert.deepEqual([o.scheme, o.host, o.topics], ["mqtts", "broker.test", ["a/b"]]);
  assert.equal(parsePubArgs(["-L", "Ws://h/t", "-n"]).scheme, "ws");
  for (const url of ["mqtt://h/", "mqtt://h"]) {
    assert.throws(() => parsePubArgs(["-L", url, "-n"]), {
      name: "UsageError",
      message: `-L ${url}: the URL needs a topic as its path`,
    });
  }
});

test("-L: an explicit port is kept, 80 too (which an http: URL leaves out as its default)", () => {
  for (const [url, port] of [["mqtt://h:80/t", 80], ["mqtts://h:80/t", 80], ["wss://h:80/t", 80]]) {
    assert.equal(parsePubArgs(["-L", url as string, "-n"]).port, port, url as string);
  }
  assert.equal(parsePubArgs(["-L", "mqtt://h:443/t", "-n"]).port, 443);
  assert.equal(
    parsePubArgs(["-L", "mqtt://h/t", "-n"]).port,
    0,
    "none given: the scheme's default",
  );
});

test("usage errors mosquitto_pub also refuses: -P without -u (MQTT 3.1.1), a will's flags without --will-topic", () => {
  const cases: [string[], string][] = [
    [["-P", "pw"], "-P needs -u: MQTT 3.1.1 sends a password only with a user name"],
    [["--will-retain"], "--will-payload and --will-retain need --will-topic"],
    [["--will-payload", "x"], "--will-payload and --will-retain need --will-topic"],
  ];
  for (const [args, message] of cases) {
    assert.throws(() => parsePubArgs(["-t", "t", "-m", "x", ...args]), {
      name: "UsageError",
      message,
    }, args.join(" "));
    assert.throws(() => parseSubArgs(["-t", "t", ...args]), { name: "UsageError", message });
  }
});

test("sub: -R with --retained-only is a usage error, as mosquitto_sub refuses it", () => {
  for (const args of [["-R", "--retained-only"], ["--retained-only", "--no-retained"]]) {
    assert.throws(() => parseSubArgs(["-t", "t", ...args]), {
      name: "UsageError",
      message: "-R and --retained-only cannot be combined",
    });
  }
});

test("pub --repeat-delay longer than a timer can wait is a usage error, not no delay at all", () => {
  // Past 2^31 - 1 ms setTimeout fires at once (Deno, Node, browsers): 25 days would be ~1 ms.
  for (const x of ["2147484", "3000000", "1" + "0".repeat(400)]) {
    assert.throws(() => parsePubArgs(["-t", "t", "-m", "x", "--repeat-delay", x]), {
      name: "UsageError",
      message: `--repeat-delay ${x}: must be a number of seconds from 0 to 2147483.647`,
    }, x);
  }
  for (const x of ["2147483", "2147483.647", "0.5"]) {
    assert.equal(parsePubArgs(["-t", "t", "-m", "x", "--repeat-delay", x]).repeatDelay, Number(x));
  }
});

forEachBroker("pub --repeat 2 --repeat-delay 1 waits a second between its publishes", async (b) => {
  const topic = uniqueId("cli-delay");
  // %U: when sub received each message, in seconds.
  const sub = await subscribed([...at(b), "-t", topic, "-C", "2", "-F", "%U %p"]);
  const args = ["-t", topic, "-m", "x", "--repeat", "2", "--repeat-delay", "1"];
  const pub = await cli(["pub", ...at(b), ...args]);
  assert.equal(pub.code, 0, pub.stderr);
  const lines = dec.decode((await sub.result()).stdout).trim().split("\n");
  assert.deepEqual(lines.map((l) => l.split(" ")[1]), ["x", "x"]);
  const [first, second] = lines.map((l) => Number(l.split(" ")[0]));
  assert.ok(second - first >= 0.9, `${second - first} s apart`);
}, { only: ["mosquitto"] });

/** `sub -F format`'s output for `msg`, as printed into a pipe. */
function formatted(format: string, msg: Partial<Message> = {}): string {
  const m: Message = {
    topic: "t",
    payload: new TextEncoder().encode("abc"),
    qos: 0,
    retain: false,
    dup: false,
    ...msg,
  };
  return dec.decode(
    formatter({ verbose: false, eol: false, format, json: false, terminal: false })(m),
  );
}

test("-F: `-` with `0` pads on the right with blanks, as mosquitto_sub 2.0 prints %-07p and %-07x", () => {
  // mosquitto_sub 2.0.11, payload "abc": [abc    ][0000abc] and, for %-07x, "61" then blanks.
  assert.equal(formatted("[%-07p][%07p][%-07x][%-05l]"), "[abc    ][0000abc][616263 ][3    ]");
});

test("-F: an absent MQTT 5 text property is blanks at its width, `0` or not, as mosquitto_sub prints it", () => {
  // mosquitto_sub 2.0.11 -V 5 -F '[%05C][%05E][%-5C]', a message without properties.
  assert.equal(formatted("[%05C][%05E][%-5C]", { properties: {} }), "[     ][00000][     ]");
});

test("on a terminal a newline and a tab stay as they are; other control bytes print as \\xNN", () => {
  const shown = dec.decode(escapePayload(new TextEncoder().encode("a\nb\tc\x01")));
  assert.equal(shown, "a\nb\tc\\x01");
});

test("-F %I in UTC ends +0000, as strftime's %z prints it", async () => {
  const format = new URL("../lib/cli/_format.ts", import.meta.url).href;
  const code = `import { formatter } from "${format}";
    const f = formatter({ verbose: false, eol: false, format: "%I", json: false, terminal: false });
    const m = { topic: "t", payload: new Uint8Array(), qos: 0, retain: false, dup: false };
    console.log(new TextDecoder().decode(f(m)));`;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", code],
    env: { TZ: "UTC" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, dec.decode(out.stderr));
  assert.match(dec.decode(out.stdout), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+0000\n$/);
});

forEachBroker(
  "sub --retained-only exits 0 at the first message that is not retained, unprinted, as mosquitto_sub",
  async (b) => {
    const root = uniqueId("cli-ro");
    assert.equal((await cli(["pub", ...at(b), "-t", `${root}/old`, "-m", "kept", "-r"])).code, 0);
    const sub = await subscribed([...at(b), "-t", `${root}/#`, "--retained-only", "-v"]);
    assert.equal((await cli(["pub", ...at(b), "-t", `${root}/new`, "-m", "live"])).code, 0);
    const r = await sub.result();
    assert.equal(r.code, 0, r.stderr);
    assert.equal(dec.decode(r.stdout), `${root}/old kept\n`);
    assert.equal((await cli(["pub", ...at(b), "-t", `${root}/old`, "-n", "-r"])).code, 0);
  },
  { only: ["mosquitto"] },
);

test("a bad -t, -U or -L topic is a usage error before any connection, as mosquitto's tools refuse it", async () => {
  // Port 1 on the loopback: nothing listens there, so a command that connected first would exit 3.
  const closed = ["-h", "127.0.0.1", "-p", "1"];
  const cases: [string[], string][] = [
    [["sub", "-t", "a/#/b"], '-t a/#/b: not a valid topic filter: "#" must be the last character'],
    [["sub", "-t", "ok", "-t", "a+"], '-t a+: not a valid topic filter: "+" must occupy a whole'],
    [["sub", "-t", "ok", "-U", "a+"], '-U a+: not a valid topic filter: "+" must occupy a whole'],
    [["sub", "-t", ""], '-t "": not a valid topic filter: a topic filter must be at least one'],
    [["pub", "-t", "a/#", "-m", "x"], "-t a/#: not a valid topic name: a topic name must not"],
    [["pub", "--topic", "+", "-n"], "--topic +: not a valid topic name: a topic name must not"],
  ];
  for (const [args, message] of cases) {
    const r = await cli([...args, ...closed]);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.ok(r.stderr.startsWith(`umqtt ${args[0]}: ${message}`), r.stderr);
    assert.equal(r.stderr.split("\n").length, 2, r.stderr); // one line
  }
  assert.throws(
    () => parseSubArgs(["-L", "mqtt://h/a/#/b"]),
    /^UsageError: -L a\/#\/b: not a valid topic filter/,
  );
  assert.throws(
    () => parsePubArgs(["-L", "mqtt://h/a/+", "-n"]),
    /^UsageError: -L a\/\+: not a valid topic name/,
  );
});

test("-F: a width over 65535 is a usage error, not a failure at the first message", async () => {
  assert.equal(formatted("[%65535p]").length, 65537);
  assert.throws(
    () => formatted("%99999999999p"),
    /^UsageError: -F %99999999999p: width 99999999999 is over 65535$/,
  );
  // Refused before connecting (nothing listens on port 1: a connection attempt would exit 3).
  const r = await cli(["sub", "-h", "127.0.0.1", "-p", "1", "-t", "t", "-F", "%-070000t"]);
  assert.equal(r.code, 2, r.stderr);
  assert.equal(r.stderr, "umqtt sub: -F %-070000t: width 70000 is over 65535 (see --help)\n");
});

test("an unexpected argument with an @ that is no URL is shown as typed, not as credentials", () => {
  // Any argument's text up to its last @ was hidden, as a URL's user information is: a message
  // given without -m ("hello@world") was refused as `unexpected argument "…@world"`.
  for (const [arg, shown] of [["hello@world", "hello@world"], ["a@b@c", "a@b@c"]]) {
    assert.throws(() => parsePubArgs(["-t", "t", arg]), {
      name: "UsageError",
      message: `unexpected argument "${shown}"`,
    });
  }
  // A URL's user information is still hidden (tests/fuzzcov_test.ts has more).
  assert.throws(() => parseSubArgs(["mqtt://u:pw@h/t"]), {
    name: "UsageError",
    message: 'unexpected argument "mqtt://…@h/t"',
  });
});

test("-h with a space says the host name cannot hold one, not that it is no URL", async () => {
  // It said `Invalid server "bad host": not a URL (mqtt://host[:port])`.
  const r = await cli(["pub", "-h", "bad host", "-t", "t", "-m", "x"]);
  assert.equal(r.code, 2, r.stderr);
  assert.equal(
    r.stderr,
    'umqtt pub: Invalid server "bad host": a host name cannot contain spaces (see --help)\n',
  );
});

test("on a terminal a backslash prints as \\\\ and a BOM as its bytes, so no escape is ambiguous", () => {
  // A payload holding the four characters \x01 printed as the byte 0x01 did, and a leading
  // U+FEFF was dropped (the decoder's BOM handling) when the payload had control bytes, kept
  // (invisible) when not. mosquitto_sub escapes nothing: its terminal gets the bytes.
  const esc = (s: string | Uint8Array) =>
    dec.decode(escapePayload(typeof s === "string" ? new TextEncoder().encode(s) : s));
  assert.equal(esc("\\x01"), "\\\\x01");
  assert.equal(esc(Uint8Array.of(1)), "\\x01");
  assert.equal(esc("C:\\dir\\n"), "C:\\\\dir\\\\n");
  assert.equal(esc("\uFEFFA\x01"), "\\xef\\xbb\\xbfA\\x01");
  assert.equal(esc("\uFEFF{}"), "\\xef\\xbb\\xbf{}");
  assert.equal(esc("a\uFEFFb"), "a\\xef\\xbb\\xbfb");
});

test("%j and --json keep a payload's leading BOM, as mosquitto_sub's %j; %J parses past it, as its", () => {
  // The decoder dropped it: "payload" held 7 characters of a 10-byte payload ("payloadlen": 10).
  const payload = new TextEncoder().encode('\uFEFF{"a":1}');
  const msg: Message = { topic: "t", payload, qos: 0, retain: false, dup: false };
  const line = JSON.parse(jsonLine(msg, "T"));
  assert.equal(line.payloadlen, 10);
  assert.equal(line.payload, '\uFEFF{"a":1}');
  assert.deepEqual(JSON.parse(jsonPayloadLine(msg, "T")!).payload, { a: 1 });
  // A property's bytes printed as text, likewise.
  const correlationData = new TextEncoder().encode("\uFEFFid");
  const withProps = JSON.parse(jsonLine({ ...msg, properties: { correlationData } }, "T"));
  assert.equal(withProps.properties["correlation-data"], "\uFEFFid");
});

test("on a terminal C1 control characters (U+0080–U+009F) print as their bytes, as C0 ones do", () => {
  // U+009B is CSI in terminals that take 8-bit controls: "\u009b2J" would clear the screen, as
  // "\x1b[2J" would; the C0 escape was escaped, the C1 one passed through.
  const esc = (s: string) => dec.decode(escapePayload(new TextEncoder().encode(s)));
  assert.equal(esc("a\u009b2Jb"), "a\\xc2\\x9b2Jb");
  assert.equal(esc("\u0080\u009f"), "\\xc2\\x80\\xc2\\x9f");
  assert.equal(esc("\u00a0é"), "\u00a0é"); // printable from U+00A0 on
});

test("an unexpected argument shaped user:password@host is masked, with or without a scheme", () => {
  // Masking only what held "://" showed "alice:s3cret@broker" (a URL typed without its scheme)
  // as typed; a colon before the @ is what marks a password.
  assert.throws(() => parseSubArgs(["-t", "t", "alice:s3cret@broker"]), {
    name: "UsageError",
    message: 'unexpected argument "…@broker"',
  });
});
