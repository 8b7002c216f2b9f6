// The protocol core (lib/_protocol.ts, _ids, _acks, _aliases, _ack_order, _ping_clock) where a
// systematic mutation run (every comparison, condition, constant ±1 and statement, one at a time)
// found behaviour no test pinned down. Driven as in protocol_test.ts: decoded packets in, the
// exact packets out; no broker. At the end, the same for the connection's writer (lib/_writer.ts),
// with a channel that records its writes, and its keepalive (lib/_keepalive.ts), looked at by hand.
import assert from "node:assert/strict";
import { Protocol } from "../lib/_protocol.ts";
import { encode } from "../lib/codec/encode.ts";
import { encodePublish } from "../lib/codec/publish.ts";
import { TopicAliases } from "../lib/_aliases.ts";
import { PacketDecoder } from "../lib/codec/decoder.ts";
import type { Packet, PublishPacket, QoS } from "../lib/codec/packet.ts";
import { MQTTConnectionError, MQTTProtocolError } from "../lib/errors.ts";
import { MemorySessionStore } from "../lib/session_store.ts";
import { V4 } from "../lib/_protocol_types.ts";
import { RESET } from "../lib/_refusals.ts";
import { connackRefusal, connackStart } from "../lib/_acks.ts";
import { Inbox } from "../lib/_inbox.ts";
import type { Channel } from "../lib/_channel.ts";
import { Writer } from "../lib/_writer.ts";
import { Keepalive } from "../lib/_keepalive.ts";
import { harness, ids, publishIn, request, V5 } from "./_protocol_harness.ts";
import { publish } from "./_codec.ts";
import { incoming } from "./_incoming.ts";
import { test } from "./_test.ts";

/** A QoS 1 PUBLISH or a SUBSCRIBE through `core.send`, logging when it settles. */
function logged(core: Protocol, kind: "puback" | "suback", name: string, log: string[]): void {
  const publish = kind === "puback";
  const bytes = publish
    ? encode({
      type: "publish",
      topic: "t",
      payload: new Uint8Array(1),
      qos: 1,
      retain: false,
      dup: false,
      packetId: 1,
    })
    : encode({ type: "subscribe", packetId: 1, subscriptions: [{ topic: "f", qos: 1 }] });
  core.send({
    kind,
    bytes,
    idAt: publish ? bytes.length - 3 : 2,
    keep: publish,
    filters: publish ? undefined : 1,
    resolve: () => log.push(`${name} resolved`),
    reject: () => log.push(`${name} rejected`),
  });
}

/** A connected harness with all 65 535 packet ids in use (by UNSUBSCRIBEs). */
function exhausted() {
  const h = harness();
  h.connect(true);
  for (let i = 1; i <= 65535; i++) request(h.core, "unsuback");
  h.sent();
  return h;
}

test("packet ids exhausted: a SUBSCRIBE that waited before a publish takes the first freed id (oldest call first, lib/_ids.ts)", () => {
  const h = exhausted();
  const s = request(h.core, "suback");
  const p = request(h.core, "puback");
  h.core.handle({ type: "unsuback", packetId: 5 });
  assert.deepEqual(ids(h.sent()), ["subscribe 5"], "both may go; the SUBSCRIBE was called first");
  h.core.handle({ type: "unsuback", packetId: 6 });
  assert.deepEqual(ids(h.sent()), ["publish 6"]);
  assert.deepEqual([s.state, p.state], ["pending", "pending"]);
});

test("packet ids exhausted: at a cut the requests waiting for an id reject in call order, publishes and others mixed", () => {
  const h = exhausted();
  const log: string[] = [];
  logged(h.core, "suback", "s1", log);
  logged(h.core, "puback", "p1", log);
  logged(h.core, "suback", "s2", log);
  logged(h.core, "puback", "p2", log);
  h.cut();
  assert.deepEqual(log, ["s1 rejected", "p1 rejected", "s2 rejected", "p2 rejected"]);
});

test("one client's SUBSCRIBE waiting for a packet id never goes out on another client's connection", () => {
  const a = exhausted();
  const waiting = request(a.core, "suback");
  const b = harness();
  b.connect(true);
  request(b.core, "suback");
  assert.deepEqual(ids(b.sent()), ["subscribe 1"]);
  b.core.handle({ type: "suback", packetId: 1, returnCodes: [1] });
  assert.deepEqual(ids(b.sent()), [], "b has nothing waiting");
  assert.equal(waiting.state, "pending");
  a.core.handle({ type: "unsuback", packetId: 3 });
  assert.deepEqual(ids(a.sent()), ["subscribe 3"], "a's SUBSCRIBE goes on a's connection");
});

test("resends(m): a resumed session's broker sends a message again, unless a clean start or an unanswered CONNECT came between (MQTT-4.4.0-1)", () => {
  const h = harness();
  h.connect(false);
  h.core.handle(publishIn(1, 1));
  const m = h.delivered[0];
  h.cut();
  h.connect(false, true);
  assert.equal(h.core.resends(m), true, "the session is present: the broker resends it");
  h.cut();
  h.core.start(false); // this CONNECT goes unanswered: it may have made the session now present
  h.cut();
  h.connect(false, true);
  assert.equal(h.core.resends(m), false);
  h.core.handle(publishIn(2, 1));
  const later = h.delivered[1];
  h.cut();
  h.connect(true);
  assert.equal(h.core.resends(later), false, "a clean start ended its session");
});

test("MQTT 5: the session's publishes before a PUBREL go within Receive Maximum, the PUBREL in its place", () => {
  const h = harness(undefined, V5);
  h.connect(false);
  request(h.core, "puback");
  request(h.core, "puback");
  request(h.core, "pubrec");
  h.core.handle({ type: "pubrec", packetId: 3 });
  h.sent();
  h.cut(true);
  h.connect(false, true, { receiveMaximum: 2 });
  assert.deepEqual(ids(h.sent()), ["publish 1 dup", "publish 2 dup", "pubrel 3"]);
});

test("3.1.1: retained QoS 2 publishes of the session count against maxInflightQoS2 when resent", () => {
  const store = new MemorySessionStore();
  for (const packetId of [1, 2]) {
    store.outgoing.set(
      packetId,
      encode({
        type: "publish",
        topic: "t",
        payload: new Uint8Array(1),
        qos: 2,
        retain: true,
        dup: false,
        packetId,
      }),
    );
  }
  const h = harness(store, { ...V4, maxInflightQoS2: 1 });
  h.connect(false, true);
  assert.deepEqual(ids(h.sent()), ["publish 1 dup"], "publish 2 waits for room");
  h.core.handle({ type: "pubrec", packetId: 1 });
  h.core.handle({ type: "pubcomp", packetId: 1 });
  assert.deepEqual(ids(h.sent()), ["pubrel 1", "publish 2 dup"]);
});

test("MQTT 5: a QoS 0 publish built by wire() carries its properties (no topic alias in use)", () => {
  const h = harness(undefined, V5);
  h.connect(true);
  const bytes = h.core.wire({
    type: "publish",
    topic: "t",
    payload: new Uint8Array(1),
    qos: 0,
    retain: false,
    dup: false,
    properties: { contentType: "text/plain" },
  });
  const [p] = new PacketDecoder({ protocolVersion: 5 }).push(bytes) as PublishPacket[];
  assert.deepEqual(p.properties, { contentType: "text/plain" });
});

test("MQTT 5: a CONNACK without Receive Maximum allows 65 535 unacknowledged publishes (section 3.2.2.3.3)", () => {
  const h = harness(undefined, V5);
  h.connect(true);
  for (let i = 0; i < 65535; i++) request(h.core, "puback");
  assert.equal(h.sent().length, 65535);
});

test("a CONNACK with Session Present after a clean start: MQTT 5 closes (MQTT-3.2.2-4); 3.1.1 goes on", () => {
  const v5 = harness(undefined, V5);
  v5.core.start(true);
  assert.throws(
    () => v5.core.handle({ type: "connack", sessionPresent: true, returnCode: 0 }),
    (e) => e instanceof MQTTProtocolError && /MQTT-3\.2\.2-4/.test(e.message),
  );
  const v4 = harness();
  v4.core.start(true);
  v4.core.handle({ type: "connack", sessionPresent: true, returnCode: 0 });
  assert.equal(v4.connacks.length, 1);
});

// Refused by close (lib/_refusals.ts): the broker reset the connection while a packet was the
// oldest written on it still unacknowledged, all written before it acknowledged; the same
// packet 3 connections in a row is given up.
function reset(): MQTTConnectionError {
  const e = new MQTTConnectionError("reset by peer");
  RESET.add(e);
  return e;
}

test("refused by close: the oldest unacknowledged publish is given up at the 3rd reset in a row, though not the first written", () => {
  const h = harness();
  h.connect(false);
  request(h.core, "puback");
  const p2 = request(h.core, "puback");
  h.core.handle({ type: "puback", packetId: 1 }); // the broker read 1: 2 is the oldest now
  h.cut(true, reset());
  h.connect(false, true);
  h.cut(true, reset());
  h.connect(false, true);
  assert.equal(p2.state, "pending");
  h.cut(true, reset());
  assert.equal(p2.state, "rejected");
  assert.match((p2.error as Error).message, /each of the 3 times PUBLISH 2/);
  assert.equal(h.store.outgoing.size, 0);
});

test("refused by close: not a publish written after a QoS 0 one on that connection, nor one the PINGREQ's answer may have read past", () => {
  for (const first of ["qos0", "pingresp"] as const) {
    const h = harness();
    h.connect(false);
    if (first === "qos0") {
      h.core.wroteQoS0(); // nothing in flight yet: the QoS 0 one may be what the broker refuses
      h.core.handle(publishIn(0, 0));
    }
    const p = request(h.core, "puback");
    if (first === "qos0") h.core.wroteQoS0();
    else h.core.handle({ type: "pingresp" });
    h.core.handle(publishIn(0, 0)); // the connection goes on
    h.cut(true, reset());
    // From here on it is the first packet each connection writes: counted, a QoS 0 one after it
    // notwithstanding.
    for (let i = 0; i < 3; i++) {
      assert.equal(p.state, "pending", `${first}: after ${i + 1} resets`);
      h.connect(false, true);
      h.core.wroteQoS0();
      h.cut(true, reset());
    }
    assert.equal(p.state, "rejected", first);
  }
});

test("refused by close: not the oldest publish when the broker acknowledged a later one on that connection", () => {
  const h = harness();
  h.connect(false);
  const p1 = request(h.core, "puback");
  request(h.core, "puback");
  h.core.handle({ type: "puback", packetId: 2 }); // the broker read past 1
  h.cut(true, reset());
  for (let i = 0; i < 3; i++) {
    assert.equal(p1.state, "pending", `after ${i + 1} resets`);
    h.connect(false, true);
    h.cut(true, reset());
  }
  assert.equal(p1.state, "rejected");
});

test("an acknowledgement of the wrong kind is a protocol error: a PUBREC for a QoS 1 PUBLISH, a PUBACK for a QoS 2 one", () => {
  const h = harness();
  h.connect(true);
  request(h.core, "puback");
  request(h.core, "pubrec");
  assert.throws(() => h.core.handle({ type: "pubrec", packetId: 1 }), MQTTProtocolError);
  assert.throws(() => h.core.handle({ type: "puback", packetId: 2 }), MQTTProtocolError);
  assert.deepEqual(ids(h.sent()), ["publish 1", "publish 2"], "no PUBREL for either");
});

test("MQTT 5: a PUBREL for an id not awaiting one is answered by a PUBCOMP with 0x92, Packet Identifier not found (section 3.7.2.1)", () => {
  const written: Packet[] = [];
  const core = new Protocol(null, {
    write: (b) => void written.push(...new PacketDecoder({ protocolVersion: 5 }).push(b)),
    deliver: () => {},
    connack: () => {},
    disconnected: () => {},
    auth: () => {},
  }, V5);
  core.start(true);
  core.handle({ type: "connack", sessionPresent: false, returnCode: 0 });
  core.handle({ type: "pubrel", packetId: 9 });
  assert.deepEqual(written, [{ type: "pubcomp", packetId: 9, reasonCode: 0x92 }]);
});

test("our Receive Maximum: acknowledging an earlier connection's message frees nothing on this one", () => {
  const h = harness(undefined, { ...V5, receiveMaximum: 2 });
  h.connect(false);
  h.core.handle(publishIn(1, 1));
  const old = h.delivered[0];
  h.cut();
  h.connect(false, true);
  h.core.handle(publishIn(2, 1));
  h.core.handle(publishIn(3, 1));
  h.core.ack(old);
  assert.equal(h.core.overruns, 0);
  h.core.handle(publishIn(4, 1));
  assert.equal(h.core.overruns, 1, "a third unacknowledged message on this connection");
});

test("MQTT 5: an acknowledgement with nothing of its kind in flight is a Protocol Error, reason code 0x82", () => {
  const h = harness(undefined, V5);
  h.connect(true);
  assert.throws(
    () => h.core.handle({ type: "puback", packetId: 5 }),
    (e) => e instanceof MQTTProtocolError && e.reasonCode === 0x82,
  );
});

test("a second CONNACK is a protocol error (MQTT-3.2.0-1), which says what it refused when it refuses (MQTT 5)", () => {
  const cases = [
    [V5, 0, "A second CONNACK on one connection (MQTT-3.2.0-1)"],
    [
      V5,
      0x80,
      "A second CONNACK on one connection, refusing: Unspecified error (CONNACK reason code 0x80) (MQTT-3.2.0-1)",
    ],
    [V4, 0, "A second CONNACK on one connection (MQTT-3.2.0-1)"],
  ] as const;
  for (const [options, returnCode, message] of cases) {
    const h = harness(undefined, options);
    h.connect(true);
    assert.throws(
      () => h.core.handle({ type: "connack", sessionPresent: false, returnCode }),
      (e) => e instanceof MQTTProtocolError && e.message === message,
    );
  }
});

test("a packet after a refusing CONNACK is a protocol error naming the version's rule: 3.1.1 MQTT-3.2.2-5, 5 MQTT-3.2.2-7", () => {
  for (const [options, returnCode, rule] of [[V5, 0x87, "7"], [V4, 5, "5"]] as const) {
    const h = harness(undefined, options);
    h.core.start(true);
    h.core.handle({ type: "connack", sessionPresent: false, returnCode });
    assert.throws(
      () => h.core.handle({ type: "pingresp" }),
      (e) =>
        e instanceof MQTTProtocolError &&
        e.message === `PINGRESP after a refusing CONNACK (MQTT-3.2.2-${rule})`,
    );
  }
});

test("topic aliases out: aliases over 255 and topic names of 256 bytes or more, on each path (QoS 1, QoS 0 built anew, QoS 0 in its own bytes)", () => {
  const payload = new Uint8Array([1, 2, 3]);
  const aliases = new TopicAliases();
  for (let i = 1; i < 300; i++) {
    aliases.out(publish(`t/${i}`, { payload }), undefined, undefined, 1000);
  }
  const long = "t/".repeat(150);
  const q1 = publish(long, { payload, qos: 1, packetId: 7 }), q0 = publish(long, { payload });
  const aliased = (p: PublishPacket, topic: string) =>
    encodePublish({ ...p, topic, properties: { topicAlias: 300 } }, 5);
  assert.deepEqual(aliases.out(q1, encodePublish(q1, 5), 7, 1000), aliased(q1, long), "first");
  assert.deepEqual(aliases.out(q1, encodePublish(q1, 5), 7, 1000), aliased(q1, ""), "QoS 1");
  assert.deepEqual(aliases.out(q0, undefined, undefined, 1000), aliased(q0, ""), "QoS 0, anew");
  const full = encodePublish(q0, 5),
    inPlace = aliases.out(q0, full, undefined, 1000, Infinity, true);
  assert.deepEqual(inPlace, aliased(q0, ""), "QoS 0, reuse");
  assert.ok(
    inPlace.buffer === full.buffer &&
      inPlace.byteOffset + inPlace.length === full.byteOffset + full.length,
    "QoS 0, built in its own bytes",
  );
});

test("topic aliases in: up to our Topic Alias Maximum is taken (MQTT-3.3.2-10); over it, or naming no topic, is 0x94", () => {
  const aliased = (topic: string, topicAlias: number) =>
    publish(topic, { properties: { topicAlias } });
  const aliases = new TopicAliases();
  aliases.in(aliased("a/b", 2), 2);
  const p = aliased("", 2);
  aliases.in(p, 2);
  assert.equal(p.topic, "a/b");
  assert.deepEqual(p.properties, {}, "resolved, the alias is seen by nobody (lib/_aliases.ts)");
  for (const bad of [aliased("a/b", 3), aliased("", 1)]) {
    assert.throws(
      () => aliases.in(bad, 2),
      (e) => e instanceof MQTTProtocolError && e.reasonCode === 0x94,
    );
  }
});

test("MQTT 5: an UNSUBACK with a reason code per filter too few is an error that names UNSUBACK (MQTT-3.11.3-1)", () => {
  const h = harness(undefined, V5);
  h.connect(true);
  request(h.core, "unsuback");
  assert.throws(
    () => h.core.handle({ type: "unsuback", packetId: 1, reasonCodes: [0, 0] }),
    (e) =>
      e instanceof MQTTProtocolError &&
      e.message === "UNSUBACK has 2 reason codes for an UNSUBSCRIBE of 1 filters (MQTT-3.11.3-1)",
  );
});

test("a session's retained QoS 1 publish, loaded from the store, awaits a PUBACK and is resent with its flags, DUP=1", () => {
  const store = new MemorySessionStore();
  const kept = (packetId: number, retain: boolean) =>
    encode(publish("t", { payload: new Uint8Array(1), qos: 1, retain, packetId }));
  store.outgoing.set(1, kept(1, true));
  store.outgoing.set(2, kept(2, false));
  const h = harness(store);
  h.connect(false, true);
  const sent = h.sent() as PublishPacket[];
  assert.deepEqual(sent.map((p) => [p.packetId, p.qos, p.retain, p.dup]), [
    [1, 1, true, true],
    [2, 1, false, true],
  ]);
  h.core.handle({ type: "puback", packetId: 1 });
  h.core.handle({ type: "puback", packetId: 2 });
  assert.equal(store.outgoing.size, 0);
});

test("PUBRELs are resent in the order their PUBRECs came, not their PUBLISHes' (MQTT-4.6.0-4)", () => {
  const h = harness();
  h.connect(false);
  request(h.core, "pubrec");
  request(h.core, "pubrec");
  h.core.handle({ type: "pubrec", packetId: 2 });
  h.core.handle({ type: "pubrec", packetId: 1 });
  assert.deepEqual(ids(h.sent()), ["publish 1", "publish 2", "pubrel 2", "pubrel 1"]);
  h.cut(true);
  h.connect(false, true);
  assert.deepEqual(ids(h.sent()), ["pubrel 2", "pubrel 1"]);
});

test("a QoS 2 resend of a message already answered gets its PUBREC in the acks' order, one per packet id while it waits, each after", () => {
  const h = harness();
  h.connect(true);
  const answered = [1, 2, 128, 256, 257];
  for (const id of answered) {
    h.core.handle(publishIn(id, 2));
    h.core.ack(h.delivered.at(-1)!);
  }
  assert.deepEqual(ids(h.sent()), answered.map((id) => `pubrec ${id}`));
  h.core.handle(publishIn(5, 1)); // not yet handled: the acks after it wait (MQTT-4.6.0-2)
  const older = h.delivered.at(-1)!;
  for (const id of answered) h.core.handle(publishIn(id, 2, "x", true));
  h.core.handle(publishIn(1, 2, "x", true)); // its PUBREC still waits: none more
  assert.deepEqual(ids(h.sent()), []);
  h.core.ack(older);
  assert.deepEqual(ids(h.sent()), ["puback 5", ...answered.map((id) => `pubrec ${id}`)]);
  h.core.handle(publishIn(1, 2, "x", true));
  h.core.handle(publishIn(1, 2, "x", true));
  assert.deepEqual(ids(h.sent()), ["pubrec 1", "pubrec 1"], "nothing waits: each is answered");
  assert.equal(h.delivered.length, answered.length + 1, "none delivered twice (MQTT-4.3.3-2)");
});

/** A ping() call's PINGRESP awaited: its outcome, observable without awaiting. */
function pong(): { state: string; resolve(): void; reject(): void } {
  return {
    state: "pending",
    resolve() {
      this.state = "resolved";
    },
    reject() {
      this.state = "rejected";
    },
  };
}

test("keepalive, with a writer that counts: bytes written before any PINGREQ are not taken for one", () => {
  const h = harness(undefined, undefined, true);
  h.connect(true);
  h.core.lastRead = 1000;
  h.core.wrote(1000, 1); // a PUBLISH, the writer's first packet
  h.core.lastRead = 5000;
  assert.equal(h.core.keepalive(11_000, 10_000), 16_000, "PINGREQ: idle since 1000");
});

test("keepalive, with a writer that counts: dead a whole interval after the PINGREQ went, other packets notwithstanding", () => {
  const h = harness(undefined, undefined, true);
  h.connect(true);
  h.core.lastWrite = h.core.lastRead = 1000;
  assert.equal(h.core.keepalive(11_000, 10_000), 16_000);
  h.core.wrote(11_000, 1); // the PINGREQ, the writer's first packet, is out
  h.core.lastRead = 15_000;
  assert.ok(h.core.keepalive(16_000, 10_000) > 0, "a byte came: not dead yet");
  h.core.lastRead = 20_000;
  assert.equal(h.core.keepalive(21_000, 10_000), -2, "no PINGRESP since the PINGREQ at 11 000");
});

test("ping(): every PINGRESP awaited rejects when the connection ends; another client's PINGRESP answers none", () => {
  const a = harness(), b = harness();
  a.connect(true);
  b.connect(true);
  const first = pong(), second = pong();
  a.core.expectPong(first);
  a.core.expectPong(second);
  for (let i = 0; i < 100; i++) b.core.handle({ type: "pingresp" }); // however many b reads
  assert.deepEqual([first.state, second.state], ["pending", "pending"]);
  a.cut();
  assert.deepEqual([first.state, second.state], ["rejected", "rejected"]);
});

test("the store's packets hold their ids from the start, and a store filled after the client was made joins the session at connect(false)", () => {
  const kept = (packetId: number) =>
    encode({
      type: "publish",
      topic: "t",
      payload: new Uint8Array(1),
      qos: 1,
      retain: false,
      dup: false,
      packetId,
    });
  const store = new MemorySessionStore();
  store.outgoing.set(1, kept(1));
  const h = harness(store);
  request(h.core, "puback"); // before any connection: takes an id the store does not hold
  assert.deepEqual([...store.outgoing.keys()], [1, 2]);
  store.outgoing.set(3, kept(3)); // an asynchronous load, late
  h.connect(false, true);
  assert.deepEqual(ids(h.sent()), ["publish 1 dup", "publish 2 dup", "publish 3 dup"]);
  h.core.handle({ type: "puback", packetId: 3 });
  assert.deepEqual([...store.outgoing.keys()], [1, 2]);
});

test("rejectKept: publishes waiting for their turn reject too, and never go", () => {
  const h = harness(undefined, V5);
  h.connect(false, true, { receiveMaximum: 1 });
  const out = request(h.core, "puback");
  const waiting = request(h.core, "puback");
  h.sent();
  h.core.rejectKept(new Error("gave up"));
  assert.deepEqual([out.state, waiting.state], ["rejected", "rejected"]);
  h.core.handle({ type: "puback", packetId: 1 });
  assert.deepEqual(ids(h.sent()), [], "the one rejected waiting does not go");
  assert.equal(h.store.outgoing.size, 0);
});

test("PINGRESPs answer PINGREQs in order, the keepalive's own included; no other packet answers one", () => {
  const h = harness();
  h.connect(true);
  h.core.lastWrite = h.core.lastRead = 1000;
  h.core.keepalive(11_000, 10_000); // the keepalive's PINGREQ
  const mine = pong();
  h.core.expectPong(mine);
  assert.deepEqual(ids(h.sent()), ["pingreq"]);
  h.core.handle({ type: "pubrel", packetId: 4 }); // answered by its PUBCOMP, nothing else
  h.core.handle({ type: "pingresp" });
  assert.equal(mine.state, "pending", "that one answered the keepalive's");
  h.core.handle({ type: "pingresp" });
  assert.equal(mine.state, "resolved");
  assert.deepEqual(h.others, [], "a PINGRESP is no DISCONNECT");
});

test("MQTT 5: a message with no properties is delivered with {} as its properties", () => {
  const h = harness(undefined, V5);
  h.connect(true);
  h.core.handle(publishIn(0, 0));
  assert.deepEqual(h.delivered[0].packet.properties, {});
});

test("resend() returns nothing when no kept publish was dropped (the connected event's detail has no `dropped`)", () => {
  const h = harness(undefined, V5);
  h.core.start(false);
  h.core.handle({ type: "connack", sessionPresent: true, returnCode: 0 });
  assert.equal(h.core.resend(), undefined);
});

test("MQTT 5: a CONNACK's 0x9A and 0x9B refuse the will (section 3.2.2.2), and the error says so", () => {
  const refusal = (returnCode: number) =>
    connackRefusal({ type: "connack", sessionPresent: false, returnCode }, 5).message;
  assert.match(refusal(0x9a), /: refused for the will's retain flag$/);
  assert.match(refusal(0x9b), /: refused for the will's QoS$/);
  assert.doesNotMatch(refusal(0x87), /will/);
});

test("before the CONNACK, a TLS alert record of any TLS version (0x15, 3, minor) is named as one", () => {
  for (const minor of [1, 3]) {
    assert.throws(
      () => connackStart(Uint8Array.of(0x15, 3, minor, 0, 2, 2, 70)),
      (e) =>
        e instanceof MQTTProtocolError && /got a TLS alert \(mqtts:\/\/ for TLS\)/.test(e.message),
    );
  }
});

test("inbox: a full queue counts its messages, not the slots left empty by dropped ones", async () => {
  const inbox = new Inbox(3, {
    core: { ack: () => {}, unhandled: () => {} },
    closed: () => null,
    userClosed: false,
  });
  const push = (topic: string, qos: QoS) => inbox.push(incoming(topic, qos));
  push("a", 1), push("b", 0), push("c", 0);
  push("d", 0); // full: b, the oldest QoS 0 message, goes
  assert.equal((await inbox.check())?.topic, "a");
  push("e", 0); // c, d and e: 3, room enough
  const got = [];
  for (let m; (m = await inbox.check());) got.push(m.topic);
  assert.deepEqual(got, ["c", "d", "e"]);
  assert.equal(inbox.dropped, 1);
});

test("inbox: after the empty slots are compacted away, the queue counts and hands out as before", async () => {
  const inbox = new Inbox(2, {
    core: { ack: () => {}, unhandled: () => {} },
    closed: () => null,
    userClosed: false,
  });
  const push = (topic: string, qos: QoS) => inbox.push(incoming(topic, qos));
  // Full at 2: b, then c, dropped; their slots outnumber the messages, and are compacted away.
  push("a", 1), push("b", 0), push("c", 0), push("d", 0);
  assert.equal(inbox.dropped, 2);
  assert.equal((await inbox.check())?.topic, "a");
  push("e", 0), push("f", 1); // d, e: full; f (QoS 1) is never dropped
  const got = [];
  for (let m; (m = await inbox.check());) got.push(m.topic);
  assert.deepEqual(got, ["d", "e", "f"]);
  assert.equal(inbox.dropped, 2);
});

test("resends(m): a session ended by a clean start or by Session Present 0 is never taken for the present one again (MQTT-4.4.0-1)", () => {
  // Clean start, then Session Present 0; and Session Present 0, then clean start: each ends the
  // session the message came in, so a later resumed session's broker does not send it again.
  for (const ends of [[true, false], [false, true]]) {
    const h = harness();
    h.connect(false);
    h.core.handle(publishIn(1, 1));
    const m = h.delivered[0];
    for (const clean of ends) {
      h.cut();
      h.connect(clean, false);
    }
    h.cut();
    h.connect(false, true);
    assert.equal(
      h.core.resends(m),
      false,
      `ended by ${ends.map((c) => c ? "clean start" : "Session Present 0")}`,
    );
  }
});

test("refused by close: a connection reset before its CONNACK counts against no publish (nothing was resent on it)", () => {
  const h = harness();
  h.connect(false);
  const p = request(h.core, "puback");
  h.cut(true, reset()); // reset after the publish went: counted once
  for (let i = 0; i < 3; i++) {
    h.core.start(false);
    h.cut(true, reset()); // before the CONNACK: the publish was not sent again on this connection
  }
  assert.equal(p.state, "pending");
  assert.equal(h.store.outgoing.size, 1);
});

test("MQTT 5: a publish held back by Receive Maximum at a resume, acknowledged anyway, settles and is not sent again", () => {
  // A broker that acknowledges the session's publish 2 (read on an earlier connection) before
  // the client had room to send it again: it is done, and the drain skips its id.
  const h = harness(undefined, V5);
  h.connect(false);
  const p1 = request(h.core, "puback"), p2 = request(h.core, "puback");
  h.sent();
  h.cut(true);
  h.connect(false, true, { receiveMaximum: 1 });
  assert.deepEqual(ids(h.sent()), ["publish 1 dup"]);
  h.core.handle({ type: "puback", packetId: 2 });
  assert.equal(p2.state, "resolved");
  h.core.handle({ type: "puback", packetId: 1 });
  assert.equal(p1.state, "resolved");
  assert.deepEqual(ids(h.sent()), []);
  assert.equal(h.store.outgoing.size, 0);
});

test("our Receive Maximum counts QoS 1 and 2 messages only: QoS 0 ones are never overruns (section 3.3.4)", () => {
  // MQTT 5 section 3.3.4: Receive Maximum limits the QoS 1 and QoS 2 PUBLISHes the server sends
  // unacknowledged; README: an overrun is counted in receiveMaximumExceeded.
  const h = harness(undefined, { ...V5, receiveMaximum: 2 });
  h.connect(false);
  for (let i = 0; i < 3; i++) h.core.handle(publishIn(0, 0));
  h.core.handle(publishIn(1, 1));
  h.core.handle(publishIn(2, 1));
  assert.equal(h.core.overruns, 0);
  h.core.handle(publishIn(3, 1));
  assert.equal(h.core.overruns, 1);
});

test("refused by close: the publish in flight stays the one a reset may refuse after several QoS 0 ones went behind it", () => {
  const h = harness();
  h.connect(false);
  const p = request(h.core, "puback");
  for (let i = 0; i < 3; i++) {
    assert.equal(p.state, "pending", `after ${i} resets`);
    h.core.wroteQoS0(), h.core.wroteQoS0(); // two QoS 0 publishes after it: it is still the first
    h.cut(true, reset());
    h.connect(false, true);
  }
  assert.equal(p.state, "rejected");
  assert.match((p.error as Error).message, /each of the 3 times PUBLISH 1/);
});

test("a QoS 2 message left unhandled after its connection ended: the broker's resend held back meanwhile comes after the next CONNACK, once", () => {
  // The resend that came while the first copy was handled is not handed out on no connection:
  // the broker sends it again after a CONNACK to come (MQTT-4.4.0-1), and that copy is delivered.
  const h = harness();
  h.connect(false);
  h.core.handle(publishIn(5, 2));
  const first = h.delivered[0];
  h.core.handle(publishIn(5, 2, "x", true)); // the broker's resend, while the first is queued
  assert.equal(h.delivered.length, 1);
  h.cut();
  h.core.unhandled(first); // the application's callback threw, offline
  assert.equal(h.delivered.length, 1, "nothing handed out between connections");
  h.connect(false, true);
  h.core.handle(publishIn(5, 2, "x", true));
  assert.equal(h.delivered.length, 2);
  assert.equal(h.delivered[1].packet.dup, true);
});

test("a QoS 1 publish whose save in the session store throws rejects with that error, and neither goes out nor is kept", () => {
  const store = new MemorySessionStore();
  const h = harness(store);
  h.connect(false);
  const set = store.outgoing.set;
  store.outgoing.set = () => {
    throw new Error("disk full");
  };
  const p = request(h.core, "puback");
  store.outgoing.set = set;
  assert.equal(p.state, "rejected");
  assert.equal((p.error as Error).message, "disk full");
  assert.deepEqual(ids(h.sent()), []);
  assert.equal(store.outgoing.size, 0);
  const next = request(h.core, "puback"); // the store works again: the next one goes
  assert.equal(h.sent().length, 1);
  assert.equal(next.state, "pending");
  assert.equal(store.outgoing.size, 1);
});

test("a QoS 2 message left unhandled: the broker's resend held back meanwhile is handed out at once on that connection", () => {
  const h = harness();
  h.connect(false);
  h.core.handle(publishIn(5, 2));
  h.core.handle(publishIn(5, 2, "x", true)); // resent while the first copy is handled
  assert.equal(h.delivered.length, 1);
  h.core.unhandled(h.delivered[0]); // its callback threw
  assert.equal(h.delivered.length, 2);
  h.sent();
  h.core.ack(h.delivered[1]);
  assert.deepEqual(ids(h.sent()), ["pubrec 5"]);
});

/** A Writer on a channel whose writes are recorded and settle when the test says. */
function recordingChannel() {
  const writes: { bytes: Uint8Array; done(): void; fail(e: Error): void }[] = [];
  const ch: Channel = {
    sink: null,
    taken: 0,
    read() {},
    close: () => Promise.resolve(),
    write: (bytes) =>
      new Promise((done, fail) => void writes.push({ bytes, done: () => done(), fail })),
  };
  let asked = 0;
  const failed: Error[] = [];
  const writer = new Writer({
    written() {},
    writeFailed: (e) => void failed.push(e),
    inbox: { asked: () => void asked++ },
  });
  writer.attach(ch);
  return { writer, ch, writes, failed, asked: () => asked };
}

/** A Writer on a channel whose writes complete at once, each copied into `chunks`. */
function collectingWriter() {
  const chunks: Uint8Array[] = [];
  const ch: Channel = {
    sink: null,
    taken: 0,
    read() {},
    close: () => Promise.resolve(),
    write: (bytes) => (chunks.push(bytes.slice()), Promise.resolve()),
  };
  const writer = new Writer({ written() {}, writeFailed: (e) => assert.fail(e) });
  writer.attach(ch);
  return { writer, chunks };
}

test("Writer: the packets a caller awaits an answer to end the reader's wait for the consumer; acks, QoS 0 publishes, CONNECT and DISCONNECT do not", () => {
  // lib/_writer.ts ASKS: PUBREL, SUBSCRIBE, UNSUBSCRIBE, PINGREQ, AUTH and a QoS 1 or 2 PUBLISH.
  const asks = { pubrel: 0x62, subscribe: 0x82, unsubscribe: 0xa2, pingreq: 0xc0, auth: 0xf0 };
  const publishes = { qos1: 0x32, "qos1 dup retain": 0x3b, qos2: 0x34 };
  const others = {
    connect: 0x10,
    qos0: 0x30,
    "qos0 retain": 0x31,
    puback: 0x40,
    pubrec: 0x50,
    pubcomp: 0x70,
    disconnect: 0xe0,
  };
  for (const [name, first] of Object.entries({ ...asks, ...publishes, ...others })) {
    const w = recordingChannel();
    w.writer.write(Uint8Array.of(first, 0));
    assert.equal(w.asked(), name in others ? 0 : 1, name);
  }
});

test("Writer: nothing is queued after DISCONNECT (MQTT-3.14.4-2) or with no channel; write() then returns 0", async () => {
  const w = recordingChannel();
  w.writer.sealed = true;
  assert.equal(w.writer.write(Uint8Array.of(0x30, 0)), 0);
  w.writer.detach(new MQTTConnectionError("gone"));
  assert.equal(w.writer.write(Uint8Array.of(0x30, 0)), 0);
  await null;
  assert.equal(w.writes.length, 0);
  w.writer.attach(w.ch); // a new connection: writes go again
  assert.equal(w.writer.write(Uint8Array.of(0x30, 0)), 1);
  await null;
  assert.equal(w.writes.length, 1);
});

test("Writer: queuedBytes is where the next packet starts in the next write, from 0 on a new or a detached writer, or once a write took them", async () => {
  const w = recordingChannel();
  assert.equal(w.writer.queuedBytes, 0);
  w.writer.write(new Uint8Array(3));
  w.writer.write(new Uint8Array(2));
  assert.equal(w.writer.queuedBytes, 5);
  w.writer.detach(new MQTTConnectionError("gone"));
  assert.equal(w.writer.queuedBytes, 0);
  w.writer.attach(w.ch);
  w.writer.write(new Uint8Array(4));
  assert.equal(w.writer.queuedBytes, 4);
  await null; // the write took them
  assert.equal(w.writes.length, 1);
  assert.equal(w.writer.queuedBytes, 0);
});

test("Writer: a write cut short by the connection's end fails with the reason it ended, the transport's error its cause", async () => {
  const w = recordingChannel();
  w.writer.write(Uint8Array.of(0x30, 0));
  await null;
  assert.equal(w.writes.length, 1);
  w.writer.detach(new MQTTConnectionError("No PINGRESP within 5 s: connection dead"));
  w.writes[0].fail(new Error("operation canceled"));
  await new Promise((r) => setTimeout(r, 0));
  assert.equal(w.failed.length, 1);
  assert.equal(w.failed[0].message, "No PINGRESP within 5 s: connection dead");
  assert.equal((w.failed[0].cause as Error).message, "operation canceled");
});

/** A Keepalive whose core answers `answers` in turn (then -1: a PINGREQ unanswered), logged. */
function watched(answers: ("ok" | number)[]) {
  const looks: [number, number][] = [], dead: string[] = [];
  const owner = {
    core: {
      keepalive: (now: number, ms: number) => {
        looks.push([now, ms]);
        const a = answers.shift() ?? -1;
        return a === "ok" ? now + ms : a;
      },
    },
    dead: (e: Error) => void dead.push(e.message),
  } as unknown as ConstructorParameters<typeof Keepalive>[0];
  return { k: new Keepalive(owner), looks, dead };
}

test("keepalive: a look held up past LATE_MS gives no verdict; the next look does (the PINGRESP may be read but not handled yet)", () => {
  const { k, looks, dead } = watched(["ok"]);
  try {
    k.start(3);
    assert.equal(looks.length, 1);
    assert.equal(k.due, looks[0][0] + 3000, "on time: the next look when the core says");
    const late = k.due + 1000;
    k.check(late); // the PINGREQ due goes (see the test in keepalive_test.ts); no verdict yet
    assert.deepEqual(looks.slice(1), [[late, 3000]]);
    assert.deepEqual(dead, []);
    k.check(late + 1);
    assert.deepEqual(dead, [
      "Connection dead: no answer to PINGREQ within 1500 ms (keepalive 3 s)",
    ]);
  } finally {
    k.stop();
  }
});

test("keepalive: a connect timeout held up expires at the next look, held up or not, and asks for no PINGREQ meanwhile", () => {
  // The last connection's keepalive (3 s) stays set while the next connection's CONNACK is awaited.
  const { k, looks } = watched(["ok"]);
  let expired = 0;
  try {
    k.start(3);
    k.deadline(1000, () => void expired++);
    k.check(k.due + 5000);
    assert.equal(expired, 0, "the CONNACK may be read but not handled yet");
    assert.equal(looks.length, 1, "no PINGREQ before the CONNACK");
    k.check(k.due + 5000); // held up again: the verdict now
    assert.equal(expired, 1);
    assert.equal(looks.length, 1);
  } finally {
    k.stop();
  }
});

test("keepalive: a connect timeout set after a keepalive look held up gets a look again of its own when held up", () => {
  // The keepalive's late look left its second look pending when the connection ended (stopped
  // first) or while it stays set until the next CONNACK (not stopped): the connect timeout's own
  // held-up look still waits once, as the CONNACK may be read but not handled yet.
  for (const stopped of [true, false]) {
    const { k } = watched(["ok", "ok"]);
    let expired = 0;
    try {
      k.start(3);
      k.check(k.due + 1000); // held up: the PINGREQ goes, the verdict waits
      if (stopped) k.stop();
      k.deadline(1000, () => void expired++);
      k.check(k.due + 5000);
      assert.equal(expired, 0, `stopped first: ${stopped}`);
      k.check(k.due + 5000);
      assert.equal(expired, 1, `stopped first: ${stopped}`);
    } finally {
      k.stop();
    }
  }
});

test("keepalive: every look held up waits once for its verdict, not only the first", () => {
  // Answers: the start's look, the first held-up look's PINGREQ, the look after it, and then
  // "dead" (-1), which the second held-up look must not take for its verdict yet.
  const { k, looks, dead } = watched(["ok", "ok", "ok", -1]);
  try {
    k.start(3);
    k.check(k.due + 1000); // held up: no verdict
    k.check(k.due); // on time: the verdict, alive
    k.check(k.due + 1000); // held up again: no verdict yet
    assert.equal(looks.length, 4);
    assert.deepEqual(dead, []);
  } finally {
    k.stop();
  }
});

test("keepalive: a connect timeout held up gives back the time it was held up, at most the timeout's length", () => {
  const { k } = watched([]);
  try {
    k.deadline(400, () => {}, 1000); // 400 ms left of a 1000 ms limit
    let late = k.due + 300;
    k.check(late);
    assert.equal(k.due, late + 300, "held up 300 ms: looked at again 300 ms later");
    k.deadline(400, () => {}, 1000);
    late = k.due + 5000;
    k.check(late);
    assert.equal(k.due, late + 1000, "held up 5 s: looked at again after the whole limit");
  } finally {
    k.stop();
  }
});

test("Writer: a batch of many small packets over 64 KiB goes out whole and in order, in writes of at most 64 KiB", async () => {
  const { writer, chunks } = collectingWriter();
  const packets = Array.from({ length: 100 }, (_, i) => new Uint8Array(1000).fill(i));
  const sent = Promise.all(packets.map((p) => writer.send(p)));
  await sent;
  assert.ok(chunks.length > 1, `${chunks.length} writes`);
  for (const c of chunks) assert.ok(c.length <= 65_536, `a write of ${c.length} bytes`);
  const all = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  chunks.reduce((at, c) => (all.set(c, at), at + c.length), 0);
  assert.deepEqual(all, new Uint8Array(100_000).map((_, i) => Math.floor(i / 1000)));
});

/**
 * One Keepalive per deadline of `ms` on the shared schedule, those in `stopped` stopped (taken
 * out of the heap from its middle) and `moved[0]`'s set again to `moved[1]` ms: the order the
 * deadlines fired in, and the order they are due.
 */
async function scheduleOrder(ms: number[], stopped: Set<number>, [m, later]: [number, number]) {
  const owner = {} as ConstructorParameters<typeof Keepalive>[0]; // deadlines only: no core asked
  const all = ms.map(() => new Keepalive(owner));
  const fired: number[] = [];
  try {
    await new Promise<void>((resolve) => {
      const expired = (i: number) => () => {
        fired.push(i);
        if (fired.length === all.length - stopped.size) resolve();
      };
      all.forEach((k, i) => k.deadline(ms[i], expired(i)));
      for (const i of stopped) all[i].stop();
      all[m].deadline(ms[m] = later, expired(m));
    });
    const due = ms.map((_, i) => i).filter((i) => !stopped.has(i)).sort((a, b) => ms[a] - ms[b]);
    return { fired, due };
  } finally {
    for (const k of all) k.stop();
  }
}

test("keepalive: the shared schedule fires the deadlines of many clients in the order they are due, however set", async () => {
  // One timer for every client's keepalive (lib/_keepalive.ts): its heap must yield the earliest
  // deadline first, or a connect timeout or PINGREQ waits for a later client's.
  const n = 40;
  // A fixed shuffle of 0, 2, …, 78 ms (7 is prime to 40); 2 moved past every other.
  const ms = Array.from({ length: n }, (_, i) => ((i * 7 + 3) % n) * 2);
  const { fired, due } = await scheduleOrder(ms, new Set([5, 17, 33]), [2, 81]);
  assert.deepEqual(fired, due);
});

test("keepalive: the shared schedule fires a few deadlines in the order they are due, one moved later", async () => {
  const ms = [35, 5, 60, 20, 50, 10, 45, 0, 30, 55, 15, 40, 25];
  const { fired, due } = await scheduleOrder(ms, new Set(), [2, 70]);
  assert.deepEqual(fired, due);
});

test("keepalive: a deadline moved later fires before the later ones in the heap's other half", async () => {
  // Set in this order, the heap is the sorted array [10, 20, 30, 50, 60, 80]. Moving 20 to 40
  // takes it out (80 goes to its slot and sinks under 50: [10, 50, 30, 80, 60]), then puts it
  // back at slot 5, whose parent is 30. A climb that compared each slot with the one before it,
  // not with its parent, stopped at slot 3, under 50: 40 fired after 50, 10 ms late.
  const { fired, due } = await scheduleOrder([60, 20, 80, 30, 50, 10], new Set(), [1, 40]);
  assert.deepEqual(fired, due);
});

test("Writer: detach() drops what was not written and ends the batch; the next channel gets only its own packets, uncorked", async () => {
  const w = recordingChannel();
  w.writer.cork(); // the reader was handing out a chunk
  const lost = w.writer.send(Uint8Array.of(0x30, 1, 1));
  w.writer.detach(new MQTTConnectionError("gone"));
  await assert.rejects(lost, /gone/);
  assert.equal(w.writer.write(Uint8Array.of(0x30, 1, 2)), 0, "no channel: nothing queued");
  w.writer.attach(w.ch);
  const sent = w.writer.send(Uint8Array.of(0x10, 1, 3)); // the next connection's CONNECT
  await null;
  assert.deepEqual(w.writes.map((x) => [...x.bytes]), [[0x10, 1, 3]]);
  w.writes[0].done();
  await sent;
});

test("Writer: a run of two packets joined in a batch over 64 KiB goes whole; held() settles once the queue goes into a write", async () => {
  const { writer, chunks } = collectingWriter();
  const packets = Array.from({ length: 5 }, (_, i) => new Uint8Array(30_000).fill(i + 1));
  await Promise.all(packets.map((p) => writer.send(p)));
  assert.deepEqual(chunks.map((c) => c.length), [60_000, 60_000, 30_000]);
  assert.deepEqual(chunks.flatMap((c) => [c[0], c[c.length - 1]]), [1, 2, 3, 4, 5, 5]);
  // Past 16 384 packets queued the reader waits (held()), until they go into a write.
  writer.cork();
  for (let i = 0; i <= 16_384; i++) writer.write(Uint8Array.of(0xc0, 0));
  const held = writer.held();
  assert.ok(held);
  writer.uncork();
  await held;
});

test("keepalive, with a writer that counts: a PINGRESP handled before the PINGREQ's write is reported answers it", () => {
  // The write's completion and the read of the answer may be handled in either order (both
  // come back in one turn of a busy event loop): the broker answers only what it received, so
  // the PINGRESP proves the PINGREQ went. Taking the late report for a new PINGREQ found a live
  // connection dead half an interval later (no byte after it) or a whole one (no PINGRESP).
  const h = harness(undefined, undefined, true);
  h.connect(true);
  h.core.lastWrite = h.core.lastRead = 1000;
  assert.equal(h.core.keepalive(11_000, 10_000), 16_000); // the PINGREQ, the writer's first packet
  h.core.lastRead = 11_000;
  h.core.handle({ type: "pingresp" });
  h.core.wrote(11_000, 1); // its write reported after its answer
  assert.equal(h.core.keepalive(16_000, 10_000), 21_000, "answered: next PINGREQ idle + interval");
  assert.equal(h.core.keepalive(21_000, 10_000), 26_000, "a new PINGREQ, not a verdict");
});
