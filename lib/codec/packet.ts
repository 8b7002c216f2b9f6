/**
 * The MQTT 3.1.1 and 5.0 control packets as plain objects, one interface per
 * packet type, told apart by `type`. MQTT 5.0 adds optional fields
 * (properties, reason codes, subscription options) and the AUTH packet.
 *
 * @module
 */
import type {
  AckProperties,
  AuthProperties,
  ConnackProperties,
  ConnectProperties,
  DisconnectProperties,
  PublishProperties,
  SubscribeProperties,
  UnsubscribeProperties,
  WillProperties,
} from "./properties.ts";

/** Quality of service: 0 at most once, 1 at least once, 2 exactly once. */
export type QoS = 0 | 1 | 2;

/** The protocol versions the codec speaks, as the CONNECT protocol level: 4 is MQTT 3.1.1, 5 is MQTT 5.0. */
export type ProtocolVersion = 4 | 5;

/** The numeric MQTT control packet types (the fixed header's high nibble). */
export const PacketType = {
  connect: 1,
  connack: 2,
  publish: 3,
  puback: 4,
  pubrec: 5,
  pubrel: 6,
  pubcomp: 7,
  subscribe: 8,
  suback: 9,
  unsubscribe: 10,
  unsuback: 11,
  pingreq: 12,
  pingresp: 13,
  disconnect: 14,
  auth: 15,
} as const;

/** The will message a CONNECT carries, published by the broker if the client vanishes. */
export interface Will {
  /** Topic the will is published to. */
  topic: string;
  /** The will's payload. */
  payload: Uint8Array;
  /** QoS the will is published with. */
  qos: QoS;
  /** Whether the broker retains the will. */
  retain: boolean;
  /** MQTT 5.0: the will's properties (delay, expiry, content type…). */
  properties?: WillProperties;
}

/** CONNECT: the first packet a client sends (MQTT 3.1.1 section 3.1, MQTT 5.0 section 3.1). */
export interface ConnectPacket {
  /** Packet type. */
  type: "connect";
  /** Protocol level: 4 (MQTT 3.1.1, also when absent) or 5 (MQTT 5.0). */
  protocolVersion?: ProtocolVersion;
  /** Client identifier; may be empty only with `cleanSession` (MQTT-3.1.3-7). */
  clientId: string;
  /** Start a new session (true) or resume the stored one (false); MQTT 5.0 calls it Clean Start. */
  cleanSession: boolean;
  /** Keep-alive interval in seconds, 0 to turn it off. */
  keepalive: number;
  /** User name, if any. */
  username?: string;
  /** Password bytes, if any (needs a `username` in MQTT 3.1.1, MQTT-3.1.2-22; not in MQTT 5.0). */
  password?: Uint8Array;
  /** The will message, if any. */
  will?: Will;
  /** MQTT 5.0: the connection's properties. */
  properties?: ConnectProperties;
}

/** CONNACK: the broker's answer to CONNECT (section 3.2). */
export interface ConnackPacket {
  /** Packet type. */
  type: "connack";
  /** Whether the broker had a stored session for this client. */
  sessionPresent: boolean;
  /**
   * MQTT 3.1.1: 0 accepted, 1–5 refused (see {@linkcode connackReturnCodeMessage}).
   * MQTT 5.0: the Connect Reason Code, 0 accepted, 0x80 and up refused (see
   * {@linkcode reasonCodeMessage}).
   */
  returnCode: number;
  /** MQTT 5.0: the broker's properties (limits, assigned client id…). */
  properties?: ConnackProperties;
}

/** PUBLISH: an application message, in either direction (section 3.3). */
export interface PublishPacket {
  /** Packet type. */
  type: "publish";
  /** Topic name (no wildcards). */
  topic: string;
  /** Payload bytes; a view into the decoded chunk where that is safe. */
  payload: Uint8Array;
  /** Delivery QoS. */
  qos: QoS;
  /** RETAIN flag. */
  retain: boolean;
  /** DUP flag: this is a resend of an earlier delivery attempt. */
  dup: boolean;
  /** Packet identifier, present when `qos > 0`. */
  packetId?: number;
  /**
   * MQTT 5.0: the message's properties. With a `topicAlias`, `topic` may be
   * empty: the receiver resolves the alias (MQTT 5.0 section 3.3.2.3.4).
   */
  properties?: PublishProperties;
}

/**
 * An acknowledgement of a PUBLISH or a PUBREC/PUBREL: a packet identifier,
 * and in MQTT 5.0 a reason code and properties.
 */
export interface AckPacket<T extends string> {
  /** Packet type. */
  type: T;
  /** Packet identifier being acknowledged. */
  packetId: number;
  /**
   * MQTT 5.0: the reason code (0x00 success; 0x80 and up a failure; see
   * {@linkcode reasonCodeMessage}). Decoding MQTT 5.0 always sets it; encoding
   * leaves it out when it is 0 and there are no properties.
   */
  reasonCode?: number;
  /** MQTT 5.0: the acknowledgement's properties. */
  properties?: AckProperties;
}

/** The packet types that carry only a packet identifier. */
export type AckType = "puback" | "pubrec" | "pubrel" | "pubcomp" | "unsuback";

/** PUBACK: acknowledges a QoS 1 PUBLISH (section 3.4). */
export type PubackPacket = AckPacket<"puback">;
/** PUBREC: first acknowledgement of a QoS 2 PUBLISH (section 3.5). */
export type PubrecPacket = AckPacket<"pubrec">;
/** PUBREL: releases a QoS 2 packet identifier (section 3.6). */
export type PubrelPacket = AckPacket<"pubrel">;
/** PUBCOMP: completes a QoS 2 exchange (section 3.7). */
export type PubcompPacket = AckPacket<"pubcomp">;
/** UNSUBACK: acknowledges an UNSUBSCRIBE (section 3.11). */
export interface UnsubackPacket {
  /** Packet type. */
  type: "unsuback";
  /** Packet identifier of the UNSUBSCRIBE answered. */
  packetId: number;
  /** MQTT 5.0 only: per filter, a reason code (0x00 success, 0x11 no subscription existed…). */
  reasonCodes?: number[];
  /** MQTT 5.0: the acknowledgement's properties. */
  properties?: AckProperties;
}

/** One topic filter and the maximum QoS asked for it, with MQTT 5.0's subscription options. */
export interface Subscription {
  /** Topic filter (wildcards allowed). */
  topic: string;
  /** Maximum QoS requested. */
  qos: QoS;
  /** MQTT 5.0: do not send this client the messages it publishes itself (not on `$share/`). */
  noLocal?: boolean;
  /** MQTT 5.0: keep the RETAIN flag of forwarded messages as it was published. */
  retainAsPublished?: boolean;
  /**
   * MQTT 5.0: retained messages at subscribe time: 0 send them, 1 only if the
   * subscription is new, 2 do not send them.
   */
  retainHandling?: 0 | 1 | 2;
}

/** SUBSCRIBE: asks for one or more topic filters (section 3.8). */
export interface SubscribePacket {
  /** Packet type. */
  type: "subscribe";
  /** Packet identifier. */
  packetId: number;
  /** At least one filter (MQTT-3.8.3-3). */
  subscriptions: Subscription[];
  /** MQTT 5.0: the subscription identifier and user properties. */
  properties?: SubscribeProperties;
}

/** SUBACK: the broker's answer to SUBSCRIBE (section 3.9). */
export interface SubackPacket {
  /** Packet type. */
  type: "suback";
  /** Packet identifier of the SUBSCRIBE answered. */
  packetId: number;
  /**
   * Per filter, the granted QoS (0, 1, 2) or 0x80 for failure; in MQTT 5.0
   * the Subscribe Reason Code (0x80 and up a failure).
   */
  returnCodes: number[];
  /** MQTT 5.0: the acknowledgement's properties. */
  properties?: AckProperties;
}

/** UNSUBSCRIBE: drops one or more topic filters (section 3.10). */
export interface UnsubscribePacket {
  /** Packet type. */
  type: "unsubscribe";
  /** Packet identifier. */
  packetId: number;
  /** At least one filter (MQTT-3.10.3-2). */
  topics: string[];
  /** MQTT 5.0: user properties. */
  properties?: UnsubscribeProperties;
}

/** PINGREQ: keep-alive probe from the client (section 3.12). */
export interface PingreqPacket {
  /** Packet type. */
  type: "pingreq";
}

/** PINGRESP: the broker's answer to PINGREQ (section 3.13). */
export interface PingrespPacket {
  /** Packet type. */
  type: "pingresp";
}

/**
 * DISCONNECT: the client's clean goodbye; the broker discards the will
 * (section 3.14). In MQTT 5.0 either side may send it, with a reason.
 */
export interface DisconnectPacket {
  /** Packet type. */
  type: "disconnect";
  /**
   * MQTT 5.0: the reason code (0x00 normal, 0x04 publish the will, 0x80 and
   * up an error). Decoding MQTT 5.0 always sets it.
   */
  reasonCode?: number;
  /** MQTT 5.0: the disconnect's properties. */
  properties?: DisconnectProperties;
}

/** AUTH: a step of MQTT 5.0's extended authentication (MQTT 5.0 section 3.15). */
export interface AuthPacket {
  /** Packet type. */
  type: "auth";
  /** 0x00 success, 0x18 continue authentication, 0x19 re-authenticate. */
  reasonCode: number;
  /** The authentication method and data. */
  properties?: AuthProperties;
}

/** Any MQTT 3.1.1 or 5.0 control packet. */
export type Packet =
  | ConnectPacket
  | ConnackPacket
  | PublishPacket
  | PubackPacket
  | PubrecPacket
  | PubrelPacket
  | PubcompPacket
  | SubscribePacket
  | SubackPacket
  | UnsubscribePacket
  | UnsubackPacket
  | PingreqPacket
  | PingrespPacket
  | DisconnectPacket
  | AuthPacket;

const CONNACK_MESSAGES = [
  "Connection accepted",
  "Connection refused: unacceptable protocol version",
  "Connection refused: identifier rejected",
  "Connection refused: server unavailable",
  "Connection refused: bad user name or password",
  "Connection refused: not authorized",
];

/**
 * Says in words what a CONNACK return code means (MQTT 3.1.1 table 3.1).
 *
 * @param code The CONNACK return code.
 * @returns A sentence such as `"Connection refused: not authorized"`.
 *
 * @example
 * ```ts
 * import { connackReturnCodeMessage } from "@umqtt/umqtt/codec";
 * console.assert(connackReturnCodeMessage(5) === "Connection refused: not authorized");
 * ```
 */
export function connackReturnCodeMessage(code: number): string {
  return CONNACK_MESSAGES[code] ?? `Connection refused: reserved return code ${code}`;
}
