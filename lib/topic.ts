/**
 * Topic names and topic filters: validation and matching (MQTT 3.1.1
 * section 4.7), shared subscriptions included (MQTT 5.0 section 4.8.2).
 *
 * @example
 * ```ts
 * import { topicMatches } from "@umqtt/umqtt";
 * console.assert(topicMatches("sensors/+/temp", "sensors/kitchen/temp"));
 * console.assert(!topicMatches("#", "$SYS/uptime")); // MQTT-4.7.2-1
 * ```
 *
 * @module
 */
import { typeName } from "./codec/_strings.ts";

/** What starts a shared subscription's filter: `$share/{group}/{filter}` (MQTT-4.8.2-1). */
const SHARE = "$share/";

// "Cannot publish to", "Cannot subscribe to", but "Cannot unsubscribe from".
const towards = (what: string): string =>
  what === "unsubscribe" ? "unsubscribe from" : `${what} to`;

/**
 * Throws unless `topic` is a valid topic name to publish to: non-empty, no
 * `+` or `#` wildcards. (Encoding limits — UTF-8, U+0000, 65535 bytes — are
 * checked when the packet is encoded.)
 *
 * @param topic The topic name.
 * @param what How the error names it, e.g. `"publish"`.
 * @throws {TypeError} When the topic is not a string, is empty or has a wildcard.
 *
 * @example
 * ```ts
 * import { validateTopicName } from "@umqtt/umqtt";
 * validateTopicName("a/b");
 * ```
 */
export function validateTopicName(topic: string, what = "publish"): void {
  checkNonEmpty(topic, what, "topic");
  if (topic.includes("+") || topic.includes("#")) {
    throw refusal(what, topic, "a topic name must not contain wildcards (MQTT-3.3.2-2)");
  }
}

/** Throws unless `t`, a `noun` ("topic", "topic filter") to `what`, is a string of at least one character. */
function checkNonEmpty(t: string, what: string, noun: string): void {
  if (typeof t !== "string") {
    throw new TypeError(`Cannot ${what}: the ${noun} must be a string, got ${typeName(t)}`);
  }
  if (t.length === 0) {
    throw refusal(what, t, `a ${noun} must be at least one character (MQTT-4.7.3-1)`);
  }
}

/** The TypeError refusing to `what` the topic or filter `t`: `Cannot publish to "t": why`. */
function refusal(what: string, t: string, why: string): TypeError {
  return new TypeError(`Cannot ${towards(what)} "${t}": ${why}`);
}

/**
 * Throws unless `filter` is a valid topic filter: non-empty, `#` only as the
 * whole last level, `+` only as a whole level. A shared subscription,
 * `$share/{group}/{filter}` (MQTT 5.0 section 4.8.2, which mosquitto and
 * others also serve to MQTT 3.1.1 clients), needs a group name of at least
 * one character without `/`, `+` or `#`, followed by `/` and a filter that is
 * valid by the same rules.
 *
 * @param filter The topic filter.
 * @param what How the error names the operation, e.g. `"subscribe"`.
 * @throws {TypeError} When the filter is not a string, is empty, misuses a
 * wildcard, or is a malformed shared subscription.
 *
 * @example
 * ```ts
 * import { validateTopicFilter } from "@umqtt/umqtt";
 * validateTopicFilter("a/+/c/#");
 * validateTopicFilter("$share/workers/jobs/+"); // group "workers", filter "jobs/+"
 * let error = "";
 * try {
 *   validateTopicFilter("$share/a+b/x");
 * } catch (e) {
 *   error = (e as Error).message; // ... group name must not contain "/", "+" or "#" (MQTT-4.8.2-2)
 * }
 * if (!error.endsWith("(MQTT-4.8.2-2)")) throw new Error(`expected a refusal, got "${error}"`);
 * ```
 */
export function validateTopicFilter(filter: string, what = "subscribe"): void {
  checkNonEmpty(filter, what, "topic filter");
  let inner = filter;
  if (filter.startsWith(SHARE)) {
    const slash = filter.indexOf("/", SHARE.length);
    const group = filter.slice(SHARE.length, slash === -1 ? undefined : slash);
    const bad = (rule: string) =>
      refusal(what, filter, `a shared subscription's group name ${rule}`);
    if (group.length === 0) throw bad("must be at least one character (MQTT-4.8.2-1)");
    if (group.includes("+") || group.includes("#")) {
      throw bad(`must not contain "/", "+" or "#" (MQTT-4.8.2-2)`);
    }
    if (slash === -1 || slash === filter.length - 1) {
      throw bad(`must be followed by "/" and a topic filter (MQTT-4.8.2-2)`);
    }
    inner = filter.slice(slash + 1);
  }
  const hash = inner.indexOf("#");
  if (hash !== -1 && (hash !== inner.length - 1 || (hash > 0 && inner[hash - 1] !== "/"))) {
    throw refusal(what, filter, `"#" must be the last character and a whole level (MQTT-4.7.1-2)`);
  }
  for (let i = inner.indexOf("+"); i !== -1; i = inner.indexOf("+", i + 1)) {
    if ((i > 0 && inner[i - 1] !== "/") || (i < inner.length - 1 && inner[i + 1] !== "/")) {
      throw refusal(what, filter, `"+" must occupy a whole level (MQTT-4.7.1-3)`);
    }
  }
}

/**
 * Tells whether a topic name matches a topic filter, by MQTT's rules: `+`
 * matches one level, `#` the parent level and any below, and a filter that
 * starts with a wildcard does not match topics that start with `$`
 * (MQTT-4.7.2-1). A shared subscription, `$share/{group}/{filter}`, matches
 * what its `{filter}` matches. A malformed filter (see {@linkcode validateTopicFilter}) or topic
 * name (see {@linkcode validateTopicName}) matches nothing.
 *
 * @param filter A topic filter, e.g. `"sensors/+/temp"` or `"sensors/#"`.
 * @param topic A topic name, e.g. `"sensors/kitchen/temp"`.
 * @returns Whether a subscription to `filter` receives messages published to `topic`
 * (for a shared one: whether the group receives them; one member of it gets each).
 * @throws {TypeError} When `filter` or `topic` is not a string.
 *
 * @example
 * ```ts
 * import { topicMatches } from "@umqtt/umqtt";
 * console.assert(topicMatches("a/#", "a"));
 * console.assert(topicMatches("+/+", "/finance"));
 * console.assert(!topicMatches("a/+", "a/b/c"));
 * console.assert(topicMatches("$share/g/a/+", "a/b"));
 * ```
 */
export function topicMatches(filter: string, topic: string): boolean {
  try {
    validateTopicFilter(filter);
    validateTopicName(topic);
  } catch (e) {
    // What no one can subscribe to, or publish to, matches nothing; what is no string is an error.
    if (typeof filter == "string" && typeof topic == "string") return false;
    throw e;
  }
  if (filter.startsWith(SHARE)) filter = filter.slice(filter.indexOf("/", SHARE.length) + 1);
  if (topic.startsWith("$") && (filter[0] === "+" || filter[0] === "#")) return false;
  const f = filter.split("/");
  const t = topic.split("/");
  for (let i = 0; i < f.length; i++) {
    if (f[i] === "#") return true;
    if (i >= t.length) return false;
    if (f[i] !== "+" && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}
