/**
 * The error classes umqtt throws or rejects with.
 *
 * - {@linkcode MQTTException}: the broker refused something (a CONNACK return
 *   code, a SUBACK failure); `code` holds the MQTT code.
 * - {@linkcode MQTTConnectionError}: the connection is gone (closed, reset,
 *   timed out, or closed by us after a protocol error, kept as `cause`).
 * - {@linkcode MQTTProtocolError}: bytes that break the MQTT specification;
 *   `rule` names the normative statement (e.g. `MQTT-1.5.3-1`).
 *
 * Bad arguments are plain `TypeError`s and `RangeError`s.
 *
 * @module
 */

/**
 * The broker refused an operation: a CONNACK with a non-zero return code, or a
 * SUBACK failure (0x80).
 *
 * @example Catch a refused connection
 * ```ts
 * import { MQTTException } from "@umqtt/umqtt";
 * const e = new MQTTException("Connection refused: not authorized", 5);
 * console.assert(e.code === 5 && e.name === "MQTTException");
 * ```
 */
export class MQTTException extends Error {
  /** The MQTT return code the broker sent (CONNACK return code, or 0x80 for a SUBACK failure). */
  readonly code: number;

  /**
   * Makes an exception for a broker's refusal.
   *
   * @param message What was refused and why.
   * @param code The MQTT return code.
   */
  constructor(message: string, code: number) {
    super(message);
    this.name = "MQTTException";
    this.code = code;
  }
}

/**
 * The connection to the broker is gone or could not be made: closed by either
 * side, reset, timed out, or closed by the client after the peer broke the
 * protocol. The underlying error, when there is one, is `cause`.
 *
 * @example
 * ```ts
 * import { MQTTConnectionError } from "@umqtt/umqtt";
 * const e = new MQTTConnectionError("Connection closed", { cause: new Error("reset") });
 * console.assert(e.name === "MQTTConnectionError");
 * ```
 */
export class MQTTConnectionError extends Error {
  /**
   * Makes a connection error.
   *
   * @param message What happened to the connection.
   * @param options `cause`: the error underneath, if any.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "MQTTConnectionError";
  }
}

/**
 * Bytes that break the MQTT specification, found while decoding. The message
 * names the rule broken; `rule` holds its identifier when the specification
 * gives one.
 *
 * @example
 * ```ts
 * import { MQTTProtocolError } from "@umqtt/umqtt";
 * const e = new MQTTProtocolError("Malformed Remaining Length", "MQTT-2.2.3");
 * console.assert(e.message.includes("MQTT-2.2.3"));
 * ```
 */
export class MQTTProtocolError extends Error {
  /** The specification rule broken, e.g. `"MQTT-1.5.3-1"`, or `""` when none has a number. */
  readonly rule: string;

  /**
   * Makes a protocol error.
   *
   * @param message What was wrong with the bytes.
   * @param rule The specification rule broken; appended to the message as `(rule)`.
   */
  constructor(message: string, rule = "") {
    super(rule ? `${message} (${rule})` : message);
    this.name = "MQTTProtocolError";
    this.rule = rule;
  }
}
