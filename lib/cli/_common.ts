// What pub and sub share: making the client from the flags, reporting
// errors as one line and an exit code, stdout, and Ctrl-C.
import {
  type DisconnectOptions,
  type MQTTClient,
  type MQTTClientOptions,
  MQTTConnectionError,
  MQTTException,
  type SslParams,
} from "../../mod.ts";
import { type ConnectionArgs, EXIT, UsageError } from "./_args.ts";
import { debugTransport } from "./_debug.ts";
import { hostPort } from "../transports/endpoint.ts";
import { hasProperties } from "./_props.ts";

/** The command's output channels; stderr lines carry the command's name. */
export class Console {
  readonly #prefix: string;
  quiet = false;

  constructor(readonly command: "pub" | "sub") {
    this.#prefix = `umqtt ${command}: `;
  }

  /** One line on stderr (dropped with --quiet). */
  error(message: string): void {
    if (!this.quiet) console.error(this.#prefix + message.replace(/\s*\n\s*/g, " "));
  }

  /** A -d line on stderr. */
  debug(line: string): void {
    console.error(`${this.#prefix}${line}`);
  }
}

const enc = new TextEncoder();

/** Writes all of `bytes` to stdout. */
export async function writeOut(bytes: Uint8Array): Promise<void> {
  let at = 0;
  while (at < bytes.length) at += await Deno.stdout.write(bytes.subarray(at));
}

/** Writes text to stdout. */
export function printOut(text: string): Promise<void> {
  return writeOut(enc.encode(text));
}

async function readText(flag: string, path: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (e) {
    throw new UsageError(`${flag} ${path}: cannot read it: ${(e as Error).message}`);
  }
}

function randomHex(bytes: number): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(bytes)), (b) => b.toString(16))
    .map((s) => s.padStart(2, "0")).join("");
}

/** A client constructor with the simple client's signature (the simple or the robust one). */
export type ClientClass<C extends MQTTClient> = new (
  client_id: string,
  server: string,
  options: MQTTClientOptions,
) => C;

/**
 * Makes the client the flags describe (nothing is sent yet).
 *
 * @throws {UsageError} An unreadable file, or arguments the library rejects.
 */
export async function makeClient<C extends MQTTClient>(
  Client: ClientClass<C>,
  o: ConnectionArgs,
  con: Console,
  extra: MQTTClientOptions = {},
): Promise<C> {
  const ws = o.scheme === "ws" || o.scheme === "wss";
  const ssl = o.scheme === "mqtts" || o.scheme === "wss" || o.cafile !== undefined;
  const ssl_params: SslParams = {};
  if (o.cafile !== undefined) ssl_params.cadata = await readText("--cafile", o.cafile);
  if (o.cert !== undefined) ssl_params.cert = await readText("--cert", o.cert);
  if (o.key !== undefined) ssl_params.key = await readText("--key", o.key);
  const port = o.port || (ws ? (ssl ? 443 : 80) : ssl ? 8883 : 1883);
  const server = ws ? `${ssl ? "wss" : "ws"}://${hostPort(o.host, port)}${o.wsPath}` : o.host;
  const id = o.id ??
    (o.idPrefix !== undefined
      ? `${o.idPrefix}${Deno.pid}`
      : `umqtt-${con.command}-${randomHex(4)}`);
  const options: MQTTClientOptions = {
    port: ws ? 0 : port,
    user: o.user,
    password: o.password,
    keepalive: o.keepalive,
    ssl,
    ssl_params,
    // Any packet there can be, as mosquitto_sub prints any message (the client's default is 1 MiB).
    maxPacketSize: 268_435_460,
    ...extra,
  };
  if (o.version === 5) {
    options.protocolVersion = 5;
    Object.assign(options, o.properties.connect);
    if (o.sessionExpiry !== undefined) options.sessionExpiryInterval = o.sessionExpiry;
    // mosquitto_pub sends topic aliases only when -D publish topic-alias asks for them.
    options.autoTopicAlias = o.properties.publish.topicAlias !== undefined;
  }
  if (o.debug) {
    options.transport = debugTransport(
      { url: ws ? server : undefined, hostname: o.host, port, ssl, ssl_params },
      o.version,
      (line) => con.debug(line),
    );
  }
  let client: C;
  try {
    client = new Client(id, server, options);
  } catch (e) {
    if (e instanceof TypeError || e instanceof RangeError) throw new UsageError(e.message);
    throw e;
  }
  const topic = o.willTopic;
  if (topic !== undefined) {
    const payload = o.willPayload ?? "";
    const properties = hasProperties(o.properties, "will") ? o.properties.will : undefined;
    // Set a part at a time, so that an error names the flag it came from.
    const steps: [string, () => void][] = [
      ["--will-topic", () => client.set_last_will(topic, "")],
      ["--will-payload", () => client.set_last_will(topic, payload)],
      ["-D will", () =>
        client.set_last_will(topic, payload, {
          retain: o.willRetain,
          qos: o.willQos,
          properties,
        })],
    ];
    for (const [flag, step] of steps) {
      try {
        step();
      } catch (e) {
        throw new UsageError(`${flag}: ${(e as Error).message}`);
      }
    }
  }
  return client;
}

/**
 * MQTT 5 CONNACK reason codes that mean what a 3.1.1 return code means
 * (the MQTT 5.0 spec pairs them, section 3.2.2.2), as that return code.
 */
const V311_CODE: Record<number, number> = {
  0x84: 1, // unsupported protocol version
  0x85: 2, // client identifier not valid
  0x88: 3, // server unavailable
  0x89: 3, // server busy
  0x86: 4, // bad user name or password
  0x87: 5, // not authorized
};

/** The broker refused the connection: its CONNACK's code, and the exit code for it. */
export class Refused extends Error {
  /** 11 to 15 for the 3.1.1 return codes and the MQTT 5 reason codes paired with them, else 10. */
  readonly exit: number;
  constructor(readonly refusal: MQTTException, version: 4 | 5) {
    // The library's hint names its option; here it is -V.
    const m = refusal.message.replace(/protocolVersion: (\d)$/, (_, v) => `-V ${v == 4 ? 311 : 5}`);
    super(version === 4 ? `${m} (CONNACK return code ${refusal.code})` : m);
    this.name = "Refused";
    const code = version === 4 ? refusal.code : V311_CODE[refusal.code] ?? 0;
    this.exit = EXIT.refused + (code >= 1 && code <= 5 ? code : 0);
  }
}

/** `client.connect()`, with a refusal as {@linkcode Refused}. */
export async function connectTo(
  client: MQTTClient,
  clean: boolean,
  race: <T>(p: Promise<T>) => Promise<T>,
  version: 4 | 5,
): Promise<boolean> {
  try {
    return await race(client.connect(clean));
  } catch (e) {
    throw e instanceof MQTTException ? new Refused(e, version) : e;
  }
}

/** With -D disconnect, what the DISCONNECT says (MQTT 5). */
export function disconnectOptions(o: ConnectionArgs): DisconnectOptions | undefined {
  return hasProperties(o.properties, "disconnect") ? o.properties.disconnect : undefined;
}

/** The exit code for an error, per {@linkcode EXIT}. */
export function exitCode(e: unknown): number {
  if (e instanceof UsageError || e instanceof TypeError || e instanceof RangeError) {
    return EXIT.usage;
  }
  if (e instanceof Refused) return e.exit;
  if (e instanceof MQTTException) return EXIT.error;
  if (e instanceof MQTTConnectionError) {
    return /timed out/i.test(e.message) ? EXIT.timeout : EXIT.network;
  }
  return EXIT.error;
}

/** The one-line message for an error. */
export function errorMessage(e: unknown): string {
  if (e instanceof UsageError) return `${e.message} (see --help)`;
  if (e instanceof Error) {
    // The library's connection errors carry the socket's reason in `cause` only sometimes.
    const cause = e.cause instanceof Error && !e.message.includes(e.cause.message)
      ? `: ${e.cause.message}`
      : "";
    return e.message + cause;
  }
  return String(e);
}

/** Calls `fn` on SIGINT or SIGTERM; returns the function that stops listening. */
export function onInterrupt(fn: () => void): () => void {
  const signals: Deno.Signal[] = Deno.build.os === "windows" ? ["SIGINT"] : ["SIGINT", "SIGTERM"];
  for (const s of signals) Deno.addSignalListener(s, fn);
  return () => {
    for (const s of signals) Deno.removeSignalListener(s, fn);
  };
}
