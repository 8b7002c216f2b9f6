// `umqtt pub` / `umqtt sub` with MQTT 5 (-V 5, -D, -x) against mosquitto,
// with mosquitto_pub and mosquitto_sub (2.0) as the reference: the same
// properties sent, the same -F output byte for byte.
import assert from "node:assert/strict";
import { brokerKinds, forEachBroker, startAedes } from "./_brokers.ts";
import { test, uniqueId, withTimeout } from "./_test.ts";
import { at, cli, run, subscribed } from "./_cli.ts";
import { parsePubArgs, parseSubArgs } from "../lib/cli/_args.ts";
import type { Broker } from "./_brokers.ts";
import type { Message } from "../mod.ts";
import type { ConnectPacket } from "../lib/codec/packet.ts";
import { withHostileBroker } from "./_hostile_broker.ts";
import { formatter } from "../lib/cli/_format.ts";

const hasMosquitto = brokerKinds().includes("mosquitto");
const dec = new TextDecoder();
const V5 = ["-V", "5"];

/** mosquitto_sub, started and subscribed (its -d shows the SUBACK); `output()` is what it printed. */
async function mosquittoSub(b: Broker, args: string[], env?: Record<string, string>) {
  // stdbuf: mosquitto_sub's -d lines, on stdout with the messages, would sit in stdio's buffer.
  const child = new Deno.Command("stdbuf", {
    args: ["-oL", "mosquitto_sub", ...at(b), "-d", ...args],
    env,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const chunks: Uint8Array[] = [];
  const reader = child.stdout.getReader();
  let seen = "";
  while (!seen.includes("received SUBACK")) {
    const { value, done } = await withTimeout(reader.read(), 15000, `mosquitto_sub's SUBACK`);
    if (done) break;
    chunks.push(value);
    seen += dec.decode(value);
  }
  let stderr = "";
  return {
    /** Its stderr, once output() has returned. */
    stderr: () => stderr,
    /** Its stdout without its -d lines, once it has exited. */
    async output(): Promise<string> {
      for (;;) {
        const { value, done } = await withTimeout(reader.read(), 15000, "mosquitto_sub's output");
        if (done) break;
        chunks.push(value);
      }
      const { code } = await child.status;
      stderr = dec.decode(await new Response(child.stderr).arrayBuffer());
      assert.equal(code, 0, stderr);
      const text = dec.decode(new Uint8Array(chunks.flatMap((c) => [...c])));
      return text.split("\n").filter((l) => !/^(Client |Subscribed \(mid)/.test(l)).join("\n");
    },
  };
}

/** The -D flags for every PUBLISH property mosquitto_pub sends, user properties repeated. */
const PUBLISH_PROPERTIES = [
  ...["-D", "publish", "user-property", "k", "v"],
  ...["-D", "publish", "user-property", "k", "w"],
  ...["-D", "publish", "user-property", "with space", "a:b"],
  ...["-D", "publish", "content-type", "text/plain; charset=utf-8"],
  ...["-D", "publish", "correlation-data", "req-42"],
  ...["-D", "publish", "message-expiry-interval", "3600"],
  ...["-D", "publish", "payload-format-indicator", "1"],
  ...["-D", "publish", "response-topic", "replies/here"],
];

// Every mosquitto_sub field but %I and %U (the time) and %m (the packet id), with flags and widths.
const FORMAT = "%t|%q|%r|%l|%P|%C|%D|%E|%F|%R|%S|%A|%p|%x|" +
  "[%-12C][%05E][%3F][%-4S][%3A][%-6R][%8.3t][%-3l][%06l]\t%j";

forEachBroker(
  "-V 5 -D publish: umqtt sub prints what mosquitto_sub prints, for umqtt pub's and mosquitto_pub's messages",
  async (b) => {
    const topic = `${uniqueId("cli5")}/fmt`;
    const sub = ["-t", topic, "-q", "1", "-C", "4", "-F", FORMAT];
    const identifier = ["-D", "subscribe", "subscription-identifier", "42"];
    const theirs = await mosquittoSub(b, [...V5, ...sub, ...identifier]);
    const ours = await subscribed([...at(b), ...V5, ...sub, ...identifier]);
    const pub = (args: string[]) => cli(["pub", ...at(b), "-t", topic, "-q", "1", ...args]);
    // The same message from umqtt pub and from mosquitto_pub; a bare one; a format indicator of 0.
    let r = await pub([...V5, "-m", "héllo", ...PUBLISH_PROPERTIES]);
    assert.equal(r.code, 0, r.stderr);
    const mp = await run("mosquitto_pub", [
      ...at(b),
      ...["-t", topic, "-q", "1", "-m", "héllo", ...V5, ...PUBLISH_PROPERTIES],
    ]);
    assert.equal(mp.code, 0, mp.stderr);
    r = await pub([...V5, "-m", "bare"]);
    assert.equal(r.code, 0, r.stderr);
    r = await pub(["-D", "publish", "payload-format-indicator", "0", "-n"]);
    assert.equal(r.code, 0, r.stderr);

    const result = await ours.result();
    assert.equal(result.code, 0, result.stderr);
    // %j's time, and the packet id mosquitto_sub adds (umqtt's messages do not carry it).
    const norm = (s: string) => s.replace(/"tst":"[^"]*",/g, "").replace(/"mid":\d+,/g, "");
    const printed = norm(dec.decode(result.stdout));
    assert.equal(printed, norm(await theirs.output()));
    // The broker counts the expiry down: 3600 may be 3599 by the time it forwards.
    const lines = printed.replace(/\b3599\b/g, "3600").split("\n");
    const full = `${topic}|1|0|6|k:v k:w with space:a:b|text/plain; charset=utf-8|req-42|3600|1|` +
      `replies/here|42||héllo|68c3a96c6c6f|[text/plain; charset=utf-8][03600][  1][42  ][   ]` +
      `[replies/here][     cli][6  ][000006]\t{"topic":"${topic}","qos":1,"retain":0,` +
      `"payloadlen":6,"properties":{"subscription-identifier":42,"user-properties":{"k":"v",` +
      `"k":"w","with space":"a:b"},"content-type":"text/plain; charset=utf-8",` +
      `"correlation-data":"req-42","payload-format-indicator":1,"response-topic":"replies/here",` +
      `"message-expiry-interval":3600},"payload":"héllo"}`;
    assert.deepEqual(lines, [
      full,
      full,
      `${topic}|1|0|4|||||||42||bare|62617265|[            ][00000][   ][42  ][   ][][     cli]` +
      `[4  ][000004]\t{"topic":"${topic}","qos":1,"retain":0,"payloadlen":4,` +
      `"properties":{"subscription-identifier":42},"payload":"bare"}`,
      `${topic}|1|0|0|||||0||42||||[            ][00000][  0][42  ][   ][][     cli][0  ]` +
      `[000000]\t{"topic":"${topic}","qos":1,"retain":0,"payloadlen":0,` +
      `"properties":{"subscription-identifier":42,"payload-format-indicator":0},"payload":null}`,
      "",
    ]);
  },
  { only: ["mosquitto"], ignore: !hasMosquitto },
);

forEachBroker(
  "-F %I, %U and %j's tst print the local time as mosquitto_sub prints them",
  async (b) => {
    // Offsets of hours and minutes, east and west of UTC.
    for (const TZ of ["Asia/Kolkata", "America/St_Johns"]) {
      const topic = uniqueId("cli-time");
      const sub = ["-t", topic, "-C", "1", "-F", "%I|%U|%j"];
      const theirs = await mosquittoSub(b, sub, { TZ });
      const ours = await subscribed([...at(b), ...sub], { TZ });
      assert.equal((await cli(["pub", ...at(b), "-t", topic, "-m", "x"])).code, 0);
      const r = await ours.result();
      assert.equal(r.code, 0, r.stderr);
      const line = dec.decode(r.stdout);
      const their = await theirs.output();
      // The same text but for the digits of the time.
      const digitless = (s: string) => s.replace(/\d/g, "0");
      assert.equal(digitless(line), digitless(their), `TZ=${TZ}`);
      const [iso, unix, json] = line.trimEnd().split("|");
      const [theirIso] = their.split("|");
      assert.equal(iso.slice(-5), theirIso.slice(-5), `TZ=${TZ}: %z`);
      // One time for all three fields: %I to the second; %U and tst to the millisecond, the rest
      // zeros (mosquitto_sub prints nanoseconds and microseconds).
      const seconds = (s: string) => Date.parse(s.replace(/(\d\d)(\d\d)$/, "$1:$2")) / 1000;
      assert.match(unix, /^\d+\.\d{3}000000$/);
      assert.equal(Math.floor(Number(unix)), seconds(iso));
      assert.equal(
        JSON.parse(json).tst,
        `${iso.slice(0, 19)}.${unix.slice(-9, -6)}000Z${iso.slice(-5)}`,
      );
      // And mosquitto_sub's clock, within the time between the two.
      assert.ok(Math.abs(seconds(iso) - seconds(theirIso)) <= 2, `${iso} and ${theirIso}`);
    }
  },
  { only: ["mosquitto"], ignore: !hasMosquitto },
);

forEachBroker(
  "-F %J embeds a JSON payload as JSON, as mosquitto_sub does; other payloads are an error",
  async (b) => {
    const topic = uniqueId("cli5-json");
    const sub = [...V5, "-t", topic, "-F", "<%J>"];
    // The sixth message, a JSON string that is not UTF-8, mosquitto_sub prints with the bytes as
    // they came (JSON that is not UTF-8); umqtt sub refuses it as not JSON: it is compared alone.
    const theirs = await mosquittoSub(b, [...sub, "-C", "5"]);
    const ours = await subscribed([...at(b), ...sub, "-C", "6"]);
    const pub = async (args: string[], stdin?: Uint8Array) => {
      const r = await cli(["pub", ...at(b), "-t", topic, ...args], stdin);
      assert.equal(r.code, 0, r.stderr);
    };
    await pub(["-m", "not json"]);
    await pub(["-m", ' { "a" : 1.50, "b":[1, 2e3,"x\\u0041", true, null] } ']);
    await pub(["-n"]);
    await pub([...V5, "-m", '"s"', ...PUBLISH_PROPERTIES]);
    await pub(["-m", "12"]);
    await pub(["-s"], Uint8Array.of(0x22, 0xff, 0x22));
    const r = await ours.result();
    assert.equal(r.code, 0, r.stderr);
    const norm = (s: string) => s.replace(/"tst":"[^"]*",/g, "");
    const printed = norm(dec.decode(r.stdout));
    assert.equal(printed, norm(await theirs.output()) + "<>\n");
    const head = `{"topic":"${topic}","qos":0,"retain":0,"payloadlen"`;
    const props = `"properties":{"user-properties":{"k":"v","k":"w","with space":"a:b"},` +
      `"content-type":"text/plain; charset=utf-8","correlation-data":"req-42",` +
      `"payload-format-indicator":1,"response-topic":"replies/here",`;
    assert.deepEqual(printed.replace(/"message-expiry-interval":\d+/, "EXPIRY").split("\n"), [
      "<>",
      `<${head}:52,"payload":{"a":1.5,"b":[1,2000,"xA",true,null]}}>`,
      `<${head}:0,"payload":null}>`,
      `<${head}:3,${props}EXPIRY},"payload":"s"}>`,
      `<${head}:2,"payload":12}>`,
      "<>",
      "",
    ]);
    // A message on stderr for each payload that is not JSON, the others printed regardless.
    const error = `%J: message payload is not valid JSON on topic ${topic}`;
    const errors = r.stderr.split("\n").filter((l) => l.includes("%J"));
    assert.deepEqual(errors, [`umqtt sub: ${error}`, `umqtt sub: ${error}`]);
    assert.equal(theirs.stderr().match(/not valid JSON/g)?.length, 1);
  },
  { only: ["mosquitto"], ignore: !hasMosquitto },
);

forEachBroker(
  "-D will: the will mosquitto publishes carries its properties, after its delay",
  async (b) => {
    const will = uniqueId("cli5-will");
    const watcher = await mosquittoSub(b, [...V5, "-t", will, "-C", "1", "-F", "%P|%C|%E|%F|%p"]);
    const dying = await subscribed([
      ...at(b),
      ...V5,
      ...["-t", uniqueId("cli5-x"), "--will-topic", will, "--will-payload", "gone"],
      ...["-D", "will", "user-property", "why", "killed"],
      ...["-D", "will", "content-type", "text/x"],
      ...["-D", "will", "message-expiry-interval", "60"],
      ...["-D", "will", "payload-format-indicator", "1"],
      ...["-D", "will", "will-delay-interval", "2"],
    ]);
    assert.match(
      dying.stderr,
      /-> CONNECT .*will "cli5-will-[0-9a-f]+" q0 r0 4-byte payload \[user-property "why":"killed", content-type "text\/x", message-expiry-interval 60, payload-format-indicator 1, will-delay-interval 2\], MQTT 5/,
    );
    // No DISCONNECT: the connection just ends.
    const killed = Date.now();
    dying.kill("SIGKILL");
    await dying.result();
    assert.match(await watcher.output(), /^why:killed\|text\/x\|(60|59)\|1\|gone\n$/);
    // mosquitto counts the delay in whole seconds: 2 s is more than 1 s after the kill.
    assert.ok(Date.now() - killed >= 900, "the will waited for its delay");
  },
  { only: ["mosquitto"], ignore: !hasMosquitto },
);

forEachBroker(
  "-x, -D connect and -D disconnect session-expiry-interval keep and end a session",
  async (b) => {
    const topic = uniqueId("cli5-sess");
    const id = uniqueId("cli5-id");
    const sub = (args: string[]) =>
      cli(["sub", ...at(b), ...V5, "-i", id, "-t", topic, "-q", "1", "-d", ...args]);
    // A clean start whose session outlives the connection by 60 s.
    let r = await sub(["-x", "60", "-E"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stderr,
      /-> CONNECT id "[^"]+", clean 1, keepalive 60, MQTT 5 \[maximum-packet-size \d+, session-expiry-interval 60\]/,
    );
    r = await cli(["pub", ...at(b), "-t", topic, "-m", "kept for you", "-q", "1"]);
    assert.equal(r.code, 0, r.stderr);
    // Resumed: the message waited; the DISCONNECT ends the session.
    r = await sub([
      ...["-c", "-D", "connect", "session-expiry-interval", "60", "-C", "1"],
      ...["-D", "disconnect", "session-expiry-interval", "0"],
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(dec.decode(r.stdout), "kept for you\n");
    assert.match(r.stderr, /<- CONNACK session 1, rc 0/);
    assert.match(r.stderr, /-> DISCONNECT \[session-expiry-interval 0\] \(9 bytes\)\n$/);
    r = await sub(["-c", "-x", "0", "-E"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /<- CONNACK session 0, rc 0/);
  },
  { only: ["mosquitto"], ignore: !hasMosquitto },
);

forEachBroker(
  "-D connect, subscribe and disconnect properties go out as given (the -d trace)",
  async (b) => {
    const topic = uniqueId("cli5-trace");
    const r = await cli([
      "sub",
      ...at(b),
      ...["-i", "cli5-trace", "-t", topic, "-E", "-d", "-V", "mqttv5"],
      ...["-D", "connect", "receive-maximum", "10", "-D", "connect", "topic-alias-maximum", "5"],
      ...["-D", "connect", "request-response-information", "1"],
      ...["-D", "connect", "request-problem-information", "0"],
      ...["-D", "connect", "maximum-packet-size", "100000"],
      ...[
        "-D",
        "connect",
        "user-property",
        "who",
        "me",
        "-D",
        "connect",
        "user-property",
        "who",
        "too",
      ],
      ...["-D", "subscribe", "user-property", "k", "v"],
      ...[
        "-D",
        "disconnect",
        "reason-string",
        "done here",
        "-D",
        "disconnect",
        "user-property",
        "a",
        "b",
      ],
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stderr.split("\n").filter((l) => l.includes("->")), [
      `umqtt sub: -> CONNECT id "cli5-trace", clean 1, keepalive 60, MQTT 5 [receive-maximum 10, ` +
      `maximum-packet-size 100000, topic-alias-maximum 5, request-response-information 1, ` +
      `request-problem-information 0, user-property "who":"me", user-property "who":"too", ` +
      `session-expiry-interval 0] (66 bytes)`,
      `umqtt sub: -> SUBSCRIBE id 1, "${topic}" q0 [user-property "k":"v"] (38 bytes)`,
      `umqtt sub: -> DISCONNECT [reason-string "done here", user-property "a":"b"] (23 bytes)`,
    ]);
  },
  { only: ["mosquitto"], ignore: !hasMosquitto },
);

forEachBroker(
  "-D unsubscribe user-property goes out with -U's UNSUBSCRIBE, as mosquitto_sub sends it",
  async (b) => {
    const topic = uniqueId("cli5-unsub");
    const r = await cli([
      "sub",
      ...at(b),
      ...["-t", topic, "-U", topic, "-E", "-d"],
      ...["-D", "unsubscribe", "user-property", "a", "b"],
      ...["-D", "unsubscribe", "user-property", "a", "c"],
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stderr.split("\n").filter((l) => l.includes("UNSUB")), [
      `umqtt sub: -> UNSUBSCRIBE id 2, "${topic}" [user-property "a":"b", user-property "a":"c"] (${
        21 + topic.length
      } bytes)`,
      "umqtt sub: <- UNSUBACK id 2, codes 0 (6 bytes)",
    ]);
  },
  { only: ["mosquitto"], ignore: !hasMosquitto },
);

forEachBroker(
  "-D publish topic-alias: repeats go out as the alias, as mosquitto_pub sends them; without it, none",
  async (b) => {
    const topic = uniqueId("cli5-alias");
    const sub = await subscribed([...at(b), ...V5, "-t", topic, "-q", "1", "-C", "6", "-v"]);
    const pub = (args: string[]) =>
      cli(["pub", ...at(b), ...V5, "-t", topic, "-q", "1", "--repeat", "3", "-d", ...args]);
    const aliased = await pub(["-m", "a", "-D", "publish", "topic-alias", "1"]);
    assert.equal(aliased.code, 0, aliased.stderr);
    const plain = await pub(["-m", "p"]);
    assert.equal(plain.code, 0, plain.stderr);
    const publishes = (s: string) =>
      s.split("\n").filter((l) => l.includes("-> PUBLISH")).map((l) => l.replace(/.*payload/, ""));
    assert.deepEqual(publishes(aliased.stderr), [
      " [topic-alias 1] (34 bytes)",
      " [topic-alias 1] (11 bytes)",
      " [topic-alias 1] (11 bytes)",
    ]);
    assert.match(aliased.stderr, /-> PUBLISH d0 q1 r0, id 2, "", 1-byte payload/);
    assert.deepEqual(publishes(plain.stderr), [" (31 bytes)", " (31 bytes)", " (31 bytes)"]);
    const r = await sub.result();
    assert.equal(dec.decode(r.stdout), `${topic} a\n`.repeat(3) + `${topic} p\n`.repeat(3));
  },
  { only: ["mosquitto"], ignore: !hasMosquitto },
);

forEachBroker(
  "-V 5 -R asks for no retained messages; --retain-as-published keeps the flag",
  async (b) => {
    const topic = uniqueId("cli5-ret");
    let r = await cli(["pub", ...at(b), "-t", topic, "-m", "old", "-r", "-q", "1"]);
    assert.equal(r.code, 0, r.stderr);
    const skip = await subscribed([...at(b), ...V5, "-t", topic, "-R", "-C", "1", "-F", "%r %p"]);
    assert.match(skip.stderr, /-> SUBSCRIBE id 1, "cli5-ret-[0-9a-f]+" q0 retain-handling 2 /);
    const rap = await subscribed([
      ...[...at(b), ...V5, "-t", topic, "-C", "2", "-F", "%r %p", "--retain-as-published"],
    ]);
    assert.match(rap.stderr, /-> SUBSCRIBE id 1, "cli5-ret-[0-9a-f]+" q0 retain-as-published /);
    r = await cli(["pub", ...at(b), "-t", topic, "-m", "new", "-r", "-q", "1"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(dec.decode((await rap.result()).stdout), "1 old\n1 new\n");
    // Not retained as published: a live message comes with retain 0, and -R lets it through.
    assert.equal(dec.decode((await skip.result()).stdout), "0 new\n");
    await cli(["pub", ...at(b), "-t", topic, "-n", "-r"]);
  },
  { only: ["mosquitto"], ignore: !hasMosquitto },
);

forEachBroker(
  "an MQTT 5 refusal exits 10 with the broker's reason code, the 3.1.1 ones' 11-15",
  async (b) => {
    const r = await cli([
      ...["pub", ...at(b), "-t", "t", "-m", "x"],
      ...["-D", "connect", "authentication-method", "NONE-SUCH"],
    ]);
    assert.equal(r.code, 10);
    assert.equal(
      r.stderr,
      "umqtt pub: Connection refused: Bad authentication method (CONNACK reason code 0x8c)\n",
    );
  },
  { only: ["mosquitto"], ignore: !hasMosquitto },
);

test("-V and -D: bad values, commands and properties are usage errors naming them", () => {
  const pub = (...args: string[]) => () => parsePubArgs(["-t", "t", "-m", "x", ...args]);
  const sub = (...args: string[]) => () => parseSubArgs(["-t", "t", ...args]);
  const cases: [() => unknown, string][] = [
    [pub("-V", "31"), "-V 31: MQTT 3.1 is not supported; use mqttv311 or mqttv5"],
    [pub("-V", "mqttv31"), "-V mqttv31: MQTT 3.1 is not supported; use mqttv311 or mqttv5"],
    [pub("--protocol-version", "4"), "--protocol-version 4: expected mqttv311 (311) or mqttv5 (5)"],
    [pub("-D"), "-D needs COMMAND PROPERTY VALUE"],
    [
      pub("-D", "publish"),
      "-D publish needs PROPERTY VALUE; publish takes payload-format-indicator, " +
      "message-expiry-interval, content-type, response-topic, correlation-data, topic-alias, " +
      "user-property",
    ],
    [pub("-D", "publish", "content-type"), "-D publish content-type needs a VALUE"],
    [
      pub("-D", "publish", "user-property", "k"),
      "-D publish user-property needs a NAME and a VALUE",
    ],
    [
      pub("-D", "bogus", "content-type", "x"),
      "-D bogus: expected a command: connect, publish, subscribe, unsubscribe, disconnect or will",
    ],
    [
      pub("--property", "puback", "reason-string", "x"),
      "--property puback: expected a command: connect, publish, subscribe, unsubscribe, " +
      "disconnect or will",
    ],
    [
      pub("-D", "connect", "bogus", "x"),
      "-D connect bogus: unknown property; connect takes session-expiry-interval, " +
      "authentication-method, authentication-data, request-problem-information, " +
      "request-response-information, receive-maximum, topic-alias-maximum, maximum-packet-size, " +
      "user-property",
    ],
    [
      pub(
        "-D",
        "disconnect",
        "session-expiry-interval",
        "1",
        "-D",
        "publish",
        "will-delay-interval",
        "5",
      ),
      "-D publish will-delay-interval: not a property of publish; publish takes " +
      "payload-format-indicator, message-expiry-interval, content-type, response-topic, " +
      "correlation-data, topic-alias, user-property",
    ],
    [
      pub("-D", "disconnect", "server-reference", "elsewhere"),
      "-D disconnect server-reference: only a broker sends it; disconnect takes " +
      "session-expiry-interval, reason-string, user-property",
    ],
    [
      pub("-D", "will", "subscription-identifier", "1"),
      "-D will subscription-identifier: not a property of will; will takes " +
      "payload-format-indicator, message-expiry-interval, content-type, response-topic, " +
      "correlation-data, will-delay-interval, user-property",
    ],
    [
      pub("-D", "publish", "message-expiry-interval", "-1"),
      "-D publish message-expiry-interval -1: must be an integer from 0 to 4294967295",
    ],
    [
      pub("-D", "publish", "payload-format-indicator", "2"),
      "-D publish payload-format-indicator 2: must be 0 or 1",
    ],
    [
      pub("-D", "publish", "topic-alias", "0"),
      "-D publish topic-alias 0: must be an integer from 1 to 65535",
    ],
    [
      pub("-D", "connect", "receive-maximum", "65536"),
      "-D connect receive-maximum 65536: must be an integer from 1 to 65535",
    ],
    [
      sub("-D", "subscribe", "subscription-identifier", "268435456"),
      "-D subscribe subscription-identifier 268435456: must be an integer from 1 to 268435455",
    ],
    [
      pub("-D", "publish", "response-topic", "replies/#"),
      '-D publish response-topic "replies/#": must be a topic name, not empty and without + or # ' +
      "(MQTT-3.3.2-14)",
    ],
    [
      pub("-D", "publish", "content-type", "a", "-D", "PUBLISH", "Content-Type", "b"),
      "-D publish content-type: given twice; only user-property may repeat",
    ],
    [
      pub("-V", "311", "-D", "publish", "content-type", "a"),
      "-D needs MQTT 5: it cannot be combined with -V 311",
    ],
    [
      pub("-D", "publish", "content-type", "a", "-V", "mqttv311"),
      "-D needs MQTT 5: it cannot be combined with -V mqttv311",
    ],
    [
      pub("-D", "subscribe", "user-property", "a", "b"),
      "-D subscribe: umqtt pub sends no SUBSCRIBE",
    ],
    [sub("-D", "publish", "content-type", "a"), "-D publish: umqtt sub sends no PUBLISH"],
    [pub("-D", "will", "content-type", "a"), "-D will needs --will-topic"],
    [pub("-x", "60"), "-x needs -V 5: MQTT 3.1.1 has no session expiry interval"],
    [
      pub("-V", "5", "-x", "soon"),
      "-x soon: must be an integer from 0 to 4294967295, or -1 or ∞ for never",
    ],
    [
      pub("-V", "5", "-x", "6", "-D", "connect", "session-expiry-interval", "6"),
      "-x and -D connect session-expiry-interval set the same: give one",
    ],
    [pub("-V", "5", "-c"), "-c needs a client id (-i): a persistent session is kept per id"],
    [pub("-V", "5", "-x", "∞"), "a session that never expires needs a client id (-i)"],
    [
      pub("-V", "5", "-D", "disconnect", "session-expiry-interval", "5"),
      "-D disconnect session-expiry-interval 5: the session expiry at CONNECT is 0, so " +
      "DISCONNECT may not set one (MQTT 5.0 section 3.14.2.2.2); give -c or -x",
    ],
    [
      sub("--retain-as-published"),
      "--retain-as-published needs -V 5: it is an MQTT 5 subscription option",
    ],
    [
      pub("--property=publish", "content-type", "x"),
      "--property takes COMMAND PROPERTY VALUE as separate arguments",
    ],
  ];
  for (const [f, message] of cases) assert.throws(f, { name: "UsageError", message });
});

test("-V 5 and -D: what the client is given", () => {
  assert.equal(parsePubArgs(["-t", "t", "-n"]).version, 4);
  for (const v of ["5", "mqttv5", "MQTTv5", "v5"]) {
    assert.equal(parsePubArgs(["-t", "t", "-n", "-V", v]).version, 5);
  }
  assert.equal(parsePubArgs(["-t", "t", "-n", "-V", "5", "-V", "311"]).version, 4);
  // As mosquitto_pub: -D without -V is MQTT 5.
  const o = parsePubArgs([
    ...["-t", "t", "-n", "-c", "-i", "me", "-P", "no user needed"],
    ...["-D", "Connect", "authentication-data", "abc", "-D", "connect", "user-property", "a", "b"],
    ...["-D", "connect", "user-property", "a", "c", "-D", "publish", "correlation-data", "id-1"],
    ...["-D", "publish", "topic-alias", "3", "-D", "disconnect", "session-expiry-interval", "5"],
    ...["-D", "will", "will-delay-interval", "9", "--will-topic", "w"],
    ...["-D", "connect", "request-problem-information", "0"],
  ]);
  assert.equal(o.version, 5);
  assert.deepEqual(o.properties, {
    connect: {
      authenticationData: new TextEncoder().encode("abc"),
      userProperties: [["a", "b"], ["a", "c"]],
      requestProblemInformation: false,
    },
    publish: { correlationData: "id-1", topicAlias: 3 },
    subscribe: {},
    unsubscribe: {},
    disconnect: { sessionExpiryInterval: 5 },
    will: { willDelayInterval: 9 },
  });
  assert.equal(
    parsePubArgs(["-t", "t", "-n", "-V", "5", "-i", "x", "-x", "-1"]).sessionExpiry,
    2 ** 32 - 1,
  );
  assert.equal(parsePubArgs(["-t", "t", "-n", "-V", "5", "-x", "0"]).sessionExpiry, 0);
});

test("a bad -D exits 2 with one line naming it", async () => {
  const r = await cli([
    "pub",
    "-t",
    "t",
    "-m",
    "x",
    "-D",
    "publish",
    "message-expiry-interval",
    "soon",
  ]);
  assert.equal(r.code, 2);
  assert.equal(
    r.stderr,
    "umqtt pub: -D publish message-expiry-interval soon: must be an integer from 0 to 4294967295 " +
      "(see --help)\n",
  );
  const help = await cli(["sub", "--help"]);
  assert.match(dec.decode(help.stdout), /-D, --property CMD PROP VALUE/);
});

test("-F: widths on payload fields pad and never cut; %D is escaped on a terminal", () => {
  const enc = new TextEncoder();
  const msg: Message = {
    topic: "abc",
    payload: enc.encode("hi"),
    qos: 0,
    retain: false,
    dup: false,
    properties: { correlationData: Uint8Array.of(0x41, 0x00), userProperties: [["a", "b"]] },
  };
  const f = (format: string, terminal = false) =>
    dec.decode(formatter({ verbose: false, eol: false, format, json: false, terminal })(msg));
  // mosquitto_sub 2.0 cuts a payload at the width and halves the bytes shown in hex: not here.
  assert.equal(f("%5p|%-5p|%05x|%-3X|%1p|%.2t|%-5.1t|"), "   hi|hi   |06869|6869|hi|ab|a    |");
  assert.equal(f("%D|%P", true), "A\\x00|a:b");
  assert.equal(f("%D"), "A\0");
  for (
    const [format, message] of [
      [
        "%m",
        "-F %m: unknown %m (known: %t %p %q %r %l %x %X %j %J %I %U %P %C %D %E %F %R %S %A %%)",
      ],
      ["%-05", "-F %-05: incomplete format specifier at the end"],
      ["x\\q", "-F x\\q: unknown escape \\q"],
    ]
  ) {
    assert.throws(() => f(format), { name: "UsageError", message });
  }
});

forEachBroker(
  "-F @ sequences print strftime's fields in local time, as mosquitto_sub prints them",
  async (b) => {
    const format = "@Y-@m-@dT@H:@M:@S@z|@a @b @e @j @p @Z|@@|@q|@N";
    for (const TZ of ["Asia/Kolkata", "America/St_Johns"]) {
      const topic = uniqueId("cli-strftime");
      const sub = ["-t", topic, "-C", "1", "-F", `${format}|%I`];
      const theirs = await mosquittoSub(b, sub, { TZ });
      const ours = await subscribed([...at(b), ...sub], { TZ });
      assert.equal((await cli(["pub", ...at(b), "-t", topic, "-m", "x"])).code, 0);
      const r = await ours.result();
      assert.equal(r.code, 0, r.stderr);
      const line = dec.decode(r.stdout).trimEnd();
      const their = (await theirs.output()).trimEnd();
      // The same text but for the digits of the time (and the words of a day or month that ends).
      const shape = (s: string) => s.replace(/\d/g, "0").split("|").slice(2).join("|");
      assert.equal(shape(line), shape(their), `TZ=${TZ}`);
      const [stamp, words, , , nanos, iso] = line.split("|");
      assert.equal(stamp, iso, `TZ=${TZ}: @ and %I print one time`);
      assert.match(words, /^[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d{3} [AP]M \S+$/);
      assert.match(nanos, /^\d{3}000000$/);
      assert.equal(stamp.slice(-5), their.split("|")[0].slice(-5), `TZ=${TZ}: @z`);
    }
  },
  { only: ["mosquitto"], ignore: !hasMosquitto },
);

test("-V 5 to a broker without MQTT 5 (aedes): exit 11, the refusal says to try -V 311", async () => {
  // Before: "Connection refused: Unsupported Protocol Version (CONNACK reason code 0x84)" alone.
  const broker = await startAedes();
  try {
    const r = await cli(["pub", ...at(broker), "-V", "5", "-t", "t", "-m", "x"]);
    assert.equal(r.code, 11);
    assert.equal(
      r.stderr,
      "umqtt pub: Connection refused: Unsupported Protocol Version (CONNACK reason code 0x84): the broker may speak MQTT 3.1.1 only: try -V 311\n",
    );
  } finally {
    await broker.stop();
  }
});

test(
  "-D connect and -D will properties reach the broker as mosquitto_pub 2.0.11 sends them",
  async () => {
    // The CONNECT of each, read by a scripted broker that refuses it (both exit at once).
    const connectOf = async (runIt: (port: string) => Promise<unknown>) => {
      let got: ConnectPacket | undefined;
      await withHostileBroker(async (peer) => {
        got = await peer.expect("connect");
        await peer.write({ type: "connack", sessionPresent: false, returnCode: 0x87 });
        peer.end();
      }, (b) => runIt(String(b.port)).then(() => {}));
      return got!;
    };
    const both = async (args: string[]) => {
      const line = ["-h", "127.0.0.1", "-V", "5", "-i", "cli5-parity", "-t", "t", "-m", "x"];
      const theirs = await connectOf((p) => run("mosquitto_pub", [...line, "-p", p, ...args]));
      const ours = await connectOf((p) => cli(["pub", ...line, "-p", p, ...args]));
      return [ours, theirs];
    };
    const d = (command: string, ...rest: string[]) => ["-D", command, ...rest];
    const [ours, theirs] = await both([
      ...d("connect", "session-expiry-interval", "30"),
      ...d("connect", "receive-maximum", "10"),
      ...d("connect", "maximum-packet-size", "1000"),
      ...d("connect", "topic-alias-maximum", "5"),
      ...d("connect", "request-problem-information", "0"),
      ...d("connect", "request-response-information", "1"),
      ...d("connect", "user-property", "a", "b"),
      ...d("connect", "user-property", "a", "c"),
      ...d("connect", "authentication-method", "m"),
      ...d("connect", "authentication-data", "d"),
      ...["--will-topic", "wt", "--will-payload", "wp", "--will-qos", "1", "--will-retain"],
      ...d("will", "will-delay-interval", "7"),
      ...d("will", "payload-format-indicator", "1"),
      ...d("will", "message-expiry-interval", "60"),
      ...d("will", "content-type", "ct"),
      ...d("will", "response-topic", "rt"),
      ...d("will", "correlation-data", "cd"),
      ...d("will", "user-property", "k", "v"),
    ]);
    // The same properties (their order in the packet differs, as MQTT 5 allows).
    assert.deepEqual(ours, theirs);
    // Without -D, each says its own defaults (README): mosquitto_pub its Receive Maximum 20,
    // umqtt no Maximum Packet Size short of the largest packet and no session outright.
    const [ours0, theirs0] = await both([]);
    assert.deepEqual(theirs0.properties, { receiveMaximum: 20 });
    assert.deepEqual(ours0.properties, {
      maximumPacketSize: 268_435_460,
      sessionExpiryInterval: 0,
    });
  },
  { ignore: !hasMosquitto },
);
