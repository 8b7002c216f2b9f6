// A stand-in for the library's reconnecting client (lib/robust.ts, the
// umqtt.robust API) until that lands: the same names — DELAY, DEBUG,
// delay(i), log(in_reconnect, e), reconnect(), and a wait_msg that rides out
// a lost connection — so that `sub` switches to the real one by changing its
// import line. Only what `sub` needs: it publishes nothing while reconnecting.
import {
  type Message,
  MQTTClient as SimpleClient,
  MQTTConnectionError,
  type QoS,
} from "../../mod.ts";

/** The simple client plus umqtt.robust's reconnect loop, for `umqtt sub`. */
export class MQTTClient extends SimpleClient {
  /** First reconnect delay in seconds; doubles per failed attempt, up to 30 s. */
  DELAY = 2;
  /** Whether {@linkcode MQTTClient.log} prints. */
  DEBUG = false;
  #clean = true;
  #closed = false;
  #subscriptions = new Map<string, QoS>();

  /** Waits before reconnect attempt `i` (0-based): DELAY·2^i, capped, with full jitter. */
  delay(i: number): Promise<void> {
    const ms = Math.min(this.DELAY * 2 ** Math.min(i, 16), 30) * 1000;
    return new Promise((r) => setTimeout(r, ms / 2 + Math.random() * ms / 2));
  }

  /** Reports a lost connection (`in_reconnect` false) or a failed attempt (true). */
  log(in_reconnect: boolean, e: unknown): void {
    if (this.DEBUG) console.error(in_reconnect ? "mqtt reconnect:" : "mqtt:", e);
  }

  /** Connects and remembers the session kind for reconnecting. */
  override connect(clean_session: boolean = true): Promise<boolean> {
    this.#clean = clean_session;
    this.#closed = false;
    return super.connect(clean_session);
  }

  /** Subscribes and remembers the filters, to subscribe again when a session is lost. */
  // Loosely typed to fit every overload of the base method, whichever version it is.
  // deno-lint-ignore no-explicit-any
  override async subscribe(...args: any[]): Promise<any> {
    // deno-lint-ignore no-explicit-any
    const result = await (SimpleClient.prototype.subscribe as any).apply(this, args);
    const [topic, qos] = args;
    if (typeof topic === "string") {
      this.#subscriptions.set(topic, (typeof qos === "object" ? qos?.qos : qos) ?? 0);
    } else {
      for (const [t, q] of topic as [string, QoS][]) this.#subscriptions.set(t, q);
    }
    return result;
  }

  /** Stops reconnecting for good and disconnects. */
  override disconnect(): Promise<void> {
    this.#closed = true;
    return super.disconnect();
  }

  /**
   * Connects again until it succeeds; subscribes again when the broker kept
   * no session.
   *
   * @throws {MQTTConnectionError} After `disconnect()`.
   */
  async reconnect(): Promise<boolean> {
    for (let i = 0;; i++) {
      if (this.#closed) throw new MQTTConnectionError("Cannot reconnect: disconnect() was called");
      try {
        const session = await super.connect(this.#clean);
        if (!session && this.#subscriptions.size > 0) {
          await SimpleClient.prototype.subscribe.call(this, [...this.#subscriptions]);
        }
        return session;
      } catch (e) {
        if (this.#closed) throw e;
        this.log(true, e);
        await this.delay(i);
      }
    }
  }

  /** The next message, reconnecting as often as it takes. */
  override async wait_msg(): Promise<Message> {
    for (;;) {
      try {
        return await super.wait_msg();
      } catch (e) {
        if (!(e instanceof MQTTConnectionError) || this.#closed) throw e;
        this.log(false, e);
        await this.reconnect();
      }
    }
  }
}
