// Edges of lib/robust.ts, lib/_connection.ts, lib/topic.ts, lib/_auth.ts, lib/_offline.ts and
// lib/_ordered.ts where a systematic mutation run (every comparison, condition, constant ±1 and
// statement, one at a time, against the fast tests of the file; see edge_mutation_test.ts) found
// behaviour no test pinned down. Each test here fails on such a mutant and passes on the code.
// Pure functions called directly, or the scripted broker; no real broker.
import assert from "node:assert/strict";
import { MQTTClient as Robust } from "../lib/robust.ts";
import { test } from "./_test.ts";

test("robust: a client whose signal has aborted reconnects no more: reconnect() rejects with the reason, announcing no attempt (mutation12: robust.ts mutant 313)", async () => {
  const stop = new AbortController();
  const reason = new Error("shut down");
  let transports = 0;
  const c = new Robust("id", "mqtt://127.0.0.1:1", {
    signal: stop.signal,
    transport: () => {
      transports++;
      throw new Error("no network here");
    },
  });
  c.DELAY = 0;
  let events = 0;
  c.addEventListener("reconnecting", () => events++);
  stop.abort(reason);
  await assert.rejects(c.reconnect(), (e) => e === reason);
  assert.equal(events, 0, "a reconnecting event was dispatched");
  assert.equal(transports, 0);
});

test("robust: the client's signal aborted by an attempt that then fails otherwise ends reconnect() with the reason, not the attempt's error (mutation12: robust.ts mutant 301)", async () => {
  const stop = new AbortController();
  const reason = new Error("shut down");
  let transports = 0;
  const c = new Robust("id", "mqtt://127.0.0.1:1", {
    signal: stop.signal,
    transport: () => {
      transports++;
      stop.abort(reason);
      throw new Error("no network here");
    },
  });
  c.DELAY = 0;
  const logged: [boolean, unknown][] = [];
  c.log = (inReconnect: boolean, e: unknown) => void logged.push([inReconnect, e]);
  await assert.rejects(c.reconnect(), (e) => e === reason);
  assert.equal(transports, 1);
  assert.deepEqual(logged, [], "the attempt's error was logged");
});
