// The robust client's subscriptions, and their renewal after a reconnect to a
// broker without the session. A broker may refuse a SUBSCRIBE too large by
// closing the connection (mosquitto's max_packet_size with MQTT 3.1.1, AWS
// IoT over 8 filters): every filter in one packet would then close each new
// connection, for ever. So the filters go in packets no larger, in filters and
// in payload bytes, than the largest the application's own calls made.
import type { Subscription } from "./codec/packet.ts";
import type { SubscribeProperties } from "./codec/properties.ts";
import { access } from "./_internal.ts";
import { utf8 } from "./codec/_strings.ts";
import { granted } from "./_checks.ts";
import { RESET } from "./_refusals.ts";

/** A SUBSCRIBE payload's bytes: per filter its length, its UTF-8, its options byte. */
function payloadBytes(subscriptions: readonly Subscription[]): number {
  let n = 0;
  for (const s of subscriptions) n += 3 + utf8(s.topic, "topic").length;
  return n;
}

/**
 * What the robust client renews: each filter the broker took, with its
 * options (the QoS asked for: another broker may grant more than the last
 * did) and its SUBSCRIBE's properties, and the largest SUBSCRIBE the broker
 * took; but not the filters of an `unsubscribe()` under way.
 */
export class Subscriptions {
  readonly #all = new Map<string, [Subscription, SubscribeProperties | undefined]>();
  // The largest SUBSCRIBE taken, in filters and payload bytes: no renewal packet is larger.
  #most = 0;
  #bytes = 0;
  // The filters of each unsubscribe() under way, and when it began (see `leaving`).
  readonly #leaving = new Map<readonly string[], number>();

  /** How many filters there are to renew. */
  get size(): number {
    return this.#all.size;
  }

  /** A SUBSCRIBE was answered (the SUBACK's `codes`): the filters it granted are remembered. */
  subscribed(subscriptions: Subscription[], codes: number[], props?: SubscribeProperties): void {
    this.#most = Math.max(this.#most, subscriptions.length);
    this.#bytes = Math.max(this.#bytes, payloadBytes(subscriptions));
    subscriptions.forEach((s, i) => {
      if (codes[i] < 0x80) this.#all.set(s.topic, [s, props]);
    });
  }

  /** An UNSUBSCRIBE was answered: its filters are forgotten. */
  unsubscribed(topics: readonly string[]): void {
    for (const t of topics) this.#all.delete(t);
  }

  /**
   * An `unsubscribe()` of `topics` (if given) runs until `call` settles. One
   * made while the connection was lost (`at` -1), or cut off by a loss since
   * it began (`at`: the losses counted then), has its filters left out of a
   * renewal meanwhile: the renewal would subscribe to them again ahead of
   * the UNSUBSCRIBE, and their messages, a retained one at least, would come
   * after the application asked for none. One made on the new connection
   * goes after the renewal, as any call made then. Returns a promise that
   * settles as `call` does (its rejection is the caller's to handle).
   */
  leaving<T>(topics: readonly string[] | undefined, at: number, call: Promise<T>): Promise<T> {
    if (!topics) return call;
    this.#leaving.set(topics, at); // (the client's own copy of the caller's list)
    return call.finally(() => this.#leaving.delete(topics));
  }

  /**
   * Renews them on `client`'s connection (`losses`: the connections it has
   * lost, see `leaving`): in SUBSCRIBEs of one set of properties each, no
   * larger than the largest the broker took (a header without properties is
   * no longer than one with them), written all at once, so that many packets
   * cost one round trip, not one each.
   *
   * A filter the SUBACK refuses is `log`ged (an `MQTTException`, as the
   * application's subscribe() throws). MQTT 5: one the broker's CONNACK
   * refuses (no wildcards, say) is left out, as a SUBACK's refusal leaves it,
   * and `log`ged: the packet that held it goes again filter by filter.
   *
   * @throws The connection's end, or `signal`'s reason (disconnect(): no wait for a SUBACK).
   */
  async renew(
    client: object,
    losses: number,
    signal: AbortSignal,
    log: (e: unknown) => void,
  ): Promise<void> {
    const packets: [Subscription[], SubscribeProperties | undefined][] = [];
    const last = new Map<SubscribeProperties | undefined, [Subscription[], number]>();
    const leaving = new Set<string>();
    for (const [topics, at] of this.#leaving) {
      if (at !== losses) topics.forEach((t) => leaving.add(t));
    }
    for (const [s, props] of this.#all.values()) {
      if (leaving.has(s.topic)) continue;
      const n = payloadBytes([s]);
      let p = last.get(props);
      if (!p || p[0].length >= this.#most || p[1] + n > this.#bytes) {
        last.set(props, p = [[], 0]);
        packets.push([p[0], props]);
      }
      p[0].push(s), p[1] += n;
    }
    const sent = (s: Subscription[], props?: SubscribeProperties) =>
      access.resubscribe(client, s, signal, props).then(({ codes, reasonString }) => {
        // Refused in the SUBACK: logged as the application's own subscribe() would throw it.
        codes.forEach((code, i) => {
          try {
            granted("Subscription to", s[i].topic, "SUBACK", { codes: [code], reasonString });
          } catch (e) {
            log(e);
          }
        });
        return true;
      }, (e) => {
        if (!(e instanceof RangeError)) throw e;
        log(e);
        // Refused by reset (3.1.1): the connection is gone, so the next renewal goes filter by
        // filter, and a filter refused alone is forgotten, or every renewal would meet it again.
        if (RESET.has(e.cause as Error)) {
          this.#most = 1;
          if (s.length === 1) this.#all.delete(s[0].topic);
        }
        return false;
      });
    await Promise.all(packets.map(async ([subs, props]) => {
      if (!await sent(subs, props) && subs.length > 1) {
        for (const s of subs) await sent([s], props);
      }
    }));
  }
}
