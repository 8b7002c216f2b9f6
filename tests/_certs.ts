/**
 * Test certificates made at test time with `openssl`: a CA, a server
 * certificate it signed for `localhost`, `broker.test` and 127.0.0.1, and a
 * client certificate for mutual TLS. Synchronous, so a test file can make
 * them while it registers its tests.
 *
 * @module
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { MosquittoTlsOptions } from "./_brokers.ts";

/** File paths and PEM text of the test certificates. */
export interface TestCerts {
  /** Folder holding the files. */
  dir: string;
  /** Paths: `ca.pem`, `server.pem`, `server.key`, `client.pem`, `client.key`. */
  path: (name: string) => string;
  /** PEM text of a file in `dir`. */
  pem: (name: string) => string;
  /** Deletes the folder. */
  remove(): void;
  /** Runs `openssl` in the folder: "$name" in `args` stands for the file `name` there. */
  openssl(args: string): void;
  /** The files a mosquitto TLS listener needs, for `startMosquitto({ tls })`. */
  serverTls(requireCertificate?: boolean): MosquittoTlsOptions;
}

/** Makes a fresh CA with a server and a client certificate (about 0.5 s). */
export function makeCerts(): TestCerts {
  const dir = mkdtempSync(join(tmpdir(), "umqtt-tls-"));
  const path = (name: string) => join(dir, name);
  // "$name" in the arguments stands for a file in the folder.
  const openssl = (args: string) => {
    const argv = args.split(" ").map((a) => a.startsWith("$") ? path(a.slice(1)) : a);
    execFileSync("openssl", argv, { stdio: "ignore" });
  };
  writeFileSync(path("server.ext"), "subjectAltName=DNS:localhost,DNS:broker.test,IP:127.0.0.1\n");
  writeFileSync(path("client.ext"), "extendedKeyUsage=clientAuth\n");
  openssl(
    "req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=umqtt-test-ca -keyout $ca.key -out $ca.pem",
  );
  for (const name of ["server", "client"]) {
    openssl(`req -newkey rsa:2048 -nodes -subj /CN=${name} -keyout $${name}.key -out $${name}.csr`);
    openssl(
      `x509 -req -in $${name}.csr -CA $ca.pem -CAkey $ca.key -CAcreateserial -days 2` +
        ` -out $${name}.pem -extfile $${name}.ext`,
    );
  }
  return {
    dir,
    path,
    openssl,
    pem: (name) => readFileSync(path(name), "utf8"),
    remove: () => rmSync(dir, { recursive: true, force: true }),
    serverTls: (requireCertificate = false) => ({
      cafile: path("ca.pem"),
      certfile: path("server.pem"),
      keyfile: path("server.key"),
      requireCertificate,
    }),
  };
}

/**
 * Adds certificates that must be refused to `certs`: `expired.pem`/`.key`, a
 * server certificate of the same CA and names whose validity ended a day
 * before it began, and `stranger.pem`/`.key`, a client certificate signed by
 * another CA (`other-ca.pem`), which the broker does not trust.
 */
export function addBadCerts(certs: TestCerts): void {
  const { openssl } = certs;
  openssl("req -newkey rsa:2048 -nodes -subj /CN=expired -keyout $expired.key -out $expired.csr");
  openssl(
    "x509 -req -in $expired.csr -CA $ca.pem -CAkey $ca.key -CAcreateserial -days -1" +
      " -out $expired.pem -extfile $server.ext",
  );
  openssl(
    "req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=other-ca -keyout $other-ca.key -out $other-ca.pem",
  );
  openssl(
    "req -newkey rsa:2048 -nodes -subj /CN=stranger -keyout $stranger.key -out $stranger.csr",
  );
  openssl(
    "x509 -req -in $stranger.csr -CA $other-ca.pem -CAkey $other-ca.key -CAcreateserial -days 2" +
      " -out $stranger.pem -extfile $client.ext",
  );
}
