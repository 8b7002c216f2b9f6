/**
 * The WebSocket transport: MQTT over a classic `WebSocket` (subprotocol
 * `mqtt`, binary frames), as browsers, Deno, Bun and Node 22+ have it
 * globally. MQTT packets split across frames or packed into one are both
 * fine: the client decodes a byte stream, not frames.
 *
 * @module
 */
import type { StreamPair } from "./types.ts";
export type { StreamPair };

/** How long close() waits for the closing handshake before it gives up waiting. */
const CLOSE_WAIT_MS = 2000;

/**
 * What a failed connection may have been, for a runtime that gives no reason:
 * a browser hides it from the page (only its console shows it), Node's
 * (undici) gives one message for all, and a refused port, a server that is
 * not WebSocket or does not select `mqtt`, and an untrusted certificate then
 * all look the same.
 */
function unsaid(
  url: string,
  who = "no reason given; a browser shows it only in its console",
): string {
  const tls = url.startsWith("wss:")
    ? ", a TLS certificate not trusted here, or no TLS (ws://)"
    : ", or a TLS listener (wss://)";
  return ` (${who}): nothing listens there, ` +
    `not a WebSocket server, a server that does not select subprotocol "mqtt"${tls}?`;
}

/**
 * The runtimes' words for a failure that a wrong port may be: Node's (undici: non-101), the same
 * for a refused port, an HTTP answer and an untrusted certificate; for a port of the other scheme
 * (plain, TLS, MQTT) or one not speaking HTTP, Deno's (connection error, reset by peer,
 * InvalidContentType, invalid HTTP version), Bun's (ECONNRESET, WRONG_VERSION_NUMBER) and ws's
 * (socket hang up, ECONNRESET, wrong version number). Those words exactly, not others that
 * share one (a TLS version refused: "alert: ProtocolVersion").
 */
const WRONG_PORT =
  /non-101|connection error|ECONNRESET|reset by peer|hang up|InvalidContentType|wrong.version.number|invalid HTTP ver/i;

/**
 * `text` with each WebSocket URL's user information and query hidden (`…`): they may hold a
 * password or a token (a signed URL's signature), and errors end in logs. Bun's words repeat the URL.
 */
const hidden = (text: string) =>
  text.replace(/(wss?:\/\/)[^\s'"/?#]*@/gi, "$1…@").replace(
    /(wss?:\/\/[^\s'"?#]*)\?[^\s'"#]*/gi,
    "$1?…",
  );

/** The slice of the `WebSocket` API the adapter uses (browsers', Deno's, the `ws` package's). */
export interface WebSocketLike {
  /** Set to `"arraybuffer"` by the adapter. */
  binaryType: string;
  /** Bytes sent but not yet handed to the network. */
  readonly bufferedAmount: number;
  /** The subprotocol the server selected (Cloudflare's types say `string | null`). */
  readonly protocol?: string | null;
  /**
   * Sends one binary message. Its bytes are in an `ArrayBuffer`, never a
   * `SharedArrayBuffer`: the DOM's `WebSocket` (TypeScript 6 on) takes no
   * other `BufferSource`.
   */
  send(data: Uint8Array & { readonly buffer: ArrayBuffer }): void;
  /** Closes the connection. */
  close(code?: number): void;
  /** Drops the connection without the closing handshake, where there is one (`ws`, Bun). */
  terminate?(): void;
  /** Listens for `open`, `message`, `error` and `close`. */
  addEventListener(type: string, listener: (event: unknown) => void): void;
}

/** A `WebSocket` constructor; the third argument is for constructors that take options (`ws`). */
export type WebSocketConstructor = new (
  url: string,
  protocols: string[],
  options?: { headers?: Record<string, string> },
) => WebSocketLike;

/** Options for {@linkcode connectWebSocket}. */
export interface WebSocketOptions {
  /** The constructor to use; default the global `WebSocket` (Node 20 has none: pass `ws`'s). */
  WebSocket?: WebSocketConstructor;
  /**
   * Extra handshake headers: with the global `WebSocket` of Deno and Bun, or
   * a passed constructor that takes `{ headers }` third (`ws`). Browsers and
   * Workers cannot send any: a `TypeError` there.
   */
  headers?: Record<string, string>;
  /** Writes wait while more than this many bytes (0 or more) are buffered; default 1 MiB. */
  highWaterMark?: number;
  /** Aborting it before the WebSocket opens closes it and rejects. */
  signal?: AbortSignal;
}

/**
 * Opens a WebSocket to an MQTT broker, e.g. `ws://host:8080/mqtt`.
 *
 * @param url The `ws://` or `wss://` URL, path included.
 * @param options Constructor, headers, send buffer limit.
 * @returns The connection as a stream pair.
 * @throws {TypeError} When there is no `WebSocket` to use.
 * @throws {RangeError} A `highWaterMark` that is not a number of bytes, 0 or more.
 * @throws {Error} When the connection fails or the broker does not speak `mqtt`.
 *
 * @example
 * ```ts ignore
 * import { MQTTClient } from "@umqtt/umqtt";
 * import { connectWebSocket } from "@umqtt/umqtt/websocket";
 * import WebSocket from "ws"; // Node 20 only; elsewhere leave WebSocket out
 * const client = new MQTTClient("id", "broker.local", {
 *   transport: () => connectWebSocket("ws://broker.local:8080/mqtt", { WebSocket }),
 * });
 * ```
 */
export async function connectWebSocket(
  url: string,
  options: WebSocketOptions = {},
): Promise<StreamPair> {
  const WS = options.WebSocket ??
    (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (typeof WS !== "function") {
    throw new TypeError(
      "Invalid options.WebSocket: no global WebSocket here; pass a constructor (e.g. the ws package's), " +
        "for the client as its transport: () => connectWebSocket(url, { WebSocket }), " +
        'with connectWebSocket from "@umqtt/umqtt/websocket"',
    );
  }
  const high = options.highWaterMark ?? 1 << 20;
  // Below 0 every write would wait for ever; NaN would let the buffer grow without bound.
  if (!(high >= 0)) throw new RangeError(`Invalid highWaterMark ${high}: must be bytes, 0 or more`);
  const { headers, signal } = options;
  // The URL as errors show it (to the end: a query may hold a space).
  const shown = url.replace(/^([a-z]+:\/\/)[^/?#]*@/i, "$1…@").replace(/\?.*/s, "?…");
  signal?.throwIfAborted();
  // Headers go where each constructor looks: Deno's and Bun's global take
  // `{ protocols, headers }` as the second argument, `ws` a third argument.
  let ws: WebSocketLike;
  try {
    ws = !headers
      ? new WS(url, ["mqtt"])
      : options.WebSocket
      ? new WS(url, ["mqtt"], { headers })
      : new WS(url, { protocols: ["mqtt"], headers } as unknown as string[]);
  } catch (e) {
    // A URL it refuses: Deno's and Bun's words repeat it, query and all (headers or not).
    const why = String((e as Error)?.message), said = hidden(why);
    if (said !== why) throw new SyntaxError(said);
    // A global WebSocket that takes no headers (browsers', workerd's) reads them as a bad
    // subprotocol; one that refuses the URL (Deno's, Bun's, Chromium's words repeat it) does not.
    if (headers && !options.WebSocket && !why.includes(url)) {
      throw new TypeError("Invalid options.headers: this runtime's WebSocket takes none", {
        cause: e,
      });
    }
    throw e;
  }
  ws.binaryType = "arraybuffer";
  let onAbort = () => {};
  try {
    await new Promise<void>((resolve, reject) => {
      // Rejects by itself: Deno 2.0 to 2.2.0 fire no event for a close() during the handshake.
      onAbort = () => {
        ws.close();
        reject(signal!.reason);
      };
      ws.addEventListener("open", () => {
        // MQTT-6.0.0-4: the server selects "mqtt". Browsers, ws and Bun fail
        // the handshake of one that selects none; Deno's WebSocket opens.
        if (ws.protocol === undefined || ws.protocol === "mqtt") return resolve();
        ws.close();
        reject(new Error(`WebSocket to ${shown}: the server did not select the subprotocol mqtt`));
      });
      ws.addEventListener("error", (e) => {
        // The runtime's reason, where it gives one (ws, Deno, Bun; browsers give none).
        // (Trimmed: Node's OpenSSL errors end in blank lines.)
        const why = hidden(String((e as { message?: unknown }).message ?? "").trim());
        const vague = WRONG_PORT.test(why) ? unsaid(url, "no more said") : "";
        // An abort closes it, and the runtimes report that as an error first.
        reject(
          signal?.aborted ? signal.reason : new Error(
            `WebSocket connection to ${shown} failed${why ? `: ${why}${vague}` : unsaid(url)}`,
          ),
        );
      });
      ws.addEventListener(
        "close",
        () => reject(signal?.reason ?? new Error(`WebSocket to ${shown} closed`)),
      );
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  } finally {
    signal?.removeEventListener("abort", onAbort);
  }
  let closed = false;
  let socketClosed = false;
  ws.addEventListener("close", () => (socketClosed = true));
  // Resolves once the closing handshake is done (the "close" event), so that
  // frames sent before, such as a DISCONNECT, have reached the broker when
  // disconnect() returns: a process that exits right after it would otherwise
  // drop them, and the broker would publish the will. Bounded, for a peer
  // that never answers the handshake; then dropped where the WebSocket can
  // be (`ws` waits 30 s more for it, keeping the process alive).
  let closing: Promise<void> | undefined;
  const close = () =>
    closing ??= new Promise<void>((resolve) => {
      closed = true;
      if (socketClosed) return resolve();
      const timer = setTimeout(() => {
        ws.terminate?.();
        resolve();
      }, CLOSE_WAIT_MS);
      ws.addEventListener("close", () => {
        clearTimeout(timer);
        resolve();
      });
      ws.close(1000);
    });
  // The readable was cancelled, or has ended: its controller takes nothing more.
  let readEnded = false;
  let ctl: ReadableByteStreamController;
  const readable = new ReadableStream({
    type: "bytes",
    start(c) {
      ctl = c;
      // WebSocket has no pause: backpressure ends at the broker's TCP window.
      ws.addEventListener("message", (e) => {
        if (closed || readEnded) return;
        const data = (e as { data: ArrayBuffer | string }).data;
        if (typeof data === "string") {
          // MQTT goes in binary frames only (MQTT-6.0.0-1): the connection ends.
          readEnded = true;
          c.error(new Error(`A text WebSocket frame from ${shown}: MQTT takes binary frames only`));
          void close();
          return;
        }
        // An empty frame carries no bytes (and a byte stream takes no empty chunk).
        if (data.byteLength > 0) c.enqueue(new Uint8Array(data));
      });
      ws.addEventListener("close", (e) => {
        const { code, reason } = e as { code: number; reason?: string };
        const ours = closed;
        closed = true;
        // Also after a close of ours (the writable's): a pending read ends.
        if (readEnded) return;
        readEnded = true;
        // A code the server chose says why (1000: plain; 1005: none; 1006: dropped, no frame).
        if (!ours && code > 1000 && code != 1005 && code != 1006) {
          return c.error(
            new Error(
              `WebSocket to ${shown} closed by the server: code ${code}${
                reason ? `, ${reason}` : ""
              }`,
            ),
          );
        }
        c.close();
        c.byobRequest?.respond(0); // a pending BYOB read ends only this way
      });
    },
    cancel: () => {
      readEnded = true;
      // Bun before 1.4 leaves a pending BYOB read unsettled by cancel() (disconnect() hung).
      ctl.byobRequest?.respond(0);
      return close();
    },
  });
  // bufferedAmount has no event: poll it while over the mark.
  const drained = async () => {
    while (ws.bufferedAmount > high && !closed) {
      await new Promise((r) => setTimeout(r, 5));
    }
  };
  const writable = new WritableStream<Uint8Array>({
    async write(chunk) {
      if (closed) throw new Error("The WebSocket is closed");
      ws.send(chunk as Uint8Array & { readonly buffer: ArrayBuffer });
      if (ws.bufferedAmount > high) await drained();
      // Its bytes may never leave: a write that resolved would say they had.
      if (closed) throw new Error("The WebSocket closed before its buffer drained");
    },
    close,
    abort: close,
  });
  return { readable: readable as ReadableStream<Uint8Array>, writable, close };
}
