/**
 * The default connector: where the client connects when no `transport` is
 * given, and with which runtime's sockets. Runtime modules load lazily, so
 * that no runtime ever loads another's.
 *
 * @module
 */
import type { SslParams, StreamPair } from "./types.ts";

/** Where to connect, as parsed from the client's `server`, `port` and `ssl`. */
export interface Endpoint {
  /** URL scheme given, or `mqtt`/`mqtts` for a bare host. */
  scheme: "mqtt" | "mqtts";
  /** Host name or IP address (IPv6 without brackets). */
  hostname: string;
  /** TCP port. */
  port: number;
  /** Use TLS. */
  ssl: boolean;
}

/**
 * Parses `server` (a host, or an `mqtt://`/`mqtts://` URL) with umqtt's port
 * rules: a non-zero `port` wins, else the URL's, else 1883 (8883 with ssl).
 *
 * @param server Host name, IP address or URL.
 * @param port The explicit port, 0 for none.
 * @param ssl Whether TLS was asked for.
 * @returns The endpoint.
 * @throws {TypeError} An empty server or an unsupported URL scheme.
 */
export function parseServer(server: string, port: number, ssl: boolean): Endpoint {
  if (typeof server !== "string" || server.length === 0) {
    throw new TypeError("Invalid server: must be a host name, an IP address or an mqtt:// URL");
  }
  const match = /^([a-z][a-z0-9+.-]*):\/\//i.exec(server);
  if (!match) {
    return {
      scheme: ssl ? "mqtts" : "mqtt",
      hostname: server,
      port: port || (ssl ? 8883 : 1883),
      ssl,
    };
  }
  const scheme = match[1].toLowerCase();
  if (scheme !== "mqtt" && scheme !== "mqtts") {
    throw new TypeError(
      `Invalid server "${server}": the URL scheme must be mqtt:// or mqtts://` +
        (scheme === "ws" || scheme === "wss"
          ? " (WebSocket needs a transport, e.g. from @umqtt/umqtt/websocket)"
          : ""),
    );
  }
  const url = new URL(server.replace(/^[a-z]+/i, "http"));
  const tls = ssl || scheme === "mqtts";
  return {
    scheme: tls ? "mqtts" : "mqtt",
    hostname: url.hostname.replace(/^\[(.*)\]$/, "$1"),
    port: port || (url.port ? Number(url.port) : 0) || (tls ? 8883 : 1883),
    ssl: tls,
  };
}

/**
 * Opens a connection to `endpoint` with the sockets of the runtime this runs in.
 *
 * @param endpoint Where to connect.
 * @param ssl_params TLS parameters.
 * @returns The connection as a stream pair.
 * @throws {TypeError} In a runtime with no built-in transport.
 */
export async function connectDefault(
  endpoint: Endpoint,
  ssl_params: SslParams,
): Promise<StreamPair> {
  if ("Deno" in globalThis) {
    const { connectDeno } = await import("./deno.ts");
    return await connectDeno({
      hostname: endpoint.hostname,
      port: endpoint.port,
      ssl: endpoint.ssl,
      ssl_params,
    });
  }
  throw new TypeError(
    "No built-in transport for this runtime: pass the transport option, e.g. a function returning { readable, writable } streams connected to the broker",
  );
}
