// A Cloudflare Worker for tests/runtimes/cloudflare/worker.node.mjs, run in
// workerd by miniflare. run.ts bundles it three ways: the TypeScript source
// (esbuild, "@umqtt/umqtt" aliased to mod.ts), and, in a fresh app that
// installed the packed npm package, as wrangler does (`wrangler deploy
// --dry-run`, with wrangler.json) and with the Cloudflare Vite plugin. The
// broker is mosquitto on 127.0.0.1; `port` comes in each request's query.
//   GET /publish?port=&topic=&n=   publishes n QoS 1 messages, one connection
//   GET /subscribe?port=&topic=&n= subscribes to topic/#, announces itself on
//                                  topic-ready, returns the n messages it got
//   GET /smoke?port=               the smoke scenario, inside the Worker
// No transport option anywhere: the default connector must find
// cloudflare:sockets on its own.
import { MQTTClient } from "@umqtt/umqtt";
import { smoke } from "../_smoke.mjs";

const text = (b: Uint8Array) => new TextDecoder().decode(b);

export default {
  async fetch(request: Request): Promise<Response> {
    const q = new URL(request.url).searchParams;
    const server = `mqtt://127.0.0.1:${q.get("port")}`;
    const topic = q.get("topic") ?? "";
    const n = Number(q.get("n") ?? 1);
    try {
      switch (new URL(request.url).pathname) {
        case "/publish": {
          const client = new MQTTClient(`w-pub-${topic}`.slice(0, 23), server);
          await client.connect();
          for (let i = 0; i < n; i++) {
            await client.publish(
              `${topic}/${i}`,
              `from a Worker ${i}`,
              false,
              1,
            );
          }
          await client.disconnect();
          return Response.json({ published: n });
        }
        case "/subscribe": {
          const client = new MQTTClient(`w-sub-${topic}`.slice(0, 23), server);
          await client.connect();
          await client.subscribe(`${topic}/#`, 1);
          await client.publish(`${topic}-ready`, "subscribed", false, 1);
          const got: string[] = [];
          while (got.length < n) {
            const msg = await client.wait_msg();
            got.push(`${msg.topic} ${text(msg.payload)}`);
          }
          await client.disconnect();
          return Response.json({ received: got });
        }
        case "/smoke":
          return Response.json(await smoke((id) => new MQTTClient(id, server)));
      }
      return new Response("not found", { status: 404 });
    } catch (e) {
      return Response.json({ error: String((e as Error)?.stack ?? e) }, {
        status: 500,
      });
    }
  },
};
