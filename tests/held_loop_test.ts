// Time limits on the network when the application holds the event loop (a
// long synchronous task): the time it was held up does not count against the
// peer. After the hold, due timers run before reads, so a limit that fired
// then would miss an answer already read but not handled yet, or one to a
// request that went out late.
import assert from "node:assert/strict";
import { createServer, type Server, type Socket } from "node:net";
import type { AddressInfo } from "node:net";
import { MQTTClient, type MQTTClientOptions } from "../mod.ts";
import { LATE_MS, timeLimit } from "../lib/_abortable.ts";
import { startMosquitto } from "./_brokers.ts";
import { writingThrough } from "./_writing_through.ts";
import { test, uniqueId, withTimeout } from "./_test.ts";

/** Holds the event loop `ms` milliseconds. */
function hold(ms: number) {
  for (const end = performance.now() + ms; performance.now() < end;);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A broker that answers every CONNECT with CONNACK 50 ms after it came. */
async function slowAccepting(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets: Socket[] = [];
  const server: Server = createServer((socket) => {
    sockets.push(socket);
    socket.once("data", () => setTimeout(() => socket.write(new Uint8Array([0x20, 2, 0, 0])), 50));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

test("timeLimit(): a timer that fires late waits once more, as long as it was late, at most its length", async () => {
  const t0 = performance.now();
  // When each fires, awaited (a loaded machine may run any timer later still).
  const firing = (ms: number) =>
    withTimeout(
      new Promise<number>((r) => timeLimit(ms, () => r(performance.now() - t0))),
      10_000,
      `timeLimit(${ms})`,
    );
  const fired = [firing(30), firing(100)];
  hold(150);
  // The first was 120 ms late: it waits 30 ms more (its length), once. The
  // second, 50 ms late, waits 50 ms more.
  const [first, second] = await Promise.all(fired);
  assert.ok(first >= 180 - 1, `fired at ${first} ms`);
  assert.ok(second >= 200 - 1, `fired at ${second} ms`);
  // One on time fires, and cancelling one stops it.
  let onTime = 0, cancelled = 0;
  const done = new Promise<void>((r) => timeLimit(10, () => (onTime++, r())));
  timeLimit(10, () => cancelled++)();
  await withTimeout(done, 10_000, "timeLimit(10)");
  await sleep(LATE_MS + 30);
  assert.deepEqual([onTime, cancelled], [1, 0]);
});

test("connect(): a CONNECT held up by the application still gets its connectTimeout", async () => {
  // A broker that answers 50 ms after the CONNECT. The application calls
  // connect() and then holds the event loop twice the connect timeout: the
  // socket opens and the CONNECT leaves only afterwards.
  const { port, close } = await slowAccepting();
  const c = new MQTTClient(uniqueId("held"), "127.0.0.1", {
    port,
    connectTimeout: 300,
  });
  try {
    const connecting = c.connect();
    hold(600);
    assert.equal(await connecting, false);
    await c.disconnect();
  } finally {
    await close();
  }
});

test("connect(): a hold right after a credential function settled still leaves the connection its connectTimeout", async () => {
  // A broker that answers 50 ms after the CONNECT. The user name comes from a
  // function; the application holds the event loop, right after it settled,
  // longer than the connect timeout: the socket opens only afterwards. As for
  // a CONNECT held up, the hold does not count against the broker.
  const { port, close } = await slowAccepting();
  const c = new MQTTClient(uniqueId("held"), "127.0.0.1", {
    port,
    connectTimeout: 400,
    user: () =>
      new Promise<string>((resolve) =>
        setTimeout(() => {
          resolve("u");
          hold(1000);
        }, 10)
      ),
  });
  try {
    assert.equal(await c.connect(), false);
    await c.disconnect();
  } finally {
    await close();
  }
});

test("request(): a reply that came while the application held the event loop resolves it", async () => {
  const broker = await startMosquitto();
  const responder = new MQTTClient(uniqueId("resp"), broker.host, {
    port: broker.port,
    protocolVersion: 5,
  });
  // Holds the loop right after handing the transport the write it is told to.
  let holdAfter: ((chunk: Uint8Array) => boolean) | null = null;
  const client = new MQTTClient(uniqueId("req"), broker.host, {
    port: broker.port,
    protocolVersion: 5,
    transport: writingThrough(broker.port, (chunk, writer) => {
      const written = writer.write(chunk);
      if (holdAfter?.(chunk)) {
        holdAfter = null;
        hold(600);
      }
      return written;
    }),
  });
  let serving: Promise<void> | undefined;
  try {
    await responder.connect();
    const service = uniqueId("svc/held");
    await responder.subscribe(service, 1);
    serving = (async () => {
      for await (const m of responder.messages()) await responder.respond(m, "pong");
    })();
    await client.connect();
    // The first request subscribes to the response topic.
    assert.equal(new TextDecoder().decode((await client.request(service, "1")).payload), "pong");
    // Held as the request leaves: its reply comes while the loop is held.
    holdAfter = (chunk) => chunk[0] >> 4 === 3; // a PUBLISH
    const reply = client.request(service, "2", { timeout: 300 });
    assert.equal(new TextDecoder().decode((await reply).payload), "pong");
  } finally {
    await client.disconnect();
    await responder.disconnect();
    await serving;
    await broker.stop();
  }
});

test("connect(): an application that keeps holding the event loop does not put the connect timeout off for ever", async () => {
  // A transport whose broker never answers. The application holds the loop
  // 200 ms at a time, one timer turn after another, so that every look of the
  // connect timeout (100 ms) comes late: it looks once more after a late look,
  // not after every one, and gives up while the holds go on.
  const c = new MQTTClient(uniqueId("held"), "127.0.0.1", {
    connectTimeout: 100,
    transport: () => ({ readable: new ReadableStream(), writable: new WritableStream() }),
  });
  let settled = false;
  const connecting = c.connect().finally(() => (settled = true));
  connecting.catch(() => {});
  let holds = 0;
  for (; holds < 10 && !settled; holds++) {
    hold(200);
    await new Promise((r) => setTimeout(r, 0));
  }
  assert.ok(settled, `connect() still waited after ${holds} holds of 200 ms`);
  await assert.rejects(connecting, /timed out: no CONNACK within 100 ms/);
});

test("connect(): a hold longer than the connect timeout is given back only up to the timeout's length", async () => {
  // Held 1000 ms right after connect() (connectTimeout 100): the late look
  // waits once more, 100 ms, not the whole 1000 ms the loop was held.
  const c = new MQTTClient(uniqueId("held"), "127.0.0.1", {
    connectTimeout: 100,
    transport: () => ({ readable: new ReadableStream(), writable: new WritableStream() }),
  });
  const connecting = c.connect().then(() => "connected", () => "rejected");
  hold(1000);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const first = await Promise.race([
    connecting,
    new Promise((r) => (timer = setTimeout(() => r("still waiting"), 600))),
  ]);
  clearTimeout(timer);
  assert.equal(first, "rejected");
  assert.equal(await connecting, "rejected");
});

test("connect(): a hold is given back after an earlier attempt was stopped while its timeout looked again", async () => {
  // The first attempt's connect timeout looks late (the loop was held) and is
  // to look once more when disconnect() stops it. The next attempt, held up
  // too, still gets its second look: the CONNACK read after the hold counts.
  let wantConnack: (() => void) | undefined;
  let close!: (end: null) => void;
  const closed = new Promise<null>((r) => (close = r));
  const answering = {
    read: (p: Uint8Array) =>
      wantConnack
        ? closed
        : new Promise<number | null>((resolve) =>
          wantConnack = () => setTimeout(() => (p.set([0x20, 2, 0, 0]), resolve(4)), 0)
        ),
    write: (p: Uint8Array) => (p[0] === 0x10 && wantConnack?.(), Promise.resolve(p.length)),
    close: () => close(null),
  };
  const transports = [
    () => ({ readable: new ReadableStream(), writable: new WritableStream() }),
    () => answering as unknown as ReturnType<NonNullable<MQTTClientOptions["transport"]>>,
  ];
  const c = new MQTTClient(uniqueId("held"), "127.0.0.1", {
    connectTimeout: 100,
    transport: () => transports.shift()!(),
  });
  const first = c.connect().catch((e) => e);
  hold(150);
  await new Promise((r) => setTimeout(r, 0)); // after the timeout's late look
  await c.disconnect();
  assert.match(String(await first), /disconnect\(\) was called/);
  const second = c.connect();
  hold(300);
  assert.equal(await second, false);
  await c.disconnect();
});
