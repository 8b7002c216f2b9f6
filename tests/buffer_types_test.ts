// The byte containers a JavaScript caller may hand the client besides a plain Uint8Array: a
// view whose ArrayBuffer was detached (transferred: structuredClone's or postMessage's transfer
// list, ArrayBuffer.prototype.transfer()) or resized below it reads as 0 bytes, and must be
// refused with an error naming the argument, never sent as nothing; views into larger
// buffers (a Node Buffer from the pool), SharedArrayBuffers and resizable buffers must send
// exactly the view's bytes as they were at the call, whatever the caller does to them after.
// (The ownership of ordinary Uint8Arrays: buffer_copies_test.ts, shared_state_test.ts.)
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { runInNewContext } from "node:vm";
import { MQTTClient as Simple } from "../mod.ts";
import { MQTTClient as Robust } from "../lib/robust.ts";
import {
  decodeFromBroker,
  decodePacket,
  encodeAck,
  encodeAuth,
  encodeConnect,
  encodePublish,
  PacketDecoder,
} from "../lib/codec/mod.ts";
import type { ProtocolVersion, QoS } from "../lib/codec/packet.ts";
import type { Message } from "../lib/options.ts";
import { forEachBroker, startMosquitto } from "./_brokers.ts";
import { offline, proxyTo } from "./_fault_proxy.ts";
import { withHostileBroker } from "./_hostile_broker.ts";
import { connect } from "./_net.ts";
import { test, uniqueId, until, withTimeout } from "./_test.ts";

/** Bytes whose ArrayBuffer was transferred away by structuredClone: they read as 0 bytes. */
function detached(): Uint8Array {
  const b = Uint8Array.of(1, 2, 3);
  structuredClone(b, { transfer: [b.buffer] });
  return b;
}

/** A fixed-length view over a resizable ArrayBuffer since shrunk below it: 0 bytes too. */
function outOfBounds(): Uint8Array {
  const buffer = new ArrayBuffer(8, { maxByteLength: 16 });
  const b = new Uint8Array(buffer, 2, 4);
  buffer.resize(3);
  return b;
}

const GONE = [["detached", detached], ["out of bounds", outOfBounds]] as const;
const GONE_RULE = /detached \(transferred\) or resized below it/;

/** The messages `c` receives, in order (its callback). */
function collect(c: Simple): Message[] {
  const got: Message[] = [];
  c.set_callback((_t, _p, m) => void got.push(m!));
  return got;
}

forEachBroker(
  "a correlationData whose ArrayBuffer was detached or resized below it is refused, never sent as none",
  async (broker) => {
    // It was sent as a Correlation Data of 0 bytes: the responder's reply then matched no request.
    const u = uniqueId("cd");
    const at = { port: broker.port, protocolVersion: 5 as ProtocolVersion };
    const sub = new Simple(uniqueId("sub"), broker.host, at);
    const pub = new Simple(uniqueId("pub"), broker.host, at);
    try {
      await sub.connect();
      const got = collect(sub);
      await sub.subscribe(`${u}/#`, 2);
      await pub.connect();
      for (const [name, gone] of GONE) {
        for (const qos of [0, 1, 2] as QoS[]) {
          await assert.rejects(
            pub.publish(`${u}/gone`, "x", { qos, properties: { correlationData: gone() } }),
            { name: "TypeError", message: GONE_RULE },
            `${name}, QoS ${qos}`,
          );
        }
        assert.throws(
          () => pub.set_last_will(`${u}/will`, "w", { properties: { correlationData: gone() } }),
          { name: "TypeError", message: /correlationData/ },
          `the will's, ${name}`,
        );
      }
      await pub.publish(`${u}/after`, "x", { qos: 1, properties: { correlationData: "k" } });
      while (!got.length) await sub.wait_msg();
      assert.deepEqual(got.map((m) => m.topic), [`${u}/after`]);
    } finally {
      await pub.disconnect();
      await sub.disconnect();
    }
  },
  { only: ["mosquitto"], versions: [5] },
);

test("the codec refuses binary properties whose ArrayBuffer was detached, naming them", () => {
  for (const [name, gone] of GONE) {
    assert.throws(
      () =>
        encodePublish({
          type: "publish",
          topic: "t",
          payload: new Uint8Array(1),
          qos: 0,
          retain: false,
          dup: false,
          properties: { correlationData: gone() },
        }, 5),
      { name: "TypeError", message: /Invalid correlationData in PUBLISH: .*detached/ },
      name,
    );
    assert.throws(
      () =>
        encodeAuth({
          type: "auth",
          reasonCode: 0x18,
          properties: { authenticationMethod: "m", authenticationData: gone() },
        }),
      { name: "TypeError", message: /Invalid authenticationData in AUTH: .*detached/ },
      name,
    );
    assert.throws(
      () =>
        encodeConnect({
          type: "connect",
          clientId: "c",
          cleanSession: true,
          keepalive: 0,
          properties: { authenticationMethod: "m", authenticationData: gone() },
        }, 5),
      { name: "TypeError", message: /Invalid authenticationData in CONNECT: .*detached/ },
      name,
    );
  }
});

forEachBroker(
  "a payload whose ArrayBuffer was detached or resized below it: publish() rejects with a TypeError naming msg, and never throws",
  async (broker, protocolVersion) => {
    // The runtime's own TypeError ("Cannot perform %TypedArray%.prototype.set on a detached or
    // out-of-bounds ArrayBuffer") came out of the encoder, naming nothing; with MQTT 5 a QoS 0
    // publish to the topic just published, built as it goes, threw it at the caller instead of
    // rejecting.
    const u = uniqueId("pl");
    const at = { port: broker.port, protocolVersion };
    const simple = new Simple(uniqueId("simple"), broker.host, at);
    const robust = new Robust(uniqueId("robust"), broker.host, at);
    try {
      for (const c of [simple, robust]) {
        await c.connect();
        for (const [name, gone] of GONE) {
          for (const qos of [0, 1, 2] as QoS[]) {
            await c.publish(u, "x", false, qos); // the topic just published
            let p!: Promise<void>;
            assert.doesNotThrow(() => p = c.publish(u, gone(), false, qos), `${name}, QoS ${qos}`);
            await assert.rejects(p, { name: "TypeError", message: /^Invalid msg: .*detached/ });
          }
          assert.throws(() => c.set_last_will(u, gone()), {
            name: "TypeError",
            message: /^Invalid msg: .*detached/,
          });
          if (protocolVersion === 5) {
            await assert.rejects(c.request(u, gone(), { timeout: 1000 }), {
              name: "TypeError",
              message: GONE_RULE,
            });
          }
        }
      }
    } finally {
      await robust.disconnect();
      await simple.disconnect();
    }
  },
  { versions: [4, 5] },
);

test("a password or authenticationData whose ArrayBuffer was detached is refused, named", () => {
  for (const [name, gone] of GONE) {
    assert.throws(() => new Simple("c", "localhost", { user: "u", password: gone() }), {
      name: "TypeError",
      message: /^Invalid password: .*detached/,
    }, name);
    assert.throws(
      () =>
        new Simple("c", "localhost", {
          protocolVersion: 5,
          authenticationMethod: "m",
          authenticationData: gone(),
        }),
      { name: "TypeError", message: /authenticationData.*detached/ },
      name,
    );
  }
});

test("the codec's encoders refuse a payload, password or will whose ArrayBuffer was detached", () => {
  const connect = { type: "connect", clientId: "c", cleanSession: true, keepalive: 0 } as const;
  for (const [name, gone] of GONE) {
    assert.throws(
      () =>
        encodePublish({
          type: "publish",
          topic: "t",
          payload: gone(),
          qos: 0,
          retain: false,
          dup: false,
        }),
      { name: "TypeError", message: /^Invalid PUBLISH payload: .*detached/ },
      name,
    );
    assert.throws(() => encodeConnect({ ...connect, username: "u", password: gone() }), {
      name: "TypeError",
      message: /^Invalid CONNECT password: .*detached/,
    }, name);
    assert.throws(
      () =>
        encodeConnect({
          ...connect,
          will: { topic: "w", payload: gone(), qos: 0, retain: false },
        }),
      { name: "TypeError", message: /^Invalid CONNECT will message: .*detached/ },
      name,
    );
  }
});

const ascii = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));
const text = (b?: Uint8Array) => b && new TextDecoder().decode(b);

/**
 * Containers of the bytes of `want`, each with what the caller does to it once the call has
 * returned (or nothing): what goes must be the view's bytes, as they were at the call.
 */
function containers(): [want: string, bytes: Uint8Array, after: () => void][] {
  const pooled = Buffer.from("pool"); // a view into Node's shared 8 KiB slab
  const unsafe = Buffer.allocUnsafe(6);
  unsafe.write("unsafe");
  const big = new Uint8Array(64).fill(0x2e);
  const inside = new Uint8Array(big.buffer, 5, 6);
  inside.set(ascii("inside"));
  const shared = new Uint8Array(new SharedArrayBuffer(16), 3, 6);
  shared.set(ascii("shared"));
  const growing = new ArrayBuffer(4, { maxByteLength: 64 });
  const grown = new Uint8Array(growing); // length-tracking
  grown.set(ascii("grow"));
  const shrinking = new ArrayBuffer(6, { maxByteLength: 64 });
  const shrunk = new Uint8Array(shrinking);
  shrunk.set(ascii("shrink"));
  const moved = ascii("moved");
  const cloned = ascii("cloned");
  return [
    ["pool", pooled, () => pooled.fill(0x21)],
    ["unsafe", unsafe, () => unsafe.fill(0x21)],
    ["inside", inside, () => big.fill(0x21)],
    ["shared", shared, () => shared.fill(0x21)],
    ["grow", grown, () => (growing.resize(32), grown.fill(0x21))],
    ["shrink", shrunk, () => shrinking.resize(2)],
    ["moved", moved, () => void moved.buffer.transfer()],
    ["cloned", cloned, () => void structuredClone(cloned, { transfer: [cloned.buffer] })],
  ];
}

forEachBroker(
  "views into larger buffers, shared and resizable buffers: exactly the view's bytes go, as at the call, also when detached right after it",
  async (broker, protocolVersion) => {
    const u = uniqueId("ct");
    const at = { port: broker.port, protocolVersion };
    const sub = new Simple(uniqueId("sub"), broker.host, at);
    const pub = new Simple(uniqueId("pub"), broker.host, at);
    try {
      await sub.connect();
      const got = collect(sub);
      await sub.subscribe(`${u}/#`, 2);
      await pub.connect();
      const sent: Promise<void>[] = [], want: string[] = [];
      for (const qos of [0, 1, 2] as QoS[]) {
        for (const [w, bytes, after] of containers()) {
          const properties = protocolVersion === 5 ? { correlationData: bytes } : undefined;
          sent.push(pub.publish(`${u}/${qos}/${w}`, bytes, { qos, properties }));
          after(); // while a QoS 1/2 one waits for its acknowledgement
          want.push(`${qos}/${w}`);
        }
      }
      await Promise.all(sent);
      while (got.length < want.length) await sub.wait_msg();
      const seen = got.map((m) => [m.topic.slice(u.length + 1), text(m.payload)]);
      assert.deepEqual(seen.sort(), want.map((w) => [w, w.slice(2)]).sort());
      if (protocolVersion === 5) {
        for (const m of got) assert.equal(text(m.properties?.correlationData), text(m.payload));
      }
    } finally {
      await pub.disconnect();
      await sub.disconnect();
    }
  },
  { versions: [4, 5] },
);

forEachBroker(
  "MQTT 5 QoS 0 without properties, built as it goes (under a topic alias): exactly the view's bytes go, as at the call",
  async (broker) => {
    // The test above gives every MQTT 5 publish a Correlation Data, and a topic of its own: none
    // of them takes the path a plain QoS 0 publish to the topic just encoded takes, whose bytes
    // are built from the packet as it goes out (aliased() under a topic alias), not encoded by
    // encodePublish at the call.
    const u = uniqueId("bg");
    const at = { port: broker.port, protocolVersion: 5 as ProtocolVersion };
    const sub = new Simple(uniqueId("sub"), broker.host, at);
    const pub = new Simple(uniqueId("pub"), broker.host, at);
    try {
      await sub.connect();
      const got = collect(sub);
      await sub.subscribe(`${u}/#`, 0);
      await pub.connect();
      assert.ok(pub.connack!.properties.topicAliasMaximum! > 0, "the broker grants topic aliases");
      const want: string[] = [];
      for (const [w, bytes, after] of containers()) {
        await pub.publish(`${u}/${w}`, "first"); // the topic just encoded
        const sent = pub.publish(`${u}/${w}`, bytes);
        after();
        await sent;
        want.push(`${w} first`, `${w} ${w}`);
      }
      while (got.length < want.length) await sub.wait_msg();
      const seen = got.map((m) => `${m.topic.slice(u.length + 1)} ${text(m.payload)}`);
      assert.deepEqual(seen.sort(), want.sort());
    } finally {
      await pub.disconnect();
      await sub.disconnect();
    }
  },
  { only: ["mosquitto"], versions: [5] },
);

forEachBroker(
  "the robust client's offline queue holds the bytes of the call, whatever becomes of their buffer",
  async (broker, protocolVersion) => {
    const u = uniqueId("oq");
    const proxy = await proxyTo(broker);
    const sub = new Simple(uniqueId("sub"), broker.host, { port: broker.port, protocolVersion });
    const c = new Robust(uniqueId("rb"), proxy.hostname, { port: proxy.port, protocolVersion });
    c.DELAY = 0.02;
    try {
      await sub.connect();
      const got = collect(sub);
      await sub.subscribe(`${u}/#`, 1);
      await c.connect();
      await offline(c, proxy);
      const sent: Promise<void>[] = [], want: string[] = [];
      for (const [w, bytes, after] of containers()) {
        const properties = protocolVersion === 5 ? { correlationData: bytes } : undefined;
        sent.push(c.publish(`${u}/${w}`, bytes, { qos: 1, properties }));
        after();
        want.push(w);
      }
      proxy.refuse(false);
      await Promise.all(sent);
      while (got.length < want.length) await sub.wait_msg();
      assert.deepEqual(got.map((m) => text(m.payload)), want);
      assert.deepEqual(got.map((m) => m.topic), want.map((w) => `${u}/${w}`));
      if (protocolVersion === 5) {
        assert.deepEqual(got.map((m) => text(m.properties?.correlationData)), want);
      }
    } finally {
      await c.disconnect();
      await sub.disconnect();
      await proxy.close();
    }
  },
  { versions: [4, 5] },
);

forEachBroker(
  "the robust client's offline queue holds the bytes of the call of an MQTT 5 QoS 0 publish without properties too",
  async (broker) => {
    // The test above publishes at QoS 1 with a Correlation Data: none of its publishes is one the
    // simple client would leave unencoded (QoS 0, no properties, the topic just encoded), which
    // the robust client must encode at the call, as it queues it, not when it goes.
    const u = uniqueId("oq0");
    const proxy = await proxyTo(broker);
    const at = { protocolVersion: 5 as ProtocolVersion };
    const sub = new Simple(uniqueId("sub"), broker.host, { ...at, port: broker.port });
    const c = new Robust(uniqueId("rb"), proxy.hostname, { ...at, port: proxy.port });
    c.DELAY = 0.02;
    try {
      await sub.connect();
      const got = collect(sub);
      await sub.subscribe(`${u}/#`, 0);
      await c.connect();
      await offline(c, proxy);
      const sent: Promise<void>[] = [], want: string[] = [];
      for (const [w, bytes, after] of containers()) {
        sent.push(c.publish(`${u}/${w}`, "first")); // the topic just encoded
        sent.push(c.publish(`${u}/${w}`, bytes));
        after();
        want.push(`${w} first`, `${w} ${w}`);
      }
      proxy.refuse(false);
      await Promise.all(sent);
      while (got.length < want.length) await sub.wait_msg();
      const seen = got.map((m) => `${m.topic.slice(u.length + 1)} ${text(m.payload)}`);
      assert.deepEqual(seen.sort(), want.sort());
    } finally {
      await c.disconnect();
      await sub.disconnect();
      await proxy.close();
    }
  },
  { only: ["mosquitto"], versions: [5] },
);

for (const protocolVersion of [4, 5] as ProtocolVersion[]) {
  test(`the client never writes into the bytes its session store gives it, Node Buffers included (MQTT ${protocolVersion})`, async () => {
    // A kept publish went again as a copy with DUP set, made by slice(): for a Buffer, which a
    // store built on node:fs or Buffer.from() holds, a view, so DUP was set in the store's own
    // bytes, behind its set(): a write-through store's memory then differed from its file.
    const given: Buffer[] = [];
    class BufferMap extends Map<number, Uint8Array> {
      override set(id: number, bytes: Uint8Array) {
        const b = Buffer.from(bytes); // as a store that reads its file back would hold it
        given.push(b);
        return super.set(id, b);
      }
    }
    const store = { outgoing: new BufferMap(), incoming: new Set<number>() };
    const resent: number[] = [];
    let connections = 0;
    await withHostileBroker(async (peer) => {
      const first = connections++ === 0;
      const connect = await peer.expect("connect");
      assert.equal(connect.cleanSession, first);
      await peer.write({ type: "connack", sessionPresent: !first, returnCode: 0 });
      const p = await peer.expect("publish");
      if (first) return peer.end(); // unacknowledged: kept
      resent.push(p.dup ? 1 : 0);
      await peer.write({ type: "puback", packetId: p.packetId! });
      await peer.clientClosed;
    }, async (b) => {
      const c = new Simple(uniqueId("bufstore"), b.host, {
        port: b.port,
        protocolVersion,
        sessionStore: store,
      });
      await c.connect(true);
      await assert.rejects(c.publish("t", "kept", false, 1));
      await c.connect(false);
      await until(() => resent.length === 1, "the kept publish goes again");
      await c.disconnect();
    });
    assert.deepEqual(resent, [1]);
    assert.equal(given.length, 1);
    assert.equal(given[0][0], 0x32, "the stored PUBLISH's first byte: QoS 1, DUP 0");
  });
}

test("MQTT 5 enhanced authentication: a detached authenticationData from reauthenticate() or onAuth is refused, never sent as an AUTH with none", async () => {
  const auths: number[] = [];
  let connections = 0;
  await withHostileBroker(async (peer) => {
    const first = connections++ === 0;
    await peer.expect("connect");
    if (!first) {
      // The challenge, which onAuth answers with detached bytes.
      await peer.write({
        type: "auth",
        reasonCode: 0x18,
        properties: { authenticationMethod: "m", authenticationData: ascii("challenge") },
      });
    } else await peer.write({ type: "connack", sessionPresent: false, returnCode: 0 });
    for (;;) {
      const p = await peer.next().catch(() => undefined);
      if (!p || p.type === "disconnect") break;
      if (p.type === "auth") auths.push(p.reasonCode);
      if (p.type === "publish") await peer.write({ type: "puback", packetId: p.packetId! });
    }
  }, async (broker) => {
    const options = { protocolVersion: 5 as const, authenticationMethod: "m" };
    const c = new Simple(uniqueId("reauth"), broker.url, options);
    await c.connect();
    for (const [name, gone] of GONE) {
      await assert.rejects(c.reauthenticate(gone()), {
        name: "TypeError",
        message: /Invalid authenticationData in AUTH: .*detached/,
      }, name);
    }
    await c.publish("t", "after", false, 1); // a round trip: an AUTH would have come before it
    await c.disconnect();
    const asked = new Simple(uniqueId("onauth"), broker.url, { ...options, onAuth: detached });
    await assert.rejects(asked.connect(), /Invalid authenticationData in AUTH: .*detached/);
  });
  assert.deepEqual(auths, []);
});

test("request() and respond() name their payload argument payload, as their signatures do", async () => {
  // Checked as publish() checks its msg, their errors said "Invalid msg", which neither has.
  const c = new Simple("c", "127.0.0.1", { protocolVersion: 5 });
  const request: Message = {
    topic: "svc",
    payload: new Uint8Array(0),
    qos: 0,
    retain: false,
    dup: false,
    properties: { responseTopic: "replies", correlationData: ascii("k") },
  };
  for (
    const [v, rule] of [[42, /got number$/], [new ArrayBuffer(2), /got ArrayBuffer$/], [
      detached(),
      GONE_RULE,
    ]] as const
  ) {
    await assert.rejects(c.request("svc", v as never), {
      name: "TypeError",
      message: /^Invalid payload: /,
    });
    await assert.rejects(c.request("svc", v as never), { message: rule });
    await assert.rejects(c.respond(request, v as never), {
      name: "TypeError",
      message: /^Invalid payload: /,
    });
    await assert.rejects(c.respond(request, v as never), { message: rule });
  }
});

forEachBroker(
  "a session store may keep the buffer it is given (transfer it, write into it): the client's packet is not it",
  async (broker, protocolVersion) => {
    // The store was documented as given each packet "in a buffer of its own", but a packet over
    // 1 KiB (a buffer of its own already) was the client's very buffer: a store that transferred
    // it (a zero-copy hand-over to a persistence worker) or encrypted it in place detached or
    // changed the packet the client was about to write: nothing went, and publish() waited for
    // ever for its PUBACK.
    class TakingMap extends Map<number, Uint8Array> {
      override set(id: number, bytes: Uint8Array) {
        return super.set(id, structuredClone(bytes, { transfer: [bytes.buffer as ArrayBuffer] }));
      }
    }
    const u = uniqueId("take");
    const at = { port: broker.port, protocolVersion };
    const sub = new Simple(uniqueId("sub"), broker.host, at);
    const sessionStore = { outgoing: new TakingMap(), incoming: new Set<number>() };
    const pub = new Simple(uniqueId("pub"), broker.host, { ...at, sessionStore });
    try {
      await sub.connect();
      const got = collect(sub);
      await sub.subscribe(`${u}/#`, 2);
      await pub.connect();
      const want: string[] = [];
      for (const qos of [1, 2] as QoS[]) {
        for (const n of [10, 2000, 70_000]) {
          const sent = pub.publish(`${u}/${qos}/${n}`, "x".repeat(n), false, qos);
          await withTimeout(sent, 5000, `the QoS ${qos} publish of ${n} bytes`);
          want.push(`${u}/${qos}/${n} ${n}`);
        }
      }
      while (got.length < want.length) await sub.wait_msg();
      assert.deepEqual(got.map((m) => `${m.topic} ${m.payload.length}`), want);
      assert.equal(sessionStore.outgoing.size, 0);
    } finally {
      await pub.disconnect();
      await sub.disconnect();
    }
  },
  { versions: [4, 5] },
);

test("PacketDecoder.push() refuses a chunk whose ArrayBuffer was detached, as it refuses an ArrayBuffer, and stays usable", () => {
  // It took it as no bytes at all: the stream's bytes in it were lost without a word, and the
  // packets after them misframed.
  const decoder = new PacketDecoder();
  for (const [name, gone] of GONE) {
    assert.throws(() => decoder.push(gone()), {
      name: "TypeError",
      message: /^Invalid chunk: .*detached/,
    }, name);
  }
  const pingresp = Uint8Array.of(0xd0, 0x00);
  assert.deepEqual(decoder.push(pingresp), [{ type: "pingresp" }]);
});

test("decodePacket() and decodeFromBroker() refuse a body whose ArrayBuffer was detached, as PacketDecoder.push() refuses such a chunk", () => {
  // PacketDecoder.push() got the check (45b5e31), its siblings did not: a detached body read as
  // none, so an MQTT 5 DISCONNECT 0x8B (server shutting down) decoded as a normal disconnection.
  for (const decode of [decodePacket, decodeFromBroker]) {
    for (const [name, gone] of GONE) {
      assert.throws(() => decode(0xe0, gone(), 5), {
        name: "TypeError",
        message: /^Invalid body: .*detached/,
      }, `${decode.name}, ${name}`);
    }
    assert.deepEqual(decode(0xe0, Uint8Array.of(0x8b), 5), {
      type: "disconnect",
      reasonCode: 0x8b,
    });
    assert.deepEqual(decode(0xe0, new Uint8Array(0), 5), { type: "disconnect", reasonCode: 0 });
  }
});

test("a transport whose readable gives an ArrayBuffer, or a chunk since detached, is told so, not waited on until no CONNACK came", async () => {
  // The client took such a chunk as no bytes at all (PacketDecoder.push() refuses both): a
  // transport written in JavaScript that enqueues a WebSocket's ArrayBuffer connected to nothing,
  // and connect() said, after connectTimeout, that no CONNACK had come.
  const kinds = {
    ArrayBuffer: (c: Uint8Array, ctl: TransformStreamDefaultController<Uint8Array>) =>
      ctl.enqueue(c.slice().buffer as unknown as Uint8Array),
    detached: (c: Uint8Array, ctl: TransformStreamDefaultController<Uint8Array>) => {
      const b = c.slice();
      ctl.enqueue(b);
      structuredClone(b, { transfer: [b.buffer] });
    },
  };
  for (const [kind, transform] of Object.entries(kinds)) {
    await withHostileBroker(async (peer) => {
      await peer.expect("connect");
      await peer.write({ type: "connack", sessionPresent: false, returnCode: 0 });
      await peer.clientClosed;
    }, async (b) => {
      const transport = async () => {
        const conn = await connect({ hostname: b.host, port: b.port });
        const readable = conn.readable.pipeThrough(new TransformStream({ transform }));
        return { readable, writable: conn.writable, close: () => conn.close() };
      };
      const c = new Simple(uniqueId("chunk"), b.host, { transport, connectTimeout: 5000 });
      const e = await c.connect().then(() => null, (e) => e);
      assert.ok(e instanceof Error, `${kind}: connected`);
      assert.match(e.message, kind === "detached" ? /detached/ : /must be a Uint8Array/, kind);
      await c.disconnect();
    });
  }
});

test("bytes made in another realm (a vm context, an iframe) are named so, not 'must be a Uint8Array, got Uint8Array'", () => {
  // Jest's jsdom environment, a node:vm context and an iframe each have their own Uint8Array;
  // `instanceof` refuses theirs, and the error contradicted itself.
  const foreign = runInNewContext("new Uint8Array([1, 2])");
  const c = new Simple("c", "127.0.0.1");
  assert.throws(() => c.set_last_will("t", foreign), {
    name: "TypeError",
    message: /^Invalid msg: must be a string or a Uint8Array, got Uint8Array of another realm/,
  });
  assert.throws(() => c.set_last_will("t", runInNewContext("({})")), /got object$/);
  assert.throws(() => c.set_last_will("t", runInNewContext("[1]")), /got Array of another realm$/);
});

test(
  "a session store's bytes held in a SharedArrayBuffer go over WebSocket, which sends no such view: its PUBREL and its publish published anew",
  async () => {
    // Deno's, Bun's and browsers' WebSocket.send() refuse a view on a SharedArrayBuffer: the
    // PUBREL and the publish renewed after Session Present 0 went as the store's own bytes, so
    // every connect(false) lost its connection ("Connection lost while writing") and left the
    // session unsent. (A DUP publish goes as a copy, with DUP set.)
    const broker = await startMosquitto({ websockets: true });
    const shared = (packet: Uint8Array) => {
      const b = new Uint8Array(new SharedArrayBuffer(packet.length + 4), 2, packet.length);
      b.set(packet);
      return b;
    };
    const watcher = new Simple(uniqueId("watch"), broker.host, { port: broker.port });
    try {
      await watcher.connect();
      const got = collect(watcher);
      const u = uniqueId("sabstore");
      await watcher.subscribe(`${u}/#`, 1);
      for (const protocolVersion of [4, 5] as ProtocolVersion[]) {
        const id = uniqueId(`sab${protocolVersion}`);
        const packet = {
          type: "publish",
          topic: `${u}/${protocolVersion}`,
          qos: 1,
          retain: false,
          dup: false,
        } as const;
        const outgoing = new Map([
          [
            3,
            shared(
              encodePublish({ ...packet, payload: ascii("kept"), packetId: 3 }, protocolVersion),
            ),
          ],
        ]);
        if (protocolVersion === 4) {
          // A session on the broker, so that the PUBREL goes (Session Present 1).
          const before = new Simple(id, broker.host, { port: broker.port });
          await before.connect(false);
          await before.disconnect();
          outgoing.set(9, shared(encodeAck({ type: "pubrel", packetId: 9 })));
        }
        // A store of one's own: not a MemorySessionStore, whose bytes are the client's.
        const sessionStore = { outgoing, incoming: new Set<number>() };
        const c = new Simple(id, `${broker.wsUrl}/mqtt`, { protocolVersion, sessionStore });
        const lost: unknown[] = [];
        c.addEventListener("disconnected", (e) => lost.push((e as CustomEvent).detail?.error));
        try {
          assert.equal(await c.connect(false), protocolVersion === 4, "session present");
          await until(() => outgoing.size === 0 || lost.length > 0, "the session acknowledged");
          assert.deepEqual(lost, [], `MQTT ${protocolVersion}: the connection was lost`);
          await c.ping();
        } finally {
          await c.disconnect();
        }
      }
      while (got.length < 2) await watcher.wait_msg();
      assert.deepEqual(got.map((m) => text(m.payload)), ["kept", "kept"]);
    } finally {
      await watcher.disconnect();
      await broker.stop();
    }
  },
  { mosquitto: true },
);
