// Byte fixtures for the MQTT 3.1.1 codec, written by hand from the
// specification (OASIS MQTT Version 3.1.1, sections 2 and 3), each byte group
// commented with the field it encodes, in the style of mqtt-packet's tests.
// Nothing here is produced by our encoder: the tests check it against these.
import type { Packet } from "../lib/codec/packet.ts";

/** A packet and the exact bytes MQTT 3.1.1 says it is on the wire. */
export interface Fixture {
  name: string;
  packet: Packet;
  bytes: number[];
}

/** Bytes that break the specification, and the rule the decoder must name. */
export interface Malformed {
  name: string;
  bytes: number[];
  rule: string;
  /** Index of the byte whose push must fail, when not the last one. */
  failsAt?: number;
}

const text = (s: string): Uint8Array => new TextEncoder().encode(s);

/** `n` payload bytes of a fixed pattern, for payloads too large to write out. */
export function pattern(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 31 + 7) & 0xff;
  return out;
}

/**
 * A QoS 0 PUBLISH to "big" whose payload makes the Remaining Length exactly
 * `remaining`; the caller writes the fixed header by hand.
 */
function bigPublish(name: string, remaining: number, header: number[]): Fixture {
  const payload = pattern(remaining - 5); // 5 = topic length (2) + "big" (3)
  return {
    name,
    packet: { type: "publish", topic: "big", payload, qos: 0, retain: false, dup: false },
    bytes: [
      ...header,
      0x00,
      0x03, // topic length 3
      0x62,
      0x69,
      0x67, // topic "big"
      ...payload, // payload
    ],
  };
}

// deno-fmt-ignore
export const fixtures: Fixture[] = [
  // ---- CONNECT (3.1) ----
  {
    name: "CONNECT minimal: client id, clean session, keepalive 60",
    packet: { type: "connect", clientId: "a", cleanSession: true, keepalive: 60 },
    bytes: [
      0x10, // fixed header: CONNECT, flags 0000
      0x0d, // remaining length 13
      0x00, 0x04, // protocol name length 4
      0x4d, 0x51, 0x54, 0x54, // protocol name "MQTT"
      0x04, // protocol level 4 (3.1.1)
      0x02, // connect flags: clean session
      0x00, 0x3c, // keepalive 60
      0x00, 0x01, // client id length 1
      0x61, // client id "a"
    ],
  },
  {
    name: "CONNECT with will (QoS 1, retained), user name and password",
    packet: {
      type: "connect",
      clientId: "umqtt-1",
      cleanSession: true,
      keepalive: 30,
      will: { topic: "dev/1/status", payload: text("offline"), qos: 1, retain: true },
      username: "alice",
      password: text("s3cr3t"),
    },
    bytes: [
      0x10, // fixed header: CONNECT
      0x39, // remaining length 57
      0x00, 0x04, // protocol name length 4
      0x4d, 0x51, 0x54, 0x54, // protocol name "MQTT"
      0x04, // protocol level 4
      0xee, // connect flags: user name 0x80 | password 0x40 | will retain 0x20 |
            //   will QoS 1 0x08 | will 0x04 | clean session 0x02
      0x00, 0x1e, // keepalive 30
      0x00, 0x07, // client id length 7
      0x75, 0x6d, 0x71, 0x74, 0x74, 0x2d, 0x31, // client id "umqtt-1"
      0x00, 0x0c, // will topic length 12
      0x64, 0x65, 0x76, 0x2f, 0x31, 0x2f, // will topic "dev/1/
      0x73, 0x74, 0x61, 0x74, 0x75, 0x73, //   status"
      0x00, 0x07, // will message length 7
      0x6f, 0x66, 0x66, 0x6c, 0x69, 0x6e, 0x65, // will message "offline"
      0x00, 0x05, // user name length 5
      0x61, 0x6c, 0x69, 0x63, 0x65, // user name "alice"
      0x00, 0x06, // password length 6
      0x73, 0x33, 0x63, 0x72, 0x33, 0x74, // password "s3cr3t"
    ],
  },
  {
    name: "CONNECT persistent session (clean session 0), keepalive 300",
    packet: { type: "connect", clientId: "sensor-42", cleanSession: false, keepalive: 300 },
    bytes: [
      0x10, // fixed header: CONNECT
      0x15, // remaining length 21
      0x00, 0x04, // protocol name length 4
      0x4d, 0x51, 0x54, 0x54, // protocol name "MQTT"
      0x04, // protocol level 4
      0x00, // connect flags: none
      0x01, 0x2c, // keepalive 300
      0x00, 0x09, // client id length 9
      0x73, 0x65, 0x6e, 0x73, 0x6f, 0x72, 0x2d, 0x34, 0x32, // client id "sensor-42"
    ],
  },
  {
    name: "CONNECT empty client id (clean session) with user name only, keepalive 0",
    packet: { type: "connect", clientId: "", cleanSession: true, keepalive: 0, username: "bob" },
    bytes: [
      0x10, // fixed header: CONNECT
      0x11, // remaining length 17
      0x00, 0x04, // protocol name length 4
      0x4d, 0x51, 0x54, 0x54, // protocol name "MQTT"
      0x04, // protocol level 4
      0x82, // connect flags: user name 0x80 | clean session 0x02
      0x00, 0x00, // keepalive 0 (off)
      0x00, 0x00, // client id length 0
      0x00, 0x03, // user name length 3
      0x62, 0x6f, 0x62, // user name "bob"
    ],
  },
  {
    name: "CONNECT with will QoS 2, not retained, binary will message",
    packet: {
      type: "connect",
      clientId: "w",
      cleanSession: true,
      keepalive: 10,
      will: { topic: "t", payload: Uint8Array.of(0x00, 0xff), qos: 2, retain: false },
    },
    bytes: [
      0x10, // fixed header: CONNECT
      0x14, // remaining length 20
      0x00, 0x04, // protocol name length 4
      0x4d, 0x51, 0x54, 0x54, // protocol name "MQTT"
      0x04, // protocol level 4
      0x16, // connect flags: will QoS 2 0x10 | will 0x04 | clean session 0x02
      0x00, 0x0a, // keepalive 10
      0x00, 0x01, // client id length 1
      0x77, // client id "w"
      0x00, 0x01, // will topic length 1
      0x74, // will topic "t"
      0x00, 0x02, // will message length 2
      0x00, 0xff, // will message bytes
    ],
  },

  // ---- CONNACK (3.2) ----
  {
    name: "CONNACK accepted, no session present",
    packet: { type: "connack", sessionPresent: false, returnCode: 0 },
    bytes: [
      0x20, // fixed header: CONNACK
      0x02, // remaining length 2
      0x00, // acknowledge flags: session present 0
      0x00, // return code 0: accepted
    ],
  },
  {
    name: "CONNACK accepted, session present",
    packet: { type: "connack", sessionPresent: true, returnCode: 0 },
    bytes: [
      0x20, // fixed header: CONNACK
      0x02, // remaining length 2
      0x01, // acknowledge flags: session present 1
      0x00, // return code 0: accepted
    ],
  },
  {
    name: "CONNACK refused: not authorized",
    packet: { type: "connack", sessionPresent: false, returnCode: 5 },
    bytes: [
      0x20, // fixed header: CONNACK
      0x02, // remaining length 2
      0x00, // acknowledge flags
      0x05, // return code 5: not authorized
    ],
  },

  // ---- PUBLISH (3.3) ----
  {
    name: "PUBLISH QoS 0",
    packet: {
      type: "publish",
      topic: "a/b",
      payload: text("hi"),
      qos: 0, retain: false, dup: false,
    },
    bytes: [
      0x30, // fixed header: PUBLISH, DUP 0, QoS 0, RETAIN 0
      0x07, // remaining length 7
      0x00, 0x03, // topic length 3
      0x61, 0x2f, 0x62, // topic "a/b"
      0x68, 0x69, // payload "hi" (no packet id at QoS 0)
    ],
  },
  {
    name: "PUBLISH QoS 1 with packet id",
    packet: {
      type: "publish",
      topic: "a/b",
      payload: text("hello"),
      qos: 1,
      retain: false,
      dup: false,
      packetId: 10,
    },
    bytes: [
      0x32, // fixed header: PUBLISH, QoS 1
      0x0c, // remaining length 12
      0x00, 0x03, // topic length 3
      0x61, 0x2f, 0x62, // topic "a/b"
      0x00, 0x0a, // packet id 10
      0x68, 0x65, 0x6c, 0x6c, 0x6f, // payload "hello"
    ],
  },
  {
    name: "PUBLISH QoS 1, RETAIN and DUP",
    packet: {
      type: "publish",
      topic: "x",
      payload: text("1"),
      qos: 1,
      retain: true,
      dup: true,
      packetId: 0x1234,
    },
    bytes: [
      0x3b, // fixed header: PUBLISH, DUP 0x08 | QoS 1 0x02 | RETAIN 0x01
      0x06, // remaining length 6
      0x00, 0x01, // topic length 1
      0x78, // topic "x"
      0x12, 0x34, // packet id 0x1234
      0x31, // payload "1"
    ],
  },
  {
    name: "PUBLISH QoS 2, packet id 65535",
    packet: {
      type: "publish",
      topic: "q2",
      payload: Uint8Array.of(1, 2, 3),
      qos: 2,
      retain: false,
      dup: false,
      packetId: 65535,
    },
    bytes: [
      0x34, // fixed header: PUBLISH, QoS 2 0x04
      0x09, // remaining length 9
      0x00, 0x02, // topic length 2
      0x71, 0x32, // topic "q2"
      0xff, 0xff, // packet id 65535
      0x01, 0x02, 0x03, // payload
    ],
  },
  {
    name: "PUBLISH retained with empty payload (clears the retained message)",
    packet: {
      type: "publish",
      topic: "t",
      payload: new Uint8Array(0),
      qos: 0, retain: true, dup: false,
    },
    bytes: [
      0x31, // fixed header: PUBLISH, QoS 0, RETAIN 0x01
      0x03, // remaining length 3
      0x00, 0x01, // topic length 1
      0x74, // topic "t"
      // payload: none
    ],
  },
  {
    name: "PUBLISH to a multi-byte UTF-8 topic",
    packet: {
      type: "publish",
      topic: "données/€",
      payload: text("ok"),
      qos: 0, retain: false, dup: false,
    },
    bytes: [
      0x30, // fixed header: PUBLISH, QoS 0
      0x10, // remaining length 16
      0x00, 0x0c, // topic length 12 bytes (9 characters)
      0x64, 0x6f, 0x6e, 0x6e, // topic "donn
      0xc3, 0xa9, //   é" (U+00E9, 2 bytes)
      0x65, 0x73, 0x2f, //   "es/"
      0xe2, 0x82, 0xac, //   "€" (U+20AC, 3 bytes)
      0x6f, 0x6b, // payload "ok"
    ],
  },
  {
    name: "PUBLISH to a topic with a 4-byte UTF-8 character (a surrogate pair in UTF-16)",
    packet: {
      type: "publish",
      topic: "temp/\u{1f321}",
      payload: text("21"),
      qos: 0, retain: false, dup: false,
    },
    bytes: [
      0x30, // fixed header: PUBLISH, QoS 0
      0x0d, // remaining length 13
      0x00, 0x09, // topic length 9 bytes
      0x74, 0x65, 0x6d, 0x70, 0x2f, // topic "temp/"
      0xf0, 0x9f, 0x8c, 0xa1, //   U+1F321 (4 bytes)
      0x32, 0x31, // payload "21"
    ],
  },
  bigPublish("PUBLISH with remaining length 127 (largest 1-byte length)", 127, [
    0x30, // fixed header: PUBLISH, QoS 0
    0x7f, // remaining length 127
  ]),
  bigPublish("PUBLISH with remaining length 128 (smallest 2-byte length)", 128, [
    0x30, // fixed header: PUBLISH, QoS 0
    0x80, 0x01, // remaining length 128 = 0 + 1*128
  ]),
  bigPublish("PUBLISH with remaining length 16383 (largest 2-byte length)", 16_383, [
    0x30, // fixed header: PUBLISH, QoS 0
    0xff, 0x7f, // remaining length 16383 = 127 + 127*128
  ]),
  bigPublish("PUBLISH with remaining length 16384 (smallest 3-byte length)", 16_384, [
    0x30, // fixed header: PUBLISH, QoS 0
    0x80, 0x80, 0x01, // remaining length 16384 = 0 + 0*128 + 1*128^2
  ]),

  // ---- PUBACK, PUBREC, PUBREL, PUBCOMP (3.4–3.7) ----
  {
    name: "PUBACK",
    packet: { type: "puback", packetId: 10 },
    bytes: [
      0x40, // fixed header: PUBACK
      0x02, // remaining length 2
      0x00, 0x0a, // packet id 10
    ],
  },
  {
    name: "PUBREC",
    packet: { type: "pubrec", packetId: 1 },
    bytes: [
      0x50, // fixed header: PUBREC
      0x02, // remaining length 2
      0x00, 0x01, // packet id 1
    ],
  },
  {
    name: "PUBREL (fixed header flags 0010)",
    packet: { type: "pubrel", packetId: 256 },
    bytes: [
      0x62, // fixed header: PUBREL, reserved flags 0010
      0x02, // remaining length 2
      0x01, 0x00, // packet id 256
    ],
  },
  {
    name: "PUBCOMP",
    packet: { type: "pubcomp", packetId: 65535 },
    bytes: [
      0x70, // fixed header: PUBCOMP
      0x02, // remaining length 2
      0xff, 0xff, // packet id 65535
    ],
  },

  // ---- SUBSCRIBE, SUBACK (3.8, 3.9) ----
  {
    name: "SUBSCRIBE to three filters at QoS 0, 1, 2",
    packet: {
      type: "subscribe",
      packetId: 1,
      subscriptions: [{ topic: "a/+", qos: 0 }, { topic: "b/#", qos: 1 }, { topic: "#", qos: 2 }],
    },
    bytes: [
      0x82, // fixed header: SUBSCRIBE, reserved flags 0010
      0x12, // remaining length 18
      0x00, 0x01, // packet id 1
      0x00, 0x03, // filter length 3
      0x61, 0x2f, 0x2b, // filter "a/+"
      0x00, // requested QoS 0
      0x00, 0x03, // filter length 3
      0x62, 0x2f, 0x23, // filter "b/#"
      0x01, // requested QoS 1
      0x00, 0x01, // filter length 1
      0x23, // filter "#"
      0x02, // requested QoS 2
    ],
  },
  {
    name: "SUBSCRIBE to one filter",
    packet: { type: "subscribe", packetId: 2, subscriptions: [{ topic: "x", qos: 1 }] },
    bytes: [
      0x82, // fixed header: SUBSCRIBE
      0x06, // remaining length 6
      0x00, 0x02, // packet id 2
      0x00, 0x01, // filter length 1
      0x78, // filter "x"
      0x01, // requested QoS 1
    ],
  },
  {
    name: "SUBACK granting QoS 0, 1, 2 and one failure 0x80",
    packet: { type: "suback", packetId: 1, returnCodes: [0, 1, 2, 0x80] },
    bytes: [
      0x90, // fixed header: SUBACK
      0x06, // remaining length 6
      0x00, 0x01, // packet id 1
      0x00, 0x01, 0x02, // return codes: granted QoS 0, 1, 2
      0x80, // return code: failure
    ],
  },

  // ---- UNSUBSCRIBE, UNSUBACK (3.10, 3.11) ----
  {
    name: "UNSUBSCRIBE from two filters",
    packet: { type: "unsubscribe", packetId: 3, topics: ["a/+", "b/#"] },
    bytes: [
      0xa2, // fixed header: UNSUBSCRIBE, reserved flags 0010
      0x0c, // remaining length 12
      0x00, 0x03, // packet id 3
      0x00, 0x03, // filter length 3
      0x61, 0x2f, 0x2b, // filter "a/+"
      0x00, 0x03, // filter length 3
      0x62, 0x2f, 0x23, // filter "b/#"
    ],
  },
  {
    name: "UNSUBACK",
    packet: { type: "unsuback", packetId: 3 },
    bytes: [
      0xb0, // fixed header: UNSUBACK
      0x02, // remaining length 2
      0x00, 0x03, // packet id 3
    ],
  },

  // ---- PINGREQ, PINGRESP, DISCONNECT (3.12–3.14) ----
  {
    name: "PINGREQ",
    packet: { type: "pingreq" },
    bytes: [
      0xc0, // fixed header: PINGREQ
      0x00, // remaining length 0
    ],
  },
  {
    name: "PINGRESP",
    packet: { type: "pingresp" },
    bytes: [
      0xd0, // fixed header: PINGRESP
      0x00, // remaining length 0
    ],
  },
  {
    name: "DISCONNECT",
    packet: { type: "disconnect" },
    bytes: [
      0xe0, // fixed header: DISCONNECT
      0x00, // remaining length 0
    ],
  },
];

/**
 * A 2 MiB PUBLISH, the smallest with a 4-byte Remaining Length; kept out of
 * `fixtures` because decoding it one byte at a time takes seconds.
 */
// deno-fmt-ignore
export const hugeFixture: Fixture = bigPublish(
  "PUBLISH with remaining length 2097152 (smallest 4-byte length)",
  2_097_152,
  [
    0x30, // fixed header: PUBLISH, QoS 0
    0x80, 0x80, 0x80, 0x01, // remaining length 2097152 = 1*128^3
  ],
);

const SECTION_2_2_3 = "MQTT 3.1.1 section 2.2.3";

// deno-fmt-ignore
export const malformed: Malformed[] = [
  // ---- fixed header (2.2) ----
  {
    name: "remaining length of 5 bytes",
    bytes: [
      0x30, // fixed header: PUBLISH
      0xff, 0xff, 0xff, 0xff, 0x01, // remaining length: a 4th continuation bit
    ],
    rule: SECTION_2_2_3,
    failsAt: 4, // refused at the 4th length byte, without waiting for a 5th
  },
  {
    name: "PUBACK with flags 0001",
    bytes: [0x41, 0x02, 0x00, 0x01], // PUBACK, flags 0001; remaining length 2; packet id 1
    rule: "MQTT-2.2.2-1",
  },
  {
    name: "SUBSCRIBE with flags 0000",
    bytes: [
      0x80, // SUBSCRIBE, flags 0000 (must be 0010)
      0x06, // remaining length 6
      0x00, 0x01, // packet id 1
      0x00, 0x01, 0x61, // filter "a"
      0x00, // requested QoS 0
    ],
    rule: "MQTT-2.2.2-1",
  },
  {
    name: "UNSUBSCRIBE with flags 0000",
    bytes: [
      0xa0, // UNSUBSCRIBE, flags 0000 (must be 0010)
      0x05, // remaining length 5
      0x00, 0x01, // packet id 1
      0x00, 0x01, 0x61, // filter "a"
    ],
    rule: "MQTT-2.2.2-1",
  },
  {
    name: "PUBREL with flags 0000",
    bytes: [0x60, 0x02, 0x00, 0x01], // PUBREL, flags 0000 (must be 0010); packet id 1
    rule: "MQTT-2.2.2-1",
  },
  {
    name: "CONNACK with flags 1000",
    bytes: [0x28, 0x02, 0x00, 0x00], // CONNACK, flags 1000; ack flags; return code
    rule: "MQTT-2.2.2-1",
  },
  {
    name: "PINGREQ with flags 0001",
    bytes: [0xc1, 0x00], // PINGREQ, flags 0001; remaining length 0
    rule: "MQTT-2.2.2-1",
  },

  // ---- PUBLISH (3.3) ----
  {
    name: "PUBLISH with QoS 3",
    bytes: [
      0x36, // PUBLISH, QoS bits 11
      0x05, // remaining length 5
      0x00, 0x01, 0x61, // topic "a"
      0x00, 0x01, // packet id 1
    ],
    rule: "MQTT-3.3.1-4",
  },
  {
    name: "PUBLISH QoS 0 with DUP",
    bytes: [
      0x38, // PUBLISH, DUP 1, QoS 0
      0x03, // remaining length 3
      0x00, 0x01, 0x61, // topic "a"
    ],
    rule: "MQTT-3.3.1-2",
  },
  {
    name: "PUBLISH whose topic length runs past the body",
    bytes: [
      0x30, // PUBLISH
      0x04, // remaining length 4
      0x00, 0x05, // topic length 5 ...
      0x61, 0x62, // ... but only 2 bytes follow
    ],
    rule: SECTION_2_2_3,
  },
  {
    name: "PUBLISH with a 1-byte body",
    bytes: [0x30, 0x01, 0x00], // PUBLISH; remaining length 1; half a topic length
    rule: SECTION_2_2_3,
  },
  {
    name: "PUBLISH QoS 1 without its packet id",
    bytes: [
      0x32, // PUBLISH, QoS 1
      0x04, // remaining length 4
      0x00, 0x01, 0x61, // topic "a"
      0x00, // half a packet id
    ],
    rule: SECTION_2_2_3,
  },
  {
    name: "PUBLISH with an empty topic",
    bytes: [0x30, 0x02, 0x00, 0x00], // PUBLISH; remaining length 2; topic length 0
    rule: "MQTT-4.7.3-1",
  },
  {
    name: "PUBLISH topic with invalid UTF-8 (0xc3 0x28)",
    bytes: [
      0x30, // PUBLISH
      0x04, // remaining length 4
      0x00, 0x02, // topic length 2
      0xc3, 0x28, // lead byte followed by a non-continuation byte
    ],
    rule: "MQTT-1.5.3-1",
  },
  {
    name: "PUBLISH topic with an encoded surrogate (0xed 0xa0 0x80 = U+D800)",
    bytes: [
      0x30, // PUBLISH
      0x05, // remaining length 5
      0x00, 0x03, // topic length 3
      0xed, 0xa0, 0x80, // U+D800, which UTF-8 must not encode
    ],
    rule: "MQTT-1.5.3-1",
  },
  {
    name: "PUBLISH topic with an overlong encoding of '/' (0xc0 0xaf)",
    bytes: [
      0x30, // PUBLISH
      0x04, // remaining length 4
      0x00, 0x02, // topic length 2
      0xc0, 0xaf, // overlong "/"
    ],
    rule: "MQTT-1.5.3-1",
  },
  {
    name: "PUBLISH topic with U+0000",
    bytes: [
      0x30, // PUBLISH
      0x05, // remaining length 5
      0x00, 0x03, // topic length 3
      0x61, 0x00, 0x62, // "a", U+0000, "b"
    ],
    rule: "MQTT-1.5.3-2",
  },
  {
    name: "PUBLISH topic with U+0000 after a non-ASCII character",
    bytes: [
      0x30, // PUBLISH
      0x06, // remaining length 6
      0x00, 0x04, // topic length 4
      0xc3, 0xa9, 0x00, 0x61, // "é", U+0000, "a"
    ],
    rule: "MQTT-1.5.3-2",
  },
  {
    name: "PUBLISH QoS 1 with packet id 0",
    bytes: [
      0x32, // PUBLISH, QoS 1
      0x05, // remaining length 5
      0x00, 0x01, 0x61, // topic "a"
      0x00, 0x00, // packet id 0
    ],
    rule: "MQTT-2.3.1-1",
  },
  {
    name: "PUBLISH topic with a '+' wildcard",
    bytes: [
      0x30, // PUBLISH
      0x05, // remaining length 5
      0x00, 0x03, // topic length 3
      0x61, 0x2f, 0x2b, // topic "a/+"
    ],
    rule: "MQTT-3.3.2-2",
  },
  {
    name: "PUBLISH topic with a '#' wildcard",
    bytes: [
      0x30, // PUBLISH
      0x03, // remaining length 3
      0x00, 0x01, // topic length 1
      0x23, // topic "#"
    ],
    rule: "MQTT-3.3.2-2",
  },

  // ---- acknowledgements (3.4–3.7, 3.11) ----
  {
    name: "PUBACK with packet id 0",
    bytes: [0x40, 0x02, 0x00, 0x00], // PUBACK; remaining length 2; packet id 0
    rule: "MQTT-2.3.1-1",
  },
  {
    name: "PUBACK with remaining length 1",
    bytes: [0x40, 0x01, 0x00], // PUBACK; remaining length 1; half a packet id
    rule: SECTION_2_2_3,
  },
  {
    name: "PUBCOMP with remaining length 3",
    bytes: [0x70, 0x03, 0x00, 0x01, 0x00], // PUBCOMP; remaining length 3; packet id 1; extra byte
    rule: SECTION_2_2_3,
  },

  // ---- CONNECT, CONNACK (3.1, 3.2) ----
  {
    name: "CONNECT with protocol name MQIsdp (MQTT 3.1)",
    bytes: [
      0x10, // CONNECT
      0x0f, // remaining length 15
      0x00, 0x06, // protocol name length 6
      0x4d, 0x51, 0x49, 0x73, 0x64, 0x70, // protocol name "MQIsdp"
      0x03, // protocol level 3
      0x02, // connect flags: clean session
      0x00, 0x3c, // keepalive 60
      0x00, 0x01, 0x61, // client id "a"
    ],
    rule: "MQTT-3.1.2-1",
  },
  {
    name: "CONNECT with protocol level 5",
    bytes: [
      0x10, // CONNECT
      0x0d, // remaining length 13
      0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, // protocol name "MQTT"
      0x05, // protocol level 5
      0x02, // connect flags
      0x00, 0x3c, // keepalive 60
      0x00, 0x01, 0x61, // client id "a"
    ],
    rule: "MQTT-3.1.2-2",
  },
  {
    name: "CONNECT with the reserved flag set",
    bytes: [
      0x10, // CONNECT
      0x0d, // remaining length 13
      0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, // protocol name "MQTT"
      0x04, // protocol level 4
      0x03, // connect flags: clean session 0x02 | reserved 0x01
      0x00, 0x3c, // keepalive 60
      0x00, 0x01, 0x61, // client id "a"
    ],
    rule: "MQTT-3.1.2-3",
  },
  {
    name: "CONNECT with will QoS but no will flag",
    bytes: [
      0x10, // CONNECT
      0x0d, // remaining length 13
      0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, // protocol name "MQTT"
      0x04, // protocol level 4
      0x0a, // connect flags: will QoS 1 0x08 | clean session 0x02, will flag 0
      0x00, 0x3c, // keepalive 60
      0x00, 0x01, 0x61, // client id "a"
    ],
    rule: "MQTT-3.1.2-13",
  },
  {
    name: "CONNECT with a will topic holding a wildcard",
    bytes: [
      0x10, 0x14, // CONNECT; remaining length 20
      0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04, // "MQTT", level 4
      0x06, 0x00, 0x3c, // flags: will 0x04 | clean session 0x02; keepalive 60
      0x00, 0x01, 0x61, // client id "a"
      0x00, 0x03, 0x61, 0x2f, 0x23, // will topic "a/#"
      0x00, 0x00, // will message, empty
    ],
    rule: "MQTT-3.3.2-2",
  },
  {
    name: "CONNECT with an empty will topic",
    bytes: [
      0x10, 0x11, // CONNECT; remaining length 17
      0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04, // "MQTT", level 4
      0x06, 0x00, 0x3c, // flags: will 0x04 | clean session 0x02; keepalive 60
      0x00, 0x01, 0x61, // client id "a"
      0x00, 0x00, // will topic ""
      0x00, 0x00, // will message, empty
    ],
    rule: "MQTT-4.7.3-1",
  },
  {
    name: "CONNECT with will retain but no will flag",
    bytes: [
      0x10, // CONNECT
      0x0d, // remaining length 13
      0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, // protocol name "MQTT"
      0x04, // protocol level 4
      0x22, // connect flags: will retain 0x20 | clean session 0x02, will flag 0
      0x00, 0x3c, // keepalive 60
      0x00, 0x01, 0x61, // client id "a"
    ],
    rule: "MQTT-3.1.2-15",
  },
  {
    name: "CONNECT with will QoS 3",
    bytes: [
      0x10, // CONNECT
      0x13, // remaining length 19
      0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, // protocol name "MQTT"
      0x04, // protocol level 4
      0x1e, // connect flags: will QoS 3 0x18 | will 0x04 | clean session 0x02
      0x00, 0x3c, // keepalive 60
      0x00, 0x01, 0x61, // client id "a"
      0x00, 0x01, 0x74, // will topic "t"
      0x00, 0x01, 0x6d, // will message "m"
    ],
    rule: "MQTT-3.1.2-14",
  },
  {
    name: "CONNECT with a password but no user name",
    bytes: [
      0x10, // CONNECT
      0x10, // remaining length 16
      0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, // protocol name "MQTT"
      0x04, // protocol level 4
      0x42, // connect flags: password 0x40 | clean session 0x02
      0x00, 0x3c, // keepalive 60
      0x00, 0x01, 0x61, // client id "a"
      0x00, 0x01, 0x70, // password "p"
    ],
    rule: "MQTT-3.1.2-22",
  },
  {
    name: "CONNECT whose client id runs past the body",
    bytes: [
      0x10, // CONNECT
      0x0d, // remaining length 13
      0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, // protocol name "MQTT"
      0x04, // protocol level 4
      0x02, // connect flags
      0x00, 0x3c, // keepalive 60
      0x00, 0x02, 0x61, // client id length 2, 1 byte follows
    ],
    rule: SECTION_2_2_3,
  },
  {
    name: "CONNECT with a byte after its last field",
    bytes: [
      0x10, // CONNECT
      0x0e, // remaining length 14
      0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, // protocol name "MQTT"
      0x04, // protocol level 4
      0x02, // connect flags
      0x00, 0x3c, // keepalive 60
      0x00, 0x01, 0x61, // client id "a"
      0x00, // stray byte
    ],
    rule: SECTION_2_2_3,
  },
  {
    name: "CONNECT client id with invalid UTF-8",
    bytes: [
      0x10, // CONNECT
      0x0d, // remaining length 13
      0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, // protocol name "MQTT"
      0x04, // protocol level 4
      0x02, // connect flags
      0x00, 0x3c, // keepalive 60
      0x00, 0x01, 0xff, // client id: 0xff is never UTF-8
    ],
    rule: "MQTT-1.5.3-1",
  },
  {
    name: "CONNACK with remaining length 1",
    bytes: [0x20, 0x01, 0x00], // CONNACK; remaining length 1; ack flags only
    rule: SECTION_2_2_3,
  },
  {
    name: "CONNACK with reserved acknowledge flags",
    bytes: [0x20, 0x02, 0x02, 0x00], // CONNACK; remaining length 2; ack flags 0x02; code 0
    rule: "MQTT 3.1.1 section 3.2.2.1",
  },

  // ---- SUBSCRIBE, SUBACK, UNSUBSCRIBE (3.8–3.10) ----
  {
    name: "SUBSCRIBE with packet id 0",
    bytes: [
      0x82, // SUBSCRIBE
      0x06, // remaining length 6
      0x00, 0x00, // packet id 0
      0x00, 0x01, 0x61, // filter "a"
      0x00, // requested QoS 0
    ],
    rule: "MQTT-2.3.1-1",
  },
  {
    name: "SUBSCRIBE without a filter",
    bytes: [0x82, 0x02, 0x00, 0x01], // SUBSCRIBE; remaining length 2; packet id 1
    rule: "MQTT-3.8.3-3",
  },
  {
    name: "SUBSCRIBE requesting QoS 3",
    bytes: [
      0x82, // SUBSCRIBE
      0x06, // remaining length 6
      0x00, 0x01, // packet id 1
      0x00, 0x01, 0x61, // filter "a"
      0x03, // requested QoS 3
    ],
    rule: "MQTT-3.8.3-4",
  },
  {
    name: "SUBSCRIBE filter without its QoS byte",
    bytes: [
      0x82, // SUBSCRIBE
      0x05, // remaining length 5
      0x00, 0x01, // packet id 1
      0x00, 0x01, 0x61, // filter "a", then nothing
    ],
    rule: SECTION_2_2_3,
  },
  {
    name: "SUBSCRIBE filter with an encoded surrogate",
    bytes: [
      0x82, // SUBSCRIBE
      0x08, // remaining length 8
      0x00, 0x01, // packet id 1
      0x00, 0x03, 0xed, 0xbf, 0xbf, // filter: U+DFFF
      0x00, // requested QoS 0
    ],
    rule: "MQTT-1.5.3-1",
  },
  {
    name: "SUBACK without a return code",
    bytes: [0x90, 0x02, 0x00, 0x01], // SUBACK; remaining length 2; packet id 1
    rule: "MQTT 3.1.1 section 3.9.3",
  },
  {
    name: "SUBACK with reserved return code 0x03",
    bytes: [0x90, 0x03, 0x00, 0x01, 0x03], // SUBACK; remaining length 3; packet id 1; code 3
    rule: "MQTT-3.9.3-2",
  },
  {
    name: "UNSUBSCRIBE with packet id 0",
    bytes: [0xa2, 0x05, 0x00, 0x00, 0x00, 0x01, 0x61], // UNSUBSCRIBE; packet id 0; filter "a"
    rule: "MQTT-2.3.1-1",
  },
  {
    name: "UNSUBSCRIBE without a filter",
    bytes: [0xa2, 0x02, 0x00, 0x01], // UNSUBSCRIBE; remaining length 2; packet id 1
    rule: "MQTT-3.10.3-2",
  },

  // ---- PINGREQ, PINGRESP, DISCONNECT (3.12–3.14) ----
  {
    name: "PINGRESP with remaining length 1",
    bytes: [0xd0, 0x01, 0x00], // PINGRESP; remaining length 1 (must be 0); stray byte
    rule: SECTION_2_2_3,
  },
  {
    name: "DISCONNECT with remaining length 2",
    bytes: [0xe0, 0x02, 0x00, 0x00], // DISCONNECT; remaining length 2 (must be 0)
    rule: SECTION_2_2_3,
  },
];
