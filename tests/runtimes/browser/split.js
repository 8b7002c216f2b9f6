// A page whose bundle is split (esbuild --splitting, as Vite splits an app): the library's
// WebSocket transport is then a chunk of its own, which the browser fetches at the first
// connect(). browser.node.mjs makes that fetch fail once, as a flaky network would: the robust
// client must take it as a failed attempt and try again, not as a mistake of its own that ends
// reconnect() for good.
import { MQTTClient } from "@umqtt/umqtt/robust";

/** Runs the robust client's reconnect() to `url`; resolves with what happened. */
globalThis.reconnect = async (url) => {
  const id = `split-${Math.random().toString(16).slice(2, 10)}`;
  const c = new MQTTClient(id, url, { connectTimeout: 5000 });
  c.DELAY = 0.05;
  const failed = [];
  c.addEventListener("reconnecting", (e) => {
    if (e.detail.error) {
      failed.push(`${e.detail.error.name}: ${e.detail.error.message}`);
    }
  });
  try {
    await c.reconnect();
    const connected = c.connected;
    await c.disconnect();
    return { connected, failed };
  } catch (e) {
    return { connected: false, failed, error: `${e?.name}: ${e?.message}` };
  }
};
