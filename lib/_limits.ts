// MQTT 5: what the limits of the broker's CONNACK let through (Maximum QoS,
// Retain Available, Maximum Packet Size, Wildcard, Shared Subscription and
// Subscription Identifier Available): for a call before any byte of it is
// written, and for a publish kept in the session before it is resent. And
// what our CONNECT's Request Problem Information lets the broker send, and
// how far past our Receive Maximum it may go.
import type { ProtocolVersion, PublishPacket, Subscription } from "./codec/packet.ts";
import type {
  AckProperties,
  ConnackProperties,
  ConnectProperties,
  SubscribeProperties,
} from "./codec/properties.ts";
import { brokerBody } from "./codec/decode.ts";
import type { BodyDecoder } from "./codec/_framer.ts";
import { outOfTurn } from "./_acks.ts";
import { MQTTProtocolError } from "./errors.ts";
import type { SessionStore } from "./session_store.ts";
import type { Pending, Request } from "./_protocol_types.ts";

/**
 * MQTT 5: throws unless what the broker's CONNACK allows lets this publish,
 * these subscriptions or this unsubscribe (`what`, a packet of `size`
 * bytes) go, before any byte is written.
 *
 * @throws {RangeError} Naming the limit.
 */
export function checkLimits(
  broker: ConnackProperties,
  what: PublishPacket | Subscription[] | string[],
  size: number,
  properties?: SubscribeProperties,
): void {
  let why: string | undefined;
  // The Maximum Packet Size holds for every packet (MQTT-3.2.2-15).
  const tooLarge = overMax(broker, size);
  if (!Array.isArray(what)) {
    if (broker.maximumQoS !== undefined && what.qos > broker.maximumQoS) {
      why =
        `QoS ${what.qos}: the broker's Maximum QoS is ${broker.maximumQoS} (maximumQoS; MQTT-3.2.2-11)`;
    } else if (what.retain && broker.retainAvailable === false) {
      why =
        "retain: the broker has no retained messages (Retain Available 0, retainAvailable; MQTT-3.2.2-14)";
    } else why = tooLarge;
    if (why) throw new RangeError(`Cannot publish to "${what.topic}" with ${why}`);
    return;
  }
  for (const s of what) {
    if (typeof s === "string") continue;
    const topic = s.topic;
    if (broker.sharedSubscriptionAvailable === false && topic.startsWith("$share/")) {
      why =
        "a shared subscription: the broker has none (Shared Subscription Available 0, sharedSubscriptionAvailable)";
    } else if (broker.wildcardSubscriptionAvailable === false && /[+#]/.test(topic)) {
      why =
        "wildcards: the broker has none (Wildcard Subscription Available 0, wildcardSubscriptionAvailable)";
    } else if (
      broker.subscriptionIdentifiersAvailable === false &&
      properties?.subscriptionIdentifier !== undefined
    ) {
      why =
        "a subscription identifier: the broker has none (Subscription Identifier Available 0, subscriptionIdentifiersAvailable)";
    }
    if (why) throw new RangeError(`Cannot subscribe to "${topic}" with ${why}`);
  }
  if (tooLarge) {
    const filters = what.map((s) => `"${typeof s === "string" ? s : s.topic}"`).join(", ");
    const verb = typeof what[0] === "string" ? "unsubscribe from" : "subscribe to";
    throw new RangeError(`Cannot ${verb} ${filters} with ${tooLarge}`);
  }
}

/**
 * Whether a QoS `qos` PUBLISH that leaves `unacked` messages unacknowledged is over our Receive
 * Maximum `max`: tolerated (mosquitto 2.0.11 goes a few over), up to the 65 535 packet ids. A
 * QoS 1 one past them reuses the id of one not acknowledged yet (a QoS 2 one is a resend, known
 * by its id), and each such one would wait in the inbox, however many the broker sent.
 *
 * @throws {MQTTProtocolError} A QoS 1 one past 65 535 (reason code 0x93).
 */
export function overrun(unacked: number, max: number, qos: number, v: ProtocolVersion): boolean {
  if (unacked > 65535 && qos === 1) {
    throw new MQTTProtocolError(
      "PUBLISH with 65535 QoS 1 and 2 messages unacknowledged: its packet id is in use",
      v === 5 ? "MQTT-2.2.1-4" : "MQTT-2.3.1-4",
      0x93, // Receive Maximum exceeded
    );
  }
  return unacked > max;
}

/** Why a packet of `size` bytes may not go to the broker of CONNACK `b`, if it may not. */
function overMax(b: ConnackProperties, size: number): string | undefined {
  const max = b.maximumPacketSize;
  return max !== undefined && size > max
    ? `a packet of ${size} bytes: over the broker's Maximum Packet Size ${max} (maximumPacketSize; MQTT-3.2.2-15)`
    : undefined;
}

/**
 * MQTT 5: `bytes`, a packet to `what` (an AUTH), when within the Maximum
 * Packet Size of the broker's CONNACK `b`.
 *
 * @throws {RangeError} Naming the limit.
 */
export function sized(b: ConnackProperties, bytes: Uint8Array, what: string): Uint8Array {
  const why = overMax(b, bytes.length);
  if (why) throw new RangeError(`Cannot ${what} with ${why}`);
  return bytes;
}

/** MQTT 5: the limit of the CONNACK `b` that a kept PUBLISH, `bytes`, is over, if any. */
export function keptRefusal(b: ConnackProperties, bytes: Uint8Array): string | undefined {
  const qos = (bytes[0] >> 1) & 3, max = b.maximumPacketSize;
  return qos > (b.maximumQoS ?? 2)
    ? `QoS ${qos}, over the broker's Maximum QoS ${b.maximumQoS} (maximumQoS; MQTT-3.2.2-11)`
    : bytes[0] & 1 && b.retainAvailable === false
    ? "retain, and the broker has no retained messages (Retain Available 0, retainAvailable; MQTT-3.2.2-14)"
    : max !== undefined && bytes.length > max
    ? `${bytes.length} bytes, over the broker's Maximum Packet Size ${max} (maximumPacketSize; MQTT-3.2.2-15)`
    : undefined;
}

/**
 * MQTT 5: rejects the publishes `waiting` for their turn since an earlier connection
 * that the CONNACK `b` refuses, and takes them out.
 */
export function refuseWaiting(b: ConnackProperties, waiting: Map<Request, unknown>): void {
  for (const r of waiting.keys()) {
    const refused = keptRefusal(b, r.bytes);
    if (refused && waiting.delete(r)) r.reject(new RangeError(`Cannot publish: ${refused}`));
  }
}

/**
 * MQTT 5: drops from the session (`s`; `ids`, the packet ids in flight) the
 * publishes the CONNACK `b` refuses, each rejected with its error (a caller
 * that stopped awaiting one learns it from the `connected` event's `dropped`).
 * Returns their errors, if any.
 */
export function dropRefused(
  b: ConnackProperties,
  s: SessionStore,
  ids: Map<number, Pending<unknown>>,
): RangeError[] | undefined {
  let dropped: RangeError[] | undefined;
  for (const [id, bytes] of s.outgoing) {
    const refused = bytes[0] >> 4 === 3 && keptRefusal(b, bytes);
    if (refused) {
      const e = new RangeError(`Cannot resend publish ${id}: ${refused}`);
      (dropped ??= []).push(e);
      s.outgoing.delete(id);
      ids.get(id)?.reject(e);
      ids.delete(id);
    }
  }
  return dropped;
}

/**
 * The decoder of what the broker sends. MQTT 5 with Request Problem
 * Information 0 in `c`: a Reason String or User Properties on any packet but
 * PUBLISH, CONNACK and DISCONNECT is a protocol error (MQTT-3.1.2-29; 0x82,
 * section 3.1.2.11.7).
 */
export function brokerDecoder(c: ConnectProperties): BodyDecoder {
  if (c.requestProblemInformation !== false) return brokerBody;
  return (byte1, body, version) => {
    const p = brokerBody(byte1, body, version);
    const props = (p as { properties?: AckProperties }).properties;
    if (
      props && (props.reasonString !== undefined || props.userProperties !== undefined) &&
      p.type !== "publish" && p.type !== "connack" && p.type !== "disconnect"
    ) {
      throw outOfTurn(
        `${p.type.toUpperCase()} with a Reason String or User Properties, which our CONNECT asked the broker not to send (requestProblemInformation false)`,
        "MQTT-3.1.2-29",
      );
    }
    return p;
  };
}
