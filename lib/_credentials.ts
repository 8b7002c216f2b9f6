// The credentials of one connection attempt: the user name and password (and
// MQTT 5's first step of enhanced authentication), at once or from the user's
// functions, called for every attempt (rotating tokens, a SCRAM client nonce),
// and what those functions throw, which a later attempt may not meet.
import { checkPassword, type ClientConfig } from "./_client_config.ts";
import { typeName, utf8 } from "./codec/_strings.ts";

type Credentials = {
  user: string | undefined;
  password: Uint8Array | undefined;
  /** MQTT 5: the Authentication Data the authenticationData function gave for this attempt. */
  data?: Uint8Array;
};

/** The credentials of one connection attempt: at once, or once the functions answer. */
export function credentials(c: ClientConfig): Credentials | Promise<Credentials> {
  const { user, password, authenticationData: first } = c;
  if (typeof user !== "function" && typeof password !== "function" && !first) {
    return { user, password };
  }
  return (async () => {
    let u = user;
    if (typeof u === "function") {
      u = await fetched(u);
      if (typeof u !== "string") throw returned("user", u, "a string");
      utf8(u, "user");
    }
    const pass = typeof password === "function" ? checkPassword(await fetched(password)) : password;
    const data = first && await fetched(first);
    if (first && !(data instanceof Uint8Array)) {
      throw returned("authenticationData", data, "a Uint8Array");
    }
    return { user: u, password: pass, data };
  })();
}

/** The error for what the `name` function returned, `v`, that is not `expected`. */
const returned = (name: string, v: unknown, expected: string) =>
  new TypeError(`Invalid ${name}: the ${name} function returned ${typeName(v)}, not ${expected}`);

/**
 * Errors thrown by the user's credential functions (a token service that
 * is down, say): not the server's doing nor a refusal, so a later attempt
 * may succeed, and the robust client goes on trying.
 */
export const CREDENTIAL_FAILURES: WeakSet<object> = new WeakSet();

/**
 * Whether an attempt failed with what a credential function threw: one it
 * marked, or a primitive (`throw "down"`), which no WeakSet holds and
 * nothing else in an attempt throws (the connection wraps the rest).
 */
export function credentialFailure(e: unknown): boolean {
  return Object(e) !== e || CREDENTIAL_FAILURES.has(e as object);
}

/** What a credential function gives; what it throws is marked as its. */
async function fetched<T>(f: () => T | Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    if (Object(e) === e) CREDENTIAL_FAILURES.add(e as object);
    throw e;
  }
}
