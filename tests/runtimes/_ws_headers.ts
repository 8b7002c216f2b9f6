// The check that the WebSocket adapter's extra headers reach the handshake,
// shared by the Deno and Bun smoke files (each runtime's global WebSocket).
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { connectWebSocket } from "../../lib/transports/websocket.ts";

/**
 * Opens the adapter with an extra header against a bare HTTP server that
 * records the upgrade request and drops it; asserts that the header and the
 * `mqtt` subprotocol arrived.
 */
export async function assertHeadersReachHandshake(): Promise<void> {
  const server = createServer();
  const seen = new Promise<unknown>((resolve) =>
    server.once("upgrade", (req, socket) => {
      resolve([req.headers["x-umqtt-test"], req.headers["sec-websocket-protocol"]]);
      socket.destroy();
    })
  );
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as { port: number };
  const opened = connectWebSocket(`ws://127.0.0.1:${port}/mqtt`, {
    headers: { "x-umqtt-test": "yes" },
  });
  await assert.rejects(opened, /WebSocket/);
  assert.deepEqual(await seen, ["yes", "mqtt"]);
  await new Promise((r) => server.close(r));
}
