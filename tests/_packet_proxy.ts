// A TCP proxy for the restart tests that splits both directions into MQTT
// packets and passes, or silently drops, each as the test says.
export type Dir = "up" | "down";
export const TYPES = [
  "?",
  "connect",
  "connack",
  "publish",
  "puback",
  "pubrec",
  "pubrel",
  "pubcomp",
  "subscribe",
  "suback",
  "unsubscribe",
  "unsuback",
  "pingreq",
  "pingresp",
  "disconnect",
  "auth",
];

export class PacketProxy {
  readonly port: number;
  /** Whether to drop a packet; default: pass all. */
  drop: (dir: Dir, type: string, packet: Uint8Array) => boolean = () => false;
  /** Every packet seen, in order: "up publish dup=1 id=3" etc. */
  readonly log: string[] = [];
  #listener: Deno.Listener;
  #conns = new Set<Deno.Conn>();
  #waiters: { test: (line: string) => boolean; resolve: () => void }[] = [];

  constructor(readonly target: number) {
    this.#listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    this.port = (this.#listener.addr as Deno.NetAddr).port;
    this.#accept();
  }

  /** Resolves when a log line matching `re` is (or was, after `from`) seen. */
  until(re: RegExp, from = 0): Promise<void> {
    if (this.log.slice(from).some((l) => re.test(l))) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ test: (l) => re.test(l), resolve }));
  }

  async #accept() {
    for await (const c of this.#listener) {
      const b = await Deno.connect({ hostname: "127.0.0.1", port: this.target });
      this.#conns.add(c).add(b);
      const end = () => {
        for (const x of [c, b]) {
          try {
            x.close();
          } catch { /* closed */ }
          this.#conns.delete(x);
        }
      };
      this.#pump(c, b, "up").finally(end);
      this.#pump(b, c, "down").finally(end);
    }
  }

  async #pump(from: Deno.Conn, to: Deno.Conn, dir: Dir) {
    let buf = new Uint8Array(0);
    try {
      for await (const chunk of from.readable) {
        const n = new Uint8Array(buf.length + chunk.length);
        n.set(buf), n.set(chunk, buf.length);
        buf = n;
        for (;;) {
          let len = 0, mul = 1, i = 1;
          for (; i < buf.length; i++) {
            len += (buf[i] & 127) * mul;
            mul *= 128;
            if (!(buf[i] & 128)) break;
          }
          if (i >= buf.length || buf.length < i + 1 + len) break;
          const packet = buf.slice(0, i + 1 + len);
          buf = buf.slice(i + 1 + len);
          const type = TYPES[packet[0] >> 4];
          const hasId = ["publish", "puback", "pubrec", "pubrel", "pubcomp"].includes(type) &&
            !(type === "publish" && ((packet[0] >> 1) & 3) === 0);
          let id = -1;
          if (hasId) {
            const at = type === "publish"
              ? i + 1 + 2 + ((packet[i + 1] << 8) | packet[i + 2])
              : i + 1;
            id = (packet[at] << 8) | packet[at + 1];
          }
          const dropped = this.drop(dir, type, packet);
          const line = `${dir} ${type}${
            type === "publish" ? ` dup=${(packet[0] >> 3) & 1} qos=${(packet[0] >> 1) & 3}` : ""
          }${id >= 0 ? ` id=${id}` : ""}${dropped ? " DROPPED" : ""}`;
          this.log.push(line);
          this.#waiters = this.#waiters.filter((w) => !(w.test(line) && (w.resolve(), true)));
          if (!dropped) {
            const w = to.writable.getWriter();
            await w.write(packet);
            w.releaseLock();
          }
        }
      }
    } catch { /* closed */ }
  }

  close() {
    this.#listener.close();
    for (const c of this.#conns) {
      try {
        c.close();
      } catch { /* closed */ }
    }
  }
}
