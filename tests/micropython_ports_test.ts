// Real MicroPython programs that use umqtt.simple / umqtt.robust, ported line
// by line as the README's "From umqtt.simple" says a porter should (same
// names, same argument order, `await` where needed, time.sleep → a timer), run
// against real brokers. Each test quotes the Python it ports in comments.
// Sources: micropython-lib's micropython/umqtt.simple/example_*.py and
// micropython/umqtt.robust/example_*.py, Random Nerd Tutorials' ESP32/ESP8266
// MQTT main.py, and a check_msg/set_last_will echo program from GitHub.
import assert from "node:assert/strict";
import { MQTTClient, MQTTConnectionError } from "../mod.ts";
import { MQTTClient as RobustClient } from "../lib/robust.ts";
import { type Broker, forEachBroker, startMosquitto } from "./_brokers.ts";
import { offline, proxyTo } from "./_fault_proxy.ts";
import { acceptConnect, withHostileBroker } from "./_hostile_broker.ts";
import { test, uniqueId, withTimeout } from "./_test.ts";

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const text = (b: Uint8Array) => new TextDecoder().decode(b);
const noop = () => {};

/** A plain client on the broker itself, subscribed to `filter`; collects "topic payload". */
async function watch(broker: Broker, filter: string) {
  const seen: string[] = [];
  const w = new MQTTClient(uniqueId("watch"), broker.host, broker.port);
  w.set_callback((topic, msg) => void seen.push(`${topic} ${text(msg)}`));
  await w.connect();
  await w.subscribe(filter, 1);
  /** Handles messages until `n` have been seen. */
  const upTo = async (n: number, what: string) => {
    while (seen.length < n) await withTimeout(w.wait_msg(), 10_000, what);
  };
  return { w, seen, upTo };
}

forEachBroker(
  "example_pub.py: connect, publish, disconnect; a publish not awaited still goes first",
  async (broker) => {
    const foo_topic = uniqueId("foo_topic");
    const { w, seen, upTo } = await watch(broker, foo_topic);
    try {
      // def main(server="localhost"):
      //     c = MQTTClient("umqtt_client", server)
      //     c.connect()
      //     c.publish(b"foo_topic", b"hello")
      //     c.disconnect()
      const main = async (server = broker.host) => {
        const c = new MQTTClient(uniqueId("umqtt_client"), server, broker.port);
        await c.connect();
        await c.publish(foo_topic, "hello");
        await c.disconnect();
      };
      await main();
      // The same without `await` on publish, as the Python reads: DISCONNECT
      // goes after the PUBLISH (calls write in call order), so it arrives.
      const c = new MQTTClient(uniqueId("umqtt_client"), broker.host, broker.port);
      await c.connect();
      void c.publish(foo_topic, "hello again");
      await c.disconnect();
      await upTo(2, "both publishes");
      assert.deepEqual(seen, [`${foo_topic} hello`, `${foo_topic} hello again`]);
    } finally {
      await w.disconnect();
    }
  },
);

forEachBroker(
  "example_sub.py: both loops, wait_msg and check_msg with a sleep, run the callback",
  async (broker) => {
    const foo_topic = uniqueId("foo_topic");
    const pub = new MQTTClient(uniqueId("p"), broker.host, broker.port);
    await pub.connect();
    // def sub_cb(topic, msg): print((topic, msg))
    const got: [string, Uint8Array][] = [];
    const sub_cb = (topic: string, msg: Uint8Array) => void got.push([topic, msg]);
    // c = MQTTClient("umqtt_client", server); c.set_callback(sub_cb); c.connect()
    const c = new MQTTClient(uniqueId("umqtt_client"), broker.host, broker.port);
    c.set_callback(sub_cb);
    await c.connect();
    try {
      // c.subscribe(b"foo_topic"): None in MicroPython, the granted QoS here
      assert.equal(await c.subscribe(foo_topic), 0);
      // Blocking wait for message: c.wait_msg()
      await pub.publish(foo_topic, "hello");
      const m = await withTimeout(c.wait_msg(), 10_000, "wait_msg");
      assert.equal(got.length, 1);
      assert.equal(got[0][0], foo_topic, "the topic comes as a string (bytes in MicroPython)");
      assert.ok(got[0][1] instanceof Uint8Array, "the message comes as bytes, as in MicroPython");
      assert.equal(text(got[0][1]), "hello");
      assert.equal(m.topic, foo_topic, "wait_msg resolves with the message (MicroPython: the op)");
      // Non-blocking: c.check_msg(); time.sleep(1). Nothing waiting: None / undefined, at once.
      assert.equal(await c.check_msg(), undefined);
      await pub.publish(foo_topic, "polled");
      for (const end = Date.now() + 10_000; got.length < 2;) {
        assert.ok(Date.now() < end, "check_msg never ran the callback");
        await c.check_msg();
        await sleep(10); // time.sleep(1)
      }
      assert.equal(text(got[1][1]), "polled");
      assert.equal(await c.check_msg(), undefined, "one message per check_msg, then none");
    } finally {
      await c.disconnect();
      await pub.disconnect();
    }
  },
);

// MicroPython's `while True: c.check_msg()` with no sleep polls a socket; ported
// as `while (!(await c.check_msg()));` it spun in microtasks for ever: the
// reader never ran, no message ever came, and the process hung. An empty
// check_msg() now resolves after a timer turn, so the reader (and keepalive)
// run between polls.
forEachBroker(
  "a check_msg loop with no sleep still receives: an empty check lets the reader run",
  async (broker) => {
    const topic = uniqueId("spin");
    const pub = new MQTTClient(uniqueId("p"), broker.host, broker.port);
    const c = new MQTTClient(uniqueId("c"), broker.host, broker.port);
    await pub.connect();
    await c.connect();
    try {
      await c.subscribe(topic, 1);
      await pub.publish(topic, "spun", false, 1);
      // Bounded by polls, not time: before, 100 000 polls passed with none of them reading.
      let m, polls = 0;
      while (!(m = await c.check_msg()) && ++polls < 100_000);
      assert.ok(m, `no message after ${polls} polls with no sleep between them`);
      assert.equal(text(m.payload), "spun");
    } finally {
      await c.disconnect();
      await pub.disconnect();
    }
  },
);

forEachBroker(
  "example_pub_button.py drives example_sub_led.py; disconnect() ends the wait_msg loop",
  async (broker) => {
    const TOPIC = uniqueId("led");
    // state = 0; led = Pin(2, Pin.OUT, value=1), active low: the values written to it
    let state = 0;
    const led: number[] = [1];
    // def sub_cb(topic, msg): if msg == b"on": … elif msg == b"off": … elif msg == b"toggle": …
    const sub_cb = (_topic: string, bytes: Uint8Array) => {
      const msg = text(bytes); // a Uint8Array never equals a string: compare text
      if (msg === "on") {
        led.push(0);
        state = 1;
      } else if (msg === "off") {
        led.push(1);
        state = 0;
      } else if (msg === "toggle") {
        led.push(state); // LED is inversed, so setting it to current state toggles it
        state = 1 - state;
      }
    };
    // c = MQTTClient(CLIENT_ID, server); c.set_callback(sub_cb); c.connect(); c.subscribe(TOPIC)
    const c = new MQTTClient(uniqueId("led"), broker.host, broker.port);
    c.set_callback(sub_cb);
    await c.connect();
    await c.subscribe(TOPIC);
    let handled = 0;
    // try: while 1: c.wait_msg()  finally: c.disconnect()
    const loop = (async () => {
      try {
        while (true) {
          await c.wait_msg();
          handled++;
        }
      } finally {
        await c.disconnect();
      }
    })();
    // The button: c.publish(TOPIC, b"toggle") on each press, time.sleep_ms(200) after it.
    const b = new MQTTClient(uniqueId("button"), broker.host, broker.port);
    await b.connect();
    for (const msg of ["on", "toggle", "toggle", "off", "toggle"]) {
      await b.publish(TOPIC, msg);
      await sleep(5);
    }
    await b.disconnect();
    for (const end = Date.now() + 10_000; handled < 5;) {
      assert.ok(Date.now() < end, `only ${handled} of 5 presses handled`);
      await sleep(5);
    }
    assert.deepEqual(led, [1, 0, 1, 0, 1, 0]);
    assert.equal(state, 1);
    // Ctrl-C on the board; here: disconnect() rejects the pending wait_msg, and the finally runs.
    await c.disconnect();
    await assert.rejects(withTimeout(loop, 10_000, "the loop's end"), MQTTConnectionError);
    assert.equal(c.connected, false);
  },
);

forEachBroker(
  "Random Nerd Tutorials' main.py: check_msg loop, periodic publish, reset on a lost connection",
  async (broker) => {
    const proxy = await proxyTo(broker);
    const u = uniqueId("rnt");
    const topic_sub = `${u}/notification`, topic_pub = `${u}/hello`;
    const { w, seen } = await watch(broker, `${u}/hello`);
    const notes: string[] = [];
    let resets = 0;
    // def sub_cb(topic, msg):
    //   if topic == b'notification' and msg == b'received': print('ESP received hello message')
    const sub_cb = (topic: string, msg: Uint8Array) => {
      if (topic === topic_sub && text(msg) === "received") notes.push("ESP received hello message");
    };
    // def connect_and_subscribe():
    //   client = MQTTClient(client_id, mqtt_server); client.set_callback(sub_cb)
    //   client.connect(); client.subscribe(topic_sub); return client
    const client_id = uniqueId("esp");
    const connect_and_subscribe = async () => {
      const client = new MQTTClient(client_id, proxy.hostname, proxy.port);
      client.set_callback(sub_cb);
      await client.connect();
      await client.subscribe(topic_sub);
      return client;
    };
    // def restart_and_reconnect(): time.sleep(10); machine.reset()
    // (the reset runs the program again: a new client)
    let client = await connect_and_subscribe();
    const restart_and_reconnect = async () => {
      resets++;
      await sleep(10);
      client = await connect_and_subscribe();
    };
    let last_message = 0, counter = 0, cut = false, answered = false;
    const message_interval = 0.02; // seconds, 5 in the tutorial
    try {
      // while True: try: client.check_msg(); if time.time() - last_message > message_interval:
      //   client.publish(topic_pub, b'Hello #%d' % counter); … except OSError: restart_and_reconnect()
      for (const end = Date.now() + 20_000; notes.length === 0;) {
        assert.ok(Date.now() < end, `stuck: ${resets} resets, ${seen.length} seen`);
        try {
          await client.check_msg();
          if (Date.now() / 1000 - last_message > message_interval) {
            await client.publish(topic_pub, `Hello #${counter}`);
            last_message = Date.now() / 1000;
            counter++;
          }
        } catch (e) {
          assert.ok(e instanceof MQTTConnectionError, `OSError's counterpart: ${e}`);
          await restart_and_reconnect();
        }
        // The broker goes away once two greetings arrived; the loop must notice.
        if (!cut && seen.length >= 2) {
          cut = true;
          proxy.cut();
        }
        // Back after the reset: the other side answers the greetings, once.
        if (resets > 0 && seen.length >= 3 && !answered) {
          answered = true;
          await w.publish(topic_sub, "received");
        }
        await w.check_msg(); // the watcher's own loop
        await sleep(1);
      }
      assert.equal(resets, 1, "one lost connection, one reset");
      assert.ok(seen.length >= 3);
      seen.forEach((s, i) => assert.match(s, new RegExp(`^${topic_pub} Hello #\\d+$`), `#${i}`));
    } finally {
      await client.disconnect();
      await w.disconnect();
      await proxy.close();
    }
  },
);

forEachBroker(
  "an echo program: the callback publishes, set_last_will with str arguments, the will on a crash",
  async (broker) => {
    const proxy = await proxyTo(broker);
    const u = uniqueId("echo");
    const MQTT_SUB = `${u}/junk`, MQTT_PUB = `${u}/stuff`, ADMIN = `${u}/admin`;
    const { w, seen, upTo } = await watch(broker, `${u}/#`);
    const mac = "a4cf12b3c4d5"; // utils.get_mac()
    // client = MQTTClient(utils.get_mac(), MQTT_BROKER)
    const client = new MQTTClient(uniqueId(mac), proxy.hostname, proxy.port);
    // def rcv(topic, msg): client.publish(MQTT_PUB, '{"rcv":"' + msg.decode("utf-8") + '"}')
    // (async, so that its publish is awaited: its error, if any, comes out of check_msg as
    // MicroPython's OSError would, not as an unhandled rejection)
    const rcv = async (_topic: string, msg: Uint8Array) => {
      await client.publish(MQTT_PUB, '{"rcv":"' + text(msg) + '"}');
    };
    client.set_callback(rcv);
    // client.set_last_will('test/admin', 'OOPS - ' + utils.get_mac() + ' crashed!')
    client.set_last_will(ADMIN, "OOPS - " + mac + " crashed!");
    await client.connect();
    await client.subscribe(MQTT_SUB);
    // def start_loop(): try: while True: client.check_msg(); sleep(1)  finally: client.disconnect()
    const start_loop = async () => {
      try {
        while (true) {
          await client.check_msg();
          await sleep(5);
        }
      } finally {
        await client.disconnect();
      }
    };
    const loop = start_loop();
    // Its end is asserted below; should a step before fail, that failure is
    // the one to show, not the loop's rejection left unhandled.
    loop.catch(noop);
    try {
      await w.publish(MQTT_SUB, "hi");
      await upTo(2, "the echo");
      assert.deepEqual(seen, [`${MQTT_SUB} hi`, `${MQTT_PUB} {"rcv":"hi"}`]);
      // The board crashes (no DISCONNECT): the broker publishes the will.
      proxy.cut();
      await upTo(3, "the will");
      assert.equal(seen[2], `${ADMIN} OOPS - ${mac} crashed!`);
      // The loop sees the loss (OSError in MicroPython) and its finally's disconnect() is harmless.
      await assert.rejects(withTimeout(loop, 10_000, "the loop's end"), MQTTConnectionError);
    } finally {
      await client.disconnect();
      await w.disconnect();
      await proxy.close();
    }
  },
);

forEachBroker(
  "example_lwt_robust.py: an overridden connect() is not called by the reconnect; a connected listener is",
  async (broker) => {
    const proxy = await proxyTo(broker);
    const u = uniqueId("tele");
    const LWT = `${u}/LWT`;
    const { w, seen, upTo } = await watch(broker, LWT);
    // class MyMQTTClient(umqtt.robust.MQTTClient):
    //     def connect(self, clean_session=True):
    //         self.set_last_will(b"tele/test/LWT", b"Offline", retain=True)
    //         try: return super().connect(clean_session)
    //         finally: self.publish(b"tele/test/LWT", b"Online", retain=True)
    let overrideCalls = 0;
    class MyMQTTClient extends RobustClient {
      override async connect(clean_session = true): Promise<boolean> {
        overrideCalls++;
        this.set_last_will(LWT, "Offline", true);
        try {
          return await super.connect(clean_session);
        } finally {
          await this.publish(LWT, "Online", true);
        }
      }
    }
    // c = MyMQTTClient("test_client", "localhost", keepalive=5); c.DEBUG = True; c.connect()
    const c = new MyMQTTClient(uniqueId("test_client"), proxy.hostname, {
      port: proxy.port,
      keepalive: 5,
    });
    c.DELAY = 0.01;
    const d = new RobustClient(uniqueId("test_client"), proxy.hostname, {
      port: proxy.port,
      keepalive: 5,
    });
    d.DELAY = 0.01;
    try {
      await c.connect();
      await upTo(1, "Online");
      await offline(c, proxy); // the connection cut, and refused until the will is in
      await upTo(2, "the will");
      proxy.refuse(false);
      await c.reconnect();
      // umqtt.robust's reconnect() calls self.connect(False), the override, which
      // publishes "Online" again; this reconnect does not (see the README).
      await c.publish(LWT, "marker", true);
      await upTo(3, "the marker");
      assert.deepEqual(seen, [`${LWT} Online`, `${LWT} Offline`, `${LWT} marker`]);
      assert.equal(overrideCalls, 1);
      await c.disconnect();

      // The umqtt way: the will once before connect(), "Online" on every `connected` event.
      d.set_last_will(LWT, "Offline", true);
      d.addEventListener("connected", () => d.publish(LWT, "Online", true).catch(noop));
      await d.connect();
      await upTo(4, "Online");
      await offline(d, proxy);
      await upTo(5, "the will");
      proxy.refuse(false);
      await d.reconnect();
      await upTo(6, "Online again");
      await offline(d, proxy);
      await upTo(7, "the will, kept for every reconnect");
      proxy.refuse(false);
      await d.reconnect();
      await upTo(8, "Online once more");
      assert.deepEqual(seen.slice(3), [
        `${LWT} Online`,
        `${LWT} Offline`,
        `${LWT} Online`,
        `${LWT} Offline`,
        `${LWT} Online`,
      ]);
      await d.publish(LWT, "", true); // no retained message left behind
    } finally {
      await c.disconnect();
      await d.disconnect();
      await w.disconnect();
      await proxy.close();
    }
  },
);

forEachBroker(
  "example_resubscribe_robust.py without its subclass: a clean first session is renewed, nothing lost",
  async (broker) => {
    const proxy = await proxyTo(broker);
    const topic = uniqueId("test/topic/a");
    const got: string[] = [];
    // c = MyMQTTClient("test_client", "localhost", keepalive=5); c.set_callback(print)
    const c = new RobustClient(uniqueId("test_client"), proxy.hostname, {
      port: proxy.port,
      keepalive: 5,
    });
    c.DELAY = 0.01;
    c.set_callback((_topic, msg) => void got.push(text(msg)));
    try {
      // c.connect() (a clean session); c.subscribe(b"test/topic/a")
      assert.equal(await c.connect(), false);
      await c.subscribe(topic);
      // c.publish(b"test/topic/a", b"message 1"); c.wait_msg()
      await c.publish(topic, "message 1");
      await withTimeout(c.wait_msg(), 10_000, "message 1");
      // The connection breaks (the example lets the keepalive run out; umqtt pings by itself).
      await offline(c, proxy);
      // c.publish(b"test/topic/a", b"message 2"): lost in MicroPython, kept here
      const p2 = c.publish(topic, "message 2");
      proxy.refuse(false);
      // c.check_msg(): reconnects, with connect(False): the clean session is gone, so the
      // subscription is renewed by the client itself (the subclass's job in MicroPython).
      await withTimeout(c.check_msg(), 10_000, "check_msg");
      await p2;
      // c.publish(b"test/topic/a", b"message 3"); c.wait_msg()
      await c.publish(topic, "message 3");
      while (got.length < 3) await withTimeout(c.wait_msg(), 10_000, `message ${got.length + 1}`);
      assert.deepEqual(got, ["message 1", "message 2", "message 3"]);
    } finally {
      await c.disconnect();
      await c.connect(true).then(() => c.disconnect(), noop); // leave no session behind
      await proxy.close();
    }
  },
);

test(
  "example_sub_robust.py: a wait_msg() pending across a broker restart gets the next message",
  async () => {
    const broker = await startMosquitto(); // no persistence: the restart forgets the session
    const foo_topic = uniqueId("foo_topic");
    const got: string[] = [];
    // c = MQTTClient("umqtt_client", "localhost"); c.DEBUG = True; c.set_callback(sub_cb)
    const c = new RobustClient(uniqueId("umqtt_client"), broker.host, broker.port);
    c.DELAY = 0.05;
    c.set_callback((_topic, msg) => void got.push(text(msg)));
    const pub = new MQTTClient(uniqueId("p"), broker.host, broker.port);
    try {
      // if not c.connect(clean_session=False): c.subscribe(b"foo_topic")
      if (!(await c.connect(false))) await c.subscribe(foo_topic);
      // while 1: c.wait_msg()
      const waiting = c.wait_msg();
      const back = new Promise((r) => c.addEventListener("connected", r, { once: true }));
      await broker.restart!();
      await withTimeout(back, 15_000, "the reconnect");
      await pub.connect();
      await pub.publish(foo_topic, "after the restart", false, 1);
      await withTimeout(waiting, 10_000, "the message");
      assert.deepEqual(got, ["after the restart"]);
    } finally {
      await pub.disconnect();
      await c.disconnect();
      await broker.stop();
    }
  },
  { mosquitto: true },
);

forEachBroker(
  "None for user and password, as umqtt's defaults spell them, is null here: no user, no password",
  async (broker) => {
    // c = MQTTClient(CLIENT_ID, SERVER, PORT, None, None, 30)
    for (const C of [MQTTClient, RobustClient]) {
      const c = new C(uniqueId("none"), broker.host, broker.port, null!, null!, 30);
      assert.equal(c.user, undefined);
      assert.equal(c.keepalive, 30);
      try {
        assert.equal(await c.connect(), false);
        await c.publish(uniqueId("none"), "m", false, 1);
      } finally {
        await c.disconnect();
      }
    }
    // A password still needs a user with MQTT 3.1.1 (MQTT-3.1.2-22), None or left out.
    assert.throws(
      () => new MQTTClient("id", broker.host, broker.port, null!, "pw"),
      /^TypeError: Invalid password: MQTT 3\.1\.1 needs a user with a password \(MQTT-3\.1\.2-22\)$/,
    );
  },
);

forEachBroker(
  "umqtt.robust's check_msg(attempts=2): check_msg(1) rejects on a lost connection, no reconnect",
  async (broker) => {
    const proxy = await proxyTo(broker);
    const c = new RobustClient(uniqueId("attempts"), proxy.hostname, proxy.port);
    c.DELAY = 0.01;
    try {
      // Refused before anything: what Python's `while attempts:` would make of them is no port.
      for (const bad of [0, -1, 1.5, NaN]) {
        await assert.rejects(c.check_msg(bad), /^RangeError: Invalid attempts .*positive integer/);
      }
      await assert.rejects(c.check_msg("2" as never), /^TypeError: Invalid attempts/);
      await c.connect();
      assert.equal(await c.check_msg(1), undefined);
      await offline(c, proxy);
      // check_msg(attempts=1): one try, which fails; its reconnect is not waited for (the proxy
      // refuses, so one that waited would never resolve).
      await assert.rejects(
        withTimeout(c.check_msg(1), 10_000, "check_msg(1)"),
        MQTTConnectionError,
      );
      // The default, 2: reconnects, then tries again.
      const checked = c.check_msg();
      proxy.refuse(false);
      assert.equal(await withTimeout(checked, 10_000, "check_msg()"), undefined);
      assert.equal(c.connected, true);
    } finally {
      await c.disconnect();
      await proxy.close();
    }
  },
);

// umqtt.robust's README: "any realistic application would inherit
// umqtt.robust.MQTTClient class and override delay() and reconnect()". Ported
// so, the client called the override from every call waiting for the
// connection at once: their connect(False)s collided ("already connected or
// connecting"), the publishes rejected with that TypeError (a loop catching
// every error spun on it for ever), and the subscriptions were not renewed.
test(
  "a subclass overriding reconnect(), as umqtt.robust advises: run once at a time, nothing lost",
  async () => {
    const broker = await startMosquitto(); // no persistence: the restart forgets the session
    const TOPIC = uniqueId("led");
    // class MyClient(umqtt.robust.MQTTClient):
    //     def reconnect(self):
    //         i = 0
    //         while 1:
    //             try:
    //                 return self.connect(False)
    //             except OSError as e:
    //                 self.log(True, e)
    //                 i += 1
    //                 self.delay(i)
    let running = 0, most = 0;
    class MyClient extends RobustClient {
      override async reconnect(): Promise<boolean> {
        most = Math.max(most, ++running);
        try {
          for (let i = 0;;) {
            try {
              return await this.connect(false);
            } catch (e) {
              if (!(e instanceof MQTTConnectionError)) throw e; // except OSError
              this.log(true, e);
              i++;
              await this.delay(i);
            }
          }
        } finally {
          running--;
        }
      }
    }
    const c = new MyClient(uniqueId("umqtt_client"), broker.host, broker.port);
    c.DELAY = 0.05;
    const got: string[] = [];
    c.set_callback((_topic, msg) => void got.push(text(msg)));
    const pub = new MQTTClient(uniqueId("p"), broker.host, broker.port);
    try {
      await c.connect(false);
      await c.subscribe(TOPIC, 1);
      const lost = new Promise((r) => c.addEventListener("disconnected", r, { once: true }));
      const restarted = broker.restart!();
      await withTimeout(lost, 10_000, "the lost connection");
      // Button presses while the broker is away: c.publish(TOPIC, b"toggle"), QoS 1 here.
      const presses = Promise.all(
        [1, 2, 3, 4, 5].map((n) => c.publish(TOPIC, `toggle ${n}`, false, 1)),
      );
      presses.catch(noop); // asserted below, once the broker is back
      await restarted;
      await withTimeout(presses, 15_000, "the presses");
      assert.equal(most, 1, "reconnect() overrides run at once");
      // The broker forgot the session: the subscription is renewed all the same.
      await pub.connect();
      await pub.publish(TOPIC, "after the restart", false, 1);
      while (!got.includes("after the restart")) {
        await withTimeout(c.wait_msg(), 10_000, "the message after the restart");
      }
    } finally {
      await pub.disconnect();
      await c.disconnect();
      await broker.stop();
    }
  },
  { mosquitto: true },
);

// `def delay(self, i): pass` (retry at once) in a JavaScript subclass is
// `delay(i) {}`: nothing says there that it must return a promise. The
// reconnect took its undefined for one and failed every attempt with
// "TypeError: Invalid value used as weak map key", and never reconnected.
forEachBroker(
  "a delay() override that returns nothing, as JavaScript allows, means no wait",
  async (broker) => {
    const proxy = await proxyTo(broker);
    // class MyClient(umqtt.robust.MQTTClient):
    //     def delay(self, i):
    //         pass
    let delays = 0;
    class MyClient extends RobustClient {
      override delay(_i: number): Promise<void> {
        delays++;
        return undefined as unknown as Promise<void>; // JavaScript: delay(i) {}
      }
    }
    const c = new MyClient(uniqueId("umqtt_client"), proxy.hostname, proxy.port);
    try {
      await c.connect();
      await offline(c, proxy);
      proxy.refuse(false);
      await withTimeout(c.reconnect(), 10_000, "the reconnect");
      assert.equal(c.connected, true);
      assert.ok(delays >= 1, "delay() was not called");
    } finally {
      await c.disconnect();
      await proxy.close();
    }
  },
);

// README "From umqtt.simple": what a literal port of these calls meets.
test("README: an empty user is sent as an empty user name; connect()'s timeout is connectTimeout", async () => {
  const connects: { username?: string; password?: Uint8Array }[] = [];
  await withHostileBroker(async (peer) => {
    connects.push(await acceptConnect(peer));
    await peer.clientClosed;
  }, async (broker) => {
    // MQTTClient(CLIENT_ID, SERVER, user="", password=""): no user name in umqtt.simple
    for (const user of ["", null]) {
      const c = new MQTTClient(uniqueId("u"), broker.host, broker.port, user, user);
      await c.connect();
      await c.disconnect();
    }
    // c.connect(True, 5): a socket timeout in umqtt.simple; the options here.
    const c = new MQTTClient(uniqueId("t"), broker.host, {
      port: broker.port,
      connectTimeout: 5000,
    });
    await assert.rejects(
      c.connect(true, 5 as never),
      /^TypeError: Invalid options for connect: must be an object, got number$/,
    );
    assert.equal(await c.connect(true), false);
    await c.disconnect();
  });
  assert.equal(connects[0].username, "", "an empty user name");
  assert.deepEqual(connects[0].password, new Uint8Array(0));
  assert.equal(connects[1].username, undefined, "null: none");
  assert.equal(connects[1].password, undefined);
});

forEachBroker(
  "README: a QoS 1 publish not awaited before disconnect() goes out; it resolves if the broker acknowledges it as it closes, else rejects",
  async (broker) => {
    const foo_topic = uniqueId("foo_topic");
    const { w, seen, upTo } = await watch(broker, foo_topic);
    try {
      // c.connect(); c.publish(b"foo_topic", b"hello", qos=1); c.disconnect()
      const c = new MQTTClient(uniqueId("umqtt_client"), broker.host, broker.port);
      await c.connect();
      const published = c.publish(foo_topic, "hello", false, 1);
      const settled = published.then(
        () => "resolved",
        (e) => e instanceof MQTTConnectionError ? "rejected" : e,
      );
      await c.disconnect();
      // mosquitto answers what it read before our DISCONNECT; aedes closes without a PUBACK.
      assert.equal(await settled, broker.name === "mosquitto" ? "resolved" : "rejected");
      await upTo(1, "the message");
      assert.deepEqual(seen, [`${foo_topic} hello`]);
    } finally {
      await w.disconnect();
    }
  },
);

test("README: a subclass sets DELAY in its constructor; a static DELAY is never read", () => {
  // class MyClient(umqtt.robust.MQTTClient): DELAY = 5
  class InConstructor extends RobustClient {
    constructor(client_id: string, server: string) {
      super(client_id, server);
      this.DELAY = 5;
    }
  }
  class Static extends RobustClient {
    static DELAY = 5;
  }
  class Field extends RobustClient {
    // @ts-expect-error TS2610: DELAY is an accessor, which a field cannot override
    DELAY = 5;
    override DEBUG = true; // a field: fine
  }
  assert.equal(new InConstructor("a", "localhost").DELAY, 5);
  assert.equal(Static.DELAY, 5);
  assert.equal(new Static("b", "localhost").DELAY, 2, "umqtt.robust's default");
  const f = new Field("c", "localhost");
  assert.equal(f.DEBUG, true);
  assert.equal(f.DELAY, 5, "JavaScript, unchecked, defines a field of its own");
});

// umqtt.robust's README, case 1: for a reading sent once a minute "the best
// option in case of a transmission error might be not doing anything at all".
// Ported as a reconnect() that returns at once, the calls waiting for the
// connection retried on it in a loop of promises: the event loop starved,
// and the whole process froze (no timer, no I/O ever ran again).
forEachBroker(
  "a reconnect() override that does not reconnect: the calls waiting for it reject, nothing spins",
  async (broker) => {
    const proxy = await proxyTo(broker);
    let calls = 0;
    class MyClient extends RobustClient {
      // def reconnect(self): pass
      override reconnect(): Promise<boolean> {
        // (bounded, so that a client that spins on it fails this test rather than hang it)
        if (++calls > 1000) return super.reconnect();
        return Promise.resolve(false);
      }
    }
    const c = new MyClient(uniqueId("umqtt_client"), proxy.hostname, proxy.port);
    c.DELAY = 0.01;
    try {
      await c.connect();
      await offline(c, proxy);
      proxy.refuse(false);
      // The reading of this minute is dropped; the next one goes on a connection of its own.
      await assert.rejects(
        withTimeout(c.publish(uniqueId("temp"), "21.5"), 10_000, "publish"),
        /^MQTTConnectionError: Not connected: reconnect\(\) returned without connecting$/,
      );
      await assert.rejects(withTimeout(c.check_msg(), 10_000, "check_msg"), MQTTConnectionError);
      assert.ok(calls < 10, `reconnect() called ${calls} times`);
      assert.equal(await c.connect(), false);
      await c.publish(uniqueId("temp"), "21.6");
    } finally {
      await c.disconnect();
      await proxy.close();
    }
  },
);

forEachBroker(
  "README: publish(qos=1) does not run the callback; messages wait for wait_msg",
  async (broker) => {
    const TOPIC = uniqueId("cmd");
    const got: string[] = [];
    const c = new MQTTClient(uniqueId("umqtt_client"), broker.host, broker.port);
    c.set_callback((_topic, msg) => void got.push(text(msg)));
    const pub = new MQTTClient(uniqueId("p"), broker.host, broker.port);
    await c.connect();
    await pub.connect();
    try {
      // c.set_callback(cb); c.subscribe(b"cmd"); then: while True: c.publish(b"data", r, qos=1)
      await c.subscribe(TOPIC, 1);
      await pub.publish(TOPIC, "on", false, 1); // the broker has sent it to c before its PUBACK
      // In umqtt.simple this publish's wait for its PUBACK would run the callback with "on".
      await c.publish(TOPIC, "reading", false, 1);
      assert.deepEqual(got, [], "the callback ran outside wait_msg/check_msg");
      assert.equal(text((await withTimeout(c.wait_msg(), 10_000, "on")).payload), "on");
      assert.deepEqual(got, ["on"]);
    } finally {
      await pub.disconnect();
      await c.disconnect();
    }
  },
);

// The same override, told to stop: disconnect() during an outage ended the
// client's own reconnect, but not an override's loop, which connected again
// once the broker was back, after the application had disconnected.
forEachBroker(
  "a reconnect() override running in an outage ends at disconnect(): no connection after it",
  async (broker) => {
    const proxy = await proxyTo(broker);
    const runs: Promise<boolean>[] = [];
    class MyClient extends RobustClient {
      override reconnect(): Promise<boolean> {
        const run = this.#reconnect();
        runs.push(run);
        return run;
      }
      // def reconnect(self): i = 0; while 1: try: return self.connect(False)
      //     except OSError as e: self.log(True, e); i += 1; self.delay(i)
      async #reconnect(): Promise<boolean> {
        for (let i = 0;;) {
          try {
            return await this.connect(false);
          } catch (e) {
            if (!(e instanceof MQTTConnectionError)) throw e;
            this.log(true, e);
            i++;
            await this.delay(i);
          }
        }
      }
    }
    const c = new MyClient(uniqueId("umqtt_client"), proxy.hostname, proxy.port);
    c.DELAY = 0.01;
    try {
      await c.connect();
      await offline(c, proxy); // the override retries meanwhile
      await c.disconnect();
      proxy.refuse(false); // the broker is back
      assert.ok(runs.length > 0, "reconnect() was not called");
      for (const run of runs) {
        await assert.rejects(
          withTimeout(run, 10_000, "the override's end"),
          /^MQTTConnectionError: Not reconnecting: disconnect\(\) was called$/,
        );
      }
      assert.equal(c.connected, false);
    } finally {
      await c.disconnect();
      await proxy.close();
    }
  },
);

forEachBroker(
  "README: connect() on a connected client is a TypeError; after disconnect() it connects anew",
  async (broker) => {
    const TOPIC = uniqueId("led");
    const c = new MQTTClient(uniqueId("umqtt_client"), broker.host, broker.port);
    const pub = new MQTTClient(uniqueId("p"), broker.host, broker.port);
    // def sub_cb(topic, msg): int(msg)  -- raises on "on"
    c.set_callback((_topic, msg) => {
      if (isNaN(Number(text(msg)))) throw new SyntaxError(`not a number: ${text(msg)}`);
    });
    await c.connect();
    await pub.connect();
    try {
      await c.subscribe(TOPIC);
      await pub.publish(TOPIC, "on");
      // try: c.wait_msg()  except Exception: c.connect(); c.subscribe(TOPIC)
      await assert.rejects(withTimeout(c.wait_msg(), 10_000, "wait_msg"), SyntaxError);
      assert.equal(c.connected, true, "a callback's error leaves the connection up");
      await assert.rejects(
        c.connect(),
        /^TypeError: Cannot connect: this client is already connected/,
      );
      await c.disconnect();
      assert.equal(await c.connect(), false);
      await c.subscribe(TOPIC);
      await pub.publish(TOPIC, "1");
      assert.equal(text((await withTimeout(c.wait_msg(), 10_000, "wait_msg")).payload), "1");
    } finally {
      await pub.disconnect();
      await c.disconnect();
    }
  },
);

// A MicroPython client id is bytes: `CLIENT_ID = ubinascii.hexlify(machine.unique_id())`, and
// `c.publish(b"foo_topic", b"hello")`. Ported as they are, the topic was refused by its type's
// name ("got Uint8Array"), the client id only as "got object", which does not say what is wrong.
test("a bytes client id, as MicroPython's, is refused by its type's name, as a bytes topic is", async () => {
  const bytes = new TextEncoder().encode("e8db84c1");
  assert.throws(
    () => new MQTTClient(bytes as unknown as string, "127.0.0.1"),
    /^TypeError: Invalid client_id: must be a string, got Uint8Array$/,
  );
  await assert.rejects(
    new MQTTClient("id", "127.0.0.1").publish(bytes as unknown as string, "hello"),
    /^TypeError: Cannot publish: the topic must be a string, got Uint8Array$/,
  );
  // A plain object still says "object", as the tests of option objects pin.
  assert.throws(
    () => new MQTTClient({} as unknown as string, "127.0.0.1"),
    /^TypeError: Invalid client_id: must be a string, got object$/,
  );
});
