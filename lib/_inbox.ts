// Received messages waiting for the application, and the calls waiting for
// them: the one queue that wait_msg, check_msg and messages() share, its QoS
// 0 drop policy, and how a message is handed out and then acknowledged.
import type { Incoming, Pending } from "./_protocol.ts";
import { MQTTConnectionError } from "./errors.ts";
import type { Message, MessageCallback } from "./options.ts";

/** What the inbox needs from the connection. */
export interface InboxLink {
  /** Acknowledges handled messages. */
  readonly core: { ack(message: Incoming): void; unhandled(message: Incoming): void };
  /** Why no message can come for `what`: null while a connection is open. */
  closed(what: string): MQTTConnectionError | null;
  /** Whether `disconnect()` ended the connection. */
  readonly userClosed: boolean;
}

// Shared by every inbox until it needs its own, never pushed to: an idle
// client carries no empty arrays.
const NONE: never[] = [];

/** The queue of received messages, with its waiters and its QoS 0 drop policy. */
export class Inbox {
  /** QoS 0 messages dropped because the queue was full. */
  dropped = 0;
  readonly #max: number;
  readonly #link: InboxLink;
  #queue: Incoming[] = NONE;
  #head = 0;
  #waiters: Pending<Incoming>[] = NONE;

  /**
   * @param max Most messages held; past it, QoS 0 messages are dropped oldest first.
   * @param link The protocol state, for acknowledgements, and the connection's state.
   */
  constructor(max: number, link: InboxLink) {
    this.#max = max;
    this.#link = link;
  }

  /** A message arrived: to the oldest waiter, else into the queue. */
  push(message: Incoming): void {
    const waiter = this.#waiters.shift();
    if (waiter) return waiter.resolve(message);
    if (this.#queue.length - this.#head >= this.#max && message.packet.qos === 0) {
      // Full: drop the oldest QoS 0 message, which may be this one. QoS 1
      // and 2 messages are never dropped: they are acknowledged only once
      // handled, so the broker's in-flight window bounds them.
      let i = this.#head;
      while (i < this.#queue.length && this.#queue[i].packet.qos !== 0) i++;
      this.dropped++;
      if (i === this.#queue.length) return;
      this.#queue.splice(i, 1);
    }
    if (this.#queue === NONE) this.#queue = [];
    this.#queue.push(message);
  }

  /** The connection ended: every waiter rejects; queued messages stay to be handed out. */
  fail(error: Error): void {
    for (const w of this.#waiters.splice(0)) w.reject(error);
  }

  /** `wait_msg`: the next message, through `callback`, then acknowledged. */
  async receive(signal: AbortSignal | undefined, callback?: MessageCallback): Promise<Message> {
    signal?.throwIfAborted();
    const queued = this.#take() ?? await this.#wait(signal, "wait_msg");
    if (callback) return this.#handle(queued, callback);
    // No callback to await: skip #handle's promise and the ticks it costs.
    const msg = message(queued);
    this.#link.core.ack(queued);
    return msg;
  }

  /** `check_msg`: at most one queued message, as `receive` hands it out; never waits. */
  check(callback?: MessageCallback): Promise<Message | undefined> {
    const queued = this.#take();
    if (queued) return this.#handle(queued, callback);
    const closed = this.#link.closed("check_msg");
    return closed ? Promise.reject(closed) : Promise.resolve(undefined);
  }

  /** `messages()`: each message acknowledged once the loop's body has run. */
  async *messages(signal: AbortSignal | undefined): AsyncGenerator<Message, void, undefined> {
    for (;;) {
      signal?.throwIfAborted();
      let queued = this.#take();
      if (!queued) {
        try {
          queued = await this.#wait(signal, "iterate messages");
        } catch (e) {
          if (this.#link.userClosed && e instanceof MQTTConnectionError) return;
          throw e;
        }
      }
      try {
        yield message(queued);
      } finally {
        // The loop asks for the next message, or is left (break, return,
        // throw): the body had the message either way.
        this.#link.core.ack(queued);
      }
    }
  }

  async #handle(queued: Incoming, callback?: MessageCallback): Promise<Message> {
    const msg = message(queued);
    try {
      if (callback) await callback(msg.topic, msg.payload, msg);
    } catch (e) {
      this.#link.core.unhandled(queued);
      throw e;
    }
    this.#link.core.ack(queued);
    return msg;
  }

  /** The oldest queued message, if any. */
  #take(): Incoming | undefined {
    if (this.#head === this.#queue.length) return undefined;
    const q = this.#queue[this.#head++];
    if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
    return q;
  }

  /** The next message to arrive, for callers served in call order. */
  #wait(signal: AbortSignal | undefined, what: string): Promise<Incoming> {
    const closed = this.#link.closed(what);
    if (closed) return Promise.reject(closed);
    if (this.#waiters === NONE) this.#waiters = [];
    if (!signal) return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
    return new Promise((resolve, reject) => {
      const done = () => signal.removeEventListener("abort", onAbort);
      const waiter: Pending<Incoming> = {
        resolve: (q) => (done(), resolve(q)),
        reject: (e) => (done(), reject(e)),
      };
      // Only a waiter still waiting is withdrawn: one already handed a
      // message resolves with it, so no message is lost to an abort.
      const onAbort = () => {
        const i = this.#waiters.indexOf(waiter);
        if (i !== -1) {
          this.#waiters.splice(i, 1);
          reject(signal.reason);
        }
      };
      signal.addEventListener("abort", onAbort, { once: true });
      this.#waiters.push(waiter);
    });
  }
}

function message({ packet: p }: Incoming): Message {
  const m: Message = {
    topic: p.topic,
    payload: p.payload,
    qos: p.qos,
    retain: p.retain,
    dup: p.dup,
  };
  // MQTT 5: the protocol state gave every message properties, its topic alias resolved.
  if (p.properties) m.properties = p.properties;
  return m;
}
