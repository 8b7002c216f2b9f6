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
 * SUBACK failure (0x80); in MQTT 5 any reason code from 0x80 (CONNACK, PUBACK,
 * PUBREC, SUBACK, UNSUBACK).
 *
 * @example Catch a refused connection
 * ```ts
 * import { MQTTException } from "@umqtt/umqtt";
 * const e = new MQTTException("Connection refused: not authorized", 5);
 * console.assert(e.code === 5 && e.name === "MQTTException");
 * ```
 */
export class MQTTException extends Error {
  /**
   * The code the broker sent: a 3.1.1 CONNACK return code or 0x80 for a
   * SUBACK failure; in MQTT 5 the reason code (0x80 and above).
   */
  readonly code: number;
  /** MQTT 5: the broker's Reason String, when it sent one. */
  readonly reasonString?: string;
  /** MQTT 5: a refused CONNACK's Server Reference (with 0x9C use another server, 0x9D server moved). */
  readonly serverReference?: string;

  /**
   * `"MQTTException"`. A field (after the others, as the assignment it replaces was), not
   * `this.name = …`: an assignment is refused where a lockdown froze `Error.prototype`.
   */
  override name = "MQTTException";

  /**
   * Makes an exception for a broker's refusal.
   *
   * @param message What was refused and why.
   * @param code The MQTT return or reason code.
   * @param reasonString The broker's Reason String (MQTT 5), if any.
   * @param serverReference A CONNACK's Server Reference (MQTT 5), if any.
   */
  constructor(message: string, code: number, reasonString?: string, serverReference?: string) {
    super(message);
    this.code = code;
    // Undefined when not given: the declared fields are own properties either way.
    this.reasonString = reasonString;
    this.serverReference = serverReference;
  }
}

/** What an MQTT 5 DISCONNECT from the broker said, on {@linkcode MQTTConnectionError}. */
export interface DisconnectReason {
  /** The DISCONNECT's reason code, e.g. 0x8B server shutting down. */
  reasonCode?: number;
  /** Its Reason String, if any. */
  reasonString?: string;
  /** Its Server Reference (with 0x9C use another server, 0x9D server moved), if any. */
  serverReference?: string;
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
  /** MQTT 5: the reason code of the broker's DISCONNECT, when one ended the connection. */
  readonly reasonCode?: number;
  /** MQTT 5: that DISCONNECT's Reason String, if any. */
  readonly reasonString?: string;
  /** MQTT 5: that DISCONNECT's Server Reference, if any. */
  readonly serverReference?: string;

  /** `"MQTTConnectionError"`. */
  override name = "MQTTConnectionError";

  /**
   * Makes a connection error.
   *
   * @param message What happened to the connection.
   * @param options `cause`: the error underneath, if any; with MQTT 5, what the broker's
   * DISCONNECT said (`reasonCode`, `reasonString`, `serverReference`).
   */
  constructor(message: string, options?: ErrorOptions & DisconnectReason) {
    super(message, options);
    if (options?.reasonCode !== undefined) {
      this.reasonCode = options.reasonCode;
      this.reasonString = options.reasonString;
      this.serverReference = options.serverReference;
    }
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
   * The MQTT 5 reason code the client's DISCONNECT gives for it: 0x81
   * malformed packet (the default), 0x82 protocol error, 0x8C bad
   * authentication method (an AUTH challenge with no `onAuth` to answer it),
   * 0x93 Receive Maximum exceeded (a QoS 1/2 PUBLISH past 65 535
   * unacknowledged), 0x94 topic alias invalid, 0x95 packet too large.
   */
  readonly reasonCode: number;

  /** `"MQTTProtocolError"`. */
  override name = "MQTTProtocolError";

  /**
   * Makes a protocol error.
   *
   * @param message What was wrong with the bytes.
   * @param rule The specification rule broken; appended to the message as `(rule)`.
   * @param reasonCode The MQTT 5 reason code for it (default 0x81, malformed packet).
   */
  constructor(message: string, rule = "", reasonCode = 0x81) {
    super(rule ? `${message} (${rule})` : message);
    this.rule = rule;
    this.reasonCode = reasonCode;
  }
}
