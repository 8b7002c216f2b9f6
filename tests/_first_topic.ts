// Run in a fresh module graph (a worker): an empty topic is the first this
// copy of the codec ever encodes or decodes, when its last-topic caches are
// still empty. Posts each refusal's error name and rule, or "accepted".
import { encode } from "../lib/codec/encode.ts";
import { decodePacket } from "../lib/codec/decode.ts";
import type { MQTTProtocolError } from "../lib/errors.ts";

function outcome(fn: () => unknown): string {
  try {
    fn();
    return "accepted";
  } catch (e) {
    return `${(e as Error).name} ${(e as MQTTProtocolError).rule ?? ""}`.trim();
  }
}

const payload = new Uint8Array(0);
// A worker's global scope (deno check takes this file for a window's).
(self as unknown as { postMessage(message: unknown): void }).postMessage([
  outcome(() => decodePacket(0x30, Uint8Array.of(0, 0))),
  outcome(() => encode({ type: "publish", topic: "", payload, qos: 0, retain: false, dup: false })),
]);
