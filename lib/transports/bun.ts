/**
 * The transport for Bun: `node:net` / `node:tls` in Bun, through the same
 * adapter as Node. Measured against `Bun.connect` wrapped in web streams
 * (see the README's "Runtimes" section): no slower, and its TLS options
 * (`ca`, `servername`, `cert`, `key`) verify exactly as Node's do.
 *
 * @module
 */
import { connectNode, type NodeConnectOptions } from "./node.ts";
import type { StreamPair } from "./types.ts";
export type { StreamPair };

/** Where and how {@linkcode connectBun} connects. */
export type BunConnectOptions = NodeConnectOptions;

/**
 * Opens a TCP or TLS connection in Bun.
 *
 * @param options Address, port and TLS settings.
 * @returns The open connection as a stream pair.
 * @throws {Error} The socket's error if it cannot connect (refused, TLS verification).
 * @throws {TypeError} Under Node and Bun, `ssl_params` their TLS cannot use, before any I/O
 * (a key not the cert's, PEM text it cannot read): "Invalid ssl_params: …".
 * @throws {RangeError} A port out of range (Node's own error).
 *
 * @example
 * ```ts ignore
 * import { MQTTClient } from "@umqtt/umqtt";
 * import { connectBun } from "@umqtt/umqtt/bun";
 * const client = new MQTTClient("id", "broker.local", {
 *   transport: () => connectBun({ hostname: "broker.local", port: 8883, ssl: true }),
 * });
 * ```
 */
export function connectBun(options: BunConnectOptions): Promise<StreamPair> {
  return connectNode(options);
}
