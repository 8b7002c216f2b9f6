// MQTT 5 enhanced authentication (section 4.12) against a scripted broker:
// a SCRAM-like exchange in CONNECT/AUTH/CONNACK, a re-authentication, and
// the ways either side gives up. No broker the tests run implements an
// authentication method, so the scripted broker plays one.
import assert from "node:assert/strict";
import {
  type AuthChallenge,
  MQTTClient,
  type MQTTClientOptions,
  MQTTConnectionError,
  MQTTException,
  MQTTProtocolError,
} from "../mod.ts";
import {
  acceptConnect,
  type HostileBroker,
  type Peer,
  withHostileBroker,
} from "./_hostile_broker.ts";
import { test, uniqueId } from "./_test.ts";
import { MQTTClient as RobustClient } from "../lib/robust.ts";
import { connectNode } from "../lib/transports/node.ts";

const TIMEOUT = { timeout: 20_000 };
const METHOD = "SCRAM-SHA-256";
const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array | undefined) =>
  b === undefined ? undefined : new TextDecoder().decode(b);

/** A v5 client with enhanced authentication; `onAuth` answers the broker's steps. */
function authClient(
  broker: HostileBroker,
  onAuth: MQTTClientOptions["onAuth"],
  opts: MQTTClientOptions = {},
) {
  return new MQTTClient(uniqueId("auth"), broker.url, {
    protocolVersion: 5,
    authenticationMethod: METHOD,
    authenticationData: bytes("n,,n=user,r=c1"),
    onAuth,
    ...opts,
  });
}

/** The SCRAM client's side: the client-final for the server-first challenge. */
function scram(seen: AuthChallenge[]) {
  return (challenge: AuthChallenge) => {
    seen.push(challenge);
    const server = text(challenge.authenticationData);
    return bytes(`c=biws,${server?.split(",")[0]},p=proof`);
  };
}

/** The broker's challenge: server-first. */
const challenge = (data: string) => ({
  type: "auth" as const,
  reasonCode: 0x18,
  properties: { authenticationMethod: METHOD, authenticationData: bytes(data) },
});

/** Reads the client's AUTH: its reason code, method and data as text. */
async function expectAuth(peer: Peer) {
  const p = await peer.expect("auth");
  return {
    reasonCode: p.reasonCode,
    method: p.properties?.authenticationMethod,
    data: text(p.properties?.authenticationData),
  };
}

/** Reads CONNECT, checks the first step, sends the challenge and checks the answer. */
async function scramUntilConnack(peer: Peer) {
  const connect = await peer.expect("connect");
  assert.equal(connect.properties?.authenticationMethod, METHOD);
  assert.equal(text(connect.properties?.authenticationData), "n,,n=user,r=c1");
  await peer.write(challenge("r=c1s1,s=salt,i=4096"));
  assert.deepEqual(await expectAuth(peer), {
    reasonCode: 0x18,
    method: METHOD,
    data: "c=biws,r=c1s1,p=proof",
  });
}

/** The client's last word was a DISCONNECT with `reasonCode`, then it closed. */
async function closedWith(peer: Peer, reasonCode: number) {
  assert.equal(await peer.clientClosed, "eof");
  assert.deepEqual(peer.received.at(-1), { type: "disconnect", reasonCode });
}

/**
 * `client.connect()` rejects with an `MQTTConnectionError` that `check` accepts, and the client
 * closes its connection to `broker` with a DISCONNECT of `reasonCode`.
 */
async function connectFails(
  client: MQTTClient,
  broker: { peers: Peer[] },
  reasonCode: number,
  check: (e: MQTTConnectionError) => void,
) {
  await assert.rejects(client.connect(), (e: unknown) => {
    assert.ok(e instanceof MQTTConnectionError, String(e));
    check(e);
    return true;
  });
  await closedWith(broker.peers[0], reasonCode);
}

test(
  "a SCRAM-like exchange: CONNECT, AUTH challenge, AUTH answer, CONNACK with the server's data",
  async () => {
    const seen: AuthChallenge[] = [];
    await withHostileBroker(async (peer) => {
      await scramUntilConnack(peer);
      await peer.write({
        type: "connack",
        sessionPresent: false,
        returnCode: 0,
        properties: { authenticationMethod: METHOD, authenticationData: bytes("v=verifier") },
      });
      await peer.expect("disconnect");
    }, async (broker) => {
      const client = authClient(broker, scram(seen));
      assert.equal(await client.connect(), false);
      assert.deepEqual(seen, [{
        reasonCode: 0x18,
        authenticationMethod: METHOD,
        authenticationData: bytes("r=c1s1,s=salt,i=4096"),
      }]);
      // The server-final, for the application to verify.
      assert.equal(text(client.connack?.properties.authenticationData), "v=verifier");
      await client.disconnect();
      await broker.peers[0].clientClosed;
    });
  },
  TIMEOUT,
);

test(
  "reauthenticate(): AUTH 0x19, the challenge answered, resolves on the broker's AUTH 0x00",
  async () => {
    const seen: AuthChallenge[] = [];
    await withHostileBroker(async (peer) => {
      await scramUntilConnack(peer);
      await peer.write({ type: "connack", sessionPresent: false, returnCode: 0 });
      assert.deepEqual(await expectAuth(peer), {
        reasonCode: 0x19,
        method: METHOD,
        data: "n,,n=user,r=c2",
      });
      // Other packets go on meanwhile (section 4.12.1).
      const publish = await peer.expect("publish");
      await peer.write({ type: "puback", packetId: publish.packetId! });
      await peer.write(challenge("r=c2s2,s=salt,i=4096"));
      assert.deepEqual(await expectAuth(peer), {
        reasonCode: 0x18,
        method: METHOD,
        data: "c=biws,r=c2s2,p=proof",
      });
      await peer.write({
        type: "auth",
        reasonCode: 0x00,
        properties: { authenticationMethod: METHOD, authenticationData: bytes("v=2") },
      });
      await peer.expect("disconnect");
    }, async (broker) => {
      const client = authClient(broker, scram(seen));
      await client.connect();
      const reauth = client.reauthenticate(bytes("n,,n=user,r=c2"));
      await client.publish("t", "during", false, 1);
      await reauth;
      assert.deepEqual(seen.map((c) => text(c.authenticationData)), [
        "r=c1s1,s=salt,i=4096",
        "r=c2s2,s=salt,i=4096",
      ]);
      assert.equal(client.connected, true);
      await client.disconnect();
      await broker.peers[0].clientClosed;
    });
  },
  TIMEOUT,
);

test("the broker refuses the method in CONNACK 0x8C: connect() rejects with it", async () => {
  // Also when the refusal names another method (MQTT-4.12.0-5 is about accepting, not refusing).
  for (const other of [{}, { authenticationMethod: "PLAIN" }]) {
    await withHostileBroker(async (peer) => {
      await peer.expect("connect");
      await peer.write({
        type: "connack",
        sessionPresent: false,
        returnCode: 0x8c,
        properties: { reasonString: "use PLAIN", ...other },
      });
      await peer.clientClosed;
    }, async (broker) => {
      const client = authClient(broker, () => assert.fail("no challenge came"));
      await assert.rejects(client.connect(), (e: unknown) => {
        assert.ok(e instanceof MQTTException, String(e));
        assert.ok(!(e instanceof MQTTProtocolError), String(e));
        assert.equal(e.code, 0x8c);
        assert.equal(e.reasonString, "use PLAIN");
        return true;
      });
      await broker.peers[0].clientClosed;
    });
  }
}, TIMEOUT);

test(
  "onAuth throws: connect() rejects with the error as cause, the client says so and closes",
  async () => {
    const wrong = new Error("server signature does not verify");
    await withHostileBroker(async (peer) => {
      await peer.expect("connect");
      await peer.write(challenge("r=c1s1,s=salt,i=4096"));
      await peer.clientClosed;
    }, async (broker) => {
      const client = authClient(broker, () => {
        throw wrong;
      });
      await assert.rejects(client.connect(), (e: unknown) => {
        assert.ok(e instanceof MQTTConnectionError, String(e));
        assert.match(
          e.message,
          /Authentication failed: onAuth threw server signature does not verify/,
        );
        assert.equal(e.cause, wrong);
        return true;
      });
      assert.equal(client.connected, false);
      // DISCONNECT 0x80, unspecified error: the client gives up (section 4.12).
      await closedWith(broker.peers[0], 0x80);
    });
  },
  TIMEOUT,
);

test(
  "onAuth answers with no bytes: connect() rejects at once, no unhandled rejection",
  async () => {
    await withHostileBroker(async (peer) => {
      await peer.expect("connect");
      await peer.write(challenge("r=c1s1,s=salt,i=4096"));
      await peer.clientClosed;
    }, async (broker) => {
      // A JavaScript caller's mistake: text where bytes belong.
      const client = authClient(broker, () => "c=biws" as unknown as Uint8Array, {
        connectTimeout: 600_000,
      });
      await connectFails(client, broker, 0x80, (e) => {
        assert.match(e.message, /Authentication failed: onAuth/);
        assert.ok(e.cause instanceof TypeError, String(e.cause));
      });
    });
  },
  TIMEOUT,
);

test(
  "onAuth throws during a re-authentication: it rejects, the client says so and closes",
  async () => {
    let step = 0;
    await withHostileBroker(async (peer) => {
      await scramUntilConnack(peer);
      await peer.write({ type: "connack", sessionPresent: false, returnCode: 0 });
      await expectAuth(peer);
      await peer.write(challenge("r=c2s2"));
      await peer.clientClosed;
    }, async (broker) => {
      const client = authClient(broker, (c) => {
        if (step++ === 0) return scram([])(c);
        throw new Error("no key for r=c2s2");
      });
      const events: CustomEvent[] = [];
      client.addEventListener("disconnected", (e) => events.push(e as CustomEvent));
      await client.connect();
      await assert.rejects(client.reauthenticate(), /Authentication failed: onAuth threw no key/);
      await closedWith(broker.peers[0], 0x80);
      assert.equal(client.connected, false);
      assert.equal(events.length, 1);
    });
  },
  TIMEOUT,
);

for (const code of [0x87, 0x8c]) {
  test(`the broker ends a re-authentication with DISCONNECT 0x${code.toString(16)}`, async () => {
    await withHostileBroker(async (peer) => {
      await scramUntilConnack(peer);
      await peer.write({ type: "connack", sessionPresent: false, returnCode: 0 });
      await expectAuth(peer);
      await peer.expect("publish");
      await peer.write({
        type: "disconnect",
        reasonCode: code,
        properties: { reasonString: "credentials revoked" },
      });
      await peer.clientClosed;
    }, async (broker) => {
      const client = authClient(broker, scram([]));
      await client.connect();
      const reauth = client.reauthenticate(bytes("n,,n=user,r=c2"));
      const publish = client.publish("t", "m", false, 1);
      const said = (e: unknown) => {
        assert.ok(e instanceof MQTTConnectionError, String(e));
        assert.equal(e.reasonCode, code);
        assert.equal(e.reasonString, "credentials revoked");
        return true;
      };
      await assert.rejects(reauth, said);
      await assert.rejects(publish, said);
      // The broker ended it: no DISCONNECT from the client.
      assert.equal(await broker.peers[0].clientClosed, "eof");
      assert.deepEqual(broker.peers[0].received.map((p) => p.type), [
        "connect",
        "auth",
        "auth",
        "publish",
      ]);
    });
  }, TIMEOUT);
}

test(
  "an AUTH for another method, with the CONNACK in the same read: connect() rejects, DISCONNECT 0x82",
  async () => {
    await withHostileBroker(async (peer) => {
      await peer.expect("connect");
      await peer.write(
        {
          type: "auth",
          reasonCode: 0x18,
          properties: { authenticationMethod: "PLAIN", authenticationData: bytes("x") },
        },
        { type: "connack", sessionPresent: false, returnCode: 0 },
      );
      await peer.clientClosed;
    }, async (broker) => {
      const client = authClient(broker, () => assert.fail("not for our method"));
      await assert.rejects(client.connect(), (e: unknown) => {
        assert.ok(e instanceof MQTTConnectionError, String(e));
        assert.ok(e.cause instanceof MQTTProtocolError, String(e.cause));
        assert.match(e.cause.message, /AUTH from the broker with reason 0x18 for method PLAIN/);
        return true;
      });
      assert.equal(client.connected, false);
      await closedWith(broker.peers[0], 0x82);
    });
  },
  TIMEOUT,
);

for (const method of ["PLAIN", undefined]) {
  test(
    `the AUTH 0x00 ending a re-authentication ${
      method ? "for another method" : "without a method"
    }: reauthenticate() rejects, DISCONNECT 0x82 (MQTT-4.12.0-5)`,
    async () => {
      await withHostileBroker(async (peer) => {
        await scramUntilConnack(peer);
        await peer.write({
          type: "connack",
          sessionPresent: false,
          returnCode: 0,
          properties: { authenticationMethod: METHOD },
        });
        await peer.expect("auth"); // 0x19
        await peer.write({
          type: "auth",
          reasonCode: 0,
          properties: method ? { authenticationMethod: method } : undefined,
        });
        await peer.clientClosed;
      }, async (broker) => {
        const client = authClient(broker, scram([]));
        await client.connect();
        // Before, it resolved: a success for nothing the client asked for.
        await assert.rejects(client.reauthenticate(bytes("n,,n=user,r=c2")), (e: unknown) => {
          assert.ok(e instanceof MQTTConnectionError, String(e));
          assert.match(
            e.message,
            method
              ? /AUTH 0x00 from the broker for method PLAIN, not SCRAM-SHA-256 \(MQTT-4\.12\.0-5\)/
              : /AUTH 0x00 from the broker without an Authentication Method, not SCRAM-SHA-256/,
          );
          return true;
        });
        assert.equal(client.connected, false);
        await closedWith(broker.peers[0], 0x82);
      });
    },
    TIMEOUT,
  );
}

test(
  "a CONNACK accepting another Authentication Method: connect() rejects, DISCONNECT 0x82 (MQTT-4.12.0-5)",
  async () => {
    await withHostileBroker(async (peer) => {
      await scramUntilConnack(peer);
      await peer.write({
        type: "connack",
        sessionPresent: false,
        returnCode: 0,
        properties: { authenticationMethod: "PLAIN" },
      });
      await peer.clientClosed;
    }, async (broker) => {
      const client = authClient(broker, scram([]));
      await assert.rejects(client.connect(), (e: unknown) => {
        assert.ok(e instanceof MQTTConnectionError, String(e));
        assert.match(
          e.message,
          /CONNACK accepting Authentication Method PLAIN, not SCRAM-SHA-256.*MQTT-4\.12\.0-5/,
        );
        return true;
      });
      assert.equal(client.connected, false);
      await closedWith(broker.peers[0], 0x82);
    });
  },
  TIMEOUT,
);

test("an AUTH to a client that asked for no enhanced authentication: DISCONNECT 0x82", async () => {
  await withHostileBroker(async (peer) => {
    await acceptConnect(peer);
    await peer.expect("pingreq");
    await peer.write(challenge("r=1"));
    await peer.clientClosed;
  }, async (broker) => {
    const client = new MQTTClient(uniqueId("noauth"), broker.url, { protocolVersion: 5 });
    await client.connect();
    await assert.rejects(client.ping(), (e: unknown) => {
      assert.ok(e instanceof MQTTConnectionError, String(e));
      assert.match(String(e.cause), /this client asked for no enhanced authentication/);
      return true;
    });
    await closedWith(broker.peers[0], 0x82);
  });
}, TIMEOUT);

for (
  const [name, auth] of [
    ["AUTH 0x00 with no re-authentication under way", { reasonCode: 0x00 }],
    ["AUTH 0x18 the client did not ask for, after CONNACK", { reasonCode: 0x18 }],
  ] as const
) {
  test(`${name}: DISCONNECT 0x82, onAuth not called`, async () => {
    await withHostileBroker(async (peer) => {
      await scramUntilConnack(peer);
      await peer.write({ type: "connack", sessionPresent: false, returnCode: 0 });
      await peer.expect("pingreq");
      await peer.write({
        type: "auth",
        ...auth,
        properties: { authenticationMethod: METHOD, authenticationData: bytes("r=x") },
      });
      await peer.clientClosed;
    }, async (broker) => {
      let calls = 0;
      const client = authClient(broker, (c) => (calls++, scram([])(c)));
      await client.connect();
      await assert.rejects(client.ping(), (e: unknown) => {
        assert.ok(e instanceof MQTTConnectionError, String(e));
        assert.ok(e.cause instanceof MQTTProtocolError, String(e.cause));
        assert.match(e.cause.message, /but no (re-)?authentication is under way/);
        return true;
      });
      await closedWith(broker.peers[0], 0x82);
      assert.equal(calls, 1, "only the CONNECT exchange's challenge");
    });
  }, TIMEOUT);
}

test("reauthenticate() with bad data rejects at once and leaves nothing behind", async () => {
  await withHostileBroker(async (peer) => {
    await scramUntilConnack(peer);
    await peer.write({ type: "connack", sessionPresent: false, returnCode: 0 });
    await peer.expect("disconnect");
  }, async (broker) => {
    const client = authClient(broker, scram([]));
    await client.connect();
    await assert.rejects(
      client.reauthenticate("n,,n=user" as unknown as Uint8Array),
      TypeError,
    );
    // disconnect() must not reject a re-authentication that never started (unhandled rejection).
    await client.disconnect();
    await broker.peers[0].clientClosed;
    assert.deepEqual(broker.peers[0].received.map((p) => p.type), [
      "connect",
      "auth",
      "disconnect",
    ]);
  });
}, TIMEOUT);

test("reauthenticate() while one is under way rejects; the first completes", async () => {
  await withHostileBroker(async (peer) => {
    await scramUntilConnack(peer);
    await peer.write({ type: "connack", sessionPresent: false, returnCode: 0 });
    await expectAuth(peer);
    await peer.expect("pingreq");
    await peer.write({ type: "pingresp" });
    await peer.write({ type: "auth", reasonCode: 0, properties: { authenticationMethod: METHOD } });
    await peer.expect("disconnect");
  }, async (broker) => {
    const client = authClient(broker, scram([]));
    await client.connect();
    const first = client.reauthenticate(bytes("r=a"));
    await assert.rejects(client.reauthenticate(bytes("r=b")), /a re-authentication is under way/);
    await client.ping();
    await first;
    await client.disconnect();
    await broker.peers[0].clientClosed;
    // One AUTH 0x19 only.
    assert.deepEqual(
      broker.peers[0].received.map((p) => p.type),
      ["connect", "auth", "auth", "pingreq", "disconnect"],
    );
  });
}, TIMEOUT);

test("reauthenticate() needs an authenticationMethod and a connection", async () => {
  const plain = new MQTTClient(uniqueId("r"), "127.0.0.1", { protocolVersion: 5 });
  await assert.rejects(plain.reauthenticate(), TypeError);
  const v4 = new MQTTClient(uniqueId("r"), "127.0.0.1");
  await assert.rejects(v4.reauthenticate(), TypeError);
  const offline = new MQTTClient(uniqueId("r"), "127.0.0.1", {
    protocolVersion: 5,
    authenticationMethod: METHOD,
  });
  await assert.rejects(offline.reauthenticate(), MQTTConnectionError);
});

test(
  "the robust client: an onAuth that throws on a reconnect is not retried; kept publishes reject with its error",
  async () => {
    let n = 0;
    const refused = new Error("token vault down");
    await withHostileBroker(async (peer) => {
      const k = ++n;
      if (k > 2) return void await peer.clientClosed; // a retry: there must be none
      await peer.expect("connect");
      await peer.write(challenge("r=c1s1,s=salt,i=4096"));
      if (k === 2) return void await peer.clientClosed; // onAuth throws now
      await expectAuth(peer);
      await peer.write({ type: "connack", sessionPresent: false, returnCode: 0 });
      await peer.expect("publish"); // not acknowledged: kept for the next connection
      peer.end();
      await peer.clientClosed;
    }, async (broker) => {
      let calls = 0;
      const client = new RobustClient(uniqueId("auth"), broker.url, {
        protocolVersion: 5,
        authenticationMethod: METHOD,
        authenticationData: bytes("n,,n=user,r=c1"),
        onAuth: () => {
          if (++calls > 1) throw refused;
          return bytes("c=biws,r=c1s1,p=proof");
        },
      });
      client.DELAY = 0;
      await client.connect(false);
      await assert.rejects(client.publish("t", "m", { qos: 1 }), (e: unknown) => {
        assert.ok(e instanceof MQTTConnectionError, String(e));
        assert.match(e.message, /Authentication failed: onAuth threw token vault down/);
        assert.equal(e.cause, refused);
        return true;
      });
      await new Promise((r) => setTimeout(r, 200)); // time for a retry, were there one
      assert.equal(broker.peers.length, 2, "no attempt after the one whose onAuth threw");
      await client.disconnect();
    });
  },
  TIMEOUT,
);

for (const who of ["the broker never answers", "onAuth never settles"]) {
  test(
    `a re-authentication ${who}: it fails at connectTimeout with DISCONNECT 0x80, and does not block the next`,
    async () => {
      await withHostileBroker(async (peer) => {
        await scramUntilConnack(peer);
        await peer.write({ type: "connack", sessionPresent: false, returnCode: 0 });
        await expectAuth(peer);
        if (who === "onAuth never settles") await peer.write(challenge("r=c2s2"));
        await peer.clientClosed;
      }, async (broker) => {
        let step = 0;
        const client = authClient(
          broker,
          (c) => step++ === 0 ? scram([])(c) : new Promise<Uint8Array>(() => {}),
          { connectTimeout: 300 },
        );
        await client.connect();
        await assert.rejects(client.reauthenticate(), (e: unknown) => {
          assert.ok(e instanceof MQTTConnectionError, String(e));
          assert.match(
            e.message,
            /^Re-authentication failed: not ended within 300 ms \(connectTimeout\)/,
          );
          return true;
        });
        await closedWith(broker.peers[0], 0x80);
        assert.equal(client.connected, false);
        // Not "a re-authentication is under way" for good: the client is free again.
        await assert.rejects(
          client.reauthenticate(),
          /^MQTTConnectionError: Cannot reauthenticate: /,
        );
      });
    },
    TIMEOUT,
  );
}

let authBroker: HostileBroker | undefined;

test(
  "with an Authentication Method nothing but AUTH goes before CONNACK: a PUBREC of the last connection's message waits (MQTT-3.1.2-30)",
  async () => {
    const METHOD = "SCRAM-SHA-256";
    const bytes = (s: string) => new TextEncoder().encode(s);
    let handled!: () => void;
    const messageHandled = new Promise<void>((r) => handled = r);
    const q2 = {
      type: "publish",
      topic: "t",
      payload: bytes("q2"),
      qos: 2,
      retain: false,
      packetId: 7,
    } as const;
    await withHostileBroker(async (peer) => {
      await peer.expect("connect");
      const n = authBroker!.peers.indexOf(peer);
      if (n === 0) {
        await peer.write({ type: "connack", sessionPresent: false, returnCode: 0 });
        await peer.write({ ...q2, dup: false });
        // Lost before the client handled it.
        peer.end();
        return;
      }
      // The second connection: its CONNECT is read; the application handles the message now.
      await messageHandled;
      await peer.write({
        type: "auth",
        reasonCode: 0x18,
        properties: { authenticationMethod: METHOD, authenticationData: bytes("challenge") },
      });
      const before: string[] = [];
      for (let p = await peer.next(); p.type !== "auth"; p = await peer.next()) before.push(p.type);
      await peer.write({ type: "connack", sessionPresent: true, returnCode: 0 });
      // The session's resend (MQTT-4.4.0-1) is answered: the message was handled.
      await peer.write({ ...q2, dup: true });
      const after: string[] = [];
      for (let p = await peer.next(); p.type !== "disconnect"; p = await peer.next()) {
        after.push(`${p.type} ${"packetId" in p ? p.packetId : ""}`);
      }
      assert.deepEqual(before, [], "packets other than AUTH before CONNACK");
      assert.deepEqual(after, ["pubrec 7"]);
    }, async (b) => {
      authBroker = b;
      const client = new MQTTClient(uniqueId("auth-pubrec"), b.url, {
        protocolVersion: 5,
        authenticationMethod: METHOD,
        onAuth: () => bytes("answer"),
        sessionExpiryInterval: 60,
      });
      const lost = new Promise((r) => client.addEventListener("disconnected", r, { once: true }));
      await client.connect(false);
      await lost;
      const connecting = client.connect(false);
      await new Promise((r) => setTimeout(r, 100)); // its CONNECT is out
      const m = await client.check_msg();
      assert.equal(m?.qos, 2);
      await new Promise((r) => setTimeout(r, 50));
      handled();
      assert.equal(await connecting, true);
      await new Promise((r) => setTimeout(r, 100)); // the resend is answered
      await client.disconnect();
      for (const peer of b.peers) await peer.clientClosed;
    });
  },
  TIMEOUT,
);

test(
  "an AUTH 0x18 during CONNECT to a client with onAuth but no authenticationMethod: DISCONNECT 0x82, onAuth not called",
  async () => {
    await withHostileBroker(async (peer) => {
      await peer.expect("connect");
      await peer.write({ type: "auth", reasonCode: 0x18 });
      await peer.clientClosed;
    }, async (broker) => {
      let calls = 0;
      const client = new MQTTClient(uniqueId("nomethod"), broker.url, {
        protocolVersion: 5,
        onAuth: () => (calls++, bytes("answer")),
      });
      await connectFails(client, broker, 0x82, (e) => {
        assert.match(String(e.cause), /this client asked for no enhanced authentication/);
      });
      assert.equal(calls, 0);
    });
  },
  TIMEOUT,
);

test(
  "an AUTH 0x18 of the client's method when it has no onAuth: DISCONNECT 0x8C (bad authentication method)",
  async () => {
    await withHostileBroker(async (peer) => {
      await peer.expect("connect");
      await peer.write(challenge("r=c1s1,s=salt,i=4096"));
      await peer.clientClosed;
    }, async (broker) => {
      const client = new MQTTClient(uniqueId("noonauth"), broker.url, {
        protocolVersion: 5,
        authenticationMethod: METHOD,
      });
      await connectFails(client, broker, 0x8c, (e) => {
        assert.match(String(e.cause), /no onAuth to answer it/);
      });
    });
  },
  TIMEOUT,
);

test("a re-authentication that succeeded leaves none under way: the next one goes", async () => {
  await withHostileBroker(async (peer) => {
    await scramUntilConnack(peer);
    await peer.write({ type: "connack", sessionPresent: false, returnCode: 0 });
    for (const round of ["r=c2", "r=c3"]) {
      assert.equal((await expectAuth(peer)).data, `n,,n=user,${round}`);
      await peer.write({
        type: "auth",
        reasonCode: 0x00,
        properties: { authenticationMethod: METHOD },
      });
    }
    await peer.expect("disconnect");
  }, async (broker) => {
    const client = authClient(broker, scram([]));
    await client.connect();
    await client.reauthenticate(bytes("n,,n=user,r=c2"));
    await client.reauthenticate(bytes("n,,n=user,r=c3"));
    await client.disconnect();
    await broker.peers[0].clientClosed;
  });
}, TIMEOUT);

test(
  "Authentication Data never shows in an error: given as text, over 65535 bytes, to reauthenticate() or from onAuth",
  async () => {
    const SECRET = "tok-51c3-secret";
    const big = new Uint8Array(65536).fill(0x37); // "7777…": shown, it reads as "55,55,55,…"
    const shows = (e: unknown) => {
      assert.ok(e instanceof Error, String(e));
      const t = String(e);
      assert.ok(!t.includes(SECRET) && !t.includes("55,55"), `shows the data: ${t.slice(0, 200)}`);
      assert.match(t, /authenticationData/);
      return true;
    };
    // A JavaScript caller's mistake (text where bytes belong), and data too long for the field.
    for (const authenticationData of [SECRET as unknown as Uint8Array, big]) {
      assert.throws(
        () =>
          new MQTTClient(uniqueId("data"), "127.0.0.1", {
            protocolVersion: 5,
            authenticationMethod: METHOD,
            authenticationData,
          }),
        shows,
      );
    }
    await withHostileBroker(async (peer) => {
      const k = (await peer.expect("connect")).clientId;
      if (k.startsWith("onauth")) {
        await peer.write(challenge("r=c1s1"));
        return void await peer.clientClosed;
      }
      await peer.write({ type: "connack", sessionPresent: false, returnCode: 0 });
      await peer.expect("disconnect");
    }, async (broker) => {
      const client = authClient(broker, () => assert.fail("no challenge"));
      await client.connect();
      await assert.rejects(client.reauthenticate(big), shows);
      await client.disconnect();
      // The answer to a challenge: the error connect() rejects with says why, not what.
      const answering = new MQTTClient(uniqueId("onauth"), broker.url, {
        protocolVersion: 5,
        authenticationMethod: METHOD,
        onAuth: () => big,
      });
      await assert.rejects(answering.connect(), (e: unknown) => {
        assert.ok(e instanceof MQTTConnectionError, String(e));
        assert.match(e.message, /^Authentication failed: its AUTH cannot be sent/);
        return shows(e);
      });
      for (const peer of broker.peers) await peer.clientClosed;
    });
  },
  TIMEOUT,
);

test(
  "reauthenticate() resolves with the broker's AUTH 0x00: its final Authentication Data, for the application to verify",
  async () => {
    await withHostileBroker(async (peer) => {
      await scramUntilConnack(peer);
      await peer.write({ type: "connack", sessionPresent: false, returnCode: 0 });
      await expectAuth(peer);
      await peer.write(challenge("r=c2s2,s=salt,i=4096"));
      await expectAuth(peer);
      // The server-final (SCRAM's "v=" signature), as the CONNACK carries it after a CONNECT.
      await peer.write({
        type: "auth",
        reasonCode: 0x00,
        properties: {
          authenticationMethod: METHOD,
          authenticationData: bytes("v=c2-signature"),
          reasonString: "re-authenticated",
        },
      });
      await peer.expect("disconnect");
    }, async (broker) => {
      const client = authClient(broker, scram([]));
      await client.connect();
      const done = await client.reauthenticate(bytes("n,,n=user,r=c2"));
      assert.equal(text(done?.authenticationData), "v=c2-signature");
      assert.equal(done?.authenticationMethod, METHOD);
      assert.equal(done?.reasonString, "re-authenticated");
      await client.disconnect();
      await broker.peers[0].clientClosed;
    });
  },
  TIMEOUT,
);

test(
  "two challenges before the first is answered: onAuth runs one at a time, the answers go in their order",
  async () => {
    await withHostileBroker(async (peer) => {
      await peer.expect("connect");
      await peer.write(challenge("s1"), challenge("s2"));
      await expectAuth(peer), await expectAuth(peer);
      await peer.write({ type: "connack", sessionPresent: false, returnCode: 0 });
      await peer.expect("disconnect");
    }, async (broker) => {
      let running = 0, most = 0;
      const client = authClient(broker, async (c) => {
        most = Math.max(most, ++running);
        const data = text(c.authenticationData);
        // The first step takes longer: run together, its answer went second.
        await new Promise((r) => setTimeout(r, data === "s1" ? 100 : 1));
        running--;
        return bytes(`answer ${data}`);
      });
      await client.connect();
      const answers = broker.peers[0].received.filter((p) => p.type === "auth")
        .map((p) => text(p.properties?.authenticationData));
      assert.deepEqual(answers, ["answer s1", "answer s2"]);
      assert.equal(most, 1, "onAuth ran twice at once");
      await client.disconnect();
      await broker.peers[0].clientClosed;
    });
  },
  TIMEOUT,
);

test(
  "an AUTH 0x18 without an Authentication Method: the error says so and names the client's",
  async () => {
    await withHostileBroker(async (peer) => {
      await peer.expect("connect");
      await peer.write({
        type: "auth",
        reasonCode: 0x18,
        properties: { authenticationData: bytes("r=c1s1") },
      });
      await peer.clientClosed;
    }, async (broker) => {
      const client = authClient(broker, () => assert.fail("not for our method"));
      await connectFails(client, broker, 0x82, (e) => {
        assert.ok(e.cause instanceof MQTTProtocolError, String(e.cause));
        // Not "for method undefined".
        assert.equal(
          e.cause.message,
          "AUTH from the broker with reason 0x18 without an Authentication Method, not SCRAM-SHA-256 (MQTT-4.12.0-5)",
        );
      });
    });
  },
  TIMEOUT,
);

test(
  "an AUTH 0x19 from the broker to a client without onAuth: a protocol error (DISCONNECT 0x82), not a want of onAuth",
  async () => {
    await withHostileBroker(async (peer) => {
      await peer.expect("connect");
      await peer.write({ ...challenge("r=1"), reasonCode: 0x19 });
      await peer.clientClosed;
    }, async (broker) => {
      const client = new MQTTClient(uniqueId("noonauth"), broker.url, {
        protocolVersion: 5,
        authenticationMethod: METHOD,
      });
      await connectFails(client, broker, 0x82, (e) => {
        assert.match(
          String(e.cause),
          /with reason 0x19 for method SCRAM-SHA-256 \(MQTT-4\.12\.0-2\)/,
        );
      });
    });
  },
  TIMEOUT,
);

for (const end of ["CONNACK", "AUTH 0x00"] as const) {
  test(
    `the broker ends the exchange (${end}) while onAuth answers its challenge: the answer is not sent, the connection stays`,
    async () => {
      let started!: () => void, release!: () => void, answered!: () => void;
      const onAuthStarted = new Promise<void>((r) => started = r);
      const released = new Promise<void>((r) => release = r);
      const settled = new Promise<void>((r) => answered = r);
      const ending = end === "CONNACK"
        ? { type: "connack" as const, sessionPresent: false, returnCode: 0 }
        : { type: "auth" as const, reasonCode: 0, properties: { authenticationMethod: METHOD } };
      await withHostileBroker(async (peer) => {
        await peer.expect("connect");
        if (end === "AUTH 0x00") {
          await peer.write({ type: "connack", sessionPresent: false, returnCode: 0 });
          await expectAuth(peer); // 0x19
        }
        await peer.write(challenge("r=late"));
        await onAuthStarted;
        await peer.write(ending);
        // An AUTH 0x18 now would answer no exchange: mosquitto closes with 0x82 over one.
        await peer.expect("pingreq");
        await peer.write({ type: "pingresp" });
        await peer.expect("disconnect");
      }, async (broker) => {
        const client = authClient(broker, async () => {
          started();
          await released;
          answered();
          // Answered, or failed: either is too late to count.
          if (end === "AUTH 0x00") throw new Error("too late to matter");
          return bytes("c=late");
        }, { connectTimeout: 5000 });
        await client.connect();
        if (end === "AUTH 0x00") await client.reauthenticate(bytes("n,,n=user,r=c2"));
        release();
        await settled;
        await client.ping(); // behind what onAuth's answer would have written
        assert.equal(client.connected, true);
        await client.disconnect();
        await broker.peers[0].clientClosed;
        const types = broker.peers[0].received.map((p) =>
          `${p.type} ${"reasonCode" in p ? p.reasonCode : ""}`
        );
        assert.equal(types.filter((t) => t === "auth 24").length, 0, types.join());
      });
    },
    TIMEOUT,
  );
}

test(
  "onAuth answers an ArrayBuffer (what crypto.subtle.sign gives): the error names it, not 'object'",
  async () => {
    await withHostileBroker(async (peer) => {
      await peer.expect("connect");
      await peer.write(challenge("r=c1s1,s=salt,i=4096"));
      await peer.clientClosed;
    }, async (broker) => {
      const key = await crypto.subtle.importKey(
        "raw",
        bytes("key"),
        { name: "HMAC", hash: "SHA-256" },
        false,
        ["sign"],
      );
      const client = authClient(
        broker,
        // Bytes, but not a Uint8Array: the application forgot to wrap them.
        (c) =>
          crypto.subtle.sign("HMAC", key, new Uint8Array(c.authenticationData!)) as Promise<never>,
      );
      await connectFails(client, broker, 0x80, (e) => {
        assert.match(
          e.message,
          /^Authentication failed: onAuth answered ArrayBuffer, not a Uint8Array \(new Uint8Array\(buffer\) wraps one\)$/,
        );
      });
    });
  },
  TIMEOUT,
);

test(
  "a re-authentication refused with a CONNACK 0x87, as mosquitto 2.0 does: it rejects saying the broker refused, DISCONNECT 0x82",
  async () => {
    await withHostileBroker(async (peer) => {
      await scramUntilConnack(peer);
      await peer.write({ type: "connack", sessionPresent: false, returnCode: 0 });
      await expectAuth(peer); // 0x19
      // mosquitto's handle__auth answers a refused re-authentication with send__connack(0x87).
      await peer.write({ type: "connack", sessionPresent: false, returnCode: 0x87 });
      await peer.clientClosed;
    }, async (broker) => {
      const client = authClient(broker, scram([]));
      await client.connect();
      await assert.rejects(client.reauthenticate(bytes("n,,n=user,r=c2")), (e: unknown) => {
        assert.ok(e instanceof MQTTConnectionError, String(e));
        // Not only "A second CONNACK": what the broker said, which is all the application has.
        assert.match(
          e.message,
          /A second CONNACK on one connection, refusing: Not authorized \(CONNACK reason code 0x87\) \(MQTT-3\.2\.0-1\)$/,
        );
        return true;
      });
      await closedWith(broker.peers[0], 0x82);
    });
  },
  TIMEOUT,
);

test(
  "an onAuth of an exchange the broker ended that never settles holds up no later exchange",
  async () => {
    let started!: () => void;
    const firstAsked = new Promise<void>((r) => started = r);
    await withHostileBroker(async (peer) => {
      await scramUntilConnack(peer);
      await peer.write({ type: "connack", sessionPresent: false, returnCode: 0 });
      await expectAuth(peer); // 0x19
      // The exchange ends while its onAuth is still working.
      await peer.write(challenge("r=first"));
      await firstAsked;
      await peer.write({
        type: "auth",
        reasonCode: 0,
        properties: { authenticationMethod: METHOD },
      });
      await expectAuth(peer); // the second re-authentication's 0x19
      await peer.write(challenge("r=second"));
      assert.equal((await expectAuth(peer)).data, "answer r=second");
      await peer.write({
        type: "auth",
        reasonCode: 0,
        properties: { authenticationMethod: METHOD },
      });
      await peer.expect("disconnect");
    }, async (broker) => {
      let step = 0;
      const client = authClient(broker, (c) => {
        if (step++ === 0) return scram([])(c); // the CONNECT's
        const data = text(c.authenticationData);
        if (data !== "r=first") return bytes(`answer ${data}`);
        started();
        return new Promise<Uint8Array>(() => {});
      }, { connectTimeout: 2000 });
      await client.connect();
      await client.reauthenticate();
      await client.reauthenticate();
      await client.disconnect();
      await broker.peers[0].clientClosed;
    });
  },
  TIMEOUT,
);

// Secrets are commonly wiped once handed over (`bytes.fill(0)`): kept by reference, the next
// CONNECT sent the zeros.
test(
  "a password and authenticationData given as bytes are the client's copies: wiping the caller's buffers changes no CONNECT",
  async () => {
    await withHostileBroker(async (peer) => {
      const connect = await acceptConnect(peer);
      assert.equal(text(connect.password), "s3cret");
      assert.equal(text(connect.properties?.authenticationData), "n,,n=user,r=c1");
      await peer.expect("disconnect");
    }, async (broker) => {
      const password = bytes("s3cret"), first = bytes("n,,n=user,r=c1");
      const client = authClient(broker, scram([]), {
        user: "user",
        password,
        authenticationData: first,
      });
      password.fill(0);
      first.fill(0);
      await client.connect();
      await client.disconnect();
      await broker.peers[0].clientClosed;
    });
  },
  TIMEOUT,
);

test(
  "onAuth gets the Reason String and User Properties of the broker's AUTH when it sent them",
  async () => {
    const seen: AuthChallenge[] = [];
    await withHostileBroker(async (peer) => {
      await peer.expect("connect");
      await peer.write({
        type: "auth",
        reasonCode: 0x18,
        properties: {
          authenticationMethod: METHOD,
          authenticationData: bytes("r=c1s1,s=salt,i=4096"),
          reasonString: "server-first",
          userProperties: [["step", "1"], ["step", "again"]],
        },
      });
      await expectAuth(peer);
      await peer.write({ type: "connack", sessionPresent: false, returnCode: 0 });
      await peer.expect("disconnect");
    }, async (broker) => {
      const client = authClient(broker, scram(seen));
      await client.connect();
      assert.deepEqual(seen, [{
        reasonCode: 0x18,
        authenticationMethod: METHOD,
        authenticationData: bytes("r=c1s1,s=salt,i=4096"),
        reasonString: "server-first",
        userProperties: [["step", "1"], ["step", "again"]],
      }]);
      await client.disconnect();
      await broker.peers[0].clientClosed;
    });
  },
  TIMEOUT,
);

// "no CONNACK within N ms" alone blamed the broker, which was waiting for onAuth's answer.
for (const who of ["onAuth never settles", "the broker never answers"]) {
  test(
    `the connect timeout while ${who}: the error ${
      who.startsWith("onAuth") ? "says onAuth had not answered" : "blames no onAuth"
    }`,
    async () => {
      await withHostileBroker(async (peer) => {
        await peer.expect("connect");
        await peer.write(challenge("r=c1s1,s=salt,i=4096"));
        await peer.clientClosed;
      }, async (broker) => {
        const client = authClient(
          broker,
          who.startsWith("onAuth") ? () => new Promise<Uint8Array>(() => {}) : scram([]),
          { connectTimeout: 300 },
        );
        await assert.rejects(client.connect(), (e: unknown) => {
          assert.ok(e instanceof MQTTConnectionError, String(e));
          assert.match(
            e.message,
            who.startsWith("onAuth")
              ? /timed out: no CONNACK within 300 ms: onAuth had not answered the broker's AUTH$/
              : /timed out: no CONNACK within 300 ms$/,
          );
          return true;
        });
        await broker.peers[0].clientClosed;
      });
    },
    TIMEOUT,
  );
}

// The hint is of the attempt that timed out: an onAuth left unanswered on an earlier connection
// (ended by the broker) says nothing of a later attempt whose transport never opened.
test(
  "an onAuth left unanswered on an earlier connection: a later attempt that never opens is not blamed on it",
  async () => {
    await withHostileBroker(async (peer) => {
      await peer.expect("connect");
      await peer.write(challenge("r=c1s1,s=salt,i=4096"));
      peer.end(); // the broker gives up on the exchange
      await peer.clientClosed;
    }, async (broker) => {
      let opened = 0;
      const client = authClient(broker, () => new Promise<Uint8Array>(() => {}), {
        connectTimeout: 300,
        transport: () =>
          opened++ === 0
            ? connectNode({ hostname: broker.host, port: broker.port })
            : new Promise(() => {}), // a handshake that never ends
      });
      await assert.rejects(client.connect(), /Connection closed by the broker before its CONNACK/);
      await assert.rejects(client.connect(), (e: unknown) => {
        assert.ok(e instanceof MQTTConnectionError, String(e));
        assert.match(
          e.message,
          /timed out: not open \(TCP, TLS or WebSocket handshake\) within 300 ms$/,
        );
        return true;
      });
    });
  },
  TIMEOUT,
);

// A static first step repeats itself on every connection: for SCRAM, the client nonce.
test(
  "authenticationData given as a function is asked on each attempt: the robust client's reconnect sends a new first step, and onAuth answers for it",
  async () => {
    const firsts: (string | undefined)[] = [];
    await withHostileBroker(async (peer) => {
      const connect = await peer.expect("connect");
      const first = text(connect.properties?.authenticationData);
      firsts.push(first);
      const nonce = first?.split("r=")[1];
      await peer.write(challenge(`r=${nonce}s,s=salt,i=4096`));
      assert.equal((await expectAuth(peer)).data, `c=biws,r=${nonce}s,p=proof`);
      await peer.write({ type: "connack", sessionPresent: false, returnCode: 0 });
      if (firsts.length === 1) peer.end(); // lost: the client reconnects
      else await peer.expect("disconnect");
      await peer.clientClosed;
    }, async (broker) => {
      let n = 0;
      const client = new RobustClient(uniqueId("auth"), broker.url, {
        protocolVersion: 5,
        authenticationMethod: METHOD,
        // Each attempt's own client nonce.
        authenticationData: () => Promise.resolve(bytes(`n,,n=user,r=nonce${++n}`)),
        onAuth: scram([]),
      });
      client.DELAY = 0;
      const again = new Promise((r) => client.addEventListener("connected", r));
      await client.connect();
      await again; // the first connection's
      const reconnected = new Promise((r) => client.addEventListener("connected", r));
      await reconnected;
      assert.deepEqual(firsts, ["n,,n=user,r=nonce1", "n,,n=user,r=nonce2"]);
      await client.disconnect();
      await broker.peers[1].clientClosed;
    });
  },
  TIMEOUT,
);

test(
  "an authenticationData function that answers no bytes: connect() rejects naming it, before any connection",
  async () => {
    await withHostileBroker(async (peer) => {
      await peer.clientClosed;
    }, async (broker) => {
      const client = authClient(broker, scram([]), {
        authenticationData: (() => "n,,n=user") as unknown as () => Uint8Array,
      });
      await assert.rejects(
        client.connect(),
        /^TypeError: Invalid authenticationData: the authenticationData function returned string, not a Uint8Array$/,
      );
      assert.equal(broker.peers.length, 0);
    });
  },
  TIMEOUT,
);
