/**
 * A Cloudflare Worker that publishes each request's body to MQTT, and a cron
 * trigger that listens for a few seconds and logs what arrived. Workers open
 * TCP with `cloudflare:sockets` (any port but 25); a connection lives as
 * long as the request or scheduled run that opened it.
 *
 *     npx -y deno@2 task build:npm && cd examples/worker && npm install
 *     npx wrangler dev        # then: curl -d 21.5 localhost:8787/sensors/kitchen
 *
 * wrangler needs Node 22 or later (under Node 20 it stops: "Wrangler requires
 * at least Node.js v22.0.0").
 *
 * Set BROKER in wrangler.toml to your broker (`mqtts://` for TLS, which uses
 * `secureTransport: "on"` and the public CAs).
 *
 * @module
 */
import { MQTTClient, validateTopicName } from "@umqtt/umqtt";

interface Env {
  BROKER: string;
}

export default {
  /** POST /some/topic with a body: publishes it at QoS 1, answers once the broker has it. */
  async fetch(request: Request, env: Env): Promise<Response> {
    if (request.method !== "POST") {
      return new Response("POST a body to /some/topic\n", {
        status: 405,
        headers: { allow: "POST" },
      });
    }
    let topic;
    try {
      // The path comes percent-encoded: /home/living%20room is "home/living room".
      topic = decodeURIComponent(new URL(request.url).pathname.slice(1)) || "umqtt/worker";
      validateTopicName(topic); // a TypeError saying why, before any connection
    } catch (e) {
      return new Response(`${e}\n`, { status: 400 });
    }
    const client = new MQTTClient(`worker-${crypto.randomUUID().slice(0, 8)}`, env.BROKER);
    await client.connect();
    try {
      await client.publish(topic, new Uint8Array(await request.arrayBuffer()), false, 1);
    } finally {
      await client.disconnect();
    }
    return new Response(`published to ${topic}\n`);
  },

  /** Cron: a short-lived subscriber, bounded in time, as a scheduled run must be. */
  async scheduled(_event: unknown, env: Env): Promise<void> {
    const client = new MQTTClient(`cron-${crypto.randomUUID().slice(0, 8)}`, env.BROKER);
    await client.connect();
    await client.subscribe("sensors/#", 0);
    const until = Date.now() + 5_000;
    while (Date.now() < until) {
      const msg = await client.check_msg();
      if (msg) console.log(msg.topic, new TextDecoder().decode(msg.payload));
      else await new Promise((r) => setTimeout(r, 100));
    }
    await client.disconnect();
  },
};
