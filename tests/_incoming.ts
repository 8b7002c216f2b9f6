// An incoming PUBLISH as the protocol core hands it to the inbox, for the tests
// that drive lib/_inbox.ts by hand (no broker).
import type { Incoming } from "../lib/_protocol.ts";
import type { QoS } from "../lib/codec/packet.ts";
import type { PublishProperties } from "../lib/codec/properties.ts";

/** A PUBLISH on `topic` at `qos` (empty payload, connection 1, session 1). */
export function incoming(
  topic: string,
  qos: QoS,
  packetId?: number,
  properties?: PublishProperties,
): Incoming {
  return {
    packet: {
      type: "publish",
      topic,
      payload: new Uint8Array(0),
      qos,
      retain: false,
      dup: false,
      packetId,
      ...properties && { properties },
    },
    generation: 1,
    session: 1,
    seq: 0,
  };
}
