/**
 * Where a client keeps its side of an MQTT session: the outgoing packets the
 * broker has not acknowledged yet, and the incoming QoS 2 messages already
 * delivered but not yet released. This is what makes QoS 1 "at least once"
 * and QoS 2 "exactly once" hold across reconnects.
 *
 * The default, {@linkcode MemorySessionStore}, lives as long as the client
 * object. To keep a session across process restarts, pass a store whose
 * `outgoing` map and `incoming` set write through to disk (subclass `Map`
 * and `Set`, save on `set`/`add`/`delete`, load in the constructor with
 * `super.set`/`super.add`, as below: `new Map(entries)` calls your `set`,
 * and a save while loading rewrites the file with part of the session, which
 * a kill then leaves; the client empties them with `delete`, never `clear`),
 * give the client the same `client_id` (MQTT 5: the one the broker assigned
 * for an empty one, `client.client_id`) and protocol version, and call
 * `connect(false)`: whatever the store holds is resent first, in its order
 * (keep it: IndexedDB and most key-value stores give keys back sorted, not in
 * the order sent once packet ids wrap from 65535 to 1). A store loaded
 * asynchronously may be filled after the client is made (with `super.set`,
 * as loading), before `connect(false)`, which checks and takes what it holds.
 * Save atomically (write a new file, then rename it): a process killed
 * mid-write must not leave half a session. Save before `set`/`add`/`delete`
 * return (synchronously): the client writes the acknowledgement right after,
 * and a save still under way when the process dies loses what it
 * acknowledged. A save that throws rejects the call it served (`publish()`,
 * whose packet is then neither sent nor kept; `wait_msg()` for an incoming
 * QoS 2 message, left unacknowledged) or ends the connection; nothing hangs.
 * Only packets already sent are in the store: publishes still waiting their
 * turn (MQTT 5's Receive Maximum, 3.1.1's `maxInflightQoS2`, the robust
 * client's offline queue) die with the process. One store serves one client: another client's
 * `connect()` with it, while that one is connected or connecting, is a `TypeError` (their packets
 * would share packet ids, and one's acknowledgement take the other's out); once it has disconnected,
 * a new client object may take the store over.
 *
 * @example A store that survives restarts (sketch)
 * ```ts ignore
 * import { MQTTClient, type SessionStore } from "@umqtt/umqtt";
 * class SavedMap extends Map<number, Uint8Array> {
 *   constructor(saved: Iterable<[number, Uint8Array]>) { super(); for (const [id, b] of saved) super.set(id, b); }
 *   override set(id: number, bytes: Uint8Array) { super.set(id, bytes); save(this); return this; }
 *   override delete(id: number) { const had = super.delete(id); save(this); return had; }
 * }
 * class SavedSet extends Set<number> {
 *   constructor(saved: Iterable<number>) { super(); for (const id of saved) super.add(id); }
 *   override add(id: number) { super.add(id); save(this); return this; }
 *   override delete(id: number) { const had = super.delete(id); save(this); return had; }
 * }
 * const sessionStore: SessionStore = {
 *   outgoing: new SavedMap(load("outgoing")),
 *   incoming: new SavedSet(load("incoming")),
 * };
 * const client = new MQTTClient("meter-7", "mqtt://broker", { sessionStore });
 * await client.connect(false);
 * ```
 *
 * @module
 */

/** The client's session state, as plain collections a user may persist. */
export interface SessionStore {
  /**
   * Outgoing packets awaiting acknowledgement, by packet id, in the order
   * first sent: the encoded PUBLISH (QoS 1, or QoS 2 before its PUBREC) or
   * the encoded PUBREL (QoS 2 after its PUBREC). Resent by `connect(false)`
   * (a PUBLISH with DUP=1), cleared by a clean session. MQTT 5 with Session
   * Present 0 (and 3.1.1 after a clean session): publishes go anew (DUP=0),
   * a QoS 2 one past its PUBREC as its PUBLISH while the client still holds
   * it; a PUBREL alone (loaded from an earlier run) is dropped. Each
   * packet comes as a copy in a buffer of its own (a structured clone, as
   * IndexedDB's, saves only it), which the client never writes into, but in
   * a {@linkcode MemorySessionStore}, which keeps the client's: often a view
   * into a buffer shared with other packets. What the map holds is what
   * `connect(false)` (and a robust client's reconnect) checks and resends:
   * keep the packet as given there (transfer, or encrypt in place, a copy of
   * it; an entry transferred or changed is refused, named, at the next one).
   */
  readonly outgoing: Map<number, Uint8Array>;
  /**
   * Packet ids of incoming QoS 2 messages that were handed to the
   * application and answered with PUBREC, until the broker's PUBREL: a
   * resent PUBLISH with one of these ids is not delivered again. An id is
   * added once its message's handler has returned (the `set_callback`
   * function, or the promise it returned; with `messages()`, when the loop
   * asks for the next), before its PUBREC and before the next message is
   * handed out. Across a process kill, exactly once needs the handler's
   * effect saved in the same write as its id: say, the handler leaves its
   * result in memory and your `add` saves both; a kill before that write
   * delivers the message again, one after it has the resend answered.
   */
  readonly incoming: Set<number>;
}

/**
 * The default {@linkcode SessionStore}: in memory, for the life of the client.
 *
 * @example
 * ```ts
 * import { MemorySessionStore } from "@umqtt/umqtt";
 * const store = new MemorySessionStore();
 * console.assert(store.outgoing.size === 0 && store.incoming.size === 0);
 * ```
 */
export class MemorySessionStore implements SessionStore {
  /** Outgoing packets awaiting acknowledgement. */
  readonly outgoing: Map<number, Uint8Array> = new Map();
  /** Incoming QoS 2 ids delivered and not yet released. */
  readonly incoming: Set<number> = new Set();
}
