/**
 * `Deno.connect` / `Deno.listen` where Deno is, and a minimal look-alike
 * over `node:net` elsewhere (Bun, Node): read(buf) → n | null, write(bytes)
 * → n once the socket has taken it, close(), setNoDelay(), readable,
 * writable. For test helpers only (the fault proxy, slow links).
 */
import * as net from "node:net";

/** What the test helpers use of a `Deno.TcpConn`. */
export interface TcpConnLike {
  read(buf: Uint8Array): Promise<number | null>;
  write(bytes: Uint8Array): Promise<number>;
  close(): void;
  setNoDelay(on?: boolean): void;
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
}

/** What the test helpers use of a `Deno.TcpListener`. */
export interface TcpListenerLike {
  readonly addr: { port: number };
  accept(): Promise<TcpConnLike>;
  close(): void;
}

/** A `node:net` socket as a `TcpConnLike`: reads queue what came (no backpressure: tests only). */
class NodeConn implements TcpConnLike {
  #socket: net.Socket;
  #queue: Uint8Array[] = [];
  #ended = false;
  #error: unknown = null;
  #closed = false;
  #waiter: (() => void) | null = null;

  constructor(socket: net.Socket) {
    this.#socket = socket;
    socket.on("data", (b: Uint8Array) => {
      this.#queue.push(new Uint8Array(b));
      this.#wake();
    });
    socket.on("end", () => {
      this.#ended = true;
      this.#wake();
    });
    socket.on("error", (e) => {
      this.#error = e;
      this.#wake();
    });
    socket.on("close", () => {
      this.#ended = true;
      this.#wake();
    });
  }

  #wake() {
    const w = this.#waiter;
    this.#waiter = null;
    w?.();
  }

  async read(buf: Uint8Array): Promise<number | null> {
    for (;;) {
      if (this.#closed) throw new Error("BadResource: closed");
      if (this.#queue.length > 0) {
        const head = this.#queue[0];
        const n = Math.min(head.length, buf.length);
        buf.set(head.subarray(0, n));
        if (n === head.length) this.#queue.shift();
        else this.#queue[0] = head.subarray(n);
        return n;
      }
      if (this.#error) throw this.#error;
      if (this.#ended) return null;
      await new Promise<void>((r) => (this.#waiter = r));
    }
  }

  write(bytes: Uint8Array): Promise<number> {
    if (this.#closed || this.#socket.destroyed) {
      return Promise.reject(new Error("BrokenPipe: closed"));
    }
    const copy = new Uint8Array(bytes);
    return new Promise((resolve, reject) => {
      this.#socket.write(copy, (e) => (e ? reject(e) : resolve(copy.length)));
    });
  }

  close(): void {
    if (this.#closed) throw new Error("BadResource: already closed");
    this.#closed = true;
    this.#socket.destroy();
    this.#wake();
  }

  setNoDelay(on = true): void {
    this.#socket.setNoDelay(on);
  }

  get readable(): ReadableStream<Uint8Array> {
    return new ReadableStream({
      pull: async (c) => {
        const buf = new Uint8Array(16384);
        try {
          const n = await this.read(buf);
          if (n === null) c.close();
          else c.enqueue(buf.subarray(0, n));
        } catch (e) {
          if (this.#closed) c.close();
          else c.error(e);
        }
      },
    });
  }

  get writable(): WritableStream<Uint8Array> {
    return new WritableStream({
      write: async (b) => {
        for (let off = 0; off < b.length;) off += await this.write(b.subarray(off));
      },
      close: () => {
        try {
          this.close();
        } catch { /* closed */ }
      },
    });
  }
}

/** `Deno.connect` under Deno, a `node:net` connection elsewhere. */
export async function connect(o: { hostname: string; port: number }): Promise<TcpConnLike> {
  if ("Deno" in globalThis) return await Deno.connect(o);
  const socket = net.connect({ host: o.hostname, port: o.port });
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  return new NodeConn(socket);
}

/** `Deno.listen` under Deno, a `node:net` server elsewhere. */
export async function listen(o: { hostname: string; port: number }): Promise<TcpListenerLike> {
  if ("Deno" in globalThis) {
    const l = Deno.listen(o);
    return { addr: l.addr, accept: () => l.accept(), close: () => l.close() };
  }
  const server = net.createServer();
  const pending: net.Socket[] = [];
  let waiter: { resolve: (s: net.Socket) => void; reject: (e: unknown) => void } | null = null;
  let closed = false;
  server.on("connection", (s) => {
    if (waiter) {
      const w = waiter;
      waiter = null;
      w.resolve(s);
    } else pending.push(s);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(o.port, o.hostname, () => resolve());
  });
  const port = (server.address() as net.AddressInfo).port;
  return {
    addr: { port },
    async accept() {
      if (closed) throw new Error("BadResource: listener closed");
      const s = pending.shift() ??
        await new Promise<net.Socket>((resolve, reject) => (waiter = { resolve, reject }));
      return new NodeConn(s);
    },
    close() {
      if (closed) throw new Error("BadResource: already closed");
      closed = true;
      server.close();
      for (const s of pending.splice(0)) s.destroy();
      waiter?.reject(new Error("Interrupted: listener closed"));
      waiter = null;
    },
  };
}
