/**
 * Where the client connects: its `server`, `port` and `ssl` arguments parsed
 * into an {@linkcode Endpoint}, and a WebSocket endpoint's URL. No I/O, and
 * no imports: the default connector and each runtime's TCP module depend on
 * it, never the other way round.
 *
 * @module
 */

/** Where to connect, as parsed from the client's `server`, `port` and `ssl`. */
export interface Endpoint {
  /** URL scheme given, or `mqtt`/`mqtts` for a bare host; `ws`/`wss` select WebSocket. */
  scheme: "mqtt" | "mqtts" | "ws" | "wss";
  /** Host name or IP address (IPv6 without brackets). */
  hostname: string;
  /** TCP port. */
  port: number;
  /** Use TLS. */
  ssl: boolean;
  /** For `ws`/`wss`: the URL's path and query; `/mqtt` when the URL has none. */
  path?: string;
}

const DEFAULT_PORT = { mqtt: 1883, mqtts: 8883, ws: 80, wss: 443 } as const;

/**
 * `server` as an error may show it: whatever comes before an `@` (after the
 * scheme, if any) may be a user name and password, and is replaced by `…`.
 *
 * @param server A server as given, a URL or not.
 * @returns It without its user information.
 */
export function withoutCredentials(server: string): string {
  // Up to the last @: a password may hold an unescaped "@" or "/".
  return server.replace(/^([a-z][a-z0-9+.-]*:\/\/)?.*@/is, "$1…@");
}

// parseServer()'s errors, the server shown without its user information, nor its query or
// fragment (a token).
const bad = (server: string, why: string) =>
  new TypeError(
    `Invalid server "${withoutCredentials(server).replace(/([?#]).*/s, "$1…")}": ${why}`,
  );
const notUrl = (server: string, scheme: string) =>
  bad(server, `not a URL (${scheme}://host[:port])`);

/**
 * Parses `server` (a host, or an `mqtt://`, `mqtts://`, `ws://` or `wss://`
 * URL) with umqtt's port rules: a non-zero `port` wins, else the URL's, else
 * the scheme's default (1883, 8883 with ssl; 80 for `ws`, 443 for `wss`).
 * A WebSocket URL keeps its path, `/mqtt` if it has none.
 *
 * @param server Host name, IP address or URL.
 * @param port The explicit port, 0 for none.
 * @param ssl Whether TLS was asked for (turns `ws` into `wss`).
 * @returns The endpoint.
 * @throws {TypeError} An empty server (or `[]`), a host with a port (`host:1883`), or an unsupported URL scheme.
 * @example
 * ```ts
 * import { parseServer } from "./endpoint.ts";
 * const e = parseServer("ws://broker.local", 0, false);
 * if (e.port !== 80 || e.path !== "/mqtt") throw new Error("unexpected");
 * ```
 */
export function parseServer(
  server: string,
  port: number,
  ssl: boolean,
): Endpoint {
  // "[]" too: a host name of "", which Node's net.connect takes for localhost.
  if (typeof server !== "string" || server.length === 0 || server === "[]") {
    throw new TypeError(
      "Invalid server: must be a host name, an IP address or an mqtt:// URL",
    );
  }
  const match = /^([a-z][a-z0-9+.-]*):\/\//i.exec(server);
  if (!match) {
    // A scheme's URL mistyped (ws:/h, wss//h, " ws://h", ws:h, ws:h:80, ws:), not a host with a port.
    const typo = /^\s*(mqtts?|wss?)(:\/*|\/+)(?!\d+$)/i.exec(server);
    if (typo) throw notUrl(server, typo[1].toLowerCase());
    // No host name holds a slash (a URL mistyped, a path), a query, a fragment or user information
    // (a URL without its scheme, whose token or password every connection error would show) or a
    // space.
    if (/[/?#@]/.test(server)) throw notUrl(server, "mqtt");
    if (/\s/.test(server)) throw bad(server, "a host name cannot contain spaces");
    // One colon, or one after a bracketed IPv6 address: a port, which a host cannot carry.
    if (/^[^:]*:[^:]*$|^\[.*\]:/.test(server)) {
      throw bad(
        server,
        `a host cannot carry a port; give the port option, or a URL (mqtt://${
          withoutCredentials(server)
        })`,
      );
    }
    return {
      scheme: ssl ? "mqtts" : "mqtt",
      hostname: server.replace(/^\[(.*)\]$/, "$1"),
      port: port || (ssl ? 8883 : 1883),
      ssl,
    };
  }
  const given = match[1].toLowerCase();
  if (!(given in DEFAULT_PORT)) {
    throw bad(server, "the URL scheme must be mqtt://, mqtts://, ws:// or wss://");
  }
  let url: URL;
  const http = server.replace(/^[a-z]+/i, "http");
  try {
    url = new URL(http);
  } catch {
    throw notUrl(server, given);
  }
  if (url.username || url.password) {
    // Not echoed: it may hold a password.
    throw new TypeError(
      `Invalid server ${given}://…@${url.host}: credentials in the URL are not used; give the user and password options`,
    );
  }
  const ws = given === "ws" || given === "wss";
  const tls = ssl || given === "mqtts" || given === "wss";
  const scheme = ws ? (tls ? "wss" : "ws") : (tls ? "mqtts" : "mqtt");
  const endpoint: Endpoint = {
    scheme,
    hostname: url.hostname.replace(/^\[(.*)\]$/, "$1"),
    port: port || portIn(url, http) || DEFAULT_PORT[scheme],
    ssl: tls,
  };
  if (ws) {
    // A path is given ("/" alone too) when a slash, or a backslash, follows the host: not told by
    // the last character, as a query may end in "/" and "/?x" has a root path. Those before the
    // host (ws:///h, as the URL parser reads it) are no path.
    endpoint.path = url.pathname === "/" && !/^[^:]*:[/\\]*[^/\\?#]+[/\\]/.test(server)
      ? "/mqtt" + url.search
      : url.pathname + url.search;
  }
  return endpoint;
}

/**
 * The port given in `http`, the http: URL text `url` was parsed from; 0 for
 * none. An http: URL leaves out a port 80 given (its own default), which
 * mqtt://h:80 means: that one is asked of https:.
 */
export function portIn(url: URL, http: string): number {
  return Number(url.port || new URL(`https${http.slice(4)}`).port);
}

/**
 * The URL a WebSocket endpoint connects to.
 *
 * @param endpoint A `ws`/`wss` endpoint from {@linkcode parseServer}.
 * @returns `ws[s]://host:port/path`.
 * @example
 * ```ts
 * import { parseServer, webSocketUrl } from "./endpoint.ts";
 * const url = webSocketUrl(parseServer("wss://[::1]/mqtt", 0, false));
 * if (url !== "wss://[::1]:443/mqtt") throw new Error(url);
 * ```
 */
export function webSocketUrl(endpoint: Endpoint): string {
  // parseServer makes a ws endpoint's scheme wss exactly when it has ssl.
  return endpointUrl(endpoint) + (endpoint.path ?? "/mqtt");
}

/** `scheme://host:port` of an endpoint, an IPv6 address in brackets. */
export function endpointUrl(e: Endpoint): string {
  return `${e.scheme}://${hostPort(e.hostname, e.port)}`;
}

/** `host:port`, an IPv6 address in brackets. */
export const hostPort = (host: string, port: number): string =>
  `${host.includes(":") ? `[${host}]` : host}:${port}`;
