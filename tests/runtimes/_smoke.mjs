// The smoke scenario every runtime runs, in plain JavaScript with no imports
// so that Deno, Bun, Node 20 (no TypeScript), a Worker and a browser page can
// all load it as is: connect, subscribe with a wildcard, publish QoS 0 and
// QoS 1 (binary, 64 KiB), receive exactly that, unsubscribe, disconnect.

/** Throws with `what` unless `ok`. */
function check(ok, what) {
  if (!ok) throw new Error(`smoke: ${what}`);
}

function sameBytes(a, b) {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/**
 * Runs the scenario with a fresh client from `makeClient(clientId)`.
 * @param {(id: string) => import("../../mod.ts").MQTTClient} makeClient
 * @returns {Promise<{ received: number, bytes: number }>}
 */
export async function smoke(makeClient) {
  const hex = Array.from(
    crypto.getRandomValues(new Uint8Array(6)),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
  const base = `smoke-${hex}`;
  const client = makeClient(base);
  check(
    (await client.connect()) === false,
    "a clean session has no session present",
  );
  check(client.connected, "connected after connect()");
  check((await client.subscribe(`${base}/#`, 1)) === 1, "QoS 1 granted");
  const binary = Uint8Array.from({ length: 256 }, (_, i) => i);
  const big = new Uint8Array(65536);
  for (let i = 0; i < big.length; i += 65536 / 16) {
    crypto.getRandomValues(big.subarray(i, i + 4096));
  }
  const sent = [[`${base}/a/bin`, binary, 0], [`${base}/b/big`, big, 1], [
    `${base}/c`,
    big,
    0,
  ]];
  let bytes = 0;
  for (const [topic, payload, qos] of sent) {
    await client.publish(topic, payload, false, qos);
    const msg = await client.wait_msg();
    check(msg.topic === topic, `topic ${msg.topic}, expected ${topic}`);
    check(msg.qos === qos, `qos ${msg.qos} on ${topic}, expected ${qos}`);
    check(
      sameBytes(msg.payload, payload),
      `payload of ${topic} differs (${msg.payload.length} bytes)`,
    );
    bytes += msg.payload.length;
  }
  await client.unsubscribe(`${base}/#`);
  await client.publish(`${base}/after`, "unsubscribed", false, 1);
  await client.ping(); // the broker answers in order: anything routed to us came before this
  check(
    (await client.check_msg()) === undefined,
    "no message after unsubscribe",
  );
  await client.disconnect();
  check(!client.connected, "not connected after disconnect()");
  return { received: sent.length, bytes };
}
