/**
 * Instructions per message, for a machine too loaded (or too virtual, with no
 * hardware counters: `perf stat -e instructions` says `<not supported>`) for
 * the timed bench to mean much. Counts with valgrind's callgrind the
 * instructions a Deno process runs to do a workload of bench/_workloads.ts
 * `small` and then `large` times against a fresh mosquitto, and prints
 * (large − small) / (large − small messages): the per-message cost, start-up
 * and tear-down cancelled out.
 *
 * ```sh
 * deno run -A bench/instructions.ts qos1seq umqtt 2500 4500 [repeats]
 * deno run -A bench/instructions.ts qos0e2e raw 6000 12000
 * ```
 *
 * V8 runs with `--predictable` (single-threaded: code compiled on the main
 * thread, a GC schedule of its own): without it, how soon background
 * compilation finishes on a loaded machine decides how many messages run in
 * slower tiers, and two counts of one program differed by a fifth. With it,
 * counts repeat far better but not exactly: two runs of 2500 QoS 1 messages
 * agreed to 253 instructions, two of 4500 differed by 0.9% (3 k instructions
 * per message over a difference of 2000 messages). Repeat, and take a change
 * under that for noise. A run's first count after its sources change includes
 * compiling them anew (Deno's code cache), and came out far off: discard it.
 * Under valgrind a run is ~50× slower, so timing-driven paths (the reader's
 * gathering, see lib/_channel.ts) may go otherwise than at full speed; and a
 * small `small` counts the optimizing compiler's work towards the messages.
 *
 * With `--run`, it is the measured process: runs one workload once.
 *
 * @module
 */
import { startBroker } from "./_mosquitto.ts";
import { qos0e2e, qos1pipe, qos1seq, type Workload } from "./_workloads.ts";

const WORKLOADS: Record<string, Record<string, Workload>> = { qos0e2e, qos1seq, qos1pipe };

async function runOnce(workload: string, contender: string, n: number): Promise<void> {
  const w = WORKLOADS[workload]?.[contender];
  if (!w) throw new Error(`no workload ${workload} for ${contender}`);
  const broker = await startBroker();
  try {
    const p = await w({ port: broker.port, n, id: crypto.randomUUID().slice(0, 8) });
    await p.run();
    await p.close();
  } finally {
    await broker.stop();
  }
}

async function count(workload: string, contender: string, n: number): Promise<number> {
  const out = await new Deno.Command("valgrind", {
    args: [
      "--tool=callgrind",
      "--callgrind-out-file=/dev/null",
      "--smc-check=all-non-file",
      Deno.execPath(),
      "run",
      "-A",
      "--v8-flags=--predictable",
      new URL(import.meta.url).pathname,
      "--run",
      workload,
      contender,
      String(n),
    ],
    stdout: "null",
    stderr: "piped",
  }).output();
  const log = new TextDecoder().decode(out.stderr);
  const ir = log.match(/Collected : (\d+)/)?.[1];
  if (!out.success || !ir) throw new Error(`valgrind failed:\n${log.slice(-2000)}`);
  return Number(ir);
}

if (Deno.args[0] === "--run") {
  const [, workload, contender, n] = Deno.args;
  await runOnce(workload, contender, Number(n));
} else {
  const [workload = "qos1seq", contender = "umqtt", small = "2500", large = "4500", times = "1"] =
    Deno.args;
  for (let i = 0; i < Number(times); i++) {
    const a = await count(workload, contender, Number(small));
    const b = await count(workload, contender, Number(large));
    const per = (b - a) / (Number(large) - Number(small));
    console.log(
      `${workload} ${contender}: ${Math.round(per)} instructions per message (${a}, ${b})`,
    );
  }
}
