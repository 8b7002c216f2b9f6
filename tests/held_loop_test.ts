// Time limits on the network when the application holds the event loop (a
// long synchronous task): the time it was held up does not count against the
// peer. After the hold, due timers run before reads, so a limit that fired
// then would miss an answer already read but not handled yet, or one to a
// request that went out late.
import assert from "node:assert/strict";
import { createServer, type Server, type Socket } from "node:net";
import type { AddressInfo } from "node:net";
import { MQTTClient } from "../mod.ts";
import { LATE_MS, timeLimit } from "../lib/_abortable.ts";
import { startMosquitto } from "./_brokers.ts";
import { writingThrough } from "./_writing_through.ts";
import { test, uniqueId, withTimeout } from "./_test.ts";

/** Holds the event loop `ms` milliseconds. */
function hold(ms: number) {
  for (const end = performance.now() + ms; performance.now() < end;);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

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
  const sockets: Socket[] = [];
  const server: Server = createServer((socket) => {
    sockets.push(socket);
    socket.once("data", () => setTimeout(() => socket.write(new Uint8Array([0x20, 2, 0, 0])), 50));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const c = new MQTTClient(uniqueId("held"), "127.0.0.1", {
    port: (server.address() as AddressInfo).port,
    connectTimeout: 300,
  });
  try {
    const connecting = c.connect();
    hold(600);
    assert.equal(await connecting, false);
    await c.disconnect();
  } finally {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
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
