// The client's events, typed: what `addEventListener("connected", (e) => e.detail…)` gets.
// Types only (no bytes in a bundle); the clients' classes declare their listeners with them.
import type { MQTTConnectionError } from "./errors.ts";

/** An event carrying `detail`, as the client's `CustomEvent`s do. */
export type DetailEvent<T> = Event & { readonly detail: T };

/** What a `connected` event carries. */
export interface ConnectedDetail {
  /** The CONNACK's session-present flag. */
  sessionPresent: boolean;
  /**
   * The errors of kept publishes given up on this connection (MQTT 5 over the CONNACK's limits,
   * or refused by reset 3 times); absent when none was.
   */
  dropped?: RangeError[];
}

/**
 * What a `disconnected` event carries: the error, and what the broker's DISCONNECT said (MQTT 5;
 * `undefined` when none did), as the error's own fields.
 */
export interface DisconnectedDetail {
  /** Why the connection ended (also after `disconnect()`). */
  error: MQTTConnectionError;
  /** The reason code of the broker's DISCONNECT. */
  reasonCode: number | undefined;
  /** Its Reason String. */
  reasonString: string | undefined;
  /** Its Server Reference (with 0x9C use another server, 0x9D server moved). */
  serverReference: string | undefined;
}

/** The simple client's events by name. */
export interface MQTTClientEventMap {
  /** A CONNACK accepted the connection. */
  connected: DetailEvent<ConnectedDetail>;
  /** An established connection ended. */
  disconnected: DetailEvent<DisconnectedDetail>;
}

/**
 * The arguments of `addEventListener` and `removeEventListener` for event `K`
 * of the event map `M`: its listener gets its event typed.
 */
export type ListenerArgs<M, K extends keyof M> = [
  type: K,
  listener: (event: M[K]) => unknown,
  options?: Parameters<EventTarget["addEventListener"]>[2],
];
