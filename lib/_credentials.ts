// The credentials of one connection attempt: the user name and password, at
// once or from the user's functions, called for every attempt (rotating
// tokens), and what those functions throw, which a later attempt may not meet.
import { checkPassword, type ClientConfig } from "./options.ts";
import { utf8 } from "./codec/_strings.ts";

type Credentials = { user: string | undefined; password: Uint8Array | undefined };

/** The user name and password for one connection attempt: at once, or once the functions answer. */
export function credentials(c: ClientConfig): Credentials | Promise<Credentials> {
  const { user, password } = c;
  if (typeof user !== "function" && typeof password !== "function") return { user, password };
  return (async () => {
    let u = user;
    if (typeof u === "function") {
      u = await fetched(u);
      if (typeof u !== "string") {
        throw new TypeError(`Invalid user: the user function returned ${typeof u}, not a string`);
      }
      utf8(u, "user");
    }
    return {
      user: u,
      password: typeof password === "function" ? checkPassword(await fetched(password)) : password,
    };
  })();
}

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
