// The client over mosquitto's WebSocket listener, through the default
// connector (ws:// URL) and the WebSocket adapter, under Deno.
import assert from "node:assert/strict";
import { MQTTClient } from "../mod.ts";
import { startMosquitto } from "./_brokers.ts";
import { test, uniqueId } from "./_test.ts";

const CHILD = new URL("./_exit_after_disconnect.ts", import.meta.url).pathname;

test(
  "disconnect() over WebSocket resolves once the DISCONNECT is out: exiting right after leaves no will",
  async () => {
    const broker = await startMosquitto({ websockets: true });
    try {
      for (let i = 0; i < 3; i++) {
        const willTopic = uniqueId("ws-exit");
        const watcher = new MQTTClient(uniqueId("ws-watch"), broker.host, { port: broker.port });
        await watcher.connect();
        await watcher.subscribe(willTopic);
        const child = await new Deno.Command(Deno.execPath(), {
          args: ["run", "-A", "--quiet", CHILD, `${broker.wsUrl}/mqtt`, willTopic],
          stdout: "piped",
          stderr: "piped",
        }).output();
        assert.equal(child.code, 0, new TextDecoder().decode(child.stderr));
        // A will, had the broker seen the connection drop without DISCONNECT,
        // would be here by now (the broker publishes it as the socket closes).
        await watcher.ping();
        await new Promise((r) => setTimeout(r, 200));
        const will = await watcher.check_msg();
        await watcher.disconnect();
        assert.equal(will, undefined, `round ${i}: the broker published the will`);
      }
    } finally {
      await broker.stop();
    }
  },
  { mosquitto: true },
);

/** A WebSocket "broker" on loopback whose socket `onSocket` drives; closed by `fn`'s end. */
async function withWsServer(
  onSocket: (socket: WebSocket) => void,
  fn: (url: string) => Promise<void>,
): Promise<void> {
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, (req) => {
    const { socket, response } = Deno.upgradeWebSocket(req, { protocol: "mqtt" });
    onSocket(socket);
    return response;
  });
  try {
    await fn(`ws://127.0.0.1:${server.addr.port}`);
  } finally {
    await server.shutdown();
  }
}

const CONNACK = Uint8Array.of(0x20, 0x02, 0x00, 0x00);

test("an empty binary WebSocket frame carries no bytes: it is skipped", async () => {
  await withWsServer((socket) => {
    socket.onmessage = () => {
      socket.send(new Uint8Array(0));
      socket.send(CONNACK);
    };
  }, async (url) => {
    const c = new MQTTClient(uniqueId("ws-empty"), url);
    assert.equal(await c.connect(), false);
    await c.disconnect();
  });
});

test("a text WebSocket frame ends the connection with an error naming it (MQTT-6.0.0-1)", async () => {
  await withWsServer((socket) => {
    socket.onmessage = () => socket.send("CONNACK?");
  }, async (url) => {
    const c = new MQTTClient(uniqueId("ws-text"), url, { connectTimeout: 5000 });
    await assert.rejects(
      c.connect(),
      /A text WebSocket frame from .*: MQTT takes binary frames only/,
    );
    assert.equal(c.connected, false);
  });
});

test("a WebSocket closed by the server with a code: the loss names the code and reason", async () => {
  // A gateway or broker that says why it ends the connection (1001 going
  // away, 1008 policy, 1011 error): the user saw only "Connection closed by
  // the broker". A plain close (1000) still reads as that.
  for (const [code, reason] of [[1008, "not authorized: token expired"], [1011, ""], [1000, ""]]) {
    await withWsServer((socket) => {
      socket.onmessage = () => {
        socket.send(CONNACK);
        socket.onmessage = () => socket.close(code as number, reason as string); // on the PINGREQ
      };
    }, async (url) => {
      const c = new MQTTClient(uniqueId("ws-code"), url);
      const lost = new Promise<Error>((resolve) =>
        c.addEventListener("disconnected", (e) => resolve((e as CustomEvent).detail.error))
      );
      await c.connect();
      const waiting = c.wait_msg().catch((e) => e);
      await assert.rejects(c.ping());
      const expected = code === 1000
        ? /^Connection closed by the broker$/
        : new RegExp(`closed by the server: code ${code}${reason ? `, ${reason}` : "$"}`);
      assert.match((await lost).message, expected);
      assert.match((await waiting).message, expected);
      await c.disconnect();
    });
  }
});

test("connectWebSocket: closing the pair ends a pending read", async () => {
  const { connectWebSocket } = await import("../lib/transports/websocket.ts");
  for (const how of ["close()", "writable.close()"]) {
    await withWsServer(() => {}, async (url) => {
      const pair = await connectWebSocket(url);
      const reader = pair.readable.getReader();
      const pending = reader.read();
      if (how === "close()") await pair.close!();
      else await pair.writable.close();
      assert.deepEqual(await pending, { done: true, value: undefined }, how);
    });
  }
});

test("connectWebSocket: a failed connection's error says why (the runtime's reason)", async () => {
  const { connectWebSocket } = await import("../lib/transports/websocket.ts");
  const server = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen() {} },
    () => new Response("no MQTT here", { status: 404 }),
  );
  try {
    await assert.rejects(
      connectWebSocket(`ws://127.0.0.1:${server.addr.port}/mqtt`),
      /WebSocket connection to .* failed: .*404/,
    );
  } finally {
    await server.shutdown();
  }
});

test("connectWebSocket: a server that does not select the subprotocol mqtt is refused (MQTT-6.0.0-4)", async () => {
  // Browsers, ws and Bun refuse it in the handshake; Deno's WebSocket opened,
  // and connect() waited out its connectTimeout for a CONNACK.
  const { connectWebSocket } = await import("../lib/transports/websocket.ts");
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, (req) => {
    const { socket, response } = Deno.upgradeWebSocket(req); // no protocol chosen
    socket.onerror = () => {};
    return response;
  });
  try {
    await assert.rejects(
      connectWebSocket(`ws://127.0.0.1:${server.addr.port}/mqtt`),
      /subprotocol/,
    );
  } finally {
    await server.shutdown();
  }
});

test("connectWebSocket: aborted during the handshake, it rejects with the signal's reason", async () => {
  // As connectNode and connectDeno do; the WebSocket's own "error" came first.
  const { connectWebSocket } = await import("../lib/transports/websocket.ts");
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 }); // takes TCP, never answers
  const accepted = listener.accept();
  try {
    const ac = new AbortController();
    const opening = connectWebSocket(`ws://127.0.0.1:${listener.addr.port}/mqtt`, {
      signal: ac.signal,
    });
    const conn = await accepted;
    const reason = new Error("given up");
    ac.abort(reason);
    assert.equal(await opening.catch((e) => e), reason);
    conn.close();
  } finally {
    listener.close();
  }
});
