// Openings given up that Deno cannot cancel: its TLS handshake (Deno.startTls, Deno.connectTls)
// keeps its socket until the server answers or closes (tests/tls_abandon_test.ts). A robust
// client keeps at most one per server: its next attempts there wait for it, within their own
// timeout, rather than open another, so that retrying a server that accepts TCP and never answers
// (a load balancer with no backend) holds one socket, not one per attempt. It is let go when the
// robust client stops retrying (disconnect(), its signal, a refusal, a connect() that fails), and
// at once by other clients and connect() without a signal: kept, it holds the process.
import { abortable, onAbort } from "./_abort_waits.ts";
import { type Endpoint, hostPort } from "./transports/endpoint.ts";

/** An opening given up that goes on: `ended` settles once it has ended and closed. */
export interface Lingering {
  readonly ended: Promise<unknown>;
  /** Closes it as soon as Deno lets it (its socket stays until the server answers or closes). */
  drop(): void;
}

/** What each aborted signal left going on (set by the Deno transport as it gives up). */
export const LINGERING = new WeakMap<AbortSignal, Lingering>();

// Each client's openings given up and still going on, by server: made by the first one kept.
const KEPT = new WeakMap<object, Map<string, Lingering>>();

/** Each server's key in `KEPT`: `host:port` (made only for a client that keeps one). */
const key = (server: Endpoint): string => hostPort(server.hostname, server.port);

/** Opens with `open`, once the opening `client` gave up to `server` earlier, if any, has ended. */
export function afterKept<T>(
  client: object,
  server: Endpoint,
  signal: AbortSignal,
  open: () => Promise<T>,
): Promise<T> {
  const l = KEPT.get(client)?.get(key(server));
  return l ? abortable(l.ended, signal).then(open) : open();
}

/**
 * What the attempt given up by `signal` left going on to `server`: kept
 * until `until` aborts (the robust client stops retrying) if given, else
 * dropped (closed when Deno lets it, not waited for).
 */
export function gaveUp(
  client: { readonly userClosed: boolean },
  server: Endpoint,
  signal: AbortSignal,
  until: AbortSignal | false | undefined,
): void {
  const l = LINGERING.get(signal);
  // Dropped, it is not waited for: its end may be a TCP connect Deno cannot cancel either.
  if (!l || !until || until.aborted || client.userClosed) return void l?.drop();
  let kept = KEPT.get(client);
  if (!kept) KEPT.set(client, kept = new Map());
  const at = key(server);
  kept.set(at, l);
  const off = onAbort(until, l.drop);
  l.ended.then(() => (off(), kept.get(at) === l && kept.delete(at)));
}

/** Why `client`'s attempt to `server` has not opened: "" unless it waits for one given up before. */
export const waitsWhy = (client: object, server: Endpoint): string =>
  KEPT.get(client)?.has(key(server))
    ? "; a TLS handshake given up before is still pending there (Deno cannot cancel it)"
    : "";

/** Drops all `client` kept (disconnect()); resolves once they are closed. */
export function dropKept(client: object): Promise<unknown> | undefined {
  const kept = KEPT.get(client);
  KEPT.delete(client);
  return kept && Promise.all([...kept.values()].map((l) => (l.drop(), l.ended)));
}
