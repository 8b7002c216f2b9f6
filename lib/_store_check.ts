// The session store's contents checked as the client reads them back, when
// a client is made with one and at each connect(false): a store saved to disk may come back wrong.
// And what a store is given to save; a save of a new packet that fails, undone; a clean start's
// forgetting, and a lost session's renewal.
import { BodyReader, keyName, typeName } from "./codec/_strings.ts";
import { MemorySessionStore, type SessionStore } from "./session_store.ts";
import { MQTTConnectionError } from "./errors.ts";
import type { InFlight, Request } from "./_protocol_types.ts";

/**
 * A session store's contents, as the client reads them back (a store saved
 * to disk may come back wrong), when made and at each `connect(false)`: packet ids from 1 to 65535, and outgoing
 * packets that are a QoS 1/2 PUBLISH or a PUBREL, whole, under their own id.
 *
 * @throws {TypeError} Naming the entry and what is wrong with it.
 */
export function checkStore(store: SessionStore): void {
  const isId = (id: unknown) =>
    Number.isInteger(id) && (id as number) >= 1 && (id as number) <= 65535;
  for (const id of store.incoming) {
    if (!isId(id)) {
      throw new TypeError(
        `Invalid sessionStore.incoming entry ${keyName(id)}: not a packet id (1 to 65535)`,
      );
    }
  }
  for (const [id, bytes] of store.outgoing) {
    const why = !isId(id)
      ? "not a packet id (1 to 65535)"
      : !(bytes instanceof Uint8Array)
      ? `its packet is not a Uint8Array (got ${typeName(bytes)})`
      : storedPacketError(bytes, id);
    if (why) throw new TypeError(`Invalid sessionStore.outgoing entry ${keyName(id)}: ${why}`);
  }
}

/** What is wrong with a stored packet under `id`, if anything. */
function storedPacketError(bytes: Uint8Array, id: number): string | undefined {
  const qos = (bytes[0] >> 1) & 3;
  const publish = bytes[0] >> 4 === 3 && qos !== 0 && qos !== 3;
  if (!publish && bytes[0] !== 0x62) return "not a QoS 1/2 PUBLISH or a PUBREL";
  // Read as the codec reads a body: a field past the end throws.
  const r = new BodyReader(bytes, "stored packet");
  try {
    r.u8("packet type");
    const remaining = r.vbi("remaining length");
    if (r.pos + remaining !== bytes.length) return `${bytes.length} bytes, not a whole packet`;
    if (publish) {
      const topicLength = r.u16("topic length");
      r.pos += topicLength;
    }
    const inside = r.u16("packet identifier");
    if (inside !== id) return `the packet inside has packet id ${inside}`;
  } catch {
    return `${bytes.length} bytes, not a whole packet`;
  }
}

/**
 * Keeps `bytes` under `id` in `store`; a save that throws is undone, as far
 * as the store lets it (one that changed its Map before it saved), and its
 * error returned.
 */
export function unsaved(
  store: SessionStore,
  id: number,
  bytes: Uint8Array,
): { error: unknown } | undefined {
  try {
    store.outgoing.set(id, stored(store, bytes));
  } catch (error) {
    try {
      store.outgoing.delete(id);
    } catch { /* its save fails too, once the Map has it no more */ }
    return { error };
  }
}

/**
 * `bytes`, a packet, as `store` is given it: a {@linkcode MemorySessionStore}
 * keeps the client's own, often a view into a slab shared with other packets;
 * any other store gets a copy (one that structured-clones what it saves,
 * IndexedDB or a Durable Object's storage, would save a slab with each packet,
 * other messages' bytes with it; one that transferred or changed what it is
 * given would detach or change the packet the client is about to write; what
 * its map holds is still what a later connection resends).
 */
export function stored(store: SessionStore, bytes: Uint8Array): Uint8Array {
  // Not a subclass: one may save what it is given.
  return store.constructor === MemorySessionStore ? bytes : bytes.slice();
}

/**
 * A clean start: the session's packets leave `store`, and those awaited in
 * `inflight` reject; its incoming QoS 2 ids go too.
 */
export function forget(store: SessionStore, inflight: Map<number, InFlight>): void {
  // Made only when there is something to drop: an Error, with its stack, costs ~0.8 KB.
  let dropped: MQTTConnectionError | undefined;
  for (const id of store.outgoing.keys()) {
    dropped ??= new MQTTConnectionError("Dropped: connect() started a clean session");
    inflight.get(id)?.reject(dropped);
    inflight.delete(id);
    // Not clear(): a store that writes through overrides delete (session_store.ts).
    store.outgoing.delete(id);
  }
  for (const id of store.incoming) store.incoming.delete(id);
}

/**
 * connect(false) met Session Present 0, so the session goes: its incoming
 * QoS 2 ids (both versions). With `anew` (MQTT 5, MQTT-3.2.2-5, and 3.1.1 after a
 * clean session, whose state is not reused, MQTT-3.1.2-6), its PUBRELs
 * too: kept publishes are not retransmitted (MQTT-4.4.0-1 needs "a session
 * is present") but published anew, DUP=0, in order, under their ids, still
 * awaited; a QoS 2 one past its PUBREC too (twice rather than lost),
 * unless only its PUBREL is known. Returns `anew`.
 */
export function renew(
  store: SessionStore,
  inflight: Map<number, InFlight>,
  anew: boolean,
): boolean {
  for (const id of store.incoming) store.incoming.delete(id);
  if (!anew) return false;
  for (const [id, bytes] of store.outgoing) {
    if (bytes[0] >> 4 === 3) continue;
    const f = inflight.get(id) as Partial<Request> | undefined;
    if (f?.keep && f.bytes) {
      // Set again under its id, it keeps its place in the order.
      store.outgoing.set(id, stored(store, f.bytes));
      f.kind = "pubrec";
    } else {
      store.outgoing.delete(id);
      inflight.delete(id);
    }
  }
  return true;
}
