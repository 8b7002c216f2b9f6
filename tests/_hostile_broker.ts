/**
 * A scripted MQTT peer on raw TCP (127.0.0.1, a free port) for tests of how
 * the client survives a broken or hostile broker: each accepted connection
 * runs a scenario that reads the client's packets (decoded with our codec)
 * and writes whatever bytes it likes, valid or not. It speaks the level the
 * client's CONNECT gives, MQTT 3.1.1 or 5.0, as a broker's decoder does.
 *
 * Built on `node:net`, so it runs under Deno, Bun and Node alike. (Deno's
 * resource sanitizer does not see `node:net` sockets, but it does see the
 * client's own `Deno.connect` socket, which is the one under test.)
 *
 * @module
 */
import assert from "node:assert/strict";
import { createServer, type Server, type Socket } from "node:net";
import process from "node:process";
import { encode } from "../lib/codec/encode.ts";
import { PacketDecoder } from "../lib/codec/decoder.ts";
import type {
  ConnackProperties,
  ConnectPacket,
  Packet,
  ProtocolVersion,
  PublishPacket,
} from "../lib/codec/mod.ts";
import { concat } from "../lib/_bytes.ts";

/** How the client ended the connection, as the peer saw it. */
export type ClientClose = "eof" | "reset";

/** One accepted client connection, seen from the scripted broker. */
export interface Peer {
  /** Every packet the client has sent so far, in order. */
  readonly received: Packet[];
  /** The protocol level the client's CONNECT gave (5 until a CONNECT is read). */
  readonly version: ProtocolVersion;
  /** Resolves when the client has closed the connection: FIN (`"eof"`) or RST (`"reset"`). */
  readonly clientClosed: Promise<ClientClose>;
  /**
   * The next packet from the client.
   * @throws {Error} If the connection ends first, or the client's bytes do not decode.
   */
  next(): Promise<Packet>;
  /**
   * The next packet from the client, which must be of type `type`.
   * @throws {Error} If it is another type, or the connection ends first.
   */
  expect<T extends Packet["type"]>(type: T): Promise<Extract<Packet, { type: T }>>;
  /**
   * Writes bytes, or packets encoded with our codec at the connection's
   * level; resolves once handed to the kernel.
   */
  write(...data: (Uint8Array | number[] | Packet)[]): Promise<void>;
  /** Sends FIN: the broker closes its side. */
  end(): void;
  /** Sends RST: the broker drops the connection, as one closed with bytes it had not read. */
  reset(): void;
}

/** A running scripted broker. */
export interface HostileBroker {
  /** Always `127.0.0.1`. */
  host: string;
  /** Its port. */
  port: number;
  /** `mqtt://127.0.0.1:<port>`. */
  url: string;
  /** Peers accepted so far. */
  readonly peers: Peer[];
  /** Stops listening, destroys every connection, waits until all is closed. */
  close(): Promise<void>;
}

/** What a scenario does with each connection; an exception fails the test. */
export type Scenario = (peer: Peer) => Promise<void>;

const CONNACK_OK = Uint8Array.of(0x20, 0x02, 0x00, 0x00);

/**
 * Reads CONNECT and answers CONNACK 0 (accepted): the start of most
 * scenarios. With MQTT 5 the CONNACK carries `properties` (the broker's
 * limits, say).
 *
 * @returns The client's CONNECT.
 */
export async function acceptConnect(
  peer: Peer,
  properties?: ConnackProperties,
): Promise<ConnectPacket> {
  const connect = await peer.expect("connect");
  await peer.write(
    peer.version === 5
      ? { type: "connack", sessionPresent: false, returnCode: 0, properties }
      : CONNACK_OK,
  );
  return connect;
}

/**
 * A round trip to the client: writes a PUBREL for a packet id it never
 * received, which the client answers with a PUBCOMP at once (MQTT-4.3.3).
 * Whatever the client wrote before it read the PUBREL comes first.
 *
 * @returns The packets that came before the PUBCOMP.
 */
export async function roundTrip(peer: Peer, packetId = 65535): Promise<Packet[]> {
  await peer.write({ type: "pubrel", packetId });
  const before: Packet[] = [];
  for (;;) {
    const p = await peer.next();
    if (p.type === "pubcomp" && p.packetId === packetId) return before;
    before.push(p);
  }
}

/**
 * Takes `n` QoS 1 PUBLISHes from a client the broker gave Receive Maximum
 * 2: two on the wire, then at each step a round trip shows that no third
 * came before the oldest is acknowledged (PUBACK), and the next is taken.
 *
 * @returns The PUBLISHes, in arrival order.
 */
export async function ackTwoAtATime(peer: Peer, n: number): Promise<PublishPacket[]> {
  const arrived: PublishPacket[] = [];
  const unacked: PublishPacket[] = [];
  const take = async () => {
    const p = await peer.expect("publish");
    arrived.push(p);
    unacked.push(p);
  };
  await take();
  await take();
  while (unacked.length > 0) {
    // Two on the wire: a third, had it come, would be here before the round trip's answer.
    assert.deepEqual(await roundTrip(peer), [], `with ${unacked.length} unacknowledged`);
    await peer.write({ type: "puback", packetId: unacked.shift()!.packetId! });
    if (arrived.length < n) await take();
  }
  return arrived;
}

function makePeer(socket: Socket): Peer {
  // A broker's decoder: it takes a CONNECT of either level, then decodes at that level.
  const decoder = new PacketDecoder({ maxPacketSize: 16 * 1_048_576, protocolVersion: 5 });
  const received: Packet[] = [];
  const queue: Packet[] = [];
  const waiters: { resolve(p: Packet): void; reject(e: Error): void }[] = [];
  let failure: Error | null = null;
  const fail = (e: Error) => {
    failure ??= e;
    for (const w of waiters.splice(0)) w.reject(failure);
  };
  let resolveClosed!: (how: ClientClose) => void;
  const clientClosed = new Promise<ClientClose>((r) => (resolveClosed = r));
  socket.on("data", (chunk: Uint8Array) => {
    if (failure) return;
    try {
      // A copy: the decoder keeps views into the chunks it is given.
      for (const p of decoder.push(new Uint8Array(chunk))) {
        received.push(p);
        const w = waiters.shift();
        if (w) w.resolve(p);
        else queue.push(p);
      }
    } catch (e) {
      fail(new Error(`the client sent bytes that do not decode: ${e}`, { cause: e }));
    }
  });
  socket.on("end", () => {
    resolveClosed("eof");
    fail(new Error("the client closed the connection"));
  });
  socket.on("error", () => resolveClosed("reset"));
  socket.on("close", () => {
    resolveClosed("reset");
    fail(new Error("the connection is closed"));
  });
  const peer: Peer = {
    received,
    get version() {
      return decoder.protocolVersion;
    },
    clientClosed,
    next() {
      const p = queue.shift();
      if (p) return Promise.resolve(p);
      if (failure) return Promise.reject(failure);
      return new Promise((resolve, reject) => waiters.push({ resolve, reject }));
    },
    async expect(type) {
      const p = await peer.next();
      if (p.type !== type) throw new Error(`expected ${type} from the client, got ${p.type}`);
      return p as Extract<Packet, { type: typeof type }>;
    },
    write(...data) {
      const bytes = data.map((d) =>
        d instanceof Uint8Array
          ? d
          : Array.isArray(d)
          ? Uint8Array.from(d)
          : encode(d, decoder.protocolVersion)
      );
      return new Promise((resolve) => {
        if (socket.destroyed) return resolve();
        // A write racing the client's close is part of the game, not a failure.
        socket.write(concat(bytes), () => resolve());
      });
    },
    reset() {
      socket.resetAndDestroy();
    },
    end() {
      socket.end();
    },
  };
  return peer;
}

/**
 * Starts a scripted broker that runs `scenario` on every connection.
 *
 * @param scenario What the broker does with each accepted connection.
 * @param errors Where scenario failures go (each is reported by {@linkcode withHostileBroker}).
 * @returns The broker, listening.
 */
export async function startHostileBroker(
  scenario: Scenario,
  errors: unknown[] = [],
): Promise<HostileBroker> {
  const sockets = new Set<Socket>();
  const peers: Peer[] = [];
  const running: Promise<void>[] = [];
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    const peer = makePeer(socket);
    peers.push(peer);
    running.push(
      scenario(peer).catch((e) =>
        void errors.push(new Error(`the scripted broker failed: ${e}`, { cause: e }))
      ),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("not a TCP listener");
  const port = address.port;
  return {
    host: "127.0.0.1",
    port,
    url: `mqtt://127.0.0.1:${port}`,
    peers,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      const gone = [...sockets].map((s) =>
        new Promise<void>((resolve) => {
          if (s.destroyed && s.closed) return resolve();
          s.once("close", () => resolve());
          s.destroy();
        })
      );
      await Promise.all([closed, ...gone]);
      await Promise.all(running);
    },
  };
}

/**
 * Collects unhandled promise rejections until `stop()` (Deno's
 * `unhandledrejection` event, `process`'s `unhandledRejection` elsewhere),
 * and keeps them from ending the process, so a test can assert there were
 * none.
 */
export function watchUnhandledRejections(): { stop(): Promise<unknown[]> } {
  const seen: unknown[] = [];
  const onEvent = (e: PromiseRejectionEvent) => {
    e.preventDefault();
    seen.push(e.reason);
  };
  const onProcess = (reason: unknown) => void seen.push(reason);
  if ("Deno" in globalThis) globalThis.addEventListener("unhandledrejection", onEvent);
  else process.on("unhandledRejection", onProcess);
  return {
    async stop() {
      // Rejections are reported after the microtask queue drains; let a macrotask pass.
      await new Promise((resolve) => setTimeout(resolve, 0));
      if ("Deno" in globalThis) globalThis.removeEventListener("unhandledrejection", onEvent);
      else process.off("unhandledRejection", onProcess);
      return seen;
    },
  };
}

function unhandledError(reason: unknown): Error {
  return new Error(`unhandled rejection: ${reason}`, { cause: reason });
}

/**
 * Runs `fn` against a scripted broker running `scenario`, then closes the
 * broker and fails if the scenario threw or any promise rejection went
 * unhandled meanwhile.
 *
 * @example
 * ```ts ignore
 * await withHostileBroker(async (peer) => {
 *   await acceptConnect(peer);
 *   await peer.expect("pingreq");
 *   await peer.write([0x00, 0xff]); // garbage
 * }, async (broker) => {
 *   const client = new MQTTClient(uniqueId("h"), broker.url);
 *   await client.connect();
 *   await assert.rejects(client.ping(), MQTTConnectionError);
 * });
 * ```
 */
export async function withHostileBroker(
  scenario: Scenario,
  fn: (broker: HostileBroker) => Promise<void>,
): Promise<void> {
  const unhandled = watchUnhandledRejections();
  const errors: unknown[] = [];
  const broker = await startHostileBroker(scenario, errors);
  try {
    await fn(broker);
  } finally {
    await broker.close();
    await unhandled.stop().then((rejections) => errors.push(...rejections.map(unhandledError)));
  }
  // Reached only when fn passed: its own failure is the more useful report.
  if (errors.length > 0) {
    throw new Error(`${errors.length} failure(s) around the test; the first: ${errors[0]}`, {
      cause: errors[0],
    });
  }
}
