// The protocol core's vocabulary (lib/_protocol.ts): what it is given,
// what it keeps in flight and what it calls back. Types only.
import type {
  AuthPacket,
  ConnackPacket,
  DisconnectPacket,
  ProtocolVersion,
  PublishPacket,
} from "./codec/packet.ts";
import type { AckProperties } from "./codec/properties.ts";

/** Settles one waiting call. */
export interface Pending<T> {
  resolve(value: T): void;
  reject(error: unknown): void;
}

/** What a SUBACK or UNSUBACK said: a code per filter and, with MQTT 5, maybe why. */
export interface Acked {
  /** A code per filter, in order. */
  codes: number[];
  /** MQTT 5: the acknowledgement's Reason String. */
  reasonString?: string;
}

/** The acknowledgement a packet id waits for. */
export type AckKind = "puback" | "pubrec" | "pubcomp" | "suback" | "unsuback";

/**
 * A packet id in use and the acknowledgement it waits for: PUBACK (QoS 1),
 * PUBREC then PUBCOMP (QoS 2), SUBACK or UNSUBACK. Publishes also sit in the
 * session store, to be resent after a reconnect.
 */
export interface InFlight extends Pending<unknown> {
  /** Settles it; a SUBACK's or UNSUBACK's codes come with its properties (MQTT 5: why). */
  resolve(value: unknown, properties?: AckProperties): void;
  kind: AckKind;
  /** Number of filters in the SUBSCRIBE or UNSUBSCRIBE, to check the answer against. */
  filters?: number;
  /** A QoS 2 PUBLISH past its PUBREC: when that came, to resend PUBRELs in that order. */
  rec?: number;
}

/**
 * A packet that takes a packet id, for {@linkcode Protocol.send}; settled by
 * its acknowledgement, or rejected when the connection ends.
 */
export interface Request extends InFlight {
  /** The whole packet; its id is written in at `idAt`. */
  bytes: Uint8Array;
  /** Where the two bytes of the packet id go. */
  idAt: number;
  /** Keep it in the session until acknowledged (publishes). */
  keep: boolean;
  /** Aborting it drops a request still waiting for an id. */
  signal?: AbortSignal;
  /** MQTT 5: the PUBLISH as a packet, to send it under a topic alias. */
  packet?: PublishPacket;
  /** Waiting for its turn: its call's number (lib/_ids.ts). */
  turn?: number;
}

/** MQTT 5 settings of the client's own side, from its options. */
export interface ProtocolOptions {
  /** 4 (MQTT 3.1.1) or 5. */
  version: ProtocolVersion;
  /** Our Receive Maximum: more unacknowledged QoS 1/2 messages than this are counted as overruns. */
  receiveMaximum: number;
  /** Our Topic Alias Maximum: the highest alias the broker may use. */
  topicAliasMaximum: number;
  /** Send repeated topics as aliases when the broker allows them. */
  autoTopicAlias: boolean;
  /** 3.1.1: most QoS 2 publishes of ours unacknowledged at once; default 20. */
  maxInflightQoS2?: number;
}

/** 3.1.1: maxInflightQoS2's default (see options.ts). */
export const QOS2_WINDOW = 20;

/** The settings of a 3.1.1 client. */
export const V4: ProtocolOptions = {
  version: 4,
  receiveMaximum: 65535,
  topicAliasMaximum: 0,
  autoTopicAlias: false,
};

/** A received PUBLISH, with the connection and the session it came in. */
export interface Incoming {
  packet: PublishPacket;
  generation: number;
  session: number;
  /** QoS 1 and 2: its place among the connection's, for the order of the acks (from 1). */
  seq: number;
}

/** What the protocol state asks of whoever drives it. */
export interface ProtocolOutput {
  /**
   * Sends bytes on the current connection. Returns the writer's count of
   * packets queued so far, this one included, which {@linkcode Protocol.wrote}
   * is told back once they are written; nothing when they go out at once.
   */
  write(bytes: Uint8Array): number | void;
  /** Hands a received message to the application. */
  deliver(message: Incoming): void;
  /** The broker answered CONNECT. */
  connack(packet: ConnackPacket): void;
  /** MQTT 5: the broker ends the connection with a DISCONNECT. */
  disconnected(packet: DisconnectPacket): void;
  /** MQTT 5: an AUTH from the broker, a step of enhanced authentication. */
  auth(packet: AuthPacket): void;
}
