// The PacketLog the fault tests judge duplicates with, fed packets by hand:
// what it excuses as the broker's doing, and what it leaves to the client.
import assert from "node:assert/strict";
import { encode, type Packet } from "../lib/codec/mod.ts";
import type { Direction } from "./_fault_proxy.ts";
import { PacketLog } from "./_packet_log.ts";
import { test } from "./_test.ts";

const publish = (packetId: number, msg: string, dup = false): Packet => ({
  type: "publish",
  topic: "t",
  payload: new TextEncoder().encode(msg),
  qos: 2,
  retain: false,
  dup,
  packetId,
});

/** A log with one connection per client so far, and a way to add packets. */
function scene() {
  const log = new PacketLog();
  let links = 0;
  const open = (clientId: string) => {
    const link = ++links;
    const send = (dir: Direction, p: Packet) => {
      const bytes = encode(p);
      log.tap({ type: "leave", link, dir, bytes });
      log.tap({ type: "written", link, dir, bytes });
    };
    log.tap({ type: "open", link });
    send("up", { type: "connect", clientId, cleanSession: false, keepalive: 0 });
    return {
      up: (p: Packet) => send("up", p),
      down: (p: Packet) => send("down", p),
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
