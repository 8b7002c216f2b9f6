// The browser suite's page script: umqtt as a page uses it, scenario by
// scenario, against the mosquitto that browser/suite.node.mjs runs (and kills,
// restarts, SIGSTOPs) through `globalThis.broker(command)`, a function the
// driver exposes to the page. run.ts bundles this file from the TypeScript
// source (esbuild, an IIFE; "@umqtt/umqtt" is mod.ts). Each scenario returns
// plain data for the driver's assertions.
import { MQTTClient, MQTTConnectionError } from "@umqtt/umqtt";
import { MQTTClient as RobustClient } from "@umqtt/umqtt/robust";

const utf8 = new TextDecoder();

/** A fresh id or topic prefix, so scenarios never see each other's messages. */
function uid(name) {
  const hex = Array.from(
    crypto.getRandomValues(new Uint8Array(4)),
    (b) => b.toString(16),
  );
  return `${name}-${hex.join("")}`;
}

/** What a rejection looks like from outside: its class, name and message. */
function described(e) {
  return {
    mqttConnectionError: e instanceof MQTTConnectionError,
    name: e?.name,
    message: String(e?.message ?? e),
    cause: e?.cause === undefined ? undefined : String(e.cause?.message ?? e.cause),
  };
}

/** Runs `f`, resolving with how it settled: `{ ok, value }` or `{ ok: false, error }`. */
function settle(f) {
  return f().then(
    (value) => ({ ok: true, value }),
    (e) => ({ ok: false, error: described(e) }),
  );
}

globalThis.suite = {
  /**
   * 1. The robust client rides out a broker killed (SIGKILL) and restarted on
   * the same port: QoS 1 publishes made while it is down are delivered once
   * it is back, each once, in order.
   */
  async robustRestart({ ws, offline }) {
    const base = uid("robust");
    // DELAY short: the broker is back within a second, the test need not wait out a backoff.
    const c = new RobustClient(base, ws, { reconnectMaxDelay: 200 });
    c.DELAY = 0.05;
    const events = { reconnecting: 0, connected: 0, disconnected: 0 };
    for (const type of Object.keys(events)) {
      c.addEventListener(type, () => events[type]++);
    }
    const lost = new Promise((resolve) =>
      c.addEventListener(
        "disconnected",
        (e) => resolve(described(e.detail.error)),
        { once: true },
      )
    );
    await c.connect();
    await c.subscribe(`${base}/#`, 1);
    const received = [];
    const reading = (async () => {
      for await (const m of c.messages()) {
        received.push({
          n: Number(utf8.decode(m.payload)),
          dup: m.dup,
          qos: m.qos,
        });
        if (received.length === offline + 1) return;
      }
    })();
    await c.publish(`${base}/before`, "0", false, 1);
    while (received.length < 1) await new Promise((r) => setTimeout(r, 10));
    await globalThis.broker("kill");
    const lostWith = await lost;
    // Made while the broker is down: each waits for the connection, none is written yet.
    const publishes = [];
    for (let n = 1; n <= offline; n++) {
      publishes.push(c.publish(`${base}/down`, String(n), false, 1));
    }
    await globalThis.broker("restart");
    await Promise.all(publishes);
    await reading;
    await c.disconnect();
    return { received, events, lostWith, connected: c.connected };
  },

  /**
   * 1b. The broker killed while QoS 1 publishes are in flight, the client
   * subscribed to them itself. Each publish resolves once the broker is back;
   * each not yet acknowledged when it died arrives (a broker that lost its
   * state may lose one it had acknowledged but not yet routed).
   */
  async robustKillInFlight({ ws, count, size }) {
    const base = uid("inflight");
    const c = new RobustClient(base, ws, { reconnectMaxDelay: 200 });
    c.DELAY = 0.05;
    let reconnecting = 0;
    c.addEventListener("reconnecting", () => reconnecting++);
    await c.connect();
    await c.subscribe(`${base}/#`, 1);
    const acked = new Set();
    const publishes = [];
    for (let n = 0; n < count; n++) {
      const payload = new Uint8Array(size);
      new DataView(payload.buffer).setUint32(0, n);
      publishes.push(c.publish(`${base}/m`, payload, false, 1).then(() => acked.add(n)));
    }
    await globalThis.broker("kill");
    const unacked = Array.from({ length: count }, (_, n) => n).filter((n) => !acked.has(n));
    await globalThis.broker("restart");
    const settled = await Promise.allSettled(publishes);
    // A last one, after all: the broker routes one client's messages in order,
    // so once it is here, every earlier one that will arrive has.
    await c.publish(`${base}/last`, "", false, 1);
    const got = new Map();
    for await (const m of c.messages()) {
      if (m.topic === `${base}/last`) break;
      const n = new DataView(m.payload.buffer, m.payload.byteOffset).getUint32(0);
      got.set(n, [...(got.get(n) ?? []), m.dup]);
    }
    await c.disconnect();
    return {
      unacked: unacked.length,
      rejected: settled.filter((r) => r.status === "rejected").map((r) => String(r.reason)),
      reconnecting,
      missing: unacked.filter((n) => !got.has(n)),
      // Delivered more than once, with the DUP flags of its copies.
      twice: [...got].filter(([, dups]) => dups.length > 1),
    };
  },

  /** 2. MQTT 5 over WebSocket: properties round-trip, QoS 2 both ways. */
  async mqtt5({ ws }) {
    const base = uid("v5");
    const a = new MQTTClient(`${base}-a`, ws, { protocolVersion: 5 });
    const b = new MQTTClient(`${base}-b`, ws, { protocolVersion: 5 });
    await a.connect();
    await b.connect();
    const granted = [
      await a.subscribe(`${base}/to-a`, 2),
      await b.subscribe(`${base}/to-b`, 2),
    ];
    const properties = {
      contentType: "application/json; charset=utf-8",
      responseTopic: `${base}/to-a`,
      correlationData: Uint8Array.of(0, 1, 2, 255),
      userProperties: [["k", "v1"], ["k", "v2"], ["ünï", "cödé ✓"]],
      payloadFormatIndicator: true,
      messageExpiryInterval: 60,
    };
    await a.publish(`${base}/to-b`, '{"q":1}', { qos: 2, properties });
    const request = await b.wait_msg();
    // The reply goes where the request's Response Topic says, with its Correlation Data.
    await b.respond(request, "pong", { qos: 2 });
    const reply = await a.wait_msg();
    // request(): the library's own request/response, over the same connection.
    const served = (async () => {
      const req = await b.wait_msg();
      await b.respond(req, `re:${utf8.decode(req.payload)}`);
    })();
    await b.subscribe(`${base}/service`, 1);
    const answer = await a.request(`${base}/service`, "hello", {
      qos: 1,
      timeout: 5000,
    });
    await served;
    await a.disconnect();
    await b.disconnect();
    const shown = (m) => ({
      topic: m.topic,
      payload: utf8.decode(m.payload),
      qos: m.qos,
      dup: m.dup,
      contentType: m.properties?.contentType,
      responseTopic: m.properties?.responseTopic,
      correlationData: m.properties?.correlationData &&
        [...m.properties.correlationData],
      userProperties: m.properties?.userProperties,
      payloadFormatIndicator: m.properties?.payloadFormatIndicator,
      hasExpiry: m.properties?.messageExpiryInterval !== undefined,
    });
    return {
      granted,
      request: shown(request),
      reply: shown(reply),
      answer: utf8.decode(answer.payload),
      toA: `${base}/to-a`,
      toB: `${base}/to-b`,
    };
  },

  /** 3. messages() as async iteration, and AbortSignal cancellation of wait_msg() and messages(). */
  async iterationAndAbort({ ws }) {
    const base = uid("iter");
    const c = new MQTTClient(base, ws);
    await c.connect();
    await c.subscribe(`${base}/#`, 1);
    for (let n = 0; n < 5; n++) {
      await c.publish(`${base}/m`, String(n), false, 1);
    }
    const iterated = [];
    for await (const m of c.messages()) {
      iterated.push(utf8.decode(m.payload));
      if (iterated.length === 3) break; // leaves the other two queued
    }
    const rest = [utf8.decode((await c.wait_msg()).payload)];
    for await (const m of c.messages()) {
      rest.push(utf8.decode(m.payload));
      break;
    }
    // A wait_msg() aborted while nothing comes: rejects with the signal's reason.
    const ac = new AbortController();
    const waiting = settle(() => c.wait_msg({ signal: ac.signal }));
    setTimeout(
      () => ac.abort(new DOMException("user went away", "AbortError")),
      50,
    );
    const aborted = await waiting;
    // Already aborted (a timeout signal that fired): rejects at once, nothing consumed.
    const timedOut = await settle(() => c.wait_msg({ signal: AbortSignal.abort() }));
    // messages() with a signal: the loop ends with the signal's reason.
    const ac2 = new AbortController();
    const loop = settle(async () => {
      const got = [];
      for await (const m of c.messages({ signal: ac2.signal })) {
        got.push(utf8.decode(m.payload));
      }
      return got;
    });
    await c.publish(`${base}/m`, "in-loop", false, 1);
    setTimeout(() => ac2.abort(new Error("stop iterating")), 50);
    const loopEnd = await loop;
    // The client still works, and no message was lost to the aborted waits.
    await c.publish(`${base}/m`, "after", false, 1);
    const after = utf8.decode((await c.wait_msg()).payload);
    // disconnect() ends an iteration that waits: no error.
    const ended = settle(async () => {
      for await (const _ of c.messages()) return "a message?!";
      return "ended";
    });
    await new Promise((r) => setTimeout(r, 20));
    await c.disconnect();
    return {
      iterated,
      rest,
      aborted,
      timedOut,
      loopEnd,
      after,
      ended: await ended,
    };
  },

  /** 4. A broker that stops answering (SIGSTOP) is found by the keepalive. */
  async deadBroker({ ws, keepalive }) {
    const base = uid("dead");
    const c = new MQTTClient(base, ws, { keepalive });
    await c.connect();
    await c.subscribe(`${base}/#`, 1);
    const disconnected = new Promise((resolve) =>
      c.addEventListener("disconnected", () => resolve(performance.now()), {
        once: true,
      })
    );
    const waiting = settle(() => c.wait_msg());
    await globalThis.broker("stop");
    const t0 = performance.now();
    const result = await waiting;
    const ms = Math.round(performance.now() - t0);
    const eventMs = Math.round((await disconnected) - t0);
    // Calls made now fail at once, clearly.
    const publish = await settle(() => c.publish(`${base}/x`, "x", false, 1));
    await globalThis.broker("cont");
    await c.disconnect();
    return { result, ms, eventMs, publish, connected: c.connected };
  },

  /** 5. What connect() says when the WebSocket cannot be had. */
  async connectError({ url }) {
    const c = new MQTTClient(uid("err"), url);
    const t0 = performance.now();
    const r = await settle(() => c.connect());
    return {
      ...r,
      ms: Math.round(performance.now() - t0),
      connected: c.connected,
    };
  },

  /**
   * 5b. A robust client given servers the page may not reach (a page served
   * over https:// given ws:// ones: mixed content): how its reconnect() ends,
   * and after how many attempts (a further round is stopped at its first).
   */
  async refused({ urls }) {
    const c = new RobustClient(uid("refused"), urls);
    c.DELAY = 0;
    let attempts = 0;
    c.addEventListener("reconnecting", () => {
      if (++attempts > urls.length) c.disconnect();
    });
    const r = await settle(() => c.reconnect());
    await c.disconnect();
    return { ...r, attempts };
  },

  /**
   * 6. A burst: `count` publishes of `size` bytes at QoS 1, made at once,
   * then awaited together, spread over `every` topics; a second client takes
   * one of them. Records the largest `bufferedAmount` the WebSocket reached.
   */
  async burst({ ws, count, size, every }) {
    const base = uid("burst");
    let maxBuffered = 0;
    const send = WebSocket.prototype.send;
    WebSocket.prototype.send = function (data) {
      send.call(this, data);
      maxBuffered = Math.max(maxBuffered, this.bufferedAmount);
    };
    try {
      const sub = new MQTTClient(`${base}-sub`, ws);
      const pub = new MQTTClient(`${base}-pub`, ws);
      await sub.connect();
      await pub.connect();
      await sub.subscribe(`${base}/b/0`, 1);
      const seen = [];
      let bad = 0;
      const reading = (async () => {
        for await (const m of sub.messages()) {
          const view = new DataView(
            m.payload.buffer,
            m.payload.byteOffset,
            m.payload.byteLength,
          );
          const n = view.getUint32(0);
          // Every byte as sent: its index, then the index's low byte.
          if (
            m.payload.length !== size ||
            m.payload.some((b, i) => i > 3 && b !== (n & 255))
          ) bad++;
          seen.push(n);
          if (seen.length === count / every) return;
        }
      })();
      const t0 = performance.now();
      const publishes = [];
      for (let n = 0; n < count; n++) {
        const payload = new Uint8Array(size).fill(n & 255);
        new DataView(payload.buffer).setUint32(0, n);
        publishes.push(
          pub.publish(`${base}/b/${n % every}`, payload, false, 1),
        );
      }
      const acknowledged = (await Promise.all(publishes)).length;
      const publishedMs = Math.round(performance.now() - t0);
      await reading;
      const ms = Math.round(performance.now() - t0);
      await pub.disconnect();
      await sub.disconnect();
      return { acknowledged, seen, bad, maxBuffered, publishedMs, ms };
    } finally {
      WebSocket.prototype.send = send;
    }
  },
};
globalThis.ready = true;
