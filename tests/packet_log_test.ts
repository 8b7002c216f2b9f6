// The PacketLog the fault tests judge duplicates and losses with, fed
// packets by hand: what it excuses as the broker's doing, what it leaves to
// the client, and how it tells packets that left the proxy from packets its
// receiver could read.
import assert from "node:assert/strict";
import { encode, type Packet, type ProtocolVersion } from "../lib/codec/mod.ts";
import type { Direction } from "./_fault_proxy.ts";
import { PacketLog } from "./_packet_log.ts";
import { test } from "./_test.ts";

const publish = (packetId: number, msg: string, dup = false, qos: 1 | 2 = 2): Packet => ({
  type: "publish",
  topic: "t",
  payload: new TextEncoder().encode(msg),
  qos,
  retain: false,
  dup,
  packetId,
});
const publish1 = (packetId: number, msg: string) => publish(packetId, msg, false, 1);
const puback = (packetId: number): Packet => ({ type: "puback", packetId });

/**
 * A log with one connection per client so far, and a way to add packets:
 * `up(p)`/`down(p)` as they leave the proxy and are written, `unwritten`
 * for a write that fails (nothing after it on that way of the link is
 * written), `later` for one whose write completes when the returned
 * function is called.
 */
function scene() {
  const log = new PacketLog();
  let links = 0;
  const open = (clientId: string, version: ProtocolVersion = 4) => {
    const link = ++links;
    const send = (dir: Direction, p: Packet, how: "written" | "unwritten" | "later") => {
      const bytes = encode(p, version);
      log.tap({ type: "leave", link, dir, bytes });
      const write = () => log.tap({ type: "written", link, dir, bytes });
      if (how === "written") write();
      return how === "later" ? write : () => {};
    };
    log.tap({ type: "open", link });
    send("up", {
      type: "connect",
      clientId,
      cleanSession: false,
      keepalive: 0,
      protocolVersion: version,
    }, "written");
    return {
      up: (p: Packet, how: "written" | "unwritten" = "written") => send("up", p, how),
      down: (p: Packet, how: "written" | "unwritten" = "written") => send("down", p, how),
      downLater: (p: Packet) => send("down", p, "later"),
      close: () => log.tap({ type: "close", link }),
    };
  };
  return { log, open };
}

test("PacketLog: a duplicate after the broker resent a PUBLISH past its PUBREL is the broker's", () => {
  const { log, open } = scene();
  const a = open("sub");
  a.down(publish(7, "m"));
  log.delivered("sub", "m");
  a.up({ type: "pubrec", packetId: 7 });
  a.down({ type: "pubrel", packetId: 7 });
  a.close();
  const b = open("sub");
  b.down(publish(7, "m", true)); // mosquitto's breach of MQTT-4.3.3
  log.delivered("sub", "m");
  assert.equal(log.brokerResendsAfterPubrel("sub").length, 1);
  assert.deepEqual(log.unexplainedDuplicates("sub"), []);
});

test("PacketLog: a duplicate without such a resend, or before it, is the client's", () => {
  const { log, open } = scene();
  const a = open("sub");
  a.down(publish(7, "m"));
  a.down(publish(7, "m", true)); // a resend before PUBREL: must not be delivered again
  log.delivered("sub", "m");
  log.delivered("sub", "m");
  a.down({ type: "pubrel", packetId: 7 });
  a.down(publish(7, "m", true)); // comes after the repeat: explains nothing
  assert.equal(log.brokerResendsAfterPubrel("sub").length, 1);
  assert.equal(log.unexplainedDuplicates("sub").length, 1);
  // The id released and taken by another message: a new message, not a resend.
  const { log: log2, open: open2 } = scene();
  const c = open2("sub");
  c.down(publish(7, "m"));
  c.down({ type: "pubrel", packetId: 7 });
  c.down(publish(7, "n"));
  assert.deepEqual(log2.brokerResendsAfterPubrel("sub"), []);
});

test("PacketLog: a sender's PUBLISH under a second id, or after its PUBREL, is a breach", () => {
  const { log, open } = scene();
  const a = open("pub");
  a.up(publish(1, "m"));
  a.up(publish(1, "m", true)); // a resend before PUBREC: allowed
  a.up({ type: "pubrel", packetId: 1 });
  a.up({ type: "pubrel", packetId: 1 }); // PUBREL again: allowed
  assert.deepEqual(log.senderBreaches("pub"), []);
  a.up(publish(1, "m", true));
  a.up(publish(2, "m", true));
  assert.equal(log.senderBreaches("pub").length, 2);
  // Another client's packets are not the publisher's.
  assert.deepEqual(log.senderBreaches("sub"), []);
});

test("PacketLog: a resend the client could not read, or one after a PUBREL it could not read, explains nothing", () => {
  // The PUBREL never reached the client: it still held id 7, and had to take the resend for one.
  {
    const { log, open } = scene();
    const a = open("sub");
    a.down(publish(7, "m"));
    log.delivered("sub", "m");
    a.up({ type: "pubrec", packetId: 7 });
    a.down({ type: "pubrel", packetId: 7 }, "unwritten");
    a.close();
    const b = open("sub");
    b.down(publish(7, "m", true));
    log.delivered("sub", "m");
    assert.equal(log.brokerResendsAfterPubrel("sub").length, 1, "the broker's breach all the same");
    assert.equal(log.unexplainedDuplicates("sub").length, 1);
  }
  // The resend itself never reached the client.
  {
    const { log, open } = scene();
    const a = open("sub");
    a.down(publish(7, "m"));
    log.delivered("sub", "m");
    a.down({ type: "pubrel", packetId: 7 });
    a.close();
    const b = open("sub");
    b.down(publish(7, "m", true), "unwritten");
    log.delivered("sub", "m");
    assert.match(log.brokerResendsAfterPubrel("sub")[0], /\(not written\)$/);
    assert.equal(log.unexplainedDuplicates("sub").length, 1);
  }
  // A resend whose write completes after the client acted on it still explains the repeat.
  {
    const { log, open } = scene();
    const a = open("sub");
    a.down(publish(7, "m"));
    log.delivered("sub", "m");
    a.down({ type: "pubrel", packetId: 7 });
    const written = a.downLater(publish(7, "m", true));
    log.delivered("sub", "m");
    written();
    assert.deepEqual(log.unexplainedDuplicates("sub"), []);
  }
});

test("PacketLog.losses: ours when acknowledged and not handed over, or settled without a PUBACK; else the broker's", () => {
  const { log, open } = scene();
  const p = open("pub");
  for (const [id, msg] of [[1, "a"], [2, "b"], [3, "c"], [5, "e"], [6, "f"], [4, "d"]] as const) {
    p.up(publish1(id, msg));
  }
  for (const id of [1, 2, 3, 5, 6]) p.down(puback(id));
  p.down(puback(4), "unwritten"); // left the proxy; the publisher never got it
  p.close();
  const s1 = open("sub");
  s1.down(publish1(10, "a"));
  s1.up(puback(10));
  log.delivered("sub", "a");
  s1.down(publish1(11, "b"));
  s1.up(puback(11)); // acknowledged, never handed over: ours
  s1.down(publish1(12, "c")); // no PUBACK: the broker still owes "c"
  s1.close();
  const s2 = open("sub");
  s2.down(publish1(12, "e")); // "c"'s id, given to another message
  s2.up(puback(12));
  log.delivered("sub", "e");
  s2.down(publish1(13, "f"));
  s2.up(puback(13), "unwritten"); // sent, though it never reached the broker: ours all the same
  s2.close();

  const loss = log.losses("pub", "sub", ["a", "b", "c", "d", "e", "f"]);
  assert.deepEqual(loss.ours, [
    'the subscriber acknowledged "b" (link 2, id 11) but never handed it to the application',
    'the subscriber acknowledged "f" (link 3, id 13) but never handed it to the application',
    'the publish of "d" settled, but no PUBACK for it reached the publisher',
  ]);
  assert.deepEqual(loss.broker, ["c"]);
  assert.equal(loss.idReused, 1);
  assert.match(loss.evidence[0], /^"c": the broker acknowledged it/);
  assert.ok(loss.evidence.some((l) => l.includes('Then the broker sent "e" under the same id 12')));
  // Only the messages whose publish settled are judged.
  assert.deepEqual(log.losses("pub", "sub", ["a", "e"]).broker, []);
});

test("PacketLog: bytes that do not decode, or written bytes that did not leave, are gaps, not exceptions", () => {
  const log = new PacketLog();
  log.tap({ type: "open", link: 1 });
  log.tap({ type: "leave", link: 1, dir: "up", bytes: new Uint8Array([0x00, 0x00]) });
  log.tap({ type: "leave", link: 1, dir: "down", bytes: encode({ type: "pingresp" }) });
  log.tap({ type: "written", link: 1, dir: "down", bytes: encode({ type: "pingreq" }) });
  assert.equal(log.gaps().length, 2);
  assert.match(log.gaps()[0], /^L1 up: the bytes that left stopped decoding/);
  assert.match(log.gaps()[1], /^L1 down: a pingreq written that did not leave/);
});

test("PacketLog: a link's packets both ways at the version of its CONNECT", () => {
  const { log, open } = scene();
  const a = open("five", 5);
  a.down({
    type: "connack",
    sessionPresent: true,
    returnCode: 0,
    properties: { receiveMaximum: 10 },
  });
  a.down(publish1(1, "m"));
  a.up(puback(1));
  assert.deepEqual(log.gaps(), []);
  assert.equal(log.connacks("five")[0]?.packet.sessionPresent, true);
  assert.deepEqual(log.exchanges("down").map((x) => [x.publish.written, x.puback?.written]), [[
    true,
    true,
  ]]);
});
