// Byte fixtures for the MQTT 5.0 codec, written by hand from the
// specification (OASIS MQTT Version 5.0, sections 1.5, 2 and 3), each byte
// group commented with the field it encodes. Nothing here is produced by our
// encoder: the tests check it against these.
import type { Packet } from "../lib/codec/packet.ts";

/** A packet as the decoder returns it, and its exact bytes in MQTT 5.0. */
export interface Fixture5 {
  name: string;
  packet: Packet;
  bytes: number[];
  /**
   * The bytes are a longer form the specification allows but the encoder
   * does not write (an explicit 0x00 reason code, an empty Property Length):
   * decoded, not encoded.
   */
  decodeOnly?: true;
}

/** Bytes that break MQTT 5.0, and the rule the decoder must name. */
export interface Malformed5 {
  name: string;
  bytes: number[];
  rule: string;
  /** Index of the byte whose push must fail, when not the last one. */
  failsAt?: number;
}

const text = (s: string): Uint8Array => new TextEncoder().encode(s);
/** The character codes of an ASCII string, for long strings the comment spells out. */
const ascii = (s: string): number[] => Array.from(s, (c) => c.charCodeAt(0));

const LONG_VALUE = "v".repeat(130);

// deno-fmt-ignore
export const fixtures5: Fixture5[] = [
  // ---- CONNECT (3.1) ----
  {
    name: "CONNECT level 5, no properties",
    packet: {
      type: "connect", protocolVersion: 5, clientId: "a", cleanSession: true, keepalive: 60,
    },
    bytes: [
      0x10, // CONNECT
      0x0e, // remaining length 14
      0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, // protocol name "MQTT"
      0x05, // protocol version 5
      0x02, // connect flags: clean start
      0x00, 0x3c, // keep alive 60
      0x00, // property length 0
      0x00, 0x01, 0x61, // client id "a"
    ],
  },
  {
    name: "CONNECT with every CONNECT property, a will with every will property, user and password",
    packet: {
      type: "connect",
      protocolVersion: 5,
      clientId: "c1",
      cleanSession: true,
      keepalive: 600,
      properties: {
        sessionExpiryInterval: 0xffffffff,
        receiveMaximum: 20,
        maximumPacketSize: 65536,
        topicAliasMaximum: 10,
        requestResponseInformation: true,
        requestProblemInformation: false,
        userProperties: [["k", "v"], ["k", "w"]],
        authenticationMethod: "SCRAM-SHA-1",
        authenticationData: Uint8Array.of(0x01, 0x02),
      },
      will: {
        topic: "w/1",
        payload: text("bye"),
        qos: 2,
        retain: true,
        properties: {
          willDelayInterval: 30,
          payloadFormatIndicator: true,
          messageExpiryInterval: 3600,
          contentType: "text/plain",
          responseTopic: "r/1",
          correlationData: Uint8Array.of(0xca, 0xfe),
          userProperties: [["a", "b"]],
        },
      },
      username: "u",
      password: Uint8Array.of(0x70),
    },
    bytes: [
      0x10, // CONNECT
      0x80, 0x01, // remaining length 128
      0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, // protocol name "MQTT"
      0x05, // protocol version 5
      0xf6, // connect flags: user name 0x80 | password 0x40 | will retain 0x20 |
            //   will QoS 2 0x10 | will 0x04 | clean start 0x02
      0x02, 0x58, // keep alive 600
      0x35, // property length 53
      0x11, 0xff, 0xff, 0xff, 0xff, // session expiry interval 0xFFFFFFFF (never)
      0x21, 0x00, 0x14, // receive maximum 20
      0x27, 0x00, 0x01, 0x00, 0x00, // maximum packet size 65536
      0x22, 0x00, 0x0a, // topic alias maximum 10
      0x19, 0x01, // request response information 1
      0x17, 0x00, // request problem information 0
      0x26, 0x00, 0x01, 0x6b, 0x00, 0x01, 0x76, // user property "k" = "v"
      0x26, 0x00, 0x01, 0x6b, 0x00, 0x01, 0x77, // user property "k" = "w" (a name may repeat)
      0x15, 0x00, 0x0b, ...ascii("SCRAM-SHA-1"), // authentication method "SCRAM-SHA-1"
      0x16, 0x00, 0x02, 0x01, 0x02, // authentication data 01 02
      0x00, 0x02, 0x63, 0x31, // client id "c1"
      0x2b, // will property length 43
      0x18, 0x00, 0x00, 0x00, 0x1e, // will delay interval 30
      0x01, 0x01, // payload format indicator 1 (UTF-8)
      0x02, 0x00, 0x00, 0x0e, 0x10, // message expiry interval 3600
      0x03, 0x00, 0x0a, ...ascii("text/plain"), // content type "text/plain"
      0x08, 0x00, 0x03, 0x72, 0x2f, 0x31, // response topic "r/1"
      0x09, 0x00, 0x02, 0xca, 0xfe, // correlation data ca fe
      0x26, 0x00, 0x01, 0x61, 0x00, 0x01, 0x62, // user property "a" = "b"
      0x00, 0x03, 0x77, 0x2f, 0x31, // will topic "w/1"
      0x00, 0x03, 0x62, 0x79, 0x65, // will payload "bye"
      0x00, 0x01, 0x75, // user name "u"
      0x00, 0x01, 0x70, // password "p"
    ],
  },
  {
    name: "CONNECT with a password and no user name (allowed in 5.0), session kept, keep alive 0",
    packet: {
      type: "connect", protocolVersion: 5, clientId: "a", cleanSession: false, keepalive: 0,
      password: text("p"),
    },
    bytes: [
      0x10, // CONNECT
      0x11, // remaining length 17
      0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, // protocol name "MQTT"
      0x05, // protocol version 5
      0x40, // connect flags: password
      0x00, 0x00, // keep alive 0
      0x00, // property length 0
      0x00, 0x01, 0x61, // client id "a"
      0x00, 0x01, 0x70, // password "p"
    ],
  },

  {
    name: "CONNECT with an empty client id and the session kept (allowed in 5.0)",
    packet: {
      type: "connect", protocolVersion: 5, clientId: "", cleanSession: false, keepalive: 60,
    },
    bytes: [
      0x10, // CONNECT
      0x0d, // remaining length 13
      0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, // protocol name "MQTT"
      0x05, // protocol version 5
      0x00, // connect flags: none (clean start 0)
      0x00, 0x3c, // keep alive 60
      0x00, // property length 0
      0x00, 0x00, // client id "" (the server assigns one)
    ],
  },
  {
    // A zero-length UTF-8 string is a string: the method is present, so the
    // data may follow it (MQTT 5.0 sections 1.5.4, 3.1.2.11.9, 3.1.2.11.10).
    name: "CONNECT with an empty Authentication Method and Authentication Data",
    packet: {
      type: "connect", protocolVersion: 5, clientId: "a", cleanSession: true, keepalive: 60,
      properties: { authenticationMethod: "", authenticationData: text("x") },
    },
    bytes: [
      0x10, // CONNECT
      0x15, // remaining length 21
      0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, // protocol name "MQTT"
      0x05, // protocol version 5
      0x02, // connect flags: clean start
      0x00, 0x3c, // keep alive 60
      0x07, // property length 7
      0x15, 0x00, 0x00, // authentication method ""
      0x16, 0x00, 0x01, 0x78, // authentication data "x"
      0x00, 0x01, 0x61, // client id "a"
    ],
  },

  // ---- CONNACK (3.2) ----
  {
    name: "CONNACK success, no properties",
    packet: { type: "connack", sessionPresent: false, returnCode: 0 },
    bytes: [
      0x20, // CONNACK
      0x03, // remaining length 3
      0x00, // acknowledge flags: session present 0
      0x00, // reason code 0x00 success
      0x00, // property length 0
    ],
  },
  {
    name: "CONNACK session present, with the broker's limits and features",
    packet: {
      type: "connack",
      sessionPresent: true,
      returnCode: 0,
      properties: {
        sessionExpiryInterval: 120,
        receiveMaximum: 100,
        maximumQoS: 1,
        retainAvailable: false,
        maximumPacketSize: 1_048_576,
        assignedClientIdentifier: "auto-1",
        topicAliasMaximum: 5,
        wildcardSubscriptionAvailable: false,
        subscriptionIdentifiersAvailable: true,
        sharedSubscriptionAvailable: false,
        serverKeepAlive: 30,
        responseInformation: "resp/",
      },
    },
    bytes: [
      0x20, // CONNACK
      0x31, // remaining length 49
      0x01, // acknowledge flags: session present 1
      0x00, // reason code 0x00 success
      0x2e, // property length 46
      0x11, 0x00, 0x00, 0x00, 0x78, // session expiry interval 120
      0x21, 0x00, 0x64, // receive maximum 100
      0x24, 0x01, // maximum QoS 1
      0x25, 0x00, // retain available 0
      0x27, 0x00, 0x10, 0x00, 0x00, // maximum packet size 1048576
      0x12, 0x00, 0x06, ...ascii("auto-1"), // assigned client identifier "auto-1"
      0x22, 0x00, 0x05, // topic alias maximum 5
      0x28, 0x00, // wildcard subscription available 0
      0x29, 0x01, // subscription identifiers available 1
      0x2a, 0x00, // shared subscription available 0
      0x13, 0x00, 0x1e, // server keep alive 30
      0x1a, 0x00, 0x05, ...ascii("resp/"), // response information "resp/"
    ],
  },
  {
    name: "CONNACK 0x87 not authorized, with a reason string and a user property",
    packet: {
      type: "connack",
      sessionPresent: false,
      returnCode: 0x87,
      properties: { reasonString: "denied", userProperties: [["why", "acl"]] },
    },
    bytes: [
      0x20, // CONNACK
      0x17, // remaining length 23
      0x00, // acknowledge flags
      0x87, // reason code 0x87 not authorized
      0x14, // property length 20
      0x1f, 0x00, 0x06, ...ascii("denied"), // reason string "denied"
      0x26, 0x00, 0x03, ...ascii("why"), 0x00, 0x03, ...ascii("acl"), // user property "why" = "acl"
    ],
  },
  {
    name: "CONNACK 0x9C use another server, with its reference",
    packet: {
      type: "connack",
      sessionPresent: false,
      returnCode: 0x9c,
      properties: { serverReference: "b:1883" },
    },
    bytes: [
      0x20, // CONNACK
      0x0c, // remaining length 12
      0x00, // acknowledge flags
      0x9c, // reason code 0x9C use another server
      0x09, // property length 9
      0x1c, 0x00, 0x06, ...ascii("b:1883"), // server reference "b:1883"
    ],
  },
  {
    name: "CONNACK success with extended authentication's method and data",
    packet: {
      type: "connack",
      sessionPresent: false,
      returnCode: 0,
      properties: { authenticationMethod: "SCRAM", authenticationData: Uint8Array.of(0x00, 0xff) },
    },
    bytes: [
      0x20, // CONNACK
      0x10, // remaining length 16
      0x00, // acknowledge flags
      0x00, // reason code 0x00 success
      0x0d, // property length 13
      0x15, 0x00, 0x05, ...ascii("SCRAM"), // authentication method "SCRAM"
      0x16, 0x00, 0x02, 0x00, 0xff, // authentication data 00 ff
    ],
  },

  // ---- PUBLISH (3.3) ----
  {
    name: "PUBLISH QoS 0, no properties",
    packet: {
      type: "publish", topic: "a/b", payload: text("hi"), qos: 0, retain: false, dup: false,
    },
    bytes: [
      0x30, // PUBLISH, QoS 0
      0x08, // remaining length 8
      0x00, 0x03, 0x61, 0x2f, 0x62, // topic name "a/b"
      0x00, // property length 0
      0x68, 0x69, // payload "hi"
    ],
  },
  {
    name: "PUBLISH QoS 1 with every PUBLISH property, user properties repeated",
    packet: {
      type: "publish",
      topic: "t/1",
      payload: text("{}"),
      qos: 1,
      retain: false,
      dup: false,
      packetId: 10,
      properties: {
        payloadFormatIndicator: true,
        messageExpiryInterval: 60,
        topicAlias: 1,
        responseTopic: "r",
        correlationData: Uint8Array.of(1, 2, 3),
        userProperties: [["x", "1"], ["x", "2"]],
        subscriptionIdentifiers: [5],
        contentType: "json",
      },
    },
    bytes: [
      0x32, // PUBLISH, QoS 1
      0x35, // remaining length 53
      0x00, 0x03, 0x74, 0x2f, 0x31, // topic name "t/1"
      0x00, 0x0a, // packet identifier 10
      0x2b, // property length 43
      0x01, 0x01, // payload format indicator 1 (UTF-8)
      0x02, 0x00, 0x00, 0x00, 0x3c, // message expiry interval 60
      0x23, 0x00, 0x01, // topic alias 1
      0x08, 0x00, 0x01, 0x72, // response topic "r"
      0x09, 0x00, 0x03, 0x01, 0x02, 0x03, // correlation data 01 02 03
      0x26, 0x00, 0x01, 0x78, 0x00, 0x01, 0x31, // user property "x" = "1"
      0x26, 0x00, 0x01, 0x78, 0x00, 0x01, 0x32, // user property "x" = "2"
      0x0b, 0x05, // subscription identifier 5
      0x03, 0x00, 0x04, ...ascii("json"), // content type "json"
      0x7b, 0x7d, // payload "{}"
    ],
  },
  {
    name: "PUBLISH QoS 2, retained, duplicate, empty topic name standing for topic alias 7",
    packet: {
      type: "publish",
      topic: "",
      payload: Uint8Array.of(0x00),
      qos: 2,
      retain: true,
      dup: true,
      packetId: 0x1234,
      properties: { topicAlias: 7 },
    },
    bytes: [
      0x3d, // PUBLISH, DUP 0x08 | QoS 2 0x04 | RETAIN 0x01
      0x09, // remaining length 9
      0x00, 0x00, // topic name "" (the alias stands for it)
      0x12, 0x34, // packet identifier 0x1234
      0x03, // property length 3
      0x23, 0x00, 0x07, // topic alias 7
      0x00, // payload 00
    ],
  },
  {
    name: "PUBLISH with subscription identifiers of every Variable Byte Integer length",
    packet: {
      type: "publish",
      topic: "s",
      payload: new Uint8Array(0),
      qos: 0,
      retain: false,
      dup: false,
      properties: {
        subscriptionIdentifiers: [1, 127, 128, 16383, 16384, 2097151, 2097152, 268435455],
      },
    },
    bytes: [
      0x30, // PUBLISH, QoS 0
      0x20, // remaining length 32
      0x00, 0x01, 0x73, // topic name "s"
      0x1c, // property length 28
      0x0b, 0x01, // subscription identifier 1
      0x0b, 0x7f, // subscription identifier 127
      0x0b, 0x80, 0x01, // subscription identifier 128
      0x0b, 0xff, 0x7f, // subscription identifier 16383
      0x0b, 0x80, 0x80, 0x01, // subscription identifier 16384
      0x0b, 0xff, 0xff, 0x7f, // subscription identifier 2097151
      0x0b, 0x80, 0x80, 0x80, 0x01, // subscription identifier 2097152
      0x0b, 0xff, 0xff, 0xff, 0x7f, // subscription identifier 268435455, the largest
    ],
  },
  {
    name: "PUBLISH whose property length takes two bytes",
    packet: {
      type: "publish",
      topic: "big",
      payload: text("p"),
      qos: 0,
      retain: false,
      dup: false,
      properties: { userProperties: [["k", LONG_VALUE]] },
    },
    bytes: [
      0x30, // PUBLISH, QoS 0
      0x90, 0x01, // remaining length 144
      0x00, 0x03, 0x62, 0x69, 0x67, // topic name "big"
      0x88, 0x01, // property length 136
      0x26, 0x00, 0x01, 0x6b, 0x00, 0x82, ...ascii(LONG_VALUE), // user property "k" = 130 × "v"
      0x70, // payload "p"
    ],
  },

  // ---- PUBACK, PUBREC, PUBREL, PUBCOMP (3.4–3.7) ----
  {
    name: "PUBACK success: remaining length 2, no reason code",
    packet: { type: "puback", packetId: 10, reasonCode: 0 },
    bytes: [0x40, 0x02, 0x00, 0x0a], // PUBACK; remaining length 2; packet identifier 10
  },
  {
    name: "PUBACK 0x10 no matching subscribers, no property length",
    packet: { type: "puback", packetId: 10, reasonCode: 0x10 },
    bytes: [
      0x40, // PUBACK
      0x03, // remaining length 3
      0x00, 0x0a, // packet identifier 10
      0x10, // reason code 0x10 no matching subscribers
    ],
  },
  {
    name: "PUBACK 0x80 unspecified error, with a reason string and a user property",
    packet: {
      type: "puback",
      packetId: 10,
      reasonCode: 0x80,
      properties: { reasonString: "quota", userProperties: [["a", "b"]] },
    },
    bytes: [
      0x40, // PUBACK
      0x13, // remaining length 19
      0x00, 0x0a, // packet identifier 10
      0x80, // reason code 0x80 unspecified error
      0x0f, // property length 15
      0x1f, 0x00, 0x05, ...ascii("quota"), // reason string "quota"
      0x26, 0x00, 0x01, 0x61, 0x00, 0x01, 0x62, // user property "a" = "b"
    ],
  },
  {
    name: "PUBACK success spelled out: reason code 0x00 and property length 0",
    packet: { type: "puback", packetId: 10, reasonCode: 0 },
    bytes: [
      0x40, // PUBACK
      0x04, // remaining length 4
      0x00, 0x0a, // packet identifier 10
      0x00, // reason code 0x00 success
      0x00, // property length 0
    ],
    decodeOnly: true,
  },
  {
    name: "PUBACK success with reason code 0x00 and no property length",
    packet: { type: "puback", packetId: 10, reasonCode: 0 },
    bytes: [0x40, 0x03, 0x00, 0x0a, 0x00], // PUBACK; remaining length 3; id 10; reason code 0x00
    decodeOnly: true,
  },
  {
    name: "PUBREC success",
    packet: { type: "pubrec", packetId: 11, reasonCode: 0 },
    bytes: [0x50, 0x02, 0x00, 0x0b], // PUBREC; remaining length 2; packet identifier 11
  },
  {
    name: "PUBREC 0x91 packet identifier in use",
    packet: { type: "pubrec", packetId: 11, reasonCode: 0x91 },
    bytes: [0x50, 0x03, 0x00, 0x0b, 0x91], // PUBREC; remaining length 3; id 11; reason code 0x91
  },
  {
    name: "PUBREL success",
    packet: { type: "pubrel", packetId: 12, reasonCode: 0 },
    bytes: [0x62, 0x02, 0x00, 0x0c], // PUBREL, flags 0010; remaining length 2; packet identifier 12
  },
  {
    name: "PUBREL 0x92 packet identifier not found",
    packet: { type: "pubrel", packetId: 12, reasonCode: 0x92 },
    bytes: [0x62, 0x03, 0x00, 0x0c, 0x92], // PUBREL; remaining length 3; id 12; reason code 0x92
  },
  {
    name: "PUBCOMP success",
    packet: { type: "pubcomp", packetId: 13, reasonCode: 0 },
    bytes: [0x70, 0x02, 0x00, 0x0d], // PUBCOMP; remaining length 2; packet identifier 13
  },
  {
    name: "PUBCOMP 0x92 packet identifier not found, with a reason string",
    packet: {
      type: "pubcomp",
      packetId: 13,
      reasonCode: 0x92,
      properties: { reasonString: "gone!" },
    },
    bytes: [
      0x70, // PUBCOMP
      0x0c, // remaining length 12
      0x00, 0x0d, // packet identifier 13
      0x92, // reason code 0x92 packet identifier not found
      0x08, // property length 8
      0x1f, 0x00, 0x05, ...ascii("gone!"), // reason string "gone!"
    ],
  },

  // ---- SUBSCRIBE, SUBACK (3.8, 3.9) ----
  {
    name: "SUBSCRIBE one filter, default options, no properties",
    packet: {
      type: "subscribe",
      packetId: 1,
      subscriptions: [
        { topic: "a/b", qos: 0, noLocal: false, retainAsPublished: false, retainHandling: 0 },
      ],
    },
    bytes: [
      0x82, // SUBSCRIBE, flags 0010
      0x09, // remaining length 9
      0x00, 0x01, // packet identifier 1
      0x00, // property length 0
      0x00, 0x03, 0x61, 0x2f, 0x62, // topic filter "a/b"
      0x00, // subscription options: QoS 0, no options
    ],
  },
  {
    name: "SUBSCRIBE two filters with every option, a subscription identifier and a user property",
    packet: {
      type: "subscribe",
      packetId: 2,
      properties: { subscriptionIdentifier: 16384, userProperties: [["k", "v"]] },
      subscriptions: [
        { topic: "a/+", qos: 1, noLocal: true, retainAsPublished: true, retainHandling: 1 },
        {
          topic: "$share/g/b",
          qos: 2,
          noLocal: false,
          retainAsPublished: false,
          retainHandling: 2,
        },
      ],
    },
    bytes: [
      0x82, // SUBSCRIBE, flags 0010
      0x21, // remaining length 33
      0x00, 0x02, // packet identifier 2
      0x0b, // property length 11
      0x0b, 0x80, 0x80, 0x01, // subscription identifier 16384
      0x26, 0x00, 0x01, 0x6b, 0x00, 0x01, 0x76, // user property "k" = "v"
      0x00, 0x03, 0x61, 0x2f, 0x2b, // topic filter "a/+"
      0x1d, // options: retain handling 1 0x10 | retain as published 0x08 | no local 0x04 | QoS 1
      0x00, 0x0a, ...ascii("$share/g/b"), // topic filter "$share/g/b" (shared)
      0x22, // options: retain handling 2 0x20 | QoS 2
    ],
  },
  {
    name: "SUBACK granted QoS 0, 1, 2 and a failure, no properties",
    packet: { type: "suback", packetId: 2, returnCodes: [0x00, 0x01, 0x02, 0x80] },
    bytes: [
      0x90, // SUBACK
      0x07, // remaining length 7
      0x00, 0x02, // packet identifier 2
      0x00, // property length 0
      0x00, 0x01, 0x02, // reason codes: granted QoS 0, 1, 2
      0x80, // reason code 0x80 unspecified error
    ],
  },
  {
    name: "SUBACK with every failure code and a reason string",
    packet: {
      type: "suback",
      packetId: 3,
      returnCodes: [0x83, 0x87, 0x8f, 0x91, 0x97, 0x9e, 0xa1, 0xa2],
      properties: { reasonString: "no" },
    },
    bytes: [
      0x90, // SUBACK
      0x10, // remaining length 16
      0x00, 0x03, // packet identifier 3
      0x05, // property length 5
      0x1f, 0x00, 0x02, 0x6e, 0x6f, // reason string "no"
      0x83, // implementation specific error
      0x87, // not authorized
      0x8f, // topic filter invalid
      0x91, // packet identifier in use
      0x97, // quota exceeded
      0x9e, // shared subscriptions not supported
      0xa1, // subscription identifiers not supported
      0xa2, // wildcard subscriptions not supported
    ],
  },

  // ---- UNSUBSCRIBE, UNSUBACK (3.10, 3.11) ----
  {
    name: "UNSUBSCRIBE one filter, no properties",
    packet: { type: "unsubscribe", packetId: 3, topics: ["a"] },
    bytes: [
      0xa2, // UNSUBSCRIBE, flags 0010
      0x06, // remaining length 6
      0x00, 0x03, // packet identifier 3
      0x00, // property length 0
      0x00, 0x01, 0x61, // topic filter "a"
    ],
  },
  {
    name: "UNSUBSCRIBE two filters and a user property",
    packet: {
      type: "unsubscribe",
      packetId: 4,
      topics: ["a", "b/#"],
      properties: { userProperties: [["k", "v"]] },
    },
    bytes: [
      0xa2, // UNSUBSCRIBE, flags 0010
      0x12, // remaining length 18
      0x00, 0x04, // packet identifier 4
      0x07, // property length 7
      0x26, 0x00, 0x01, 0x6b, 0x00, 0x01, 0x76, // user property "k" = "v"
      0x00, 0x01, 0x61, // topic filter "a"
      0x00, 0x03, 0x62, 0x2f, 0x23, // topic filter "b/#"
    ],
  },
  {
    name: "UNSUBACK success and 0x11 no subscription existed",
    packet: { type: "unsuback", packetId: 3, reasonCodes: [0x00, 0x11] },
    bytes: [
      0xb0, // UNSUBACK
      0x05, // remaining length 5
      0x00, 0x03, // packet identifier 3
      0x00, // property length 0
      0x00, // reason code 0x00 success
      0x11, // reason code 0x11 no subscription existed
    ],
  },
  {
    name: "UNSUBACK with every failure code and a reason string",
    packet: {
      type: "unsuback",
      packetId: 4,
      reasonCodes: [0x80, 0x83, 0x87, 0x8f, 0x91],
      properties: { reasonString: "x" },
    },
    bytes: [
      0xb0, // UNSUBACK
      0x0c, // remaining length 12
      0x00, 0x04, // packet identifier 4
      0x04, // property length 4
      0x1f, 0x00, 0x01, 0x78, // reason string "x"
      0x80, // unspecified error
      0x83, // implementation specific error
      0x87, // not authorized
      0x8f, // topic filter invalid
      0x91, // packet identifier in use
    ],
  },

  // ---- PINGREQ, PINGRESP (3.12, 3.13): as in 3.1.1 ----
  { name: "PINGREQ", packet: { type: "pingreq" }, bytes: [0xc0, 0x00] }, // PINGREQ; length 0
  { name: "PINGRESP", packet: { type: "pingresp" }, bytes: [0xd0, 0x00] }, // PINGRESP; length 0

  // ---- DISCONNECT (3.14) ----
  {
    name: "DISCONNECT normal: remaining length 0",
    packet: { type: "disconnect", reasonCode: 0 },
    bytes: [0xe0, 0x00], // DISCONNECT; remaining length 0: reason code 0x00
  },
  {
    name: "DISCONNECT 0x04 with will message, no property length",
    packet: { type: "disconnect", reasonCode: 0x04 },
    bytes: [0xe0, 0x01, 0x04], // DISCONNECT; remaining length 1; reason code 0x04
  },
  {
    name: "DISCONNECT 0x8E session taken over",
    packet: { type: "disconnect", reasonCode: 0x8e },
    bytes: [0xe0, 0x01, 0x8e], // DISCONNECT; remaining length 1; reason code 0x8E
  },
  {
    name: "DISCONNECT normal, with a new session expiry interval (client)",
    packet: { type: "disconnect", reasonCode: 0, properties: { sessionExpiryInterval: 3600 } },
    bytes: [
      0xe0, // DISCONNECT
      0x07, // remaining length 7
      0x00, // reason code 0x00 normal disconnection
      0x05, // property length 5
      0x11, 0x00, 0x00, 0x0e, 0x10, // session expiry interval 3600
    ],
  },
  {
    name: "DISCONNECT 0x9D server moved, with a server reference and a reason string",
    packet: {
      type: "disconnect",
      reasonCode: 0x9d,
      properties: { serverReference: "b", reasonString: "moved" },
    },
    bytes: [
      0xe0, // DISCONNECT
      0x0e, // remaining length 14
      0x9d, // reason code 0x9D server moved
      0x0c, // property length 12
      0x1c, 0x00, 0x01, 0x62, // server reference "b"
      0x1f, 0x00, 0x05, ...ascii("moved"), // reason string "moved"
    ],
  },
  {
    name: "DISCONNECT normal spelled out: reason code 0x00",
    packet: { type: "disconnect", reasonCode: 0 },
    bytes: [0xe0, 0x01, 0x00], // DISCONNECT; remaining length 1; reason code 0x00
    decodeOnly: true,
  },
  {
    name: "DISCONNECT normal spelled out: reason code 0x00, property length 0",
    packet: { type: "disconnect", reasonCode: 0 },
    bytes: [0xe0, 0x02, 0x00, 0x00], // DISCONNECT; remaining length 2; reason code 0; props 0
    decodeOnly: true,
  },

  // ---- AUTH (3.15) ----
  {
    name: "AUTH success: remaining length 0",
    packet: { type: "auth", reasonCode: 0 },
    bytes: [0xf0, 0x00], // AUTH; remaining length 0: reason code 0x00
  },
  {
    name: "AUTH 0x18 continue authentication, with method and data",
    packet: {
      type: "auth",
      reasonCode: 0x18,
      properties: {
        authenticationMethod: "SCRAM-SHA-1",
        authenticationData: Uint8Array.of(0x6e, 0x2c),
      },
    },
    bytes: [
      0xf0, // AUTH
      0x15, // remaining length 21
      0x18, // reason code 0x18 continue authentication
      0x13, // property length 19
      0x15, 0x00, 0x0b, ...ascii("SCRAM-SHA-1"), // authentication method "SCRAM-SHA-1"
      0x16, 0x00, 0x02, 0x6e, 0x2c, // authentication data "n,"
    ],
  },
  {
    name: "AUTH 0x19 re-authenticate, with method, reason string and user property",
    packet: {
      type: "auth",
      reasonCode: 0x19,
      properties: {
        authenticationMethod: "SCRAM-SHA-1",
        reasonString: "renew",
        userProperties: [["a", "b"]],
      },
    },
    bytes: [
      0xf0, // AUTH
      0x1f, // remaining length 31
      0x19, // reason code 0x19 re-authenticate
      0x1d, // property length 29
      0x15, 0x00, 0x0b, ...ascii("SCRAM-SHA-1"), // authentication method "SCRAM-SHA-1"
      0x1f, 0x00, 0x05, ...ascii("renew"), // reason string "renew"
      0x26, 0x00, 0x01, 0x61, 0x00, 0x01, 0x62, // user property "a" = "b"
    ],
  },
  {
    name: "AUTH 0x18 with property length 0",
    packet: { type: "auth", reasonCode: 0x18 },
    bytes: [0xf0, 0x02, 0x18, 0x00], // AUTH; remaining length 2; reason code 0x18; props 0
  },
];

const V5_LENGTH = "MQTT 5.0 section 2.1.4";
const NOT_ALLOWED = "MQTT 5.0 section 2.2.2.2";
const OVERRUN = "MQTT 5.0 section 2.2.2.1";

// deno-fmt-ignore
export const malformed5: Malformed5[] = [
  // ---- a Remaining Length in more bytes than its value needs ----
  {
    name: "PINGREQ with Remaining Length 0 in two bytes",
    bytes: [0xc0, 0x80, 0x00],
    rule: "MQTT-1.5.5-1",
  },
  {
    name: "PUBACK with Remaining Length 2 in three bytes",
    bytes: [0x40, 0x82, 0x80, 0x00, 0x00, 0x01],
    rule: "MQTT-1.5.5-1",
    failsAt: 3,
  },
  // ---- a property the packet does not allow, or no property at all ----
  {
    name: "PUBLISH carrying a session expiry interval",
    bytes: [
      0x30, 0x09, // PUBLISH; remaining length 9
      0x00, 0x01, 0x74, // topic name "t"
      0x05, // property length 5
      0x11, 0x00, 0x00, 0x00, 0x01, // session expiry interval: CONNECT, CONNACK, DISCONNECT only
    ],
    rule: NOT_ALLOWED,
  },
  {
    name: "CONNACK carrying a topic alias",
    bytes: [
      0x20, 0x06, // CONNACK; remaining length 6
      0x00, 0x00, // flags; reason code 0x00
      0x03, 0x23, 0x00, 0x01, // property length 3; topic alias 1: PUBLISH only
    ],
    rule: NOT_ALLOWED,
  },
  {
    name: "CONNECT whose will properties carry a topic alias",
    bytes: [
      0x10, 0x17, // CONNECT; remaining length 23
      0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x05, // "MQTT", version 5
      0x06, 0x00, 0x3c, // flags: will | clean start; keep alive 60
      0x00, // property length 0
      0x00, 0x01, 0x61, // client id "a"
      0x03, 0x23, 0x00, 0x01, // will property length 3; topic alias 1: not a will property
      0x00, 0x01, 0x74, // will topic "t"
      0x00, 0x00, // will payload, empty
    ],
    rule: NOT_ALLOWED,
  },
  {
    name: "SUBSCRIBE carrying a reason string",
    bytes: [
      0x82, 0x0b, // SUBSCRIBE; remaining length 11
      0x00, 0x01, // packet identifier 1
      0x04, 0x1f, 0x00, 0x01, 0x78, // property length 4; reason string "x": not in SUBSCRIBE
      0x00, 0x01, 0x61, 0x00, // filter "a", options 0
    ],
    rule: NOT_ALLOWED,
  },
  {
    name: "PUBACK carrying a subscription identifier",
    bytes: [
      0x40, 0x06, // PUBACK; remaining length 6
      0x00, 0x01, 0x00, // packet identifier 1; reason code 0x00
      0x02, 0x0b, 0x01, // property length 2; subscription identifier 1
    ],
    rule: NOT_ALLOWED,
  },
  {
    name: "PUBLISH with unknown property identifier 0x7f",
    bytes: [0x30, 0x06, 0x00, 0x01, 0x74, 0x02, 0x7f, 0x00], // topic "t"; props 2: 0x7f 00
    rule: NOT_ALLOWED,
  },
  {
    name: "DISCONNECT with property identifier 0x00",
    bytes: [0xe0, 0x03, 0x00, 0x01, 0x00], // reason code 0; property length 1; identifier 0
    rule: NOT_ALLOWED,
  },

  // ---- a property given twice where it may appear once ----
  {
    name: "PUBLISH with two topic aliases",
    bytes: [
      0x30, 0x0a, // PUBLISH; remaining length 10
      0x00, 0x01, 0x74, // topic name "t"
      0x06, 0x23, 0x00, 0x01, 0x23, 0x00, 0x02, // property length 6; topic alias 1, topic alias 2
    ],
    rule: "MQTT 5.0 section 3.3.2.3",
  },
  {
    name: "CONNACK with two receive maximums",
    bytes: [
      0x20, 0x09, 0x00, 0x00, // CONNACK; remaining length 9; flags; reason code 0x00
      0x06, 0x21, 0x00, 0x01, 0x21, 0x00, 0x02, // property length 6; receive maximum 1, then 2
    ],
    rule: "MQTT 5.0 section 3.2.2.3",
  },
  {
    name: "SUBSCRIBE with two subscription identifiers (PUBLISH may repeat it, SUBSCRIBE not)",
    bytes: [
      0x82, 0x0b, 0x00, 0x01, // SUBSCRIBE; remaining length 11; packet identifier 1
      0x04, 0x0b, 0x01, 0x0b, 0x02, // property length 4; subscription identifier 1, then 2
      0x00, 0x01, 0x61, 0x00, // filter "a", options 0
    ],
    rule: "MQTT 5.0 section 3.8.2.1",
  },
  {
    name: "PUBACK with two reason strings",
    bytes: [
      0x40, 0x0c, 0x00, 0x01, 0x80, // PUBACK; remaining length 12; id 1; reason code 0x80
      0x08, 0x1f, 0x00, 0x01, 0x61, 0x1f, 0x00, 0x01, 0x62, // property length 8; "a", then "b"
    ],
    rule: "MQTT 5.0 section 3.4.2.2",
  },
  {
    name: "CONNECT whose will has two will delay intervals",
    bytes: [
      0x10, 0x1e, // CONNECT; remaining length 30
      0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x05, // "MQTT", version 5
      0x06, 0x00, 0x3c, 0x00, // flags: will | clean start; keep alive 60; property length 0
      0x00, 0x01, 0x61, // client id "a"
      0x0a, 0x18, 0x00, 0x00, 0x00, 0x01, 0x18, 0x00, 0x00, 0x00, 0x02, // will delay 1, then 2
      0x00, 0x01, 0x74, 0x00, 0x00, // will topic "t"; will payload, empty
    ],
    rule: "MQTT 5.0 section 3.1.3.2",
  },

  // ---- property lengths that overrun ----
  {
    name: "PUBLISH whose property length overruns the packet",
    bytes: [0x30, 0x05, 0x00, 0x01, 0x74, 0x05, 0x23], // topic "t"; property length 5, 1 byte left
    rule: OVERRUN,
  },
  {
    name: "PUBACK whose reason string runs past its property length",
    bytes: [
      0x40, 0x07, 0x00, 0x01, 0x00, // PUBACK; remaining length 7; id 1; reason code 0x00
      0x02, 0x1f, 0x00, // property length 2: reason string, then only 1 of its 2 length bytes
      0x05, // (past the properties)
    ],
    rule: OVERRUN,
  },
  {
    name: "PUBACK that ends inside its property length",
    bytes: [0x40, 0x04, 0x00, 0x01, 0x00, 0x80], // id 1; reason 0x00; property length 0x80, cut
    rule: V5_LENGTH,
  },
  {
    name: "PUBACK whose property length takes 5 bytes",
    bytes: [0x40, 0x08, 0x00, 0x01, 0x00, 0x80, 0x80, 0x80, 0x80, 0x01], // a 5th length byte
    rule: "MQTT-1.5.5-1",
  },
  {
    name: "PUBACK whose property length is not in the fewest bytes",
    bytes: [0x40, 0x05, 0x00, 0x01, 0x00, 0x80, 0x00], // property length 0 in two bytes
    rule: "MQTT-1.5.5-1",
  },

  // ---- values out of range ----
  {
    name: "SUBSCRIBE with subscription identifier 0",
    bytes: [
      0x82, 0x09, 0x00, 0x01, // SUBSCRIBE; remaining length 9; packet identifier 1
      0x02, 0x0b, 0x00, // property length 2; subscription identifier 0
      0x00, 0x01, 0x61, 0x00, // filter "a", options 0
    ],
    rule: "MQTT 5.0 section 3.8.2.1",
  },
  {
    name: "PUBLISH with subscription identifier 0",
    bytes: [0x30, 0x06, 0x00, 0x01, 0x74, 0x02, 0x0b, 0x00], // topic "t"; subscription id 0
    rule: "MQTT 5.0 section 3.3.2.3",
  },
  {
    name: "PUBLISH with topic alias 0",
    bytes: [0x30, 0x07, 0x00, 0x01, 0x74, 0x03, 0x23, 0x00, 0x00], // topic "t"; topic alias 0
    rule: "MQTT-3.3.2-8",
  },
  {
    name: "CONNACK with receive maximum 0",
    bytes: [0x20, 0x06, 0x00, 0x00, 0x03, 0x21, 0x00, 0x00], // props 3: receive maximum 0
    rule: "MQTT 5.0 section 3.2.2.3",
  },
  {
    name: "CONNACK with maximum packet size 0",
    bytes: [0x20, 0x08, 0x00, 0x00, 0x05, 0x27, 0x00, 0x00, 0x00, 0x00], // maximum packet size 0
    rule: "MQTT 5.0 section 3.2.2.3",
  },
  {
    name: "CONNACK with retain available 2",
    bytes: [0x20, 0x05, 0x00, 0x00, 0x02, 0x25, 0x02], // props 2: retain available 2
    rule: "MQTT 5.0 section 3.2.2.3",
  },
  {
    name: "CONNACK with maximum QoS 2",
    bytes: [0x20, 0x05, 0x00, 0x00, 0x02, 0x24, 0x02], // props 2: maximum QoS 2
    rule: "MQTT 5.0 section 3.2.2.3",
  },
  {
    name: "PUBLISH with payload format indicator 2",
    bytes: [0x30, 0x06, 0x00, 0x01, 0x74, 0x02, 0x01, 0x02], // topic "t"; payload format 2
    rule: "MQTT 5.0 section 3.3.2.3",
  },
  {
    name: "CONNECT with request problem information 2",
    bytes: [
      0x10, 0x10, // CONNECT; remaining length 16
      0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x05, // "MQTT", version 5
      0x02, 0x00, 0x3c, // flags: clean start; keep alive 60
      0x02, 0x17, 0x02, // property length 2; request problem information 2
      0x00, 0x01, 0x61, // client id "a"
    ],
    rule: "MQTT 5.0 section 3.1.2.11",
  },
  {
    name: "PUBLISH with an empty topic name and no topic alias",
    bytes: [0x30, 0x04, 0x00, 0x00, 0x00, 0x68], // topic ""; property length 0; payload "h"
    rule: "MQTT 5.0 section 3.3.2.1",
  },

  // ---- reserved reason codes ----
  {
    name: "PUBACK 0x11, an UNSUBACK code",
    bytes: [0x40, 0x03, 0x00, 0x01, 0x11], // PUBACK; id 1; reason code 0x11
    rule: "MQTT-3.4.2-1",
  },
  {
    name: "PUBREC 0x92, a PUBREL/PUBCOMP code",
    bytes: [0x50, 0x03, 0x00, 0x01, 0x92], // PUBREC; id 1; reason code 0x92
    rule: "MQTT-3.5.2-1",
  },
  {
    name: "PUBREL 0x10, a PUBACK/PUBREC code",
    bytes: [0x62, 0x03, 0x00, 0x01, 0x10], // PUBREL; id 1; reason code 0x10
    rule: "MQTT-3.6.2-1",
  },
  {
    name: "PUBCOMP 0x80, which PUBCOMP cannot carry",
    bytes: [0x70, 0x03, 0x00, 0x01, 0x80], // PUBCOMP; id 1; reason code 0x80
    rule: "MQTT-3.7.2-1",
  },
  {
    name: "CONNACK 0x04, a DISCONNECT code",
    bytes: [0x20, 0x03, 0x00, 0x04, 0x00], // CONNACK; flags; reason code 0x04; props 0
    rule: "MQTT-3.2.2-8",
  },
  {
    name: "SUBACK 0x11, an UNSUBACK code",
    bytes: [0x90, 0x04, 0x00, 0x01, 0x00, 0x11], // SUBACK; id 1; props 0; reason code 0x11
    rule: "MQTT-3.9.3-2",
  },
  {
    name: "UNSUBACK 0x01, a SUBACK code",
    bytes: [0xb0, 0x04, 0x00, 0x01, 0x00, 0x01], // UNSUBACK; id 1; props 0; reason code 0x01
    rule: "MQTT-3.11.3-2",
  },
  {
    name: "DISCONNECT 0x84, a CONNACK code",
    bytes: [0xe0, 0x01, 0x84], // DISCONNECT; reason code 0x84
    rule: "MQTT-3.14.2-1",
  },
  {
    name: "AUTH 0x01, a SUBACK code",
    bytes: [0xf0, 0x02, 0x01, 0x00], // AUTH; reason code 0x01; props 0
    rule: "MQTT-3.15.2-1",
  },

  // ---- subscription options ----
  {
    name: "SUBSCRIBE options with reserved bit 6 set",
    bytes: [0x82, 0x07, 0x00, 0x01, 0x00, 0x00, 0x01, 0x61, 0x40], // id 1; props 0; "a"; 0x40
    rule: "MQTT-3.8.3-5",
  },
  {
    name: "SUBSCRIBE options with reserved bit 7 set",
    bytes: [0x82, 0x07, 0x00, 0x01, 0x00, 0x00, 0x01, 0x61, 0x81], // options 0x81
    rule: "MQTT-3.8.3-5",
  },
  {
    name: "SUBSCRIBE options with retain handling 3",
    bytes: [0x82, 0x07, 0x00, 0x01, 0x00, 0x00, 0x01, 0x61, 0x30], // options 0x30
    rule: "MQTT 5.0 section 3.8.3.1",
  },
  {
    name: "SUBSCRIBE options with QoS 3",
    bytes: [0x82, 0x07, 0x00, 0x01, 0x00, 0x00, 0x01, 0x61, 0x03], // options 0x03
    rule: "MQTT 5.0 section 3.8.3.1",
  },
  {
    name: "SUBSCRIBE with no local on a shared subscription",
    bytes: [
      0x82, 0x10, 0x00, 0x01, 0x00, // SUBSCRIBE; remaining length 16; id 1; props 0
      0x00, 0x0a, ...ascii("$share/g/a"), // topic filter "$share/g/a"
      0x04, // options: no local
    ],
    rule: "MQTT-3.8.3-4",
  },

  // ---- acknowledgements without their codes ----
  {
    name: "SUBACK without a reason code",
    bytes: [0x90, 0x03, 0x00, 0x01, 0x00], // SUBACK; id 1; property length 0; nothing more
    rule: "MQTT 5.0 section 3.9.3",
  },
  {
    name: "UNSUBACK without a reason code",
    bytes: [0xb0, 0x03, 0x00, 0x01, 0x00], // UNSUBACK; id 1; property length 0; nothing more
    rule: "MQTT 5.0 section 3.11.3",
  },

  // ---- CONNECT at level 5 ----
  {
    name: "CONNECT level 5 with will QoS 3",
    bytes: [
      0x10, 0x15, // CONNECT; remaining length 21
      0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x05, // "MQTT", version 5
      0x1e, 0x00, 0x3c, 0x00, // flags: will QoS 3 | will | clean start; keep alive; props 0
      0x00, 0x01, 0x61, // client id "a"
      0x00, 0x00, 0x01, 0x74, 0x00, 0x01, 0x6d, // will props 0; will topic "t"; payload "m"
    ],
    rule: "MQTT-3.1.2-12",
  },
  {
    name: "CONNECT level 5 with will QoS 1 and no will flag",
    bytes: [
      0x10, 0x0e, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x05, // CONNECT; length 14; "MQTT" 5
      0x0a, 0x00, 0x3c, 0x00, // flags: will QoS 1 | clean start; keep alive 60; props 0
      0x00, 0x01, 0x61, // client id "a"
    ],
    rule: "MQTT-3.1.2-11",
  },
  {
    name: "CONNECT level 5 with Authentication Data and no Authentication Method",
    bytes: [
      0x10, 0x12, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x05, // CONNECT; length 18; "MQTT" 5
      0x02, 0x00, 0x3c, // flags: clean start; keep alive 60
      0x04, 0x16, 0x00, 0x01, 0x78, // properties: authentication data "x", no method
      0x00, 0x01, 0x61, // client id "a"
    ],
    rule: "MQTT 5.0 section 3.1.2.11.10",
  },
  {
    name: "CONNECT level 5 with will retain and no will flag",
    bytes: [
      0x10, 0x0e, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x05, // CONNECT; length 14; "MQTT" 5
      0x22, 0x00, 0x3c, 0x00, // flags: will retain | clean start; keep alive 60; props 0
      0x00, 0x01, 0x61, // client id "a"
    ],
    rule: "MQTT-3.1.2-13",
  },
  {
    name: "CONNECT with protocol level 6",
    bytes: [
      0x10, 0x0e, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x06, // CONNECT; length 14; "MQTT" 6
      0x02, 0x00, 0x3c, 0x00, 0x00, 0x01, 0x61, // flags; keep alive; props 0; client id "a"
    ],
    rule: "MQTT-3.1.2-2",
  },

  // ---- rules both versions share, named as MQTT 5.0 numbers them ----
  {
    name: "PUBACK with packet identifier 0",
    bytes: [0x40, 0x02, 0x00, 0x00], // PUBACK; packet identifier 0
    rule: "MQTT-2.2.1-3",
  },
  {
    name: "PUBLISH topic name with invalid UTF-8",
    bytes: [0x30, 0x04, 0x00, 0x01, 0xff, 0x00], // topic: 0xff is never UTF-8; props 0
    rule: "MQTT-1.5.4-1",
  },
  {
    name: "PUBLISH user property with U+0000",
    bytes: [
      0x30, 0x0b, 0x00, 0x01, 0x74, // PUBLISH; remaining length 11; topic "t"
      0x07, 0x26, 0x00, 0x01, 0x00, 0x00, 0x01, 0x76, // props 7: user property "\0" = "v"
    ],
    rule: "MQTT-1.5.4-2",
  },
  {
    name: "PUBACK with a byte after its properties",
    bytes: [0x40, 0x05, 0x00, 0x01, 0x00, 0x00, 0xff], // id 1; reason 0; props 0; stray 0xff
    rule: V5_LENGTH,
  },
  {
    name: "PUBREL with fixed header flags 0000",
    bytes: [0x60, 0x02, 0x00, 0x01], // PUBREL must carry flags 0010
    rule: "MQTT-2.1.3-1",
  },
  {
    name: "CONNACK with reserved acknowledge flags",
    bytes: [0x20, 0x03, 0x02, 0x00, 0x00], // ack flags 0x02; reason code 0; props 0
    rule: "MQTT-3.2.2-1",
  },
  {
    name: "SUBSCRIBE without a topic filter",
    bytes: [0x82, 0x03, 0x00, 0x01, 0x00], // SUBSCRIBE; id 1; property length 0; no filter
    rule: "MQTT-3.8.3-2",
  },
  {
    name: "SUBSCRIBE filter with \"+\" inside a level",
    bytes: [0x82, 0x08, 0x00, 0x01, 0x00, 0x00, 0x02, 0x61, 0x2b, 0x00], // filter "a+"; options
    rule: "MQTT-4.7.1-2",
  },
  {
    name: "reserved packet type 0",
    bytes: [0x00], // type 0 is reserved in both versions
    rule: "MQTT 5.0 section 2.1.2",
    failsAt: 0,
  },
  {
    name: "remaining length of 5 bytes",
    bytes: [0x30, 0xff, 0xff, 0xff, 0xff, 0x01], // PUBLISH; a 5th length byte
    rule: "MQTT 5.0 section 1.5.5",
    failsAt: 4,
  },
];

// Each packet's reason codes as its own table in the specification lists
// them (3-1, 3-4 to 3-11): everything else must be refused.
/**
 * Per packet that carries reason codes: its name, fixed header byte 1, the
 * body bytes before the code (for a minimal packet), and its codes.
 */
// deno-fmt-ignore
export const reasonCodes5: [name: string, byte1: number, head: number[], codes: number[]][] = [
  ["CONNACK", 0x20, [0x00], [ // flags
    0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x8c, 0x90, 0x95,
    0x97, 0x99, 0x9a, 0x9b, 0x9c, 0x9d, 0x9f,
  ]],
  // Tables 3-4 and 3-5, and 0x95, which mosquitto 2.0 sends there (lib/codec/reason_codes.ts).
  ["PUBACK", 0x40, [0x00, 0x01], [0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x95, 0x97, 0x99]], // id 1
  ["PUBREC", 0x50, [0x00, 0x01], [0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x95, 0x97, 0x99]],
  ["PUBREL", 0x62, [0x00, 0x01], [0x00, 0x92]],
  ["PUBCOMP", 0x70, [0x00, 0x01], [0x00, 0x92]],
  ["SUBACK", 0x90, [0x00, 0x01, 0x00], [ // id 1, property length 0
    0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8f, 0x91, 0x97, 0x9e, 0xa1, 0xa2,
  ]],
  ["UNSUBACK", 0xb0, [0x00, 0x01, 0x00], [0x00, 0x11, 0x80, 0x83, 0x87, 0x8f, 0x91]],
  // Table 3-10, and 0x8C, which table 2-6 gives DISCONNECT too.
  ["DISCONNECT", 0xe0, [], [
    0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8b, 0x8c, 0x8d, 0x8e, 0x8f, 0x90, 0x93,
    0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0x9b, 0x9c, 0x9d, 0x9e, 0x9f, 0xa0, 0xa1, 0xa2,
  ]],
  ["AUTH", 0xf0, [], [0x00, 0x18, 0x19]],
];
