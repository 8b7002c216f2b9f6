// What the reconnecting client (robust.ts) needs from the core client and no
// user should see. The core client fills `access` once, from a static block
// that may reach its private members, so no client carries closures for it.
import type { Subscription } from "./codec/packet.ts";
import type { SubscribeProperties } from "./codec/properties.ts";
import type { Endpoint } from "./transports/endpoint.ts";
import type { DisconnectOptions } from "./options.ts";
import type { Acked } from "./_protocol_types.ts";

/** Hooks the core client consults; robust.ts sets them. */
export interface CoreHooks {
  /** Keep acknowledged-pending publishes awaiting across connection loss (robust) instead of rejecting them. */
  keepPending: boolean;
  /** Called once when a connection ends other than by `disconnect()`. */
  onLost?: (error: Error) => void;
  /**
   * Runs a call that needs the connection, once its arguments are checked:
   * the robust client rides out lost connections. `offlineBytes` is given
   * by publishes only, which count against the offline limits; the call's
   * `signal` ends the wait for a connection. `leaving`: an unsubscribe()'s filters.
   */
  run?: <T>(
    op: () => Promise<T>,
    offlineBytes?: number,
    signal?: AbortSignal,
    leaving?: readonly string[],
  ) => Promise<T>;
  /** A SUBSCRIBE was answered: one return code per subscription. */
  subscribed?: (
    subscriptions: Subscription[],
    codes: number[],
    properties?: SubscribeProperties,
  ) => void;
  /**
   * A CONNACK accepted a connection: called before the session's packets are
   * resent (`resending`: there are some), so that what it writes goes out
   * ahead of them (the robust client's renewed subscriptions, in place
   * before its resent publishes); `clean`: the CONNECT asked for a clean start.
   */
  accepted?: (sessionPresent: boolean, resending: boolean, clean: boolean) => void;
  /** An UNSUBSCRIBE was answered. */
  unsubscribed?: (topics: string[]) => void;
  /**
   * MQTT 5: the servers a refused connection attempt's Server Reference
   * names, for connect() to try next (the robust client follows them).
   */
  referred?: (error: unknown, server: Endpoint) => Endpoint[];
}

/** The hooks of every simple client (the robust client's are its own): none set, never written to. */
export const NO_HOOKS: CoreHooks = { keepPending: false };

/** What the core client lets the robust client do, as functions of the client. */
export interface CoreAccess {
  /** The client's hooks, for the robust client to set. */
  hooks(client: object): CoreHooks;
  /** Rejects every kept publish, and the requests waiting for replies. */
  rejectKept(client: object, error: Error): void;
  /**
   * Checks disconnect()'s options as the core client's disconnect() does,
   * so that invalid ones throw before the robust client stops reconnecting;
   * valid ones count as a disconnect() call (see `since`).
   */
  checkDisconnect(client: object, options: DisconnectOptions | undefined): unknown;
  /** A check that throws once disconnect() is called after this call: a connect() it ends. */
  since(client: object): () => void;
  /** The servers in the order a reconnect tries them: the last one that worked first. */
  servers(client: object): Endpoint[];
  /** One connection attempt to one server. */
  connectTo(
    client: object,
    server: Endpoint,
    clean: boolean,
    signal?: AbortSignal,
  ): Promise<boolean>;
  /**
   * A connection ending under a DISCONNECT of the client's own (a protocol
   * error; not `disconnect()`): settles once it has ended. Otherwise nothing.
   */
  ending(client: object): Promise<unknown> | undefined;
  /** Subscribes on the current connection, past `run`: the robust client's renewal. */
  resubscribe(
    client: object,
    subscriptions: Subscription[],
    signal?: AbortSignal,
    properties?: SubscribeProperties,
  ): Promise<Acked>;
}

/** Filled by the core client when its module loads. */
export const access = {} as CoreAccess;
