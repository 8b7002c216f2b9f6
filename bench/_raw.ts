// The "raw" contender and the peer's framing: direct conn.read/conn.write of
// pre-encoded frames, with just enough framing to find packet boundaries.
// This is the ceiling a client could reach on the same socket API.

/** Writes all of `bytes` (Deno.Conn.write may write part of a buffer). */
export async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let off = 0; off < bytes.length;) off += await conn.write(bytes.subarray(off));
}

/**
 * Reads packets until the connection ends, calling `onPacket` with each
 * packet's first byte and body. Resolves at end of stream or on close.
 */
export async function readPackets(
  conn: Deno.Conn,
  onPacket: (byte1: number, body: Uint8Array) => void,
): Promise<void> {
  let left = new Uint8Array(0);
  const buf = new Uint8Array(65536);
  for (;;) {
    let n: number | null;
    try {
      n = await conn.read(buf);
    } catch {
      return;
    }
    if (n === null) return;
    let data = buf.subarray(0, n);
    if (left.length) {
      const joined = new Uint8Array(left.length + n);
      joined.set(left);
      joined.set(data, left.length);
      data = joined;
    }
    let i = 0;
    for (;;) {
      if (data.length - i < 2) break;
      let len = 0, mul = 1, j = i + 1, b: number;
      do {
        if (j >= data.length) break;
        b = data[j++];
        len += (b & 0x7f) * mul;
        mul *= 128;
      } while (b & 0x80);
      if (data[j - 1] & 0x80 || j + len > data.length) break;
      onPacket(data[i], data.subarray(j, j + len));
      i = j + len;
    }
    // Copy the partial tail: buf is reused by the next read.
    left = data.slice(i);
  }
}

/** A CONNECT for MQTT 3.1.1, clean session, keepalive `keepalive` seconds (default 0: off). */
export function connectFrame(clientId: string, keepalive = 0): Uint8Array {
  const id = new TextEncoder().encode(clientId);
  const ka = [keepalive >> 8, keepalive & 0xff];
  const body = [0, 4, 77, 81, 84, 84, 4, 0x02, ...ka, id.length >> 8, id.length & 0xff, ...id];
  return Uint8Array.of(0x10, body.length, ...body);
}

/** A SUBSCRIBE for one filter, packet id 1. */
export function subscribeFrame(filter: string, qos: number): Uint8Array {
  const t = new TextEncoder().encode(filter);
  const body = [0, 1, t.length >> 8, t.length & 0xff, ...t, qos];
  return Uint8Array.of(0x82, body.length, ...body);
}

/**
 * `count` PUBLISH frames back to back, ids 1, 2, … (QoS 1 and 2) or none (QoS
 * 0); with `version` 5, each with an empty property set (Property Length 0).
 */
export function publishFrames(
  topic: string,
  payload: Uint8Array,
  qos: 0 | 1 | 2,
  count: number,
  version: 4 | 5 = 4,
): { bytes: Uint8Array; frameLength: number } {
  const t = new TextEncoder().encode(topic);
  const props = version === 5 ? 1 : 0;
  const remaining = 2 + t.length + (qos ? 2 : 0) + props + payload.length;
  if (remaining > 127) throw new RangeError("bench frames are small");
  const frameLength = 2 + remaining;
  const bytes = new Uint8Array(frameLength * count);
  for (let k = 0; k < count; k++) {
    let at = k * frameLength;
    bytes[at++] = 0x30 | (qos << 1);
    bytes[at++] = remaining;
    bytes[at++] = t.length >> 8;
    bytes[at++] = t.length & 0xff;
    bytes.set(t, at);
    at += t.length;
    if (qos) {
      const id = (k % 65535) + 1;
      bytes[at++] = id >> 8;
      bytes[at++] = id & 0xff;
    }
    if (props) bytes[at++] = 0; // Property Length 0 (MQTT 5.0 section 3.3.2.3)
    bytes.set(payload, at);
  }
  return { bytes, frameLength };
}

/** A raw MQTT session: connected, reading packets, with handlers by type. */
export class RawSession {
  onPublish: (body: Uint8Array) => void = () => {};
  /** PUBACK, or PUBCOMP (a QoS 2 exchange complete). */
  onAck: () => void = () => {};
  #connack!: () => void;
  #suback!: () => void;
  readonly done: Promise<void>;
  constructor(readonly conn: Deno.Conn, connected: () => void) {
    this.#connack = connected;
    this.done = readPackets(conn, (byte1, body) => {
      const type = byte1 >> 4;
      if (type === 3) this.onPublish(body);
      else if (type === 4 || type === 7) this.onAck();
      // QoS 2, second step: release the id at once, as any client must.
      else if (type === 5) void writeAll(conn, Uint8Array.of(0x62, 0x02, body[0], body[1]));
      else if (type === 2) this.#connack();
      else if (type === 9) this.#suback();
    });
  }

  static async open(port: number, clientId: string): Promise<RawSession> {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    // Nagle off, as umqtt's transports have it (Deno leaves it on: no
    // TCP_NODELAY without setNoDelay, checked with strace on Deno 2.9.6).
    conn.setNoDelay(true);
    let s!: RawSession;
    await new Promise<void>((resolve) => {
      s = new RawSession(conn, resolve);
      void writeAll(conn, connectFrame(clientId));
    });
    return s;
  }

  async subscribe(filter: string, qos: number): Promise<void> {
    await new Promise<void>((resolve) => {
      this.#suback = resolve;
      void writeAll(this.conn, subscribeFrame(filter, qos));
    });
  }

  async close(): Promise<void> {
    try {
      await writeAll(this.conn, Uint8Array.of(0xe0, 0));
      this.conn.close();
    } catch { /* closed */ }
    await this.done;
  }
}
