/**
 * CONNECT and CONNACK (MQTT 3.1.1 sections 3.1 and 3.2, MQTT 5.0 sections
 * 3.1 and 3.2).
 *
 * @module
 */
import { MQTTProtocolError } from "../errors.ts";
import { BodyReader, intact, typeName, utf8, writeBytes, writeU16 } from "./_strings.ts";
import { allocPacket, buildPacket, SHORT_LIVED } from "./_varint.ts";
import type { ConnackPacket, ConnectPacket, ProtocolVersion, QoS } from "./packet.ts";
import { readProperties, type WillProperties, writeProperties } from "./properties.ts";
import { checkReasonCode } from "./reason_codes.ts";
import { validateTopicName } from "../topic.ts";

// It is a Protocol Error to include Authentication Data without an Authentication Method.
const NO_METHOD = "Authentication Data without an Authentication Method";
const NO_METHOD_RULE = "MQTT 5.0 section 3.1.2.11.10";
// Variable header: protocol name "MQTT" (00 04 4D 51 54 54), then the level.
const PROTOCOL = [0x00, 0x04, 0x4d, 0x51, 0x54, 0x54];

/**
 * Encodes a CONNECT packet at level `p.protocolVersion ?? version`.
 * Throws `TypeError`/`RangeError` on fields MQTT forbids.
 */
export function encodeConnect(p: ConnectPacket, version: ProtocolVersion = 4): Uint8Array {
  const level = p.protocolVersion ?? version;
  if (level !== 4 && level !== 5) {
    throw new RangeError(
      `Invalid protocolVersion ${level}: must be 4 (MQTT 3.1.1) or 5 (MQTT 5.0) (MQTT-3.1.2-2)`,
    );
  }
  const v5 = level === 5;
  // Level 4 has no properties: dropping them without a word would send another CONNECT.
  if (!v5 && (p.properties !== undefined || p.will?.properties !== undefined)) {
    throw new TypeError(
      `Cannot encode CONNECT with ${
        p.properties !== undefined ? "properties" : "will properties"
      } at protocol level 4 (MQTT 3.1.1): they are MQTT 5.0 only; set protocolVersion 5`,
    );
  }
  const id = utf8(p.clientId, "client id", SHORT_LIVED);
  // MQTT 5.0 drops this rule: the server assigns an id, and may keep the session (section 3.1.3.1).
  if (id.length === 0 && !p.cleanSession && !v5) {
    throw new TypeError(
      "Invalid client id: an empty client id needs clean_session = true (MQTT-3.1.3-7)",
    );
  }
  if (!Number.isInteger(p.keepalive) || p.keepalive < 0 || p.keepalive > 65535) {
    throw new RangeError(
      `Invalid keepalive ${p.keepalive}: must be a whole number of seconds from 0 to 65535 (MQTT 3.1.1 section 3.1.2.10)`,
    );
  }
  if (p.password !== undefined && p.username === undefined && !v5) {
    throw new TypeError("A password needs a user name in MQTT 3.1.1 (MQTT-3.1.2-22)");
  }
  // Credentials stay out of the slab (shared by every client): another client's transport would
  // see them in its chunks' `.buffer`.
  const user = p.username === undefined ? undefined : utf8(p.username, "user name");
  const will = p.will;
  // The will is published to its topic: a topic name, no wildcards (MQTT-3.3.2-2).
  if (will) validateTopicName(will.topic, "set the will");
  const willTopic = will ? utf8(will.topic, "will topic", SHORT_LIVED) : undefined;
  if (will && will.qos !== 0 && will.qos !== 1 && will.qos !== 2) {
    throw new RangeError(`Invalid will QoS ${will.qos}: must be 0, 1 or 2 (MQTT-3.1.2-14)`);
  }
  // A will needs its message, empty or not (MQTT-3.1.2-9).
  checkBytes("will message", will?.payload, will !== undefined);
  checkBytes("password", p.password);
  if (will && will.payload.length > 65535) {
    throw new RangeError(
      `Invalid will message: ${will.payload.length} bytes, over the limit of 65535 (MQTT 3.1.1 section 3.1.3.3)`,
    );
  }
  const password = p.password && passwordWithin(p.password);
  const flags = (p.cleanSession ? 0x02 : 0) |
    (will ? 0x04 | (will.qos << 3) | (will.retain ? 0x20 : 0) : 0) |
    (user ? 0x80 : 0) | (password ? 0x40 : 0);
  // An empty method is a method (a zero-length string): only an absent one is missing.
  if (
    v5 && p.properties?.authenticationData !== undefined &&
    p.properties.authenticationMethod === undefined
  ) {
    throw new TypeError(`Invalid CONNECT: ${NO_METHOD} (${NO_METHOD_RULE})`);
  }
  const props = v5 ? writeProperties(p.properties, 1) : undefined;
  const willProps = v5 && will ? writeProperties(will.properties, 0) : undefined;
  // Sized first, then written in place, its text in a slab and the packet too
  // (written, then dropped): a connect's garbage is what grows the young
  // generation of a process opening thousands of connections.
  let n = PROTOCOL.length + 4 + (props?.length ?? 0) + 2 + id.length;
  if (will && willTopic) {
    n += (willProps?.length ?? 0) + 4 + willTopic.length + will.payload.length;
  }
  if (user) n += 2 + user.length;
  if (password) n += 2 + password.length;
  const [buf, start] = allocPacket(
    0x10,
    n,
    user || password || p.properties?.authenticationData ? undefined : SHORT_LIVED,
  );
  buf.set(PROTOCOL, start);
  let at = start + PROTOCOL.length;
  buf[at++] = level;
  buf[at++] = flags;
  at = writeU16(buf, at, p.keepalive);
  if (props) buf.set(props, at), at += props.length;
  at = writeBytes(buf, at, id);
  if (will && willTopic) {
    if (willProps) buf.set(willProps, at), at += willProps.length;
    at = writeBytes(buf, at, willTopic);
    at = writeBytes(buf, at, will.payload);
  }
  if (user) at = writeBytes(buf, at, user);
  if (password) writeBytes(buf, at, password);
  return buf;
}

/** `password`, once within MQTT's limit of 65535 bytes (the client checks it as the codec does). */
export function passwordWithin(password: Uint8Array): Uint8Array {
  if (password.length > 65535) {
    throw new RangeError(
      "Invalid password: over the limit of 65535 bytes (MQTT 3.1.1 section 3.1.3.5)",
    );
  }
  return password;
}

/** A CONNECT field given as bytes must be a `Uint8Array`; a `required` one must be given. */
function checkBytes(what: string, bytes: unknown, required = false): void {
  if ((required || bytes !== undefined) && !(bytes instanceof Uint8Array)) {
    throw new TypeError(`Invalid CONNECT ${what}: must be a Uint8Array, got ${typeName(bytes)}`);
  }
  if (bytes) intact(bytes as Uint8Array, `CONNECT ${what}`);
}

/**
 * Decodes a CONNECT body. With `version` 4 only level 4 (MQTT 3.1.1) is
 * accepted; with 5, a server's decoder, level 4 or 5, as the CONNECT says.
 */
export function decodeConnect(body: Uint8Array, version: ProtocolVersion = 4): ConnectPacket {
  const r = new BodyReader(body, "CONNECT");
  const name = r.string("protocol name");
  if (name !== "MQTT") {
    throw new MQTTProtocolError(`CONNECT protocol name is "${name}", not "MQTT"`, "MQTT-3.1.2-1");
  }
  const level = r.u8("protocol level");
  if (level !== 4 && (level !== 5 || version !== 5)) {
    throw new MQTTProtocolError(
      `CONNECT protocol level is ${level}; ${
        version === 5 ? "MQTT 3.1.1 is 4, MQTT 5.0 is 5" : "MQTT 3.1.1 is 4"
      }`,
      "MQTT-3.1.2-2",
    );
  }
  const v5 = level === 5;
  const flags = r.u8("connect flags");
  if (flags & 0x01) {
    throw new MQTTProtocolError("CONNECT reserved flag is set", "MQTT-3.1.2-3");
  }
  const willFlag = (flags & 0x04) !== 0;
  const willQos = (flags >> 3) & 0x03;
  const willRetain = (flags & 0x20) !== 0;
  if (willQos === 3) {
    throw new MQTTProtocolError("CONNECT will QoS is 3", v5 ? "MQTT-3.1.2-12" : "MQTT-3.1.2-14");
  }
  if (!willFlag && (willQos !== 0 || willRetain)) {
    throw new MQTTProtocolError(
      "CONNECT has will QoS or will retain set without the will flag",
      // Will QoS, then will retain: MQTT-3.1.2-11 and -13 in MQTT 5.0, -13 and -15 in 3.1.1.
      `MQTT-3.1.2-${(v5 ? 11 : 13) + (willQos ? 0 : 2)}`,
    );
  }
  // MQTT 5.0 allows a password without a user name (section 3.1.2.9).
  if ((flags & 0x40) && !(flags & 0x80) && !v5) {
    throw new MQTTProtocolError(
      "CONNECT has a password flag without a user name flag",
      "MQTT-3.1.2-22",
    );
  }
  const packet: ConnectPacket = {
    type: "connect",
    cleanSession: (flags & 0x02) !== 0,
    keepalive: r.u16("keep alive"),
    clientId: "",
  };
  if (v5) {
    packet.protocolVersion = 5;
    readProperties(r, 1, packet);
    const auth = packet.properties;
    if (auth?.authenticationData && auth.authenticationMethod === undefined) {
      throw new MQTTProtocolError(`CONNECT has ${NO_METHOD}`, NO_METHOD_RULE, 0x82);
    }
  }
  packet.clientId = r.string("client identifier");
  if (willFlag) {
    const props = v5 ? readProperties<WillProperties>(r, 0) : undefined;
    const topic = r.string("will topic");
    // Published as a PUBLISH is: a topic name, not empty, no wildcards.
    if (topic === "" || topic.includes("+") || topic.includes("#")) {
      const rule = topic ? "MQTT-3.3.2-2" : "MQTT-4.7.3-1";
      throw new MQTTProtocolError(`CONNECT will topic "${topic}" is not a topic name`, rule);
    }
    packet.will = {
      topic,
      payload: r.bytes("will message"),
      qos: willQos as QoS,
      retain: willRetain,
    };
    if (props) packet.will.properties = props;
  }
  if (flags & 0x80) packet.username = r.string("user name");
  if (flags & 0x40) packet.password = r.bytes("password");
  r.end();
  return packet;
}

/** Encodes a CONNACK packet; in MQTT 5.0 with its properties. */
export function encodeConnack(p: ConnackPacket, version: ProtocolVersion = 4): Uint8Array {
  const code = p.returnCode;
  if (version !== 5 && !(code >= 0 && code <= 255 && Number.isInteger(code))) {
    // A byte, as 3.1.1's decoder reads it (0-5; 6-255 reserved): 256 must not go out as 0.
    throw new RangeError(`Invalid CONNACK: returnCode ${String(code)} is not a byte`);
  }
  if (version !== 5) return Uint8Array.of(0x20, 0x02, p.sessionPresent ? 1 : 0, code);
  const props = writeProperties(p.properties, 2);
  return buildPacket(0x20, [[+p.sessionPresent, checkReasonCode(code, 2, true)], props]);
}

/**
 * Decodes a CONNACK body; in MQTT 5.0 its reason code is checked and its
 * properties read, but for a 3.1.1 broker's refusal of protocol level 5
 * (return code 0x01, no properties), which reads as 0x84, Unsupported
 * Protocol Version.
 */
export function decodeConnack(body: Uint8Array, version: ProtocolVersion = 4): ConnackPacket {
  const r = new BodyReader(body, "CONNACK");
  const flags = r.u8("acknowledge flags");
  if (flags & 0xfe) {
    throw new MQTTProtocolError(
      "CONNACK acknowledge flags bits 7-1 are reserved and must be 0",
      "MQTT 3.1.1 section 3.2.2.1",
    );
  }
  const returnCode = r.u8("return code");
  const packet: ConnackPacket = { type: "connack", sessionPresent: flags === 1, returnCode };
  if (version === 5) {
    // A broker without MQTT 5 refuses level 5 as MQTT 3.1.1 has it (its MQTT-3.1.2-2).
    if (returnCode === 1 && r.left === 0) return { ...packet, returnCode: 0x84 };
    checkReasonCode(returnCode, 2);
    readProperties(r, 2, packet);
  }
  r.end();
  return packet;
}
