/**
 * MQTT 5.0 properties (section 2.2.2): one interface per packet that carries
 * them, and the one table from which they are encoded and decoded.
 *
 * @module
 */
import { MQTTProtocolError } from "../errors.ts";
import { NAMES } from "./_names.ts";
import { type BodyReader, intact, shown, typeName, utf8 } from "./_strings.ts";
import { pushVarint, SHORT_LIVED } from "./_varint.ts";
import {
  ACKS,
  AUTH,
  BIN,
  BOOL,
  BYTE,
  CONNACK,
  CONNECT,
  DISCONNECT,
  MESSAGE,
  NONZERO,
  PAIR,
  PUBLISH,
  REPEAT,
  STR,
  SUBSCRIBE,
  U16,
  U32,
  UNSUBSCRIBE,
  VBI,
  WILL,
} from "./_sets.ts";

/** A user property: a name and a value. Names may repeat; order is kept (MQTT 5.0 section 1.5.7). */
export type UserProperty = [name: string, value: string];

/** The properties of UNSUBSCRIBE (MQTT 5.0 section 3.10.2.1), and the base of the others. */
export interface UnsubscribeProperties {
  /** Name/value pairs for the application, in order; a name may appear more than once. */
  userProperties?: UserProperty[];
}

/**
 * The properties of PUBACK, PUBREC, PUBREL, PUBCOMP, SUBACK and UNSUBACK
 * (MQTT 5.0 sections 3.4.2.2–3.7.2.2, 3.9.2.1, 3.11.2.1).
 */
export interface AckProperties extends UnsubscribeProperties {
  /** Human-readable diagnostics from the sender; not meant to be parsed. */
  reasonString?: string;
}

/** The properties of SUBSCRIBE (MQTT 5.0 section 3.8.2.1). */
export interface SubscribeProperties extends UnsubscribeProperties {
  /** Identifier (1 to 268,435,455) the broker returns with every message these filters match. */
  subscriptionIdentifier?: number;
}

/** The properties an application message carries, in a PUBLISH or a will (MQTT 5.0 section 3.3.2.3). */
export interface MessageProperties extends UnsubscribeProperties {
  /** True when the payload is UTF-8 text, false (or absent) for unspecified bytes. */
  payloadFormatIndicator?: boolean;
  /** Lifetime of the message in seconds; absent, it does not expire. */
  messageExpiryInterval?: number;
  /** Content type of the payload, e.g. a MIME type; its meaning is up to the applications. */
  contentType?: string;
  /** Topic name a response to this request goes to. */
  responseTopic?: string;
  /** Bytes the requester uses to match a response to its request. */
  correlationData?: Uint8Array;
}

/** The properties of a will message (MQTT 5.0 section 3.1.3.2). */
export interface WillProperties extends MessageProperties {
  /** Seconds the broker waits after the connection is lost before it publishes the will. */
  willDelayInterval?: number;
}

/** The properties of PUBLISH (MQTT 5.0 section 3.3.2.3). */
export interface PublishProperties extends MessageProperties {
  /** A number (1 to the receiver's topic alias maximum) that stands for the topic name. */
  topicAlias?: number;
  /**
   * The identifiers of the subscriptions this message matched (broker to
   * client only, MQTT-3.3.4-6); the property may repeat, so it is an array.
   */
  subscriptionIdentifiers?: number[];
}

/** The properties of CONNECT (MQTT 5.0 section 3.1.2.11). */
export interface ConnectProperties extends UnsubscribeProperties {
  /** Seconds the broker keeps the session after the connection closes; 0xFFFFFFFF is forever. */
  sessionExpiryInterval?: number;
  /** How many QoS 1 and QoS 2 publishes the client will process at once (1 to 65535). */
  receiveMaximum?: number;
  /** Largest packet, in bytes, the client accepts. */
  maximumPacketSize?: number;
  /** Highest topic alias the client accepts from the broker; 0 (the default) for none. */
  topicAliasMaximum?: number;
  /** Ask the broker for response information in its CONNACK. */
  requestResponseInformation?: boolean;
  /** False asks the broker to leave reason strings and user properties out of failures. */
  requestProblemInformation?: boolean;
  /** Name of the extended authentication method (section 4.12). */
  authenticationMethod?: string;
  /** Data of the extended authentication method. */
  authenticationData?: Uint8Array;
}

/** The properties of CONNACK (MQTT 5.0 section 3.2.2.3). */
export interface ConnackProperties extends AckProperties {
  /** Session expiry the broker uses, when it differs from the one asked for. */
  sessionExpiryInterval?: number;
  /** How many QoS 1 and QoS 2 publishes the broker will process at once (1 to 65535). */
  receiveMaximum?: number;
  /** Highest QoS the broker supports for publishes (absent: 2). */
  maximumQoS?: 0 | 1;
  /** Whether the broker supports retained messages (absent: yes). */
  retainAvailable?: boolean;
  /** Largest packet, in bytes, the broker accepts. */
  maximumPacketSize?: number;
  /** The client identifier the broker assigned, when the client sent an empty one. */
  assignedClientIdentifier?: string;
  /** Highest topic alias the broker accepts from the client; 0 (the default) for none. */
  topicAliasMaximum?: number;
  /** Whether the broker supports wildcard subscriptions (absent: yes). */
  wildcardSubscriptionAvailable?: boolean;
  /** Whether the broker supports subscription identifiers (absent: yes). */
  subscriptionIdentifiersAvailable?: boolean;
  /** Whether the broker supports shared subscriptions (absent: yes). */
  sharedSubscriptionAvailable?: boolean;
  /** Keep-alive in seconds the client must use instead of its own. */
  serverKeepAlive?: number;
  /** Basis for response topics, when the client asked for it. */
  responseInformation?: string;
  /** Another server to use (with reason codes 0x9C and 0x9D). */
  serverReference?: string;
  /** Name of the extended authentication method. */
  authenticationMethod?: string;
  /** Data of the extended authentication method; decoded, a view into the packet's chunk. */
  authenticationData?: Uint8Array;
}

/** The properties of DISCONNECT (MQTT 5.0 section 3.14.2.2). */
export interface DisconnectProperties extends AckProperties {
  /** New session expiry, sent by the client only (MQTT-3.14.2-2). */
  sessionExpiryInterval?: number;
  /** Another server to use (with reason codes 0x9C and 0x9D). */
  serverReference?: string;
}

/** The properties of AUTH (MQTT 5.0 section 3.15.2.2). */
export interface AuthProperties extends AckProperties {
  /** Name of the extended authentication method. */
  authenticationMethod?: string;
  /** Data of the extended authentication method; decoded, a view into the packet's chunk. */
  authenticationData?: Uint8Array;
}

// ---- the table -------------------------------------------------------------

// Its value types (BOOL…PAIR), flags (REPEAT, NONZERO) and packet sets (a bit
// per packet type, bit 0 the will) are in _sets.ts.
/** The BodyReader method that reads each type but PAIR (two strings). */
const READ = ["u8", "u8", "u16", "u32", "vbi", "string", "bytes"] as const;
/** Largest value of each numeric type. */
const MAX = [1, 1, 0xffff, 0xffffffff, 268_435_455];

/** A property: its identifier, its name, its type and flags, the packets that may carry it. */
type Entry = [id: number, name: string, kind: number, packets: number];

// Table 2-4 of MQTT 5.0 section 2.2.2.2, with each property's camelCase name.
// The Subscription Identifier is two entries: one number in SUBSCRIBE, where
// it may appear once, and a list in PUBLISH, where it may repeat.
const TABLE: Entry[] = [
  [0x01, "payloadFormatIndicator", BOOL, MESSAGE],
  [0x02, "messageExpiryInterval", U32, MESSAGE],
  [0x03, "contentType", STR, MESSAGE],
  [0x08, "responseTopic", STR, MESSAGE],
  [0x09, "correlationData", BIN, MESSAGE],
  [0x0b, "subscriptionIdentifier", VBI | NONZERO, SUBSCRIBE],
  [0x0b, "subscriptionIdentifiers", VBI | NONZERO | REPEAT, PUBLISH],
  [0x11, "sessionExpiryInterval", U32, CONNECT | CONNACK | DISCONNECT],
  [0x12, "assignedClientIdentifier", STR, CONNACK],
  [0x13, "serverKeepAlive", U16, CONNACK],
  [0x15, "authenticationMethod", STR, CONNECT | CONNACK | AUTH],
  [0x16, "authenticationData", BIN, CONNECT | CONNACK | AUTH],
  [0x17, "requestProblemInformation", BOOL, CONNECT],
  [0x18, "willDelayInterval", U32, WILL],
  [0x19, "requestResponseInformation", BOOL, CONNECT],
  [0x1a, "responseInformation", STR, CONNACK],
  [0x1c, "serverReference", STR, CONNACK | DISCONNECT],
  [0x1f, "reasonString", STR, CONNACK | ACKS | DISCONNECT | AUTH],
  [0x21, "receiveMaximum", U16 | NONZERO, CONNECT | CONNACK],
  [0x22, "topicAliasMaximum", U16, CONNECT | CONNACK],
  [0x23, "topicAlias", U16 | NONZERO, PUBLISH],
  [0x24, "maximumQoS", BYTE, CONNACK],
  [0x25, "retainAvailable", BOOL, CONNACK],
  [
    0x26,
    "userProperties",
    PAIR | REPEAT,
    MESSAGE | CONNECT | CONNACK | ACKS | SUBSCRIBE | UNSUBSCRIBE | DISCONNECT | AUTH,
  ],
  [0x27, "maximumPacketSize", U32 | NONZERO, CONNECT | CONNACK],
  [0x28, "wildcardSubscriptionAvailable", BOOL, CONNACK],
  [0x29, "subscriptionIdentifiersAvailable", BOOL, CONNACK],
  [0x2a, "sharedSubscriptionAvailable", BOOL, CONNACK],
];

/** The entry whose id (`at` 0) or name (`at` 1) is `v` and that packet `type` allows. */
function entry(at: 0 | 1, v: unknown, type: number): Entry | undefined {
  return TABLE.find((e) => e[at] === v && (e[3] >> type) & 1);
}

/**
 * The rule a bad value `v` of property `id` in packet `type` breaks: where
 * that packet's properties are defined (the will's in 3.1.3.2, CONNECT's in
 * 3.1.2.11, CONNACK's and PUBLISH's in 3.x.2.3, SUBSCRIBE…UNSUBACK's in
 * 3.x.2.1, the others' in 3.x.2.2), or for a topic alias of 0 its own rule.
 */
function rule(id: number, type: number, v?: unknown): string {
  return id === 0x23 && v === 0
    ? "MQTT-3.3.2-8"
    : `MQTT 5.0 section 3.${type || 1}.${
      type ? `2.${type < 2 ? 11 : type < 4 ? 3 : type > 7 && type < 12 ? 1 : 2}` : "3.2"
    }`;
}

/**
 * Encodes `props` as the properties of packet `type` (0 for a will): the
 * Property Length, then each property. Absent or empty properties are the
 * single byte 0x00 (MQTT-2.2.2-1). Small ones are a view into a buffer
 * shared with other packets, to be copied into a packet.
 *
 * @throws {TypeError} A key the table does not know or that packet does not allow, a value of the wrong type.
 * @throws {RangeError} A number out of its range (a topic alias of 0, a receive maximum over 65535…).
 */
export function writeProperties(props: object | undefined, type: number): Uint8Array {
  const out: number[] = [];
  const where = NAMES[type];
  for (const [key, value] of Object.entries(props ?? {})) {
    if (value === undefined) continue;
    const e = entry(1, key, type);
    if (!e) throw new TypeError(`${where} has no property ${key} (MQTT 5.0 section 2.2.2.2)`);
    const kind = e[2], t = kind & 7, min = kind & NONZERO ? 1 : 0;
    const values = kind & REPEAT ? value : [value];
    // A string would be iterated by character, a pair of any other length written as it is.
    if (
      !Array.isArray(values) ||
      t === PAIR && values.some((v) => !Array.isArray(v) || v.length !== 2)
    ) {
      throw new TypeError(
        `Invalid ${key} in ${where}: must be an array${
          t === PAIR ? " of [name, value] pairs" : ""
        }`,
      );
    }
    for (const v of values) {
      out.push(e[0]);
      const n = t === BOOL ? (typeof v === "boolean" ? +v : NaN) : v;
      // A Uint8Array of at most 65535 bytes (section 1.5.6), a number in range.
      if (
        t === BIN
          ? !(v instanceof Uint8Array) || v.length > 0xffff
          : t <= VBI && (!Number.isInteger(n) || n < min || n > MAX[t])
      ) {
        // The right type out of range is a RangeError, the wrong type a TypeError.
        throw new ((t === BIN ? v instanceof Uint8Array : t && typeof v === "number")
          ? RangeError
          : TypeError)(
          // Binary data (Authentication Data, a token; Correlation Data) never shown, only its
          // size or type. A string quoted: `Invalid x 60: must be an integer` would read as if
          // 60 were wrong.
          t === BIN
            ? `Invalid ${key} in ${where}: must be a Uint8Array of at most 65535 bytes, got ${
              v instanceof Uint8Array ? `${v.length} bytes` : typeName(v)
            } (${rule(e[0], type, v)})`
            : `Invalid ${key} ${shown(v)} in ${where}: must be ${
              t ? `an integer from ${min} to ${MAX[t]}` : "true or false"
            } (${rule(e[0], type, v)})`,
        );
      }
      if (t === BIN) intact(v, `${key} in ${where}`);
      if (t === VBI) pushVarint(out, n);
      else if (t < VBI) {
        for (let shift = t > 2 ? 24 : t > 1 ? 8 : 0; shift >= 0; shift -= 8) {
          out.push((n >>> shift) & 0xff);
        }
      } else {
        // Length-prefixed: a string, binary data, or a pair of strings.
        for (const s of t === PAIR ? v : [v]) {
          const bytes = t === BIN ? s : utf8(s, `${key} in ${where}`, SHORT_LIVED);
          out.push(bytes.length >> 8, bytes.length & 0xff);
          for (let i = 0; i < bytes.length; i++) out.push(bytes[i]);
        }
      }
    }
  }
  const length: number[] = [];
  pushVarint(length, out.length);
  // Copied into a packet at once: small ones from a slab (a buffer of their own costs ~1 us); not
  // Authentication Data, a secret, which another client's chunk's `.buffer` would then show.
  const n = length.length + out.length;
  const bytes = (props as { authenticationData?: unknown })?.authenticationData
    ? new Uint8Array(n)
    : SHORT_LIVED.take(n);
  bytes.set(length);
  bytes.set(out, length.length);
  return bytes;
}

/**
 * Reads the properties of packet `type` (0 for a will) at the reader's
 * position, their length first, each checked against the table; sets them
 * as `into.properties` unless there are none.
 *
 * @throws {MQTTProtocolError} A length that overruns the packet, an unknown property or one the
 * packet does not allow (reason code 0x81, Malformed Packet); one given twice that may appear
 * once, a value out of its range (0x82, Protocol Error; a topic alias of 0: 0x94).
 */
export function readProperties<T extends object>(
  r: BodyReader,
  type: number,
  into: { properties?: T } = {},
): T | undefined {
  const where = NAMES[type];
  const length = r.vbi("property length");
  if (length > r.left) {
    throw new MQTTProtocolError(
      `Malformed ${where}: property length ${length} overruns the packet`,
      "MQTT 5.0 section 2.2.2.1",
    );
  }
  if (!length) return;
  const props: Record<string, unknown> = {};
  const limit = r.limit;
  r.limit = r.pos + length;
  r.inProperties = true;
  while (r.left) {
    const id = r.u8("property identifier");
    const e = entry(0, id, type);
    if (!e) {
      throw new MQTTProtocolError(
        `${where} must not carry property 0x${id.toString(16)}`,
        "MQTT 5.0 section 2.2.2.2",
      );
    }
    const [, name, kind] = e, t = kind & 7;
    const v = t === PAIR ? [r.string(name), r.string(name)] : r[READ[t]](name);
    // A Byte property is 0 or 1; some numbers must not be 0. The packet is
    // well formed, but the value is a Protocol Error (0x82), a topic alias
    // of 0 one that says so (0x94, Topic Alias invalid).
    if ((t < U16 && (v as number) > 1) || (kind & NONZERO && v === 0)) {
      throw new MQTTProtocolError(
        `${where} has ${name} ${v}`,
        rule(id, type, v),
        id === 0x23 ? 0x94 : 0x82,
      );
    }
    if (kind & REPEAT) ((props[name] ??= []) as unknown[]).push(v);
    else if (name in props) {
      // "It is a Protocol Error to include [it] more than once" (sections 3.x.2.x).
      throw new MQTTProtocolError(`${where} has ${name} twice`, rule(id, type), 0x82);
    } else props[name] = t === BOOL ? v === 1 : v;
  }
  r.limit = limit;
  r.inProperties = false;
  return into.properties = props as T;
}
