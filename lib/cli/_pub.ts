// `umqtt pub`: connect, publish one message (or one per stdin line), wait
// for the acknowledgements, disconnect.
import { MQTTClient, type PublishOptions } from "../../mod.ts";
import { EXIT, parsePubArgs, type PubArgs, UsageError } from "./_args.ts";
import {
  connectTo,
  Console,
  disconnectOptions,
  errorMessage,
  exitCode,
  makeClient,
  onInterrupt,
  printOut,
} from "./_common.ts";
import { PUB_HELP } from "./_help.ts";

/** Thrown into the pending await when Ctrl-C arrives. */
class Interrupted extends Error {}

/** QoS 1/2 publishes from -l awaiting their acks at once; more wait for the oldest. */
const WINDOW = 64;

async function readAll(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** Lines of a byte stream, without their "\n"; a last line without one counts too. */
async function* lines(stream: ReadableStream<Uint8Array>): AsyncGenerator<Uint8Array> {
  let buf = new Uint8Array(0);
  for await (const chunk of stream) {
    const joined = new Uint8Array(buf.length + chunk.length);
    joined.set(buf);
    joined.set(chunk, buf.length);
    let start = 0;
    for (let nl = joined.indexOf(10); nl !== -1; nl = joined.indexOf(10, start)) {
      yield joined.slice(start, nl);
      start = nl + 1;
    }
    buf = joined.slice(start);
  }
  if (buf.length > 0) yield buf;
}

async function payloadOf(o: PubArgs): Promise<string | Uint8Array> {
  const s = o.source!;
  switch (s.kind) {
    case "message":
      return s.text;
    case "null":
      return new Uint8Array(0);
    case "stdin": {
      const all = await readAll(Deno.stdin.readable);
      // As mosquitto_pub ("Zero length input", exit 1): an empty message, which with -r would
      // delete the retained one, is asked for with -n, not by a producer that wrote nothing.
      if (all.length === 0) {
        throw new Error("-s: stdin is empty (zero-length input); -n publishes an empty message");
      }
      return all;
    }
    case "file":
      try {
        return await Deno.readFile(s.path);
      } catch (e) {
        throw new UsageError(`-f ${s.path}: cannot read it: ${(e as Error).message}`);
      }
    case "lines":
      throw new Error("unreachable: -l is read line by line");
  }
}

/** QoS, retain and, with -D publish, the MQTT 5 properties of each message. */
function publishOptions(o: PubArgs): PublishOptions {
  // The client numbers topic aliases itself (autoTopicAlias): -D publish topic-alias only turns it on.
  const { topicAlias: _, ...properties } = o.properties.publish;
  return {
    qos: o.qos,
    retain: o.retain,
    properties: Object.keys(properties).length > 0 ? properties : undefined,
  };
}

/**
 * Runs `umqtt pub` with its arguments (the command name excluded).
 *
 * @returns The exit code.
 */
export async function pub(args: string[]): Promise<number> {
  const con = new Console("pub");
  let o: PubArgs;
  try {
    o = parsePubArgs(args);
  } catch (e) {
    con.error(errorMessage(e));
    return exitCode(e);
  }
  if (o.help) {
    await printOut(PUB_HELP);
    return EXIT.ok;
  }
  con.quiet = o.quiet;

  let interrupt!: (e: Interrupted) => void;
  const interrupted = new Promise<never>((_, reject) => interrupt = reject);
  interrupted.catch(() => {});
  const race = <T>(p: Promise<T>): Promise<T> => Promise.race([p, interrupted]);
  const stopListening = onInterrupt(() => interrupt(new Interrupted()));
  let client: MQTTClient | undefined;
  // Whether -m, -f, -s or -n's message went out (acknowledged, at QoS 1 and 2) every time asked.
  let published = false;
  try {
    // A message from a file or stdin is read before connecting, so a bad path costs no connection.
    const payload = o.source!.kind === "lines" ? undefined : await race(payloadOf(o));
    client = await makeClient(MQTTClient, o, con);
    await connectTo(client, !o.persistent, race, o.version);
    const c = client;
    const topic = o.topic!;
    const options = publishOptions(o);
    if (payload !== undefined) {
      for (let i = 0; i < o.repeat; i++) {
        if (i > 0 && o.repeatDelay > 0) {
          await race(new Promise((r) => setTimeout(r, o.repeatDelay * 1000)));
        }
        await race(c.publish(topic, payload, options));
      }
      published = true;
    } else {
      const pending: Promise<void>[] = [];
      const input = lines(Deno.stdin.readable);
      for (;;) {
        const next = await race(input.next());
        if (next.done) break;
        // A blank line is an empty message, as mosquitto_pub 2.0 publishes it.
        const published = c.publish(topic, next.value, options);
        // Awaited below; until then a rejection must not count as unhandled.
        published.catch(() => {});
        pending.push(published);
        if (pending.length >= WINDOW) await race(pending.shift()!);
      }
      await race(Promise.all(pending));
    }
    await client.disconnect(disconnectOptions(o));
    return EXIT.ok;
  } catch (e) {
    if (e instanceof Interrupted) {
      // Ctrl-C: DISCONNECT, so that the broker discards the will.
      await client?.disconnect(disconnectOptions(o));
      // Ctrl-C ends -l's input; any other message it cut short is not published: a script
      // (`timeout 5 umqtt pub …`) must not take that for success, nor does mosquitto_pub's exit.
      if (o.source!.kind === "lines" || published) return EXIT.ok;
      con.error("interrupted before the message was published");
      return EXIT.error;
    }
    con.error(errorMessage(e));
    await client?.disconnect(disconnectOptions(o)).catch(() => {});
    return exitCode(e);
  } finally {
    stopListening();
  }
}
