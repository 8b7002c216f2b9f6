// The robust client's reconnects: the event that announces each attempt, the backoff before each,
// and reconnect() as the client itself calls it, on a lost connection and for the calls that wait
// for one (publish, wait_msg, check_msg, messages()). Its own reconnect() shares one loop among its
// callers. An override (umqtt.robust's README: "any realistic application would inherit
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

/** How long a reconnected connection must last for the next loss to start the backoff over. */
const STABLE_MS = 10_000;

/**
 * The robust client's backoff between reconnect attempts, from its `DELAY` (read on each use) up to
 * `maxMs` (`reconnectMaxDelay`): the wait the reconnect loop plans for each attempt, which the
 * client's `delay(i)` takes. It keeps the round the last reconnect began in (not those a broker
 * down refused), and when it connected: a loss within STABLE_MS of it goes on from the next
 * round's backoff, not the first (a broker that closes every connection at once, over a kept
 * publish, say, is not met every DELAY / 2).
 */
export class Backoff {
  #round = 0;
  #upAt = -Infinity;
  #planned: number | undefined;
  readonly #client: { readonly DELAY: number };
  readonly #maxMs: number;

  /**
   * @param client The robust client, whose `DELAY` is the base delay in seconds.
   * @param maxMs The longest wait.
   */
  constructor(client: { readonly DELAY: number }, maxMs: number) {
    this.#client = client;
    this.#maxMs = maxMs;
  }

  /** The round of the server list a reconnect starting now begins in. */
  first(): number {
    return performance.now() - this.#upAt < STABLE_MS ? this.#round + 1 : 1;
  }

  /**
   * Plans the wait before server `k` (from 0) of round `round`, in ms: full jitter before the
   * first attempt too (a fleet must not come back to a restarted broker all at once); exponential
   * backoff between rounds of the list, none within one.
   */
  plan(k: number, round: number): number {
    return this.#planned = k > 0
      ? 0
      : backoff(Math.max(round - 1, 1), this.#client.DELAY, this.#maxMs);
  }

  /** `delay(i)`'s wait, in ms: the one planned for attempt `i`, taken once; else its backoff. */
  take(i: number): number {
    const ms = this.#planned ?? backoff(i, this.#client.DELAY, this.#maxMs);
    this.#planned = undefined;
    return ms;
  }

  /** A reconnect that began in round `first` connected. */
  connected(first: number): void {
    this.#round = first;
    this.#upAt = performance.now();
  }

  /** An application's connect() succeeded: the backoff starts over. */
  reset(): void {
    this.#round = 0;
  }
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
