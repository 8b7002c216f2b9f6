// A transport for tests: a real TCP connection to a real broker, with a tap
// that decodes every packet the client writes, a switch that swallows the
// client's writes (as a network that loses them would), and a way to cut
// the connection abruptly (no DISCONNECT). It decodes MQTT 3.1.1 or 5.0, as
// the client's CONNECT says.
import { PacketDecoder } from "../lib/codec/decoder.ts";
import type { Packet } from "../lib/codec/packet.ts";
import type { StreamPair } from "../mod.ts";
import { connectNode } from "../lib/transports/node.ts";

/** One tapped connection, made by {@linkcode Tap.transport}. */
export interface TapConn {
  /** Packets the client wrote, decoded, in order (swallowed ones included). */
  written: Packet[];
  /** Packets the broker sent, decoded, in order, as they pass to the client. */
  read: Packet[];
  /**
   * Both, in the order the client saw them: a packet written as the client
   * writes it, a packet read as it passes to the client. What the client had
   * unacknowledged at any moment can be counted from it.
   */
  log: { dir: "out" | "in"; packet: Packet }[];
  /** Closes the socket under the client, abruptly. */
  cut(): void;
}

/** Makes tapped connections to one broker; each `connect()` gets a new one. */
export class Tap {
  /** Every connection made, in order. */
  conns: TapConn[] = [];
  /**
   * While true, the client's writes are decoded but never reach the broker;
   * a function swallows the chunks holding a packet it picks.
   */
  swallow: boolean | ((packet: Packet) => boolean) = false;
  /** While true, the broker's bytes are dropped before the client sees them. */
  deaf = false;

  constructor(readonly hostname: string, readonly port: number) {}

  /** The function to pass as the `transport` option. */
  transport = async (): Promise<StreamPair> => {
    // Deno's own socket under Deno; node:net under Bun, so `bun test` runs the client tests.
    const address = { hostname: this.hostname, port: this.port };
    const conn = "Deno" in globalThis
      ? await Deno.connect(address)
      : (await connectNode(address)) as StreamPair & { close(): void };
    const written: Packet[] = [];
    const read: Packet[] = [];
    const log: TapConn["log"] = [];
    // A server's decoder: it takes the CONNECT of either version and then
    // decodes at its level. The broker's side is decoded at that level too,
    // once the CONNECT has gone out (nothing comes before it).
    const decoder = new PacketDecoder({ maxPacketSize: 1 << 28, protocolVersion: 5 });
    let readDecoder: PacketDecoder | undefined;
    const writer = conn.writable.getWriter();
    let cut = false;
    this.conns.push({
      written,
      read,
      log,
      cut() {
        if (!cut) {
          cut = true;
          conn.close();
        }
      },
    });
    const writable = new WritableStream<Uint8Array>({
      write: async (chunk) => {
        const packets = decoder.push(chunk);
        written.push(...packets);
        for (const packet of packets) log.push({ dir: "out", packet });
        const swallow = this.swallow;
        if (swallow === true || (swallow && packets.some(swallow))) return;
        await writer.write(chunk);
      },
      close: () => writer.close().catch(() => {}),
      abort: () => writer.abort().catch(() => {}),
    });
    // Not a byte stream any more: the client reads it with a default reader.
    // Pull-based, so no read is pending unless the client asked for one.
    const source = conn.readable.getReader();
    const readable = new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        let { value, done } = await source.read();
        while (!done && this.deaf) ({ value, done } = await source.read());
        if (done || !value) return controller.close();
        const copy = value.slice();
        readDecoder ??= new PacketDecoder({
          maxPacketSize: 1 << 28,
          protocolVersion: decoder.protocolVersion,
        });
        const packets = readDecoder.push(copy);
        read.push(...packets);
        for (const packet of packets) log.push({ dir: "in", packet });
        controller.enqueue(copy);
      },
      cancel: (reason) => source.cancel(reason),
    });
    return {
      readable,
      writable,
      close() {
        if (!cut) {
          cut = true;
          try {
            conn.close();
          } catch { /* closed already */ }
        }
      },
    };
  };

  /** The PUBLISH packets written on connection `i`. */
  publishes(i: number): Extract<Packet, { type: "publish" }>[] {
    return this.conns[i].written.filter((p) => p.type === "publish") as Extract<
      Packet,
      { type: "publish" }
    >[];
  }
}
