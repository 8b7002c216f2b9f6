// A packet the broker refuses by closing the connection. An MQTT 3.1.1
// broker cannot say what it refuses (a packet over mosquitto's
// max_packet_size, a publish AWS IoT's policy denies): it closes the
// connection. A kept publish, resent first on every connection, or a
// robust subscribe() retried after each reconnect, would then close every
// new connection the same way, for ever. So one refused by close on
// REFUSALS connections in a row is given up. (MQTT 5 learns the Maximum
// Packet Size from the CONNACK, and refuses with a reason code: _limits.ts.)
//
// Refused by close on a connection, deliberately narrowly: the broker reset
// it (not our keepalive, our DISCONNECT or a connect timeout) after its
// CONNACK, while the packet was the oldest one written on it still
// unacknowledged, all written before it acknowledged (no QoS 0 PUBLISH, no
// unanswered PINGREQ), and nothing the broker sent after it acknowledging
// anything written after it. A reset, not a mere end of stream: a broker
// that stops reading in the middle of a packet it refuses (mosquitto over
// its max_packet_size) closes with our bytes unread, which resets the
// connection; a cut network ends the stream (fault_test.ts's cuts, at
// random points, ended 3 connections in a row on the same unacknowledged
// PUBLISH, its PUBACK cut off each time, in 2 runs of 3: counted, that was a
// message lost). The same packet three times in a row is taken for a refusal.
import type { SessionStore } from "./session_store.ts";
import { headerLength } from "./codec/_varint.ts";
import type { InFlight, Request } from "./_protocol_types.ts";
export { isReset } from "./_failure_marks.ts";

/** Connections in a row the broker closes on the same packet before it is given up. */
export const REFUSALS = 3;

/** The errors of connections the broker reset while we read. */
export const RESET: WeakSet<Error> = new WeakSet();

// Per client (its protocol state), the packet the broker last closed a
// connection on, the times in a row, and the kept publishes given up since
// the last CONNACK: only for a client whose broker closed on one.
const tallies = new WeakMap<object, { bytes: Uint8Array; n: number; dropped?: RangeError[] }>();

/**
 * A connection of `client` ended with `error`; `ids`, the packet ids in flight, in the order
 * written; `taint`, which of them may have been refused by close (0: the oldest; an id: only
 * that; -1: none); `held`, ids not written (Receive Maximum, maxInflightQoS2); `pings`, PINGREQs
 * unanswered (none: undefined). The oldest is counted if refused by close (see above), and given up the
 * REFUSALS-th time in a row: rejected with a RangeError naming it and, kept, taken out of the
 * session (`s`, `ids`), to be named in the next `connected` event's `dropped`.
 */
export function closedOn(
  client: object,
  error: Error,
  s: SessionStore,
  ids: Map<number, InFlight>,
  taint: number,
  held: { has(id: number): boolean },
  pings: unknown[] | undefined,
): void {
  const [id, f] = ids.entries().next().value ?? [];
  const bytes = f && RESET.has(error) && f.kind !== "pubcomp" && !pings?.length &&
      !held.has(id!) && (taint === 0 || taint === id)
    ? s.outgoing.get(id!) ?? (f as Request).bytes
    : undefined;
  const t = tallies.get(client);
  if (!bytes) return void (t?.dropped ? t.n = 0 : tallies.delete(client));
  // The same call's: the same bytes (a kept publish's in the session, a subscribe()'s retried), or a
  // renewal's SUBSCRIBE encoded anew (see samePacket).
  if (!t?.n || !samePacket(t.bytes, bytes)) {
    return void tallies.set(client, { bytes, n: 1, dropped: t?.dropped });
  }
  if (++t.n < REFUSALS) return;
  t.n = 0;
  const type = bytes[0] >> 4,
    what = type === 3 ? `PUBLISH ${id}` : type === 8 ? "SUBSCRIBE" : "UNSUBSCRIBE";
  const e = new RangeError(
    `Broker closed the connection each of the ${REFUSALS} times ${what} (${bytes.length} bytes) was sent: it refuses it (over its maximum packet size, or not authorized?)`,
    { cause: error },
  );
  try {
    // A kept publish leaves the session first: if the store fails to, it stays, awaited.
    if (s.outgoing.delete(id!)) (t.dropped ??= []).push(e);
  } catch {
    return;
  }
  ids.delete(id!);
  f!.reject(e);
}

/**
 * Whether `b` is the packet `a` was: the same bytes, or a SUBSCRIBE or
 * UNSUBSCRIBE alike but for its packet id (the robust client's renewal
 * encodes its SUBSCRIBEs anew on each connection).
 */
function samePacket(a: Uint8Array, b: Uint8Array): boolean {
  const type = b[0] >> 4;
  if (a === b) return true;
  if (a.length !== b.length || a[0] !== b[0] || (type !== 8 && type !== 10)) return false;
  const id = headerLength(b); // the packet id's two bytes come right after the fixed header
  return a.every((x, k) => x === b[k] || k === id || k === id + 1);
}

/** The kept publishes given up since the last CONNACK, then `more`; none: undefined. */
export function givenUp(client: object, more?: RangeError[]): RangeError[] | undefined {
  const t = tallies.get(client), dropped = t?.dropped;
  if (!dropped) return more;
  t.dropped = undefined;
  if (!t.n) tallies.delete(client);
  return more ? dropped.concat(more) : dropped;
}
