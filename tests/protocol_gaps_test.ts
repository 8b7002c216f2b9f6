// The protocol state alone (lib/_protocol.ts and its small parts), where a
// mutation test found behaviour no other test pinned down: state that lasts
// one connection, the MQTT 5 session renewal, flow control, acks. Driven as
// in protocol_test.ts: decoded packets in, the exact packets out.
import assert from "node:assert/strict";
import type { Packet, PublishPacket } from "../lib/codec/packet.ts";
import { PacketDecoder } from "../lib/codec/decoder.ts";
import { MemorySessionStore } from "../lib/session_store.ts";
import { type Incoming, Protocol } from "../lib/_protocol.ts";
import { MQTTConnectionError, MQTTProtocolError } from "../lib/errors.ts";
import { Requests } from "../lib/_requests.ts";
import { encode } from "../lib/codec/encode.ts";
import { V4 } from "../lib/_protocol_types.ts";
import { harness, ids, publishIn, request, V5 } from "./_protocol_harness.ts";
import { test } from "./_test.ts";

const text = (m: { packet: PublishPacket }) => new TextDecoder().decode(m.packet.payload);

test("a connection after one its CONNACK refused takes its own CONNACK, and then packets", () => {
  const h = harness();
  h.core.start(true);
  h.core.handle({ type: "connack", sessionPresent: false, returnCode: 5 });
  assert.throws(() => h.core.handle({ type: "pingresp" }), /after a refusing CONNACK/);
  h.cut();
  h.connect(true);
  h.core.handle(publishIn(1, 1));
  assert.deepEqual(h.connacks.map((c) => c.returnCode), [5, 0]);
  assert.equal(h.delivered.length, 1);
});

test("MQTT 5: topic aliases belong to one connection, both ways (section 3.3.2.3.4)", () => {
  const h = harness(undefined, { ...V5, topicAliasMaximum: 5, autoTopicAlias: true });
  const decode = (b: Uint8Array) => new PacketDecoder({ protocolVersion: 5 }).push(b)[0];
  const out = (): [string, number | undefined] => {
    const p = decode(h.core.wire({ ...publishIn(0, 0), topic: "out" })) as PublishPacket;
    return [p.topic, p.properties?.topicAlias];
  };
  h.connect(true, false, { topicAliasMaximum: 5 });
  assert.deepEqual([out(), out()], [["out", 1], ["", 1]]);
  h.core.handle({ ...publishIn(0, 0), topic: "in", properties: { topicAlias: 2 } });
  h.cut();
  h.connect(true, false, { topicAliasMaximum: 5 });
  assert.deepEqual(out(), ["out", 1], "the new connection's broker knows no alias yet");
  assert.throws(
    () => h.core.handle({ ...publishIn(0, 0), topic: "", properties: { topicAlias: 2 } }),
    (e: Error) => e instanceof MQTTProtocolError && /names no topic yet/.test(e.message),
    "the last connection's alias 2 means nothing on this one",
  );
});

test("our Receive Maximum counts each connection's messages anew: one left unacknowledged at a cut is no overrun", () => {
  const h = harness(undefined, { ...V5, receiveMaximum: 1 });
  h.connect(false, true);
  h.core.handle(publishIn(1, 1)); // not handled before the cut
  h.cut();
  h.connect(false, true);
  h.core.handle(publishIn(1, 1, "x", true)); // the broker's resend: one in flight on this connection
  assert.equal(h.core.overruns, 0);
});

test("our Receive Maximum: a PUBREL resent on a new connection for an old PUBREC frees nothing on this one", () => {
  const h = harness(undefined, { ...V5, receiveMaximum: 1 });
  h.connect(false, true);
  h.core.handle(publishIn(1, 2));
  h.core.ack(h.delivered[0]);
  assert.deepEqual(ids(h.sent()), ["pubrec 1"]);
  h.cut();
  h.connect(false, true);
  h.core.handle({ type: "pubrel", packetId: 1 });
  h.core.handle(publishIn(2, 1));
  h.core.handle(publishIn(3, 1)); // two unacknowledged on this connection: one too many
  assert.equal(h.core.overruns, 1);
});

test("keepalive: a PINGREQ still queued when the connection ended is not the next connection's", () => {
  const h = harness(undefined, undefined, true);
  h.connect(true);
  h.core.lastRead = 1000;
  h.core.wrote(1000);
  assert.equal(h.core.keepalive(11_000, 10_000), 16_000, "PINGREQ queued behind a write");
  h.cut();
  h.connect(true);
  h.core.lastRead = 12_000; // CONNECT out, CONNACK in
  h.core.wrote(12_000);
  assert.equal(h.core.keepalive(17_000, 10_000), 22_000, "the new connection is not idle yet");
});

test("with keepPending a SUBSCRIBE waiting for a packet id still rejects at the cut: only publishes keep their turn", () => {
  const h = harness();
  h.connect(true);
  for (let i = 1; i <= 65535; i++) request(h.core, "unsuback");
  const sub = request(h.core, "suback");
  const pub = request(h.core, "puback");
  h.cut(true);
  assert.equal(sub.state, "rejected");
  assert.equal(pub.state, "pending");
  h.connect(true);
  assert.deepEqual(
    ids(h.sent().slice(-1)),
    ["publish 1"],
    "the publish goes on the next connection",
  );
});

test("MQTT 5, Session Present 0 after connect(false): an old queued QoS 2 message neither hides nor answers for a new one under its id", () => {
  const h = harness(undefined, V5);
  h.connect(false, true);
  h.core.handle(publishIn(1, 2, "old")); // queued, not handled before the cut
  h.cut();
  h.connect(false, false); // the broker lost the session
  h.core.handle(publishIn(1, 2, "new"));
  assert.deepEqual(h.delivered.map(text), ["old", "new"], "not taken for a resend of the old one");
  h.core.ack(h.delivered[0]);
  assert.deepEqual(h.sent(), [], "the old message is not acknowledged in the new session");
  h.core.ack(h.delivered[1]);
  assert.deepEqual(ids(h.sent()), ["pubrec 1"]);
  h.core.handle(publishIn(1, 2, "new", true));
  assert.equal(h.delivered.length, 2, "the new one's resend is answered, not delivered");
});

test("MQTT 5: connect(false) met by Session Present 0 publishes the session anew, DUP=0, no PUBREL; a later resumed session retransmits them (MQTT-3.2.2-5)", () => {
  const h = harness(undefined, V5);
  h.connect(false, true);
  const q1 = request(h.core, "puback", { payload: "one" });
  const q2 = request(h.core, "pubrec", { payload: "two" });
  h.core.handle({ type: "pubrec", packetId: 2 });
  assert.deepEqual(ids(h.sent()), ["publish 1", "publish 2", "pubrel 2"]);
  h.cut(true);
  h.connect(false, false);
  assert.deepEqual(ids(h.sent()), ["publish 1", "publish 2"]);
  h.cut(true);
  h.connect(false, true);
  assert.deepEqual(
    ids(h.sent()),
    ["publish 1 dup", "publish 2 dup"],
    "not a PUBREL: no PUBREC came",
  );
  h.core.handle({ type: "puback", packetId: 1 });
  h.core.handle({ type: "pubrec", packetId: 2 });
  assert.deepEqual(ids(h.sent()), ["pubrel 2"]);
  h.core.handle({ type: "pubcomp", packetId: 2 });
  assert.deepEqual([q1.state, q2.state], ["resolved", "resolved"]);
});

test("rejectKept: a kept publish acknowledged on a later connection is not settled again", () => {
  const h = harness();
  h.connect(false, true);
  const t = request(h.core, "puback");
  h.sent();
  h.cut(true);
  h.core.rejectKept(new Error("disconnect() was called"));
  h.connect(false, true);
  assert.deepEqual(ids(h.sent()), ["publish 1 dup"]);
  h.core.handle({ type: "puback", packetId: 1 });
  assert.deepEqual([t.state, t.settled], ["rejected", 1]);
});

test("MQTT 5: a SUBSCRIBE does not wait behind publishes held by the broker's Receive Maximum (MQTT-3.3.4-8)", () => {
  const h = harness(undefined, V5);
  h.connect(false, true, { receiveMaximum: 1 });
  request(h.core, "puback");
  const held = request(h.core, "puback");
  assert.deepEqual(ids(h.sent()), ["publish 1"]);
  request(h.core, "suback");
  assert.deepEqual(ids(h.sent()), ["subscribe 2"], "at once, with the next free id");
  h.core.handle({ type: "puback", packetId: 1 });
  assert.deepEqual(ids(h.sent()), ["publish 3"]);
  assert.equal(held.state, "pending");
});

test("MQTT 5: publishes waiting for Receive Maximum across a cut: the next broker's limits reject each refused one, the rest go at once", () => {
  const h = harness(undefined, V5);
  h.connect(false, true, { receiveMaximum: 1 });
  const a = request(h.core, "puback");
  const b = request(h.core, "pubrec");
  const c = request(h.core, "pubrec");
  const d = request(h.core, "puback");
  assert.deepEqual(ids(h.sent()), ["publish 1"]);
  h.cut(true);
  h.connect(false, true, { maximumQoS: 1 });
  assert.deepEqual([b.state, c.state], ["rejected", "rejected"], "two refused in a row");
  assert.deepEqual(ids(h.sent()), ["publish 1 dup", "publish 2"], "d goes without waiting for 1");
  h.core.handle({ type: "puback", packetId: 1 });
  h.core.handle({ type: "puback", packetId: 2 });
  assert.deepEqual([a.state, d.state], ["resolved", "resolved"]);
});

test("MQTT 5: a refusing CONNACK (Session Present 0) leaves the session alone; the next accepted one resumes it", () => {
  const h = harness(undefined, V5);
  h.connect(false, true);
  request(h.core, "pubrec");
  h.core.handle({ type: "pubrec", packetId: 1 });
  h.core.handle(publishIn(7, 2));
  h.core.ack(h.delivered[0]);
  assert.deepEqual(ids(h.sent()), ["publish 1", "pubrel 1", "pubrec 7"]);
  h.cut(true);
  h.core.start(false);
  h.core.handle({ type: "connack", sessionPresent: false, returnCode: 0x89 }); // Server busy
  h.cut(true);
  h.connect(false, true);
  assert.deepEqual(ids(h.sent()), ["pubrel 1"], "the PUBREL, as the session has it");
  h.core.handle(publishIn(7, 2, "x", true));
  assert.equal(
    h.delivered.length,
    1,
    "the incoming QoS 2 id is still known: answered, not delivered",
  );
});

test("3.1.1: a refused connect(false) after a clean session does not make that session the broker's to resume", () => {
  const h = harness();
  h.connect(true);
  request(h.core, "pubrec", { payload: "two" });
  h.core.handle({ type: "pubrec", packetId: 1 });
  h.sent();
  h.cut(true);
  h.core.start(false);
  h.core.handle({ type: "connack", sessionPresent: false, returnCode: 3 }); // Server unavailable
  h.cut(true);
  h.connect(false, false);
  // As without the refused attempt: the broker ended the clean session; a PUBREL alone is lost.
  assert.deepEqual(ids(h.sent()), ["publish 1"]);
});

test("MQTT 5: a clean start's QoS 2 publish past its PUBREC is kept as its PUBREL: a process restarted on the store sends the PUBREL", () => {
  const h = harness(undefined, V5);
  h.connect(true);
  request(h.core, "pubrec");
  h.core.handle({ type: "pubrec", packetId: 1 });
  assert.deepEqual(ids(h.sent()), ["publish 1", "pubrel 1"]);
  const again = harness(h.store, V5);
  again.connect(false, true);
  assert.deepEqual(ids(again.sent()), ["pubrel 1"]);
  again.core.handle({ type: "pubcomp", packetId: 1 });
  assert.equal(again.store.outgoing.size, 0);
});

test("MQTT 5: a refusing CONNACK that wrongly sets Session Present after a clean start is still the refusal it says", () => {
  const h = harness(undefined, V5);
  h.core.start(true);
  // MQTT-3.2.2-6 has Session Present 0 with a refusal; the reason code is what the caller needs.
  h.core.handle({ type: "connack", sessionPresent: true, returnCode: 0x86 });
  assert.deepEqual(h.connacks.map((c) => c.returnCode), [0x86]);
});

test("MQTT 5: PUBACK and PUBREC from 0x80 reject and free the id and the session; a PUBCOMP's reason code does not reject (README: reason codes)", () => {
  const h = harness(undefined, V5);
  h.connect(true);
  const one = request(h.core, "puback");
  const two = request(h.core, "pubrec");
  const three = request(h.core, "pubrec");
  h.sent();
  h.core.handle({ type: "puback", packetId: 1, reasonCode: 0x80 }); // Unspecified error
  h.core.handle({ type: "pubrec", packetId: 2, reasonCode: 0x80 });
  assert.deepEqual([one.state, two.state], ["rejected", "rejected"]);
  assert.deepEqual([(one.error as { code?: number }).code, (two.error as { code?: number }).code], [
    0x80,
    0x80,
  ]);
  assert.deepEqual(h.sent(), [], "a refused QoS 2 publish ends at its PUBREC: no PUBREL");
  assert.deepEqual([...h.store.outgoing.keys()], [3]);
  assert.equal(h.core.inflight, 1);
  h.core.handle({ type: "pubrec", packetId: 3 });
  h.core.handle({ type: "pubcomp", packetId: 3, reasonCode: 0x92 }); // Packet Identifier not found
  assert.equal(three.state, "resolved", "the broker took the message at its PUBREC");
  assert.equal(h.store.outgoing.size, 0);
});

test("our Receive Maximum: a QoS 2 resend, queued or already answered, adds nothing to the count", () => {
  const h = harness(undefined, { ...V5, receiveMaximum: 2 });
  h.connect(true);
  h.core.handle(publishIn(1, 2));
  h.core.handle(publishIn(1, 2, "x", true)); // resent while queued
  h.core.ack(h.delivered[0]);
  h.core.handle(publishIn(1, 2, "x", true)); // resent after its PUBREC
  h.core.handle({ type: "pubrel", packetId: 1 });
  assert.deepEqual(ids(h.sent()), ["pubrec 1", "pubrec 1", "pubcomp 1"]);
  h.core.handle(publishIn(2, 1));
  h.core.handle(publishIn(3, 1)); // two in flight: within 2
  assert.equal(h.core.overruns, 0);
});

test("our Receive Maximum: an earlier connection's QoS 2 message handled now is not counted on this one, nor is its PUBREL", () => {
  const h = harness(undefined, { ...V5, receiveMaximum: 1 });
  h.connect(false, true);
  h.core.handle(publishIn(1, 2)); // handled only after the cut
  h.cut();
  h.connect(false, true);
  h.core.ack(h.delivered[0]);
  h.core.handle({ type: "pubrel", packetId: 1 });
  assert.deepEqual(ids(h.sent()), ["pubrec 1", "pubcomp 1"]);
  h.core.handle(publishIn(2, 1));
  h.core.handle(publishIn(3, 1)); // two unacknowledged on this connection: one too many
  assert.equal(h.core.overruns, 1);
});

test("an earlier connection's QoS 2 message handled while CONNECT awaits its CONNACK: no PUBREC before the CONNACK; the broker's resend is answered", () => {
  // Every write recorded, online or not (the harness drops those made offline).
  const written: Packet[] = [];
  const delivered: Incoming[] = [];
  const core = new Protocol(new MemorySessionStore(), {
    write: (b) => void written.push(...new PacketDecoder().push(b)),
    deliver: (m) => void delivered.push(m),
    connack: () => {},
    disconnected: () => {},
    auth: () => {},
  });
  const connack = () => {
    core.handle({ type: "connack", sessionPresent: true, returnCode: 0 });
    core.resend();
  };
  core.start(false);
  connack();
  core.handle(publishIn(1, 2));
  core.end(new MQTTConnectionError("cut"), false);
  core.start(false);
  core.ack(delivered[0]);
  assert.deepEqual(written, [], "nothing before the CONNACK (MQTT-3.1.2-30)");
  connack();
  core.handle(publishIn(1, 2, "x", true));
  assert.deepEqual(ids(written), ["pubrec 1"]);
  assert.equal(delivered.length, 1);
});

test("keepalive: a PINGRESP read in the same millisecond the PINGREQ went answers it (a loopback broker)", () => {
  const h = harness();
  h.connect(true);
  h.core.lastWrite = h.core.lastRead = 1000;
  assert.equal(h.core.keepalive(11_000, 10_000), 16_000);
  assert.deepEqual(ids(h.sent()), ["pingreq"]);
  h.core.lastWrite = h.core.lastRead = 11_000; // the PINGRESP, read at once
  h.core.handle({ type: "pingresp" });
  assert.equal(
    h.core.keepalive(16_000, 10_000),
    21_000,
    "answered: not dead, idle again at 21 000",
  );
});

test("without a session store each protocol state makes its own: one client's kept publishes are never another's", () => {
  const out = () => {
    const written: Packet[] = [];
    return {
      written,
      write: (b: Uint8Array) => void written.push(...new PacketDecoder().push(b)),
      deliver: () => {},
      connack: () => {},
      disconnected: () => {},
      auth: () => {},
    };
  };
  const a = out(), b = out();
  const one = new Protocol(null, a);
  one.start(false);
  one.handle({ type: "connack", sessionPresent: true, returnCode: 0 });
  request(one, "puback");
  assert.deepEqual(ids(a.written), ["publish 1"]);
  const two = new Protocol(null, b);
  two.start(false);
  two.handle({ type: "connack", sessionPresent: true, returnCode: 0 });
  two.resend();
  assert.deepEqual(b.written, [], "nothing of the first client's to resend");
  assert.equal(two.inflight, 0);
});

test("MQTT 5: an AUTH before the CONNACK goes to enhanced authentication, not taken for a packet out of turn", () => {
  const h = harness(undefined, V5);
  h.core.start(true);
  h.core.handle({ type: "auth", reasonCode: 0x18, properties: { authenticationMethod: "m" } });
  assert.deepEqual(h.others.map((p) => p.type), ["auth"]);
  h.core.handle({ type: "connack", sessionPresent: false, returnCode: 0 });
  assert.equal(h.connacks.length, 1);
});

test("MQTT 5 request(): a new CONNACK's Response Information does not move the response topic while a request waits on it", async () => {
  type Props = { responseTopic?: string; correlationData?: Uint8Array };
  const published: Props[] = [];
  const link = {
    client_id: "c",
    connack: { properties: { responseInformation: "one" } as { responseInformation?: string } },
    subscribe: () => Promise.resolve(1),
    unsubscribe: () => Promise.resolve(),
    publish: (_t: string, _p: string | Uint8Array, o: { properties?: Props }) => {
      published.push(o.properties!);
      return Promise.resolve();
    },
  };
  const requests = new Requests(link);
  const turn = () => new Promise((r) => setTimeout(r, 0));
  const first = requests.request("q", "1", { timeout: 60_000 });
  await turn();
  link.connack = { properties: { responseInformation: "two" } }; // a reconnect
  const second = requests.request("q", "2", { timeout: 60_000 });
  await turn();
  const [one, two] = published;
  assert.match(one.responseTopic!, /^one\//);
  assert.equal(two.responseTopic, one.responseTopic, "the first request still waits on it");
  const taken = requests.take({
    packet: {
      ...publishIn(0, 0, "answer"),
      topic: one.responseTopic!,
      properties: { correlationData: one.correlationData },
    },
    generation: 1,
    session: 1,
    seq: 0,
  });
  assert.equal(taken, true);
  assert.equal(new TextDecoder().decode((await first).payload), "answer");
  requests.lost(new Error("end"), false);
  await assert.rejects(second, /end/);
});

test("3.1.1: an UNSUBACK, which carries no codes, resolves with a 0 (success) per filter", () => {
  const h = harness();
  h.connect(true);
  const t = request(h.core, "unsuback", { filters: 2 });
  h.core.handle({ type: "unsuback", packetId: 1 });
  assert.deepEqual(t.value, [0, 0]);
});

test("an earlier connection's message whose handler failed takes no place in this connection's ack order", () => {
  const h = harness();
  h.connect(false, true);
  h.core.handle(publishIn(1, 1, "old"));
  h.cut();
  h.connect(false, true);
  h.core.handle(publishIn(2, 1));
  h.core.handle(publishIn(3, 1));
  h.core.unhandled(h.delivered[0]);
  h.core.ack(h.delivered[1]);
  h.core.ack(h.delivered[2]);
  assert.deepEqual(ids(h.sent()), ["puback 2", "puback 3"]);
});

test("3.1.1: the 21st QoS 2 publish waits for a PUBCOMP, and a QoS 1 publish behind it too", () => {
  const h = harness();
  h.connect(true);
  const first = Array.from({ length: 20 }, () => request(h.core, "pubrec"));
  assert.equal(h.sent().length, 20);
  const q2 = request(h.core, "pubrec", { payload: "21st" });
  const q1 = request(h.core, "puback", { payload: "after" });
  assert.deepEqual(ids(h.sent()), [], "20 QoS 2 unacknowledged: neither goes");
  request(h.core, "suback");
  assert.deepEqual(ids(h.sent()), ["subscribe 21"], "a SUBSCRIBE is not held back");
  h.core.handle({ type: "pubrec", packetId: 1 });
  assert.deepEqual(ids(h.sent()), ["pubrel 1"], "past its PUBREC it still counts");
  h.core.handle({ type: "pubcomp", packetId: 1 });
  assert.deepEqual(ids(h.sent()), ["publish 22"], "the QoS 2 one goes, the QoS 1 one waits");
  h.core.handle({ type: "pubrec", packetId: 2 });
  h.core.handle({ type: "pubcomp", packetId: 2 });
  assert.deepEqual(ids(h.sent()), ["pubrel 2", "publish 23"]);
  h.core.handle({ type: "puback", packetId: 23 });
  assert.deepEqual([first[0].state, first[1].state, q2.state, q1.state], [
    "resolved",
    "resolved",
    "pending",
    "resolved",
  ]);
});

test("3.1.1: QoS 1 publishes alone are not held back; nor is one while fewer than 20 QoS 2 are out", () => {
  const h = harness();
  h.connect(true);
  for (let i = 0; i < 1000; i++) request(h.core, "puback");
  assert.equal(h.sent().length, 1000);
  for (let i = 0; i < 19; i++) request(h.core, "pubrec");
  request(h.core, "puback");
  assert.equal(h.sent().length, 20);
});

test("3.1.1: a QoS 2 publish waiting for its turn is dropped when its signal aborts", () => {
  const h = harness(undefined, { ...V4, maxInflightQoS2: 1 });
  h.connect(true);
  request(h.core, "pubrec");
  const aborted = new AbortController();
  const skipped = request(h.core, "pubrec", { signal: aborted.signal });
  const next = request(h.core, "pubrec", { payload: "next" });
  h.sent();
  aborted.abort(new Error("gave up"));
  h.core.handle({ type: "pubrec", packetId: 1 });
  h.core.handle({ type: "pubcomp", packetId: 1 });
  assert.equal(skipped.state, "rejected");
  assert.deepEqual(ids(h.sent()), ["pubrel 1", "publish 2"]);
  h.core.handle({ type: "pubrec", packetId: 2 });
  h.core.handle({ type: "pubcomp", packetId: 2 });
  assert.equal(next.state, "resolved");
});

test("3.1.1: the session's QoS 2 publishes are resent within maxInflightQoS2, before newer ones", () => {
  const store = new MemorySessionStore();
  const publish = (packetId: number, qos: 1 | 2) =>
    encode({
      type: "publish",
      topic: "t",
      payload: new Uint8Array(1),
      qos,
      retain: false,
      dup: false,
      packetId,
    });
  store.outgoing.set(1, encode({ type: "pubrel", packetId: 1 }));
  store.outgoing.set(2, publish(2, 2));
  store.outgoing.set(3, publish(3, 1));
  store.outgoing.set(4, publish(4, 2));
  store.outgoing.set(5, publish(5, 1));
  const h = harness(store, { ...V4, maxInflightQoS2: 2 });
  h.connect(false, true);
  // The PUBREL counts: publish 4 waits, and publish 5, a QoS 1 one, behind it.
  assert.deepEqual(ids(h.sent()), ["pubrel 1", "publish 2 dup", "publish 3 dup"]);
  const later = request(h.core, "puback");
  assert.deepEqual(ids(h.sent()), [], "a new publish waits behind the held ones");
  h.core.handle({ type: "puback", packetId: 3 });
  assert.deepEqual(ids(h.sent()), []);
  h.core.handle({ type: "pubcomp", packetId: 1 });
  assert.deepEqual(ids(h.sent()), ["publish 4 dup", "publish 5 dup"]);
  h.core.handle({ type: "pubrec", packetId: 2 });
  h.core.handle({ type: "pubcomp", packetId: 2 });
  assert.deepEqual(ids(h.sent()), ["pubrel 2", "publish 1"], "then the new one, under a free id");
  h.core.handle({ type: "puback", packetId: 1 });
  assert.equal(later.state, "resolved");
  // Cut with 4 unacknowledged: the next connection counts anew and resends it.
  h.cut(true);
  h.connect(false, true);
  assert.deepEqual(ids(h.sent()), ["publish 4 dup", "publish 5 dup"]);
});

test("MQTT 5: maxInflightQoS2 plays no part; the broker's Receive Maximum does", () => {
  const h = harness(undefined, { ...V5, maxInflightQoS2: 1 });
  h.connect(true);
  for (let i = 0; i < 30; i++) request(h.core, "pubrec");
  assert.equal(h.sent().length, 30);
});

test("3.1.1, packet ids exhausted: a SUBSCRIBE waiting for an id takes a freed one, though a publish before it waits for maxInflightQoS2", () => {
  const h = harness();
  h.connect(true);
  for (let i = 0; i < 20; i++) request(h.core, "pubrec"); // ids 1-20: the QoS 2 window is full
  for (let i = 21; i <= 65535; i++) request(h.core, "unsuback");
  h.sent();
  const publish = request(h.core, "puback", { payload: "waits for room" });
  const subscribe = request(h.core, "suback");
  h.core.handle({ type: "unsuback", packetId: 100 });
  assert.deepEqual(ids(h.sent()), ["subscribe 100"], "the SUBSCRIBE needs only an id");
  assert.deepEqual([publish.state, subscribe.state], ["pending", "pending"]);
  h.core.handle({ type: "pubrec", packetId: 1 });
  h.core.handle({ type: "pubcomp", packetId: 1 });
  assert.deepEqual(ids(h.sent()), ["pubrel 1", "publish 1"], "then the publish, with room");
  h.core.handle({ type: "suback", packetId: 100, returnCodes: [1] });
  h.core.handle({ type: "puback", packetId: 1 });
  assert.deepEqual([publish.state, subscribe.state], ["resolved", "resolved"]);
});

test("MQTT 5, packet ids exhausted: an UNSUBSCRIBE waiting for an id is not stuck behind a publish waiting for Receive Maximum; publishes keep their order", () => {
  const h = harness(undefined, V5);
  h.connect(false, true, { receiveMaximum: 1 });
  request(h.core, "puback"); // id 1 fills the window
  for (let i = 2; i <= 65535; i++) request(h.core, "suback");
  h.sent();
  const a = request(h.core, "puback", { payload: "a" });
  const u = request(h.core, "unsuback");
  const b = request(h.core, "puback", { payload: "b" });
  h.core.handle({ type: "suback", packetId: 9, returnCodes: [1] });
  h.core.handle({ type: "suback", packetId: 10, returnCodes: [1] });
  assert.deepEqual(ids(h.sent()), ["unsubscribe 9"], "b stays behind a, with no room either");
  h.core.handle({ type: "puback", packetId: 1 });
  assert.deepEqual(ids(h.sent()), ["publish 10"], "a, in its turn");
  h.core.handle({ type: "puback", packetId: 10 });
  assert.deepEqual(ids(h.sent()), ["publish 1"], "then b");
  assert.deepEqual([a.state, u.state, b.state], ["resolved", "pending", "pending"]);
});

test("after our DISCONNECT (closing): acks still settle their calls and free the session; nothing waiting goes, nothing is delivered", () => {
  const h = harness(undefined, V5);
  h.connect(false, true, { receiveMaximum: 1 });
  const a = request(h.core, "puback", { payload: "a" });
  const b = request(h.core, "puback", { payload: "b" }); // waits for Receive Maximum
  h.sent();
  h.core.closing();
  h.core.handle({ type: "puback", packetId: 1 });
  h.core.handle(publishIn(7, 1));
  assert.equal(a.state, "resolved");
  assert.deepEqual(ids(h.sent()), [], "b does not go after the DISCONNECT");
  assert.equal(h.delivered.length, 0);
  assert.equal(h.store.outgoing.size, 0, "a left the session; b never joined it");
  h.cut(false);
  assert.equal(b.state, "rejected");
});
