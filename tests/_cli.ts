// Running `umqtt pub` / `umqtt sub` as subprocesses (`deno run -A lib/cli/mod.ts`)
// for the CLI tests: a child whose stderr can be waited on, and helpers.
import type { Broker } from "./_brokers.ts";
import { withTimeout } from "./_test.ts";

/** The CLI's entry point. */
export const ENTRY = new URL("../lib/cli/mod.ts", import.meta.url).pathname;
const enc = new TextEncoder();
const dec = new TextDecoder();

/** How a command ended: exit code, stdout bytes, stderr text. */
export interface Result {
  code: number;
  stdout: Uint8Array;
  stderr: string;
}

/** A running command: its stderr so far, and a way to wait for a line in it. */
export class Running {
  stderr = "";
  readonly #child: Deno.ChildProcess;
  readonly #stdout: Promise<Uint8Array>;
  readonly #pump: Promise<void>;
  #waiters: { re: RegExp; resolve: () => void }[] = [];

  /** The child's stdin, when the test keeps it open to write as it goes. */
  stdin?: WritableStreamDefaultWriter<Uint8Array>;

  constructor(child: Deno.ChildProcess) {
    this.#child = child;
    this.#stdout = new Response(child.stdout).arrayBuffer().then((b) => new Uint8Array(b));
    this.#pump = (async () => {
      for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
        this.stderr += chunk;
        this.#waiters = this.#waiters.filter((w) => w.re.test(this.stderr) ? w.resolve() : true);
      }
    })();
  }

  /** Resolves once stderr matches `re` (bounded, so a hang fails with what was printed). */
  waitFor(re: RegExp, ms = 15000): Promise<void> {
    if (re.test(this.stderr)) return Promise.resolve();
    const seen = new Promise<void>((resolve) => this.#waiters.push({ re, resolve }));
    return withTimeout(seen, ms, `${re} on stderr; got: ${this.stderr}`);
  }

  kill(signal: Deno.Signal): void {
    this.#child.kill(signal);
  }

  async result(ms = 20000): Promise<Result> {
    await this.stdin?.close().catch(() => {});
    const { code } = await withTimeout(this.#child.status, ms, `exit; stderr: ${this.stderr}`);
    const [stdout] = await Promise.all([this.#stdout, this.#pump]);
    return { code, stdout, stderr: this.stderr };
  }
}

/**
 * Runs the CLI; `stdin` is written and closed, or with "open" left to the test. `env` is added to
 * the environment (`TZ`, say).
 */
export function spawnCli(
  args: string[],
  stdin?: string | Uint8Array | "open",
  env?: Record<string, string>,
): Running {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", ENTRY, ...args],
    env,
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const running = new Running(child);
  if (stdin !== undefined) {
    const w = child.stdin.getWriter();
    if (stdin === "open") running.stdin = w;
    else void w.write(typeof stdin === "string" ? enc.encode(stdin) : stdin).then(() => w.close());
  }
  return running;
}

/** Runs the CLI to its end. */
export function cli(args: string[], stdin?: string | Uint8Array): Promise<Result> {
  return spawnCli(args, stdin).result();
}

/** `-h` and `-p` for a broker. */
export function at(b: Broker): string[] {
  return ["-h", b.host, "-p", String(b.port)];
}

/** Starts `sub` with -d and waits for its SUBACK, so that what is published next reaches it. */
export async function subscribed(args: string[], env?: Record<string, string>): Promise<Running> {
  const sub = spawnCli(["sub", "-d", ...args], undefined, env);
  await sub.waitFor(/<- SUBACK/);
  return sub;
}

/** Runs another program (mosquitto_pub, say) to its end. */
export async function run(cmd: string, args: string[]): Promise<Result> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  return { code: out.code, stdout: out.stdout, stderr: dec.decode(out.stderr) };
}

/**
 * Runs `fn` with the port of a broker that takes connections and never
 * answers (no CONNACK), closing it and them after.
 */
export async function withSilentBroker(fn: (port: string) => Promise<void>): Promise<void> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const c of listener) conns.push(c);
  })();
  try {
    await fn(String(listener.addr.port));
  } finally {
    listener.close();
    await accepting.catch(() => {});
    for (const c of conns) c.close();
  }
}
