/**
 * `umqtt pub` and `umqtt sub`: a command-line MQTT client with
 * mosquitto_pub/mosquitto_sub's flags, runnable with no install wherever
 * Deno runs. `--help` on each command lists the flags and exit codes.
 *
 * @example Watch a topic tree, then publish to it
 * ```sh
 * deno run -A jsr:@umqtt/umqtt/cli sub -t 'sensors/#' -v
 * deno run -A jsr:@umqtt/umqtt/cli pub -t sensors/kitchen/temp -m 21.5 -q 1
 * ```
 *
 * @example From a program
 * ```ts ignore
 * import { main } from "@umqtt/umqtt/cli";
 * const code = await main(["pub", "-t", "a/b", "-m", "hello"]);
 * ```
 *
 * @module
 */
import { EXIT } from "./_args.ts";
import { pub } from "./_pub.ts";
import { sub } from "./_sub.ts";

const USAGE = `umqtt: an MQTT 3.1.1 and MQTT 5 command-line client.

Usage:
  umqtt pub {-t topic | -L URL/topic} {-m message | -f file | -s | -l | -n} [options]
  umqtt sub {-t filter ... | -L URL/filter} [options]

  umqtt pub --help     the publishing flags, exit codes, examples
  umqtt sub --help     the subscribing flags, output formats, examples

Run with: deno run -A jsr:@umqtt/umqtt/cli <command> ...
`;

/**
 * Runs the command line: `pub …` or `sub …`. Writes to stdout and stderr and
 * listens for Ctrl-C while it runs; does not exit the process.
 *
 * @param args The arguments, command first (`["sub", "-t", "a/#", "-v"]`).
 * @returns The exit code: 0 ok, 1 other error, 2 bad arguments, 3 network,
 * 4 timeout, 10 + the CONNACK return code when the broker refused (MQTT 5:
 * 11–15 for a reason code that stands for one, 10 for the others).
 *
 * @example
 * ```ts ignore
 * import { main } from "@umqtt/umqtt/cli";
 * Deno.exitCode = await main(["sub", "-t", "sensors/#", "-C", "1"]);
 * ```
 */
export async function main(args: string[]): Promise<number> {
  const [command, ...rest] = args;
  if (command === "pub") return await pub(rest);
  if (command === "sub") return await sub(rest);
  if (command === undefined || command === "--help" || command === "-h" || command === "help") {
    (command === undefined ? console.error : console.log)(USAGE.trimEnd());
    return command === undefined ? EXIT.usage : EXIT.ok;
  }
  console.error(`umqtt: unknown command "${command}": expected pub or sub (see umqtt --help)`);
  return EXIT.usage;
}

if (import.meta.main) {
  // Let the event loop drain rather than Deno.exit() at once, so that nothing
  // still in progress is cut (disconnect() itself waits for its transport to
  // close). An unref'd timer ends the process anyway if something, like a
  // stdin read left pending by Ctrl-C, would keep it alive.
  Deno.exitCode = await main(Deno.args);
  Deno.unrefTimer(setTimeout(() => Deno.exit(), 1000));
}
