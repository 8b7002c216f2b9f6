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
//   GET /across?port=&topic=&step= a client kept across requests (a module's
//                                  variable): step 1 connects and publishes,
//                                  step 2 finds the connection is request 1's
//                                  (workerd lets no request use another's
//                                  I/O), then connects anew and publishes;
//                                  step=connect only connects and publishes
//   GET /robust?port=&topic=&i=&signal=  a reconnecting client per request,
//                                  publishing while it connects (the offline
//                                  path), in every request of the isolate;
//                                  signal=1 gives it an AbortSignal
//   GET /robust-across?port=&topic=&step=  the reconnecting client kept
//                                  across requests: it reconnects in each
//   GET /stranded?port=&topic=&step=&robust=  a client kept across requests
//                                  whose connect() (step 1), or whose
//                                  reconnect loop (step 2, publishing while
//                                  the broker is away), its request left
//                                  unfinished: the next requests connect and
//                                  publish (workerd never runs an ended
//                                  request's timers and sockets again)
//   GET /shared?port=&topic=&i=    one reconnecting client kept across
//                                  requests that run at once, each
//                                  publishing 3 messages on it
//   GET /beside?port=&topic=&step= a client kept across requests that run at
//                                  once: step=owner connects, announces itself
//                                  on topic/ready and waits for topic/go, then
//                                  publishes; step=other reads `connected` and
//                                  publishes while the owner waits, and must
//                                  leave the owner's connection alone
//   GET /ws?url=&topic=            MQTT over WebSocket with workerd's own
//                                  WebSocket: publishes, then asks for
//                                  handshake headers, which it cannot send
//   GET /forget?port=&topic=&later=  connects with a will, publishes and
//                                  returns: without disconnect() (the will
//                                  goes), or with ctx.waitUntil(disconnect())
//                                  when later=1 (it does not)
//   GET /do?port=&topic=&step=&robust=&n=  one client kept in a Durable
//                                  Object (binding HOLDER, class Holder), the
//                                  pattern the README gives: step=connect
//                                  connects (keepalive 1 s, connect(false)),
//                                  subscribes to topic/in and publishes
//                                  topic/up on each connection, also those
//                                  made between requests; step=poll, a later
//                                  request, takes n messages that came
//                                  between requests and publishes; then
//                                  step=disconnect
//   GET /cadata?port=              ssl_params workerd cannot take: refused,
//                                  and the reconnecting client does not retry
//   GET /tls?port=                 a TLS broker whose CA workerd does not trust
//   GET /tls-silent?port=          a server that takes TCP and never answers
//                                  the TLS handshake: connectTimeout, the
//                                  connect signal and disconnect() end it
// scheduled() publishes "cron" to <cron>/scheduled (the test's cron string is
// a topic), queue() each message's body.text to its body.topic, one
// connection per batch; both reach mosquitto on env.UMQTT_PORT.
// No transport option anywhere: the default connector must find
// cloudflare:sockets on its own. A reconnecting client is made in the
// module's top level, as the simple one can be: workerd allows no
// AbortController there.
import { MQTTClient } from "@umqtt/umqtt";
import { MQTTClient as RobustClient } from "@umqtt/umqtt/robust";
import { connectWebSocket } from "@umqtt/umqtt/websocket";
import { smoke } from "../_smoke.mjs";

const text = (b: Uint8Array) => new TextDecoder().decode(b);
const early = new RobustClient("w-early", "mqtt://127.0.0.1:1883");
let kept: MQTTClient | undefined;
let keptRobust: RobustClient | undefined;
let stranded: MQTTClient | undefined;
let beside: MQTTClient | undefined;
const shared = new Map<string, RobustClient>();

/** What a call that must fail at once failed with, or that it did not. */
async function failure(call: () => Promise<unknown>, ms = 2000): Promise<string> {
  const limit = new Promise<string>((r) => setTimeout(() => r(`still pending after ${ms} ms`), ms));
  return await Promise.race([
    call().then(() => "resolved", (e) => `${e?.name}: ${e?.message}`),
    limit,
  ]);
}

/** A Durable Object holding one client across the requests it serves (GET /do). */
export class Holder {
  #client: MQTTClient | RobustClient | undefined;

  async fetch(request: Request): Promise<Response> {
    const q = new URL(request.url).searchParams;
    const topic = q.get("topic")!;
    try {
      if (q.get("step") === "connect") {
        const Client = q.get("robust") === "1" ? RobustClient : MQTTClient;
        const server = `mqtt://127.0.0.1:${q.get("port")}`;
        const c = this.#client = new Client(`w-do-${topic}`.slice(0, 23), server, { keepalive: 1 });
        if (c instanceof RobustClient) c.DELAY = 0.05;
        let n = 0;
        c.addEventListener("connected", () => {
          c.publish(`${topic}/up`, `connection ${++n}`, false, 1).catch(() => {});
        });
        await c.connect(false);
        await c.subscribe(`${topic}/in`, 1);
        return Response.json({ connected: c.connected });
      }
      const c = this.#client!;
      if (q.get("step") === "poll") {
        const got: string[] = [];
        while (got.length < Number(q.get("n"))) got.push(text((await c.wait_msg()).payload));
        await c.publish(`${topic}/out`, "from a later request", false, 1);
        return Response.json({ connected: c.connected, got });
      }
      await c.disconnect();
      return Response.json({ connected: c.connected });
    } catch (e) {
      return Response.json({ error: String((e as Error)?.stack ?? e) }, { status: 500 });
    }
  }
}

interface Env {
  /** mosquitto's port, for the handlers that get no URL. */
  UMQTT_PORT: string;
  HOLDER: {
    idFromName(name: string): unknown;
    get(id: unknown): { fetch(r: Request): Promise<Response> };
  };
}

export default {
  async fetch(
    request: Request,
    env: Env,
    ctx: { waitUntil(p: Promise<unknown>): void },
  ): Promise<Response> {
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
        case "/forget": {
          const c = new MQTTClient(`w-fg-${topic}`.slice(0, 23), server);
          c.set_last_will(`${topic}/will`, "gone without DISCONNECT", false, 1);
          await c.connect();
          await c.publish(`${topic}/p`, "published", false, 1);
          if (q.get("later") === "1") ctx.waitUntil(c.disconnect());
          return Response.json({ published: true });
        }
        case "/do":
          return await env.HOLDER.get(env.HOLDER.idFromName(topic)).fetch(request);
        case "/smoke":
          return Response.json(await smoke((id) => new MQTTClient(id, server)));
        case "/across": {
          if (q.get("step") === "1") {
            kept = new MQTTClient(`w-across-${topic}`.slice(0, 23), server);
            await kept.connect();
            await kept.publish(`${topic}/1`, "from request 1", false, 1);
            return Response.json({ connected: kept.connected });
          }
          const c = kept!;
          if (q.get("step") === "connect") {
            // connect() first, as the README says to: nothing else told the client yet.
            const connecting = await failure(() => c.connect());
            const publishing = await failure(() =>
              c.publish(`${topic}/2`, "from request 2", false, 1)
            );
            await c.disconnect();
            return Response.json({ connecting, publishing });
          }
          const connected = c.connected;
          const waiting = await failure(() => c.wait_msg());
          const publishing = await failure(() => c.publish(`${topic}/x`, "lost", false, 1));
          const disconnecting = await failure(() => c.disconnect());
          await c.connect();
          await c.publish(`${topic}/2`, "from request 2", false, 1);
          await c.disconnect();
          return Response.json({ connected, waiting, publishing, disconnecting });
        }
        case "/robust": {
          // signal=1: stopped by an AbortSignal, under a compatibility date with no WeakRef.
          const signal = q.get("signal") ? new AbortController().signal : undefined;
          const c = new RobustClient(`w-robust-${topic}`.slice(0, 23), server, { signal });
          const connecting = c.connect();
          // Not connected yet: it waits for the connection, as while offline.
          const publishing = c.publish(`${topic}/${q.get("i")}`, "while connecting", false, 1);
          await connecting;
          await publishing;
          await c.disconnect();
          return Response.json({ published: true, early: early.connected });
        }
        case "/robust-across": {
          const step = q.get("step");
          if (step === "1") {
            keptRobust = new RobustClient(`w-racross-${topic}`.slice(0, 23), server);
            await keptRobust.connect();
          }
          await keptRobust!.publish(`${topic}/${step}`, `from request ${step}`, false, 1);
          if (step === "3") await keptRobust!.disconnect();
          return Response.json({ published: true });
        }
        case "/stranded": {
          const step = q.get("step");
          if (step === "1") {
            const Client = q.get("robust") === "1" ? RobustClient : MQTTClient;
            stranded = new Client(`w-str-${topic}`.slice(0, 23), server, { connectTimeout: 1000 });
            if (stranded instanceof RobustClient) stranded.DELAY = 0.2;
            // The broker does not answer yet: this request ends with the connect() under way.
            return Response.json({ connecting: await failure(() => stranded!.connect(), 200) });
          }
          const c = stranded!;
          if (step === "2" && c instanceof RobustClient) {
            // The broker is away: the reconnect loop is waiting when this request ends.
            const publishing = await failure(() => c.publish(`${topic}/2`, "2"), 500);
            return Response.json({ publishing });
          }
          const connecting = c instanceof RobustClient
            ? "robust"
            : await failure(() => c.connect());
          const publishing = await failure(() => c.publish(`${topic}/${step}`, step!, false, 1));
          if (step === "4") await c.disconnect();
          return Response.json({ connecting, publishing });
        }
        case "/shared": {
          let c = shared.get(topic);
          if (!c) shared.set(topic, c = new RobustClient(`w-sh-${topic}`.slice(0, 23), server));
          const publishing: string[] = [];
          for (const k of [0, 1, 2]) {
            const i = q.get("i"), payload = `request ${i} message ${k}`;
            publishing.push(
              await failure(() => c.publish(`${topic}/${i}`, payload, false, 1), 5000),
            );
          }
          return Response.json({ publishing });
        }
        case "/tls": {
          const c = new MQTTClient("w-tls", `mqtts://127.0.0.1:${q.get("port")}`);
          return Response.json({ refused: await failure(() => c.connect()) });
        }
        case "/tls-silent": {
          // workerd settles neither opened nor close() of a socket whose TLS
          // handshake never ends: giving up must not wait for them.
          const url = `mqtts://127.0.0.1:${q.get("port")}`;
          const timed = new MQTTClient("w-silent", url, { connectTimeout: 300 });
          const timeout = await failure(() => timed.connect(), 1500);
          const disconnect = await failure(() => timed.disconnect(), 1500);
          const aborted = new MQTTClient("w-silent-a", url);
          const signal = AbortSignal.timeout(300);
          const abort = await failure(() => aborted.connect({ signal }), 1500);
          const stopped = new MQTTClient("w-silent-d", url);
          const connecting = failure(() => stopped.connect(), 1500);
          await new Promise((r) => setTimeout(r, 300));
          const stop = await failure(() => stopped.disconnect(), 1500);
          return Response.json({ timeout, disconnect, abort, stop, stopping: await connecting });
        }
        case "/beside": {
          if (q.get("step") === "owner") {
            const c = beside = new MQTTClient(`w-bes-${topic}`.slice(0, 23), server);
            await c.connect();
            await c.subscribe(`${topic}/go`, 1);
            await c.publish(`${topic}/ready`, "owner", false, 1);
            const waiting = await failure(() => c.wait_msg(), 10000);
            const publishing = await failure(() => c.publish(`${topic}/owner`, "owner", false, 1));
            await c.disconnect();
            return Response.json({ waiting, publishing });
          }
          const c = beside!;
          const connected = c.connected;
          const publishing = await failure(() => c.publish(`${topic}/other`, "other", false, 1));
          return Response.json({ connected, publishing });
        }
        case "/ws": {
          const url = q.get("url")!;
          const c = new MQTTClient(`w-ws-${topic}`.slice(0, 23), url);
          await c.connect();
          await c.publish(`${topic}/ws`, "over a WebSocket", false, 1);
          await c.disconnect();
          const headers = { authorization: "Bearer token" };
          const transport = () => connectWebSocket(url, { headers });
          const headed = await failure(() =>
            new MQTTClient("w-ws-h", url, { transport }).connect()
          );
          const r = new RobustClient("w-ws-hr", url, { transport });
          r.DELAY = 0.01;
          let attempts = 0;
          r.addEventListener("reconnecting", () => attempts++);
          // Offline: the publish starts the reconnect loop, which must not retry.
          const publishing = await failure(() => r.publish(`${topic}/never`, "never", false, 1));
          await r.disconnect();
          return Response.json({ headed, publishing, attempts });
        }
        case "/cadata": {
          const options = { ssl_params: { cadata: "-----BEGIN CERTIFICATE-----" } };
          const simple = new MQTTClient("w-cadata", `mqtts://127.0.0.1:${q.get("port")}`, options);
          const refused = await failure(() => simple.connect());
          const c = new RobustClient("w-cadata-r", `mqtts://127.0.0.1:${q.get("port")}`, options);
          c.DELAY = 0.01;
          let attempts = 0;
          c.addEventListener("reconnecting", () => attempts++);
          // Offline: the publish starts the reconnect loop, which must not retry.
          const publishing = await failure(() => c.publish("w/cadata", "never", false, 1));
          await c.disconnect();
          return Response.json({ refused, publishing, attempts });
        }
      }
      return new Response("not found", { status: 404 });
    } catch (e) {
      return Response.json({ error: String((e as Error)?.stack ?? e) }, {
        status: 500,
      });
    }
  },

  async scheduled(controller: { cron: string }, env: Env): Promise<void> {
    const c = new MQTTClient("w-cron", `mqtt://127.0.0.1:${env.UMQTT_PORT}`);
    await c.connect();
    await c.publish(`${controller.cron}/scheduled`, "cron", false, 1);
    await c.disconnect();
  },

  async queue(
    batch: { messages: { body: { topic: string; text: string }; ack(): void }[] },
    env: Env,
  ): Promise<void> {
    const c = new MQTTClient("w-queue", `mqtt://127.0.0.1:${env.UMQTT_PORT}`);
    await c.connect();
    for (const m of batch.messages) {
      await c.publish(m.body.topic, m.body.text, false, 1);
      m.ack();
    }
    await c.disconnect();
  },
};
