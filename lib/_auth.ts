// MQTT 5 enhanced authentication (section 4.12): which AUTH from the broker
// the client can take, apart from the connection that acts on it.
import type { AuthPacket } from "./codec/packet.ts";
import { MQTTProtocolError } from "./errors.ts";
import { outOfTurn } from "./_acks.ts";

/**
 * Checks an AUTH from the broker. Only the client starts an exchange (CONNECT,
 * or AUTH 0x19: section 4.12.1): 0x00 must end a re-authentication under way,
 * and 0x18 must continue an exchange under way of the client's `method`, with
 * an `onAuth` to answer it.
 *
 * @param p The broker's AUTH.
 * @param method The client's Authentication Method, if any.
 * @param onAuth Whether the client has an `onAuth`.
 * @param reauthenticating Whether a re-authentication is under way.
 * @param connecting Whether a CONNECT waits for its CONNACK.
 * @throws {MQTTProtocolError} An AUTH this client cannot take, with the reason code to close with.
 */
export function checkBrokerAuth(
  p: AuthPacket,
  method: string | undefined,
  onAuth: boolean,
  reauthenticating: boolean,
  connecting: boolean,
): void {
  if (p.reasonCode === 0) {
    if (reauthenticating) return;
    throw outOfTurn(
      "AUTH 0x00 from the broker, but no re-authentication is under way",
      "MQTT 5.0 section 4.12.1",
    );
  }
  const theirs = p.properties?.authenticationMethod;
  if (p.reasonCode !== 0x18 || !method || theirs !== method || !onAuth) {
    throw new MQTTProtocolError(
      !method
        ? "AUTH from the broker, but this client asked for no enhanced authentication"
        : !onAuth
        ? `AUTH from the broker for ${method}, and no onAuth to answer it`
        : `AUTH from the broker with reason 0x${p.reasonCode.toString(16)} for method ${theirs}`,
      "MQTT-4.12.0-4",
      method && !onAuth ? 0x8c : 0x82,
    );
  }
  if (!connecting && !reauthenticating) {
    throw outOfTurn(
      "AUTH 0x18 from the broker, but no authentication is under way",
      "MQTT 5.0 section 4.12.1",
    );
  }
}
