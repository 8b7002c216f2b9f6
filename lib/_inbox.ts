// Received messages waiting for the application, and the calls waiting for
// them: the one queue that wait_msg, check_msg and messages() share, its QoS
// 0 drop policy, and how a message is handed out and then acknowledged.
//
// The hot path is a message already queued: wait_msg and messages() hand it
// out without an async function or a waiter, in one settled promise.
import type { Incoming, Pending } from "./_protocol.ts";
import { MQTTConnectionError } from "./errors.ts";
import { onAbort } from "./_abortable.ts";
import { Fifo } from "./_ordered.ts";
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

// Shared by every inbox until it needs its own, never added to: an idle
// client carries no empty array or set.
const NONE: never[] = [];
const NO_WAITERS = new Fifo<never>();
// When each queued QoS 1 message with a Message Expiry Interval came (see `expired`).
const ARRIVED = new WeakMap<Incoming, number>();

/**
 * How long (ms) queued messages are handed out one after another before the
 * next waits for a timer turn. A queued message is handed out in a promise
 * that is already settled, so a consumer working through a backlog never
 * leaves the microtask queue: no timer (the keepalive's PINGREQ) and no read
 * runs until the queue is empty. 1000 queued messages at 5 ms each held the
 * event loop 5 s, and mosquitto closed the connection (keepalive 2 s).
 */
const RUN_MS = 50;

/** One turn of the event loop: due timers run first. */
const timerTurn = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

/** The queue of received messages, with its waiters and its QoS 0 drop policy. */
export class Inbox {
  /** QoS 0 messages dropped because the queue was full. */
  dropped = 0;
  /**
   * `set_callback()`'s function, read as each message is handled, not when
   * `wait_msg` is called: one set while a call waits runs for its message,
   * as umqtt.simple's `self.cb` does. A callback given to `receive`/`check` is used instead.
   */
  callback: MessageCallback | undefined;
  readonly #max: number;
  readonly #link: InboxLink;
  // Handed-out slots before #head are cleared, so that they pin nothing.
  #queue: (Incoming | undefined)[] = NONE;
  #head = 0;
  // No QoS 0 message queued before this index: where the search for the
  // oldest one starts, so that a QoS 1 backlog is walked once, not per drop.
  #zeroFrom = 0;
  // Empty slots after #head, left by dropped messages; the last slot is never one.
  #holes = 0;
  // In call order: served oldest first, withdrawn from anywhere (an abort).
  #waiters: Fifo<Pending<Incoming>> = NO_WAITERS;
  // The reader waiting for the queue to empty (see `drained`).
  #drained: (() => void) | null = null;
  // Messages handed to a consumer so far, and as of the last `drained()`.
  #took = 0;
  #tookBefore = 0;
  // The run of queued messages handed out without a wait (see RUN_MS): when
  // its clock started (0: no run; -1: not yet), and #took when it began.
  #runSince = 0;
  #runFrom = 0;
  // The timer turn a long run waits for: messages taken meanwhile are handed out after it, in order.
  #turning: Promise<void> | null = null;

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
    // (hot: a Map's size first, so that a message queued costs no look for the oldest waiter)
    if (this.#waiters.size !== 0) {
      this.#took++;
      return this.#waiters.shift()!.resolve(message);
    }
    const queue = this.#queue;
    if (queue.length - this.#head - this.#holes >= this.#max && message.packet.qos === 0) {
      // Full: drop the oldest QoS 0 message, which may be this one. QoS 1
      // and 2 messages are never dropped: they are acknowledged only once
      // handled, so the broker's in-flight window bounds them.
      let i = Math.max(this.#head, this.#zeroFrom);
      while (i < queue.length && queue[i]?.packet.qos !== 0) i++;
      this.#zeroFrom = i;
      this.dropped++;
      if (i === queue.length) return;
      // Its slot is left empty, nothing moved (splice() moved the queue after
      // it, and moving the messages before it moved a QoS 1 backlog on every
      // drop: 20 000 QoS 0 messages behind 50 000 QoS 1 ones took 30 s); the
      // empty slots go once they outnumber the messages.
      queue[this.#zeroFrom++] = undefined;
      if (++this.#holes * 2 > queue.length - this.#head) {
        this.#queue = queue.filter((q) => q);
        this.#head = this.#zeroFrom = this.#holes = 0;
      }
    }
    const p = message.packet; // an MQTT 3.1.1 PUBLISH has no properties
    if (p.qos === 1 && p.properties?.messageExpiryInterval) {
      ARRIVED.set(message, performance.now());
    }
    if (this.#queue === NONE) this.#queue = [];
    this.#queue.push(message);
  }

  /**
   * For the reader, before its next read: settles once the queue is empty,
   * or at the next turn of the event loop, whichever comes first. Returns
   * nothing (go on at once) when the queue is empty, or when no consumer
   * took a message since the last call: an application that does not
   * consume, or polls with check_msg, is not held to its timers.
   *
   * Reads that complete at once (Deno's, from a peer that writes as fast as
   * it can) would otherwise outrun a wait_msg loop tick for tick, and its
   * queue grow to `max`: a consumer that keeps up takes each chunk's messages
   * while they are young. One that does not still has the drop policy.
   */
  drained(): Promise<void> | undefined {
    const active = this.#took !== this.#tookBefore;
    this.#tookBefore = this.#took;
    if (this.#head === this.#queue.length || !active) return undefined;
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        if (this.#drained === done) this.#drained = null;
        resolve();
      };
      const timer = setTimeout(done, 0);
      this.#drained = done;
    });
  }

  /**
   * A packet went out whose answer a caller may await (a PUBACK, a SUBACK, a
   * PINGRESP): the reader reads on at once, as if no message had been taken
   * since its last read. Held for a timer turn, the answer to each message of
   * a backlog waited a turn (4 ms in Deno, a second in a hidden tab).
   */
  asked(): void {
    this.#tookBefore = this.#took;
    this.#drained?.();
  }

  /** The connection ended: every waiter rejects; queued messages stay to be handed out. */
  fail(error: Error): void {
    for (const w of this.#waiters.keys()) this.#waiters.delete(w), w.reject(error);
    this.#drained?.();
  }

  /** Whether a message waits to be handed out (the robust client hands it out while offline). */
  get queued(): boolean {
    return this.#head < this.#queue.length;
  }

  /** `wait_msg`: the next message, through `callback`, then acknowledged. */
  receive(signal: AbortSignal | undefined, callback?: MessageCallback): Promise<Message> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    const queued = this.#take();
    if (!queued) {
      return this.#wait(signal, "wait_msg").then((q) =>
        this.#turning
          ? this.#turning.then(() => this.#handle(q, callback))
          : this.#handle(q, callback)
      );
    }
    return this.#settle(queued, callback);
  }

  /**
   * `check_msg`: at most one queued message, as `receive` hands it out; never
   * waits on the network. None queued, it resolves after a timer turn: a
   * polling loop that never sleeps still lets the reader and keepalive run.
   */
  check(callback?: MessageCallback): Promise<Message | undefined> {
    const queued = this.#take();
    if (queued) return this.#settle(queued, callback);
    this.#runSince = 0; // the application waits before it looks again
    const closed = this.#link.closed("check_msg");
    return closed ? Promise.reject(closed) : timerTurn() as Promise<undefined>;
  }

  /** `messages()`: each message acknowledged once the loop's body has run. */
  messages(signal: AbortSignal | undefined): AsyncGenerator<Message, void, undefined> {
    return new Messages(this, signal);
  }

  /**
   * Acknowledges `queued` (for `Messages` too). A session store that fails to
   * keep a QoS 2 message's id throws: the message is then left unacknowledged,
   * as when its callback throws, so the acks of the later messages still go.
   */
  ack(queued: Incoming): void {
    try {
      this.#link.core.ack(queued);
    } catch (e) {
      this.#link.core.unhandled(queued);
      throw e;
    }
  }

  /**
   * The next message for `Messages`: at once when one is queued, else when
   * one arrives; `undefined` when the iteration ends (after `disconnect()`).
   */
  next(signal: AbortSignal | undefined): Incoming | Promise<Incoming | undefined> {
    const queued = this.#take();
    if (queued) return this.#turning || this.#runLong() ? this.#turn().then(() => queued) : queued;
    return this.#wait(signal, "iterate messages").then(
      (q) => this.#turning ? this.#turning.then(() => q) : q,
      (e) => {
        if (this.#link.userClosed && e instanceof MQTTConnectionError) return undefined;
        throw e;
      },
    );
  }

  /**
   * `#handle` of a queued message, as one promise: settled at once unless the
   * callback waits, or the run of hand-outs is long (after a timer turn then,
   * as every message taken until that turn has passed).
   */
  #settle(queued: Incoming, callback: MessageCallback | undefined): Promise<Message> {
    if (this.#turning || this.#runLong()) {
      return this.#turn().then(() => this.#handle(queued, callback));
    }
    try {
      return Promise.resolve(this.#handle(queued, callback));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /**
   * Runs `callback` on the message, then acknowledges it. Returns the message
   * itself when the callback returns nothing to wait for, so that the common
   * case costs no promise of its own.
   *
   * @throws What the callback throws; the message is then not acknowledged.
   */
  #handle(queued: Incoming, given: MessageCallback | undefined): Message | Promise<Message> {
    const msg = message(queued), callback = given ?? this.callback;
    if (callback) {
      let r: unknown;
      try {
        r = callback(msg.topic, msg.payload, msg);
      } catch (e) {
        this.#link.core.unhandled(queued);
        throw e;
      }
      // Awaited only when it returned something (a promise, as an async callback does).
      if (r !== undefined) {
        return Promise.resolve(r).then(() => {
          this.ack(queued);
          return msg;
        }, (e) => {
          this.#link.core.unhandled(queued);
          throw e;
        });
      }
    }
    this.ack(queued);
    return msg;
  }

  /**
   * A connection resumed the session (Session Present 1): the QoS 1
   * messages still queued came on earlier connections, and the broker sends
   * each again on this one (MQTT-4.4.0-1), where it can be acknowledged.
   * They go: kept, each would be handed out twice, its first copy never
   * acknowledged, and a connection that keeps failing would pile up copies.
   * But those the broker may not send again stay, as the protocol state
   * (`core`) tells: one of a session it ended since (a clean one, an expired
   * one), or one before a CONNECT that went unanswered. So do those up to
   * the last one whose Message Expiry Interval has passed (see `expired`),
   * in the order they came: the broker's resends of those among them that it
   * still has then come again, with DUP set, after them.
   */
  resumed(core?: { resends(message: Incoming): boolean }): void {
    const queue = this.#queue;
    if (this.#head === queue.length) return;
    let last = queue.length - 1;
    for (const now = performance.now(); last >= this.#head && !expired(queue[last], now);) last--;
    let kept = this.#head;
    for (let i = this.#head; i < queue.length; i++) {
      const q = queue[i];
      if (q && (i <= last || q.packet.qos !== 1 || core?.resends(q) === false)) queue[kept++] = q;
    }
    queue.length = kept;
    this.#zeroFrom = this.#holes = 0;
    if (kept === this.#head) {
      queue.length = this.#head = 0;
      this.#drained?.();
    }
  }

  /** The oldest queued message, if any. */
  #take(): Incoming | undefined {
    const queue = this.#queue;
    if (this.#head === queue.length) return undefined;
    let q;
    // Past the empty slots: a message follows them.
    while (!(q = queue[this.#head])) this.#head++, this.#holes--;
    queue[this.#head++] = undefined;
    this.#took++;
    if (this.#head === queue.length) {
      queue.length = this.#zeroFrom = 0;
      this.#head = 0;
      this.#drained?.();
    } else this.#compact();
    return q;
  }

  /** Drops the cleared slots before the head once they are most of the queue. */
  #compact(): void {
    if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#zeroFrom = Math.max(0, this.#zeroFrom - this.#head);
      this.#head = 0;
    }
  }

  /**
   * After a queued message was taken: whether it is to be handed out after a
   * timer turn, the run of hand-outs without one having lasted RUN_MS. The
   * clock (~90 ns under Deno) is read from the 8th message of a run on, at
   * the 16th, 32nd and 64th, then every 64th: never in a short run, rarely
   * when messages are handled quickly, soon when they are slow.
   */
  #runLong(): boolean {
    if (this.#runSince === 0) {
      this.#runSince = -1;
      this.#runFrom = this.#took;
      return false;
    }
    const n = this.#took - this.#runFrom;
    if (n < 8 || ((n & (n - 1)) !== 0 && (n & 63) !== 0)) return false;
    const now = performance.now();
    if (this.#runSince < 0) {
      this.#runSince = now;
      return false;
    }
    return now - this.#runSince > RUN_MS;
  }

  /**
   * A timer turn, after which a new run begins: one for all the calls made
   * until it has passed, so that each message is handed out after those
   * taken before it (their callbacks in the order the messages came).
   */
  #turn(): Promise<void> {
    return this.#turning ??= timerTurn().then(() => {
      this.#turning = null;
      this.#runSince = 0;
    });
  }

  /** The next message to arrive, for callers served in call order. */
  #wait(signal: AbortSignal | undefined, what: string): Promise<Incoming> {
    this.#runSince = 0;
    const closed = this.#link.closed(what);
    if (closed) return Promise.reject(closed);
    if (this.#waiters === NO_WAITERS) this.#waiters = new Fifo();
    if (!signal) return new Promise((resolve, reject) => this.#waiters.add({ resolve, reject }));
    return new Promise((resolve, reject) => {
      const waiter: Pending<Incoming> = {
        resolve: (q) => (off(), resolve(q)),
        reject: (e) => (off(), reject(e)),
      };
      // Only a waiter still waiting is withdrawn: one already handed a
      // message resolves with it, so no message is lost to an abort.
      const off = onAbort(signal, () => this.#waiters.delete(waiter) && reject(signal.reason));
      this.#waiters.add(waiter);
    });
  }
}

/**
 * `gen`, disposable by `await using` (which calls `Symbol.asyncDispose`) where
 * the runtime's async generators are not: Node 20 and 22 have the symbol but
 * no generator method for it. Disposing returns the generator, as Deno's and
 * Bun's own method does.
 */
export function disposable<T>(
  gen: AsyncGenerator<T, void, undefined>,
): AsyncGenerator<T, void, undefined> {
  const key = Symbol.asyncDispose;
  // Node before 20.4 has no such symbol: `await using` cannot run there at all.
  if (key && !(key in gen)) {
    Object.defineProperty(gen, key, { value: () => gen.return().then(() => {}) });
  }
  return gen;
}

const DONE: IteratorResult<Message, void> = Object.freeze({ value: undefined, done: true });

/**
 * `messages()`, as an async generator over the inbox would run, without one:
 * a message already queued costs one settled promise and one result. Each
 * message is acknowledged when the next is asked for, or when the loop is
 * left (`return`, `throw`): the body had it either way. Calls made while one
 * still waits for a message run after it, in order, as a generator's do.
 */
class Messages implements AsyncGenerator<Message, void, undefined> {
  readonly #inbox: Inbox;
  readonly #signal: AbortSignal | undefined;
  // The message handed out last, acknowledged by the next call.
  #held: Incoming | undefined;
  #done = false;
  // The last call still under way (waiting for a message): later calls run after it.
  #tail: Promise<unknown> | null = null;
  // Set by #next when it waits for a message.
  #waits = false;

  constructor(inbox: Inbox, signal: AbortSignal | undefined) {
    this.#inbox = inbox;
    this.#signal = signal;
  }

  next(): Promise<IteratorResult<Message, void>> {
    if (this.#tail) return this.#chain(() => this.#next());
    const r = this.#next();
    if (this.#waits) this.#track(r);
    return r;
  }

  return(): Promise<IteratorResult<Message, void>> {
    return this.#tail ? this.#chain(() => this.#end()) : this.#end();
  }

  throw(e: unknown): Promise<IteratorResult<Message, void>> {
    return this.#tail ? this.#chain(() => this.#end(e, true)) : this.#end(e, true);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.return();
  }

  #next(): Promise<IteratorResult<Message, void>> {
    this.#waits = false;
    const failed = this.#release();
    if (failed) return failed;
    if (this.#done) return Promise.resolve(DONE);
    const signal = this.#signal;
    if (signal?.aborted) return this.#end(signal.reason, true);
    const q = this.#inbox.next(signal);
    if (!(q instanceof Promise)) return Promise.resolve(this.#hold(q));
    this.#waits = true;
    return q.then((q) => q ? this.#hold(q) : this.#end(), (e) => this.#end(e, true));
  }

  /** The iteration ends: the message handed out is acknowledged; rejects with `error` if thrown. */
  #end(error?: unknown, thrown = false): Promise<IteratorResult<Message, void>> {
    this.#done = true;
    return this.#release() ?? (thrown ? Promise.reject(error) : Promise.resolve(DONE));
  }

  #hold(q: Incoming): IteratorResult<Message, void> {
    this.#held = q;
    return { value: message(q), done: false };
  }

  /**
   * Acknowledges the message handed out last. An acknowledgement that throws
   * (a session store's failed save) ends the iteration: the rejection to return.
   */
  #release(): Promise<never> | undefined {
    const q = this.#held;
    this.#held = undefined;
    try {
      if (q) this.#inbox.ack(q);
    } catch (e) {
      this.#done = true;
      return Promise.reject(e);
    }
  }

  #chain(call: () => Promise<IteratorResult<Message, void>>) {
    const r = this.#tail!.then(call, call);
    this.#track(r);
    return r;
  }

  #track(r: Promise<unknown>): void {
    this.#tail = r;
    const clear = () => {
      if (this.#tail === r) this.#tail = null;
    };
    r.then(clear, clear);
  }
}

/**
 * Whether `q` is a QoS 1 message whose Message Expiry Interval has passed, or
 * all but its last second (the broker counts whole seconds), by `now`: one
 * the broker may not send again at a resume. mosquitto 2.0 sends none such,
 * though its delivery had begun (MQTT-3.3.2-5 lets a server delete only one
 * whose delivery had not): dropped, it was lost.
 */
function expired(q: Incoming | undefined, now: number): boolean {
  const at = q && ARRIVED.get(q);
  return at !== undefined && now - at + 1000 >= q!.packet.properties!.messageExpiryInterval! * 1000;
}

/** The message the application is handed for one received (a reply to `request()` too). */
export function message({ packet: p }: Incoming): Message {
  const { topic, payload, qos, retain, dup, properties } = p;
  // MQTT 5: the protocol state gave every message properties, its topic alias
  // resolved. One literal each way, so that neither grows after it is made.
  return properties
    ? { topic, payload, qos, retain, dup, properties }
    : { topic, payload, qos, retain, dup };
}
