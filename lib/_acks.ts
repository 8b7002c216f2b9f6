// What the broker's acknowledgements answer, checked against what they
// acknowledge, what may come while a CONNACK is awaited and what a refusing
// one means, and what a packet kept from an earlier connection awaits and is
// sent again as: for the protocol state (lib/_protocol.ts) and the reader
// (lib/_connection.ts).
import {
  type ConnackPacket,
  connackReturnCodeMessage,
  type DisconnectPacket,
  type Packet,
  type ProtocolVersion,
  type SubackPacket,
  type UnsubackPacket,
} from "./codec/packet.ts";
import { encodeAck } from "./codec/publish.ts";
import { reasonText } from "./codec/reason_codes.ts";
import { MQTTConnectionError, MQTTException, MQTTProtocolError } from "./errors.ts";
import type { AckKind, InFlight } from "./_protocol_types.ts";
import type { Connack } from "./options.ts";
import type { ConnackProperties } from "./codec/properties.ts";

const noop = () => {};

const WAITS_FOR = {
  puback: "QoS 1 PUBLISH",
  pubrec: "QoS 2 PUBLISH",
  pubcomp: "PUBREL",
  suback: "SUBSCRIBE",
  unsuback: "UNSUBSCRIBE",
};

/** The error for a packet the broker must not send now: MQTT 5's 0x82, protocol error. */
export function outOfTurn(message: string, rule = ""): MQTTProtocolError {
  return new MQTTProtocolError(message, rule, 0x82);
}

/**
 * While a CONNACK is awaited (an MQTT 5 AUTH aside): `p` must be it, and after an MQTT 5 clean
 * start (`v5Clean`) one that accepts must not say Session Present: MQTT 5 makes the client close
 * (3.1.1 leaves it the choice).
 *
 * @throws {MQTTProtocolError} Either broken (MQTT-3.2.0-1, MQTT-3.2.2-4).
 */
export function connackFirst(p: Packet, v5Clean: boolean): asserts p is ConnackPacket {
  if (p.type !== "connack") {
    throw outOfTurn(`Expected CONNACK first, got ${p.type.toUpperCase()}`, "MQTT-3.2.0-1");
  }
  if (v5Clean && p.sessionPresent && p.returnCode === 0) {
    throw outOfTurn("CONNACK with Session Present after a clean start", "MQTT-3.2.2-4");
  }
}

/**
 * The error for a packet out of place once a CONNACK has come: any after one that refused
 * (`refused`; MQTT-3.2.2-5, in MQTT 5 -7), or a second CONNACK (MQTT-3.2.0-1), which says what
 * it said if it refuses: mosquitto 2.0 refuses a re-authentication so, where MQTT 5 has DISCONNECT.
 */
export function misplaced(p: Packet, version: ProtocolVersion, refused = false): MQTTProtocolError {
  if (refused) {
    const rule = version === 5 ? "MQTT-3.2.2-7" : "MQTT-3.2.2-5";
    return outOfTurn(`${p.type.toUpperCase()} after a refusing CONNACK`, rule);
  }
  const head = "A second CONNACK on one connection", ack = p as ConnackPacket;
  const why = ack.properties?.reasonString;
  return outOfTurn(
    version === 5 && ack.returnCode >= 0x80
      ? reasonText(`${head}, refusing`, ack.returnCode, "CONNACK", why)
      : head,
    "MQTT-3.2.0-1",
  );
}

/** The error for a CONNACK `ack` of MQTT `version` that refuses the connection. */
export function connackRefusal(ack: ConnackPacket, version: ProtocolVersion): MQTTException {
  const code = ack.returnCode, why = ack.properties?.reasonString;
  // The protocol level refused: the other one may do (to 3.1.1, also a broker of MQTT 3.1 refuses).
  const [other, level] = version === 5 ? ["3.1.1", 4] : ["3.1 (unsupported) or MQTT 5", 5];
  const hint = code === (version === 5 ? 0x84 : 1)
    ? `: the broker may speak MQTT ${other} only: try protocolVersion: ${level}`
    : "";
  return version === 5
    ? new MQTTException(
      // 0x9A and 0x9B: in a CONNACK, only the will's (MQTT 5.0 section 3.2.2.2).
      reasonText("Connection refused", code, "CONNACK", why) + hint +
        (code === 0x9a ? ": refused for the will's retain flag" : "") +
        (code === 0x9b ? ": refused for the will's QoS" : ""),
      code,
      why,
      ack.properties?.serverReference,
    )
    : new MQTTException(connackReturnCodeMessage(code) + hint, code);
}

/** MQTT 5: the error for the broker's DISCONNECT `p`, with its reason code and properties. */
export function disconnectError(p: DisconnectPacket): MQTTConnectionError {
  const reasonCode = p.reasonCode ?? 0, { reasonString, serverReference } = p.properties ?? {};
  const why = reasonText("Disconnected by the broker", reasonCode, "DISCONNECT", reasonString);
  return new MQTTConnectionError(why, { reasonCode, reasonString, serverReference });
}

/**
 * What a connection ended while a CONNACK is awaited may have been: a 3.1.1
 * refusal, say, or a TLS listener's end of a plain connection (OpenSSL's, Node's).
 */
export const UNACKED = " before its CONNACK (a TLS listener, or a CONNECT it refuses?)";

/**
 * While a CONNACK is awaited, the start of a packet in `chunk`: bytes that
 * read as text cannot be one (CONNACK's and AUTH's first two bytes are not),
 * so the error shows them: an HTTP answer (mqtt:// to a WebSocket port, the
 * commonest wrong port) is then plain to see, not an MQTT rule its bytes
 * happen to break further on; so is a TLS alert (mqtt:// to a TLS port).
 *
 * @throws {MQTTProtocolError} The bytes read as text (MQTT-3.2.0-1).
 */
export function connackStart(chunk: Uint8Array): void {
  // A string is made only when its second byte is printable, as a CONNACK's length seldom is.
  const text = chunk[1] >= 0x20 && chunk[1] < 0x7f &&
    /^[ -~]{4,}/.exec(String.fromCharCode(...chunk.subarray(0, 32)));
  // Nor can a TLS alert record (0x15, version 3.x): a TLS listener's answer to a plain CONNECT.
  const got = text
    ? `text "${text[0]}"`
    : chunk[0] == 0x15 && chunk[1] == 3 && "a TLS alert (mqtts:// for TLS)";
  if (got) {
    throw new MQTTProtocolError(
      `Expected CONNACK first, got ${got}: not an MQTT listener?`,
      "MQTT-3.2.0-1",
    );
  }
}

/** The error for an acknowledgement of `type` for `id`, which has nothing of its kind in flight. */
export function unexpectedAck(type: keyof typeof WAITS_FOR, id: number): MQTTProtocolError {
  return outOfTurn(
    `${type.toUpperCase()} for packet id ${id}, which has no ${WAITS_FOR[type]} in flight`,
  );
}

/**
 * A code per filter of a SUBSCRIBE or UNSUBSCRIBE of `filters` filters:
 * SUBACK's granted QoS or failures; UNSUBACK's only in MQTT 5 (3.1.1: all
 * 0, success).
 *
 * @throws {MQTTProtocolError} Not one code per filter.
 */
export function ackCodes(p: SubackPacket | UnsubackPacket, filters: number): number[] {
  const codes = p.type === "suback" ? p.returnCodes : p.reasonCodes ?? Array(filters).fill(0);
  if (codes.length !== filters) {
    throw outOfTurn(
      p.type === "suback"
        ? `SUBACK has ${codes.length} return codes for a SUBSCRIBE of ${filters} filters`
        : `UNSUBACK has ${codes.length} reason codes for an UNSUBSCRIBE of ${filters} filters`,
      p.type === "suback" ? "MQTT-3.8.4-5" : "MQTT-3.11.3-1",
    );
  }
  return codes;
}

/** A packet kept from an earlier session, `bytes`, in flight, awaiting its acknowledgement. */
export function kept(bytes: Uint8Array): InFlight {
  // A PUBREL awaits PUBCOMP; a QoS 2 PUBLISH (flags 0b0100) PUBREC; a QoS 1 one PUBACK.
  const kind = bytes[0] >> 4 === 6 ? "pubcomp" : bytes[0] & 4 ? "pubrec" : "puback";
  return { kind, resolve: noop, reject: noop };
}

/**
 * A kept packet, `bytes` under packet id `id` awaiting `kind`, to send again: a PUBLISH
 * with DUP=1 (MQTT-3.3.1-1), unless published anew (`renewed`, see Protocol's renew).
 */
export function again(
  bytes: Uint8Array,
  id: number,
  kind?: AckKind,
  renewed?: boolean,
): Uint8Array {
  const dup = bytes[0] >> 4 === 3 && !renewed;
  // Past its PUBREC, kept as its PUBLISH by a 3.1.1 clean session: its PUBREL goes.
  if (dup && kind === "pubcomp") return encodeAck({ type: "pubrel", packetId: id });
  // A copy, also of a PUBREL: a store's own bytes may sit in a SharedArrayBuffer (or a resizable
  // one), which a WebSocket refuses to send, and DUP must not go into them (not slice(): a Node
  // Buffer's is a view).
  const packet = new Uint8Array(bytes);
  if (dup) packet[0] |= 0x08;
  return packet;
}

/**
 * The session's packets in the order to resend them (MQTT-4.4.0-1): each in
 * its place, but those past their PUBREC in this process, which go as PUBRELs
 * in the order their PUBRECs came (MQTT-4.6.0-4). A `renewed` session sends
 * no PUBREL: its publishes go anew, all in place.
 */
export function order(
  outgoing: Map<number, Uint8Array>,
  inflight: Map<number, InFlight>,
  renewed?: boolean,
): Iterable<[number, Uint8Array]> {
  if (renewed || !outgoing.size) return outgoing; // (empty: no arrays and closures for nothing)
  const all = [...outgoing],
    rec = ([id]: [number, unknown]) => {
      const f = inflight.get(id);
      return f?.kind === "pubcomp" ? f.rec! : 0;
    };
  const rels = all.filter(rec).sort((a, b) => rec(a) - rec(b));
  let i = 0;
  return all.map((e) => rec(e) ? rels[i++] : e);
}

/** `client.connack` of each connection that was asked for it since its last accepting CONNACK. */
export const SHOWN: WeakMap<object, Connack> = new WeakMap();

/**
 * `client.connack`: the last accepting CONNACK of `conn`, made when first
 * asked for, not by every connection (an idle client holds no object for it). Frozen, properties
 * too: they are the limits the client checks each publish against, and the robust client answers
 * `connect(false)` and `reconnect()` from it; no caller changes either.
 */
export function shownConnack(
  conn: { readonly acceptedProps: ConnackProperties | null; readonly present: boolean },
): Connack | undefined {
  const properties = conn.acceptedProps;
  let shown = SHOWN.get(conn);
  if (!shown && properties) {
    // Frozen: the client keeps to these limits (the shared `{}` of 3.1.1's already is), and the
    // robust client answers from its session-present flag.
    Object.freeze(properties);
    SHOWN.set(
      conn,
      shown = Object.freeze({ sessionPresent: conn.present, reasonCode: 0, properties }),
    );
  }
  return shown;
}
