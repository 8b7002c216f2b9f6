// The WebSocket adapter against a stand-in WebSocket whose peer stopped
// reading, under any runtime (Deno, and Bun in CI): what the adapter does
// when the closing handshake never ends, and when the connection drops under
// a write that waits for the send buffer to drain.
import assert from "node:assert/strict";
import { connectWebSocket } from "../lib/transports/websocket.ts";
import { brokerKinds, startMosquitto } from "./_brokers.ts";
import { type AddressInfo, createServer } from "node:net";
import { test } from "./_test.ts";
import { assertCancelEndsRead } from "./_streams.ts";

/**
 * A WebSocket whose peer stopped reading: it opens, buffers whatever is
 * sent, and never answers the closing handshake. `terminate()` (as `ws`'s
 * and Bun's) drops the connection at once.
 */
class StuckWebSocket {
  static last: StuckWebSocket | null = null;
  binaryType = "";
  bufferedAmount = 0;
  terminated = false;
  readonly #listeners = new Map<string, ((e: unknown) => void)[]>();
  readonly #opening: ReturnType<typeof setTimeout>;
  constructor(_url: string, _protocols: string[]) {
    StuckWebSocket.last = this;
    this.#opening = setTimeout(() => this.emit("open", {}), 0);
  }
  send(data: Uint8Array) {
    this.bufferedAmount += data.length;
  }
  close() {}
  terminate() {
    clearTimeout(this.#opening);
    this.terminated = true;
    this.emit("close", {});
  }
  addEventListener(type: string, f: (e: unknown) => void) {
    this.#listeners.set(type, [...this.#listeners.get(type) ?? [], f]);
  }
  emit(type: string, e: unknown) {
    for (const f of this.#listeners.get(type) ?? []) f(e);
  }
}

test("connectWebSocket: close() ends a connection whose closing handshake never ends", async () => {
  // ws (Node) waits 30 s for the peer's close frame, Bun about as long: the
  // socket then kept the process alive that long after disconnect() resolved.
  const pair = await connectWebSocket("ws://stuck.test", { WebSocket: StuckWebSocket });
  await pair.close!();
  assert.equal(StuckWebSocket.last!.terminated, true, "close() left the WebSocket open");
});

test("connectWebSocket: a write waiting for the buffer to drain rejects when the WebSocket closes", async () => {
  // It resolved, as if its bytes had gone out; the client then wrote its next
  // piece to the closed stream (Node 20: an ERR_INTERNAL_ASSERTION "bug in
  // Node.js" as the publish's error), and a QoS 0 publish could resolve unsent.
  const pair = await connectWebSocket("ws://stuck.test", { WebSocket: StuckWebSocket });
  const writer = pair.writable.getWriter();
  const write = writer.write(new Uint8Array(2 << 20)).then(() => "resolved", (e) => e);
  await new Promise((r) => setTimeout(r, 20));
  StuckWebSocket.last!.terminate(); // the connection drops under the pending write
  const got = await write;
  assert.ok(got instanceof Error, `the write ${got}`);
  assert.match(got.message, /closed/);
});

test("connectWebSocket: cancel() ends a pending BYOB read", async () => {
  // The client cancels its reader while a read waits for the broker, then
  // waits for that read to end. Bun before 1.4 leaves the read pending after
  // cancel() unless the source answers it: disconnect() never resolved there.
  const pair = await connectWebSocket("ws://stuck.test", { WebSocket: StuckWebSocket });
  await assertCancelEndsRead(pair.readable);
});

/**
 * A WebSocket whose handshake never ends and whose `close()` while
 * connecting fires no event, as Deno's from 2.0 to 2.2.0 does.
 */
class SilentHandshakeWebSocket {
  binaryType = "";
  bufferedAmount = 0;
  closeCalls = 0;
  static last: SilentHandshakeWebSocket | null = null;
  constructor(_url: string, _protocols: string[]) {
    SilentHandshakeWebSocket.last = this;
  }
  send() {}
  close() {
    this.closeCalls++;
  }
  addEventListener() {}
}

test("connectWebSocket: an abort during the handshake rejects even if close() fires no event", async () => {
  // Deno 2.0 to 2.2.0: connectWebSocket waited for an "error" or "close" that
  // never came, so a ws:// connect() timed out only after 2 s more, and an
  // aborted connectWebSocket() never settled.
  const ac = new AbortController();
  const opening = connectWebSocket("ws://silent.test", {
    WebSocket: SilentHandshakeWebSocket,
    signal: ac.signal,
  });
  const reason = new Error("given up");
  ac.abort(reason);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const result = await Promise.race([
    opening.then(() => "opened", (e) => e),
    new Promise<"pending">((r) => timer = setTimeout(() => r("pending"), 1000)),
  ]);
  clearTimeout(timer);
  assert.equal(result, reason);
  assert.equal(SilentHandshakeWebSocket.last!.closeCalls, 1, "the WebSocket was not closed");
});

/** A WebSocket that fails to open as Node's (undici's) does, whatever the cause. */
class UndiciFailingWebSocket {
  binaryType = "";
  bufferedAmount = 0;
  readonly #listeners = new Map<string, ((e: unknown) => void)[]>();
  constructor(_url: string, _protocols: string[]) {
    setTimeout(() => {
      this.#emit("error", { message: "Received network error or non-101 status code." });
      this.#emit("close", { code: 1006, reason: "" });
    }, 0);
  }
  send() {}
  close() {}
  addEventListener(type: string, f: (e: unknown) => void) {
    this.#listeners.set(type, [...this.#listeners.get(type) ?? [], f]);
  }
  #emit(type: string, e: unknown) {
    for (const f of this.#listeners.get(type) ?? []) f(e);
  }
}

test("connectWebSocket: Node's reason-less failure says what it may have been, as a browser's does", async () => {
  // Node 22's WebSocket gives this one message for a refused port, an HTTP
  // answer and an untrusted wss:// certificate alike: a wss:// connection to
  // a broker with a self-signed certificate said nothing of certificates.
  for (const scheme of ["ws", "wss"]) {
    const error = await connectWebSocket(`${scheme}://broker.test/mqtt`, {
      WebSocket: UndiciFailingWebSocket,
    }).catch((e) => e);
    assert.match(error.message, /failed: Received network error or non-101 status code/);
    assert.match(error.message, /nothing listens there, not a WebSocket server/);
    assert.equal(/certificate/.test(error.message), scheme === "wss", error.message);
  }
});

/**
 * A WebSocket typed as Cloudflare's (`@cloudflare/workers-types`, `wrangler
 * types`), whose `protocol` is `string | null`: it opens at once with the
 * subprotocol it is given.
 */
function workerdLike(protocol: string | null) {
  return class {
    readonly protocol: string | null = protocol;
    binaryType = "";
    bufferedAmount = 0;
    readonly #listeners: [string, (e: unknown) => void][] = [];
    constructor(_url: string, _protocols?: string | string[]) {
      setTimeout(() => this.#emit("open"), 0);
    }
    send(_data: ArrayBufferView | ArrayBuffer | string) {}
    close(_code?: number, _reason?: string) {
      queueMicrotask(() => this.#emit("close"));
    }
    addEventListener(type: string, f: (e: unknown) => void) {
      this.#listeners.push([type, f]);
    }
    #emit(type: string) {
      for (const [t, f] of this.#listeners) if (t === type) f({ code: 1000 });
    }
  };
}

test("connectWebSocket takes a WebSocket typed as Cloudflare's, protocol string | null", async () => {
  // A Worker in TypeScript passing its global WebSocket (or a subclass) failed
  // to compile: "Type 'string | null' is not assignable to type 'string | undefined'".
  const pair = await connectWebSocket("wss://broker.test/mqtt", { WebSocket: workerdLike("mqtt") });
  await pair.close!();
  await assert.rejects(
    connectWebSocket("wss://broker.test/mqtt", { WebSocket: workerdLike(null) }),
    /did not select the subprotocol mqtt/,
  );
});

// The wrong scheme for the port: ws:// to a plain MQTT or a TLS listener, wss://
// to a plain WebSocket one. Deno said only "connection error" and "received
// corrupt message of type InvalidContentType", Bun "Connection ended: read
// ECONNRESET" and "TLS handshake failed: …WRONG_VERSION_NUMBER": the runtime's
// words are now followed by what the port may be, the other scheme among it.
test("connectWebSocket: the wrong scheme for the port says what the port may be", async () => {
  const broker = await startMosquitto({ websockets: true });
  try {
    const ws = new URL(broker.wsUrl!).host;
    for (
      const [url, other] of [
        [`ws://127.0.0.1:${broker.port}/mqtt`, "a TLS listener \\(wss://\\)"],
        [`wss://${ws}/mqtt`, "no TLS \\(ws://\\)"],
      ]
    ) {
      const error = await connectWebSocket(url).then(() => null, (e) => e);
      assert.ok(error instanceof Error, url);
      assert.match(
        error.message,
        new RegExp(
          `^WebSocket connection to ${url} failed: .+: nothing listens there, .*${other}\\?$`,
        ),
      );
    }
  } finally {
    await broker.stop();
  }
}, { ignore: !("WebSocket" in globalThis) || !brokerKinds().includes("mosquitto") });

// wss:// to a plain MQTT port, which resets the connection at the ClientHello: Deno said
// "Connection reset by peer (os error 104)" and no more (Bun's "read ECONNRESET" had the hint).
test("connectWebSocket: wss:// to a plain MQTT port says what the port may be", async () => {
  const broker = await startMosquitto();
  try {
    const url = `wss://127.0.0.1:${broker.port}/mqtt`;
    const error = await connectWebSocket(url).then(() => null, (e) => e);
    assert.ok(error instanceof Error, url);
    assert.match(
      error.message,
      /^WebSocket connection to .+ failed: .+: nothing listens there, .*no TLS \(ws:\/\/\)\?$/,
    );
  } finally {
    await broker.stop();
  }
}, { ignore: !("WebSocket" in globalThis) || !brokerKinds().includes("mosquitto") });

// Words of the runtime's that only look like a wrong port's: a TLS server that refuses our TLS
// version (its alert protocol_version) was "received fatal alert: ProtocolVersion" (Deno),
// "TLSV1_ALERT_PROTOCOL_VERSION" (Bun), then "(no more said): nothing listens there, not a
// WebSocket server, …, or no TLS (ws://)?", which "version" anywhere in the message had brought.
test(
  "connectWebSocket: a TLS server refusing our TLS version gets no wrong-port hint",
  async () => {
    const server = createServer((socket) => {
      socket.on("error", () => {});
      socket.once(
        "data",
        () => socket.end(Uint8Array.of(0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x46)),
      );
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const url = `wss://127.0.0.1:${(server.address() as AddressInfo).port}/mqtt`;
      const error = await connectWebSocket(url).then(() => null, (e) => e);
      assert.ok(error instanceof Error, url);
      assert.match(
        error.message,
        /^WebSocket connection to .+ failed: .*alert.*protocol.?version/i,
      );
      assert.doesNotMatch(error.message, /nothing listens there|no more said/);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  },
  { ignore: !("WebSocket" in globalThis) },
);

// A first user on Node 20 (no global WebSocket) reads this error alone: it
// must say where `connectWebSocket` comes from, not only how to call it.
test("connectWebSocket with no WebSocket anywhere names the module to import it from", async () => {
  const g = globalThis as { WebSocket?: unknown };
  const saved = Object.getOwnPropertyDescriptor(g, "WebSocket");
  delete g.WebSocket;
  try {
    assert.equal(g.WebSocket, undefined);
    await assert.rejects(connectWebSocket("ws://127.0.0.1:1/mqtt"), (e: unknown) => {
      assert.ok(e instanceof TypeError);
      assert.match(e.message, /^Invalid options\.WebSocket: no global WebSocket here; /);
      assert.match(e.message, /transport: \(\) => connectWebSocket\(url, \{ WebSocket \}\)/);
      assert.match(e.message, /from "@umqtt\/umqtt\/websocket"/);
      return true;
    });
  } finally {
    if (saved) Object.defineProperty(g, "WebSocket", saved);
  }
});

// A WebSocket URL's query often carries a credential (`?token=…`, a signed URL's
// X-Amz-Signature and X-Amz-Security-Token) and may hold user information: both showed in every
// error of the connection (Bun's own words repeat the URL), which end in logs and crash reports.
test("connectWebSocket: no error shows the URL's query or user information", async () => {
  const SECRET = "tok-5e1f-secret";
  /** What an error shows: its message, its stack, and its cause's. */
  const shown = (e: unknown): string => {
    const { message, stack, cause } = e as Error;
    return `${message}\n${stack}\n${cause ? shown(cause) : ""}`;
  };
  // A real server that answers the handshake with 401, and a port where nothing listens.
  const server = createServer((socket) => {
    socket.on("error", () => {});
    socket.once("data", () => socket.end("HTTP/1.1 401 Unauthorized\r\ncontent-length: 0\r\n\r\n"));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const hosts = [`127.0.0.1:${(server.address() as AddressInfo).port}`];
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
  hosts.push(`127.0.0.1:${(closed.address() as AddressInfo).port}`);
  await new Promise((resolve) => closed.close(resolve));
  try {
    const failing = "WebSocket" in globalThis ? hosts.map((h) => [h, undefined] as const) : [];
    for (
      const [host, WebSocket] of [
        ...failing,
        ["broker.test", UndiciFailingWebSocket] as const, // no reason given: a hint with the URL
        ["broker.test", workerdLike(null)] as const, // no subprotocol selected
      ]
    ) {
      for (const url of [`ws://${host}/mqtt?token=${SECRET}`, `ws://u:${SECRET}@${host}/mqtt`]) {
        const error = await connectWebSocket(url, WebSocket ? { WebSocket } : {}).then(
          () => null,
          (e) => e,
        );
        assert.ok(error instanceof Error, url);
        assert.ok(!shown(error).includes(SECRET), `${url}: the error shows it: ${shown(error)}`);
        // What is left says where: the host and the path.
        assert.match(error.message, new RegExp(`ws://(…@)?${host}/mqtt`), error.message);
      }
    }
    // A URL the runtime's WebSocket refuses (a transport's own): Deno's and Bun's words repeat it.
    if ("WebSocket" in globalThis) {
      for (
        const url of [`ws://broker.test:99999/mqtt?token=${SECRET}`, `ws://[zz]/mqtt?t=${SECRET}`]
      ) {
        const error = await connectWebSocket(url).then(() => null, (e) => e);
        assert.ok(error instanceof Error, url);
        assert.ok(!shown(error).includes(SECRET), `${url}: the error shows it: ${shown(error)}`);
      }
    }
    // Opened, then closed by the server with a code of its own: the read's error says so.
    const pair = await connectWebSocket(`ws://broker.test/mqtt?token=${SECRET}`, {
      WebSocket: ClosedBy4001,
    });
    const error = await pair.readable.getReader().read().then(() => null, (e) => e);
    assert.ok(error instanceof Error);
    assert.match(error.message, /ws:\/\/broker\.test\/mqtt.*code 4001/);
    assert.ok(!shown(error).includes(SECRET), `the error shows it: ${shown(error)}`);
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
});

test("connectWebSocket: a URL the runtime's WebSocket refuses, given with headers, is a URL error that shows no token, also in its cause", async () => {
  // It was taken for a global WebSocket that takes no headers: "Invalid options.headers", with
  // the runtime's error, the whole URL in its words, as the cause. Deno's and Bun's take headers.
  const SECRET = "tok-5e2a-secret";
  const shown = (e: unknown): string => {
    const { message, stack, cause } = e as Error;
    return `${message}\n${stack}\n${cause ? shown(cause) : ""}`;
  };
  for (const url of [`ws://broker.test:99999/mqtt?token=${SECRET}`, `ws://[zz]/mqtt?t=${SECRET}`]) {
    const error = await connectWebSocket(url, { headers: { "x-a": "b" } }).then(
      () => null,
      (e) => e,
    );
    assert.ok(error instanceof SyntaxError, `${url}: ${error}`);
    assert.ok(!shown(error).includes(SECRET), `${url}: the error shows it: ${shown(error)}`);
  }
});

test("connectWebSocket: a URL the runtime's WebSocket refuses, given with headers, is a URL error also without a query", async () => {
  // e721e62 told the URL error first only when its words held a query or user information to
  // hide: 'ws://host:99999/mqtt' with headers was still "Invalid options.headers: this runtime's
  // WebSocket takes none", under Deno and Bun, whose WebSocket takes headers.
  if (!("WebSocket" in globalThis)) return;
  for (const url of ["ws://broker.test:99999/mqtt", "ws://[zz]/mqtt"]) {
    const error = await connectWebSocket(url, { headers: { "x-a": "b" } }).then(
      () => null,
      (e) => e,
    );
    assert.ok(error instanceof Error, url);
    assert.doesNotMatch(error.message, /headers/, `${url}: the error names the headers`);
    assert.ok(error.message.includes(url), `${url}: the error does not name it: ${error.message}`);
  }
});

/** A WebSocket that opens with subprotocol mqtt, then is closed by its server with code 4001. */
class ClosedBy4001 {
  readonly protocol = "mqtt";
  binaryType = "";
  bufferedAmount = 0;
  readonly #listeners: [string, (e: unknown) => void][] = [];
  constructor(_url: string, _protocols: string[]) {
    setTimeout(() => this.#emit("open", {}), 0);
    setTimeout(() => this.#emit("close", { code: 4001, reason: "token expired" }), 10);
  }
  send() {}
  close() {}
  addEventListener(type: string, f: (e: unknown) => void) {
    this.#listeners.push([type, f]);
  }
  #emit(type: string, e: unknown) {
    for (const [t, f] of this.#listeners) if (t === type) f(e);
  }
}
