// A TLS failure as the runtimes report it (rustls under Deno, OpenSSL under
// Node, BoringSSL under Bun), named as one: whose certificate was refused,
// and the ssl_params key that changes it. Only the TCP transports (deno.ts,
// node.ts) load it: ssl_params do not apply to wss://, nor in a browser.
import { isReset, OWN_FAILURES } from "../_failure_marks.ts";

/**
 * What each failure means, tried in order on the error's code and message,
 * and whether it refuses the client itself (`true`: the broker's alert about
 * our certificate, the TLS form of bad credentials, not retried).
 */
const HINTS: [RegExp, string, boolean?][] = [
  [
    /alert.{0,3}certificate.?required/i,
    "the broker requires a client certificate: give ssl_params.cert and ssl_params.key",
    true,
  ],
  [
    /alert.{0,3}(unknown.?ca|bad.?certificate|unsupported.?certificate|certificate.?(revoked|expired|unknown)|access.?denied)/i,
    "the broker refused the client certificate (ssl_params.cert): it must be valid and signed by a CA the broker trusts",
    true,
  ],
  // Ours refused the broker's certificate: that speaks of the server (the next one may do).
  [
    /ERR_TLS_CERT_ALTNAME_INVALID|certificate not valid for name|NotValidForName/,
    "the broker's certificate does not name the host connected to: connect by a name it holds, or give that name in ssl_params.server_hostname",
  ],
  [
    /CERT_HAS_EXPIRED|CERT_NOT_YET_VALID|peer certificate: (certificate )?(expired|not valid yet|Expired|NotValidYet)/,
    "the broker's certificate has expired or is not valid yet, or this machine's clock is wrong",
  ],
  [
    /SELF_SIGNED_CERT|UNABLE_TO_GET_ISSUER_CERT|UNABLE_TO_VERIFY_LEAF|CERT_UNTRUSTED|CERT_SIGNATURE_FAILURE|invalid peer certificate|ERR_BORINGSSL Invalid CA/,
    "the broker's certificate is not signed by a CA the client trusts: give that CA in ssl_params.cadata",
  ],
];

/**
 * Checked only in the handshake: the server ending the connection (a plain
 * MQTT listener takes the ClientHello for a packet and resets), or answering
 * with what is no TLS record (a WebSocket or HTTP listener's text).
 */
const CUT: [RegExp, string][] = [
  [
    /ECONNRESET|EPIPE|ConnectionReset|UnexpectedEof|BrokenPipe/,
    "the server ended the connection during the TLS handshake: not a TLS listener? (mqtt:// for plain MQTT)",
  ],
  [
    /InvalidContentType|wrong.version.number/i,
    "the server's answer is not TLS: not a TLS listener? (mqtt:// for plain MQTT)",
  ],
];

const EXPLAINED = new WeakSet<object>();

/**
 * Prefixes the message of a TLS failure with what it means and which
 * `ssl_params` key to change (`TLS: … (runtime's message)`); the error stays
 * the runtime's own (its class and `code`). A broker's refusal of our
 * certificate joins `OWN_FAILURES`, as bad credentials: the connection
 * attempt it ends moves on to no other server, and is not retried. Anything
 * else is returned as is.
 *
 * @param e What the runtime threw, or a read failed with.
 * @param where `host:port`, for a failure after the handshake, which the caller's message will
 * not name it in (a read's); none for one in the handshake.
 * @returns `e`.
 */
export function explainTls(e: unknown, where?: string): unknown {
  if (!(e instanceof Error) || EXPLAINED.has(e)) return e;
  const text = `${e.name} ${(e as { code?: unknown }).code ?? ""} ${e.message}`;
  const found = HINTS.find(([re]) => re.test(text)) ??
    (where ? null : CUT.find(([re]) => re.test(text)));
  const [, hint, own] = found ?? [];
  if (hint) {
    EXPLAINED.add(e);
    if (own) OWN_FAILURES.add(e);
    // OpenSSL's own message is a line of internals (file, line, alert number): its reason alone.
    const m = e.message;
    const said = (/:([^:]*alert[^:]*)(:|$)/i.exec(m) ?? /error:\w+:[^:]*:[^:]*:([^:]+)/.exec(m))
      ?.[1] ?? m.trim();
    e.message = `TLS: ${hint} (${where ? `${where}: ` : ""}${said})`;
  }
  return e;
}

/**
 * A plain TCP connection reset before the server sent a byte: a TLS listener
 * takes the CONNECT for a ClientHello and resets, which the runtime reports as
 * a bare "connection reset". Its message then names the server and TLS.
 *
 * @param e What the first read failed with.
 * @param where `host:port`.
 * @returns `e`.
 */
export const explainReset = (e: unknown, where: string): unknown => (
  // A runtime's error; `isReset` reads its name and code.
  isReset(e) &&
  ((e as Error).message =
    `${where} reset the connection before answering CONNECT: a TLS listener? (mqtts:// for TLS) (${
      (e as Error).message
    })`), e
);

/**
 * `ssl_params` the runtime cannot use, found while connecting (a `cert` and
 * `key` that do not match, PEM text holding no certificate or no key), as the
 * `TypeError` a transport refusing its arguments throws: no later attempt
 * would differ, so the robust client does not retry it. Else `e` as is.
 *
 * @param e What the runtime threw.
 * @param always The error is the runtime refusing the parameters, whatever it says.
 * @returns A `TypeError` naming the runtime's complaint, or `e`.
 */
export function refusedParams(e: unknown, always = false): unknown {
  const said = (e as Error)?.message;
  return always || /KeyMismatch|No (certificates|keys) found/.test(said)
    ? new TypeError(`Invalid ssl_params: ${String(said).trim()}`, { cause: e })
    : e;
}
