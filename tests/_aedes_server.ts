/**
 * Runs an aedes broker on a free 127.0.0.1 port until killed, for
 * `tests/_brokers.ts`. Works under Deno (`deno run -A tests/_aedes_server.ts`)
 * and Bun (`bun tests/_aedes_server.ts`).
 *
 * Prints `PORT <n>` on stdout once listening; with an argument, also writes
 * that line to the file it names. The harness reads the file, not stdout,
 * because a pipe read that is pending across tests trips Deno's op sanitizer.
 *
 * @module
 */
import { createServer, type Socket } from "node:net";
import { renameSync, writeFileSync } from "node:fs";
import { Buffer } from "node:buffer";
import process from "node:process";

/** The slice of aedes' API this script uses. */
interface AedesModule {
  Aedes: { createBroker(): Promise<{ handle(socket: Socket): void }> };
}

// Deno needs the npm: prefix; Bun does not understand it, but auto-installs
// a bare specifier, version included. A computed specifier keeps `deno check`
// from trying to resolve the bare one.
const specifier = "Deno" in globalThis ? "npm:aedes@1" : "aedes@1";
const { Aedes } = (await import(specifier)) as AedesModule;
const broker = await Aedes.createBroker();
const server = createServer((socket) => broker.handle(readUntilNull(socket)));
server.listen(0, "127.0.0.1", () => {
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("not a TCP listener");
  const line = `PORT ${address.port}\n`;
  const portFile = process.argv[2];
  // Write to a temp name and rename, so a reader never sees half a line.
  if (portFile) {
    writeFileSync(`${portFile}.tmp`, line);
    renameSync(`${portFile}.tmp`, portFile);
  }
  process.stdout.write(line);
});

/**
 * Works around a Deno 2.9 node:stream bug: a socket whose 'readable' handler
 * calls read() once per event, as aedes does, stops emitting 'readable' once
 * ~64 KiB are buffered, so a packet over ~200 KB never arrives. Reading
 * until null keeps it flowing; Bun does not need this but is not hurt.
 */
function readUntilNull(socket: Socket): Socket {
  const read = socket.read.bind(socket);
  socket.read = (size?: number) => {
    if (size !== undefined && size !== null) return read(size);
    const chunks: Buffer[] = [];
    for (let chunk; (chunk = read()) !== null;) chunks.push(chunk);
    return chunks.length <= 1 ? chunks[0] ?? null : Buffer.concat(chunks);
  };
  return socket;
}
