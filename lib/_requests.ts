// MQTT 5 request/response (section 4.10): a request is a publish with a
// Response Topic and a fresh Correlation Data; its reply is the message on
// that topic that carries the same data. Replies go only to their request():
// the client's connection hands them here before its inbox sees them.
import type { Incoming } from "./_protocol.ts";
import { message } from "./_inbox.ts";
import { abortable, onAbort, timeLimit } from "./_abortable.ts";
import type { Message, PublishOptions, RequestOptions } from "./options.ts";
import { MQTTProtocolError } from "./errors.ts";
import {
  checkOptions,
  checkPayload,
  checkProperties,
  checkPublish,
  copied,
  invalid,
  PUBLISH_OPTIONS,
  REQUEST_PROPERTIES,
} from "./_checks.ts";
import { checkLimits } from "./_limits.ts";
import type { ConnackProperties } from "./codec/properties.ts";
import { validateTopicName } from "./topic.ts";

/** What the requests need of their client. */
export interface RequestsLink {
  /** The client identifier (the assigned one, if the broker assigned it). */
  readonly client_id: string;
  /** The last CONNACK: its Response Information, if any, is the response topics' base. */
  readonly connack?: { properties: ConnackProperties };
  /** Whether the last CONNACK's limits hold now (unknown: the publish meets them later). */
  readonly connected?: boolean;
  subscribe(topic: string, qos: 1): Promise<number>;
  unsubscribe(topic: string): Promise<unknown>;
  publish(topic: string, payload: string | Uint8Array, options: PublishOptions): Promise<void>;
}

/** The client's outgoing side, as the requests use it. */
export interface RequestsOut {
  /** A request went out: the reader reads its reply at once. */
  asked(): void;
  /** Why a call named `what` cannot run now (none while a robust client would wait for it). */
  refusal(what: string): unknown;
}

/** A response topic, named by the broker's Response Information (`info`) or the client identifier. */
interface Named {
  info: string | undefined;
  id: string;
  /** `info` without trailing slashes. */
  given: string | undefined;
  topic: string;
}

interface Waiting {
  resolve(message: Message): void;
  reject(error: unknown): void;
  /** Ends its time limit. */
  cancel(): void;
}

// Requests in flight of every client that has made none: never written to.
const NONE = new Map<string, never>();

/** The client's requests in flight and its response topic. */
export class Requests {
  readonly #link: RequestsLink;
  // Made by the first request: a client that makes none holds no empty Map (about 190 B).
  #waiting: Map<string, Waiting> = NONE;
  #topic: string | undefined;
  #subscribed: Promise<unknown> | undefined;
  // #subscribed not settled yet (a robust client's SUBSCRIBE waiting for the connection).
  #subscribing = false;
  // #named()'s last answer.
  #name: Named | undefined;
  readonly #out: RequestsOut | undefined;

  /**
   * @param link The client.
   * @param out Told when a request goes out; asked whether one can.
   */
  constructor(link: RequestsLink, out?: RequestsOut) {
    this.#link = link;
    this.#out = out;
  }

  /**
   * Publishes a request and resolves with its reply. Its arguments are
   * checked before anything is sent, and its timeout runs from the call on,
   * the wait for the response topic's subscription included.
   *
   * @throws {TypeError} A bad argument; a `responseTopic` or `correlationData` of the caller's.
   * @throws {RangeError} Connected: a publish over the broker's limits, as publish() refuses it.
   * @throws {DOMException} `TimeoutError` when no reply came within `timeout` ms.
   */
  request(topic: string, payload: string | Uint8Array, o: RequestOptions): Promise<Message> {
    try {
      checkOptions(o, ["timeout", "qos", "properties", "signal"], "request");
      return this.#start(topic, payload, o);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** request(), whose bad arguments throw before anything is sent. */
  #start(topic: string, payload: string | Uint8Array, o: RequestOptions): Promise<Message> {
    const timeout = o.timeout ?? 30_000;
    if (!Number.isInteger(timeout) || timeout < 1 || timeout > 2_147_483_647) {
      throw typeof timeout === "number"
        ? new RangeError(
          `Invalid timeout ${timeout}: must be an integer of milliseconds from 1 to 2147483647`,
        )
        : invalid("timeout", timeout, "a number of milliseconds");
    }
    o.signal?.throwIfAborted();
    const responseTopic = this.#responseTopic();
    const correlationData = crypto.getRandomValues(new Uint8Array(16));
    // The request's own keys, then the whole PUBLISH, as publish() would check it.
    checkProperties(o.properties, REQUEST_PROPERTIES, "request", 5);
    // Named as request() and respond() name it (publish()'s is msg); text needs no check.
    typeof payload === "string" || checkPayload(payload, "payload");
    const properties = { ...o.properties, responseTopic, correlationData };
    const options = { qos: o.qos ?? 0, properties, signal: o.signal };
    const p = checkPublish(topic, payload, options, 0, {}, 5);
    // Published after the response topic's SUBSCRIBE (a turn later at least): as given at the
    // call, not as the caller's buffer and array hold them by then.
    if (typeof payload !== "string") payload = new Uint8Array(payload);
    options.properties = copied(properties)!;
    // The broker's limits too, as publish() meets them: before the response topic's SUBSCRIBE.
    if (this.#link.connected) {
      checkLimits(this.#link.connack!.properties, p.packet!, p.bytes!.length);
    }
    // Named for request(), not for the response topic's SUBSCRIBE it would fail at.
    const refusal = this.#out?.refusal("request");
    if (refusal) throw refusal;
    const key = hex(correlationData);
    // Aborted once the request is over: its wait for the subscription leaves nothing behind.
    const over = new AbortController();
    const reply = new Promise<Message>((resolve, reject) => {
      const done = () => {
        over.abort();
        w.cancel();
        this.#waiting.delete(key);
        off?.();
      };
      const w: Waiting = {
        resolve: (m) => (done(), resolve(m)),
        reject: (e) => (done(), reject(e)),
        cancel: timeLimit(timeout, () =>
          w.reject(
            new DOMException(
              `No reply on ${responseTopic} to the request to ${topic} within ${timeout} ms`,
              "TimeoutError",
            ),
          )),
      };
      const off = o.signal && onAbort(o.signal, () => (done(), reject(o.signal!.reason)));
      (this.#waiting === NONE ? this.#waiting = new Map() : this.#waiting).set(key, w);
    });
    void this.#send(key, topic, payload, options, over.signal);
    return reply;
  }

  /** Subscribes to the response topic if need be, then publishes the request waiting under `key`. */
  async #send(
    key: string,
    topic: string,
    payload: string | Uint8Array,
    options: PublishOptions,
    over: AbortSignal,
  ): Promise<void> {
    try {
      // A request over (timed out, aborted) waits no more: through an outage,
      // requests that time out by the thousand would each hold their publish.
      await abortable(this.#subscription(), over);
      // Over (timed out, aborted) before it was sent: it is not sent, also when it waits
      // for its turn (the broker's Receive Maximum) or, robust, for the connection.
      if (this.#waiting.has(key)) {
        const sent = this.#link.publish(topic, payload, { ...options, signal: over });
        // A QoS 0 request too: its reply may come at once, the writer cannot tell.
        this.#out?.asked();
        await sent;
      }
    } catch (e) {
      this.#waiting.get(key)?.reject(e);
    }
  }

  /** Subscribes once to the response topic (a robust client renews it after a reconnect without session). */
  #subscription(): Promise<unknown> {
    if (this.#subscribed) return this.#subscribed;
    this.#subscribing = true;
    const p: Promise<unknown> = this.#link.subscribe(this.#topic!, 1)
      .finally(() => this.#subscribed === p && (this.#subscribing = false))
      .catch((e) => {
        if (this.#subscribed === p) this.#subscribed = undefined;
        throw e;
      });
    return this.#subscribed = p;
  }

  /**
   * Takes `m` if it came on the response topic: to its request, or dropped when late or
   * unmatched; also before any request(), a kept session's reply to the last client object's.
   */
  take(m: Incoming): boolean {
    const p = m.packet, t = p.topic;
    // Per message: ours end in "/" and 12 hex digits, which tells most topics apart at one look.
    if (t.charCodeAt(t.length - 13) !== 47 || (t !== this.#topic && t !== this.#named().topic)) {
      return false;
    }
    const data = p.properties?.correlationData;
    const w = data && this.#waiting.get(hex(data));
    w?.resolve(message(m));
    return true;
  }

  /** The connection is gone: requests waiting reject, unless the client rides it out. */
  lost(error: unknown, keep: boolean): void {
    // A new connection may be a new session: subscribe again on the next request. A robust
    // client's SUBSCRIBE still waiting goes on that connection, not one more per attempt.
    if (!keep || !this.#subscribing) this.#subscribed = undefined;
    if (keep) return;
    for (const w of [...this.#waiting.values()]) w.reject(error);
  }

  /**
   * The response topic the last CONNACK's Response Information, else the client identifier,
   * names: the same for every client object of one client identifier, so that a kept session
   * holds one, whose late replies the next object drops.
   */
  #named(): Named {
    const info = this.#link.connack?.properties.responseInformation;
    const id = this.#link.client_id;
    const n = this.#name;
    if (n && n.info === info && n.id === id) return n;
    const given = info?.replace(/\/+$/, "");
    // An empty one not assigned yet (not connected) is every such client's: this one's own.
    const last = id ? digest(id) : hex(crypto.getRandomValues(new Uint8Array(6)));
    return this.#name = { info, id, given, topic: `${given || `${id}/responses`}/${last}` };
  }

  /**
   * The response topic: built on the last CONNACK's Response Information,
   * else the client identifier, and built anew when a later CONNACK's, or
   * the identifier (one the broker assigned), differs and no request waits
   * on the old one.
   *
   * @throws {MQTTProtocolError} The broker's Response Information makes no topic name.
   * @throws {TypeError} Without one, the client identifier makes none (a "+" or "#" in it).
   */
  #responseTopic(): string {
    const { info, given, topic } = this.#named();
    if (this.#topic !== undefined && (topic === this.#topic || this.#waiting.size > 0)) {
      return this.#topic;
    }
    try {
      validateTopicName(topic, "request");
    } catch (e) {
      // Built on the client identifier when the broker gave no base: a "+"
      // or "#" in it is the caller's to change, not the broker's fault.
      if (!given) {
        throw new TypeError(
          `Cannot request: the client identifier "${this.#link.client_id}" makes no response topic: ${
            (e as Error).message
          }`,
        );
      }
      throw new MQTTProtocolError(
        `Cannot request: the broker's Response Information "${info}" makes no response topic: ${
          (e as Error).message
        }`,
      );
    }
    // The old topic's subscription goes (best effort): a robust client would
    // otherwise renew it for ever, one more after each such change.
    const old = this.#topic;
    if (old !== undefined && old !== topic) this.#link.unsubscribe(old).catch(() => {});
    this.#topic = topic;
    this.#subscribed = undefined;
    return topic;
  }
}

/** 12 hex digits that stand for `s`, the same in every run (two FNV-1a hashes). */
function digest(s: string): string {
  let a = 0x811c9dc5, b = 0x050c5d1f;
  for (let i = 0; i < s.length; i++) {
    a = Math.imul(a ^ s.charCodeAt(i), 0x01000193);
    b = Math.imul(b ^ s.charCodeAt(i), 0x01000193);
  }
  return (a >>> 0).toString(16).padStart(8, "0") + (b >>> 16).toString(16).padStart(4, "0");
}

function hex(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += b.toString(16).padStart(2, "0");
  return s;
}

/** `respond()`: publishes to the request's Response Topic, with its Correlation Data. */
export function respond(
  client: { publish(topic: string, msg: string | Uint8Array, o: PublishOptions): Promise<void> },
  request: Message,
  payload: string | Uint8Array,
  options: PublishOptions,
): Promise<void> {
  try {
    checkOptions(options, PUBLISH_OPTIONS, "respond");
    typeof payload === "string" || checkPayload(payload, "payload");
    const mine = options.properties;
    if (mine !== undefined && (typeof mine !== "object" || mine === null)) {
      throw new TypeError("Invalid properties for respond: must be an object");
    }
    const p = request?.properties;
    if (!p?.responseTopic) {
      throw new TypeError(
        "Cannot respond: the request has no Response Topic (MQTT 5 section 4.10)",
      );
    }
    return client.publish(p.responseTopic, payload, {
      ...options,
      properties: { ...options.properties, correlationData: p.correlationData },
    });
  } catch (e) {
    return Promise.reject(e);
  }
}
