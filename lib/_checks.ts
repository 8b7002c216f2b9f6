// Argument checks shared by the client's methods and its constructor: each
// error names the argument and what was expected.
import type { QoS, Subscription } from "./codec/packet.ts";
import { encodePublish } from "./codec/publish.ts";
import { payloadBytes } from "./codec/_strings.ts";
import { validateTopicFilter, validateTopicName } from "./topic.ts";

/** The retain flag and QoS of a publish or a will, given as umqtt's positional pair or `{ retain, qos }`. */
export function publishArgs(
  retain: boolean | { retain?: boolean; qos?: QoS },
  qos: QoS,
): { retain: boolean; qos: QoS } {
  const o = typeof retain === "object" && retain !== null
    ? { retain: retain.retain ?? false, qos: retain.qos ?? 0 }
    : { retain, qos };
  checkBool("retain", o.retain);
  checkQos(o.qos);
  return o as { retain: boolean; qos: QoS };
}

/** Throws unless `qos` is 0, 1 or 2. */
export function checkQos(qos: unknown): void {
  if (typeof qos !== "number") {
    throw new TypeError(`Invalid qos: must be 0, 1 or 2, got ${typeof qos} (MQTT-3.3.1-4)`);
  }
  if (qos !== 0 && qos !== 1 && qos !== 2) {
    throw new RangeError(`Invalid qos ${String(qos)}: must be 0, 1 or 2 (MQTT-3.3.1-4)`);
  }
}

/** `v`, once it is a boolean. */
export function checkBool(name: string, v: unknown): boolean {
  if (typeof v !== "boolean") {
    throw new TypeError(`Invalid ${name}: must be a boolean, got ${typeof v}`);
  }
  return v;
}

/** Throws unless `v` is an integer from `min` to `max`. */
export function checkInt(name: string, v: unknown, min: number, max: number): void {
  if (typeof v !== "number") {
    throw new TypeError(
      `Invalid ${name}: must be an integer from ${min} to ${max}, got ${typeof v}`,
    );
  }
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new RangeError(`Invalid ${name} ${String(v)}: must be an integer from ${min} to ${max}`);
  }
}

/** The payload's bytes, once it is text or bytes. */
export function checkPayload(msg: unknown): Uint8Array {
  if (typeof msg !== "string" && !(msg instanceof Uint8Array)) {
    throw new TypeError(`Invalid msg: must be a string or a Uint8Array, got ${typeof msg}`);
  }
  return payloadBytes(msg);
}

/** A publish's arguments, checked and encoded. */
export interface CheckedPublish {
  /** The PUBLISH, with a stand-in packet id at `idAt` for QoS 1 and 2. */
  bytes: Uint8Array;
  qos: QoS;
  idAt: number;
  payloadLength: number;
  signal: AbortSignal | undefined;
}

/**
 * Checks `publish()`'s arguments and encodes the PUBLISH with a stand-in
 * id, to be patched once one is taken, so that every encoding error is
 * raised before an id is taken or a byte written.
 */
export function checkPublish(
  topic: string,
  msg: string | Uint8Array,
  retain: boolean | { retain?: boolean; qos?: QoS; signal?: AbortSignal },
  qos: QoS,
  options: { signal?: AbortSignal },
): CheckedPublish {
  const o = publishArgs(retain, qos);
  const signal = (typeof retain === "object" ? retain?.signal : undefined) ?? options.signal;
  signal?.throwIfAborted();
  validateTopicName(topic);
  const payload = checkPayload(msg);
  const bytes = encodePublish({
    type: "publish",
    topic,
    payload,
    qos: o.qos,
    retain: o.retain,
    dup: false,
    packetId: 1,
  });
  const idAt = bytes.length - payload.length - 2;
  return { bytes, qos: o.qos, idAt, payloadLength: payload.length, signal };
}

/** Checks `subscribe()`'s arguments: one filter and its QoS, or `[filter, qos]` pairs. */
export function checkSubscribe(
  topic: string | [string, QoS][],
  qos: QoS | { qos?: QoS; signal?: AbortSignal },
  options: { signal?: AbortSignal },
): { subscriptions: Subscription[]; signal: AbortSignal | undefined } {
  const asObject = typeof qos === "object" && qos !== null;
  const q = asObject ? qos.qos ?? 0 : qos;
  const signal = (asObject ? qos.signal : undefined) ?? options.signal;
  signal?.throwIfAborted();
  const pairs: [string, QoS][] = Array.isArray(topic) ? topic : [[topic, q]];
  if (pairs.length === 0) {
    throw new TypeError(
      "Cannot subscribe to an empty list: at least one filter is needed (MQTT-3.8.3-3)",
    );
  }
  const subscriptions = pairs.map((pair) => {
    if (!Array.isArray(pair) || pair.length !== 2) {
      throw new TypeError("Invalid subscription: each entry must be a [filter, qos] pair");
    }
    validateTopicFilter(pair[0]);
    checkQos(pair[1]);
    return { topic: pair[0], qos: pair[1] };
  });
  return { subscriptions, signal };
}
