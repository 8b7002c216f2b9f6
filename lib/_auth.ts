// MQTT 5 enhanced authentication (section 4.12): which AUTH from the broker
// the client can take, apart from the connection that acts on it.
import type { AuthPacket, ConnackPacket } from "./codec/packet.ts";
import { MQTTConnectionError, MQTTProtocolError } from "./errors.ts";
import { outOfTurn } from "./_acks.ts";
import { OWN_FAILURES } from "./_servers.ts";
import { typeName } from "./codec/_strings.ts";

/**
 * Checks an AUTH from the broker. Only the client starts an exchange (CONNECT,
 * or AUTH 0x19: section 4.12.1): 0x00 must end a re-authentication under way,
 * of the client's `method` (MQTT-4.12.0-5), and 0x18 must continue an exchange
 * under way of that method, with an `onAuth` to answer it.
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
  const theirs = p.properties?.authenticationMethod;
  if (p.reasonCode === 0) {
    if (!reauthenticating) {
      throw outOfTurn(
        "AUTH 0x00 from the broker, but no re-authentication is under way",
        "MQTT 5.0 section 4.12.1",
      );
    }
    // The success that ends it names the method too: one for another
    // method, or none, authenticates nothing the client asked for.
    if (theirs === method) return;
    throw outOfTurn(`AUTH 0x00 from the broker ${named(theirs)}, not ${method}`, "MQTT-4.12.0-5");
  }
  if (!method) {
    throw new MQTTProtocolError(
      "AUTH from the broker, but this client asked for no enhanced authentication",
      "MQTT-4.12.0-6",
      0x82,
    );
  }
  // Its AUTH has 0x18 (-2) and the CONNECT's method (-5): what breaks that is a protocol error,
  // whether or not the client could have answered it.
  if (p.reasonCode !== 0x18 || theirs !== method) {
    throw outOfTurn(
      `AUTH from the broker with reason 0x${p.reasonCode.toString(16)} ${named(theirs)}${
        theirs === method ? "" : `, not ${method}`
      }`,
      `MQTT-4.12.0-${theirs !== method ? 5 : 2}`,
    );
  }
  if (!connecting && !reauthenticating) {
    throw outOfTurn(
      "AUTH 0x18 from the broker, but no authentication is under way",
      "MQTT 5.0 section 4.12.1",
    );
  }
  if (!onAuth) {
    throw new MQTTProtocolError(
      `AUTH from the broker for ${method}, and no onAuth to answer it`,
      "MQTT 5.0 section 4.12",
      0x8c,
    );
  }
}

/** The method an AUTH names, for an error message. */
const named = (method: string | undefined) =>
  method === undefined ? "without an Authentication Method" : `for method ${method}`;

/**
 * Checks a CONNACK against the client's Authentication Method: an accepting
 * one must name the same method (MQTT-4.12.0-5). One that names none is
 * taken (brokers have left it out); one that names another authenticated
 * something the client never asked for.
 *
 * @param p The broker's CONNACK.
 * @param method The client's Authentication Method, if any.
 * @throws {MQTTProtocolError} An accepting CONNACK for another method (reason 0x82).
 */
export function checkConnackAuth(p: ConnackPacket, method: string | undefined): void {
  const theirs = p.properties?.authenticationMethod;
  if (p.returnCode !== 0 || theirs === undefined || theirs === method) return;
  throw outOfTurn(
    `CONNACK accepting Authentication Method ${theirs}, ${
      method ? `not ${method}` : "which this client did not ask for"
    }`,
    "MQTT-4.12.0-5",
  );
}

/**
 * The error of an exchange the client gives up (`onAuth` threw, or answered
 * what cannot be sent): not a network failure, so the robust client does not
 * retry it, as it would not bad credentials.
 */
export function authFailed(why: string, cause: unknown): MQTTConnectionError {
  const error = new MQTTConnectionError(`Authentication failed: ${why}`, { cause });
  OWN_FAILURES.add(error);
  return error;
}

/**
 * Why `data`, what `onAuth` answered, cannot be sent, if it cannot: by its
 * type only, as the value may be a secret.
 */
export function notAnAnswer(data: unknown): string | undefined {
  if (data instanceof Uint8Array) return;
  // What WebCrypto's sign() and digest() give.
  const hint = data instanceof ArrayBuffer ? " (new Uint8Array(buffer) wraps one)" : "";
  return `onAuth answered ${typeName(data)}, not a Uint8Array${hint}`;
}
