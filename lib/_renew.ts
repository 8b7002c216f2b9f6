// The robust client's renewal of its subscriptions after a reconnect to a
// broker without the session. A broker may refuse a SUBSCRIBE too large by
// closing the connection (mosquitto's max_packet_size with MQTT 3.1.1, AWS
// IoT over 8 filters): every filter in one packet would then close each new
// connection, for ever. So the filters go in packets no larger, in filters and
// in payload bytes, than the largest the application's own calls made.
import type { Subscription } from "./codec/packet.ts";
import type { SubscribeProperties } from "./codec/properties.ts";
import { access } from "./_internal.ts";
import { utf8 } from "./codec/_strings.ts";

/** A SUBSCRIBE payload's bytes: per filter its length, its UTF-8, its options byte. */
export function payloadBytes(subscriptions: readonly Subscription[]): number {
  let n = 0;
  for (const s of subscriptions) n += 3 + utf8(s.topic, "topic").length;
  return n;
}

/**
 * Renews `subscriptions` (each filter with its options and its SUBSCRIBE's
 * properties) on `client`'s connection: in SUBSCRIBEs of one set of
 * properties each, of at most `most[0]` filters and `most[1]` payload bytes
 * (a header without properties is no longer than one with them), written
 * all at once, so that many packets cost one round trip, not one each.
 *
 * MQTT 5: a filter the broker's CONNACK refuses (no wildcards, say) is left
 * out, as a SUBACK's refusal leaves it, and `log`ged: the packet that held it
 * goes again filter by filter.
 *
 * @throws The connection's end, or `signal`'s reason (disconnect(): no wait for a SUBACK).
 */
export async function renew(
  client: object,
  subscriptions: Map<string, [Subscription, SubscribeProperties | undefined]>,
  [most, bytes]: number[],
  signal: AbortSignal,
  log: (e: unknown) => void,
): Promise<void> {
  const packets: [Subscription[], SubscribeProperties | undefined][] = [];
  const last = new Map<SubscribeProperties | undefined, [Subscription[], number]>();
  for (const [s, props] of subscriptions.values()) {
    const n = payloadBytes([s]);
    let p = last.get(props);
    if (!p || p[0].length >= most || p[1] + n > bytes) {
      last.set(props, p = [[], 0]);
      packets.push([p[0], props]);
    }
    p[0].push(s), p[1] += n;
  }
  const sent = (s: Subscription[], props?: SubscribeProperties) =>
    access.resubscribe(client, s, signal, props).then(() => true, (e) => {
      if (!(e instanceof RangeError)) throw e;
      log(e);
      return false;
    });
  await Promise.all(packets.map(async ([subs, props]) => {
    if (!await sent(subs, props) && subs.length > 1) {
      for (const s of subs) await sent([s], props);
    }
  }));
}
