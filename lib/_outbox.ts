// Calls that send a packet and wait for its answer: a publish (its PUBACK,
// or PUBREC then PUBCOMP), a SUBSCRIBE, an UNSUBSCRIBE, a PINGREQ. Each is
// a promise settled by the protocol state; with MQTT 5 each first meets the
// limits of the connection's CONNACK, before any byte is written.
import type { PublishPacket, Subscription } from "./codec/packet.ts";
import { encodePublish } from "./codec/publish.ts";
import { encodeSubscribe } from "./codec/subscribe.ts";
import type { SubscribeProperties } from "./codec/properties.ts";
import type { Connection } from "./_connection.ts";
import type { Acked, AckKind, Request } from "./_protocol.ts";
import type { CheckedPublish } from "./_checks.ts";
import { checkLimits } from "./_limits.ts";
import { headerLength } from "./codec/_varint.ts";
import { abortable, answerWithin } from "./_abortable.ts";
import { MQTTConnectionError } from "./errors.ts";
import type { CoreHooks } from "./_internal.ts";
import { WRITTEN } from "./_writer.ts";

const noop = () => {};

/** The client's outgoing calls over its connection. */
export class Outbox {
  readonly #conn: Connection;
  readonly #hooks: CoreHooks;

  constructor(conn: Connection, hooks: CoreHooks) {
    this.#conn = conn;
    this.#hooks = hooks;
  }

  /** A request went out (MQTT 5 request()): the reader reads its reply at once. */
  asked(): void {
    this.#conn.inbox.asked();
  }

  /** Why a call named `what` cannot run now: none while the robust client would wait for it. */
  refusal(what: string): unknown {
    return !this.#hooks.run && this.#conn.unusable(what);
  }

  /** A checked publish: QoS 0 resolves once written, QoS 1/2 on its acknowledgement. */
  publish(p: CheckedPublish): Promise<void> {
    // A QoS 0 publish's bytes may have gone out under a topic alias, built in
    // them (no properties): when the robust client tries it again, it is
    // encoded again, with the payload they still end with (the caller may have
    // reused its buffer). Bytes not built in are sent again as they are.
    if (p.spent) {
      const spent = p.bytes!, payload = spent.subarray(spent.length - p.payloadLength);
      p.bytes = encodePublish({ ...p.packet!, payload }, 5), p.spent = false;
    }
    const { packet, qos, idAt, signal } = p;
    const conn = this.#conn;
    // MQTT 5: bytes not built yet are needed here only to be measured against a limit.
    const limited = packet !== undefined && conn.core.limited;
    const bytes = limited ? p.bytes ??= encodePublish(packet, 5) : p.bytes;
    const refused = this.#refused("publish", bytes?.length ?? 0, limited ? packet : undefined);
    if (refused) return Promise.reject(refused);
    if (packet && qos === 0) {
      const out = conn.core.wire(packet, bytes, undefined, true);
      // Built in `bytes` (another view of their buffer, starting inside them), not beside them.
      const at = out.byteOffset - (bytes?.byteOffset ?? 0);
      p.spent = out !== bytes && out.buffer === bytes?.buffer && at >= 0 && at < bytes.length;
      return abortable(this.#once(out), signal);
    }
    // Only MQTT 5 QoS 0 bytes are built as they go (above): these are here.
    const full = bytes!;
    // QoS 0: the signal stops the wait for the write (a broker that stopped reading).
    if (qos === 0) return abortable(this.#once(full), signal);
    const kind = qos === 1 ? "puback" : "pubrec";
    return abortable(this.#send(kind, full, idAt, signal, true, undefined, packet), signal);
  }

  /**
   * A QoS 0 publish's write. When the write fails, a packet the transport had
   * taken whole may have arrived: the robust client (`keepPending`) takes it
   * as sent, rather than send it again on the next connection (QoS 0 is at
   * most once); one not taken whole goes again. The simple client rejects
   * both, as it always did.
   */
  #once(bytes: Uint8Array): Promise<void> {
    const writer = this.#conn.writer;
    this.#conn.core.wroteQoS0();
    if (!this.#hooks.keepPending) return writer.send(bytes);
    // Where it ends in the next write, read before it is queued.
    const end = writer.queuedBytes + bytes.length;
    const sent = writer.send(bytes);
    return sent.catch((e) => {
      // Not all taken: it never left whole, and goes again on the next connection.
      if (end > (WRITTEN.get(sent) ?? 0)) throw e;
    });
  }

  /** A SUBSCRIBE (`bytes` if already encoded): resolves with what the SUBACK said. */
  subscribe(
    subscriptions: Subscription[],
    signal: AbortSignal | undefined,
    properties?: SubscribeProperties,
    bytes: Uint8Array = encodeSubscribe(
      { type: "subscribe", packetId: 1, subscriptions, properties },
      this.#conn.core.version,
    ),
  ): Promise<Acked> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    const refused = this.#refused("subscribe", bytes.length, subscriptions, properties);
    if (refused) return Promise.reject(refused);
    const n = subscriptions.length;
    const sent = this.#send<Acked>("suback", bytes, headerLength(bytes), signal, false, n);
    // The robust client learns what the broker applied, though the caller may have stopped waiting.
    sent.then((a) => this.#hooks.subscribed?.(subscriptions, a.codes, properties), noop);
    return abortable(sent, signal);
  }

  /** An encoded UNSUBSCRIBE of `topics`: resolves with what the UNSUBACK said (3.1.1: all 0). */
  unsubscribe(bytes: Uint8Array, topics: string[], signal?: AbortSignal): Promise<Acked> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    const refused = this.#refused("unsubscribe", bytes.length, topics);
    if (refused) return Promise.reject(refused);
    const n = topics.length;
    const sent = this.#send<Acked>("unsuback", bytes, headerLength(bytes), signal, false, n);
    sent.then(() => this.#hooks.unsubscribed?.(topics), noop);
    return abortable(sent, signal);
  }

  /**
   * A PINGREQ: resolves on its PINGRESP. With `bound` (ms; the keepalive is
   * off, so nothing else would) a connection that sends none within it is
   * dead (MQTT 3.1.2.10: the client closes it), rather than ping() hanging.
   * As the keepalive's, the bound runs from when the PINGREQ is written, and
   * until then (behind a large PUBLISH on a slow link) from the last bytes
   * written: only a write stuck that long is a dead connection too.
   */
  async ping(bound = 0): Promise<void> {
    const offline = this.#conn.unusable("ping");
    if (offline) throw offline;
    const pong = new Promise<void>((resolve, reject) =>
      this.#conn.core.expectPong({ resolve, reject })
    );
    const written = this.#conn.writer.send(Uint8Array.of(0xc0, 0x00));
    const sent = Promise.all([written, pong]);
    // Unanswered, so the connection it went on is still the current one (its end rejects it).
    if (bound > 0 && !await answerWithin(pong, written, bound, this.#conn.core)) {
      const why = `Connection dead: no answer to PINGREQ within ${bound} ms (connectTimeout)`;
      this.#conn.dead(new MQTTConnectionError(why));
    }
    await sent;
  }

  /**
   * Why `what` (a packet of `size` bytes) cannot go: the connection is unusable,
   * or with MQTT 5 (`limits` given) it breaks what this connection's CONNACK allows.
   */
  #refused(
    what: string,
    size: number,
    limits?: PublishPacket | Subscription[] | string[],
    properties?: SubscribeProperties,
  ): unknown {
    try {
      const offline = this.#conn.unusable(what);
      if (offline || !limits) return offline;
      checkLimits(this.#conn.core.broker, limits, size, properties);
    } catch (e) {
      return e;
    }
  }

  /** Sends a packet that takes a packet id; settles on its acknowledgement. */
  #send<T>(
    kind: AckKind,
    bytes: Uint8Array,
    idAt: number,
    signal?: AbortSignal,
    keep = false,
    filters?: number,
    packet?: PublishPacket,
  ): Promise<T> {
    let r!: Request;
    const sent = new Promise<T>((resolve, reject) =>
      this.#conn.core.send(
        r = {
          kind,
          bytes,
          idAt,
          keep,
          filters,
          signal,
          packet,
          resolve: (value, properties) =>
            (resolve as (v: unknown) => void)(
              filters === undefined
                ? value
                : { codes: value, reasonString: properties?.reasonString },
            ),
          reject,
        },
      )
    );
    // Aborted while it waits for its turn, it leaves the queue at once: a
    // broker that stopped acknowledging must not pile up given-up requests.
    if (signal) void abortable(sent, signal).catch(() => this.#conn.core.drop(r));
    return sent;
  }
}
