// Marks the TCP transports put on the errors they raise, which the client
// reads. A module with no imports: the transports are loaded on first use
// (import()), so a bundle holding both defers all that they import; this
// keeps the client's errors, servers and refusals out of that (esbuild
// wraps each such module in a lazy initialiser, called before each use).

/**
 * Connection errors of the client's own making, which no other attempt
 * would change: MQTT 5 enhanced authentication given up (its `onAuth` threw
 * or answered wrongly), as bad credentials would be refused; a transport
 * that refused its arguments with a TypeError (`ssl_params` it cannot take);
 * a broker's TLS alert refusing the client's certificate, or its absence
 * (the transport adds the runtime's error, transports/_tls_errors.ts).
 */
export const OWN_FAILURES: WeakSet<Error> = new WeakSet();

/** Whether `e`, a transport's read error, is the peer's reset (ECONNRESET; Deno: ConnectionReset). */
export function isReset(e: unknown): boolean {
  const x = e as { name?: string; code?: string } | null;
  return /reset/i.test(`${x?.name}${x?.code}`);
}
