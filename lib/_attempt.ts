// One connection attempt's ends that Connection.start() rarely meets, made
// only when it does: its connect timeout's error, and what an attempt given
// up while opening leaves. Not in _uncancelled.ts, which the TCP transports
// import (loaded on first use): a bundle would defer what this imports too.
import { MQTTConnectionError } from "./errors.ts";
import { channel } from "./_channel.ts";
import { gaveUp, waitsWhy } from "./_uncancelled.ts";
import { type Endpoint, hostPort } from "./transports/endpoint.ts";
import type { StreamPair } from "./transports/types.ts";

/**
 * What an attempt of `client` given up while `opening` leaves, made only then:
 * closed if it opens late; what Deno cannot cancel is kept until `until`
 * aborts, or dropped (see gaveUp).
 */
export function lateOpen(
  client: { readonly userClosed: boolean },
  opening: Promise<StreamPair>,
  server: Endpoint,
  signal: AbortSignal,
  until: AbortSignal | false | undefined,
): Promise<unknown> {
  return opening.then((p) => channel(p).close()).catch(() => gaveUp(client, server, signal, until));
}

/**
 * The connect timeout's error (`ms`) for `client`'s attempt to `server`:
 * `opened`, its CONNECT went out unanswered (and what `steps` of onAuth
 * await); else it did not open, and why if it waits for one given up before.
 */
export function timedOutError(
  client: object,
  server: Endpoint,
  ms: number,
  opened: boolean,
  steps: { readonly unanswered: string } | null,
): MQTTConnectionError {
  return new MQTTConnectionError(
    `Connection to ${hostPort(server.hostname, server.port)} timed out: ${
      opened ? "no CONNACK" : "not open (TCP, TLS or WebSocket handshake)"
    } within ${ms} ms${opened ? steps?.unanswered || "" : waitsWhy(client, server)}`,
  );
}
