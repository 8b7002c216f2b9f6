// Constants of the MQTT 5.0 tables (properties.ts, reason_codes.ts). They
// live in a module that imports nothing so that a bundler can write them as
// the numbers they are: esbuild inlines (and folds) a constant only from
// such a module, and leaves one declared beside imports as a variable.

// Packet sets, a bit per packet type; bit 0 (type 0 is reserved) is the will.
export const WILL = 1, CONNECT = 2, CONNACK = 4, PUBLISH = 8, PUBACK = 16, PUBREC = 32;
export const PUBREL = 64, PUBCOMP = 128, SUBSCRIBE = 256, SUBACK = 512, UNSUBSCRIBE = 1024;
export const UNSUBACK = 2048, DISCONNECT = 1 << 14, AUTH = 1 << 15;

// Value types of properties (MQTT 5.0 section 1.5). BOOL is a Byte of 0 or 1
// read as a boolean; BYTE is the one Byte property that stays a number,
// Maximum QoS (0 or 1).
export const BOOL = 0, BYTE = 1, U16 = 2, U32 = 3, VBI = 4, STR = 5, BIN = 6, PAIR = 7;
// Flags beside the type: the property may repeat (collected in an array); 0 is a protocol error.
export const REPEAT = 8, NONZERO = 16;

// Sets of the property table: PUBACK…PUBCOMP, SUBACK and UNSUBACK, which
// carry a reason string; the packets that carry an application message.
export const ACKS = PUBACK | PUBREC | PUBREL | PUBCOMP | SUBACK | UNSUBACK;
export const MESSAGE = PUBLISH | WILL;

// Sets of the reason code table: PUB is PUBACK and PUBREC, whose tables
// (3-4, 3-5) are the same; ERR the failures most carry; CD CONNACK and DISCONNECT.
export const PUB = PUBACK | PUBREC;
export const ERR = CONNACK | PUB | SUBACK | UNSUBACK | DISCONNECT;
export const CD = CONNACK | DISCONNECT;
