/**
 * Topic names and topic filters: validation and matching (MQTT 3.1.1
 * section 4.7).
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
  if (typeof topic !== "string") {
    throw new TypeError(`Cannot ${what}: the topic must be a string, got ${typeof topic}`);
  }
  if (topic.length === 0) {
    throw new TypeError(
      `Cannot ${what} to "": a topic must be at least one character (MQTT-4.7.3-1)`,
    );
  }
  if (topic.includes("+") || topic.includes("#")) {
    throw new TypeError(
      `Cannot ${what} to "${topic}": a topic name must not contain wildcards (MQTT-3.3.2-2)`,
    );
  }
}

/**
 * Throws unless `filter` is a valid topic filter: non-empty, `#` only as the
 * whole last level, `+` only as a whole level.
 *
 * @param filter The topic filter.
 * @param what How the error names the operation, e.g. `"subscribe"`.
 * @throws {TypeError} When the filter is not a string, is empty or misuses a wildcard.
 *
 * @example
 * ```ts
 * import { validateTopicFilter } from "@umqtt/umqtt";
 * validateTopicFilter("a/+/c/#");
 * ```
 */
export function validateTopicFilter(filter: string, what = "subscribe"): void {
  if (typeof filter !== "string") {
    throw new TypeError(`Cannot ${what}: the topic filter must be a string, got ${typeof filter}`);
  }
  if (filter.length === 0) {
    throw new TypeError(
      `Cannot ${what} to "": a topic filter must be at least one character (MQTT-4.7.3-1)`,
    );
  }
  const hash = filter.indexOf("#");
  if (hash !== -1 && (hash !== filter.length - 1 || (hash > 0 && filter[hash - 1] !== "/"))) {
    throw new TypeError(
      `Cannot ${what} to "${filter}": "#" must be the last character and a whole level (MQTT-4.7.1-2)`,
    );
  }
  for (let i = filter.indexOf("+"); i !== -1; i = filter.indexOf("+", i + 1)) {
    if ((i > 0 && filter[i - 1] !== "/") || (i < filter.length - 1 && filter[i + 1] !== "/")) {
      throw new TypeError(
        `Cannot ${what} to "${filter}": "+" must occupy a whole level (MQTT-4.7.1-3)`,
      );
    }
  }
}

/**
 * Tells whether a topic name matches a topic filter, by MQTT's rules: `+`
 * matches one level, `#` the parent level and any below, and a filter that
 * starts with a wildcard does not match topics that start with `$`
 * (MQTT-4.7.2-1).
 *
 * @param filter A topic filter, e.g. `"sensors/+/temp"` or `"sensors/#"`.
 * @param topic A topic name, e.g. `"sensors/kitchen/temp"`.
 * @returns Whether a subscription to `filter` receives messages published to `topic`.
 *
 * @example
 * ```ts
 * import { topicMatches } from "@umqtt/umqtt";
 * console.assert(topicMatches("a/#", "a"));
 * console.assert(topicMatches("+/+", "/finance"));
 * console.assert(!topicMatches("a/+", "a/b/c"));
 * ```
 */
export function topicMatches(filter: string, topic: string): boolean {
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
