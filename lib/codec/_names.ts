// Packet names for error messages, indexed by packet type. Type 0 is
// reserved and never named as a packet, so its slot names the will's
// properties, which the property table files under type 0.
export const NAMES = [
  "CONNECT will",
  "CONNECT",
  "CONNACK",
  "PUBLISH",
  "PUBACK",
  "PUBREC",
  "PUBREL",
  "PUBCOMP",
  "SUBSCRIBE",
  "SUBACK",
  "UNSUBSCRIBE",
  "UNSUBACK",
  "PINGREQ",
  "PINGRESP",
  "DISCONNECT",
  "AUTH",
];
