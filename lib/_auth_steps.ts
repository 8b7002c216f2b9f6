// MQTT 5 enhanced authentication on one connection: `onAuth` asked for each
// step the broker's AUTH 0x18 asks for, one at a time, its answers in order
// (the connection writes them and gives up an exchange; `_auth.ts` checks
// what comes and what `onAuth` answers).
import type { AuthChallenge, AuthHandler } from "./options.ts";
import { notAnAnswer } from "./_auth.ts";

// No answer under way: one settled promise for every connection.
const DONE: Promise<unknown> = Promise.resolve();

/**
 * `onAuth`'s answers to the broker's challenges in one exchange. The
 * connection drops it when the exchange is over (or a connection starts): an
 * `onAuth` still working then answers nothing, nor holds up a later exchange.
 */
export class AuthSteps {
  // The answers under way, each after the one before; DONE when none.
  #chain: Promise<unknown> = DONE;
  // A challenge of the exchange under way has no answer yet.
  #waiting = false;

  /**
   * What the error of an exchange that timed out adds while `onAuth` has not
   * answered (else nothing): without it, "no CONNACK" blames the broker.
   */
  get unanswered(): string {
    return this.#waiting ? ": onAuth had not answered the broker's AUTH" : "";
  }

  /**
   * Asks `onAuth` for the answer to `challenge` once the answers before it
   * are out: `onAuth` never runs twice at once, its answers never go swapped.
   *
   * @param live Whether the exchange still stands: once the broker has ended
   * it, an answer would be out of turn and a failure moot.
   * @param send Writes the answer (what it throws gives the exchange up).
   * @param giveUp Gives the exchange up, saying why.
   */
  ask(
    onAuth: AuthHandler,
    challenge: AuthChallenge,
    live: () => boolean,
    send: (data: Uint8Array) => void,
    giveUp: (why: string, cause: unknown) => void,
  ): void {
    this.#waiting = true;
    const step: Promise<unknown> = this.#chain = this.#chain
      .then(() => live() ? onAuth(challenge) : undefined)
      .then((data) => {
        if (!live()) return;
        const wrong = notAnAnswer(data);
        if (wrong) return giveUp(wrong, new TypeError(wrong));
        send(data!);
      }, (e) => giveUp(`onAuth threw ${e?.message ?? e}`, e))
      .catch((e) => giveUp(`its AUTH cannot be sent: ${e?.message ?? e}`, e))
      // Answered, or given up: unless another challenge came meanwhile.
      .then(() => this.#waiting &&= this.#chain !== step);
  }
}
