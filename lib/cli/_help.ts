// The --help texts. Flags are mosquitto_pub/mosquitto_sub's, with their meaning.

const CONNECTION = `Connection:
  -h, --host HOST        broker host (default localhost)
  -p, --port PORT        broker port (default 1883; 8883 with TLS; 80/443 for ws/wss)
  -L, --url URL          mqtt://, mqtts://, ws:// or wss://[user[:password]@]host[:port]/topic
                         (user and password %-decoded; the topic taken as typed)
      --ws-path PATH     WebSocket path for ws:// and wss:// URLs (default /mqtt)
  -i, --id ID            client id (default umqtt-<command>-<random>)
  -I, --id-prefix P      client id: P followed by the process id
  -u, --username USER    user name
  -P, --pw PASSWORD      password (with MQTT 3.1.1 it needs -u)
  -k, --keepalive SECS   keep-alive interval, 0 to turn it off (default 60)
  -c, --disable-clean-session
                         persistent session (clean session off); needs -i,
                         except with -V 5 and a finite -x
  -V, --protocol-version V
                         mqttv311 (311, the default) or mqttv5 (5); MQTT 3.1 is not spoken
      --will-topic T     will: published by the broker if this client vanishes
      --will-payload M   will payload (default empty)
      --will-qos Q       will QoS 0, 1 or 2 (default 0)
      --will-retain      retain the will
TLS (certificate verification is always on):
      --cafile FILE      trust the CA certificates in FILE (PEM); turns TLS on
      --cert FILE        client certificate (PEM), with --key, for mutual TLS
      --key FILE         client private key (PEM)
Output:
  -d, --debug            print each packet in and out on stderr: type, flags, packet id,
                         topic, sizes, MQTT 5 reason codes and properties (never a payload,
                         a password, or correlation or authentication data: their lengths)
      --quiet            print no error messages
      --nodelay          taken, and nothing to do: Nagle's algorithm is always off
      --help             this text`;

const EXIT_CODES = `Exit codes:
  0   done (or stopped with Ctrl-C, after a clean DISCONNECT, but for a pub -m, -f, -s or -n
      whose message was not yet published, or a sub not yet connected: 1; or sub's stdout
      closed)
  1   another error (every subscription refused, a publish refused, an unexpected failure)
  2   bad arguments (unknown flag, missing or bad value), or a value the library rejects
  3   network: cannot connect (refused, unreachable, TLS), or the connection was lost
  4   timed out (sub's -W, or no CONNACK within 30 s)
  11-15  the broker refused the connection: 10 + the CONNACK return code
         (11 protocol version, 12 client id, 13 server unavailable,
          14 bad user name or password, 15 not authorized); MQTT 5 reason codes
          that mean the same give the same (0x84, 0x85, 0x88/0x89, 0x86, 0x87)
  10  the broker refused the connection for another MQTT 5 reason (the message says which)`;

const CONNECT_PROPERTIES =
  `    connect     session-expiry-interval (or -x), receive-maximum, topic-alias-maximum,
                maximum-packet-size, request-response-information (0/1),
                request-problem-information (0/1), authentication-method,
                authentication-data, user-property`;

const DISCONNECT_PROPERTIES =
  `    disconnect  session-expiry-interval (not when the CONNECT's is 0), reason-string,
                user-property
    will        payload-format-indicator (0/1), message-expiry-interval, content-type,
                response-topic, correlation-data, will-delay-interval, user-property
                (with --will-topic)`;

const MQTT5 =
  `  -x SECS                session expiry interval: the broker keeps the session SECS after
                         the connection ends (-1 or ∞: never; default 0, never with -c)
  -D, --property CMD PROP VALUE
                         an MQTT 5 property, by mosquitto's names; repeatable; -D without -V
                         means -V 5, as with mosquitto. user-property takes NAME VALUE and
                         may repeat; the others may be given once. CMD and its PROPs:`;

/** `umqtt pub --help`. */
export const PUB_HELP: string = `umqtt pub: publish one message, or one per line of stdin, and exit.

Usage: umqtt pub {-t topic | -L URL/topic} {-m message | -f file | -s | -l | -n} [options]

Message:
  -t, --topic TOPIC      topic to publish to
  -m, --message TEXT     the message
  -f, --file FILE        the file's contents as the message
  -s, --stdin-file       all of stdin as one message (empty stdin is an error: an empty
                         message is -n)
  -l, --stdin-line       one message per line of stdin, as lines arrive (a blank line is
                         an empty message)
  -n, --null-message     an empty message
  -q, --qos Q            QoS 0, 1 or 2 (default 0); QoS 1 waits for each PUBACK
  -r, --retain           ask the broker to retain the message
      --repeat N         publish the message N times (-m, -f, -s, -n)
      --repeat-delay S   seconds between repeats
MQTT 5 (with -V 5):
${MQTT5}
${CONNECT_PROPERTIES}
    publish     payload-format-indicator (0/1), message-expiry-interval, content-type,
                response-topic, correlation-data, user-property, topic-alias N (repeats
                of the topic, with --repeat or -l, go out as an alias; umqtt picks N)
${DISCONNECT_PROPERTIES}
${CONNECTION}

${EXIT_CODES}

Examples:
  umqtt pub -t home/lamp -m on
  umqtt pub -h broker.local -t home/temp -m 21.5 -q 1 -r
  umqtt pub -L mqtts://user:secret@broker.example:8883/alerts -m hi --cafile ca.pem
  tail -f app.log | umqtt pub -t logs/app -l
  umqtt pub -t firmware/blob -f image.bin -q 1
  umqtt pub -V 5 -t jobs/new -m '{}' -D publish content-type application/json \\
    -D publish user-property trace-id 42 -D publish message-expiry-interval 60
`;

/** `umqtt sub --help`. */
export const SUB_HELP: string = `umqtt sub: subscribe and print the messages that arrive.

Usage: umqtt sub {-t filter ... | -L URL/filter} [options]

Subscription:
  -t, --topic FILTER     topic filter to subscribe to; repeatable
  -T, --filter-out F     do not print messages whose topic matches F; repeatable
  -U, --unsubscribe F    unsubscribe from F after connecting (with -c); repeatable
  -q, --qos Q            maximum QoS asked for, 0, 1 or 2 (default 0)
  -C, --count N          exit after printing N messages
  -W, --timeout SECS     exit with code 4 if still running after SECS seconds
  -R, --no-retained      do not print retained (stale) messages
      --retained-only    print only retained messages; exit at the first fresh one
      --remove-retained  clear each retained message printed (publish an empty retained one)
  -E                     exit once subscribed (with -c: create the session)
MQTT 5 (with -V 5):
      --retain-as-published  messages keep the retain flag they were published with
  -R                     also asks the broker not to send retained messages (retain handling 2)
${MQTT5}
${CONNECT_PROPERTIES}
    subscribe   subscription-identifier (1 to 268435455; printed by %S), user-property
${DISCONNECT_PROPERTIES}
Printing (one message a line; payloads go out byte for byte, except on a terminal,
where bytes that are not printable text are shown as \\xNN, a backslash as \\\\):
  -v, --verbose          topic, one space, payload
  -N, --no-eol           no newline after each message
  -F, --format FMT       %t topic, %p payload, %q QoS, %r retain (0/1), %l payload length,
                         %x/%X payload in hex, %j JSON line (as --json, but tst in local
                         time as mosquitto_sub prints it), %J the same with a JSON payload
                         as JSON (any other: said on stderr), %I ISO 8601 local time, %U Unix
                         time, %% a percent sign; @X strftime's %X in local time (@Y-@m-@d
                         @H:@M:@S @z), @N nanoseconds, @@ an @; MQTT 5 properties, blank
                         when absent: %P user properties (name:value, space-separated),
                         %C content type, %D correlation data, %E message expiry interval,
                         %F payload format indicator, %R response topic, %S subscription
                         identifier, %A topic
                         alias (always blank: umqtt resolves aliases and does not keep them);
                         %[-][0][width][.precision]X as mosquitto_sub pads and cuts fields;
                         escapes \\n \\t \\r \\0 \\a \\e \\v \\\\
      --json             one JSON object a message: tst (ISO 8601, UTC), topic, qos, retain,
                         payloadlen, MQTT 5 properties (mosquitto's names), payload (text;
                         null if empty; base64 with "encoding":"base64" if not UTF-8)
A long subscription survives a broker restart: it reconnects (saying so on stderr),
subscribes again, and keeps printing.

${CONNECTION}

${EXIT_CODES}

Examples:
  umqtt sub -t 'sensors/#' -v
  umqtt sub -h broker.local -t home/door -C 1 -W 30
  umqtt sub -t 'devices/+/status' --json | jq .payload
  umqtt sub -L ws://broker.local:8080/things/# -v --ws-path /mqtt
  umqtt sub -t 'tele/#' -F '%I %t %l bytes: %x'
  umqtt sub -V 5 -t 'jobs/#' -F '%t [%C] %P: %p' -D subscribe subscription-identifier 7
`;
