// The protocol state alone (lib/_protocol.ts): driven with decoded packets
// and requests, its output recorded — no broker, no socket, no timer. Each
// test names the rule it checks and the exact packets that go out.
import assert from "node:assert/strict";
import { encode } from "../lib/codec/encode.ts";
import type { ConnackProperties } from "../lib/codec/properties.ts";
import { MQTTConnectionError, MQTTProtocolError } from "../lib/errors.ts";
import { MemorySessionStore } from "../lib/session_store.ts";
import { harness, ids, publishIn, request, type Tracked, V5 } from "./_protocol_harness.ts";
import { test } from "./_test.ts";

test("CONNACK must be the first packet of a connection (MQTT-3.2.0-1)", () => {
  const h = harness();
  h.core.start(true);
  assert.throws(
    () => h.core.handle({ type: "puback", packetId: 1 }),
    (e: Error) =>
      e instanceof MQTTProtocolError && /Expected CONNACK first, got PUBACK/.test(e.message),
  );
});

test("a second CONNACK on one connection is a protocol error (MQTT-3.2.0-1)", () => {
  const h = harness();
  h.connect(true);
  assert.equal(h.connacks.length, 1);
  assert.throws(
    () => h.core.handle({ type: "connack", sessionPresent: false, returnCode: 0 }),
    /A second CONNACK.*MQTT-3\.2\.0-1/,
  );
});

test("QoS 0 in: delivered at once, never acknowledged", () => {
  const h = harness();
  h.connect(true);
  h.core.handle(publishIn(0, 0));
  assert.equal(h.delivered.length, 1);
  h.core.ack(h.delivered[0]);
  assert.deepEqual(h.sent(), []);
});

test("QoS 1 out: PUBLISH with id 1, resolved by its PUBACK, then gone from the session", () => {
  const h = harness();
  h.connect(true);
  const t = request(h.core, "puback");
  assert.deepEqual(ids(h.sent()), ["publish 1"]);
  assert.equal(h.store.outgoing.size, 1);
  assert.equal(t.state, "pending");
  h.core.handle({ type: "puback", packetId: 1 });
  assert.equal(t.state, "resolved");
  assert.equal(h.store.outgoing.size, 0);
  assert.equal(h.core.inflight, 0);
});

test("an acknowledgement for an id nothing waits on is a protocol error", () => {
  const h = harness();
  h.connect(true);
  assert.throws(() => h.core.handle({ type: "puback", packetId: 9 }), /PUBACK for packet id 9/);
  request(h.core, "puback");
  // Id 1 waits for a PUBACK, not a PUBCOMP.
  assert.throws(() => h.core.handle({ type: "pubcomp", packetId: 1 }), /no PUBREL in flight/);
});

test("QoS 1 in: acknowledged only once handled, and only on the connection it came on", () => {
  const h = harness();
  h.connect(false);
  h.core.handle(publishIn(7, 1));
  assert.deepEqual(h.sent(), []);
  h.core.ack(h.delivered[0]);
  assert.deepEqual(ids(h.sent()), ["puback 7"]);
  h.core.handle(publishIn(8, 1));
  h.cut();
  h.connect(false);
  // Handled after a reconnect: the broker will resend it; no PUBACK for the old delivery.
  h.core.ack(h.delivered[1]);
  assert.deepEqual(h.sent(), []);
});

test("acks go in the order their PUBLISHes came, whatever order they are handled in (MQTT-4.6.0-2, -3)", () => {
  const h = harness();
  h.connect(false);
  for (const [id, qos] of [[1, 1], [2, 2], [3, 0], [4, 1], [5, 1]] as const) {
    h.core.handle(publishIn(id, qos));
  }
  const [m1, m2, m3, m4, m5] = h.delivered;
  h.core.ack(m5);
  h.core.ack(m3); // QoS 0: no ack, no place in the order
  h.core.ack(m2);
  assert.deepEqual(h.sent(), [], "1 is not handled yet: nothing after it goes");
  h.core.ack(m1);
  assert.deepEqual(ids(h.sent()), ["puback 1", "pubrec 2"]);
  // A message whose handler failed gets no ack (it comes again after a
  // reconnect): the later ones go without it.
  h.core.unhandled(m4);
  assert.deepEqual(ids(h.sent()), ["puback 5"]);
  // In order, each goes at once.
  h.core.handle(publishIn(6, 1));
  h.core.ack(h.delivered[5]);
  assert.deepEqual(ids(h.sent()), ["puback 6"]);
});

test("ack order: a QoS 2 resend answered at once waits for the messages before it", () => {
  const h = harness();
  h.connect(false);
  h.core.handle(publishIn(1, 2));
  h.core.ack(h.delivered[0]);
  assert.deepEqual(ids(h.sent()), ["pubrec 1"]);
  h.core.handle(publishIn(2, 1));
  h.core.handle(publishIn(1, 2, "x", true)); // its PUBREC was lost: answered, not delivered
  h.core.handle(publishIn(3, 2));
  h.core.handle(publishIn(3, 2, "x", true)); // resent while queued: answered by 3's own PUBREC
  assert.deepEqual(h.sent(), []);
  h.core.ack(h.delivered[1]);
  assert.deepEqual(ids(h.sent()), ["puback 2", "pubrec 1"]);
  h.core.ack(h.delivered[2]);
  assert.deepEqual(ids(h.sent()), ["pubrec 3"]);
  // A new connection counts anew: the old one's unhandled message holds nothing up.
  h.core.handle(publishIn(4, 1));
  h.cut();
  h.connect(false);
  h.core.handle(publishIn(5, 1));
  h.core.ack(h.delivered.at(-1)!);
  assert.deepEqual(ids(h.sent()), ["puback 5"]);
});

test("QoS 2 out: PUBLISH, PUBREC → PUBREL (kept), PUBCOMP resolves; a PUBREC again resends PUBREL", () => {
  const h = harness();
  // A persistent session's: a 3.1.1 clean session keeps the PUBLISH (see below).
  h.connect(false);
  const t = request(h.core, "pubrec");
  assert.deepEqual(ids(h.sent()), ["publish 1"]);
  h.core.handle({ type: "pubrec", packetId: 1 });
  assert.deepEqual(ids(h.sent()), ["pubrel 1"]);
  assert.equal(h.store.outgoing.get(1)![0], 0x62, "the session now holds the PUBREL");
  h.core.handle({ type: "pubrec", packetId: 1 });
  assert.deepEqual(ids(h.sent()), ["pubrel 1"]);
  assert.equal(t.state, "pending");
  h.core.handle({ type: "pubcomp", packetId: 1 });
  assert.equal(t.state, "resolved");
  assert.equal(h.store.outgoing.size, 0);
});

test("QoS 2 in: delivered once, PUBREC once handled, resends answered not delivered (MQTT-4.3.3-2)", () => {
  const h = harness();
  h.connect(false);
  h.core.handle(publishIn(5, 2));
  h.core.handle(publishIn(5, 2, "x", true)); // resent before we handled it
  assert.equal(h.delivered.length, 1);
  assert.deepEqual(h.sent(), []);
  h.core.ack(h.delivered[0]);
  assert.deepEqual(ids(h.sent()), ["pubrec 5"]);
  assert.ok(h.store.incoming.has(5));
  h.core.handle(publishIn(5, 2, "x", true)); // PUBREC lost: resent after handling
  assert.equal(h.delivered.length, 1);
  assert.deepEqual(ids(h.sent()), ["pubrec 5"]);
  h.core.handle({ type: "pubrel", packetId: 5 });
  assert.deepEqual(ids(h.sent()), ["pubcomp 5"]);
  assert.ok(!h.store.incoming.has(5));
  // A PUBREL whose PUBCOMP was lost is answered again, though the id is released.
  h.core.handle({ type: "pubrel", packetId: 5 });
  assert.deepEqual(ids(h.sent()), ["pubcomp 5"]);
  // Released: the id is free for a new message, delivered again.
  h.core.handle(publishIn(5, 2, "y"));
  assert.equal(h.delivered.length, 2);
});

test("our Receive Maximum: a QoS 2 message counts until its PUBREL is answered (MQTT 5 section 4.9)", () => {
  const h = harness(undefined, { ...V5, receiveMaximum: 1 });
  h.connect(true);
  h.core.handle(publishIn(1, 2));
  h.core.ack(h.delivered[0]);
  assert.deepEqual(ids(h.sent()), ["pubrec 1"]);
  h.core.handle(publishIn(2, 2)); // 1 is not complete: one too many
  assert.equal(h.core.overruns, 1);
  h.core.handle({ type: "pubrel", packetId: 1 });
  h.core.ack(h.delivered[1]);
  h.core.handle({ type: "pubrel", packetId: 2 });
  assert.deepEqual(ids(h.sent()), ["pubcomp 1", "pubrec 2", "pubcomp 2"]);
  h.core.handle(publishIn(3, 1)); // both complete: room for one
  h.core.ack(h.delivered[2]);
  h.core.handle(publishIn(4, 2));
  assert.equal(h.core.overruns, 1);
});

test("QoS 2 in: a message whose handler failed is delivered again when resent", () => {
  const h = harness();
  h.connect(false);
  h.core.handle(publishIn(3, 2));
  h.core.unhandled(h.delivered[0]);
  h.core.handle(publishIn(3, 2, "x", true));
  assert.equal(h.delivered.length, 2);
});

test("packet ids: 1, 2, … 65535, then wrap to the lowest free one, skipping ids in use", () => {
  const h = harness();
  h.connect(true);
  const first = request(h.core, "unsuback"); // id 1 stays in use
  for (let i = 2; i <= 65535; i++) {
    request(h.core, "unsuback");
    h.core.handle({ type: "unsuback", packetId: i });
  }
  h.sent();
  request(h.core, "unsuback");
  assert.deepEqual(ids(h.sent()), ["unsubscribe 2"], "1 is still in use");
  assert.equal(first.state, "pending");
});

test("packet ids exhausted: the next request waits, in call order, for an acknowledgement", () => {
  const h = harness();
  h.connect(true);
  for (let i = 1; i <= 65535; i++) request(h.core, "unsuback");
  assert.equal(h.sent().length, 65535);
  assert.equal(h.core.inflight, 65535);
  const aborted = new AbortController();
  const skipped = request(h.core, "unsuback", { signal: aborted.signal });
  const a = request(h.core, "puback", { payload: "a" });
  const b = request(h.core, "suback", { filters: 2 });
  assert.deepEqual(h.sent(), [], "nothing goes out without an id");
  aborted.abort(new Error("gave up"));
  h.core.handle({ type: "unsuback", packetId: 42 });
  assert.equal(skipped.state, "rejected", "an aborted waiter is dropped");
  assert.equal((skipped.error as Error).message, "gave up");
  assert.deepEqual(ids(h.sent()), ["publish 42"], "the oldest live waiter takes the freed id");
  h.core.handle({ type: "unsuback", packetId: 7 });
  assert.deepEqual(ids(h.sent()), ["subscribe 7"]);
  h.core.handle({ type: "puback", packetId: 42 });
  assert.equal(a.state, "resolved");
  h.core.handle({ type: "suback", packetId: 7, returnCodes: [1, 0x80] });
  assert.deepEqual(b.value, [1, 0x80]);
});

test("packet ids exhausted: a freed id goes to the next waiter without a search of all 65 535", () => {
  // A broker that acknowledges out of order (here newest first): each freed
  // id was found by looking at every id after the last one given, 65 535
  // looks a request (4 465 waiting publishes took 7 s). Counted: Map lookups.
  const h = harness();
  h.connect(true);
  for (let i = 1; i <= 65535; i++) request(h.core, "unsuback");
  h.sent();
  const waiting = Array.from({ length: 1000 }, () => request(h.core, "unsuback"));
  const has = Map.prototype.has;
  let looks = 0;
  Map.prototype.has = function (this: Map<unknown, unknown>, key: unknown) {
    looks++;
    return has.call(this, key);
  };
  try {
    for (let id = 65535; id > 64535; id--) h.core.handle({ type: "unsuback", packetId: id });
  } finally {
    Map.prototype.has = has;
  }
  // Each waiter took the id just freed, as the search found it.
  assert.deepEqual(
    ids(h.sent()),
    Array.from({ length: 1000 }, (_, i) => `unsubscribe ${65535 - i}`),
  );
  assert.equal(waiting.filter((t) => t.state === "pending").length, 1000);
  assert.ok(looks < 20 * 1000, `${looks} Map lookups for 1000 ids handed on`);
});

test("requests waiting for an id reject when the connection ends", () => {
  const h = harness();
  h.connect(true);
  for (let i = 1; i <= 65535; i++) request(h.core, "unsuback");
  const waiting = request(h.core, "puback");
  h.cut(false, new MQTTConnectionError("gone"));
  assert.equal(waiting.state, "rejected");
  assert.equal((waiting.error as Error).message, "gone");
  assert.equal(h.core.inflight, 0, "unkept requests free their ids");
});

test("SUBACK with a return code per filter resolves with them; a wrong count is a protocol error (MQTT-3.8.4-5)", () => {
  const h = harness();
  h.connect(true);
  const t = request(h.core, "suback", { filters: 2 });
  h.core.handle({ type: "suback", packetId: 1, returnCodes: [0, 2] });
  assert.deepEqual(t.value, [0, 2]);
  request(h.core, "suback", { filters: 2 });
  assert.throws(
    () => h.core.handle({ type: "suback", packetId: 2, returnCodes: [0] }),
    /MQTT-3\.8\.4-5/,
  );
});

test("connect(false) resends the session in its order: PUBLISH with DUP=1, PUBREL as it was (MQTT-4.4.0-1)", () => {
  const h = harness();
  h.connect(false);
  const q1 = request(h.core, "puback", { payload: "one" });
  const q2 = request(h.core, "pubrec", { payload: "two" });
  const q3 = request(h.core, "puback", { payload: "three" });
  h.core.handle({ type: "pubrec", packetId: 2 });
  h.sent();
  h.cut(false);
  // Without keepPending: callers are told, but the session keeps the packets.
  assert.deepEqual([q1.state, q2.state, q3.state], ["rejected", "rejected", "rejected"]);
  assert.equal(h.store.outgoing.size, 3);
  h.connect(false, true);
  assert.deepEqual(ids(h.sent()), ["publish 1 dup", "pubrel 2", "publish 3 dup"]);
  h.core.handle({ type: "puback", packetId: 1 });
  h.core.handle({ type: "pubcomp", packetId: 2 });
  h.core.handle({ type: "puback", packetId: 3 });
  assert.equal(h.store.outgoing.size, 0);
  assert.equal(q1.settled, 1, "a rejected request is not settled again");
});

test("MQTT 5: the session's publishes are resent within the broker's Receive Maximum (section 4.9)", () => {
  const h = harness(undefined, V5);
  h.connect(false);
  const sent = [1, 2, 3, 4].map((i) => request(h.core, i === 2 ? "pubrec" : "puback"));
  h.core.handle({ type: "pubrec", packetId: 2 });
  h.sent();
  h.cut(true);
  // The next broker allows two unacknowledged publishes: 2's PUBREL counts too.
  h.connect(false, true, { receiveMaximum: 2 });
  assert.deepEqual(ids(h.sent()), ["publish 1 dup", "pubrel 2"]);
  const later = request(h.core, "puback"); // waits behind the held ones
  assert.deepEqual(ids(h.sent()), []);
  h.core.handle({ type: "puback", packetId: 1 });
  assert.deepEqual(ids(h.sent()), ["publish 3 dup"]);
  h.core.handle({ type: "pubcomp", packetId: 2 });
  assert.deepEqual(ids(h.sent()), ["publish 4 dup"]);
  h.core.handle({ type: "puback", packetId: 3 });
  assert.deepEqual(ids(h.sent()), ["publish 5"], "then the new publish");
  h.core.handle({ type: "puback", packetId: 4 });
  h.core.handle({ type: "puback", packetId: 5 });
  assert.deepEqual([...sent, later].map((t) => t.state), Array(5).fill("resolved"));
  // Held back and then cut: the next connection resends them all, in order.
  const more = [request(h.core, "puback"), request(h.core, "puback")];
  h.sent();
  h.cut(true);
  h.connect(false, true, { receiveMaximum: 1 });
  assert.deepEqual(ids(h.sent()), ["publish 6 dup"]);
  h.cut(true);
  h.connect(false, true);
  assert.deepEqual(ids(h.sent()), ["publish 6 dup", "publish 7 dup"]);
  h.core.handle({ type: "puback", packetId: 6 });
  h.core.handle({ type: "puback", packetId: 7 });
  assert.deepEqual(more.map((t) => t.state), ["resolved", "resolved"]);
});

test("with keepPending, kept publishes stay awaited across a cut and resolve on the next connection", () => {
  const h = harness();
  h.connect(false);
  const t = request(h.core, "puback");
  const sub = request(h.core, "suback");
  h.sent();
  h.cut(true);
  assert.equal(t.state, "pending");
  assert.equal(sub.state, "rejected", "only publishes are kept");
  h.connect(false, true);
  assert.deepEqual(ids(h.sent()), ["publish 1 dup"]);
  h.core.handle({ type: "puback", packetId: 1 });
  assert.equal(t.state, "resolved");
});

test("rejectKept ends the wait for kept publishes; they stay in the session", () => {
  const h = harness();
  h.connect(false);
  const t = request(h.core, "puback");
  h.cut(true);
  h.core.rejectKept(new Error("disconnect() was called"));
  assert.equal(t.state, "rejected");
  assert.equal(h.store.outgoing.size, 1);
});

test("a clean start drops the session: kept publishes reject, incoming QoS 2 state is forgotten", () => {
  const h = harness();
  h.connect(false);
  const t = request(h.core, "puback");
  h.core.handle(publishIn(9, 2));
  const old = h.delivered[0];
  h.core.ack(old);
  h.sent();
  h.core.handle(publishIn(10, 2));
  h.cut(true);
  h.connect(true);
  assert.equal(t.state, "rejected");
  assert.match((t.error as Error).message, /Dropped: connect\(\) started a clean session/);
  assert.equal(h.store.outgoing.size, 0);
  assert.equal(h.store.incoming.size, 0);
  assert.deepEqual(h.sent(), [], "nothing is resent");
  // The old session's queued QoS 2 message is not acknowledged in the new one.
  h.core.ack(h.delivered[1]);
  assert.deepEqual(h.sent(), []);
  // Its id may now be a new message's.
  h.core.handle(publishIn(10, 2));
  assert.equal(h.delivered.length, 3);
});

test("a stored session's ids stay taken until acknowledged", () => {
  const store = new MemorySessionStore();
  store.outgoing.set(1, encode({ type: "pubrel", packetId: 1 }));
  store.outgoing.set(
    2,
    encode({
      type: "publish",
      topic: "t",
      payload: new Uint8Array(1),
      qos: 1,
      retain: false,
      dup: false,
      packetId: 2,
    }),
  );
  const h = harness(store);
  h.connect(false, true);
  assert.deepEqual(ids(h.sent()), ["pubrel 1", "publish 2 dup"]);
  request(h.core, "puback");
  assert.deepEqual(ids(h.sent()), ["publish 3"]);
  h.core.handle({ type: "pubcomp", packetId: 1 });
  h.core.handle({ type: "puback", packetId: 2 });
  assert.equal(store.outgoing.size, 1);
});

test("PINGRESPs settle PINGREQs in order; the connection's end rejects the rest", () => {
  const h = harness();
  h.connect(true);
  const seen: string[] = [];
  h.core.expectPong({ resolve: () => seen.push("a"), reject: () => seen.push("a rejected") });
  h.core.expectPong(null);
  h.core.expectPong({ resolve: () => seen.push("c"), reject: () => seen.push("c rejected") });
  h.core.handle({ type: "pingresp" });
  h.core.handle({ type: "pingresp" });
  h.cut();
  assert.deepEqual(seen, ["a", "c rejected"]);
});

test("keepalive: PINGREQ after an idle interval; dead when nothing comes back within half an interval", () => {
  const h = harness();
  h.connect(true);
  h.core.lastWrite = 1000;
  h.core.lastRead = 1000;
  assert.equal(
    h.core.keepalive(5000, 10_000),
    11_000,
    "not idle yet: look again at lastWrite + interval",
  );
  assert.deepEqual(h.sent(), []);
  assert.equal(
    h.core.keepalive(11_000, 10_000),
    16_000,
    "PINGREQ sent: look again half an interval on",
  );
  assert.deepEqual(ids(h.sent()), ["pingreq"]);
  h.core.lastRead = 12_000; // any byte back counts
  h.core.handle({ type: "pingresp" });
  h.core.lastWrite = 11_000;
  assert.equal(h.core.keepalive(16_000, 10_000), 21_000);
  assert.equal(h.core.keepalive(21_000, 10_000), 26_000);
  assert.deepEqual(ids(h.sent()), ["pingreq"]);
  assert.equal(h.core.keepalive(26_000, 10_000), -1, "no byte since the PINGREQ at 21 000");
});

test("keepalive: packets that keep coming do not answer a PINGREQ: dead a whole interval after it", () => {
  const h = harness();
  h.connect(true);
  h.core.lastWrite = h.core.lastRead = 1000;
  assert.equal(h.core.keepalive(11_000, 10_000), 16_000);
  assert.deepEqual(ids(h.sent()), ["pingreq"]);
  h.core.lastWrite = 11_000;
  h.core.lastRead = 12_000; // a PUBLISH, not the PINGRESP
  assert.equal(h.core.keepalive(16_000, 10_000), 21_000, "a byte came: not dead yet");
  h.core.lastRead = 20_500;
  assert.equal(h.core.keepalive(21_000, 10_000), -2, "no PINGRESP since the PINGREQ at 11 000");
  assert.deepEqual(h.sent(), [], "no second PINGREQ before the verdict");
});

test("keepalive: a client that keeps writing but reads nothing pings too, and finds the broker dead", () => {
  const h = harness();
  h.connect(true);
  h.core.lastRead = 1000;
  // Publishes go out every second into a stalled broker's socket buffer.
  for (let t = 2000; t < 11_000; t += 1000) {
    h.core.lastWrite = t;
    assert.equal(h.core.keepalive(t, 10_000), 11_000, "nothing read since 1000");
  }
  assert.deepEqual(h.sent(), []);
  h.core.lastWrite = 11_000;
  assert.equal(h.core.keepalive(11_000, 10_000), 16_000);
  assert.deepEqual(ids(h.sent()), ["pingreq"], "PINGREQ though writes are recent");
  h.core.lastWrite = 15_000;
  assert.equal(h.core.keepalive(16_000, 10_000), -1, "no byte back within half an interval");
});

test("keepalive: a PINGREQ queued behind a long write waits for it, and its answer is due half an interval after it went", () => {
  const h = harness(undefined, undefined, true);
  h.connect(true);
  h.core.lastRead = 1000;
  h.core.wrote(1000);
  // A large PUBLISH is on its way over a slow link; the PINGREQ queues behind it.
  assert.equal(h.core.keepalive(11_000, 10_000), 16_000);
  assert.deepEqual(ids(h.sent()), ["pingreq"]);
  h.core.wrote(14_000); // a piece of the PUBLISH went out
  assert.equal(h.core.keepalive(16_000, 10_000), 19_000, "still writing: no verdict before 19 000");
  h.core.wrote(18_000); // another piece
  h.core.wrote(20_000, 1); // the rest, and the PINGREQ: written at 20 000
  assert.equal(h.core.keepalive(20_000, 10_000), 25_000, "its answer is due at 25 000");
  h.core.wrote(24_000, 1); // later publishes do not put the verdict off
  assert.equal(h.core.keepalive(25_000, 10_000), -1, "no byte back since the PINGREQ went");
});

test("keepalive: a write stuck for half an interval, with the PINGREQ behind it, is a dead connection", () => {
  const h = harness(undefined, undefined, true);
  h.connect(true);
  h.core.lastRead = 1000;
  h.core.wrote(1000);
  assert.equal(h.core.keepalive(11_000, 10_000), 16_000);
  h.core.wrote(12_000); // the last piece that went
  assert.equal(h.core.keepalive(16_000, 10_000), 17_000);
  assert.equal(h.core.keepalive(17_000, 10_000), -1, "nothing written, nothing read since 12 000");
});

test("keepalive: a byte read before the PINGREQ went does not answer it; one read after does", () => {
  const h = harness(undefined, undefined, true);
  h.connect(true);
  h.core.lastRead = 1000;
  h.core.wrote(1000);
  assert.equal(h.core.keepalive(11_000, 10_000), 16_000);
  h.core.lastRead = 12_000; // the broker sends, but the PINGREQ has not gone yet
  h.core.wrote(14_000); // a piece of the write ahead of the PINGREQ
  assert.equal(h.core.keepalive(16_000, 10_000), 19_000, "still writing: no verdict before 19 000");
  h.core.wrote(17_000, 1); // the PINGREQ goes
  assert.equal(h.core.keepalive(17_000, 10_000), 22_000, "its answer is due at 22 000");
  h.core.lastRead = 18_000; // a byte after it went
  assert.equal(h.core.keepalive(22_000, 10_000), 27_000, "a new PINGREQ only once idle again");
  assert.deepEqual(ids(h.sent()), ["pingreq"], "no second PINGREQ while the first was queued");
});

test("keepalive: a write stuck behind the PINGREQ is dead, though the broker keeps sending", () => {
  const h = harness(undefined, undefined, true);
  h.connect(true);
  h.core.lastRead = 1000;
  h.core.wrote(1000);
  assert.equal(h.core.keepalive(11_000, 10_000), 16_000);
  h.core.wrote(12_000); // the last piece that went
  h.core.lastRead = 16_000; // a broker that floods us and reads nothing
  assert.equal(h.core.keepalive(16_000, 10_000), 17_000);
  h.core.lastRead = 17_000;
  assert.equal(h.core.keepalive(17_000, 10_000), -1, "nothing written since 12 000");
  assert.deepEqual(ids(h.sent()), ["pingreq"]);
});

test("a failed handler of an old session's QoS 2 message leaves the new session's same id alone", () => {
  const h = harness();
  h.connect(false);
  h.core.handle(publishIn(1, 2, "old"));
  h.cut();
  h.connect(true);
  h.core.handle(publishIn(1, 2, "new"));
  // The old message's handler fails after the clean start: id 1 is now "new"'s.
  h.core.unhandled(h.delivered[0]);
  h.core.handle(publishIn(1, 2, "new", true));
  assert.deepEqual(
    h.delivered.map((m) => new TextDecoder().decode(m.packet.payload)),
    ["old", "new"],
    "the resend of the new message is not delivered twice",
  );
});

test("MQTT 5: a kept publish the next broker's limits refuse rejects, not resent to close every connection", () => {
  const h = harness(undefined, V5);
  h.connect(false);
  const two = request(h.core, "pubrec");
  const one = request(h.core, "puback");
  const big = request(h.core, "puback", { payload: "x".repeat(100) });
  const kept = request(h.core, "puback", { retain: true });
  h.sent();
  h.cut(true);
  h.connect(false, true, { maximumQoS: 1, maximumPacketSize: 50, retainAvailable: false });
  assert.deepEqual(ids(h.sent()), ["publish 2 dup"], "only the one within the limits");
  const why = (t: Tracked) => (t.error as Error).message;
  assert.equal(two.state, "rejected");
  assert.equal(
    why(two),
    "Cannot resend publish 1: QoS 2, over the broker's Maximum QoS 1 (maximumQoS; MQTT-3.2.2-11)",
  );
  assert.match(
    why(big),
    /^Cannot resend publish 3: 10\d bytes, over the broker's Maximum Packet Size 50 \(maximumPacketSize; MQTT-3\.2\.2-15\)$/,
  );
  assert.match(
    why(kept),
    /^Cannot resend publish 4: retain, and the broker has no retained messages/,
  );
  assert.ok(two.error instanceof RangeError);
  assert.deepEqual([...h.store.outgoing.keys()], [2], "the refused ones leave the session");
  h.core.handle({ type: "puback", packetId: 2 });
  assert.equal(one.state, "resolved");
});

test("MQTT 5: a connection is plain (a QoS 0 publish goes as built) unless its CONNACK limits publishes or grants aliases we use", () => {
  const h = harness(undefined, { ...V5, autoTopicAlias: true });
  const flags = () => ({ limited: h.core.limited, plain: h.core.plain });
  h.connect(true, false, {});
  assert.deepEqual(flags(), { limited: false, plain: true });
  for (const limit of [{ maximumQoS: 1 }, { retainAvailable: false }, { maximumPacketSize: 99 }]) {
    h.cut();
    h.connect(true, false, limit as ConnackProperties);
    assert.deepEqual(flags(), { limited: true, plain: false }, JSON.stringify(limit));
  }
  h.cut();
  h.connect(true, false, { retainAvailable: true, maximumQoS: undefined });
  assert.deepEqual(flags(), { limited: false, plain: true }, "retain available is no limit");
  h.cut();
  h.connect(true, false, { topicAliasMaximum: 10 });
  assert.deepEqual(flags(), { limited: false, plain: false }, "aliases granted, and used");
  // A new connection forgets the last one's limits until its own CONNACK.
  h.cut();
  h.core.start(true);
  assert.deepEqual(flags(), { limited: false, plain: true });
  // Aliases granted but not used (autoTopicAlias false): still plain.
  const off = harness(undefined, V5);
  off.connect(true, false, { topicAliasMaximum: 10 });
  assert.equal(off.core.plain, true);
});

test("a clean start empties the store through delete(), which a store writing through to disk overrides", () => {
  // session_store.ts's recipe: subclasses that save on set/add and delete.
  const disk = { outgoing: new Set<number>(), incoming: new Set<number>() };
  class SavedMap extends Map<number, Uint8Array> {
    override set(id: number, bytes: Uint8Array): this {
      disk.outgoing.add(id);
      return super.set(id, bytes);
    }
    override delete(id: number): boolean {
      disk.outgoing.delete(id);
      return super.delete(id);
    }
  }
  class SavedSet extends Set<number> {
    override add(id: number): this {
      disk.incoming.add(id);
      return super.add(id);
    }
    override delete(id: number): boolean {
      disk.incoming.delete(id);
      return super.delete(id);
    }
  }
  const h = harness({ outgoing: new SavedMap(), incoming: new SavedSet() } as MemorySessionStore);
  h.connect(false);
  const kept = [request(h.core, "puback"), request(h.core, "pubrec")];
  h.core.handle(publishIn(7, 2));
  h.core.ack(h.delivered[0]);
  assert.deepEqual([...disk.outgoing], [1, 2]);
  assert.deepEqual([...disk.incoming], [7]);
  h.cut(true);
  h.connect(true);
  assert.deepEqual([...disk.outgoing], [], "the kept publishes left the disk too");
  assert.deepEqual([...disk.incoming], [], "and the incoming QoS 2 id");
  assert.deepEqual(kept.map((t) => t.state), ["rejected", "rejected"]);
});

test("3.1.1, Session Present 0 after connect(false): a new session's QoS 2 message under an old id is delivered", () => {
  const h = harness();
  h.connect(false);
  h.core.handle(publishIn(1, 2, "old"));
  h.core.ack(h.delivered[0]); // PUBREC sent; id 1 awaits its PUBREL
  h.cut();
  // The broker lost the session (restarted without persistence): id 1 is a new message.
  h.connect(false, false);
  h.sent();
  h.core.handle(publishIn(1, 2, "new"));
  assert.deepEqual(
    h.delivered.map((m) => new TextDecoder().decode(m.packet.payload)),
    ["old", "new"],
    "not taken for a resend of the old one",
  );
});

test("3.1.1: connect(false) after a clean session publishes what it kept anew, DUP=0, no PUBREL: the broker ended that session (MQTT-3.1.2-6)", () => {
  const h = harness();
  h.connect(true);
  const q1 = request(h.core, "puback", { payload: "one" });
  const q2 = request(h.core, "pubrec", { payload: "two" });
  h.core.handle({ type: "pubrec", packetId: 2 });
  assert.deepEqual(ids(h.sent()), ["publish 1", "publish 2", "pubrel 2"]);
  h.cut(true); // the robust client's keepPending
  h.connect(false, false);
  // A PUBREL alone would be completed by a broker without the message: it would never go out.
  assert.deepEqual(ids(h.sent()), ["publish 1", "publish 2"]);
  h.core.handle({ type: "puback", packetId: 1 });
  h.core.handle({ type: "pubrec", packetId: 2 });
  assert.deepEqual(ids(h.sent()), ["pubrel 2"]);
  h.core.handle({ type: "pubcomp", packetId: 2 });
  assert.deepEqual([q1.state, q2.state], ["resolved", "resolved"]);
  assert.equal(h.store.outgoing.size, 0);
  // A session of connect(false)'s, lost by the broker, is still retransmitted as 3.1.1 has it.
  const q3 = request(h.core, "puback", { payload: "three" });
  h.sent();
  h.cut(true);
  h.connect(false, false);
  assert.deepEqual(ids(h.sent()), ["publish 3 dup"]);
  h.core.handle({ type: "puback", packetId: 3 });
  assert.equal(q3.state, "resolved");
});

test("3.1.1: a clean session's QoS 2 publish past its PUBREC is stored as its PUBLISH: a process restarted on the store sends it anew, not a PUBREL the broker would complete unpublished", () => {
  const h = harness();
  h.connect(true);
  request(h.core, "pubrec", { payload: "two" });
  h.core.handle({ type: "pubrec", packetId: 1 });
  assert.deepEqual(ids(h.sent()), ["publish 1", "pubrel 1"]);
  // Killed here; a new process, on the same (persisted) store, resumes with connect(false).
  const again = harness(h.store);
  again.connect(false, false);
  assert.deepEqual(ids(again.sent()), ["publish 1 dup"]);
  again.core.handle({ type: "pubrec", packetId: 1 });
  assert.deepEqual(ids(again.sent()), ["pubrel 1"]);
  again.core.handle({ type: "pubcomp", packetId: 1 });
  assert.equal(again.store.outgoing.size, 0);
});
