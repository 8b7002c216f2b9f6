// An option given as undefined is an option not given: at run time (every
// option of every call, both versions), and in the public types under a
// user's stricter compiler options (exactOptionalPropertyTypes: a variable
// from the environment, a signal passed on). Only the user's file is
// judged there: the library's own files are checked under deno.json's options.
// And the types refuse what the runtime refuses with a TypeError.
import assert from "node:assert/strict";
import { MQTTClient } from "../mod.ts";
import { MQTTClient as Robust } from "../lib/robust.ts";
import { forEachBroker } from "./_brokers.ts";
import { test, uniqueId } from "./_test.ts";

const U = undefined;

forEachBroker("every option given as undefined is taken as not given", async (broker, v) => {
  const v5 = v === 5;
  const options = {
    port: broker.port,
    protocolVersion: v,
    user: U,
    password: U,
    keepalive: U,
    ssl: U,
    ssl_params: { server_hostname: U, cadata: U, cert: U, key: U },
    transport: U,
    maxPacketSize: U,
    maxQueuedMessages: U,
    connectTimeout: U,
    sessionStore: U,
    ...(v5 && {
      sessionExpiryInterval: U,
      receiveMaximum: U,
      topicAliasMaximum: U,
      requestResponseInformation: U,
      requestProblemInformation: U,
      userProperties: U,
      authenticationMethod: U,
      authenticationData: U,
      onAuth: U,
      autoTopicAlias: U,
    }),
  };
  const c = new MQTTClient(uniqueId("undef"), broker.host, options);
  const t = uniqueId("undef/t");
  c.set_last_will(t, "gone", { retain: U, qos: U, properties: v5 ? { willDelayInterval: U } : U });
  assert.equal(await c.connect({ clean_session: U, signal: U }), false);
  const sub = { qos: U, retainAsPublished: U, retainHandling: U, signal: U };
  assert.equal(await c.subscribe(t, v5 ? { ...sub, noLocal: U, userProperties: U } : sub), 0);
  assert.deepEqual(await c.subscribe([[`${t}/x`, { qos: U }]], { signal: U }), [0]);
  const properties = v5 ? { contentType: U, correlationData: U, userProperties: U } : U;
  await c.publish(t, "m", { qos: U, retain: U, signal: U, properties });
  assert.equal((await c.wait_msg({ signal: U })).topic, t);
  const frozen = Object.freeze([Object.freeze([`${t}/y`, 1] as const)]);
  assert.deepEqual(await c.subscribe(frozen), [1]);
  assert.deepEqual(await c.unsubscribe(Object.freeze([`${t}/y`])), [0]);
  await c.unsubscribe(t, { signal: U, userProperties: U });
  await c.disconnect(v5 ? { reasonCode: U, reasonString: U, userProperties: U } : U);
  const robustOnly = { reconnectMaxDelay: U, maxOfflineMessages: U, whenOfflineFull: U, signal: U };
  const r = new Robust(uniqueId("undef"), broker.host, { ...options, ...robustOnly });
  await r.connect(false);
  await r.disconnect();
}, { versions: [4, 5] });

const root = new URL("../", import.meta.url);

const USER = `
import { MQTTClient } from "${new URL("mod.ts", root).href}";
import { MQTTClient as Robust } from "${new URL("lib/robust.ts", root).href}";
declare const env: string | undefined;
declare const n: number | undefined;
declare const signal: AbortSignal | undefined;
const c = new MQTTClient("id", "mqtt://broker", {
  user: env, password: env, keepalive: n, ssl_params: { cadata: env }, protocolVersion: 5,
  sessionExpiryInterval: n, userProperties: undefined,
});
c.set_last_will("w", "gone", { qos: 1, retain: undefined, properties: { willDelayInterval: n } });
await c.connect({ clean_session: undefined, signal });
await c.publish("t", "m", { qos: 1, signal, properties: { contentType: env } });
await c.subscribe("t", { qos: 1, noLocal: undefined, signal });
await c.unsubscribe("t", { signal });
// Lists may be readonly (\`as const\`, frozen).
const filters = [["t/a", 1], ["t/b", { qos: 2, noLocal: true }]] as const;
const codes: number[] = await c.subscribe(filters);
await c.unsubscribe(["t/a", "t/b"] as const);
await c.wait_msg({ signal });
await c.request("t", "q", { timeout: n, signal });
await c.disconnect({ reasonCode: n, reasonString: env });
new Robust("id", "mqtt://broker", { reconnectMaxDelay: n, signal, whenOfflineFull: undefined });
// What the runtime refuses with a TypeError does not type-check either.
// @ts-expect-error: a will takes no signal
c.set_last_will("w", "gone", { qos: 1, signal });
// @ts-expect-error: willDelayInterval is a will's property, not a publish's
await c.publish("t", "m", { properties: { willDelayInterval: 5 } });
// @ts-expect-error: the list form's options are the SUBSCRIBE's, each filter's QoS is in the list
await c.subscribe([["t", 0]], { qos: 1 });
`;

test(
  "a strict user's project: options that may be undefined type-check, options refused at run time do not",
  async () => {
    const dir = await Deno.makeTempDir();
    try {
      await Deno.writeTextFile(`${dir}/user.ts`, USER);
      await Deno.writeTextFile(
        `${dir}/deno.json`,
        JSON.stringify({ compilerOptions: { strict: true, exactOptionalPropertyTypes: true } }),
      );
      const { stdout, stderr } = await new Deno.Command(Deno.execPath(), {
        args: ["check", "--config", `${dir}/deno.json`, `${dir}/user.ts`],
        stdout: "piped",
        stderr: "piped",
        env: { NO_COLOR: "1" },
      }).output();
      const out = new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr);
      // Each diagnostic ends with its location, "at file:///…:line:col".
      const mine = out.split(/\n(?=\S*TS\d+)/).filter((d) =>
        /TS\d+/.test(d) && d.includes("user.ts:")
      );
      assert.deepEqual(mine, [], out);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
  // It runs deno check; under Bun and Node, tests/runtimes checks the npm package's types.
  { ignore: !("Deno" in globalThis) },
);
