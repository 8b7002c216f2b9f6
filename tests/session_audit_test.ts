// Sessions and wills, audited adversarially (session 47): what a kept session
// owes across connections, against mosquitto 2.0.11 and scripted brokers.
import assert from "node:assert/strict";
import { MQTTClient } from "../mod.ts";
import { forEachBroker } from "./_brokers.ts";
import { Tap } from "./_tap.ts";
import { uniqueId, withTimeout } from "./_test.ts";

const text = (b: Uint8Array) => new TextDecoder().decode(b);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

forEachBroker(
  "a QoS 1 message still queued from a session the broker ended is handed out after a later Session Present 1, which does not bring it again",
  async (broker, protocolVersion) => {
    const u = uniqueId("ended");
    const tap = new Tap(broker.host, broker.port);
    const c = new MQTTClient(uniqueId("ended"), broker.host, {
      transport: tap.transport,
      protocolVersion,
    });
    const pub = new MQTTClient(uniqueId("pub"), broker.host, {
      port: broker.port,
      protocolVersion,
    });
    await pub.connect();
    // A clean session: the broker forgets it, and its unacknowledged message, when it ends.
    await c.connect(true);
    await c.subscribe(`${u}/t`, 1);
    await pub.publish(`${u}/t`, "kept", false, 1);
    await withTimeout(
      (async () => {
        while (!tap.conns[0].read.some((p) => p.type === "publish")) await sleep(10);
      })(),
      5000,
      "the message queued, not handled",
    );
    const cut = (i: number) =>
      new Promise((lost) => {
        c.addEventListener("disconnected", lost, { once: true });
        tap.conns[i].cut();
      });
    await cut(0);
    assert.equal(await c.connect(false), false, "a new session");
    await cut(1);
    assert.equal(await c.connect(false), true, "the new session, resumed");
    await c.ping(); // anything the broker sends again comes before PINGRESP
    const m = await c.check_msg();
    assert.equal(m && text(m.payload), "kept", "the queued message, never sent again, is kept");
    await c.disconnect();
    await c.connect(true);
    await c.disconnect();
    await pub.disconnect();
  },
  { only: ["mosquitto"], versions: [4, 5] },
);
