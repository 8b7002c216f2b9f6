/**
 * The robust client as its tests make it: through a fault proxy, with short
 * delays, its reconnect attempts counted; and the end of a test that leaves
 * no session behind.
 */
import { MQTTClient, type ReconnectingDetail } from "../lib/robust.ts";
import type { ProtocolVersion } from "../lib/codec/packet.ts";
import type { FaultProxy } from "./_fault_proxy.ts";
import { uniqueId } from "./_test.ts";

/**
 * A robust client through `proxy`, speaking MQTT `protocolVersion`, with
 * `DELAY` 0.02 s (or `delay`); `attempts` collects each `reconnecting` event's detail.
 */
export function robust(
  proxy: FaultProxy,
  protocolVersion: ProtocolVersion,
  options: ConstructorParameters<typeof MQTTClient>[2] = {},
  delay = 0.02,
): { c: MQTTClient; attempts: ReconnectingDetail[] } {
  const c = new MQTTClient(uniqueId("rb"), proxy.hostname, {
    port: proxy.port,
    protocolVersion,
    ...(options as object),
  });
  c.DELAY = delay;
  const attempts: ReconnectingDetail[] = [];
  c.addEventListener("reconnecting", (e) => attempts.push((e as CustomEvent).detail));
  return { c, attempts };
}

/**
 * Disconnects `c`, then drops the persistent session it left at the broker
 * with a clean connect, when that still gets through.
 */
export async function endSession(c: MQTTClient): Promise<void> {
  await c.disconnect();
  await c.connect(true).then(() => c.disconnect(), () => {});
}
