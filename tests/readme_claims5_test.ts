// README claims from "MQTT 5" to the end that no other test pinned: the
// MQTT.js shapes the migration notes say are refused, what an idle
// connection's pending read holds, Deno's TLS (a client certificate with
// another server_hostname; a self-signed certificate marked as a CA), and
// aedes' reading of $share filters. Deno only (Deno.connect, Deno's TLS).
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MQTTClient, MQTTConnectionError, type StreamPair } from "../mod.ts";
import { brokerKinds, forEachBroker, startMosquitto } from "./_brokers.ts";
import { test, uniqueId, withTimeout } from "./_test.ts";

const TIMEOUT = { timeout: 30_000 };

forEachBroker(
  "README, From MQTT.js: its option shapes are TypeErrors naming them, not ignored",
  async (broker) => {
    const url = `mqtt://${broker.host}:${broker.port}`;
    // CONNECT properties are top-level options, not `properties: { … }`; `clean` is no option.
    for (const key of ["clean", "properties", "keepAlive", "username"]) {
      assert.throws(
        () => new MQTTClient("id", url, { protocolVersion: 5, [key]: {} }),
        new RegExp(`^TypeError: Invalid option ${key} for the client: accepted are port, `),
      );
    }
    const c = new MQTTClient(uniqueId("mqttjs"), url, { protocolVersion: 5 });
    await assert.rejects(
      c.connect({ clean: true } as object),
      /^TypeError: Invalid option clean for connect: accepted are clean_session, signal$/,
    );
    await c.connect();
    try {
      // Giving topicAlias is a TypeError: the client manages aliases.
      await assert.rejects(
        c.publish("t", "x", { properties: { topicAlias: 1 } as object }),
        /^TypeError: Invalid property topicAlias for publish: accepted are payloadFormatIndicator, /,
      );
      await assert.rejects(
        c.publish("t", "x", { properties: { foo: 1 } as object }),
        /^TypeError: Invalid property foo for publish: /,
      );
      assert.throws(
        () => c.set_last_will("t", "x", false, 0, { properties: { delay: 1 } as object }),
        /^TypeError: Invalid property delay for the will: accepted are .*willDelayInterval$/,
      );
      // Subscription options are noLocal, retainAsPublished, retainHandling (MQTT.js: nl, rap, rh).
      for (const key of ["nl", "rap", "rh"]) {
        await assert.rejects(
          c.subscribe("t", { qos: 1, [key]: 1 } as object),
          new RegExp(
            `^TypeError: Invalid option ${key} for subscribe: accepted are qos, noLocal, `,
          ),
        );
        await assert.rejects(
          c.subscribe([["t", { qos: 1, [key]: 1 } as object]]),
          new RegExp(`^TypeError: Invalid option ${key} for subscribe to "t": accepted are qos, `),
        );
      }
      await assert.rejects(
        c.request("t", "x", { properties: { foo: 1 } as object }),
        /^TypeError: Invalid property foo for request: /,
      );
      // Nothing of the above reached the broker: the connection is whole.
      assert.deepEqual(await c.subscribe("t", { qos: 1, noLocal: true }), 1);
    } finally {
      await c.disconnect();
    }
  },
  { ...TIMEOUT, only: ["mosquitto"] },
);

/**
 * A transport over Deno.connect that records the size of every read the
 * client asks for: through `read(buf)` (a `Deno.Conn`'s shape), or through a
 * byte stream's BYOB requests.
 */
function recordingTransport(host: string, port: number, kind: "read" | "byob") {
  const sizes: number[] = [];
  const transport = async (): Promise<StreamPair> => {
    const conn = await Deno.connect({ hostname: host, port });
    let closed = false;
    const close = () => {
      if (closed) return;
      closed = true;
      conn.close();
    };
    if (kind === "read") {
      return Object.assign(
        { readable: conn.readable, writable: conn.writable, close },
        {
          read: (p: Uint8Array) => (sizes.push(p.byteLength), conn.read(p)),
          write: (p: Uint8Array) => conn.write(p),
        },
      );
    }
    const readable = new ReadableStream({
      type: "bytes",
      async pull(controller) {
        const request = controller.byobRequest!;
        const view = request.view as Uint8Array;
        sizes.push(view.byteLength);
        const n = closed ? null : await conn.read(view).catch(() => null);
        if (n === null) {
          controller.close();
          request.respond(0);
        } else request.respond(n);
      },
    });
    const writer = conn.writable.getWriter();
    const writable = new WritableStream<Uint8Array>({ write: (b) => writer.write(b) });
    return { readable, writable, close };
  };
  return { sizes, transport };
}

// "Through read(buf): 64 bytes after an ack or a PINGRESP, 4 KiB after a
// message of a few hundred bytes": a subscriber's usual message must not
// leave a 64 KiB read pending (10 000 such connections: 640 MB).
forEachBroker(
  "README, Transports: a message of a few hundred bytes leaves a 4 KiB read pending, a PINGRESP 64 bytes",
  async (broker) => {
    const { sizes, transport } = recordingTransport(broker.host, broker.port, "read");
    const c = new MQTTClient(uniqueId("mid"), broker.host, { transport });
    await c.connect();
    try {
      const topic = uniqueId("mid");
      await c.subscribe(topic, 0);
      assert.equal(sizes.at(-1), 64);
      for (const n of [200, 1000, 3000]) {
        await c.publish(topic, new Uint8Array(n), false, 0);
        assert.equal((await c.wait_msg()).payload.length, n);
        await new Promise((r) => setTimeout(r, 20));
        assert.equal(sizes.at(-1), 4096, `after a ${n}-byte message: reads of ${sizes.slice(-4)}`);
      }
      await c.ping();
      await new Promise((r) => setTimeout(r, 20));
      assert.equal(sizes.at(-1), 64, "after the PINGRESP");
    } finally {
      await c.disconnect();
    }
  },
  { ...TIMEOUT, only: ["mosquitto"] },
);

for (const kind of ["read", "byob"] as const) {
  forEachBroker(
    `README, Transports: an idle connection's pending read is 64 bytes, back there after a burst (${kind})`,
    async (broker) => {
      const { sizes, transport } = recordingTransport(broker.host, broker.port, kind);
      const c = new MQTTClient(uniqueId("idle"), broker.host, { transport });
      await c.connect();
      try {
        const topic = uniqueId("idle");
        await c.subscribe(topic, 0);
        assert.ok(sizes.length > 0, "the client read through the transport");
        assert.equal(sizes.at(-1), 64, "an idle connection keeps one 64-byte read pending");
        assert.ok(sizes.every((n) => n === 64), `small packets only: reads of ${sizes}`);
        // A 200 KB message grows the reads; idle after it, the pending read is larger.
        await c.publish(topic, new Uint8Array(200_000), false, 0);
        assert.equal((await c.wait_msg()).payload.length, 200_000);
        assert.ok(Math.max(...sizes) > 64, `a burst is read in larger pieces: ${sizes}`);
        // Once the event loop has turned, the read left pending is still a large one.
        await new Promise((r) => setTimeout(r, 50));
        assert.ok(sizes.at(-1)! > 64, `idle after the burst: ${sizes.slice(-4)}`);
        // Small reads (a SUBACK each) bring it back down to 64 bytes: the
        // next one through read(buf), halving each time through a byte stream.
        let round = 0;
        while (sizes.at(-1) !== 64 && round++ < 12) await c.subscribe(topic, 0);
        assert.equal(sizes.at(-1), 64, `after ${round} small reads: ${sizes.slice(-14)}`);
      } finally {
        await c.disconnect();
      }
    },
    { ...TIMEOUT, only: ["mosquitto"] },
  );
}

test(
  "README, Security: under Deno, a client certificate with a server_hostname other than the address is refused",
  async () => {
    const c = new MQTTClient("id", "mqtts://127.0.0.1:1", {
      ssl_params: { cert: "CERT", key: "KEY", server_hostname: "broker.test" },
    });
    await assert.rejects(c.connect(), (e: Error) => {
      assert.ok(e instanceof MQTTConnectionError, String(e));
      assert.match(
        e.message,
        /^Cannot connect to 127\.0\.0\.1:1: Invalid ssl_params: Deno\.startTls cannot present a client certificate \(cert\) with a server_hostname other than the host connected to$/,
      );
      assert.ok(e.cause instanceof TypeError, "the cause is a TypeError");
      return true;
    });
    assert.equal(c.connected, false);
  },
);

/** A self-signed certificate for 127.0.0.1; `extra` adds openssl `-addext` values. */
function selfSigned(dir: string, name: string, extra: string[]): void {
  const ext = ["subjectAltName=IP:127.0.0.1,DNS:localhost", ...extra].flatMap((e) => [
    "-addext",
    e,
  ]);
  execFileSync("openssl", [
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-days",
    "2",
    "-subj",
    "/CN=localhost",
    ...ext,
    "-keyout",
    join(dir, `${name}.key`),
    "-out",
    join(dir, `${name}.pem`),
  ], { stdio: "ignore" });
}

test(
  "README, Security: Deno refuses a self-signed server certificate marked as a CA (CaUsedAsEndEntity), takes one with CA:FALSE",
  async () => {
    const dir = mkdtempSync(join(tmpdir(), "umqtt-selfsigned-"));
    try {
      selfSigned(dir, "ca", []); // openssl req -x509 marks it CA:TRUE by default
      selfSigned(dir, "leaf", ["basicConstraints=critical,CA:FALSE"]);
      const text = execFileSync("openssl", ["x509", "-in", join(dir, "ca.pem"), "-noout", "-text"]);
      assert.match(String(text), /CA:TRUE/, "openssl marks a -x509 certificate as a CA");
      for (const name of ["ca", "leaf"]) {
        const pem = join(dir, `${name}.pem`);
        const broker = await startMosquitto({
          tls: { cafile: pem, certfile: pem, keyfile: join(dir, `${name}.key`) },
        });
        try {
          const c = new MQTTClient(uniqueId("ss"), `mqtts://127.0.0.1:${broker.tlsPort}`, {
            ssl_params: { cadata: readFileSync(pem, "utf8") },
          });
          if (name === "ca") {
            await assert.rejects(
              withTimeout(c.connect(), 10_000, "the refusal"),
              /CaUsedAsEndEntity/,
            );
          } else {
            await withTimeout(c.connect(), 10_000, "the connection");
            await c.disconnect();
          }
        } finally {
          await broker.stop();
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
  { ...TIMEOUT, ignore: !brokerKinds().includes("mosquitto") },
);

forEachBroker(
  "README, Shared subscriptions: aedes treats $share/{group}/{filter} as an ordinary filter",
  async (broker) => {
    const topic = uniqueId("share");
    const member = new MQTTClient(uniqueId("member"), broker.host, { port: broker.port });
    const pub = new MQTTClient(uniqueId("pub"), broker.host, { port: broker.port });
    await member.connect();
    await pub.connect();
    try {
      await member.subscribe(`$share/g/${topic}`, 1);
      // Published to {filter}, then to the literal topic: had the first come
      // (as a shared subscription would have it), it would come first.
      await pub.publish(topic, "to the filter", false, 1);
      await pub.publish(`$share/g/${topic}`, "to the literal topic", false, 1);
      const msg = await withTimeout(member.wait_msg(), 10_000, "a message");
      assert.equal(msg.topic, `$share/g/${topic}`);
      assert.equal(new TextDecoder().decode(msg.payload), "to the literal topic");
    } finally {
      await member.disconnect();
      await pub.disconnect();
    }
  },
  { ...TIMEOUT, only: ["aedes"] },
);
