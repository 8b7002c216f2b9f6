// The robust client's reconnects: the event that announces each attempt, and reconnect() as the
// client itself calls it, on a lost connection and for the calls that wait for one (publish,
// wait_msg, check_msg, messages()). Its own reconnect() shares one loop among its callers. An
// override (umqtt.robust's README: "any realistic application would inherit
// umqtt.robust.MQTTClient class and override delay() and reconnect()") runs one at a time too, as
// it did there, where nothing ran beside it. While it runs, the client counts its connect() as the
// reconnect's attempt (lib/robust.ts): calls wait for it, and an application connect() waits for
// it, or is its connection.

import { sleep } from "./_abortable.ts";
import { MQTTConnectionError } from "./errors.ts";
import type { ReconnectingDetail } from "./_robust_options.ts";
import { endpointUrl } from "./_servers.ts";
import type { Endpoint } from "./transports/endpoint.ts";

/** The `reconnecting` event of attempt `attempt`, about to be made to `server` after `delay` ms. */
export function reconnecting(
  attempt: number,
  delay: number,
  error: unknown,
  server: Endpoint,
): CustomEvent<ReconnectingDetail> {
  const detail = { attempt, delay, error, server: endpointUrl(server) };
  return new CustomEvent<ReconnectingDetail>("reconnecting", { detail });
}

/** The error of a reconnect ended by `disconnect()`. */
export const stopped = (): MQTTConnectionError =>
  new MQTTConnectionError("Not reconnecting: disconnect() was called");

/**
 * `wait`, then rejected with {@linkcode stopped} if `closed()`: an override of
 * `reconnect()` that awaits the client's `delay()` ends there. Marked handled,
 * so that an override of `delay()` that drops it (calls `super.delay(i)`
 * without awaiting it) ends no process at `disconnect()`.
 */
export function stopping(wait: Promise<void>, closed: () => boolean): Promise<void> {
  const p = wait.then(() => closed() ? Promise.reject(stopped()) : undefined);
  p.catch(() => {});
  return p;
}

/**
 * Milliseconds to wait before attempt `i` (from 1): exponential backoff from
 * `delaySeconds` with full jitter, capped at `maxMs`.
 */
export function backoff(i: number, delaySeconds: number, maxMs: number): number {
  return Math.random() * Math.min(maxMs, delaySeconds * 1000 * 2 ** Math.min(i - 1, 30));
}

/**
 * `delay(i)`'s wait of `ms`, until `signal` aborts; a RangeError when `i` is
 * no number: `ms` is then NaN, and a timer of NaN ms waits not at all.
 */
export function napFor(ms: number, i: unknown, signal: AbortSignal): Promise<void> {
  if (typeof i === "number" && ms >= 0) return sleep(ms, signal);
  return Promise.reject(
    new RangeError(
      `Invalid delay() attempt ${
        String(i)
      }: must be a number, the attempt about to be made (from 1)`,
    ),
  );
}

/** What is asked of the robust client. */
export interface Reconnecting {
  reconnect(): Promise<boolean>;
  readonly connected: boolean;
}

/** Calls the client's `reconnect()`, an override of it one at a time. */
export class ReconnectOnce {
  #running: Promise<boolean> | null = null;

  /**
   * @param client The robust client.
   * @param own Its class's own `reconnect` (itself one loop at a time).
   * @param losses Connections it lost so far.
   */
  constructor(
    readonly client: Reconnecting,
    readonly own: () => Promise<boolean>,
    readonly losses: () => number,
  ) {}

  /** The override's call under way: its `connect(false)` is the reconnect's attempt. */
  get running(): Promise<boolean> | null {
    return this.#running;
  }

  /**
   * `reconnect()`, or the override's call under way.
   *
   * @returns Its session-present flag.
   * @throws {MQTTConnectionError} The override returned without connecting (umqtt.robust's README:
   * "not doing anything at all"): the calls that waited for it fail, rather than call it again and
   * again in a loop of promises that no timer or I/O would ever break into.
   */
  call(): Promise<boolean> {
    const c = this.client;
    if (c.reconnect === this.own) return c.reconnect();
    return this.#running ??= (async () => {
      await null; // set first, for the override's connect(false)
      try {
        // Lost again before it returned: that loss found this call under way, and joined it.
        for (let n = this.losses();; n = this.losses()) {
          const present = await c.reconnect();
          if (c.connected) return present;
          if (this.losses() === n) {
            throw new MQTTConnectionError("Not connected: reconnect() returned without connecting");
          }
        }
      } finally {
        this.#running = null;
      }
    })();
  }
}
