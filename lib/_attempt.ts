// How a connection attempt that did not connect ends, kept out of
// Connection.start(): its connect timeout's error, the error of one that
// failed, and what an attempt given up while opening leaves. Not in
// _uncancelled.ts, which the TCP transports import (loaded on first use): a
// bundle would defer what this imports too.
import { MQTTConnectionError, MQTTException } from "./errors.ts";
import { channel } from "./_channel.ts";
import { gaveUp, waitsWhy } from "./_uncancelled.ts";
import { type Endpoint, hostPort } from "./transports/endpoint.ts";
import { deniedHint, OWN_FAILURES, ownFailure, UNANSWERED } from "./_servers.ts";
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

/**
 * The error an attempt to `server` that failed with `e` rejects with: the broker's refusal, a
 * connection error, or the reason of the `signal` that aborted it, as they are; else (the
 * transport's) wrapped, naming the server. Marked when the client's own (no retry).
 */
export function attemptError(
  e: unknown,
  server: Endpoint,
  signal: AbortSignal | undefined,
): unknown {
  const error = e instanceof MQTTException || e instanceof MQTTConnectionError ||
      (signal?.aborted && e === signal.reason)
    ? e
    : new MQTTConnectionError(
      `Cannot connect to ${hostPort(server.hostname, server.port)}: ${(e as Error)?.message ?? e}${
        deniedHint(e)
      }`,
      { cause: e },
    );
  // The transport refused its arguments, or the broker the client's certificate: no retry.
  if (ownFailure(e)) OWN_FAILURES.add(error as Error);
  return error;
}

/**
 * What ends the connection of an attempt that failed with `error` after its CONNECT went out: a
 * connection error, marked unanswered (the broker may yet act on that CONNECT); else a connection
 * error that says so.
 */
export function notCompleted(error: unknown): MQTTConnectionError {
  if (error instanceof MQTTConnectionError) return UNANSWERED.add(error), error;
  return new MQTTConnectionError(
    `Connection not completed: ${(error as Error)?.message ?? error}`,
    { cause: error },
  );
}
