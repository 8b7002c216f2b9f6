// The Last Will and Testament end to end: what the broker publishes, and when, for the simple
// client, the robust client and the command line (MQTT 3.1.1 sections 3.1.2.5-3.1.2.7,
// 3.1.3.2-3.1.3.3; MQTT 5.0 sections 3.1.2.5, 3.1.3.2), with a subscriber watching the will topic.
import assert from "node:assert/strict";
import { type Message, MQTTClient as Simple, MQTTException } from "../mod.ts";
import { MQTTClient } from "../lib/robust.ts";
import { forEachBroker, startMosquitto } from "./_brokers.ts";
import { cli, ENTRY } from "./_cli.ts";
import { acceptConnect, withHostileBroker } from "./_hostile_broker.ts";
import { PacketDecoder } from "../lib/codec/decoder.ts";
import type { ConnectPacket, Will } from "../lib/codec/packet.ts";
import { Tap } from "./_tap.ts";
import { test, uniqueId, withTimeout } from "./_test.ts";

const text = (b: Uint8Array) => new TextDecoder().decode(b);
const BOTH = { versions: [4, 5] } as const;

/** A watcher subscribed to `filter` at QoS 1, and the next message it gets. */
async function watch(broker: { host: string; port: number }, filter: string) {
  const w = new Simple(uniqueId("watch"), broker.host, { port: broker.port });
  await w.connect();
  await w.subscribe(filter, 1);
  const next = (what: string): Promise<Message> => withTimeout(w.wait_msg(), 10_000, what);
  return { w, next };
}

forEachBroker(
  "the robust client's reconnects carry the will, the one set last once it changes",
  async (broker, v) => {
    const u = uniqueId("rwill");
    const { w, next } = await watch(broker, `${u}/#`);
    const tap = new Tap(broker.host, broker.port);
    const c = new MQTTClient(uniqueId("rw"), broker.host, {
      transport: tap.transport,
      protocolVersion: v,
    });
    c.DELAY = 0.02;
    c.log = () => {};
    const connected = () => new Promise((r) => c.addEventListener("connected", r, { once: true }));
    try {
      c.set_last_will(`${u}/status`, "first", false, 1);
      await c.connect(false);
      let back = connected();
      tap.conns.at(-1)!.cut();
      assert.equal(text((await next("the first will")).payload), "first");
      await withTimeout(back, 10_000, "the first reconnect");
      assert.equal(tap.conns.length, 2);
      assert.equal(tap.conns[1].written[0].type, "connect");
      assert.equal(
        (tap.conns[1].written[0] as { will?: { topic: string } }).will?.topic,
        `${u}/status`,
      );
      // Changed while connected: the broker still holds the first; the next CONNECT carries this.
      c.set_last_will(`${u}/status`, "second", false, 1);
      back = connected();
      tap.conns.at(-1)!.cut();
      assert.equal(text((await next("the will of the reconnected client")).payload), "first");
      await withTimeout(back, 10_000, "the second reconnect");
      tap.conns.at(-1)!.cut();
      assert.equal(text((await next("the changed will")).payload), "second");
      await c.reconnect();
      await c.disconnect();
      await c.connect(true);
      await c.disconnect();
      await w.publish(`${u}/marker`, "marker", false, 1);
      assert.equal((await next("the marker")).topic, `${u}/marker`, "no will after disconnect()");
    } finally {
      await c.disconnect();
      await w.disconnect();
    }
  },
  BOTH,
);

forEachBroker(
  "a client that stops reading (process stopped) has its will published when its keepalive runs out",
  async (broker, v) => {
    const u = uniqueId("kawill");
    const { w, next } = await watch(broker, `${u}/#`);
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", new URL("./_will_child.ts", import.meta.url).pathname]
        .concat([broker.host, String(broker.port), String(v), `${u}/status`]),
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    try {
      const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
      assert.equal(
        (await withTimeout(reader.read(), 20_000, "the child's ready")).value,
        "ready\n",
      );
      reader.releaseLock();
      Deno.kill(child.pid, "SIGSTOP");
      // 1.5 times the keepalive of 1 s (MQTT-3.1.2-24), then the will (MQTT-3.1.2-8).
      const will = await next("the will after the keepalive");
      assert.equal(will.topic, `${u}/status`);
      assert.equal(text(will.payload), "stopped");
    } finally {
      Deno.kill(child.pid, "SIGCONT");
      child.kill("SIGKILL");
      await child.status;
      await child.stdout.cancel().catch(() => {});
      await w.disconnect();
    }
  },
  BOTH,
);

test("the command line names the flag a bad will came from: --will-payload, -D will, --will-topic", async () => {
  // A will message over 65535 bytes was reported as "--will-topic: Invalid will message: …".
  // (mosquitto_pub 2.0.11 sends it with its length cut to 16 bits: a malformed CONNECT.)
  const cases: [string[], RegExp][] = [
    [
      ["--will-topic", "w", "--will-payload", "x".repeat(70000)],
      /^umqtt pub: --will-payload: Invalid will message: 70000 bytes, over the limit of 65535 /,
    ],
    [
      ["-V", "5", "--will-topic", "w", "-D", "will", "content-type", "a\u0001"],
      /^umqtt pub: -D will: Invalid contentType in CONNECT will: it contains U\+0001/,
    ],
    [["--will-topic", "w/#"], /^umqtt pub: --will-topic: Cannot set the will to "w\/#"/],
  ];
  for (const [args, message] of cases) {
    const r = await cli(["pub", "-h", "127.0.0.1", "-p", "1", "-t", "t", "-m", "x", ...args]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, message);
  }
});

test(
  "mosquitto refuses a will over its message_size_limit in the CONNACK: 3.1.1 return code 5, MQTT 5 0x95",
  async () => {
    const broker = await startMosquitto({ extraConfig: ["message_size_limit 50"] });
    try {
      for (
        const [v, code, message] of [[4, 5, /not authorized/], [
          5,
          0x95,
          /Packet too large/,
        ]] as const
      ) {
        const c = new Simple(uniqueId("bigwill"), broker.host, {
          port: broker.port,
          protocolVersion: v,
        });
        c.set_last_will(uniqueId("bigwill"), "x".repeat(51), false, 1);
        const e = await c.connect().then(() => null, (e) => e);
        assert.ok(e instanceof MQTTException, `MQTT ${v}: ${e}`);
        assert.equal(e.code, code);
        assert.match(e.message, message);
        // Within the limit, the same will is taken.
        c.set_last_will(uniqueId("bigwill"), "x".repeat(50), false, 1);
        await c.connect();
        await c.disconnect();
      }
    } finally {
      await broker.stop();
    }
  },
  { mosquitto: true },
);

test(
  "MQTT 5: a CONNACK refusing the will's retain flag (0x9A) or QoS (0x9B) says it is the will's",
  async () => {
    // The reason code's own words ("Retain not supported") left a user who never published a
    // retained message to guess that the will was meant: in a CONNACK these two are the will's.
    const broker = await startMosquitto({ extraConfig: ["max_qos 1", "retain_available false"] });
    try {
      for (
        const [retain, qos, code, says] of [
          [
            true,
            0,
            0x9a,
            /^Connection refused: Retain not supported \(CONNACK reason code 0x9a\): .*will's retain flag/,
          ],
          [
            false,
            2,
            0x9b,
            /^Connection refused: QoS not supported \(CONNACK reason code 0x9b\): .*will's QoS/,
          ],
        ] as const
      ) {
        const c = new Simple(uniqueId("willcap"), broker.host, {
          port: broker.port,
          protocolVersion: 5,
        });
        c.set_last_will(uniqueId("willcap"), "x", { retain, qos });
        const e = await c.connect().then(() => null, (e) => e);
        assert.ok(e instanceof MQTTException, `${e}`);
        assert.equal(e.code, code);
        assert.match(e.message, says);
      }
    } finally {
      await broker.stop();
    }
  },
  { mosquitto: true },
);

forEachBroker(
  "a will message of 65535 bytes, the most its 2-byte length holds, arrives whole; one byte more is refused",
  async (broker, v) => {
    const u = uniqueId("bigwill");
    const { w, next } = await watch(broker, `${u}/#`);
    const tap = new Tap(broker.host, broker.port);
    const c = new Simple(uniqueId("bw"), broker.host, {
      transport: tap.transport,
      protocolVersion: v,
    });
    const payload = Uint8Array.from({ length: 65535 }, (_, i) => (i * 7 + (i >> 8)) & 0xff);
    assert.throws(() => c.set_last_will(`${u}/status`, new Uint8Array(65536)), {
      name: "RangeError",
      message: /^Invalid will message: 65536 bytes, over the limit of 65535 /,
    });
    c.set_last_will(`${u}/status`, payload, false, 1);
    try {
      await c.connect();
      tap.conns[0].cut();
      const will = await next("the will");
      assert.equal(will.payload.length, 65535);
      assert.deepEqual(will.payload, payload);
    } finally {
      await w.disconnect();
    }
  },
  BOTH,
);

/** The first packet `cmd` (its `PORT` argument replaced) sends to a listener, undecoded. */
async function firstPacket(cmd: string[]): Promise<Uint8Array> {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = String((l.addr as Deno.NetAddr).port);
  const args = cmd.map((a) => a === "PORT" ? port : a);
  const p = new Deno.Command(args[0], { args: args.slice(1), stdout: "null", stderr: "null" })
    .spawn();
  try {
    const conn = await withTimeout(l.accept(), 20_000, `${cmd[0]}'s connection`);
    let got = new Uint8Array(0);
    const reader = conn.readable.getReader();
    for (const decoder = new PacketDecoder({ protocolVersion: 5 });;) {
      const { value } = await withTimeout(reader.read(), 10_000, `${cmd[0]}'s CONNECT`);
      assert.ok(value, `${cmd[0]} closed before its CONNECT`);
      got = Uint8Array.from([...got, ...value]);
      if (decoder.push(value).length) break;
    }
    reader.releaseLock();
    conn.close();
    return got;
  } finally {
    l.close();
    p.kill("SIGKILL");
    await p.status;
  }
}

test("the command line's will flags make the CONNECT mosquitto_pub makes", async () => {
  const common = ["-h", "127.0.0.1", "-p", "PORT", "-i", "cid", "-k", "60", "-t", "t", "-m", "x"];
  const cases = [
    ["--will-topic", "w"],
    ["--will-topic", "w/é", "--will-payload", "bye", "--will-qos", "2", "--will-retain"],
    ["--will-topic", "$aws/things/x", "--will-payload", "", "--will-qos", "1"],
    ["--will-topic", "w", "-u", "user", "-P", "pw"],
    ["-V", "5", "--will-topic", "w", "--will-payload", "bye", "--will-qos", "1", "--will-retain"],
    [
      ...["-V", "5", "--will-topic", "w", "-D", "will", "will-delay-interval", "5"],
      ...["-D", "will", "content-type", "a/b", "-D", "will", "message-expiry-interval", "10"],
      ...["-D", "will", "payload-format-indicator", "1", "-D", "will", "response-topic", "r"],
      ...["-D", "will", "correlation-data", "cd", "-D", "will", "user-property", "k", "v"],
      ...["-D", "will", "user-property", "k", "w"],
    ],
  ];
  for (const flags of cases) {
    const ours = await firstPacket([
      Deno.execPath(),
      "run",
      "-A",
      ENTRY,
      "pub",
      ...common,
      ...flags,
    ]);
    const theirs = await firstPacket(["mosquitto_pub", ...common, ...flags]);
    if (flags[0] !== "-V") {
      assert.deepEqual(ours, theirs, flags.join(" "));
      continue;
    }
    // MQTT 5: the CONNECT's own properties differ (umqtt: Maximum Packet Size, Session Expiry 0;
    // mosquitto_pub 2.0.11: Receive Maximum 20); the will must not.
    const will = (b: Uint8Array) =>
      (new PacketDecoder({ protocolVersion: 5 }).push(b)[0] as ConnectPacket).will;
    assert.ok(will(ours), flags.join(" "));
    assert.deepEqual(will(ours), will(theirs), flags.join(" "));
  }
}, { mosquitto: true });

test("the will is what set_last_will was given: bytes the caller changes afterwards do not change it", async () => {
  // The will goes in every CONNECT to come (each reconnect of the robust client's); it held the
  // caller's Uint8Arrays and arrays, so a buffer reused after set_last_will changed the will, past
  // the checks: a message set as UTF-8 (payloadFormatIndicator) went out as bytes that are not.
  const wills: (Will | undefined)[] = [];
  await withHostileBroker(async (peer) => {
    wills.push((await acceptConnect(peer)).will);
    await peer.clientClosed;
  }, async (broker) => {
    const c = new Simple(uniqueId("willcopy"), broker.url, { protocolVersion: 5 });
    const msg = new TextEncoder().encode("gone");
    const correlationData = Uint8Array.of(1, 2);
    const userProperties: [string, string][] = [["k", "v"]];
    c.set_last_will("w", msg, {
      qos: 1,
      properties: { payloadFormatIndicator: true, correlationData, userProperties },
    });
    for (let i = 0; i < 2; i++) {
      await c.connect();
      await c.disconnect();
      msg[0] = 0xff, correlationData[0] = 9, userProperties[0][1] = "changed";
      userProperties.push(["more", "x"]);
    }
  });
  assert.equal(wills.length, 2);
  for (const will of wills) {
    assert.deepEqual(will?.payload, new TextEncoder().encode("gone"));
    assert.deepEqual(will?.properties?.correlationData, Uint8Array.of(1, 2));
    assert.deepEqual(will?.properties?.userProperties, [["k", "v"]]);
  }
});
