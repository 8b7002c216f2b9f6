// mosquitto 2.0.11 set up as production brokers are (README "Restrictive
// broker settings"): what the client sees under each restriction, with MQTT
// 3.1.1, where the broker cannot say what it refuses, and with MQTT 5.
import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Message, MQTTClient, MQTTConnectionError, MQTTException } from "../mod.ts";
import { MQTTClient as RobustClient } from "../lib/robust.ts";
import { REFUSALS } from "../lib/_refusals.ts";
import { type Broker, startMosquitto } from "./_brokers.ts";
import { test, uniqueId, until } from "./_test.ts";

const OPTS = { mosquitto: true, timeout: 30_000 };

/** A connected subscriber to `filter` at QoS 1 and the payloads it received. */
async function subscriber(broker: Broker, filter: string) {
  const sub = new MQTTClient(uniqueId("s"), broker.url);
  const got: string[] = [];
  sub.set_callback((_t, _p, m: Message) => void got.push(new TextDecoder().decode(m.payload)));
  await sub.connect();
  await sub.subscribe(filter, 1);
  return {
    got,
    /** Takes messages until one with `payload` came. */
    async until(payload: string) {
      while (!got.includes(payload)) await sub.wait_msg();
    },
    close: () => sub.disconnect(),
  };
}

test(
  "3.1.1 under max_qos 1: QoS 2 granted as 1; a QoS 2 publish closes the connection, and robust, alone, resends it for ever",
  async () => {
    const broker = await startMosquitto({ extraConfig: ["max_qos 1"] });
    const topic = uniqueId("mq");
    const c = new RobustClient(uniqueId("r"), broker.url);
    c.DELAY = 0.01;
    let lost = 0;
    c.addEventListener("disconnected", () => lost++);
    try {
      const simple = new MQTTClient(uniqueId("p"), broker.url);
      await simple.connect();
      assert.equal(await simple.subscribe(`${topic}/s`, 2), 1);
      await assert.rejects(
        simple.publish(`${topic}/p`, "x", false, 2),
        (e) => e instanceof MQTTConnectionError,
      );
      await simple.disconnect().catch(() => {});

      // mosquitto has read all there was (a FIN, not a reset): not taken for a refusal.
      await c.connect(false);
      let settled = false;
      const pending = c.publish(`${topic}/p`, "x", false, 2).finally(() => (settled = true));
      pending.catch(() => {});
      await until(() => lost > REFUSALS + 1, `${REFUSALS + 2} connections closed`, 20_000);
      assert.equal(settled, false);
    } finally {
      await c.disconnect();
      await c.connect(true).then(() => c.disconnect(), () => {});
      await broker.stop();
    }
  },
  OPTS,
);

test(
  "3.1.1 over message_size_limit: QoS 1 and 2 publishes resolve and are never delivered",
  async () => {
    const broker = await startMosquitto({ extraConfig: ["message_size_limit 100"] });
    const topic = uniqueId("ms");
    const sub = await subscriber(broker, `${topic}/#`);
    const pub = new MQTTClient(uniqueId("p"), broker.url);
    try {
      await pub.connect();
      await pub.publish(`${topic}/a`, "x".repeat(200), false, 1);
      await pub.publish(`${topic}/a`, "y".repeat(200), false, 2);
      await pub.publish(`${topic}/a`, "end", false, 1);
      await sub.until("end");
      assert.deepEqual(sub.got, ["end"]);
    } finally {
      await pub.disconnect();
      await sub.close();
      await broker.stop();
    }
  },
  OPTS,
);

test(
  "allow_zero_length_clientid false: an empty client id is refused, 3.1.1 return code 2, MQTT 5 0x80 (mosquitto's choice), robust at once",
  async () => {
    const broker = await startMosquitto({ extraConfig: ["allow_zero_length_clientid false"] });
    try {
      for (const [protocolVersion, code] of [[4, 2], [5, 0x80]] as const) {
        const simple = new MQTTClient("", broker.url, { protocolVersion });
        await assert.rejects(
          simple.connect(),
          (e) => e instanceof MQTTException && e.code === code,
        );
        const robust = new RobustClient("", broker.url, { protocolVersion });
        let lost = 0;
        robust.addEventListener("disconnected", () => lost++);
        await assert.rejects(
          robust.connect(),
          (e) => e instanceof MQTTException && e.code === code,
        );
        assert.equal(lost, 0);
        await robust.disconnect();
      }
    } finally {
      await broker.stop();
    }
  },
  OPTS,
);

test(
  "acl_file: a denied filter is granted; a denied publish resolves undelivered (3.1.1) or rejects with 0x87 and the connection stays (MQTT 5)",
  async () => {
    const dir = mkdtempSync(join(tmpdir(), "umqtt-acl-"));
    chmodSync(dir, 0o755);
    const acl = join(dir, "acl");
    const topic = uniqueId("acl");
    // Anonymous clients may read all of topic/#, and write topic/ok/# only.
    writeFileSync(acl, `topic readwrite ${topic}/ok/#\ntopic read ${topic}/no/#\n`);
    chmodSync(acl, 0o644);
    const broker = await startMosquitto({ extraConfig: [`acl_file ${acl}`] });
    const sub = await subscriber(broker, `${topic}/#`);
    try {
      for (const protocolVersion of [4, 5] as const) {
        const c = new MQTTClient(uniqueId("a"), broker.url, { protocolVersion });
        await c.connect();
        // mosquitto 2.0 checks read access when it delivers, not at SUBSCRIBE.
        assert.equal(await c.subscribe(`${uniqueId("x")}/#`, 1), 1);
        for (const qos of [1, 2] as const) {
          const denied = c.publish(`${topic}/no/a`, "x", false, qos);
          if (protocolVersion === 4) await denied;
          else await assert.rejects(denied, (e) => e instanceof MQTTException && e.code === 0x87);
        }
        await c.ping();
        await c.publish(`${topic}/ok/a`, `end${protocolVersion}`, false, 1);
        await sub.until(`end${protocolVersion}`);
        await c.disconnect();
      }
      assert.deepEqual(sub.got, ["end4", "end5"]);
    } finally {
      await sub.close();
      await broker.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  },
  OPTS,
);
