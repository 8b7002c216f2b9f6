// MQTT 5's options, properties and calls given to an MQTT 3.1.1 client: a
// TypeError that names what was given, before anything is sent.
import assert from "node:assert/strict";
import { MQTTClient, type MQTTClientOptions, type StreamPair } from "../mod.ts";
import { MQTTClient as RobustClient, type RobustClientOptions } from "../lib/robust.ts";
import { test } from "./_test.ts";

const V5_ONLY: [keyof MQTTClientOptions | keyof RobustClientOptions, unknown][] = [
  ["sessionExpiryInterval", 60],
  ["receiveMaximum", 10],
  ["topicAliasMaximum", 10],
  ["requestResponseInformation", true],
  ["requestProblemInformation", false],
  ["userProperties", [["a", "b"]]],
  ["authenticationMethod", "SCRAM-SHA-256"],
  ["authenticationData", new Uint8Array(1)],
  ["onAuth", () => new Uint8Array(0)],
  ["autoTopicAlias", false],
];

for (const [name, value] of V5_ONLY) {
  test(`the option ${name} with MQTT 3.1.1 is a TypeError naming it`, () => {
    const message = new RegExp(`^Invalid option ${name}: it is MQTT 5's; give protocolVersion: 5$`);
    for (const version of [undefined, 4] as const) {
      assert.throws(
        () => new MQTTClient("id", "127.0.0.1", { protocolVersion: version, [name]: value }),
        (e: unknown) => e instanceof TypeError && message.test(e.message),
      );
      assert.throws(
        () => new RobustClient("id", "127.0.0.1", { protocolVersion: version, [name]: value }),
        (e: unknown) => e instanceof TypeError && message.test(e.message),
      );
    }
    // The same option is taken with MQTT 5.
    new MQTTClient("id", "127.0.0.1", { protocolVersion: 5, [name]: value });
  });
}

test("followServerReference with MQTT 3.1.1 is a TypeError naming it", () => {
  for (const followServerReference of [true, false]) {
    assert.throws(
      () => new RobustClient("id", "127.0.0.1", { followServerReference }),
      /^TypeError: Invalid option followServerReference: it is MQTT 5's; give protocolVersion: 5$/,
    );
  }
  new RobustClient("id", "127.0.0.1", { protocolVersion: 5, followServerReference: false });
});

test("maxInflightQoS2 with MQTT 5 is a TypeError naming it: the broker's Receive Maximum rules", () => {
  const message =
    /^TypeError: Invalid option maxInflightQoS2: it is MQTT 3\.1\.1's; MQTT 5 keeps to the broker's Receive Maximum$/;
  for (const Client of [MQTTClient, RobustClient]) {
    assert.throws(
      () => new Client("id", "127.0.0.1", { protocolVersion: 5, maxInflightQoS2: 20 }),
      message,
    );
  }
  new MQTTClient("id", "127.0.0.1", { maxInflightQoS2: 1 });
  new RobustClient("id", "127.0.0.1", { protocolVersion: 4, maxInflightQoS2: 65535 });
});

test("MQTT 5 properties and calls with MQTT 3.1.1 are TypeErrors, before anything is sent", async () => {
  const c = new MQTTClient("id", "127.0.0.1");
  const v5 = /it is MQTT 5's|they are MQTT 5's|is MQTT 5's/;
  const props = { properties: { contentType: "text/plain" } };
  await assert.rejects(c.publish("t", "m", props), (e: unknown) => {
    assert.ok(e instanceof TypeError);
    assert.equal(
      e.message,
      "Invalid property contentType for publish: it is MQTT 5's; give protocolVersion: 5",
    );
    return true;
  });
  assert.throws(() => c.set_last_will("t", "m", props), TypeError);
  assert.throws(() => c.set_last_will("t", "m", props), v5);
  assert.throws(
    () => c.set_last_will("t", "m", { properties: { willDelayInterval: 3 } }),
    /^TypeError: Invalid property willDelayInterval for the will: it is MQTT 5's/,
  );
  await assert.rejects(
    c.publish("t", "m", { properties: { contentType: "a", messageExpiryInterval: 3 } }),
    /^TypeError: Invalid properties contentType, messageExpiryInterval for publish: they are MQTT 5's/,
  );
  for (const option of ["noLocal", "retainAsPublished"]) {
    await assert.rejects(c.subscribe("t", { qos: 1, [option]: true }), (e: unknown) => {
      assert.ok(e instanceof TypeError);
      assert.equal(
        e.message,
        `Invalid option ${option} for subscribe: it is MQTT 5's; give protocolVersion: 5`,
      );
      return true;
    });
  }
  await assert.rejects(c.subscribe("t", { retainHandling: 2 }), /retainHandling.*MQTT 5's/);
  await assert.rejects(c.subscribe("t", { subscriptionIdentifier: 3 }), TypeError);
  await assert.rejects(c.subscribe([["t", { qos: 0, noLocal: true }]]), TypeError);
  await assert.rejects(c.disconnect({}), (e: unknown) => {
    assert.ok(e instanceof TypeError);
    assert.equal(
      e.message,
      "Invalid disconnect() options: they are MQTT 5's; give protocolVersion: 5",
    );
    return true;
  });
  await assert.rejects(
    c.disconnect({ reasonCode: 0x04 }),
    /^TypeError: Invalid disconnect\(\) option reasonCode: it is MQTT 5's; give protocolVersion: 5$/,
  );
  await assert.rejects(
    c.unsubscribe("t", { userProperties: [["a", "b"]] }),
    /^TypeError: Invalid option userProperties for unsubscribe: it is MQTT 5's; give protocolVersion: 5$/,
  );
  await assert.rejects(
    new MQTTClient("id", "127.0.0.1", { protocolVersion: 5 }).unsubscribe(
      ["t"],
      { qos: 1 } as object,
    ),
    /^TypeError: Invalid option qos for unsubscribe: accepted are signal, userProperties$/,
  );
  await assert.rejects(
    c.request("t", "q"),
    /^TypeError: Cannot request: request\/response is MQTT 5's$/,
  );
  await assert.rejects(c.reauthenticate(), TypeError);
  // Nothing of that was a connection attempt: the client was never connected, and is not now.
  assert.equal(c.connected, false);
  assert.equal(c.connack, undefined);
});

test("MQTT 5 options CONNECT would carry wrongly are refused: topicAliasMaximum NaN, data without a method", async () => {
  const make = (o: object) => new MQTTClient("id", "127.0.0.1", { protocolVersion: 5, ...o });
  assert.throws(
    () => make({ topicAliasMaximum: NaN }),
    /^RangeError: Invalid topicAliasMaximum NaN: /,
  );
  // Refused when CONNECT is made, before the transport opens.
  let opened = 0;
  const transport = () => (opened++, Promise.reject(new Error("no network here")));
  await assert.rejects(
    make({ authenticationData: new Uint8Array(1), transport }).connect(),
    /^TypeError: Invalid CONNECT: authenticationData needs an authenticationMethod \(MQTT 5\.0 section 3\.1\.2\.11\.10\)$/,
  );
  assert.equal(opened, 0);
  // The codec takes an empty method (a zero-length string is one); the client names none so.
  assert.throws(
    () => make({ authenticationMethod: "", authenticationData: new Uint8Array(1) }),
    /^TypeError: Invalid authenticationMethod: an empty string; give the method's name$/,
  );
});

test("disconnect, request and a transport: what is not an object, or not a StreamPair, is named", async () => {
  const c = new MQTTClient("id", "127.0.0.1", {
    protocolVersion: 5,
    transport: () => null as unknown as StreamPair,
  });
  await assert.rejects(
    c.connect(),
    /Invalid transport: it gave null, not a StreamPair \{ readable, writable \}$/,
  );
  const no = null as unknown as object;
  await assert.rejects(
    c.disconnect(no),
    /^TypeError: Invalid options for disconnect: must be an object, got null$/,
  );
  await assert.rejects(
    c.request("t", "q", no),
    /^TypeError: Invalid options for request: must be an object, got null$/,
  );
  await assert.rejects(
    c.request("t", "q", { timeout: "100" as unknown as number }),
    /^TypeError: Invalid timeout: must be a number of milliseconds, got string$/,
  );
  await assert.rejects(
    c.request("t", "q", { timeot: 100 } as object),
    /^TypeError: Invalid option timeot for request: accepted are timeout, qos, properties, signal$/,
  );
});

test("a number given as a string of digits is a TypeError saying so, not a RangeError about its value", async () => {
  const offline = { transport: () => Promise.reject(new Error("no network in this test")) };
  const c = new MQTTClient("id", "127.0.0.1", { protocolVersion: 5, ...offline });
  const str = (s: string) => s as unknown as number;
  // Before, each said a valid value was invalid: "Invalid protocolVersion 5: must be 4 … or 5".
  assert.throws(
    () => new MQTTClient("id", "127.0.0.1", { protocolVersion: str("5") as 5 }),
    /^TypeError: Invalid protocolVersion: must be 4 \(MQTT 3\.1\.1\) or 5 \(MQTT 5\.0\), got string$/,
  );
  await assert.rejects(
    c.subscribe("t", { retainHandling: str("1") as 1 }),
    /^TypeError: Invalid retainHandling for "t": must be 0, 1 or 2, got string \(MQTT 5\.0 section 3\.8\.3\.1\)$/,
  );
  await assert.rejects(
    c.publish("t", "m", { properties: { messageExpiryInterval: str("60") } }),
    /^TypeError: Invalid messageExpiryInterval "60" in PUBLISH: must be an integer from 0 to 4294967295/,
  );
  assert.throws(
    () => new RobustClient("id", "127.0.0.1", { maxOfflineMessages: str("5") }),
    /^TypeError: Invalid maxOfflineMessages: must be a positive integer, got string$/,
  );
  // Numbers out of range keep their RangeError, the limit named.
  assert.throws(
    () => new MQTTClient("id", "127.0.0.1", { protocolVersion: 3 as 5 }),
    /^RangeError: Invalid protocolVersion 3: must be 4 \(MQTT 3\.1\.1\) or 5 \(MQTT 5\.0\)$/,
  );
  await assert.rejects(
    c.request("t", "q", { timeout: 2 ** 31 }),
    /^RangeError: Invalid timeout 2147483648: must be an integer of milliseconds from 1 to 2147483647$/,
  );
});

test("after a positional qos, options that only the options form takes are refused, not dropped", async () => {
  for (const version of [4, 5] as const) {
    let opened = 0;
    const c = new MQTTClient("id", "127.0.0.1", {
      protocolVersion: version,
      transport: () => {
        opened++;
        throw new Error("no network in this test");
      },
    });
    // publish(topic, msg, retain, qos, options): the options' qos and retain went unused.
    const trailing =
      /^TypeError: Invalid option (qos|retain) for publish: accepted are signal, properties$/;
    await assert.rejects(c.publish("t", "m", false, 1, { qos: 0 } as never), trailing);
    await assert.rejects(c.publish("t", "m", false, 0, { retain: true } as never), trailing);
    // subscribe(filter, qos, options): a second qos, or (MQTT 5) noLocal and the like.
    const sub =
      /^TypeError: Invalid option (\w+) for subscribe: accepted are signal, subscriptionIdentifier, userProperties$/;
    await assert.rejects(c.subscribe("t", 1, { qos: 2 } as never), sub);
    if (version === 5) {
      await assert.rejects(c.subscribe("t", 1, { noLocal: true } as never), sub);
      await assert.rejects(c.subscribe("t", 0, { retainHandling: 2 } as never), sub);
    }
    // set_last_will(topic, msg, retain, qos, options): the same as publish.
    assert.throws(
      () => c.set_last_will("w", "m", false, 1, { qos: 2 } as never),
      /^TypeError: Invalid option qos for the will: accepted are properties$/,
    );
    // The options forms are unchanged.
    await assert.rejects(c.publish("t", "m", { qos: 1, retain: true }), /not connected/);
    await assert.rejects(c.subscribe("t", { qos: 1 }, {}), /not connected/);
    await assert.rejects(
      c.publish("t", "m", false, 1, { signal: AbortSignal.timeout(1e6) }),
      /not connected/,
    );
    c.set_last_will("w", "m", { qos: 1, retain: true });
    assert.equal(opened, 0);
  }
});

// `topicAliasMaximum: 10n` said "Invalid topicAliasMaximum 10 in CONNECT: must be an integer",
// which reads as if 10 were wrong: a bigint is shown as one (`10n`), as a string is quoted.
test("a bigint where a number belongs is shown as a bigint, not as if its value were wrong", async () => {
  const big = (n: number) => BigInt(n) as unknown as number;
  for (const name of ["sessionExpiryInterval", "receiveMaximum", "topicAliasMaximum"]) {
    assert.throws(
      () => new MQTTClient("id", "127.0.0.1", { protocolVersion: 5, [name]: big(10) }),
      new RegExp(`^TypeError: Invalid ${name} 10n in CONNECT: must be an integer from`),
    );
  }
  const c = new MQTTClient("id", "127.0.0.1", { protocolVersion: 5 });
  await assert.rejects(
    c.publish("t", "m", { properties: { messageExpiryInterval: big(60) } }),
    /^TypeError: Invalid messageExpiryInterval 60n in PUBLISH: must be an integer/,
  );
  await assert.rejects(
    c.subscribe("t", { subscriptionIdentifier: big(7) }),
    /^TypeError: Invalid subscriptionIdentifier 7n in SUBSCRIBE: must be an integer/,
  );
  await assert.rejects(
    c.disconnect({ sessionExpiryInterval: big(10) }),
    /^TypeError: Invalid sessionExpiryInterval 10n in DISCONNECT: must be an integer/,
  );
  await assert.rejects(
    c.publish("t", "m", { retain: false }, big(1) as never),
    /^TypeError: Invalid qos 1n after an options object/,
  );
  const r = new RobustClient("id", "127.0.0.1");
  assert.throws(
    () => r.DELAY = big(2),
    /^RangeError: Invalid DELAY 2: must be a finite number of seconds, 0 or more, got a bigint$/,
  );
});
