// `umqtt sub`: connect, subscribe, print each message until -C, -W or
// Ctrl-C; a lost connection is reconnected and reported on stderr.
import { MQTTConnectionError, type SubscribeOptions, topicMatches } from "../../mod.ts";
import { MQTTClient } from "../robust.ts";
import { EXIT, parseSubArgs, type SubArgs } from "./_args.ts";
import {
  connectTo,
  Console,
  disconnectOptions,
  errorMessage,
  exitCode,
  makeClient,
  onInterrupt,
  printOut,
  writeOut,
} from "./_common.ts";
import { type Formatter, formatter } from "./_format.ts";
import { SUB_HELP } from "./_help.ts";
import { concat } from "../_bytes.ts";

/** QoS 0 messages held while printing lags behind, before the oldest are dropped (and counted). */
const QUEUE = 100_000;

/** Most messages printed with one write. */
const BATCH = 256;

/** Why the message loop stopped early. */
class Stop extends Error {
  constructor(readonly code: number, message = "") {
    super(message);
  }
}

/** The client as `sub` uses it: stderr says when the connection drops and comes back. */
class SubClient extends MQTTClient {
  lost = false;
  /** Whether the connection was ever re-established. */
  reconnected = false;
  constructor(readonly con: Console, ...args: ConstructorParameters<typeof MQTTClient>) {
    super(...args);
  }
  /** The error logged last: one lost connection is reported by the client and by wait_msg. */
  #logged: unknown;
  override log(in_reconnect: boolean, e: unknown): void {
    if (e === this.#logged) return;
    this.#logged = e;
    if (!in_reconnect) {
      this.lost = true;
      this.con.error(`${errorMessage(e)}; reconnecting`);
    } else if (this.DEBUG) {
      this.con.error(`reconnect failed: ${errorMessage(e)}`);
    }
  }
  override async reconnect(): Promise<boolean> {
    const session = await super.reconnect();
    if (this.lost) this.con.error(`reconnected to ${this.server}:${this.port}`);
    this.lost = false;
    this.reconnected = true;
    return session;
  }
}

/**
 * The reconnecting client resumes with `connect(false)`, as umqtt.robust
 * does, which leaves a session on the broker; without -c, a clean connect
 * ends it, as if the sub had never reconnected.
 */
async function dropSession(client: SubClient): Promise<void> {
  try {
    await client.connect(true);
  } catch { /* the broker is gone again: nothing to clean */ }
  await client.disconnect().catch(() => {});
}

/** The subscriptions' QoS and, with MQTT 5, their options and -D subscribe's properties. */
function subscribeOptions(o: SubArgs): SubscribeOptions {
  if (o.version === 4) return { qos: o.qos };
  return {
    qos: o.qos,
    ...o.properties.subscribe,
    // As mosquitto_sub: -R asks the broker not to send retained messages at all.
    retainHandling: o.noRetained ? 2 : undefined,
    retainAsPublished: o.retainAsPublished || undefined,
  };
}

/**
 * Runs `umqtt sub` with its arguments (the command name excluded).
 *
 * @returns The exit code.
 */
export async function sub(args: string[]): Promise<number> {
  const con = new Console("sub");
  let o: SubArgs;
  let format: Formatter;
  try {
    o = parseSubArgs(args);
    format = formatter({
      ...o,
      terminal: Deno.stdout.isTerminal(),
      warn: (message) => con.error(message),
    });
  } catch (e) {
    con.error(errorMessage(e));
    return exitCode(e);
  }
  if (o.help) {
    await printOut(SUB_HELP);
    return EXIT.ok;
  }
  con.quiet = o.quiet;

  let stop!: (e: Stop) => void;
  const stopped = new Promise<never>((_, reject) => stop = reject);
  stopped.catch(() => {});
  const race = <T>(p: Promise<T>): Promise<T> => Promise.race([p, stopped]);
  // Ctrl-C or SIGTERM before the broker answered: nothing was done, and mosquitto_sub exits -1.
  let connected = false;
  const stopListening = onInterrupt(() =>
    stop(connected ? new Stop(EXIT.ok) : new Stop(EXIT.error, "interrupted before connecting"))
  );
  let timer: ReturnType<typeof setTimeout> | undefined;
  let client: SubClient | undefined;
  // From the start, connecting included, as mosquitto_sub's alarm: -W bounds the whole run.
  if (o.timeout > 0) {
    timer = setTimeout(() => stop(new Stop(EXIT.timeout, "timed out")), o.timeout * 1000);
  }
  try {
    client = await makeClient(
      class extends SubClient {
        constructor(...args: ConstructorParameters<typeof MQTTClient>) {
          super(con, ...args);
        }
      },
      o,
      con,
      // A burst waits in memory rather than being dropped while stdout catches up.
      { maxQueuedMessages: QUEUE },
    );
    const c = client;
    c.DEBUG = o.debug;
    // Sooner than umqtt.robust's 2 s: a person is watching.
    c.DELAY = 0.5;
    await connectTo(c, !o.persistent, race, o.version);
    connected = true;
    const options = subscribeOptions(o);
    if (o.topics.length > 0) {
      let refused = 0;
      for (const t of o.topics) {
        // One SUBSCRIBE each, as mosquitto_sub does, so a refusal names its filter.
        const granted = await race(
          c.subscribe(t, options).catch((e) => {
            if (e instanceof MQTTConnectionError || e instanceof Stop) throw e;
            con.error(errorMessage(e));
            return 0x80;
          }),
        );
        if (granted === 0x80) refused++;
      }
      if (refused === o.topics.length) throw new Stop(EXIT.error, "every subscription was refused");
    }
    for (const t of o.unsubscribe) await race(c.unsubscribe(t, o.properties.unsubscribe));
    if (o.exitAfterSubscribe) throw new Stop(EXIT.ok);
    let count = 0;
    for (;;) {
      const batch = [await race(c.wait_msg())];
      // Take what else has arrived already and print it in one write: a
      // write per message cannot keep up with a busy topic, and a broker
      // drops QoS 1 messages for a client that falls behind (mosquitto: 1000).
      while (
        batch.length < BATCH && c.connected && (o.count === 0 || count + batch.length < o.count)
      ) {
        const more = await c.check_msg();
        if (!more) break;
        batch.push(more);
      }
      let done: Stop | undefined;
      const out: Uint8Array[] = [];
      for (const msg of batch) {
        // As mosquitto_sub: the first live message ends --retained-only, even on a -T topic.
        if (o.retainedOnly && !msg.retain) {
          done = new Stop(EXIT.ok);
          break;
        }
        if (o.filterOut.some((f) => topicMatches(f, msg.topic))) continue;
        if (o.noRetained && msg.retain) continue;
        out.push(format(msg));
        if (o.removeRetained && msg.retain && msg.payload.length > 0) {
          await race(c.publish(msg.topic, new Uint8Array(0), true, 0));
        }
        if (o.count > 0 && ++count === o.count) {
          done = new Stop(EXIT.ok);
          break;
        }
      }
      await writeOut(out.length === 1 ? out[0] : concat(out));
      if (done) throw done;
    }
  } catch (e) {
    if (!(e instanceof Stop)) {
      // Whoever read our output has gone (`| head -1`): they took what they wanted, and, as
      // mosquitto_sub does, this ends with 0 (a `set -o pipefail` script goes on).
      const gone = e instanceof Deno.errors.BrokenPipe;
      if (!gone) con.error(errorMessage(e));
      await client?.disconnect(disconnectOptions(o)).catch(() => {});
      return gone ? EXIT.ok : exitCode(e);
    }
    if (client && client.droppedMessages > 0) {
      con.error(
        `${client.droppedMessages} QoS 0 messages dropped: they arrived faster than they could be printed`,
      );
    }
    if (e.message) con.error(e.message);
    // DISCONNECT first, so that the broker discards the will (Ctrl-C included).
    await client?.disconnect(disconnectOptions(o)).catch(() => {});
    if (client?.reconnected && !o.persistent) await dropSession(client);
    return e.code;
  } finally {
    clearTimeout(timer);
    stopListening();
  }
}
