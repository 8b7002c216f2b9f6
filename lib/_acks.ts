// What the broker's acknowledgements answer, checked against what they
// acknowledge: for the protocol state (lib/_protocol.ts).
import type { SubackPacket, UnsubackPacket } from "./codec/packet.ts";
import { MQTTProtocolError } from "./errors.ts";

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
