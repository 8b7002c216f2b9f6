// The timed workloads, one implementation per contender. Each workload sets
// up its connections untimed and returns `run`, the part that is measured,
// and `close`.
import mqtt from "npm:mqtt@5";
import { MQTTClient } from "../mod.ts";
import { connectFrame, publishFrames, RawSession, writeAll } from "./_raw.ts";

export type ContenderName = "raw" | "umqtt" | "MQTT.js";

/** A set-up workload: `run` is what gets timed. */
export interface Prepared {
  run(): Promise<void>;
  close(): Promise<void>;
}

/** What each workload is given. */
export interface Ctx {
  port: number;
  /** Messages in the timed part. */
  n: number;
  /** A fresh id for topics and client ids. */
  id: string;
  /** umqtt's protocol version: 4 (MQTT 3.1.1, the default) or 5. */
  version?: 4 | 5;
  /**
   * With the client-only peer: what it received from the client `clientId`,
   * once that connection has ended (PUBLISH packets, payload bytes).
   */
  sunk?: (clientId: string) => Promise<{ count: number; bytes: number }>;
}

export type Workload = (ctx: Ctx) => Promise<Prepared>;

export const PAYLOAD: Uint8Array = new Uint8Array(64).fill(0x62);
/**
 * Throws unless the peer received the `ctx.n` messages of `PAYLOAD.length`
 * bytes that `clientId` was timed publishing: QoS 0 has no acknowledgement,
 * and a client that resolved its publishes without writing them all would
 * otherwise make the fastest row. To be called once the connection is closed.
 */
async function verifySunk(ctx: Ctx, clientId: string, who: string): Promise<void> {
  if (!ctx.sunk) return;
  const { count, bytes } = await ctx.sunk(clientId);
  if (count !== ctx.n || bytes !== ctx.n * PAYLOAD.length) {
    throw new Error(
      `${who}: the peer received ${count} messages of ${bytes} bytes, expected ${ctx.n} of ${
        ctx.n * PAYLOAD.length
      }`,
    );
  }
}

/** Publishes fired before waiting for the last of them (QoS 0). */
const BURST = 100;
/** QoS 1 publishes in flight in the pipelined workload. */
export const WINDOW = 1000;

// ---- helpers -----------------------------------------------------------

function deferred<T = void>() {
  let resolve!: (v: T) => void, reject!: (e: unknown) => void;
  const promise = new Promise<T>((a, b) => (resolve = a, reject = b));
  return { promise, resolve, reject };
}

/**
 * A count of received messages: call `tick` with each message's payload
 * length; `done` resolves at the `n`th. `verify` throws unless exactly `n`
 * messages of `n * PAYLOAD.length` bytes came by then, so that a contender
 * that loses, duplicates or cuts messages makes no row instead of a fast one
 * (a lost one stalls `done`, which the bench reports after a minute).
 */
function countTo(n: number, who: string): {
  tick: (bytes: number) => void;
  done: Promise<void>;
  verify: () => void;
} {
  const all = deferred();
  let got = 0, bytes = 0;
  const tick = (size: number) => {
    bytes += size;
    if (++got === n) all.resolve();
  };
  const verify = () => {
    if (got !== n || bytes !== n * PAYLOAD.length) {
      throw new Error(
        `${who}: ${got} messages of ${bytes} bytes in all, expected ${n} of ${n * PAYLOAD.length}`,
      );
    }
  };
  return { tick, done: all.promise, verify };
}

/** The payload length of a PUBLISH body (MQTT 3.1.1): after the topic and, at QoS 1 or 2, the packet id. */
function payloadLength(body: Uint8Array, qos: 0 | 1): number {
  return body.length - 2 - ((body[0] << 8) | body[1]) - (qos ? 2 : 0);
}

/** Keeps `window` calls of `one` pending until `n` have completed. */
function pipeline(n: number, window: number, one: (i: number) => Promise<void>): Promise<void> {
  const done = deferred();
  let next = 0, finished = 0;
  const pump = () => {
    while (next < n && next - finished < window) {
      one(next++).then(() => {
        if (++finished === n) done.resolve();
        else pump();
      }, done.reject);
    }
  };
  pump();
  return done.promise;
}

function umqtt(ctx: Ctx, name: string, port = ctx.port): Promise<MQTTClient> {
  const c = new MQTTClient(`${name}-${ctx.id}`, "127.0.0.1", {
    port,
    protocolVersion: ctx.version ?? 4,
    // Hold every message as MQTT.js does, rather than drop QoS 0 past the default 1000.
    maxQueuedMessages: ctx.n,
  });
  return c.connect().then(() => c);
}

function mqttjs(ctx: Ctx, name: string, port = ctx.port): Promise<mqtt.MqttClient> {
  const c = mqtt.connect({
    host: "127.0.0.1",
    port,
    clientId: `${name}-${ctx.id}`,
    protocolVersion: 4,
    reconnectPeriod: 0,
    keepalive: 0,
  });
  return new Promise((resolve, reject) => {
    c.once("connect", () => resolve(c));
    c.once("error", reject);
  });
}

function mqttjsPublish(
  c: mqtt.MqttClient,
  topic: string,
  qos: 0 | 1 | 2,
  msg: string | Buffer = PAYLOAD as Buffer,
): Promise<void> {
  return new Promise((resolve, reject) =>
    c.publish(topic, msg, { qos }, (e) => e ? reject(e) : resolve())
  );
}

function endMqttjs(c: mqtt.MqttClient): Promise<void> {
  return new Promise((resolve) => c.end(false, {}, () => resolve()));
}

// ---- through the broker ------------------------------------------------

/** QoS 0, one publisher and one subscriber; timed until the subscriber has all. */
export const qos0e2e: Record<ContenderName, Workload> = {
  async raw(ctx) {
    const topic = `bench/${ctx.id}`;
    const sub = await RawSession.open(ctx.port, `sub-${ctx.id}`);
    await sub.subscribe(topic, 0);
    const pub = await RawSession.open(ctx.port, `pub-${ctx.id}`);
    const { bytes, frameLength } = publishFrames(topic, PAYLOAD, 0, ctx.n);
    const count = countTo(ctx.n, "raw subscriber");
    sub.onPublish = (body) => count.tick(payloadLength(body, 0));
    return {
      async run() {
        for (let i = 0; i < ctx.n; i += BURST) {
          await writeAll(pub.conn, bytes.subarray(i * frameLength, (i + BURST) * frameLength));
        }
        await count.done;
      },
      async close() {
        count.verify();
        await Promise.all([pub.close(), sub.close()]);
      },
    };
  },
  async umqtt(ctx) {
    const topic = `bench/${ctx.id}`;
    const sub = await umqtt(ctx, "sub");
    await sub.subscribe(topic, 0);
    const pub = await umqtt(ctx, "pub");
    const count = countTo(ctx.n, "umqtt subscriber");
    return {
      async run() {
        const receiving = (async () => {
          for (let i = 0; i < ctx.n; i++) count.tick((await sub.wait_msg()).payload.length);
        })();
        for (let i = 0; i < ctx.n;) {
          let last!: Promise<void>;
          for (const end = Math.min(i + BURST, ctx.n); i < end; i++) {
            last = pub.publish(topic, PAYLOAD);
          }
          await last;
        }
        await receiving;
      },
      async close() {
        count.verify();
        await Promise.all([pub.disconnect(), sub.disconnect()]);
      },
    };
  },
  async "MQTT.js"(ctx) {
    const topic = `bench/${ctx.id}`;
    const sub = await mqttjs(ctx, "sub");
    await sub.subscribeAsync(topic, { qos: 0 });
    const pub = await mqttjs(ctx, "pub");
    const count = countTo(ctx.n, "MQTT.js subscriber");
    sub.on("message", (_topic, payload) => count.tick(payload.length));
    return {
      async run() {
        for (let i = 0; i < ctx.n;) {
          const end = Math.min(i + BURST, ctx.n);
          for (; i < end - 1; i++) pub.publish(topic, PAYLOAD as Buffer, { qos: 0 });
          i++;
          await mqttjsPublish(pub, topic, 0);
        }
        await count.done;
      },
      async close() {
        count.verify();
        await Promise.all([endMqttjs(pub), endMqttjs(sub)]);
      },
    };
  },
};

/** QoS 1 (or 2) publishes through the broker, `window` at a time (1: sequential). */
function qos1(window: number, qos: 1 | 2 = 1): Record<ContenderName, Workload> {
  return {
    async raw(ctx) {
      const pub = await RawSession.open(ctx.port, `pub-${ctx.id}`);
      const { bytes, frameLength } = publishFrames(`bench/${ctx.id}`, PAYLOAD, qos, ctx.n);
      return {
        async run() {
          // Framed as umqtt's writer frames them: the acks of one read are
          // answered in one write, and while a write is under way what comes
          // due waits for the next; never two writes at once on the socket.
          // (Until 2026-12-07 raw wrote one PUBLISH per PUBACK, unserialized,
          // and ran below both clients in the pipelined row of 2026-12-06.)
          const all = deferred();
          let sent = 0, acked = 0, writing = false, due = false;
          const send = () => {
            due = false;
            const k = Math.min(ctx.n, acked + window) - sent;
            if (writing || k <= 0) return;
            const chunk = bytes.subarray(sent * frameLength, (sent + k) * frameLength);
            sent += k;
            writing = true;
            writeAll(pub.conn, chunk).then(() => {
              writing = false;
              send();
            }, all.reject);
          };
          pub.onAck = () => {
            if (++acked === ctx.n) all.resolve();
            else if (!due) (due = true), queueMicrotask(send);
          };
          send();
          await all.promise;
        },
        close: () => pub.close(),
      };
    },
    async umqtt(ctx) {
      const topic = `bench/${ctx.id}`;
      const pub = await umqtt(ctx, "pub");
      return {
        async run() {
          if (window === 1) {
            for (let i = 0; i < ctx.n; i++) await pub.publish(topic, PAYLOAD, false, qos);
          } else {
            await pipeline(ctx.n, window, () => pub.publish(topic, PAYLOAD, false, qos));
          }
        },
        close: () => pub.disconnect(),
      };
    },
    async "MQTT.js"(ctx) {
      const topic = `bench/${ctx.id}`;
      const pub = await mqttjs(ctx, "pub");
      return {
        async run() {
          if (window === 1) {
            for (let i = 0; i < ctx.n; i++) await mqttjsPublish(pub, topic, qos);
          } else {
            await pipeline(ctx.n, window, () => mqttjsPublish(pub, topic, qos));
          }
        },
        close: () => endMqttjs(pub),
      };
    },
  };
}

export const qos1seq: Record<ContenderName, Workload> = qos1(1);

export const qos1pipe: Record<ContenderName, Workload> = qos1(WINDOW);
export const qos2seq: Record<ContenderName, Workload> = qos1(1, 2);

/** `workload` with umqtt speaking protocol `version` (its other contenders ignore it). */
export function inVersion(workload: Workload, version: 4 | 5): Workload {
  return (ctx) => workload({ ...ctx, version });
}

// ---- client only (the peer) ---------------------------------------------

/**
 * QoS 0 publishes into a peer that discards them; bursts of 1000, awaiting
 * the last. `text`: the payload given as a string and two topics taking
 * turns, as a sensor publishing readings does (raw writes the same bytes
 * pre-encoded).
 */
function publishInto(text: boolean): Partial<Record<ContenderName, Workload>> {
  const topics = text ? ["bench/sink/a", "bench/sink/b"] : ["bench/sink", "bench/sink"];
  const reading = "x".repeat(PAYLOAD.length);
  const payload = text ? new TextEncoder().encode(reading) : PAYLOAD;
  return {
    async raw(ctx) {
      const s = await RawSession.open(ctx.port, `sink-${ctx.id}`);
      // The topics are the same length: frames alternate in one buffer.
      const a = publishFrames(topics[0], payload, 0, 1000);
      const b = publishFrames(topics[1], payload, 0, 1000);
      const { frameLength } = a;
      for (let i = 1; i < 1000; i += 2) {
        a.bytes.set(b.bytes.subarray(i * frameLength, (i + 1) * frameLength), i * frameLength);
      }
      return {
        async run() {
          for (let i = 0; i < ctx.n; i += 1000) {
            await writeAll(s.conn, a.bytes.subarray(0, Math.min(1000, ctx.n - i) * frameLength));
          }
        },
        close: () => s.close().then(() => verifySunk(ctx, `sink-${ctx.id}`, "raw")),
      };
    },
    async umqtt(ctx) {
      const c = await umqtt(ctx, "sink");
      const msg = text ? reading : PAYLOAD;
      return {
        async run() {
          for (let i = 0; i < ctx.n;) {
            let last!: Promise<void>;
            for (const end = Math.min(i + 1000, ctx.n); i < end; i++) {
              last = c.publish(topics[i & 1], msg);
            }
            await last;
          }
        },
        close: () => c.disconnect().then(() => verifySunk(ctx, `sink-${ctx.id}`, "umqtt")),
      };
    },
    async "MQTT.js"(ctx) {
      const c = await mqttjs(ctx, "sink");
      const msg = text ? reading : PAYLOAD as Buffer;
      return {
        async run() {
          for (let i = 0; i < ctx.n;) {
            const end = Math.min(i + 1000, ctx.n);
            for (; i < end - 1; i++) c.publish(topics[i & 1], msg, { qos: 0 });
            await mqttjsPublish(c, topics[i++ & 1], 0, msg);
          }
        },
        close: () => endMqttjs(c).then(() => verifySunk(ctx, `sink-${ctx.id}`, "MQTT.js")),
      };
    },
  };
}

/** QoS 0 publishes of bytes to one topic into a peer that discards them. */
export const clientPublish: Partial<Record<ContenderName, Workload>> = publishInto(false);
/** The same with text payloads and two topics taking turns. */
export const clientPublishText: Partial<Record<ContenderName, Workload>> = publishInto(true);

/** umqtt takes the `n` messages the peer blasts for `mode` ("blast", "blast1") with wait_msg. */
function waitMsgFrom(mode: string, qos: 0 | 1): Workload {
  return async (ctx) => {
    const c = await umqtt(ctx, `${mode}-${ctx.n}`);
    const count = countTo(ctx.n, "umqtt");
    return {
      async run() {
        await c.subscribe("bench/#", qos);
        for (let i = 0; i < ctx.n; i++) count.tick((await c.wait_msg()).payload.length);
      },
      close: () => (count.verify(), c.disconnect()),
    };
  };
}

/** MQTT.js takes the `n` messages the peer blasts for `mode` with its message event. */
function messageEventFrom(mode: string, qos: 0 | 1): Workload {
  return async (ctx) => {
    const c = await mqttjs(ctx, `${mode}-${ctx.n}`);
    const count = countTo(ctx.n, "MQTT.js");
    c.on("message", (_topic, payload) => count.tick(payload.length));
    return {
      async run() {
        await c.subscribeAsync("bench/#", { qos });
        await count.done;
      },
      close: () => (count.verify(), endMqttjs(c)),
    };
  };
}

/**
 * QoS 0 messages blasted by the peer: read raw, consumed with wait_msg (with
 * and without a callback) and with messages(), and by MQTT.js's message
 * event. One measurement, so that every way of receiving is timed (and its
 * CPU counted) in the same run, rounds alternating.
 */
export const clientReceive: Partial<Record<string, Workload>> = {
  async raw(ctx) {
    const s = await RawSession.open(ctx.port, `blast-${ctx.n}-${ctx.id}`);
    const count = countTo(ctx.n, "raw");
    s.onPublish = (body) => count.tick(payloadLength(body, 0));
    return {
      async run() {
        await s.subscribe("bench/#", 0);
        await count.done;
      },
      close: () => (count.verify(), s.close()),
    };
  },
  umqtt: waitMsgFrom("blast", 0),
  async "umqtt, callback"(ctx) {
    const c = await umqtt(ctx, `blast-${ctx.n}`);
    let bytes = 0;
    c.set_callback((_topic, payload) => {
      bytes += payload.length;
    });
    return {
      async run() {
        await c.subscribe("bench/#", 0);
        let i = 0;
        while (i++ < ctx.n) await c.wait_msg();
        if (bytes !== ctx.n * PAYLOAD.length) {
          throw new Error(`umqtt, callback: ${bytes} bytes, expected ${ctx.n * PAYLOAD.length}`);
        }
      },
      close: () => c.disconnect(),
    };
  },
  async "umqtt, messages()"(ctx) {
    const c = await umqtt(ctx, `blast-${ctx.n}`);
    return {
      async run() {
        await c.subscribe("bench/#", 0);
        let got = 0, bytes = 0;
        for await (const m of c.messages()) {
          bytes += m.payload.length;
          if (++got === ctx.n) break;
        }
        if (bytes !== ctx.n * PAYLOAD.length) {
          throw new Error(`umqtt, messages(): ${bytes} bytes, expected ${ctx.n * PAYLOAD.length}`);
        }
      },
      close: () => c.disconnect(),
    };
  },
  "MQTT.js": messageEventFrom("blast", 0),
};

/**
 * QoS 1 messages blasted by the peer, each acknowledged: raw writes the acks
 * of a chunk's messages in one write, umqtt's are its own (wait_msg), MQTT.js
 * its message event's.
 */
export const clientReceiveQos1: Partial<Record<ContenderName, Workload>> = {
  async raw(ctx) {
    const s = await RawSession.open(ctx.port, `blast1-${ctx.n}-${ctx.id}`);
    const count = countTo(ctx.n, "raw");
    let acks: number[] = [];
    const flush = () => {
      const bytes = Uint8Array.from(acks);
      acks = [];
      void writeAll(s.conn, bytes).catch(() => {});
    };
    s.onPublish = (body) => {
      // The packet id follows the topic.
      const at = 2 + ((body[0] << 8) | body[1]);
      if (acks.length === 0) queueMicrotask(flush);
      acks.push(0x40, 2, body[at], body[at + 1]);
      count.tick(payloadLength(body, 1));
    };
    return {
      async run() {
        await s.subscribe("bench/#", 1);
        await count.done;
      },
      close: () => (count.verify(), s.close()),
    };
  },
  umqtt: waitMsgFrom("blast1", 1),
  "MQTT.js": messageEventFrom("blast1", 1),
};

/**
 * Steps from raw to a client, for QoS 1 and QoS 2 sequential: raw writes the
 * next PUBLISH from the handler of the packet that completes the last one;
 * these await each publish, as a client's API has its caller do, and the
 * second also copies each PUBLISH into a fresh buffer, as a client that keeps
 * it for a resend must (MQTT-4.4.0-1). What lies between them and umqtt is the
 * rest of a client's work per message.
 */
function seqSteps(qos: 1 | 2): Record<string, Workload> {
  return {
    "raw, await each": rawAwaitEach(false, qos),
    "raw, await each, copy each": rawAwaitEach(true, qos),
  };
}
export const qos1seqSteps: Record<string, Workload> = seqSteps(1);
export const qos2seqSteps: Record<string, Workload> = seqSteps(2);

function rawAwaitEach(copy: boolean, qos: 1 | 2): Workload {
  return async (ctx) => {
    const pub = await RawSession.open(ctx.port, `pub-${ctx.id}`);
    const { bytes, frameLength } = publishFrames(`bench/${ctx.id}`, PAYLOAD, qos, ctx.n);
    return {
      async run() {
        for (let i = 0; i < ctx.n; i++) {
          const acked = new Promise<void>((resolve) => (pub.onAck = resolve));
          const frame = bytes.subarray(i * frameLength, (i + 1) * frameLength);
          // Not awaited, as a client does not wait for its write: a failed
          // write rejects unhandled and ends the bench loudly.
          void writeAll(pub.conn, copy ? frame.slice() : frame);
          await acked;
        }
      },
      close: () => pub.close(),
    };
  };
}

// ---- connection rate ---------------------------------------------------

/** Connections opened at once in the connection-rate workload. */
export const CONNECT_BATCH = 100;

/**
 * Opens `ctx.n` connections, `CONNECT_BATCH` at a time, each timed until its
 * CONNACK; they are closed untimed after. `open` makes one and returns its
 * closer.
 */
function connectRate(open: (id: string) => Promise<() => Promise<void>>): Workload {
  return (ctx) => {
    const closers: (() => Promise<void>)[] = [];
    return Promise.resolve({
      async run() {
        for (let i = 0; i < ctx.n; i += CONNECT_BATCH) {
          const batch = Array.from(
            { length: Math.min(CONNECT_BATCH, ctx.n - i) },
            (_, k) => open(`cr-${ctx.id}-${i + k}`),
          );
          closers.push(...await Promise.all(batch));
        }
      },
      async close() {
        for (let i = 0; i < closers.length; i += 500) {
          await Promise.all(closers.slice(i, i + 500).map((close) => close()));
        }
      },
    });
  };
}

/** Reads until `buf` is full; false at end of stream. */
async function readFull(conn: Deno.Conn, buf: Uint8Array): Promise<boolean> {
  for (let got = 0; got < buf.length;) {
    const n = await conn.read(buf.subarray(got));
    if (n === null) return false;
    got += n;
  }
  return true;
}

/** Connections per second, each `Deno.connect` → CONNECT → CONNACK, in batches. */
export const connectionRate: Record<ContenderName, Workload> = {
  raw: (ctx) =>
    connectRate(async (id) => {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: ctx.port });
      await writeAll(conn, connectFrame(id));
      const connack = new Uint8Array(4);
      if (!await readFull(conn, connack) || connack[3] !== 0) throw new Error("raw: no CONNACK");
      return async () => {
        try {
          await writeAll(conn, Uint8Array.of(0xe0, 0));
        } catch { /* closed */ }
        conn.close();
      };
    })(ctx),
  umqtt: (ctx) =>
    connectRate(async (id) => {
      const c = new MQTTClient(id, "127.0.0.1", { port: ctx.port });
      await c.connect();
      return () => c.disconnect();
    })(ctx),
  "MQTT.js": (ctx) =>
    connectRate(async (id) => {
      const c = await mqttjs({ ...ctx, id }, "cr");
      return () => endMqttjs(c);
    })(ctx),
};
