// MQTT 5 properties on the command line: `-D COMMAND PROPERTY VALUE`, by
// mosquitto_pub/mosquitto_sub's names for commands and properties, checked
// as mosquitto 2.0 checks them (client/client_props.c,
// mosquitto_property_check_command) and kept as the client's options.
import type {
  DisconnectOptions,
  MQTTClientOptions,
  PublishProperties,
  UserProperty,
  WillProperties,
} from "../../mod.ts";

/** What `-D` sets properties of: the packets umqtt pub and sub send, and the will. */
export type Command = "connect" | "publish" | "subscribe" | "unsubscribe" | "disconnect" | "will";

/** The commands, in the order --help and the errors list them. */
export const COMMANDS: readonly Command[] = [
  "connect",
  "publish",
  "subscribe",
  "unsubscribe",
  "disconnect",
  "will",
];

/** CONNECT's properties, as the client's constructor takes them. */
export type ConnectProperties = Pick<
  MQTTClientOptions,
  | "sessionExpiryInterval"
  | "receiveMaximum"
  | "topicAliasMaximum"
  | "maxPacketSize"
  | "requestResponseInformation"
  | "requestProblemInformation"
  | "userProperties"
  | "authenticationMethod"
  | "authenticationData"
>;

/** The properties `-D` gave, per command, under the client's option names. */
export interface Properties {
  connect: ConnectProperties;
  /** `topicAlias` only says that one was asked for: the client numbers its aliases itself. */
  publish: PublishProperties & { topicAlias?: number };
  subscribe: { subscriptionIdentifier?: number; userProperties?: UserProperty[] };
  unsubscribe: { userProperties?: UserProperty[] };
  disconnect: Omit<DisconnectOptions, "reasonCode">;
  will: WillProperties;
}

/** No properties yet. */
export function noProperties(): Properties {
  return { connect: {}, publish: {}, subscribe: {}, unsubscribe: {}, disconnect: {}, will: {} };
}

type Value = "bool" | "int" | "string" | "binary" | "topic" | "pair";

interface Spec {
  /** The client's name for it (`maxPacketSize` is the constructor option that sends it). */
  key: string;
  value: Value;
  /** For "int": the range the client accepts. */
  min?: number;
  max?: number;
  commands: Command[];
}

const MESSAGE: Command[] = ["publish", "will"];

/** The properties -D may set, by mosquitto's names, with the commands that may carry each. */
const SPECS: Record<string, Spec> = {
  "payload-format-indicator": { key: "payloadFormatIndicator", value: "bool", commands: MESSAGE },
  "message-expiry-interval": {
    key: "messageExpiryInterval",
    value: "int",
    min: 0,
    max: 0xffffffff,
    commands: MESSAGE,
  },
  "content-type": { key: "contentType", value: "string", commands: MESSAGE },
  "response-topic": { key: "responseTopic", value: "topic", commands: MESSAGE },
  "correlation-data": { key: "correlationData", value: "binary", commands: MESSAGE },
  "subscription-identifier": {
    key: "subscriptionIdentifier",
    value: "int",
    min: 1,
    max: 268_435_455,
    commands: ["subscribe"],
  },
  "session-expiry-interval": {
    key: "sessionExpiryInterval",
    value: "int",
    min: 0,
    max: 0xffffffff,
    commands: ["connect", "disconnect"],
  },
  "authentication-method": { key: "authenticationMethod", value: "string", commands: ["connect"] },
  "authentication-data": { key: "authenticationData", value: "binary", commands: ["connect"] },
  "request-problem-information": {
    key: "requestProblemInformation",
    value: "bool",
    commands: ["connect"],
  },
  "request-response-information": {
    key: "requestResponseInformation",
    value: "bool",
    commands: ["connect"],
  },
  "will-delay-interval": {
    key: "willDelayInterval",
    value: "int",
    min: 0,
    max: 0xffffffff,
    commands: ["will"],
  },
  "reason-string": { key: "reasonString", value: "string", commands: ["disconnect"] },
  "receive-maximum": {
    key: "receiveMaximum",
    value: "int",
    min: 1,
    max: 65535,
    commands: ["connect"],
  },
  "topic-alias-maximum": {
    key: "topicAliasMaximum",
    value: "int",
    min: 0,
    max: 65535,
    commands: ["connect"],
  },
  // The client's limit: 2 bytes is the smallest packet, 268 435 460 the largest there can be.
  "maximum-packet-size": {
    key: "maxPacketSize",
    value: "int",
    min: 2,
    max: 268_435_460,
    commands: ["connect"],
  },
  "topic-alias": { key: "topicAlias", value: "int", min: 1, max: 65535, commands: ["publish"] },
  "user-property": { key: "userProperties", value: "pair", commands: COMMANDS.slice() },
};

/** Names mosquitto knows for properties that only a broker sends. */
const BROKER_ONLY = new Set([
  "assigned-client-identifier",
  "server-keep-alive",
  "response-information",
  "server-reference",
  "maximum-qos",
  "retain-available",
  "wildcard-subscription-available",
  "subscription-identifier-available",
  "shared-subscription-available",
]);

/** The property names `command` takes, for error messages and --help. */
export function propertiesOf(command: Command): string[] {
  return Object.keys(SPECS).filter((n) => SPECS[n].commands.includes(command));
}

/** A bad -D; the message names the command, property or value and what was expected. */
export class PropertyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PropertyError";
  }
}

const enc = new TextEncoder();

/**
 * Reads one `-D COMMAND PROPERTY VALUE` (`user-property` takes a NAME and a
 * VALUE) from `args` at `at` into `props`; names are matched regardless of
 * case, as mosquitto does.
 *
 * @returns How many arguments it took.
 * @throws {PropertyError} Too few arguments, an unknown command or property, a property the
 * command does not carry, a bad value, or a property other than user-property given twice.
 */
export function takeProperty(flag: string, args: string[], at: number, props: Properties): number {
  const [commandArg, nameArg] = [args[at], args[at + 1]];
  if (commandArg === undefined) throw new PropertyError(`${flag} needs COMMAND PROPERTY VALUE`);
  const command = commandArg.toLowerCase() as Command;
  if (!COMMANDS.includes(command)) {
    throw new PropertyError(
      `${flag} ${commandArg}: expected a command: ${COMMANDS.slice(0, -1).join(", ")} or will`,
    );
  }
  const takes = `${command} takes ${propertiesOf(command).join(", ")}`;
  if (nameArg === undefined) {
    throw new PropertyError(`${flag} ${command} needs PROPERTY VALUE; ${takes}`);
  }
  const name = nameArg.toLowerCase();
  const spec = Object.hasOwn(SPECS, name) ? SPECS[name] : undefined;
  if (!spec || !spec.commands.includes(command)) {
    const why = BROKER_ONLY.has(name)
      ? "only a broker sends it"
      : spec
      ? `not a property of ${command}`
      : "unknown property";
    throw new PropertyError(`${flag} ${command} ${nameArg}: ${why}; ${takes}`);
  }
  const into = props[command] as Record<string, unknown>;
  const what = `${flag} ${command} ${name}`;
  if (spec.value === "pair") {
    if (at + 3 >= args.length) throw new PropertyError(`${what} needs a NAME and a VALUE`);
    ((into[spec.key] ??= []) as UserProperty[]).push([args[at + 2], args[at + 3]]);
    return 4;
  }
  if (at + 2 >= args.length) throw new PropertyError(`${what} needs a VALUE`);
  if (into[spec.key] !== undefined) {
    throw new PropertyError(`${what}: given twice; only user-property may repeat`);
  }
  into[spec.key] = propertyValue(what, spec, args[at + 2]);
  return 3;
}

function propertyValue(what: string, spec: Spec, v: string): unknown {
  switch (spec.value) {
    case "bool":
      if (v !== "0" && v !== "1") throw new PropertyError(`${what} ${v}: must be 0 or 1`);
      return v === "1";
    case "int": {
      const n = /^\d+$/.test(v) ? Number(v) : NaN;
      if (!(n >= spec.min! && n <= spec.max!)) {
        throw new PropertyError(`${what} ${v}: must be an integer from ${spec.min} to ${spec.max}`);
      }
      return n;
    }
    case "topic":
      if (v === "" || v.includes("+") || v.includes("#")) {
        throw new PropertyError(
          `${what} "${v}": must be a topic name, not empty and without + or # (MQTT-3.3.2-14)`,
        );
      }
      return v;
    case "binary": {
      // Binary data given as text, as mosquitto takes it: its UTF-8 bytes.
      const bytes = enc.encode(v);
      if (bytes.length > 65535) {
        throw new PropertyError(`${what}: ${bytes.length} bytes, over the limit of 65535`);
      }
      return spec.key === "correlationData" ? v : bytes;
    }
    default:
      return v;
  }
}

/** Whether any -D was given for `command`. */
export function hasProperties(props: Properties, command: Command): boolean {
  return Object.keys(props[command]).length > 0;
}

/** Whether any -D was given at all. */
export function anyProperties(props: Properties): boolean {
  return COMMANDS.some((c) => hasProperties(props, c));
}

// ---- names for output: -d and %j ----------------------------------------

/** camelCase property names whose mosquitto name is not simply their kebab-case. */
const ODD_NAMES: Record<string, string> = {
  maximumQoS: "maximum-qos",
  subscriptionIdentifiers: "subscription-identifier",
  subscriptionIdentifiersAvailable: "subscription-identifier-available",
  userProperties: "user-property",
};

/** mosquitto's name for a property the codec names in camelCase (`contentType` → `content-type`). */
export function mosquittoName(key: string): string {
  return ODD_NAMES[key] ?? key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}
