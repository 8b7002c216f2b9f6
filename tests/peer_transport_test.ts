// Bugs that peer MQTT clients had in the keepalive, the time limits and the
// transports (TCP, TLS, WebSocket), each asked of umqtt over real sockets:
// where no other test pinned it down, it is pinned here. The peer's issue is
// named above each test.
import assert from "node:assert/strict";
import { MQTTClient, MQTTConnectionError } from "../mod.ts";
import { connectNode } from "../lib/transports/node.ts";
import { PacketDecoder } from "../lib/codec/decoder.ts";
import { encode } from "../lib/codec/encode.ts";
import { forEachBroker, freePort, startMosquitto } from "./_brokers.ts";
import { acceptConnect, watchUnhandledRejections, withHostileBroker } from "./_hostile_broker.ts";
import { Tap } from "./_tap.ts";
import { test, uniqueId, withTimeout } from "./_test.ts";

const IN_DENO = "Deno" in globalThis;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

// ---- keepalive ----------------------------------------------------------------

// mqttjs/MQTT.js#357, eclipse-paho/paho.mqtt.javascript#5, xHasKx/luamqtt#20:
// traffic from the broker put the PINGREQ off, so a client that only
// receives never told the broker it was alive, and was dropped at 1.5 ×
// keepalive while messages kept coming.
forEachBroker(
  "a client that only receives (QoS 0 every 100 ms) still sends PINGREQ every keepalive",
  async (broker, v) => {
    const topic = uniqueId("ro/t");
    const tap = new Tap(broker.host, broker.port);
    const sub = new MQTTClient(uniqueId("ro"), broker.host, {
      protocolVersion: v,
      transport: tap.transport,
      keepalive: 1,
    });
    const pub = new MQTTClient(uniqueId("ro-pub"), broker.host, {
      protocolVersion: v,
      port: broker.port,
    });
    await sub.connect();
    await sub.subscribe(topic, 0);
    await pub.connect();
    const conn = tap.conns[0];
    const pings = () => conn.written.filter((p) => p.type === "pingreq").length;
    let received = 0;
    try {
      // Messages every 100 ms, ten per keepalive interval; about 2 s, 10 s at most.
      for (let waited = 0; pings() < 2 && waited < 10_000; waited += 100) {
        await pub.publish(topic, "x", false, 0);
        await sleep(100);
        while (await sub.check_msg()) received++;
      }
      assert.ok(pings() >= 2, `expected 2 PINGREQs while receiving, got ${pings()}`);
      assert.equal(sub.connected, true);
      // It wrote nothing but PINGREQs after its SUBSCRIBE: QoS 0 needs no answer.
      const after = conn.written.slice(conn.written.findIndex((p) => p.type === "subscribe") + 1);
      assert.deepEqual([...new Set(after.map((p) => p.type))], ["pingreq"]);
      // And messages kept coming between the two PINGREQs: the client was not idle reading.
      const outs = conn.log.flatMap((e, i) => e.packet.type === "pingreq" ? [i] : []);
      const between = conn.log.slice(outs[0], outs[1]);
      assert.ok(
        between.some((e) => e.dir === "in" && e.packet.type === "publish"),
        "messages arrived between the PINGREQs",
      );
      assert.ok(received > 5, `received ${received} messages`);
    } finally {
      await pub.disconnect();
      await sub.disconnect();
    }
  },
  { versions: [4, 5], timeout: 20_000 },
);

// X-Ryl669/eMQTT5#32, espressif/esp-mqtt#179, shamblett/mqtt_client#273:
// keepalive 0 (off) still sent PINGREQs. And MQTT 5's Server Keep Alive 0
// turns the client's own keepalive off (MQTT-3.2.2-21).
test(
  "keepalive 0 sends no PINGREQ; nor does keepalive 1 when the MQTT 5 broker's Server Keep Alive is 0",
  async () => {
    const cases = [
      { v: 4, keepalive: 0, props: undefined },
      { v: 5, keepalive: 1, props: { serverKeepAlive: 0 } },
    ] as const;
    for (const { v, keepalive, props } of cases) {
      let connectKeepalive = -1;
      await withHostileBroker(async (peer) => {
        connectKeepalive = (await acceptConnect(peer, props)).keepalive;
        // The next packet from the client must be its DISCONNECT, not a PINGREQ.
        const next = await peer.next();
        assert.equal(next.type, "disconnect", `MQTT ${v}, keepalive ${keepalive}: ${next.type}`);
      }, async (broker) => {
        const client = new MQTTClient(uniqueId("ka0"), broker.url, {
          protocolVersion: v,
          keepalive,
        });
        await client.connect();
        assert.equal(client.keepalive, 0);
        // 2.5 s of silence: a keepalive of 1 s would have sent two PINGREQs.
        await sleep(2500);
        assert.equal(client.connected, true);
        await client.disconnect();
        // The broker reads what came before the close, DISCONNECT included.
        for (const peer of broker.peers) await peer.clientClosed;
      });
      assert.equal(connectKeepalive, keepalive);
    }
  },
  { timeout: 20_000 },
);

// ---- time limits ----------------------------------------------------------------

// mqttjs/MQTT.js#385 (the CONNACK timeout of an attempt interrupted the next
// one), yodaos-project/ShadowNode#544 and socketio/socket.io-client#74 (a
// connect timer not cleared at CONNACK fired on a live connection).
test(
  "connectTimeout ends at CONNACK: neither a timed-out attempt's timer nor the successful one's ends the next connection",
  async () => {
    let n = 0;
    await withHostileBroker(async (peer) => {
      const first = n++ === 0;
      await peer.expect("connect");
      if (first) return void await peer.clientClosed; // never answers: the client gives up
      await peer.write(Uint8Array.of(0x20, 0x02, 0x00, 0x00));
      await peer.expect("pingreq");
      await peer.write({ type: "pingresp" });
      await peer.expect("disconnect");
    }, async (broker) => {
      const client = new MQTTClient(uniqueId("cto"), broker.url, { connectTimeout: 300 });
      const e = await client.connect().then(() => null, (e) => e);
      assert.ok(e instanceof MQTTConnectionError, `expected a timeout, got ${e}`);
      assert.match(e.message, /timed out/);
      await client.connect();
      await sleep(1000); // over three connect timeouts, with no keepalive to end it otherwise
      assert.equal(client.connected, true);
      await client.ping();
      await client.disconnect();
      for (const peer of broker.peers) await peer.clientClosed;
    });
  },
);

// ---- WebSocket ----------------------------------------------------------------

// eclipse-paho/paho.mqtt.javascript#45 and #47 (several MQTT packets in one
// WebSocket message became one message), hivemq/hivemq-mqtt-web-client#22 (a
// packet split across messages was misread): MQTT-6.0.0-2, the receiver MUST
// NOT assume packets are aligned on frame boundaries.
test(
  "WebSocket: a CONNACK split over three frames, SUBACK and three PUBLISHes in one, a PUBLISH one byte a frame",
  async () => {
    const publish = (topic: string, text: string) =>
      encode({
        type: "publish",
        topic,
        payload: new TextEncoder().encode(text),
        qos: 0,
        retain: false,
        dup: false,
      });
    const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, (req) => {
      const { socket, response } = Deno.upgradeWebSocket(req, { protocol: "mqtt" });
      socket.binaryType = "arraybuffer";
      const decoder = new PacketDecoder({ protocolVersion: 5 });
      socket.onmessage = (e) => {
        for (const p of decoder.push(new Uint8Array(e.data as ArrayBuffer))) {
          if (p.type === "connect") {
            for (const f of [[0x20], [0x02, 0x00], [0x00]]) socket.send(Uint8Array.from(f));
          } else if (p.type === "subscribe") {
            const suback = encode({ type: "suback", packetId: p.packetId, returnCodes: [0] });
            const third = publish("f/3", "third, split");
            socket.send(
              Uint8Array.from([
                ...suback,
                ...publish("f/1", "first"),
                ...publish("f/2", "second"),
                ...third.subarray(0, 7),
              ]),
            );
            socket.send(third.slice(7));
            for (const b of publish("f/4", "fourth, a byte a frame")) socket.send(Uint8Array.of(b));
          }
        }
      };
      return response;
    });
    try {
      const client = new MQTTClient(uniqueId("wsf"), `ws://127.0.0.1:${server.addr.port}/mqtt`);
      await client.connect();
      assert.equal(await client.subscribe("f/#", 0), 0);
      const got: string[] = [];
      for (let i = 0; i < 4; i++) {
        const m = await withTimeout(client.wait_msg(), 5000, `message ${i + 1}`);
        got.push(`${m.topic} ${new TextDecoder().decode(m.payload)}`);
      }
      assert.deepEqual(got, [
        "f/1 first",
        "f/2 second",
        "f/3 third, split",
        "f/4 fourth, a byte a frame",
      ]);
      await client.disconnect();
    } finally {
      await server.shutdown();
    }
  },
  { ignore: !IN_DENO },
);

// ---- hosts --------------------------------------------------------------------

// mqttjs/MQTT.js#1569 (ws://[::1]:port threw ERR_INVALID_URL: the brackets
// were dropped), node-red/node-red#2462, eclipse-paho/paho.mqtt.cpp#212: an
// IPv6 literal host. The parsing is pinned in arguments_test.ts and
// transport_gaps_test.ts; here mosquitto listens on ::1 only, and every way
// of naming it carries a round trip.
test(
  "IPv6 literal hosts reach a broker on ::1 only: mqtt://[::1], bare ::1, node:net, ws://[::1]",
  async () => {
    const tcp = freePort();
    const ws = freePort();
    const broker = await startMosquitto({
      extraConfig: [`listener ${tcp} ::1`, `listener ${ws} ::1`, "protocol websockets"],
    });
    try {
      const ways: [string, () => MQTTClient][] = [
        ["mqtt://[::1]", () => new MQTTClient(uniqueId("v6"), `mqtt://[::1]:${tcp}`)],
        ["::1 and port", () => new MQTTClient(uniqueId("v6"), "::1", { port: tcp })],
        ["[::1] and port", () => new MQTTClient(uniqueId("v6"), "[::1]", { port: tcp })],
        ["node:net", () =>
          new MQTTClient(uniqueId("v6"), "unused", {
            transport: () => connectNode({ hostname: "::1", port: tcp }),
          })],
        ["ws://[::1]", () => new MQTTClient(uniqueId("v6"), `ws://[::1]:${ws}/mqtt`)],
      ];
      for (const [way, make] of ways) {
        const c = make();
        await c.connect().catch((e) => assert.fail(`${way}: ${e}`));
        const topic = uniqueId("v6/t");
        await c.subscribe(topic, 1);
        await c.publish(topic, way, false, 1);
        const m = await withTimeout(c.wait_msg(), 5000, `${way}: its message`);
        assert.equal(new TextDecoder().decode(m.payload), way);
        await c.disconnect();
      }
      // And 127.0.0.1 is not what answered: nothing listens there on that port.
      const v4 = new MQTTClient(uniqueId("v4"), "127.0.0.1", { port: tcp });
      await assert.rejects(v4.connect(), /refused/i);
    } finally {
      await broker.stop();
    }
  },
  { mosquitto: true, ignore: !IN_DENO },
);

// mqttjs/MQTT.js#1778 and #1282: a host that does not resolve gave a bare
// ENOTFOUND (or nothing at all) that did not say which server; the error
// should name it and keep the runtime's reason, without waiting for the
// connect timeout.
test(
  "a host name that does not resolve: MQTTConnectionError naming it, with the lookup's reason",
  async () => {
    const host = "no-such-host.invalid";
    const ways: [string, MQTTClient][] = [
      ["default", new MQTTClient(uniqueId("dns"), host, { connectTimeout: 20_000 })],
      [
        "node:net",
        new MQTTClient(uniqueId("dns"), host, {
          connectTimeout: 20_000,
          transport: () => connectNode({ hostname: host, port: 1883 }),
        }),
      ],
      ["ws", new MQTTClient(uniqueId("dns"), `ws://${host}/mqtt`, { connectTimeout: 20_000 })],
    ];
    for (const [way, c] of ways) {
      const e = await c.connect().then(() => null, (e) => e);
      assert.ok(e instanceof MQTTConnectionError, `${way}: got ${e}`);
      assert.ok(e.message.includes(host), `${way}: ${e.message}`);
      assert.doesNotMatch(e.message, /timed out/, way);
      assert.ok(e.cause !== undefined || way === "ws", `${way}: no cause`);
    }
  },
  { ignore: !IN_DENO },
);

// ---- the socket failing under the client ---------------------------------------

// aws/aws-iot-device-sdk-js#278, Nerixyz/instagram_mqtt#60, moscajs/aedes#178,
// node-red/node-red#155: EPIPE or ECONNRESET while writing came out as an
// unhandled 'error' event and crashed the process. Here the broker closes
// with the client's bytes unread, so the kernel answers with RST, while the
// client is writing 256 KB PUBLISHes as fast as it can: Deno's socket and
// node:net (Deno's, and Bun's when this file runs under bun test).
test(
  "a broker that resets the connection mid-write: every publish settles, the client says why, nothing is unhandled",
  async () => {
    for (const way of IN_DENO ? ["Deno.connect", "node:net"] : ["node:net"]) {
      const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
      const port = listener.addr.port;
      const serving = (async () => {
        const conn = await listener.accept();
        const buf = new Uint8Array(64 * 1024);
        await conn.read(buf); // the CONNECT
        await conn.write(Uint8Array.of(0x20, 0x02, 0x00, 0x00));
        await conn.read(buf); // the flood has begun; most of it stays unread
        conn.close(); // unread bytes in the receive buffer: RST, not FIN
      })();
      const unhandled = watchUnhandledRejections();
      const client = new MQTTClient(uniqueId("rst"), "127.0.0.1", {
        port,
        ...(way === "node:net"
          ? { transport: () => connectNode({ hostname: "127.0.0.1", port }) }
          : {}),
      });
      const lost = new Promise<unknown>((resolve) =>
        client.addEventListener("disconnected", (e) => resolve((e as CustomEvent).detail.error), {
          once: true,
        })
      );
      try {
        await client.connect();
        const payload = new Uint8Array(256 * 1024);
        const results: unknown[] = [];
        while (client.connected && results.length < 4000) {
          results.push(await client.publish("rst/t", payload, false, 0).then(() => "ok", (e) => e));
        }
        await serving;
        const error = await withTimeout(lost, 5000, `${way}: the disconnected event`);
        assert.ok(error instanceof MQTTConnectionError, `${way}: ${error}`);
        const failed = results.filter((r) => r !== "ok");
        assert.ok(failed.length > 0, `${way}: a publish rejects once the socket is gone`);
        for (const r of failed) assert.ok(r instanceof MQTTConnectionError, `${way}: ${r}`);
        // The reset was seen (EPIPE or ECONNRESET), by the reader or by a write.
        const why = [error, ...failed].map((e) => `${(e as Error).message} ${(e as Error).cause}`);
        assert.match(why.join(" | "), /reset|broken pipe|EPIPE|ECONNRESET/i, `${way}: ${why}`);
        await assert.rejects(client.publish("rst/t", "after", false, 0), MQTTConnectionError);
      } finally {
        await client.disconnect();
        listener.close();
        await serving.catch(() => {});
        assert.deepEqual(await unhandled.stop(), [], `${way}: unhandled rejections`);
      }
    }
  },
  { ignore: !IN_DENO, timeout: 30_000 },
);

// ---- the process ends ------------------------------------------------------------

// mqttjs/MQTT.js#1033 (end() before the CONNACK kept Node alive for 90 s),
// mqttjs/MQTT.js#78 and node-red/node-red#3593 (the ping timer outlived the
// connection): a process must end by itself after disconnect(), under Deno
// (Deno's sockets) and Bun (node:net), with a keepalive running and a long
// connect timeout pending. Deno's sanitizers catch a leaked timer within a
// test; this is what a user sees, the process not exiting.
const CHILD = (url: string, mod: string) => `
import { MQTTClient } from ${JSON.stringify(mod)};
// disconnect() while connect() waits for a CONNACK that never comes
const a = new MQTTClient("exit-a", ${
  JSON.stringify(url)
}, { keepalive: 1, connectTimeout: 120000 });
const opening = a.connect().then(() => "connected", (e) => e.name);
await new Promise((r) => setTimeout(r, 300));
await a.disconnect();
console.log("a:", await opening);
// a live connection with a keepalive, pinged, then disconnected
const b = new MQTTClient("exit-b", ${
  JSON.stringify(url)
}, { keepalive: 1, connectTimeout: 120000 });
await b.connect();
await b.ping();
await b.disconnect();
console.log("b: done");
`;

test(
  "the process exits by itself after disconnect(): before the CONNACK, and with a keepalive running (Deno, Bun)",
  async () => {
    const mod = new URL("../mod.ts", import.meta.url).pathname;
    for (const runtime of ["deno", "bun"]) {
      let n = 0;
      await withHostileBroker(async (peer) => {
        const first = n++ === 0;
        await peer.expect("connect");
        if (first) return void await peer.clientClosed;
        await peer.write(Uint8Array.of(0x20, 0x02, 0x00, 0x00));
        await peer.expect("pingreq");
        await peer.write({ type: "pingresp" });
        await peer.expect("disconnect");
      }, async (broker) => {
        const code = CHILD(broker.url, mod);
        const argv = runtime === "deno"
          ? [Deno.execPath(), "eval", "--quiet", code]
          : ["npx", "-y", "bun", "-e", code];
        const child = new Deno.Command(argv[0], {
          args: argv.slice(1),
          stdout: "piped",
          stderr: "piped",
        }).spawn();
        let timer: ReturnType<typeof setTimeout> | undefined;
        const exited = await Promise.race([
          child.output(),
          new Promise<null>((r) => (timer = setTimeout(() => r(null), 30_000))),
        ]);
        clearTimeout(timer);
        if (exited === null) {
          child.kill("SIGKILL");
          await child.output();
          assert.fail(`${runtime}: the process was still running 30 s after disconnect()`);
        }
        const out = new TextDecoder().decode(exited.stdout);
        assert.equal(exited.code, 0, `${runtime}: ${new TextDecoder().decode(exited.stderr)}`);
        assert.match(out, /a: (AbortError|MQTTConnectionError)/, `${runtime}: ${out}`);
        assert.match(out, /b: done/, `${runtime}: ${out}`);
        assert.equal(broker.peers.length, 2);
      });
    }
  },
  { ignore: !IN_DENO, timeout: 90_000 },
);
