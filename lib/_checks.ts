// Argument checks shared by the client's methods and its constructor: each
// error names the argument and what was expected.
import type { ProtocolVersion, PublishPacket, QoS, Subscription, Will } from "./codec/packet.ts";
import type { DisconnectProperties, SubscribeProperties } from "./codec/properties.ts";
import { encodeConnect } from "./codec/connect.ts";
import { encodePublish, topicEncoded } from "./codec/publish.ts";
import { encodeSubscribe, encodeUnsubscribe } from "./codec/subscribe.ts";
import { encodeDisconnect } from "./codec/auth.ts";
import { reasonCodeMessage } from "./codec/reason_codes.ts";
import { MQTTException } from "./errors.ts";
import { intact, isUtf8, payloadBytes, shown, typeName } from "./codec/_strings.ts";
import { headerLength, SHORT_LIVED, type Slab } from "./codec/_varint.ts";
import { validateTopicName } from "./topic.ts";
import type { Acked } from "./_protocol.ts";

/** The retain flag and QoS of a publish or a will, given as umqtt's positional pair or `{ retain, qos }`. */
export function publishArgs(
  retain: boolean | { retain?: boolean; qos?: QoS },
  qos: QoS,
): { retain: boolean; qos: QoS } {
  const given = typeof retain === "object" && retain !== null;
  // After an options object, a positional qos (but 0, to reach the next argument) would go unused.
  if (given && qos !== 0) {
    throw new TypeError(
      `Invalid qos ${shown(qos)} after an options object: give it there, as { qos }`,
    );
  }
  const o = given ? { retain: retain.retain ?? false, qos: retain.qos ?? 0 } : { retain, qos };
  checkBool("retain", o.retain);
  checkQos(o.qos);
  return o as { retain: boolean; qos: QoS };
}

/**
 * The error for argument `name`, `v`, that is not `expected`: a
 * `RangeError` naming the value when `numeric` and `v` is a number, else a
 * `TypeError` naming the type it has; `rule` follows.
 */
export function invalid(name: string, v: unknown, expected: string, numeric = 0, rule = ""): Error {
  return numeric && typeof v === "number"
    ? new RangeError(`Invalid ${name} ${String(v)}: must be ${expected}${rule}`)
    : new TypeError(
      // An object by its class (a MicroPython port's bytes: Uint8Array), a plain one as "object".
      `Invalid ${name}: must be ${expected}, got ${typeName(v)}${rule}`,
    );
}

/**
 * Throws unless `o`, the options object of `what`, is an object whose keys
 * are all `allowed` (a misspelt key is not silently ignored) and whose
 * `signal`, if any, is an AbortSignal.
 */
export function checkOptions(o: unknown, allowed: readonly string[], what: string): void {
  if (typeof o !== "object" || o === null) throw invalid(`options for ${what}`, o, "an object");
  // A signal given as the options (as in setTimeout-style APIs) would be read as keys "aborted", …
  if (o instanceof AbortSignal) {
    throw new TypeError(`Invalid options for ${what}: an AbortSignal; give { signal }`);
  }
  for (const k in o) {
    if (!allowed.includes(k) && (o as Record<string, unknown>)[k] !== undefined) {
      throw new TypeError(
        `Invalid option ${k} for ${what}: accepted are ${allowed.join(", ") || "none"}`,
      );
    }
  }
  const signal = (o as { signal?: unknown }).signal;
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw invalid(`option signal for ${what}`, signal, "an AbortSignal");
  }
}

/**
 * `wait_msg()`'s and `messages()`'s options checked, unless they are the
 * default (a receive loop pays one comparison): the error, if any.
 */
export function signalOptionsError(options: object, what: string): unknown {
  if (options === NO_OPTIONS) return undefined;
  try {
    checkOptions(options, ["signal"], what);
  } catch (e) {
    return e;
  }
}

const CONNECT_OPTIONS = ["clean_session", "signal"], SIGNAL_ONLY = ["signal"];

/** `connect()`'s arguments: umqtt's `clean_session` and options, or `{ clean_session, signal }`. */
export function checkConnect(
  clean_session: boolean | { clean_session?: boolean; signal?: AbortSignal },
  options: { signal?: AbortSignal },
): { clean: boolean; signal: AbortSignal | undefined } {
  const asObject = typeof clean_session === "object" && clean_session !== null;
  const o = asObject ? clean_session : options;
  // After a positional clean_session, one in the options would go unused.
  checkOptions(o, asObject ? CONNECT_OPTIONS : SIGNAL_ONLY, "connect");
  const clean = checkBool(
    "clean_session",
    asObject ? clean_session.clean_session ?? true : clean_session,
  );
  const signal = o.signal ?? options?.signal;
  signal?.throwIfAborted();
  return { clean, signal };
}

/** Throws unless `qos` is 0, 1 or 2. */
export function checkQos(qos: unknown): void {
  if (qos !== 0 && qos !== 1 && qos !== 2) {
    throw invalid("qos", qos, "0, 1 or 2", 1, " (MQTT-3.3.1-4)");
  }
}

/** `v`, once it is a boolean. */
export function checkBool(name: string, v: unknown): boolean {
  if (typeof v !== "boolean") throw invalid(name, v, "a boolean");
  return v;
}

/** `v`, once it is an integer from `min` to `max`. */
export function checkInt(name: string, v: number, min: number, max: number): number {
  if (!Number.isInteger(v) || v < min || v > max) {
    throw invalid(name, v, `an integer from ${min} to ${max}`, 1);
  }
  return v + 0; // -0 as 0: what reads it (`client.keepalive`) shows what is sent
}

/**
 * The payload's bytes, once it is text or bytes; short text's in `slab`
 * (a publish's, copied into its packet), else in a buffer of their own.
 */
export function checkPayload(msg: unknown, name = "msg", slab?: Slab): Uint8Array {
  if (typeof msg !== "string" && !(msg instanceof Uint8Array)) {
    throw invalid(name, msg, "a string or a Uint8Array");
  }
  return typeof msg === "string" ? payloadBytes(msg, slab) : intact(msg, name);
}

/** A publish's arguments, checked and encoded. */
export interface CheckedPublish {
  /**
   * The PUBLISH, with a stand-in packet id at `idAt` for QoS 1 and 2; for
   * some MQTT 5 QoS 0 publishes, undefined: built as they go (`checkPublish`).
   */
  bytes: Uint8Array | undefined;
  /** MQTT 5: the PUBLISH as a packet, for topic aliases and the broker's limits. */
  packet?: PublishPacket;
  qos: QoS;
  idAt: number;
  payloadLength: number;
  signal: AbortSignal | undefined;
  /** MQTT 5, QoS 0: `bytes` were rebuilt in place under a topic alias and written. */
  spent: boolean;
}

type PublishArgs = { retain?: boolean; qos?: QoS; signal?: AbortSignal; properties?: object };
/** publish()'s options (and respond()'s). */
export const PUBLISH_OPTIONS = ["retain", "qos", "signal", "properties"];
/** publish()'s options when none are given: shared, and known to need no checking. */
export const NO_OPTIONS: PublishArgs = Object.freeze({});
const WILL_OPTIONS = ["retain", "qos", "properties"];

/** MQTT 5: the properties `request()` takes (its Response Topic and Correlation Data are its own). */
export const REQUEST_PROPERTIES = [
  "payloadFormatIndicator",
  "messageExpiryInterval",
  "contentType",
  "userProperties",
];
const MESSAGE_PROPERTIES = [...REQUEST_PROPERTIES, "responseTopic", "correlationData"];

/**
 * The TypeError for MQTT 5 options or properties (`keys`) given with MQTT
 * 3.1.1, naming them: `Invalid ${one} k ${what}: it is MQTT 5's; give
 * protocolVersion: 5` (`${many}` for several, or for none named).
 */
export function v5Only(keys: string[], what = "", one = "option", many = "options"): TypeError {
  const list = keys.join(", ");
  const head = keys.length === 1 ? `${one} ${list}` : keys.length > 0 ? `${many} ${list}` : many;
  const verb = keys.length === 1 ? "it is" : "they are";
  return new TypeError(
    `Invalid ${head}${what ? ` ${what}` : ""}: ${verb} MQTT 5's; give protocolVersion: 5`,
  );
}

/** The keys of `given` when it is an object (those a TypeError names), else none. */
function keysOf(given: unknown): string[] {
  return typeof given === "object" && given !== null ? Object.keys(given) : [];
}

/**
 * MQTT 5 properties a call may give, checked for its version and keys (the
 * codec checks their values when it encodes them); a string Correlation
 * Data becomes its UTF-8 bytes.
 *
 * @throws {TypeError} Properties with MQTT 3.1.1, or a key `allowed` has not.
 */
export function checkProperties<T extends object>(
  props: T | undefined,
  allowed: string[],
  what: string,
  version: ProtocolVersion,
): T | undefined {
  if (props === undefined) return undefined;
  if (version !== 5) throw v5Only(keysOf(props), `for ${what}`, "property", "properties");
  if (typeof props !== "object" || props === null) {
    throw new TypeError(`Invalid properties for ${what}: must be an object`);
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(props)) {
    if (!allowed.includes(k)) {
      throw new TypeError(
        `Invalid property ${k} for ${what}: accepted are ${allowed.join(", ")}`,
      );
    }
    if (k === "responseTopic" && typeof v === "string" && (v === "" || /[+#]/.test(v))) {
      throw new TypeError(
        `Invalid property responseTopic "${v}" for ${what}: a Response Topic is a topic name, not empty, without wildcards (MQTT-3.3.2-14)`,
      );
    }
    out[k] = k === "correlationData" && typeof v === "string" ? payloadBytes(v) : v;
  }
  return out as T;
}

/**
 * Checks `publish()`'s arguments and encodes the PUBLISH with a stand-in
 * id, to be patched once one is taken, so that every encoding error is
 * raised before an id is taken or a byte written. With `now` (the publish
 * goes to the connection within the caller's call), an MQTT 5 QoS 0 one
 * that cannot fail to encode may be left unencoded (`bytes` undefined).
 * With `plain` (that connection's `Protocol.plain`), an MQTT 5 QoS 0 one
 * without properties is built as a 3.1.1 one is, its packet not kept.
 */
export function checkPublish(
  topic: string,
  msg: string | Uint8Array,
  retain: boolean | PublishArgs,
  qos: QoS,
  options: PublishArgs,
  version: ProtocolVersion,
  now = false,
  plain = false,
): CheckedPublish {
  const o = publishArgs(retain, qos);
  const given = typeof retain === "object" && retain !== null ? retain : options;
  if (given !== NO_OPTIONS) checkOptions(given, PUBLISH_OPTIONS, "publish");
  // After positional retain and qos, the options' own would go unused; after
  // an options object, all but a signal.
  if (options !== NO_OPTIONS) {
    checkOptions(options, PUBLISH_OPTIONS.slice(2, given === options ? 4 : 3), "publish");
  }
  const signal = given.signal ?? options?.signal;
  signal?.throwIfAborted();
  // The topic: the codec checks it (validateTopicName, then its UTF-8).
  const payload = checkPayload(msg, "msg", SHORT_LIVED);
  const packet: PublishPacket = {
    type: "publish",
    topic,
    payload,
    qos: o.qos,
    retain: o.retain,
    dup: false,
    packetId: 1,
    properties: checkProperties(given.properties, MESSAGE_PROPERTIES, "publish", version),
  };
  if (packet.properties?.payloadFormatIndicator && typeof msg !== "string") {
    checkText(payload, "msg");
  }
  // MQTT 5, QoS 0, no properties. To a `plain` connection (no topic alias,
  // no limit): built as in 3.1.1, no packet kept (keeping it cost v5 ~4% of
  // a publish's CPU). Otherwise, with a payload far from the size limit, to
  // the topic the codec has just encoded (so valid), handed to the
  // connection `now` (a publish the robust client queues must not read the
  // payload later): its bytes are built as it goes, under a topic alias the
  // short form alone. Encoding in full to rewrite it cost 10% of v5's CPU end to end.
  const keep = version === 5 && !(plain && o.qos === 0 && !packet.properties);
  const unencoded = now && keep && o.qos === 0 && !packet.properties && payload.length < 65536 &&
    topicEncoded(topic);
  const bytes = unencoded ? undefined : encodePublish(packet, version);
  // The packet id follows the topic name (section 3.3.2).
  const h = bytes ? headerLength(bytes) : 0;
  return {
    bytes,
    packet: keep ? packet : undefined,
    qos: o.qos,
    idAt: bytes ? h + 2 + ((bytes[h] << 8) | bytes[h + 1]) : 0,
    payloadLength: payload.length,
    signal,
    spent: false,
  };
}

/** One subscription's MQTT 5 options, as `subscribe()` takes them. */
type SubscriptionArgs = {
  qos?: QoS;
  noLocal?: boolean;
  retainAsPublished?: boolean;
  retainHandling?: 0 | 1 | 2;
};
type SubscribeArgs = SubscriptionArgs & {
  signal?: AbortSignal;
  subscriptionIdentifier?: number;
  userProperties?: [string, string][];
};
const SUBSCRIPTION_OPTIONS = ["qos", "noLocal", "retainAsPublished", "retainHandling"];
const SUBSCRIBE_OPTIONS = [
  ...SUBSCRIPTION_OPTIONS,
  "signal",
  "subscriptionIdentifier",
  "userProperties",
];

/**
 * Checks `subscribe()`'s arguments: one filter with its QoS or options, or a
 * list of `[filter, qos | options]`, and the SUBSCRIBE's own options.
 */
export function checkSubscribe(
  topic: string | readonly (readonly [string, QoS | SubscriptionArgs])[],
  qos: QoS | SubscribeArgs,
  options: SubscribeArgs,
  version: ProtocolVersion,
): {
  subscriptions: Subscription[];
  signal?: AbortSignal;
  properties?: SubscribeProperties;
  bytes: Uint8Array;
} {
  const list = Array.isArray(topic);
  // The SUBSCRIBE's options: the second argument's, or the third's after a list.
  const o: SubscribeArgs = !list && typeof qos === "object" && qos !== null ? qos : options;
  // After a list or a positional qos, one filter's options (qos, noLocal, …) would go unused.
  checkKeys(
    o,
    o === options ? SUBSCRIBE_OPTIONS.slice(4) : SUBSCRIBE_OPTIONS,
    "subscribe",
    version,
  );
  // After an options object, the third argument lends it a signal, nothing else.
  if (o !== options) checkOptions(options, ["signal"], "subscribe");
  const signal = o.signal ?? options.signal;
  signal?.throwIfAborted();
  // An empty list: the codec refuses it (MQTT-3.8.3-3).
  const pairs: [string, QoS | SubscriptionArgs][] = list
    ? topic
    : [[topic, qos === undefined ? 0 : qos]];
  const subscriptions = pairs.map((pair) => {
    if (!Array.isArray(pair) || pair.length !== 2) {
      throw new TypeError("Invalid subscription: each entry must be a [filter, qos] pair");
    }
    // The filter: the codec checks it (validateTopicFilter, then its UTF-8).
    const [filter, q] = pair;
    const s: Subscription = typeof q === "object" && q !== null
      ? { ...q, topic: filter, qos: q.qos ?? 0 }
      : { topic: filter, qos: q as QoS };
    if (typeof q === "object" && q !== null) {
      // One filter's options are the SUBSCRIBE's, checked above.
      if (list) checkKeys(q, SUBSCRIPTION_OPTIONS, `subscribe to "${filter}"`, version);
      delete (s as SubscribeArgs).signal;
      delete (s as SubscribeArgs).subscriptionIdentifier;
      delete (s as SubscribeArgs).userProperties;
    }
    checkQos(s.qos);
    for (const k of ["noLocal", "retainAsPublished"] as const) {
      if (s[k] !== undefined) checkBool(k, s[k]);
    }
    return s;
  });
  const properties = o.subscriptionIdentifier !== undefined || o.userProperties !== undefined
    ? { subscriptionIdentifier: o.subscriptionIdentifier, userProperties: o.userProperties }
    : undefined;
  const bytes = encodeSubscribe(
    { type: "subscribe", packetId: 1, subscriptions, properties },
    version,
  );
  // The robust client renews them later: copies, which the caller's reuse of its own cannot change.
  return { subscriptions, signal, properties: copied(properties), bytes };
}

/** Throws unless `o` passes {@linkcode checkOptions} and its keys, but for qos and signal, are MQTT 5's. */
function checkKeys(o: object, allowed: string[], what: string, version: ProtocolVersion): void {
  checkOptions(o, allowed, what);
  for (const [k, v] of Object.entries(o)) {
    if (v !== undefined && version !== 5 && k !== "qos" && k !== "signal") {
      throw v5Only([k], `for ${what}`);
    }
  }
}

const WILL_PROPERTIES = [...MESSAGE_PROPERTIES, "willDelayInterval"];

/**
 * MQTT 5: a payload with Payload Format Indicator 1 is UTF-8 text, which
 * must be well-formed (section 3.3.2.3.2); text given as a string always is.
 */
function checkText(payload: Uint8Array, what: string): void {
  if (!isUtf8(payload)) {
    throw new TypeError(
      `Invalid ${what}: not well-formed UTF-8, and payloadFormatIndicator says it is (MQTT 5.0 section 3.3.2.3.2)`,
    );
  }
}

/** Checks `set_last_will()`'s arguments, with MQTT 5 the will's properties. */
export function checkWill(
  topic: string,
  msg: string | Uint8Array,
  retain: boolean | PublishArgs,
  qos: QoS,
  options: PublishArgs,
  version: ProtocolVersion,
): Will {
  const o = publishArgs(retain, qos);
  validateTopicName(topic, "set the will");
  const given = typeof retain === "object" && retain !== null ? retain : options;
  checkOptions(given, WILL_OPTIONS, "the will");
  // After positional retain and qos, the options' own would go unused; after an options object, all.
  checkOptions(options, given === options ? WILL_OPTIONS.slice(2) : [], "the will");
  const will: Will = {
    topic,
    payload: checkPayload(msg),
    qos: o.qos,
    retain: o.retain,
    properties: checkProperties(given.properties, WILL_PROPERTIES, "the will", version),
  };
  if (will.properties?.payloadFormatIndicator) checkText(will.payload, "will message");
  // The codec checks the rest: the topic's UTF-8, the message's length, the properties' values.
  encodeConnect({ type: "connect", clientId: "", cleanSession: true, keepalive: 0, will }, version);
  // Kept for every CONNECT to come: copies, which the caller's reuse of its own cannot change
  // (not slice()s: a Node Buffer's shares its memory).
  const p = will.properties ?? {};
  will.payload = new Uint8Array(will.payload);
  p.correlationData &&= new Uint8Array(p.correlationData);
  p.userProperties &&= p.userProperties.map(([k, v]) => [k, v]);
  return will;
}

/** Checks `unsubscribe()`'s filters and options, and encodes the UNSUBSCRIBE (the codec checks the filters). */
export function checkUnsubscribe(
  topics: readonly string[],
  version: ProtocolVersion,
  options: { signal?: AbortSignal; userProperties?: [string, string][] } = {},
): Uint8Array {
  checkKeys(options, ["signal", "userProperties"], "unsubscribe", version);
  options.signal?.throwIfAborted();
  const { userProperties } = options;
  const properties = userProperties === undefined ? undefined : { userProperties };
  return encodeUnsubscribe({
    type: "unsubscribe",
    packetId: 1,
    topics: topics as string[],
    properties,
  }, version);
}

const DISCONNECT_OPTIONS = [
  "reasonCode",
  "sessionExpiryInterval",
  "reasonString",
  "userProperties",
];

/** `o` with its `userProperties` copied: sent later, it is as at the call, whatever its caller reuses. */
export const copied = <T extends { userProperties?: [string, string][] }>(o?: T): T | undefined =>
  o &&
  { ...o, ...o.userProperties && { userProperties: o.userProperties.map(([k, v]) => [k, v]) } };

/**
 * `disconnect()`'s MQTT 5 options as the DISCONNECT to send; undefined
 * without options. `connectExpiry` is the last CONNECT's Session Expiry
 * Interval: when it was 0, the DISCONNECT may not set one (MQTT 5.0 section 3.14.2.2.2).
 * Over the broker's Maximum Packet Size `max`, the Reason String goes, else
 * the User Properties, else both (MQTT-3.14.2-3, -4): a DISCONNECT the broker
 * refused would make it publish the will.
 */
export function checkDisconnect(
  options: { reasonCode?: number } & DisconnectProperties | undefined,
  version: ProtocolVersion,
  connectExpiry?: number,
  max = Infinity,
): Uint8Array | undefined {
  if (options === undefined) return undefined;
  if (version !== 5) {
    throw v5Only(keysOf(options), "", "disconnect() option", "disconnect() options");
  }
  checkOptions(options, DISCONNECT_OPTIONS, "disconnect");
  const { reasonCode, ...properties } = options;
  const expiry = properties.sessionExpiryInterval;
  if (connectExpiry === 0 && expiry !== undefined && expiry !== 0) {
    // A broker takes it for a protocol error: mosquitto publishes the will.
    throw new RangeError(
      `Invalid disconnect() option sessionExpiryInterval ${
        shown(expiry)
      }: the CONNECT's was 0 (connect(true) without sessionExpiryInterval, or sessionExpiryInterval: 0), so the DISCONNECT may not set one (MQTT 5.0 section 3.14.2.2.2)`,
    );
  }
  const { reasonString, userProperties, ...rest } = properties;
  let bytes!: Uint8Array;
  for (const p of [properties, { ...rest, userProperties }, { ...rest, reasonString }, rest]) {
    bytes = encodeDisconnect({ type: "disconnect", reasonCode, properties: p }, 5);
    if (bytes.length <= max) break;
  }
  // A code DISCONNECT carries (the codec checked), but one only a Server sends (table 3-10).
  const code = reasonCode!;
  if (code > 0x99 || [0x87, 0x89, 0x8b, 0x8d, 0x8e, 0x8f].includes(code)) {
    throw new RangeError(
      `Invalid disconnect() option reasonCode 0x${
        code.toString(16)
      }: only a Server sends it (MQTT-3.14.2-1)`,
    );
  }
  return bytes;
}

/**
 * The code of a SUBSCRIBE's or UNSUBSCRIBE's one filter, once the broker
 * granted it; a refusal (0x80 and above) throws, with the acknowledgement's
 * Reason String (MQTT 5) when it gave one.
 *
 * @throws {MQTTException} The refusal.
 */
export function granted(what: string, topic: string, packet: string, acked: Acked): number {
  const code = acked.codes[0], reasonString = acked.reasonString;
  if (code < 0x80) return code;
  const why = code === 0x80 ? "" : `, ${reasonCodeMessage(code)}`;
  throw new MQTTException(
    `${what} "${topic}" refused by the broker (${packet} ${
      code === 0x80 ? "return" : "reason"
    } code 0x${code.toString(16)}${why}${reasonString ? `: ${reasonString}` : ""})`,
    code,
    reasonString,
  );
}

/** A robust client's option that must be a positive integer (its limits, its longest delay). */
export function positive(name: string, v: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < 1 || v > max) {
    const most = max < Number.MAX_SAFE_INTEGER ? ` of at most ${max}` : "";
    throw invalid(name, v, `a positive integer${most}`, 1);
  }
  return v;
}

/** The robust client's `DELAY`: a finite number of seconds, 0 or more. */
export function checkDelay(seconds: number): number {
  if (typeof seconds !== "number" || !(seconds >= 0) || seconds === Infinity) {
    // A string (a bigint) named as one: `Invalid DELAY 1` would read as if 1 were out of range.
    const t = typeof seconds, got = t === "string" || t === "bigint" ? `, got a ${t}` : "";
    throw new RangeError(
      `Invalid DELAY ${String(seconds)}: must be a finite number of seconds, 0 or more${got}`,
    );
  }
  return seconds + 0; // -0 as 0
}

/** reauthenticate()'s: the client's Authentication Method (MQTT 5), and data given as bytes. */
export function checkReauth(method: string | undefined, data: unknown): string {
  if (!method) {
    throw new TypeError(
      "Cannot reauthenticate: the client has no authenticationMethod (MQTT 5 enhanced authentication)",
    );
  }
  if (data !== undefined && !(data instanceof Uint8Array)) {
    throw invalid("data", data, "a Uint8Array");
  }
  return method;
}
