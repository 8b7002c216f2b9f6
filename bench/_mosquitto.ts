// A mosquitto for the benchmark: its own config on a free loopback port,
// with no queue or in-flight limits so that the broker never drops or
// throttles what the contenders send.
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A running benchmark broker. */
export interface BenchBroker {
  port: number;
  version: string;
  /**
   * CPU time mosquitto has used so far, user and system, in µs (Linux:
   * `/proc/<pid>/stat`, in clock ticks of 10 ms); undefined elsewhere.
   */
  cpuMicros(): number | undefined;
  stop(): Promise<void>;
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** Path of mosquitto, or undefined. */
export function mosquittoBinary(): string | undefined {
  const dirs = ["/usr/sbin", "/usr/local/sbin", ...(Deno.env.get("PATH") ?? "").split(":")];
  return dirs.map((d) => join(d, "mosquitto")).find((p) => existsSync(p));
}

/** Starts mosquitto and waits until it accepts connections. */
export async function startBroker(): Promise<BenchBroker> {
  const bin = mosquittoBinary();
  if (!bin) {
    throw new Error(
      "mosquitto is not installed: apt-get install -y mosquitto (or brew install mosquitto), then run again",
    );
  }
  const dir = mkdtempSync(join(tmpdir(), "umqtt-bench-"));
  chmodSync(dir, 0o777); // mosquitto drops to its own user when started as root
  const port = freePort();
  const conf = join(dir, "mosquitto.conf");
  writeFileSync(
    conf,
    [
      `listener ${port} 127.0.0.1`,
      "allow_anonymous true",
      "max_queued_messages 0",
      "max_inflight_messages 0",
      "persistence false",
      "log_dest none",
      "",
    ].join("\n"),
  );
  chmodSync(conf, 0o644);
  const version = new TextDecoder().decode(
    (await new Deno.Command(bin, { args: ["-h"], stdout: "piped", stderr: "null" }).output())
      .stdout,
  ).match(/version ([\d.]+)/)?.[1] ?? "?";
  const child = new Deno.Command(bin, {
    args: ["-c", conf],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  for (let i = 0;; i++) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      break;
    } catch (e) {
      if (i > 100) throw e;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return {
    port,
    version,
    cpuMicros() {
      try {
        // Fields after the command's closing parenthesis: utime and stime are the 12th and 13th.
        const stat = Deno.readTextFileSync(`/proc/${child.pid}/stat`);
        const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
        return (Number(f[11]) + Number(f[12])) * 10_000;
      } catch {
        return undefined;
      }
    },
    async stop() {
      try {
        child.kill("SIGKILL");
      } catch { /* gone */ }
      await child.status;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Bytes per TCP segment that the broker on `port` sent on the connection of
 * those still open that sent at least `minBytes` and sent last: the
 * subscriber's, read before it closes. Nagle's algorithm, on in mosquitto,
 * cuts a QoS 0 stream either into segments of ~32 KB or into ones of a few
 * hundred bytes, and the second costs the broker a fifth more CPU per
 * message. Linux only (`ss -ti`); undefined elsewhere.
 */
export function segmentSize(port: number, minBytes: number): number | undefined {
  let out: string;
  try {
    out = new TextDecoder().decode(
      new Deno.Command("ss", {
        args: ["-tinH", "state", "established", `( sport = :${port} )`],
        stdout: "piped",
        stderr: "null",
      }).outputSync().stdout,
    );
  } catch {
    return undefined;
  }
  let best: { size: number; last: number } | undefined;
  for (const line of out.split("\n")) {
    const sent = Number(line.match(/bytes_sent:(\d+)/)?.[1] ?? 0);
    const segs = Number(line.match(/data_segs_out:(\d+)/)?.[1] ?? 0);
    const last = Number(line.match(/lastsnd:(\d+)/)?.[1] ?? Infinity);
    if (sent >= minBytes && segs > 0 && (!best || last < best.last)) {
      best = { size: sent / segs, last };
    }
  }
  return best?.size;
}
