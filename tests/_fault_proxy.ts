/**
 * A loopback TCP proxy that puts network faults between an MQTT client and
 * its broker, for tests of code that must survive a bad network: cut every
 * connection (the client sees EOF, the broker sees the client vanish), cut
 * after a number of bytes (inside a packet), blackhole the traffic (bytes
 * vanish, no FIN, no RST: a dead network), add latency, split the byte
 * stream into tiny writes or coalesce it into big ones, and refuse new
 * connections (the broker "down"). Faults may be switched at any moment and
 * apply to bytes as they leave the proxy.
 *
 * Deno only (`Deno.listen`, `Deno.connect`); it speaks TCP, not MQTT, so it
 * works for any client and broker. Point the client at {@linkcode FaultProxy.url}
 * instead of the broker; `close()` leaves nothing behind (no pending op, no
 * open socket), so Deno's leak sanitizers stay clean.
 *
 * @example Cut the connection under a client, then reconnect
 * ```ts ignore
 * import { MQTTClient, MQTTConnectionError } from "@umqtt/umqtt";
 * import { FaultProxy } from "./_fault_proxy.ts";
 *
 * await using proxy = await FaultProxy.start({ hostname: "127.0.0.1", port: 1883 });
 * const client = new MQTTClient("fault-demo", proxy.url);
 * await client.connect();
 * const pong = client.ping();
 * proxy.cut(); // abrupt: no DISCONNECT, so the broker publishes the will
 * await pong.catch((e) => console.assert(e instanceof MQTTConnectionError));
 * await client.connect(); // a new connection through the proxy
 * proxy.blackhole(true); // the next ping never gets its PINGRESP; keepalive must notice
 * ```
 *
 * @module
 */

import { connect, listen, type TcpConnLike, type TcpListenerLike } from "./_net.ts";

/** Where a {@linkcode FaultProxy} forwards each connection to. */
export interface ProxyTarget {
  /** Host name or address of the broker. */
  hostname: string;
  /** Its TCP port. */
  port: number;
}

/** Options for {@linkcode FaultProxy.start}. */
export interface FaultProxyOptions {
  /** Port to listen on, on 127.0.0.1; default 0: one the system picks. */
  listenPort?: number;
  /**
   * Sees the traffic, for traces: each connection's opening and closing,
   * each chunk as it leaves, and each write as it completes (see
   * {@linkcode TapEvent}). Called synchronously; it must not throw.
   */
  tap?: (event: TapEvent) => void;
}

/**
 * What a {@linkcode FaultProxyOptions.tap} is shown. `link` numbers the
 * proxy's connections from 1, in the order accepted (refused ones take a
 * number too, and show nothing).
 *
 * - `open`: a connection accepted, before the broker's side is connected.
 * - `leave`: a chunk about to be written, cut short where a cut falls;
 *   shown before the write, so that nothing the receiver does with it can be
 *   recorded before it. Each way, a link's `leave` bytes are its stream in
 *   order.
 * - `written`: the bytes of one completed write, after it. Each way, a
 *   link's `written` bytes are a prefix of its `leave` bytes, exactly what
 *   its receiver could read: a write that fails shows nothing and ends the
 *   link, and {@linkcode FaultProxy.split} shows one event per piece.
 * - `close`: the connection closed, both sides. No `leave` follows it; a
 *   `written` may, for a write that was under way when the link was cut.
 *
 * Blackholed bytes, and bytes past a cut, are in neither `leave` nor `written`.
 */
export type TapEvent =
  | { type: "open"; link: number }
  | { type: "close"; link: number }
  | { type: "leave"; link: number; dir: Direction; bytes: Uint8Array }
  | { type: "written"; link: number; dir: Direction; bytes: Uint8Array };

/** A direction of traffic: `"up"` is client → broker, `"down"` broker → client. */
export type Direction = "up" | "down";

/** Byte counts of a {@linkcode FaultProxy}, over all its connections since it started. */
export interface ProxyBytes {
  /** Bytes delivered client → broker. */
  up: number;
  /** Bytes delivered broker → client. */
  down: number;
  /** Bytes dropped by {@linkcode FaultProxy.blackhole}, both directions. */
  dropped: number;
}

/** The proxy-wide faults, read by every connection each time bytes leave. */
interface Faults {
  blackhole: boolean;
  /** Wakers of the links holding back an end while blackholed, woken when it lifts. */
  lifted: Set<() => void>;
  delay: number;
  split: number | null;
  coalesce: number | null;
  bytes: ProxyBytes;
  tap: FaultProxyOptions["tap"];
}

const HOSTNAME = "127.0.0.1";
const READ_SIZE = 16 * 1024;
const noop = () => {};

function concat(chunks: Uint8Array[]): Uint8Array {
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}

function checkMs(name: string, ms: number): void {
  if (typeof ms !== "number" || !Number.isFinite(ms) || ms < 0) {
    throw new RangeError(
      `Invalid ${name}: must be a finite number of milliseconds >= 0, got ${ms}`,
    );
  }
}

function checkBool(name: string, on: boolean): void {
  if (typeof on !== "boolean") throw new TypeError(`Invalid ${name}: must be a boolean`);
}

/**
 * One proxied connection: the client's socket, the broker's, and a pump each
 * way. Each pump reads as fast as bytes come (so a blackhole drops them
 * rather than pushing back on the sender) and writes them in order, each
 * chunk no earlier than its arrival plus the delay.
 */
class Link {
  readonly done: Promise<void>;
  readonly #faults: Faults;
  readonly #onClose: () => void;
  readonly #conns: TcpConnLike[];
  readonly #id: number;
  #closed = false;
  /** Bytes left before the cut armed by cutAfter(), and the directions that count. */
  #budget: { left: number; up: boolean; down: boolean } | null = null;
  /** Wakers of pending sleeps, so that close() ends them and leaves no timer. */
  readonly #sleeps = new Set<() => void>();

  constructor(
    id: number,
    client: TcpConnLike,
    target: ProxyTarget,
    faults: Faults,
    onClose: () => void,
  ) {
    this.#id = id;
    this.#faults = faults;
    this.#onClose = onClose;
    faults.tap?.({ type: "open", link: id });
    this.#conns = [client];
    this.done = this.#run(client, target).catch(() => this.close());
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const conn of this.#conns) {
      try {
        conn.close();
      } catch { /* already closed */ }
    }
    for (const wake of [...this.#sleeps]) wake();
    this.#faults.tap?.({ type: "close", link: this.#id });
    this.#onClose();
  }

  cutAfter(n: number, dir: Direction | "both"): void {
    if (n === 0) return this.close();
    this.#budget = { left: n, up: dir !== "down", down: dir !== "up" };
  }

  async #run(client: TcpConnLike, target: ProxyTarget): Promise<void> {
    let broker: TcpConnLike;
    try {
      broker = await connect({ hostname: target.hostname, port: target.port });
    } catch {
      // Broker down: the client sees its connection accepted, then closed.
      return this.close();
    }
    if (this.#closed) return broker.close();
    this.#conns.push(broker);
    // So that split() pieces leave as separate segments instead of waiting for Nagle.
    client.setNoDelay(true);
    broker.setNoDelay(true);
    await Promise.all([this.#pump(client, broker, "up"), this.#pump(broker, client, "down")]);
  }

  /** Forwards `from` → `to` until either side ends or the link is cut. */
  async #pump(from: TcpConnLike, to: TcpConnLike, dir: Direction): Promise<void> {
    const queue: { bytes: Uint8Array; due: number }[] = [];
    let ended = false;
    let wake = noop;
    const reading = (async () => {
      try {
        for (;;) {
          const buf = new Uint8Array(READ_SIZE);
          const n = await from.read(buf);
          if (n === null) break;
          queue.push({ bytes: buf.subarray(0, n), due: performance.now() + this.#faults.delay });
          wake();
        }
      } catch { /* reset by the peer, or closed by close() */ }
      ended = true;
      wake();
    })();
    try {
      for (;;) {
        if (queue.length === 0) {
          if (this.#closed) break;
          if (ended) {
            // A side that ended (its queue flushed) ends the whole link, as MQTT has no
            // half-close; but in a blackhole the broker's FIN is lost like any byte, until
            // it lifts. (The client's own close ends the link: `connections` counts the
            // sockets it holds open.)
            if (!this.#faults.blackhole || dir === "up") break;
            await this.#untilLifted();
            continue;
          }
          await new Promise<void>((resolve) => (wake = resolve));
          continue;
        }
        await this.#sleep(queue[0].due - performance.now());
        if (this.#faults.coalesce !== null) await this.#sleep(this.#faults.coalesce);
        if (this.#closed) break;
        const now = performance.now();
        let k = 1;
        while (k < queue.length && queue[k].due <= now) k++;
        await this.#forward(to, concat(queue.splice(0, k).map((c) => c.bytes)), dir);
      }
    } catch { /* the receiving side is gone */ }
    this.close();
    await reading;
  }

  async #forward(to: TcpConnLike, bytes: Uint8Array, dir: Direction): Promise<void> {
    const faults = this.#faults;
    if (faults.blackhole) {
      faults.bytes.dropped += bytes.length;
      return;
    }
    const budget = this.#budget;
    let cut = false;
    if (budget?.[dir]) {
      if (bytes.length >= budget.left) {
        bytes = bytes.subarray(0, budget.left);
        cut = true;
      }
      budget.left -= bytes.length;
    }
    const piece = faults.split ?? bytes.length;
    faults.tap?.({ type: "leave", link: this.#id, dir, bytes });
    for (let off = 0; off < bytes.length;) {
      const n = await to.write(bytes.subarray(off, Math.min(off + piece, bytes.length)));
      faults.tap?.({ type: "written", link: this.#id, dir, bytes: bytes.subarray(off, off + n) });
      off += n;
      faults.bytes[dir] += n;
    }
    if (cut) this.close();
  }

  /** Resolves when the blackhole lifts or the link closes. */
  #untilLifted(): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        this.#faults.lifted.delete(done);
        this.#sleeps.delete(done);
        resolve();
      };
      this.#faults.lifted.add(done);
      this.#sleeps.add(done);
    });
  }

  #sleep(ms: number): Promise<void> {
    if (!(ms > 0) || this.#closed) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#sleeps.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#sleeps.add(done);
    });
  }
}

/**
 * A TCP proxy on 127.0.0.1 that forwards each accepted connection to one
 * target and injects faults on command. Fault switches (`blackhole`,
 * `delay`, `split`, `coalesce`, `refuse`) hold for every connection, current
 * and future, until switched again; `cut` and `cutAfterBytes` act on the
 * connections open at the moment of the call.
 *
 * A connection to the target is made for each accepted client connection;
 * when the target refuses it (broker down), the client's connection is
 * closed right after being accepted, so the client sees EOF, not
 * ECONNREFUSED. A side that closes its socket closes the other side too,
 * once the bytes queued towards it have been written.
 *
 * @example Blackhole, then cut
 * ```ts ignore
 * import { FaultProxy } from "./_fault_proxy.ts";
 * const proxy = await FaultProxy.start({ hostname: "127.0.0.1", port: 1883 });
 * proxy.blackhole(true); // connections stay open; nothing gets through
 * proxy.blackhole(false);
 * proxy.cut();
 * await proxy.close();
 * ```
 */
export class FaultProxy {
  /** The address the proxy listens on: always loopback. */
  readonly hostname: "127.0.0.1" = HOSTNAME;
  /** The port the proxy listens on. */
  readonly port: number;
  /** `mqtt://127.0.0.1:<port>`: give this to the client instead of the broker's URL. */
  readonly url: string;
  /** Where each connection is forwarded to. */
  readonly target: ProxyTarget;

  readonly #listener: TcpListenerLike;
  readonly #faults: Faults = {
    blackhole: false,
    lifted: new Set(),
    delay: 0,
    split: null,
    coalesce: null,
    bytes: { up: 0, down: 0, dropped: 0 },
    tap: undefined,
  };
  readonly #open = new Set<Link>();
  readonly #running = new Set<Promise<void>>();
  readonly #accepting: Promise<void>;
  #refuse = false;
  #closed = false;
  #accepted = 0;

  private constructor(
    listener: TcpListenerLike,
    target: ProxyTarget,
    tap: FaultProxyOptions["tap"],
  ) {
    this.#listener = listener;
    this.#faults.tap = tap;
    this.target = { hostname: target.hostname, port: target.port };
    this.port = listener.addr.port;
    this.url = `mqtt://${HOSTNAME}:${this.port}`;
    this.#accepting = this.#accept();
  }

  /**
   * Starts a proxy to `target`, listening on 127.0.0.1.
   *
   * @param target The broker (or any TCP server) to forward to.
   * @param opts `listenPort`: the port to listen on (default: a free one); `tap`: sees the traffic ({@linkcode TapEvent}).
   * @returns The listening proxy; call {@linkcode FaultProxy.close} when done.
   * @throws {TypeError} A target without a hostname string.
   * @throws {RangeError} A port out of 0–65535 (the target's must be 1–65535).
   * @throws {Deno.errors.AddrInUse} `listenPort` is taken.
   */
  static start(target: ProxyTarget, opts: FaultProxyOptions = {}): Promise<FaultProxy> {
    try {
      if (typeof target?.hostname !== "string" || target.hostname === "") {
        throw new TypeError("Invalid target.hostname: must be a non-empty string");
      }
      for (
        const [name, port, min] of [
          ["target.port", target.port, 1],
          ["listenPort", opts.listenPort ?? 0, 0],
        ] as const
      ) {
        if (!Number.isInteger(port) || port < min || port > 65535) {
          throw new RangeError(`Invalid ${name}: must be an integer ${min}-65535, got ${port}`);
        }
      }
      return listen({ hostname: HOSTNAME, port: opts.listenPort ?? 0 }).then((listener) =>
        new FaultProxy(listener, target, opts.tap)
      );
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** Client connections open right now. */
  get connections(): number {
    return this.#open.size;
  }

  /** Client connections accepted since the start, refused ones included. */
  get accepted(): number {
    return this.#accepted;
  }

  /** Bytes delivered each way and dropped, since the start (a snapshot). */
  get bytes(): ProxyBytes {
    return { ...this.#faults.bytes };
  }

  /**
   * Closes every open connection at once, both sides: the client sees EOF
   * (a pending read ends, later writes fail) and the broker sees the client
   * vanish without DISCONNECT (so it publishes the will). Bytes not yet
   * forwarded are lost.
   */
  cut(): void {
    for (const link of [...this.#open]) link.close();
  }

  /**
   * Arms a cut on each connection open now: after `n` more bytes have been
   * delivered in `direction` (`"both"`: counted together), that connection
   * is cut as by {@linkcode FaultProxy.cut}; the chunk that crosses the
   * limit is delivered only up to it, so the cut falls wherever byte `n`
   * falls, packet boundaries or not. `n = 0` cuts at once. Connections made
   * later are not affected; a later call replaces the armed one.
   *
   * @param n Bytes still to deliver before the cut.
   * @param direction Which bytes count; default `"both"`.
   * @throws {RangeError} `n` not a non-negative integer.
   * @throws {TypeError} `direction` not `"up"`, `"down"` or `"both"`.
   */
  cutAfterBytes(n: number, direction: Direction | "both" = "both"): void {
    if (!Number.isSafeInteger(n) || n < 0) {
      throw new RangeError(`Invalid n: must be an integer >= 0, got ${n}`);
    }
    if (direction !== "up" && direction !== "down" && direction !== "both") {
      throw new TypeError(`Invalid direction: must be "up", "down" or "both", got ${direction}`);
    }
    for (const link of [...this.#open]) link.cutAfter(n, direction);
  }

  /**
   * While on, every byte in both directions is read and silently dropped
   * (counted in `bytes.dropped`), including bytes already queued by
   * {@linkcode FaultProxy.delay}: no FIN, no RST, the sockets stay open, as
   * when a network dies. A broker that closes meanwhile is not seen closing
   * by the client until the blackhole lifts (or a cut); a client that
   * closes its socket ends the link at once. Dropped bytes are gone for
   * good, so the MQTT stream of a connection that lived through a blackhole
   * is usually broken mid-packet: cut it afterwards. New connections are still accepted (and
   * then carry nothing).
   *
   * @param on Drop (true) or forward (false).
   * @throws {TypeError} `on` not a boolean.
   */
  blackhole(on: boolean): void {
    checkBool("on", on);
    this.#faults.blackhole = on;
    if (!on) { for (const wake of [...this.#faults.lifted]) wake(); }
  }

  /**
   * Delivers each chunk no earlier than `ms` after it arrived, in order
   * (latency, not a bandwidth limit). Applies to chunks arriving from now
   * on; 0 turns it off.
   *
   * @param ms Latency in milliseconds, each way.
   * @throws {RangeError} `ms` negative or not finite.
   */
  delay(ms: number): void {
    checkMs("ms", ms);
    this.#faults.delay = ms;
  }

  /**
   * Writes the bytes on in pieces of at most `maxChunk` bytes, each a
   * separate write on a no-delay socket; `null` turns it off. On loopback
   * each piece is its own TCP segment, but a receiver that reads slowly may
   * still get several at once.
   *
   * @param maxChunk Largest piece in bytes, or null.
   * @throws {RangeError} `maxChunk` not a positive integer.
   */
  split(maxChunk: number | null): void {
    if (maxChunk !== null && (!Number.isSafeInteger(maxChunk) || maxChunk < 1)) {
      throw new RangeError(`Invalid maxChunk: must be an integer >= 1 or null, got ${maxChunk}`);
    }
    this.#faults.split = maxChunk;
  }

  /**
   * Once bytes are ready to go, waits `ms` more and writes everything that
   * arrived meanwhile as one write (then split, if {@linkcode FaultProxy.split}
   * is on); `null` turns it off. Even off, bytes that pile up while a write is
   * under way leave together, as TCP would send them.
   *
   * @param ms Gathering window in milliseconds, or null.
   * @throws {RangeError} `ms` negative or not finite.
   */
  coalesce(ms: number | null): void {
    if (ms !== null) checkMs("ms", ms);
    this.#faults.coalesce = ms;
  }

  /**
   * While on, each new connection is accepted and closed at once, before
   * anything reaches the target: the client's connect fails as if the
   * broker were down. Open connections are not touched.
   *
   * @param on Refuse (true) or forward (false).
   * @throws {TypeError} `on` not a boolean.
   */
  refuse(on: boolean): void {
    checkBool("on", on);
    this.#refuse = on;
  }

  /**
   * Stops listening, cuts every connection and waits until every socket is
   * closed and every read, write and timer has finished. Safe to call twice.
   */
  async close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      try {
        this.#listener.close();
      } catch { /* already closed */ }
      this.cut();
    }
    await this.#accepting;
    await Promise.all(this.#running);
  }

  /** Same as {@linkcode FaultProxy.close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #accept(): Promise<void> {
    for (;;) {
      let conn: TcpConnLike;
      try {
        conn = await this.#listener.accept();
      } catch {
        return; // the listener was closed
      }
      this.#accepted++;
      if (this.#refuse || this.#closed) {
        conn.close();
        continue;
      }
      const link: Link = new Link(
        this.#accepted,
        conn,
        this.target,
        this.#faults,
        () => this.#open.delete(link),
      );
      this.#open.add(link);
      this.#running.add(link.done);
      void link.done.then(() => this.#running.delete(link.done));
    }
  }
}

/** A proxy in front of a test broker (`tests/_brokers.ts`). */
export function proxyTo(broker: { host: string; port: number }): Promise<FaultProxy> {
  return FaultProxy.start({ hostname: broker.host, port: broker.port });
}

/**
 * Takes a robust client offline: its connection cut, the proxy refusing new
 * ones; resolves once the client saw the loss (its `disconnected` event).
 */
export async function offline(client: EventTarget, proxy: FaultProxy): Promise<void> {
  const lost = new Promise((r) => client.addEventListener("disconnected", r, { once: true }));
  proxy.refuse(true);
  proxy.cut();
  await lost;
}
