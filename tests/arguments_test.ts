// Every public member with bad arguments: a TypeError or RangeError that
// names the argument and the rule, raised before any byte is sent (thrown by
// synchronous members, a rejection from async ones). The client here has a
// transport that counts calls, so "before any byte" is checked too.
import assert from "node:assert/strict";
import { type MemorySessionStore, MQTTClient, type QoS, topicMatches } from "../mod.ts";
import { encode } from "../lib/codec/encode.ts";
import { MQTTClient as RobustClient } from "../lib/robust.ts";
import { PacketDecoder } from "../lib/codec/decoder.ts";
import { connectNode } from "../lib/transports/node.ts";
import { type Broker, forEachBroker } from "./_brokers.ts";
import { test, uniqueId } from "./_test.ts";

type Ctor = ConstructorParameters<typeof MQTTClient>;
const long = "x".repeat(65536);

const constructorCases: [string, Ctor, ErrorConstructor, RegExp][] = [
  ["client_id not a string", [42 as unknown as string, "h"], TypeError, /client_id/],
  ["client_id over 65535 bytes", [long, "h"], RangeError, /client_id.*65535/],
  ["client_id with U+0000", ["a\0b", "h"], TypeError, /client_id.*MQTT-1\.5\.3-2/],
  ["empty server", ["id", ""], TypeError, /server/],
  ["http:// server", ["id", "http://h"], TypeError, /scheme/],
  ["negative port", ["id", "h", -1], RangeError, /port -1/],
  ["port 65536", ["id", "h", 65536], RangeError, /port 65536/],
  ["fractional port", ["id", "h", 1883.5], RangeError, /port 1883\.5.*integer/],
  ["keepalive 65536", ["id", "h", 0, undefined, undefined, 65536], RangeError, /keepalive/],
  ["negative keepalive", ["id", "h", { keepalive: -1 }], RangeError, /keepalive -1/],
  ["fractional keepalive", ["id", "h", { keepalive: 0.5 }], RangeError, /keepalive/],
  ["password without user", ["id", "h", { password: "p" }], TypeError, /MQTT-3\.1\.2-22/],
  [
    "password of a wrong type",
    ["id", "h", {
      user: "u",
      password: 5 as unknown as string,
    }],
    TypeError,
    /password/,
  ],
  ["user not a string", ["id", "h", { user: 1 as unknown as string }], TypeError, /user/],
  ["ssl not a boolean", ["id", "h", { ssl: "yes" as unknown as boolean }], TypeError, /ssl/],
  [
    "unknown ssl_params key",
    ["id", "h", {
      ssl_params: { cert_reqs: 0 } as unknown as Record<string, string>,
    }],
    TypeError,
    /ssl_params key "cert_reqs".*server_hostname, cadata, cert, key/,
  ],
  ["cert without key", ["id", "h", { ssl_params: { cert: "PEM" } }], TypeError, /cert and key/],
  [
    "transport not a function",
    ["id", "h", {
      transport: {} as unknown as () => never,
    }],
    TypeError,
    /transport/,
  ],
  ["maxPacketSize 0", ["id", "h", { maxPacketSize: 0 }], RangeError, /maxPacketSize/],
  ["maxQueuedMessages 0", ["id", "h", { maxQueuedMessages: 0 }], RangeError, /maxQueuedMessages/],
  ["connectTimeout -5", ["id", "h", { connectTimeout: -5 }], RangeError, /connectTimeout/],
  ["maxInflightQoS2 0", ["id", "h", { maxInflightQoS2: 0 }], RangeError, /maxInflightQoS2 0/],
  [
    "maxInflightQoS2 65536",
    ["id", "h", { maxInflightQoS2: 65536 }],
    RangeError,
    /maxInflightQoS2 65536/,
  ],
  ["maxInflightQoS2 1.5", ["id", "h", { maxInflightQoS2: 1.5 }], RangeError, /maxInflightQoS2/],
  [
    "maxInflightQoS2 as a string",
    ["id", "h", { maxInflightQoS2: "20" as unknown as number }],
    TypeError,
    /maxInflightQoS2.*got string/,
  ],
  // Wrong types are TypeErrors; a number out of range is a RangeError.
  ["server not a string", ["id", 1883 as unknown as string], TypeError, /server/],
  ["port as a string", ["id", "h", "1883" as unknown as number], TypeError, /port.*got string/],
  [
    "keepalive as a string",
    ["id", "h", { keepalive: "60" as unknown as number }],
    TypeError,
    /keepalive.*got string/,
  ],
  ["keepalive NaN", ["id", "h", { keepalive: NaN }], RangeError, /keepalive NaN/],
  ["client_id with a lone surrogate", ["\udc00", "h"], TypeError, /client_id.*MQTT-1\.5\.3-1/],
  ["user over 65535 bytes", ["id", "h", { user: long }], RangeError, /user.*65535/],
  ["user with U+0000", ["id", "h", { user: "a\0" }], TypeError, /user.*MQTT-1\.5\.3-2/],
  [
    "client_id with a control character",
    ["a\u0001", "h"],
    TypeError,
    /^Invalid client_id: it contains U\+0001, a control character, which MQTT strings should not hold \(MQTT 3\.1\.1 section 1\.5\.3, MQTT 5\.0 section 1\.5\.4\)$/,
  ],
  ["user with a newline", ["id", "h", { user: "a\nb" }], TypeError, /user.*U\+000A, a control/],
  [
    "ssl_params not an object",
    ["id", "h", { ssl_params: "tls" as unknown as Record<string, string> }],
    TypeError,
    /ssl_params/,
  ],
  [
    "ssl_params.cadata not a string",
    ["id", "h", { ssl_params: { cadata: 1 as unknown as string } }],
    TypeError,
    /ssl_params\.cadata/,
  ],
  ["maxPacketSize 1.5", ["id", "h", { maxPacketSize: 1.5 }], RangeError, /maxPacketSize 1\.5/],
  [
    "maxPacketSize over the protocol's limit",
    ["id", "h", { maxPacketSize: 268_435_461 }],
    RangeError,
    /maxPacketSize/,
  ],
  ["connectTimeout 0", ["id", "h", { connectTimeout: 0 }], RangeError, /connectTimeout 0/],
];

for (const [name, args, type, message] of constructorCases) {
  test(`constructor refuses ${name}`, () => {
    assert.throws(() => new MQTTClient(...args), (e: Error) => {
      assert.ok(e instanceof type, `${name}: expected ${type.name}, got ${e}`);
      assert.match(e.message, message);
      return true;
    });
  });
}

/** A client whose transport records whether it was ever called. */
function offline() {
  const state = { opened: 0 };
  const client = new MQTTClient("args", "127.0.0.1", {
    transport: () => {
      state.opened++;
      throw new Error("no network in this test");
    },
  });
  return { client, state };
}

const asyncCases: [string, (c: MQTTClient) => Promise<unknown>, ErrorConstructor, RegExp][] = [
  ["publish to an empty topic", (c) => c.publish("", "m"), TypeError, /MQTT-4\.7\.3-1/],
  ["publish to a + topic", (c) => c.publish("a/+", "m"), TypeError, /"a\/\+".*MQTT-3\.3\.2-2/],
  ["publish to a # topic", (c) => c.publish("a/#", "m"), TypeError, /MQTT-3\.3\.2-2/],
  ["publish with U+0000", (c) => c.publish("a\0", "m"), TypeError, /MQTT-1\.5\.3-2/],
  ["publish with a lone surrogate", (c) => c.publish("a\ud800", "m"), TypeError, /MQTT-1\.5\.3-1/],
  // mosquitto 2.0 closes the connection over these, and a kept publish would
  // then be refused on every reconnect: refused before any byte goes.
  ["publish with a tab", (c) => c.publish("a\tb", "m"), TypeError, /topic.*U\+0009, a control/],
  ["publish with U+0085", (c) => c.publish("a\x85", "m"), TypeError, /U\+0085, a control/],
  ["publish with U+FFFF", (c) => c.publish("a\uffff", "m"), TypeError, /U\+FFFF, a non-char/],
  ["publish with U+FDD0", (c) => c.publish("a\ufdd0", "m"), TypeError, /U\+FDD0, a non-char/],
  ["publish with U+10FFFE", (c) => c.publish("a\u{10fffe}", "m"), TypeError, /U\+10FFFE, a non/],
  ["subscribe with U+007F", (c) => c.subscribe("a\x7f/#"), TypeError, /filter.*U\+007F/],
  ["unsubscribe with U+001F", (c) => c.unsubscribe("a\x1f"), TypeError, /filter.*U\+001F/],
  ["publish to a topic over 65535 bytes", (c) => c.publish(long, "m"), RangeError, /65535/],
  ["publish with QoS 3", (c) => c.publish("a", "m", false, 3 as QoS), RangeError, /qos 3/],
  ["publish with QoS -1", (c) => c.publish("a", "m", false, -1 as QoS), RangeError, /qos -1/],
  ["publish a number", (c) => c.publish("a", 5 as unknown as string), TypeError, /msg/],
  [
    "publish a topic not a string",
    (c) => c.publish(1 as unknown as string, "m"),
    TypeError,
    /topic/,
  ],
  [
    "publish retain not a boolean",
    (c) => c.publish("a", "m", 1 as unknown as boolean),
    TypeError,
    /retain/,
  ],
  ["subscribe to an empty filter", (c) => c.subscribe(""), TypeError, /MQTT-4\.7\.3-1/],
  ["subscribe to a/#/b", (c) => c.subscribe("a/#/b"), TypeError, /"a\/#\/b".*MQTT-4\.7\.1-2/],
  ["subscribe to a#", (c) => c.subscribe("a#"), TypeError, /MQTT-4\.7\.1-2/],
  ["subscribe to a+", (c) => c.subscribe("a+"), TypeError, /"a\+".*MQTT-4\.7\.1-3/],
  ["subscribe to a/+b/c", (c) => c.subscribe("a/+b/c"), TypeError, /MQTT-4\.7\.1-3/],
  ["subscribe with QoS 3", (c) => c.subscribe("a", 3 as QoS), RangeError, /qos 3/],
  ["subscribe with QoS null", (c) => c.subscribe("a", null as never), TypeError, /got null/],
  ["subscribe to an empty list", (c) => c.subscribe([]), TypeError, /MQTT-3\.8\.3-3/],
  [
    "subscribe with a bad pair",
    (c) => c.subscribe([["a"]] as unknown as [string, QoS][]),
    TypeError,
    /pair/,
  ],
  ["subscribe to a filter over 65535 bytes", (c) => c.subscribe(long), RangeError, /65535/],
  ["unsubscribe from a+", (c) => c.unsubscribe("a+"), TypeError, /MQTT-4\.7\.1-3/],
  ["unsubscribe from an empty list", (c) => c.unsubscribe([]), TypeError, /MQTT-3\.10\.3-2/],
  ["publish with QoS 1.5", (c) => c.publish("a", "m", false, 1.5 as QoS), RangeError, /qos 1\.5/],
  [
    'publish with QoS "1"',
    (c) => c.publish("a", "m", { qos: "1" as unknown as QoS }),
    TypeError,
    /qos: must be 0, 1 or 2, got string/,
  ],
  ["publish a null payload", (c) => c.publish("a", null as unknown as string), TypeError, /msg/],
  [
    "subscribe to a filter not a string",
    (c) => c.subscribe(7 as unknown as string),
    TypeError,
    /filter must be a string/,
  ],
  ["subscribe to # then more", (c) => c.subscribe("#/a"), TypeError, /MQTT-4\.7\.1-2/],
  ["subscribe to a filter with U+0000", (c) => c.subscribe("a/\0"), TypeError, /MQTT-1\.5\.3-2/],
  ["subscribe with QoS -1 in a list", (c) => c.subscribe([["a", -1 as QoS]]), RangeError, /qos -1/],
  [
    "subscribe with one bad filter in a list",
    (c) => c.subscribe([["a", 0], ["b+", 1]]),
    TypeError,
    /"b\+".*MQTT-4\.7\.1-3/,
  ],
  ["unsubscribe from an empty filter", (c) => c.unsubscribe(""), TypeError, /MQTT-4\.7\.3-1/],
  ["unsubscribe from a#", (c) => c.unsubscribe("a#"), TypeError, /MQTT-4\.7\.1-2/],
  [
    "unsubscribe from a filter not a string",
    (c) => c.unsubscribe(5 as unknown as string),
    TypeError,
    /filter must be a string/,
  ],
  ["unsubscribe from a filter over 65535 bytes", (c) => c.unsubscribe(long), RangeError, /65535/],
  [
    "connect with clean_session not a boolean",
    (c) => c.connect("no" as unknown as boolean),
    TypeError,
    /clean_session/,
  ],
];

for (const [name, call, type, message] of asyncCases) {
  test(`${name} rejects with ${type.name} before any byte`, async () => {
    const { client, state } = offline();
    await assert.rejects(call(client), (e: Error) => {
      assert.ok(e instanceof type, `${name}: expected ${type.name}, got ${e}`);
      assert.match(e.message, message);
      return true;
    });
    assert.equal(state.opened, 0, "the transport was never opened");
  });
}

/** A transport to `broker` through the node:net adapter that records the type of every packet written. */
function recording(broker: Broker) {
  const sent: string[] = [];
  const decoder = new PacketDecoder();
  const transport = async () => {
    const pair = await connectNode({ hostname: broker.host, port: broker.port });
    const writer = pair.writable.getWriter();
    const writable = new WritableStream<Uint8Array>({
      write(chunk) {
        for (const p of decoder.push(chunk.slice())) sent.push(p.type);
        return writer.write(chunk);
      },
      close: () => writer.close(),
      abort: (reason) => writer.abort(reason),
    });
    return { readable: pair.readable, writable, close: pair.close };
  };
  return { sent, transport };
}

forEachBroker(
  "every bad argument on a connected client: refused, nothing sent, still connected",
  async (broker) => {
    const { sent, transport } = recording(broker);
    const client = new MQTTClient(uniqueId("args"), broker.host, { port: broker.port, transport });
    await client.connect();
    for (const [name, call, type, message] of asyncCases) {
      await assert.rejects(call(client), (e: Error) => {
        assert.ok(e instanceof type, `${name}: expected ${type.name}, got ${e}`);
        assert.match(e.message, message, name);
        return true;
      });
    }
    assert.throws(() => client.set_last_will("a/+", "m"), /MQTT-3\.3\.2-2/);
    assert.equal(client.connected, true);
    await client.ping();
    assert.deepEqual(sent, ["connect", "pingreq"], "only the CONNECT and the PINGREQ went out");
    await client.disconnect();
  },
);

test("an empty client id needs a clean session (MQTT-3.1.3-7)", async () => {
  let opened = 0;
  const c = new MQTTClient("", "127.0.0.1", { transport: () => (opened++, new Promise(() => {})) });
  await assert.rejects(c.connect(false), /MQTT-3\.1\.3-7/);
  assert.equal(opened, 0);
});

test("synchronous members throw on bad arguments", () => {
  const c = new MQTTClient("args", "127.0.0.1");
  assert.throws(() => c.set_callback("f" as unknown as () => void), TypeError);
  assert.throws(() => c.setCallback(undefined as unknown as () => void), /callback/);
  assert.throws(() => c.set_last_will("a/+", "m"), /MQTT-3\.3\.2-2/);
  assert.throws(() => c.set_last_will("", "m"), /MQTT-4\.7\.3-1/);
  assert.throws(() => c.set_last_will("a\u0007", "m"), /will topic.*U\+0007, a control/);
  assert.throws(() => c.set_last_will("a", "m", false, 3 as QoS), RangeError);
  assert.throws(() => c.setLastWill("a", new Uint8Array(65536)), /will message.*65535/);
  assert.throws(() => c.set_last_will("a", 7 as unknown as string), /msg/);
});

test("server URLs and ports follow umqtt's precedence", () => {
  const cases: [Ctor, string, number, boolean][] = [
    [["id", "broker.local"], "broker.local", 1883, false],
    [["id", "broker.local", 0, undefined, undefined, 0, true], "broker.local", 8883, true],
    [["id", "mqtt://10.0.0.1"], "10.0.0.1", 1883, false],
    [["id", "mqtt://10.0.0.1:1999"], "10.0.0.1", 1999, false],
    [["id", "mqtt://10.0.0.1:1999", 2000], "10.0.0.1", 2000, false],
    [["id", "mqtts://h"], "h", 8883, true],
    [["id", "MQTTS://h:9000", { port: 0 }], "h", 9000, true],
    [["id", "mqtt://[::1]:1884"], "::1", 1884, false],
  ];
  for (const [args, server, port, ssl] of cases) {
    const c = new MQTTClient(...args);
    assert.deepEqual([c.server, c.port, c.ssl], [server, port, ssl], String(args));
  }
});

test("a server URL with credentials, or that is no URL, is a TypeError (and does not echo a password)", () => {
  assert.throws(
    () => new MQTTClient("id", "mqtt://alice:s3cret@127.0.0.1:1883"),
    (e: unknown) => {
      assert.ok(e instanceof TypeError);
      assert.equal(
        e.message,
        "Invalid server mqtt://…@127.0.0.1:1883: credentials in the URL are not used; give the user and password options",
      );
      return true;
    },
  );
  assert.throws(() => new MQTTClient("id", ["h", "ws://bob@h/mqtt"]), /ws:\/\/…@h: credentials/);
  assert.throws(
    () => new MQTTClient("id", "mqtt://"),
    /^TypeError: Invalid server "mqtt:\/\/": not a URL \(mqtt:\/\/host\[:port\]\)$/,
  );
  assert.throws(() => new MQTTClient("id", "mqtt://alice:s3cret@"), (e: unknown) => {
    assert.ok(e instanceof TypeError && !e.message.includes("s3cret"), String(e));
    return true;
  });
});

test("a client that never connected rejects I/O with MQTTConnectionError", async () => {
  const c = new MQTTClient("never", "127.0.0.1");
  await assert.rejects(c.publish("a", "b"), /not connected; call connect\(\) first/);
  await assert.rejects(c.subscribe("a"), /not connected/);
  await assert.rejects(c.unsubscribe("a"), /not connected/);
  await assert.rejects(c.ping(), /not connected/);
  await assert.rejects(c.wait_msg(), /not connected/);
  await assert.rejects(c.check_msg(), /not connected/);
  await c.disconnect();
});

test("topicMatches follows MQTT's matching rules", () => {
  const table: [string, string, boolean][] = [
    ["a/b", "a/b", true],
    ["a/+", "a/b", true],
    ["a/+", "a/b/c", false],
    ["a/+", "a/", true],
    ["+/+", "/finance", true],
    ["+", "/finance", false],
    ["a/#", "a", true],
    ["a/#", "a/b/c", true],
    ["#", "a/b", true],
    ["#", "$SYS/x", false],
    ["+/x", "$SYS/x", false],
    ["$SYS/#", "$SYS/x", true],
    ["a/b", "a/c", false],
    ["a/b/c", "a/b", false],
  ];
  for (const [filter, topic, expected] of table) {
    assert.equal(topicMatches(filter, topic), expected, `${filter} vs ${topic}`);
  }
});

test("publish and the will: a misspelt option is a TypeError naming it, not a QoS 0 publish", async () => {
  const c = new MQTTClient("id", "127.0.0.1");
  const cases: [unknown, RegExp][] = [
    [
      { QoS: 1 },
      /^TypeError: Invalid option QoS for publish: accepted are retain, qos, signal, properties$/,
    ],
    [{ qos: 1, retained: true }, /^TypeError: Invalid option retained for publish: /],
    [
      { signal: "stop" },
      /^TypeError: Invalid option signal for publish: must be an AbortSignal, got string$/,
    ],
  ];
  for (const [options, message] of cases) {
    await assert.rejects(c.publish("t", "m", options as { qos: QoS }), message);
    await assert.rejects(c.publish("t", "m", false, 0, options as never), message);
  }
  await assert.rejects(
    c.publish("t", "m", false, 0, null as never),
    /^TypeError: Invalid options for publish: must be an object, got null$/,
  );
  assert.throws(
    () => c.set_last_will("t", "m", { qos: 1, retian: true } as { qos: QoS }),
    /^TypeError: Invalid option retian for the will: accepted are retain, qos, properties$/,
  );
  // Not connected, but the arguments were right: the usual refusal.
  await assert.rejects(c.publish("t", "m", { qos: 1, retain: true }), /not connected/);
});

test("the constructor: a misspelt option is a TypeError naming it, not a setting left out", () => {
  for (
    const [key, value] of [["keepAlive", 60], ["cleanSession", false], ["username", "bob"]] as const
  ) {
    assert.throws(
      () => new MQTTClient("id", "127.0.0.1", { [key]: value }),
      new RegExp(`^TypeError: Invalid option ${key} for the client: accepted are port, user, `),
    );
  }
  // The reconnecting client's own options are for it alone.
  assert.throws(
    () => new MQTTClient("id", "127.0.0.1", { reconnectMaxDelay: 5 } as object),
    /^TypeError: Invalid option reconnectMaxDelay for the client: /,
  );
  new RobustClient("id", "127.0.0.1", { reconnectMaxDelay: 5, keepalive: 5 });
  assert.throws(
    () => new RobustClient("id", "127.0.0.1", { signal: 5 as unknown as AbortSignal }),
    /^TypeError: Invalid option signal for the client: must be an AbortSignal, got number$/,
  );
});

test("options that are not an object, or a signal that is not an AbortSignal, are TypeErrors naming them", async () => {
  const c = new MQTTClient("id", "127.0.0.1");
  const no = null as unknown as object;
  await assert.rejects(
    c.connect(true, no),
    /^TypeError: Invalid options for connect: must be an object, got null$/,
  );
  await assert.rejects(
    c.connect({ signal: "stop" as unknown as AbortSignal }),
    /^TypeError: Invalid option signal for connect: must be an AbortSignal, got string$/,
  );
  await assert.rejects(
    c.subscribe("t", 0, no),
    /^TypeError: Invalid options for subscribe: must be an object, got null$/,
  );
  await assert.rejects(
    c.subscribe("t", { qos: 1, signal: 5 as unknown as AbortSignal }),
    /^TypeError: Invalid option signal for subscribe: must be an AbortSignal, got number$/,
  );
  await assert.rejects(
    c.unsubscribe("t", { signal: {} as AbortSignal }),
    /^TypeError: Invalid option signal for unsubscribe: must be an AbortSignal, got object$/,
  );
  assert.equal(c.connected, false);
});

test("wait_msg, waitMsg and messages: options that are not an object, unknown, or a bad signal are TypeErrors naming them", async () => {
  for (const c of [new MQTTClient("id", "127.0.0.1"), new RobustClient("id", "127.0.0.1")]) {
    const cases: [unknown, RegExp][] = [
      [null, /^TypeError: Invalid options for WHAT: must be an object, got null$/],
      [{ timeout: 100 }, /^TypeError: Invalid option timeout for WHAT: accepted are signal$/],
      [
        { signal: 1 },
        /^TypeError: Invalid option signal for WHAT: must be an AbortSignal, got number$/,
      ],
    ];
    for (const [options, message] of cases) {
      const named = (what: string) => new RegExp(message.source.replace("WHAT", what));
      await assert.rejects(c.wait_msg(options as { signal?: AbortSignal }), named("wait_msg"));
      await assert.rejects(c.waitMsg(options as { signal?: AbortSignal }), named("wait_msg"));
      // At the call (the simple client) or at the first next() (the robust one's generator).
      await assert.rejects(
        (async () => await c.messages(options as { signal?: AbortSignal }).next())(),
        named("messages"),
      );
    }
  }
  // Right options, no connection: the usual refusal.
  const c = new MQTTClient("id", "127.0.0.1");
  await assert.rejects(c.wait_msg({ signal: new AbortController().signal }), /not connected/);
});

test("a host with a port is a TypeError pointing at the port option or a URL; a bracketed IPv6 host loses its brackets", () => {
  for (const server of ["127.0.0.1:1883", "broker.local:1883", "[::1]:1883"]) {
    assert.throws(
      () => new MQTTClient("id", server),
      new RegExp(
        `^TypeError: Invalid server "${
          server.replace(/[[\].]/g, "\\$&")
        }": a host cannot carry a port; give the port option, or a URL \\(mqtt://`,
      ),
    );
  }
  assert.throws(() => new MQTTClient("id", ["a", "b:1883"]), /Invalid server "b:1883"/);
  // An IPv6 address is a host: bare, or in brackets as in a URL (which node:net would not resolve).
  for (const server of ["::1", "[::1]", "mqtt://[::1]"]) {
    const c = new MQTTClient("id", server);
    assert.equal(c.server, "::1", server);
    assert.equal(c.url, "mqtt://[::1]:1883", server);
  }
});

test("a server with a slash or a space that is no URL is a TypeError asking for one, not for the port option", () => {
  // A scheme's slash missing, a space before the URL, a host followed by a path: no host name can
  // hold either. They were taken for a host with a port ("give the port option, or a URL
  // (mqtt://mqtt:/127.0.0.1)"), or for a host name, refused only by the name lookup at connect().
  for (const server of ["mqtt:/127.0.0.1", " mqtt://127.0.0.1", "broker.local/mqtt", "mqtt//h:1"]) {
    for (const Client of [MQTTClient, RobustClient]) {
      assert.throws(
        () => new Client("id", server),
        new RegExp(
          `^TypeError: Invalid server "${
            server.replace(/[.]/g, "\\$&")
          }": not a URL \\(mqtt://host\\[:port\\]\\)$`,
        ),
        server,
      );
    }
  }
});

test("a server with a space and no slash is refused as a host name, not as a URL", () => {
  // "bad host" was "not a URL (mqtt://host[:port])", which asked for a URL where a host name
  // was meant (umqtt pub -h "bad host"), and mqtt://bad host is no URL either.
  for (const server of ["bad host", "broker.local 1883", "h\t", "a b:1883"]) {
    for (const Client of [MQTTClient, RobustClient]) {
      assert.throws(() => new Client("id", server), {
        name: "TypeError",
        message: `Invalid server "${server}": a host name cannot contain spaces`,
      });
    }
  }
});

test("a mistyped URL of a scheme is answered with that scheme's form, not mqtt://", () => {
  // They asked for "mqtt://host[:port]" (ws:/h, wss//h, mqtts:/h), or for the port option with
  // "(mqtt://ws:host)"; ws:h:80, wss:h:443, mqtts:h:8883 were taken for a host name, refused only
  // by the name lookup at connect().
  const cases: [string, string][] = [
    ["ws:/host", "ws"],
    ["wss//host:443/mqtt", "wss"],
    ["ws:host", "ws"],
    ["WS:/host", "ws"],
    [" wss://host", "wss"],
    ["wss:host:443", "wss"],
    ["ws:h:80", "ws"],
    ["mqtts:/h", "mqtts"],
    ["mqtts//h:8883", "mqtts"],
    ["mqtts:h:8883", "mqtts"],
    ["mqtt:h", "mqtt"],
  ];
  for (const [server, scheme] of cases) {
    assert.throws(
      () => new MQTTClient("id", server),
      (e: unknown) => {
        assert.ok(e instanceof TypeError, `${server}: ${e}`);
        assert.equal(e.message, `Invalid server "${server}": not a URL (${scheme}://host[:port])`);
        return true;
      },
    );
  }
  // A host named like a scheme, with a port, is still a host with a port.
  assert.throws(() => new MQTTClient("id", "ws:8080"), /a host cannot carry a port/);
});

test("the robust client's DELAY: anything but a finite number of seconds ≥ 0 is a RangeError naming it", () => {
  const c = new RobustClient("id", "127.0.0.1");
  for (const bad of ["2s", NaN, -5, Infinity, null]) {
    assert.throws(
      () => (c.DELAY = bad as number),
      new RegExp(`^RangeError: Invalid DELAY ${String(bad)}: must be a finite number of seconds`),
    );
  }
  assert.equal(c.DELAY, 2, "unchanged by the refused values");
  c.DELAY = 0;
  c.DELAY = 0.5;
  assert.equal(c.DELAY, 0.5);
});

test('a topic given as bytes (MicroPython\'s b"topic") is refused with its type named', async () => {
  const c = new MQTTClient("id", "127.0.0.1");
  const bytes = new TextEncoder().encode("a/b");
  await assert.rejects(
    c.publish(bytes as unknown as string, "m"),
    /^TypeError: Cannot publish: the topic must be a string, got Uint8Array$/,
  );
  await assert.rejects(
    c.subscribe(bytes as unknown as string),
    /^TypeError: Cannot subscribe: the topic filter must be a string, got Uint8Array$/,
  );
  assert.throws(
    () => c.set_last_will(bytes as unknown as string, "gone"),
    /the topic must be a string, got Uint8Array$/,
  );
});

test("ssl_params: an empty value, or any value for a ws:// or wss:// server, is a TypeError naming it", () => {
  for (const key of ["server_hostname", "cadata"]) {
    assert.throws(
      () => new MQTTClient("id", "mqtts://h", { ssl_params: { [key]: " " } }),
      new RegExp(`^TypeError: Invalid ssl_params\\.${key}: empty; leave it out instead$`),
    );
  }
  assert.throws(
    () => new MQTTClient("id", "mqtts://h", { ssl_params: { cert: "", key: "" } }),
    /^TypeError: Invalid ssl_params\.cert: empty/,
  );
  assert.throws(
    () =>
      new MQTTClient("id", ["mqtts://a", "wss://b/mqtt"], { ssl_params: { server_hostname: "a" } }),
    /^TypeError: Invalid ssl_params for wss:\/\/b:443: they do not apply to ws:\/\/ and wss:\/\//,
  );
  // None given: fine, as before.
  new MQTTClient("id", "wss://b/mqtt", { ssl_params: {} });
});

// A cadata that is a file's path, not its text, got past the constructor and
// failed each runtime's TLS its own way, naming neither cadata nor a path:
// Node "self-signed certificate in certificate chain" (the broker's chain
// blamed), Bun "Invalid CA", Deno "invalid peer certificate: UnknownIssuer",
// and only once connecting.
test("ssl_params.cadata with no PEM in it (a file's path) is a TypeError naming it, in both clients", () => {
  for (const Client of [MQTTClient, RobustClient]) {
    for (const cadata of ["ca.pem", "/etc/ssl/certs/ca.pem", "MIIDazCCAlOgAwIBAgIU"]) {
      assert.throws(
        () => new Client("id", "mqtts://h", { ssl_params: { cadata } }),
        /^TypeError: Invalid ssl_params\.cadata: no PEM in it \(a path\? give the file's text\)$/,
      );
    }
    // PEM text, with what comes before it in a bundle file, is taken.
    new Client("id", "mqtts://h", {
      ssl_params: {
        cadata: "# a bundle\n-----BEGIN CERTIFICATE-----\nMIID\n-----END CERTIFICATE-----\n",
      },
    });
  }
});

test("a session store read back wrong is a TypeError naming the entry, before anything is sent", () => {
  const publish = (id: number, qos: QoS = 1) =>
    encode({
      type: "publish",
      topic: "t",
      payload: new Uint8Array([1]),
      qos,
      retain: false,
      dup: false,
      packetId: id,
    });
  const out = "^TypeError: Invalid sessionStore\\.outgoing entry";
  const cases: [Map<unknown, unknown>, Set<unknown>, string][] = [
    [
      new Map([[7, publish(7).subarray(0, 6)]]),
      new Set(),
      `${out} 7: 6 bytes, not a whole packet$`,
    ],
    [
      new Map([[7, [...publish(7)]]]),
      new Set(),
      `${out} 7: its packet is not a Uint8Array \\(got Array\\)$`,
    ],
    [
      new Map([["7", publish(7)]]),
      new Set(),
      `${out} "7" \\(a string\\): not a packet id \\(1 to 65535\\)$`,
    ],
    [new Map([[0, publish(1)]]), new Set(), `${out} 0: not a packet id`],
    [new Map([[8, publish(7)]]), new Set(), `${out} 8: the packet inside has packet id 7$`],
    [new Map([[7, new Uint8Array(0)]]), new Set(), `${out} 7: not a QoS 1/2 PUBLISH or a PUBREL$`],
    // The edges: the largest id plus one, QoS bits 3, a packet with a byte
    // more than its Remaining Length says, a PUBREL without its 0010 flags.
    [new Map([[65536, publish(1)]]), new Set(), `${out} 65536: not a packet id`],
    [new Map(), new Set([65536]), "^TypeError: Invalid sessionStore\\.incoming entry 65536"],
    [
      new Map([[7, publish(7).map((b, i) => i === 0 ? b | 0x06 : b)]]),
      new Set(),
      `${out} 7: not a QoS 1/2 PUBLISH or a PUBREL$`,
    ],
    [
      new Map([[7, Uint8Array.from([...publish(7), 0])]]),
      new Set(),
      `${out} 7: \\d+ bytes, not a whole packet$`,
    ],
    [
      new Map([[7, Uint8Array.of(0x60, 2, 0, 7)]]),
      new Set(),
      `${out} 7: not a QoS 1/2 PUBLISH or a PUBREL$`,
    ],
    [
      new Map(),
      new Set([70000]),
      "^TypeError: Invalid sessionStore\\.incoming entry 70000: not a packet id",
    ],
  ];
  for (const [outgoing, incoming, message] of cases) {
    const sessionStore = { outgoing, incoming } as unknown as MemorySessionStore;
    assert.throws(() => new MQTTClient("id", "127.0.0.1", { sessionStore }), new RegExp(message));
  }
  // What the client itself keeps passes: a PUBLISH at QoS 1 and 2, and a PUBREL.
  new MQTTClient("id", "127.0.0.1", {
    sessionStore: {
      outgoing: new Map([[1, publish(1)], [2, publish(2, 2)], [
        3,
        encode({ type: "pubrel", packetId: 3 }),
      ]]),
      incoming: new Set([5]),
    },
  });
});

test('a session store key that is no number is named as it is: "5" is a string, not the id 5', () => {
  const pubrel = Uint8Array.of(0x62, 2, 0, 5);
  const cases: [Map<unknown, unknown>, Set<unknown>, string][] = [
    [new Map(), new Set(["5"]), 'incoming entry "5" (a string): not a packet id (1 to 65535)'],
    [
      new Map([["5", pubrel]]),
      new Set(),
      'outgoing entry "5" (a string): not a packet id (1 to 65535)',
    ],
    [
      new Map([[5n, pubrel]]),
      new Set(),
      "outgoing entry of type bigint: not a packet id (1 to 65535)",
    ],
    [new Map(), new Set([null]), "incoming entry of type null: not a packet id (1 to 65535)"],
  ];
  for (const [outgoing, incoming, message] of cases) {
    const sessionStore = { outgoing, incoming } as unknown as MemorySessionStore;
    assert.throws(() => new MQTTClient("id", "127.0.0.1", { sessionStore }), {
      name: "TypeError",
      message: `Invalid sessionStore.${message}`,
    });
  }
});

// Checked by the type checker (`deno test` checks before it runs): a callback
// may return anything, as the client awaits only what it returns.
test("set_callback's type takes callbacks that return a value, not only void or a promise", () => {
  const c = new MQTTClient("id", "127.0.0.1");
  const list: Uint8Array[] = [];
  c.set_callback((_topic, msg) => list.push(msg)); // returns a number
  c.set_callback(async (_topic, msg) => await Promise.resolve(msg.length)); // a Promise<number>
});

test("a signal given in place of the options object is a TypeError saying to give { signal }", async () => {
  const signal = new AbortController().signal;
  const as = signal as never;
  for (const c of [new MQTTClient("id", "127.0.0.1"), new RobustClient("id", "127.0.0.1")]) {
    const said = (what: string) =>
      new RegExp(`^TypeError: Invalid options for ${what}: an AbortSignal; give \\{ signal \\}$`);
    // It was read as options with the keys "aborted", "reason", … : "Invalid option aborted".
    await assert.rejects(c.wait_msg(as), said("wait_msg"));
    await assert.rejects((async () => await c.messages(as).next())(), said("messages"));
    await assert.rejects(c.connect(as), said("connect"));
    await assert.rejects(c.connect(true, as), said("connect"));
    await assert.rejects(c.publish("t", "m", as), said("publish"));
    await assert.rejects(c.publish("t", "m", false, 0, as), said("publish"));
    await assert.rejects(c.subscribe("t", as), said("subscribe"));
    await assert.rejects(c.unsubscribe("t", as), said("unsubscribe"));
    assert.throws(() => c.set_last_will("t", "m", as), said("the will"));
  }
});

test("the constructor: an argument after the options object is a TypeError naming it, not left unused", () => {
  for (const C of [MQTTClient, RobustClient]) {
    // new MQTTClient(id, server, { port }, user, password): connected anonymously, without a word.
    assert.throws(
      () => new C("id", "127.0.0.1", { port: 1883 }, "alice", "secret"),
      /^TypeError: Invalid user: give it in the options object$/,
    );
    const rest = [["keepalive", 60], ["ssl", true], ["ssl_params", { server_hostname: "h" }]];
    for (const [i, [name, value]] of rest.entries()) {
      const args = [undefined, undefined, undefined, undefined, undefined] as unknown[];
      args[i + 2] = value;
      assert.throws(
        () => new C("id", "127.0.0.1", { port: 1883 }, ...(args as [])),
        new RegExp(`^TypeError: Invalid ${name}: give it in the options object$`),
      );
    }
    assert.throws(
      () => new C("id", "127.0.0.1", {}, undefined, "pw"),
      /^TypeError: Invalid password: give it in the options object$/,
    );
    // Either form alone is as before.
    assert.equal(new C("id", "127.0.0.1", { port: 1884, keepalive: 60 }).keepalive, 60);
    assert.equal(new C("id", "127.0.0.1", 1884, "u", "p", 60, false, {}).keepalive, 60);
  }
});

test("an integer option given as -0 reads 0, as it is sent", () => {
  for (const C of [MQTTClient, RobustClient]) {
    const c = new C("id", "127.0.0.1", { keepalive: -0, port: -0 });
    assert.ok(
      Object.is(c.keepalive, 0),
      `keepalive reads ${Object.is(c.keepalive, -0) ? "-0" : c.keepalive}`,
    );
    assert.equal(c.port, 1883);
  }
  const r = new RobustClient("id", "127.0.0.1");
  r.DELAY = -0;
  assert.ok(Object.is(r.DELAY, 0));
});

test("an argument of an anonymous class, or none, is named object, not by an empty name", async () => {
  // A class's name, where the object has one; an anonymous class's is "": "got " said nothing.
  const anonymous = new (class {})();
  assert.throws(
    () => new MQTTClient(anonymous as unknown as string, "127.0.0.1"),
    /^TypeError: Invalid client_id: must be a string, got object$/,
  );
  const c = new MQTTClient("id", "127.0.0.1");
  assert.throws(
    () => c.set_last_will("t", anonymous as unknown as string),
    /^TypeError: Invalid msg: must be a string or a Uint8Array, got object$/,
  );
  await assert.rejects(
    async () => await c.publish(anonymous as unknown as string, "x"),
    /^TypeError: Cannot publish: the topic must be a string, got object$/,
  );
});

test("an object without a class of its own is named object by every check, as {} is", async () => {
  // {} as a topic was "got Object", as a client id "got object"; an object made by
  // Object.create({}) (its prototype a plain object) was "got Object" everywhere.
  const c = new MQTTClient("id", "127.0.0.1");
  for (const v of [{}, Object.create({}), Object.create(null)]) {
    assert.throws(
      () => new MQTTClient(v, "127.0.0.1"),
      /^TypeError: Invalid client_id: must be a string, got object$/,
    );
    assert.throws(
      () => c.set_last_will("t", v),
      /^TypeError: Invalid msg: must be a string or a Uint8Array, got object$/,
    );
    await assert.rejects(
      async () => await c.publish(v, "x"),
      /^TypeError: Cannot publish: the topic must be a string, got object$/,
    );
  }
  // Checks that named the type by typeof called null and an array "object".
  for (const [v, name] of [[null, "null"], [[], "Array"]]) {
    assert.throws(
      () => c.set_callback(v as never),
      new RegExp(`^TypeError: Invalid callback: must be a function, got ${name}$`),
    );
  }
});

test("a scheme alone with its colon (ws:, mqtts:) is a URL cut short, not a host with an empty port", () => {
  // They were "a host cannot carry a port; give the port option, or a URL (mqtt://ws:)".
  for (
    const [server, scheme] of [["ws:", "ws"], ["wss:", "wss"], ["mqtts:", "mqtts"], [
      "mqtt:",
      "mqtt",
    ]]
  ) {
    assert.throws(() => new MQTTClient("id", server), {
      name: "TypeError",
      message: `Invalid server "${server}": not a URL (${scheme}://host[:port])`,
    });
  }
});

test("client.ssl_params is frozen, given or not: a write throws, it never reaches a connect()", () => {
  const pem = "-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n";
  const key = "-----BEGIN PRIVATE KEY-----\nAA==\n-----END PRIVATE KEY-----\n";
  for (
    const ssl_params of [undefined, { cadata: pem }, { cadata: pem, cert: pem, key }]
  ) {
    const client = new MQTTClient("id", "mqtts://h", { ssl_params });
    assert.ok(Object.isFrozen(client.ssl_params), JSON.stringify(ssl_params));
    assert.throws(() => {
      (client.ssl_params as Record<string, string>).server_hostname = "other.test";
    }, TypeError);
    assert.equal(client.ssl_params.server_hostname, undefined);
    assert.equal(client.ssl_params.key, undefined);
  }
});
