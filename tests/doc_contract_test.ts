// What the README and the JSDoc promise about arguments, checked where an
// audit of the docs against the running code found the code falling short.
import assert from "node:assert/strict";
import { MQTTClient, MQTTConnectionError } from "../mod.ts";
import { MQTTClient as RobustClient } from "../lib/robust.ts";
import { encode } from "../lib/codec/mod.ts";
import { acceptConnect, withHostileBroker } from "./_hostile_broker.ts";
import { test, uniqueId } from "./_test.ts";

// README "From MQTT.js": unknown keys in the options of connect are a
// TypeError naming them, not ignored. After a positional clean_session the
// options object is `{ signal }` (SignalOptions): a clean_session there would
// go unused, and connect(false, { clean_session: true }) resumed the session.
test("connect(clean_session, options): a clean_session in the options is a TypeError naming it", async () => {
  // A connection attempt would mean the option went unchecked.
  const transport = () => Promise.reject(new Error("no connection expected"));
  for (const C of [MQTTClient, RobustClient]) {
    const c = new C("id", "127.0.0.1", { transport });
    for (const [clean, inOptions] of [[false, true], [true, false]]) {
      await assert.rejects(
        c.connect(clean, { clean_session: inOptions } as never),
        /^TypeError: Invalid option clean_session for connect: accepted are signal$/,
      );
    }
    // As one object it is where it belongs.
    await assert.rejects(
      c.connect({ clean_session: true, signal: AbortSignal.abort(new Error("stop")) }),
      /^Error: stop$/,
    );
  }
});

// A reason code given as a string of digits: the message said `reasonCode 4
// is not a reason code` though 4 (0x04) is one; it names the type it has.
test("a reason code that is not an integer is refused naming the type it has", async () => {
  const c = new MQTTClient("id", "127.0.0.1", { protocolVersion: 5 });
  await assert.rejects(
    c.disconnect({ reasonCode: "4" as never }),
    /^TypeError: Invalid DISCONNECT: reasonCode 4 is not a reason code \(string\)$/,
  );
  assert.throws(
    () => encode({ type: "puback", packetId: 1, reasonCode: "16" as never }, 5),
    /^TypeError: Invalid PUBACK: reasonCode 16 is not a reason code \(string\)$/,
  );
  assert.throws(
    () => encode({ type: "connack", sessionPresent: false, returnCode: "0" as never }, 5),
    /^TypeError: Invalid CONNACK: returnCode 0 is not a reason code \(string\)$/,
  );
  assert.throws(
    () => encode({ type: "disconnect", reasonCode: 1.5 }, 5),
    /^TypeError: Invalid DISCONNECT: reasonCode 1.5 is not a reason code \(number\)$/,
  );
});

// README "From MQTT.js": unknown keys in the options of publish, the will and
// subscribe are a TypeError naming them, not ignored. After an options object
// in retain's (qos's) place, the trailing options object only lends its
// signal: anything else there went unused without a word, `properties` and
// `qos` included.
test("after an options object, the trailing options object takes only a signal: the rest is a TypeError naming it", async () => {
  const transport = () => Promise.reject(new Error("no connection expected"));
  const c = new MQTTClient("id", "127.0.0.1", { protocolVersion: 5, transport });
  const refused = (key: string, what: string, accepted: string) =>
    new RegExp(`^TypeError: Invalid option ${key} for ${what}: accepted are ${accepted}$`);
  await assert.rejects(
    c.publish("t", "m", { qos: 1 }, 0, { foo: 1 } as never),
    refused("foo", "publish", "signal"),
  );
  await assert.rejects(
    c.publish("t", "m", { qos: 1 }, 0, { properties: { contentType: "text/plain" } }),
    refused("properties", "publish", "signal"),
  );
  await assert.rejects(
    c.subscribe("t", { qos: 1 }, { foo: 1 } as never),
    refused("foo", "subscribe", "signal"),
  );
  await assert.rejects(
    c.subscribe("t", { qos: 1 }, { qos: 2 } as never),
    refused("qos", "subscribe", "signal"),
  );
  assert.throws(
    () => c.set_last_will("t", "m", { retain: true }, 0, { properties: { contentType: "a" } }),
    refused("properties", "the will", "none"),
  );
  // The forms that were right stay so: a signal there is the call's.
  const signal = AbortSignal.abort(new Error("stop"));
  await assert.rejects(c.publish("t", "m", { qos: 1 }, 0, { signal }), /^Error: stop$/);
  await assert.rejects(c.subscribe("t", { qos: 1 }, { signal }), /^Error: stop$/);
  c.set_last_will("t", "m", { retain: true }, 0, {});
  c.set_last_will("t", "m", true, 1, { properties: { contentType: "a" } });
});

// DELAY's setter: "anything but a finite number ≥ 0 is a RangeError" (its
// JSDoc). Given the string "1", the message read `Invalid DELAY 1: must be a
// finite number of seconds, 0 or more`, as if 1 were out of range; it names
// the type it got.
test("the robust client's DELAY given a string says it got a string", () => {
  const c = new RobustClient("id", "127.0.0.1");
  assert.throws(
    () => (c.DELAY = "1" as never),
    /^RangeError: Invalid DELAY 1: must be a finite number of seconds, 0 or more, got a string$/,
  );
  assert.throws(
    () => (c.DELAY = -1),
    /^RangeError: Invalid DELAY -1: must be a finite number of seconds, 0 or more$/,
  );
});

// After an options object in retain's place, a positional qos went unused
// without a word: publish(t, m, { retain: true }, 1) was sent at QoS 0 and
// resolved without waiting for a PUBACK. Only 0, the placeholder that reaches
// the options after it, is taken there.
test("after an options object, a positional qos other than 0 is a TypeError naming it", async () => {
  const transport = () => Promise.reject(new Error("no connection expected"));
  const c = new MQTTClient("id", "127.0.0.1", { protocolVersion: 5, transport });
  const refused = (qos: number) =>
    new RegExp(
      `^TypeError: Invalid qos ${qos} after an options object: give it there, as \\{ qos \\}$`,
    );
  await assert.rejects(c.publish("t", "m", { retain: true }, 1), refused(1));
  await assert.rejects(c.publish("t", "m", { qos: 1 }, 2), refused(2));
  assert.throws(() => c.set_last_will("t", "m", { retain: true }, 1), refused(1));
  // A 0 there stays the way to reach the trailing options.
  const signal = AbortSignal.abort(new Error("stop"));
  await assert.rejects(c.publish("t", "m", { qos: 1 }, 0, { signal }), /^Error: stop$/);
  c.set_last_will("t", "m", { qos: 2 }, 0);
});

// The robust client's JSDoc and README: ping() does not wait for the
// reconnect, as publish and wait_msg do; offline it rejects at once. (The
// reconnect never gets through: a ping() that waited for it would time out.)
test("robust: ping() while offline rejects at once with MQTTConnectionError", async () => {
  let n = 0;
  // The first connection ends after CONNACK; a reconnect's gets no CONNACK.
  await withHostileBroker(async (peer) => {
    if (n++ > 0) return void await peer.clientClosed;
    await acceptConnect(peer);
    peer.end();
  }, async (broker) => {
    const c = new RobustClient(uniqueId("ping"), broker.url);
    c.DELAY = 60;
    c.log = () => {};
    const lost = new Promise((r) => c.addEventListener("disconnected", r, { once: true }));
    await c.connect();
    await lost;
    await assert.rejects(c.ping(), (e) => e instanceof MQTTConnectionError);
    await c.disconnect();
  });
});

// `disconnect({ reasonCode: -1 })` said "Reserved reason code 0x-1": -1 is no reserved code, it is
// no code at all (one byte); nor is 0x100, which read as "Reserved reason code 0x100".
test("a reason code outside one byte is a RangeError saying so, not a reserved code", async () => {
  const c = new MQTTClient("id", "127.0.0.1", { protocolVersion: 5 });
  for (const [code, shown] of [[-1, "-1"], [0x100, "256"], [-0x80, "-128"]] as const) {
    await assert.rejects(
      c.disconnect({ reasonCode: code }),
      new RegExp(
        `^RangeError: Invalid DISCONNECT: reasonCode ${shown} is not a reason code: must be an integer from 0x00 to 0xff$`,
      ),
    );
  }
  assert.throws(
    () => encode({ type: "puback", packetId: 1, reasonCode: -16 }, 5),
    /^RangeError: Invalid PUBACK: reasonCode -16 is not a reason code: must be an integer from 0x00 to 0xff$/,
  );
  // A reserved one is still named as such.
  await assert.rejects(
    c.disconnect({ reasonCode: 0x7f }),
    /^RangeError: Reserved reason code 0x7f in DISCONNECT \(MQTT-3\.14\.2-1\)$/,
  );
});
