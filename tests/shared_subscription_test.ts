// Shared subscriptions, `$share/{group}/{filter}`: what the client accepts and
// refuses (MQTT 5.0 section 4.8.2, served to 3.1.1 clients too) and how
// topicMatches reads them.
import assert from "node:assert/strict";
import { MQTTClient, topicMatches, validateTopicFilter } from "../mod.ts";
import { test } from "./_test.ts";

test("$share filters: well-formed ones are accepted, the filter after the group as any filter", () => {
  for (
    const filter of [
      "$share/g/a",
      "$share/g/+",
      "$share/g/#",
      "$share/g/a/+/c/#",
      "$share/g//finance", // the filter "/finance": an empty first level
      "$share/g/$SYS/#",
      "$share/consumer-1.a_b~é/x",
      "$share/g/$share/h/x", // the filter "$share/h/x", nothing forbids it
      "$share", // no "/": an ordinary filter
      "$shared/x", // not the "$share/" prefix: an ordinary filter
      "a/$share/+",
    ]
  ) {
    validateTopicFilter(filter);
    validateTopicFilter(filter, "unsubscribe");
  }
});

const malformed: [string, string][] = [
  [
    "$share/a+b/x",
    `Cannot subscribe to "$share/a+b/x": a shared subscription's group name must not contain "/", "+" or "#" (MQTT-4.8.2-2)`,
  ],
  [
    "$share/#/x",
    `Cannot subscribe to "$share/#/x": a shared subscription's group name must not contain "/", "+" or "#" (MQTT-4.8.2-2)`,
  ],
  [
    "$share/+/x",
    `Cannot subscribe to "$share/+/x": a shared subscription's group name must not contain "/", "+" or "#" (MQTT-4.8.2-2)`,
  ],
  [
    "$share/#",
    `Cannot subscribe to "$share/#": a shared subscription's group name must not contain "/", "+" or "#" (MQTT-4.8.2-2)`,
  ],
  [
    "$share//x",
    `Cannot subscribe to "$share//x": a shared subscription's group name must be at least one character (MQTT-4.8.2-1)`,
  ],
  [
    "$share/",
    `Cannot subscribe to "$share/": a shared subscription's group name must be at least one character (MQTT-4.8.2-1)`,
  ],
  [
    "$share/group",
    `Cannot subscribe to "$share/group": a shared subscription's group name must be followed by "/" and a topic filter (MQTT-4.8.2-2)`,
  ],
  [
    "$share/group/",
    `Cannot subscribe to "$share/group/": a shared subscription's group name must be followed by "/" and a topic filter (MQTT-4.8.2-2)`,
  ],
  [
    "$share/g/a+",
    `Cannot subscribe to "$share/g/a+": "+" must occupy a whole level (MQTT-4.7.1-3)`,
  ],
  [
    "$share/g/#/a",
    `Cannot subscribe to "$share/g/#/a": "#" must be the last character and a whole level (MQTT-4.7.1-2)`,
  ],
];

test("$share filters: each malformed one is refused with the rule it breaks", () => {
  for (const [filter, message] of malformed) {
    assert.throws(() => validateTopicFilter(filter), { name: "TypeError", message });
    assert.throws(() => validateTopicFilter(filter, "unsubscribe"), {
      name: "TypeError",
      message: message.replace("Cannot subscribe", "Cannot unsubscribe"),
    });
  }
});

test("subscribe and unsubscribe reject a malformed $share filter before any byte", async () => {
  let opened = 0;
  const client = new MQTTClient("share-args", "127.0.0.1", {
    transport: () => {
      opened++;
      throw new Error("no network in this test");
    },
  });
  for (const [filter, message] of malformed) {
    await assert.rejects(client.subscribe(filter, 1), { name: "TypeError", message });
    await assert.rejects(client.subscribe([["ok", 0], [filter, 1]]), { message });
    await assert.rejects(client.unsubscribe(filter), {
      name: "TypeError",
      message: message.replace("Cannot subscribe", "Cannot unsubscribe"),
    });
  }
  assert.equal(opened, 0, "the transport was never opened");
});

test("topicMatches reads $share/{group}/{filter} as its filter", () => {
  const table: [string, string, boolean][] = [
    ["$share/g/a/+", "a/b", true],
    ["$share/g/a/+", "a/b/c", false],
    ["$share/g/a/#", "a", true],
    ["$share/g/#", "a/b", true],
    ["$share/g/#", "$SYS/x", false], // MQTT-4.7.2-1 applies to the filter after the group
    ["$share/g/$SYS/#", "$SYS/x", true],
    ["$share/g//finance", "/finance", true],
    ["$share/g/x", "$share/g/x", false], // the group's filter is "x"
    // malformed: match nothing
    ["$share/g", "g", false],
    ["$share/g/", "", false],
    ["$share//x", "x", false],
    ["$share/+/x", "x", false],
    // not the "$share/" prefix: ordinary filters
    ["$share", "$share", true],
    ["$shared/x", "$shared/x", true],
  ];
  for (const [filter, topic, expected] of table) {
    assert.equal(topicMatches(filter, topic), expected, `${filter} vs ${topic}`);
  }
});
