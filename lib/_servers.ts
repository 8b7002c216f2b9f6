// The servers a client may connect to, which one it is on, and failover:
// which failures move on to the next server, trying them in turn, the
// order a reconnect goes through them, and the servers a Server Reference
// sends the robust client to.
import { MQTTConnectionError, MQTTException } from "./errors.ts";
import { type Endpoint, endpointUrl, parseServer } from "./transports/endpoint.ts";
import { OWN_FAILURES } from "./_failure_marks.ts";
export { endpointUrl, OWN_FAILURES };

// Refusals that speak of the server, not of the client: 3.1.1 return code 3
// (server unavailable); MQTT 5 0x88 server unavailable, 0x89 server busy,
// 0x97 quota exceeded, 0x9C use another server, 0x9D server moved, 0x9F
// connection rate exceeded (what a broker that limits a fleet coming back
// after its restart says: try later, or elsewhere).
const SERVER_REFUSALS = [3, 0x88, 0x89, 0x97, 0x9c, 0x9d, 0x9f];

/** Most servers of one Server Reference followed (MQTT 5.0 section 4.11 sets no limit). */
const MAX_REFERRED = 8;

/**
 * Whether a failed connection attempt speaks of the server — a network
 * failure, a timeout, a refusal such as "server unavailable" — so that the
 * next server is worth trying; a refusal of the client itself (bad
 * credentials, not authorized, bad client id…) is not.
 */
export function movesOn(error: unknown): boolean {
  if (error instanceof MQTTException) return SERVER_REFUSALS.includes(error.code);
  return error instanceof MQTTConnectionError && !OWN_FAILURES.has(error);
}

/**
 * Whether what failed a connection attempt is of the client's own making: a
 * transport's TypeError (`ssl_params` it cannot take), or an error the
 * transport marked, thrown or read (the broker's TLS alert about our
 * certificate, which TLS 1.3 delivers after the handshake, at the first read).
 */
export function ownFailure(e: unknown): boolean {
  return e instanceof TypeError || OWN_FAILURES.has(e as Error) ||
    OWN_FAILURES.has((e as Error)?.cause as Error);
}

/**
 * Whether the runtime's permissions forbid connecting to the server (Deno's
 * `NotCapable`, under `--allow-net` for other hosts; Node's
 * `ERR_ACCESS_DENIED`, 25+ under `--permission` without `--allow-net`, as
 * node:net's code or in the words the `ws` package's WebSocket passes on; a
 * browser's `SecurityError`, a `ws://` WebSocket from an `https://` page): it
 * moves on, as the server is the one forbidden, but no later attempt to it
 * would differ.
 */
export function denied(e: unknown): boolean {
  const x = (e as Error)?.cause as { name?: string; code?: string; message?: string } | undefined;
  return /^(NotCapable|SecurityError) |ERR_ACCESS_DENIED/.test(
    `${x?.name} ${x?.code} ${x?.message}`,
  );
}

/**
 * What to add to a transport's error `x` that is Node's permissions refusing
 * a host name's lookup ("getaddrinfo ERR_ACCESS_DENIED host"): the flag, which
 * Node names for an address ("Use --allow-net …") and Deno always.
 */
export function deniedHint(x: unknown): string {
  return /^getaddrinfo ERR_ACCESS_DENIED/.test((x as Error)?.message)
    ? " (run with --allow-net)"
    : "";
}

/**
 * Attempts given up after their CONNECT went out unanswered (a timeout, a
 * cut): the broker may still act on it, starting a session or taking one
 * over, so a later CONNACK's Session Present may speak of that session.
 */
export const UNANSWERED: WeakSet<Error> = new WeakSet();

/** The client's servers, in the order given, and the one connected to, or last connected to. */
export class Servers {
  /** The servers, as given. */
  readonly list: readonly Endpoint[];
  // The listed server that worked last, and a server a Server Reference
  // (MQTT 5) led to when that is the one connected to now, or last.
  #current = 0;
  #referred: Endpoint | null = null;
  // MQTT 5: the server connected to sent the client away (DISCONNECT 0x9C, 0x9D): it goes last.
  #left = false;

  constructor(list: Endpoint[]) {
    this.list = list;
  }

  /** The server connected to, or last connected to (the first before any connection). */
  get current(): Endpoint {
    return this.#referred ?? this.list[this.#current];
  }

  /**
   * `server` accepted (the connection says, before anyone hears of it): the
   * one connected to now, one of the list, or one a Server Reference named,
   * which is the listed one if it names that (the list then goes on from there).
   */
  accepted(server: Endpoint): void {
    const url = this.list[0] === server ? "" : endpointUrl(server); // the first: found at once
    const i = url
      ? this.list.findIndex((e) => endpointUrl(e) === url && e.path === server.path)
      : 0;
    this.#referred = i === -1 ? server : null;
    if (i !== -1) this.#current = i;
    this.#left = false;
  }

  /**
   * MQTT 5: the server connected to sent the client away (DISCONNECT 0x9C use
   * another server, 0x9D server moved): the others are tried before it, as
   * section 4.11 has it ("another Server … already known to the Client"),
   * until a server accepts.
   */
  left(): void {
    this.#left = true;
  }

  /**
   * The order a reconnect tries them: from the one that worked last — a
   * server a Server Reference led to first, if that is the one — round the
   * list; that one last instead if it sent the client away (`left()`).
   */
  fromCurrent(): Endpoint[] {
    const list = [...this.list.slice(this.#current), ...this.list.slice(0, this.#current)];
    const all = this.#referred ? [this.#referred, ...list] : list;
    if (this.#left) all.push(all.shift()!);
    return all;
  }

  /**
   * Tries `attempt` on each server in order until one succeeds. A failure
   * that speaks of the server moves on, unless `stopped()`; any other
   * failure rejects at once. `referred` (the robust client's) names the
   * servers a refusal's Server Reference points to, tried next, once. When
   * every server failed, rejects with the last error (a connection error:
   * a new one like it), its message then listing each address tried and why
   * (with one server, as it was).
   */
  first<T>(
    attempt: (server: Endpoint) => Promise<T>,
    stopped: () => boolean,
    referred?: (error: unknown, server: Endpoint) => Endpoint[],
  ): Promise<T> {
    // One server and no reference to follow: its attempt's outcome as it is.
    if (this.list.length === 1 && !referred) return attempt(this.list[0]);
    return this.#round(attempt, stopped, referred);
  }

  /** first()'s round of the list: each server in turn, references followed once. */
  async #round<T>(
    attempt: (server: Endpoint) => Promise<T>,
    stopped: () => boolean,
    referred?: (error: unknown, server: Endpoint) => Endpoint[],
  ): Promise<T> {
    const servers = [...this.list];
    const failures: string[] = [];
    let last: unknown;
    for (let i = 0, followed = false; i < servers.length; i++) {
      try {
        return await attempt(servers[i]);
      } catch (e) {
        if (!movesOn(e) || stopped()) throw e;
        last = e;
        failures.push(`${endpointUrl(servers[i])}: ${(e as Error).message}`);
        const next = followed ? [] : referred?.(e, servers[i]) ?? [];
        if (next.length > 0) followed = true, servers.splice(i + 1, 0, ...next);
      }
    }
    if (servers.length > 1) {
      const message = `Cannot connect to any of the ${servers.length} servers: ${
        failures.join("; ")
      }`;
      // Not written into a connection error, which may be one a transport rejects with each time
      // (each round would list the last in it, other clients' too): one like it, its cause kept.
      if (last instanceof MQTTConnectionError) {
        const e = new MQTTConnectionError(message, { ...last, cause: last.cause });
        if (UNANSWERED.has(last)) UNANSWERED.add(e);
        last = e;
      } else (last as Error).message = message; // a refusal's, made of this attempt's CONNACK
    }
    throw last;
  }
}

/**
 * MQTT 5: the Server Reference that a refusal or a DISCONNECT (`e`, with 0x9C
 * use another server or 0x9D server moved) names, if any.
 */
export function serverReferenceOf(e: unknown): string | undefined {
  const { serverReference: ref, reasonCode, code } = e as {
    serverReference?: string;
    reasonCode?: number;
    code?: number;
  };
  const why = reasonCode ?? code;
  return ref && (why === 0x9c || why === 0x9d) ? ref : undefined;
}

/**
 * MQTT 5: the servers of a Server Reference (section 4.11): space-separated
 * `host[:port]` references (`[v6]:port` too), reached as `like` is (its
 * scheme, its TLS), or URLs as a `server` is given (TLS kept if `like` has
 * it); an entry that is neither is left out (one naming port 0 too), and so
 * is one given before. At most the first `MAX_REFERRED`: 1000 references
 * made a robust client try 1000 servers at once, with no wait between them.
 */
export function referredServers(reference: string, like: Endpoint): Endpoint[] {
  const out: Endpoint[] = [];
  for (const ref of reference.split(/\s+/)) {
    if (out.length === MAX_REFERRED) break;
    const url = /^[a-z][a-z0-9+.-]*:\/\//i.test(ref);
    // Not "mqtt://" prefixed to a URL, which made its scheme the host name; nor a host
    // the URL parser rewrites (a\b is host a, h%41 is ha).
    if (!url && !/^(\[[0-9a-f:.]+\]|[^\s:/?#@[\]\\%]+)(:\d{1,5})?$/i.test(ref)) continue;
    const given = url ? ref : `${like.scheme}://${ref}`;
    // Port 0, or a colon without one: parseServer's "none", the scheme's default port.
    if (/:0*$/.test(given.slice(given.indexOf("//") + 2).split(/[/?#\\]/)[0])) continue;
    try {
      const e = parseServer(given, 0, like.ssl);
      const href = endpointUrl(e);
      if (!out.some((o) => endpointUrl(o) === href)) out.push(e);
    } catch { /* not a reference we can reach */ }
  }
  return out;
}

/**
 * MQTT 5: the servers a CONNACK's or DISCONNECT's Server Reference (0x9C use another server, 0x9D
 * server moved) named, which the robust client's next reconnect tries first, before its list; when
 * it follows them at all (`followServerReference`).
 */
export class Referrals {
  #servers: Endpoint[] = [];
  readonly #follow: boolean;

  /** @param follow Whether to follow Server References. */
  constructor(follow: boolean) {
    this.#follow = follow;
  }

  /** Follows the Server Reference of `e`, if it has one and if told to (see referredServers()): did it? */
  refer(e: unknown, like: Endpoint): boolean {
    const ref = this.#follow ? serverReferenceOf(e) : undefined;
    if (ref) this.#servers = referredServers(ref, like);
    return ref !== undefined;
  }

  /** Takes the servers the last reference followed named, in its order, and forgets them. */
  take(): Endpoint[] {
    return this.#servers.splice(0);
  }

  /** Forgets them: none left from an earlier outage. */
  clear(): void {
    this.#servers = [];
  }
}
