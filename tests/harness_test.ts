// Proves the broker harness with hand-written MQTT 3.1.1 bytes over node:net,
// so a bug in the library under test cannot hide a bug in its test brokers.
import { deepEqual, equal } from "node:assert/strict";
import { connect as tcpConnect, type Socket } from "node:net";
import { connect as tlsConnect } from "node:tls";
import { readFileSync } from "node:fs";
import {
  type BrokerKind,
  forEachBroker,
  freePort,
  startAedes,
  startMosquitto,
} from "./_brokers.ts";
import { makeCerts } from "./_certs.ts";
import { test, uniqueId, withTimeout } from "./_test.ts";

const utf8 = (s: string) => [...new TextEncoder().encode(s)];
const str = (s: string) => [utf8(s).length >> 8, utf8(s).length & 0xff, ...utf8(s)];

/** CONNECT, MQTT 3.1.1, clean session, keepalive 60 s (all fields fit a 1-byte remaining length). */
function connectPacket(clientId: string, login?: { user: string; password: string }): Uint8Array {
  const body = [
    ...str("MQTT"), // protocol name
    0x04, // protocol level 4 = 3.1.1
    login ? 0xc2 : 0x02, // flags: clean session (+ username, password)
    ...[0x00, 0x3c], // keepalive 60 s
    ...str(clientId),
    ...(login ? [...str(login.user), ...str(login.password)] : []),
  ];
  return new Uint8Array([0x10, body.length, ...body]);
}

/** SUBSCRIBE packet id 1, one filter at QoS 0. */
function subscribePacket(filter: string): Uint8Array {
  const body = [0x00, 0x01, ...str(filter), 0x00];
  return new Uint8Array([0x82, body.length, ...body]);
}

/** PUBLISH QoS 1, packet id 2, with a remaining length of any size. */
function publishPacket(topic: string, payload: Uint8Array): Uint8Array {
  const head = [...str(topic), 0x00, 0x02];
  const varint: number[] = [];
  for (let n = head.length + payload.length;; n >>= 7) {
    varint.push((n & 0x7f) | (n >= 0x80 ? 0x80 : 0));
    if (n < 0x80) break;
  }
  const packet = new Uint8Array(1 + varint.length + head.length + payload.length);
  packet.set([0x32, ...varint, ...head]);
  packet.set(payload, packet.length - payload.length);
  return packet;
}

const CONNACK_ACCEPTED = [0x20, 0x02, 0x00, 0x00];

/**
 * Sends each packet in turn over `socket`, collecting `replyLengths[i]` bytes
 * after each; closes the socket and waits for it to be closed.
 */
async function exchange(
  socket: Socket,
  packets: Uint8Array[],
  replyLengths: number[],
): Promise<number[][]> {
  let buffered: number[] = [];
  let wake = () => {};
  socket.on("data", (chunk: Uint8Array) => {
    buffered.push(...chunk);
    wake();
  });
  socket.on("close", () => wake());
  const closed = new Promise((resolve) => socket.once("close", resolve));
  socket.on("error", () => {});
  const replies: number[][] = [];
  try {
    for (const [i, packet] of packets.entries()) {
      socket.write(packet);
      await withTimeout(
        new Promise<void>((resolve) => {
          wake = () => (buffered.length >= replyLengths[i] || socket.destroyed) && resolve();
          wake();
        }),
        3000,
        `${replyLengths[i]} reply bytes`,
      );
      replies.push(buffered.slice(0, replyLengths[i]));
      buffered = buffered.slice(replyLengths[i]);
    }
  } finally {
    socket.destroy();
    await closed;
  }
  return replies;
}

function tcp(port: number): Socket {
  return tcpConnect(port, "127.0.0.1");
}

const firstPort: Partial<Record<BrokerKind, number>> = {};

forEachBroker("answers a raw CONNECT with CONNACK 0", async (broker) => {
  equal(broker.host, "127.0.0.1");
  equal(broker.url, `mqtt://127.0.0.1:${broker.port}`);
  const [connack] = await exchange(tcp(broker.port), [connectPacket(uniqueId("raw"))], [4]);
  deepEqual(connack, CONNACK_ACCEPTED);
  firstPort[broker.name] = broker.port;
});

forEachBroker(
  "later tests share the file's broker, which stop() leaves running",
  async (broker) => {
    equal(broker.port, firstPort[broker.name]);
    await broker.stop();
    const [connack] = await exchange(tcp(broker.port), [connectPacket(uniqueId("raw"))], [4]);
    deepEqual(connack, CONNACK_ACCEPTED);
  },
);

// Under Deno, aedes stalled on packets over ~200 KB until _aedes_server.ts
// worked around a node:stream bug; this keeps that fixed.
forEachBroker("acknowledges a 1 MiB QoS 1 PUBLISH", async (broker) => {
  const replies = await exchange(
    tcp(broker.port),
    [connectPacket(uniqueId("big")), publishPacket(uniqueId("big"), new Uint8Array(1 << 20))],
    [4, 4],
  );
  deepEqual(replies, [CONNACK_ACCEPTED, [0x40, 0x02, 0x00, 0x02]]); // PUBACK, packet id 2
});

// A CI run failed with "Unable to create websockets listener on port 30205":
// mosquitto's plain and WebSocket listeners had been given the same port,
// because each freePort() probe closes its socket before the next one draws.
test("freePort: never the same port twice in a process, so one broker's listeners differ", () => {
  const ports = Array.from({ length: 2000 }, () => freePort());
  equal(new Set(ports).size, ports.length);
  for (const port of ports) equal(port >= 20000 && port < 32000, true, `port ${port}`);
});

test("startAedes: a fresh broker answers CONNECT, and is gone after stop()", async () => {
  const broker = await startAedes();
  equal(broker.name, "aedes");
  const [connack] = await exchange(tcp(broker.port), [connectPacket(uniqueId("raw"))], [4]);
  deepEqual(connack, CONNACK_ACCEPTED);
  await broker.stop();
  await assertRefused(broker.port);
});

test(
  "startMosquitto: a password file refuses a wrong password (code 5), accepts the right one",
  async () => {
    const broker = await startMosquitto({ passwordFile: [{ user: "alice", password: "s3cret" }] });
    try {
      const wrong = connectPacket(uniqueId("pw"), { user: "alice", password: "wrong" });
      deepEqual(await exchange(tcp(broker.port), [wrong], [4]), [[0x20, 0x02, 0x00, 0x05]]);
      const anonymous = connectPacket(uniqueId("pw"));
      deepEqual(await exchange(tcp(broker.port), [anonymous], [4]), [[0x20, 0x02, 0x00, 0x05]]);
      const right = connectPacket(uniqueId("pw"), { user: "alice", password: "s3cret" });
      deepEqual(await exchange(tcp(broker.port), [right], [4]), [CONNACK_ACCEPTED]);
    } finally {
      await broker.stop();
    }
    await assertRefused(broker.port);
  },
  { mosquitto: true },
);

test("startMosquitto: denySubscribe gets SUBACK 0x80 for that topic only", async () => {
  const broker = await startMosquitto({ denySubscribe: ["forbidden/topic"] });
  try {
    const replies = await exchange(
      tcp(broker.port),
      [
        connectPacket(uniqueId("deny")),
        subscribePacket("forbidden/topic"),
        subscribePacket("allowed/topic"),
        subscribePacket("forbidden/+"), // literal match only: a wildcard covering it is allowed
      ],
      [4, 5, 5, 5],
    );
    deepEqual(replies, [
      CONNACK_ACCEPTED,
      [0x90, 0x03, 0x00, 0x01, 0x80], // SUBACK, packet id 1, failure
      [0x90, 0x03, 0x00, 0x01, 0x00], // SUBACK, packet id 1, QoS 0 granted
      [0x90, 0x03, 0x00, 0x01, 0x00],
    ]);
  } finally {
    await broker.stop();
  }
}, { mosquitto: true });

test("startMosquitto: websockets listener speaks MQTT over subprotocol mqtt", async () => {
  const broker = await startMosquitto({ websockets: true });
  try {
    const ws = new WebSocket(broker.wsUrl!, "mqtt");
    ws.binaryType = "arraybuffer";
    const connack = withTimeout(
      new Promise<number[]>((resolve, reject) => {
        ws.onopen = () => ws.send(connectPacket(uniqueId("ws")));
        ws.onmessage = (e) => resolve([...new Uint8Array(e.data as ArrayBuffer)]);
        ws.onerror = () => reject(new Error("websocket error"));
      }),
      3000,
      "CONNACK over websocket",
    );
    const closed = new Promise((resolve) => ws.addEventListener("close", resolve));
    try {
      deepEqual(await connack, CONNACK_ACCEPTED);
    } finally {
      ws.close();
      await closed;
    }
  } finally {
    await broker.stop();
  }
}, { mosquitto: true });

// tls_wss_test once failed with "tcp connect error": mosquitto opens its
// listeners one after another, and a WebSocket one 25-100 ms after the first
// accepts connections (measured; libwebsockets builds a context for each), so
// a listener added through extraConfig must be waited for too.
test("startMosquitto: listeners added through extraConfig accept once it resolves", async () => {
  const ws = freePort();
  const v6 = freePort();
  const broker = await startMosquitto({
    extraConfig: [`listener ${ws} 127.0.0.1`, "protocol websockets", `listener ${v6} ::1`],
  });
  try {
    equal(await connectOutcome(ws, "127.0.0.1"), "connected", `ws listener ${ws}`);
    equal(await connectOutcome(v6, "::1"), "connected", `::1 listener ${v6}`);
  } finally {
    await broker.stop();
  }
}, { mosquitto: true });

/** "connected", or the error code of a TCP connection attempt to host:port. */
async function connectOutcome(port: number, host: string): Promise<string> {
  const socket = tcpConnect(port, host);
  let outcome = "connected";
  socket.once("connect", () => socket.destroy());
  socket.once("error", (e: Error & { code?: string }) => outcome = e.code ?? e.message);
  await new Promise((resolve) => socket.once("close", resolve));
  return outcome;
}

test("startMosquitto: TLS listener with a client certificate", async () => {
  const certs = makeCerts();
  const f = certs.path;
  try {
    const broker = await startMosquitto({
      tls: certs.serverTls(true),
    });
    try {
      const socket = tlsConnect({
        host: "127.0.0.1",
        port: broker.tlsPort!,
        ca: readFileSync(f("ca.pem")),
        cert: readFileSync(f("client.pem")),
        key: readFileSync(f("client.key")),
      });
      await withTimeout(
        new Promise((resolve, reject) => {
          socket.once("secureConnect", resolve);
          socket.once("error", reject);
        }),
        3000,
        "TLS handshake",
      );
      const [connack] = await exchange(socket, [connectPacket(uniqueId("tls"))], [4]);
      deepEqual(connack, CONNACK_ACCEPTED);
    } finally {
      await broker.stop();
    }
  } finally {
    certs.remove();
  }
}, { mosquitto: true });

async function assertRefused(port: number): Promise<void> {
  equal(await connectOutcome(port, "127.0.0.1"), "ECONNREFUSED");
}
