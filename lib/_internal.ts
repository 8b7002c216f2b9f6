// What the reconnecting client (robust.ts) needs from the core client and no
// user should see: one record per client, keyed by the client object.
import type { Subscription } from "./codec/packet.ts";
import type { Endpoint } from "./transports/default.ts";

/** Hooks the core client consults; robust.ts sets them. */
export interface CoreHooks {
  /** Keep acknowledged-pending publishes awaiting across connection loss (robust) instead of rejecting them. */
  keepPending: boolean;
  /** Called once when a connection ends other than by `disconnect()`. */
  onLost?: (error: Error) => void;
  /** Rejects every kept publish; set by the core. */
  rejectKept: (error: Error) => void;
  /**
   * Runs a call that needs the connection, once its arguments are checked:
   * the robust client rides out lost connections. `offlineBytes` is given
   * by publishes only, which count against the offline limits.
   */
  run?: <T>(op: () => Promise<T>, offlineBytes?: number) => Promise<T>;
  /** A SUBSCRIBE was answered: one return code per subscription. */
  subscribed?: (subscriptions: Subscription[], codes: number[]) => void;
  /** An UNSUBSCRIBE was answered. */
  unsubscribed?: (topics: string[]) => void;
  /** The servers in the order a reconnect tries them: the last one that worked first; set by the core. */
  servers: () => Endpoint[];
  /** One connection attempt to one server; set by the core. */
  connectTo: (server: Endpoint, clean: boolean, signal?: AbortSignal) => Promise<boolean>;
  /** Subscribes on the current connection, past `run`: the robust client's renewal; set by the core. */
  resubscribe: (subscriptions: Subscription[], signal?: AbortSignal) => Promise<number[]>;
}

/** The hooks of each core client. */
export const hooks: WeakMap<object, CoreHooks> = new WeakMap();
