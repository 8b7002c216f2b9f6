/**
 * The one view of the network the client core has: a pair of byte streams.
 *
 * @module
 */
import type { Endpoint } from "./endpoint.ts";
export type { Endpoint };

/**
 * A bidirectional byte stream: what the client reads MQTT from and writes
 * MQTT to. A `Deno.Conn` (TCP or TLS) and a Cloudflare `connect()` socket
 * already are one.
 *
 * @example A Deno TCP connection is a StreamPair
 * ```ts ignore
 * import { MQTTClient } from "@umqtt/umqtt";
 * const client = new MQTTClient("id", "broker.local", {
 *   transport: () => Deno.connect({ hostname: "broker.local", port: 1883 }),
 * });
 * ```
 */
export interface StreamPair {
  /**
   * Bytes from the broker. Each chunk is the client's once read (a message's
   * payload is a view into it): enqueue a new buffer each time, never one
   * written into again.
   */
  readable: ReadableStream<Uint8Array>;
  /**
   * Bytes to the broker. A chunk may be a view into a buffer shared with
   * other packets, which the client may keep to send again (an unacknowledged
   * QoS 1/2 PUBLISH): write its bytes, never transfer or detach its buffer.
   */
  writable: WritableStream<Uint8Array>;
  /** Closes the connection, if the streams alone cannot (a `Deno.Conn` has it). */
  close?(): void | Promise<void>;
}

/**
 * Makes a new connection each time it is called; the client calls it on every
 * `connect()`. The signal aborts when the client gives up on that attempt
 * (connect timeout, `connect()`'s signal, `disconnect()`): a transport still
 * opening should then close what it opened and reject. One that ignores it
 * is closed by the client if it opens later. `server` is the server of that
 * attempt, parsed (`hostname`, `port`, `ssl`): with a list of servers, the
 * one failover is trying now.
 */
export type Transport = (
  signal: AbortSignal,
  server: Endpoint,
) => StreamPair | Promise<StreamPair>;

/**
 * TLS parameters, named as MicroPython's `ssl.wrap_socket` names them.
 * Certificate verification is always on.
 */
export interface SslParams {
  /**
   * The host name verified in the broker's certificate and sent as SNI; the address connected to
   * stays `server` (with a list, this one name for every server of it). An IP address is verified
   * against the certificate's IP entries, and no SNI goes out.
   */
  server_hostname?: string | undefined;
  /** Trusted CA certificates, PEM text (one or more certificates). */
  cadata?: string | undefined;
  /** Client certificate chain for mutual TLS, PEM text. */
  cert?: string | undefined;
  /** Client private key for mutual TLS, PEM text. */
  key?: string | undefined;
}
