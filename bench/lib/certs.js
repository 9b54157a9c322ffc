'use strict';
/**
 * Certificates for the relay bench: a CA, a server certificate for 127.0.0.1/localhost and a
 * client certificate, all issued by that CA (ECDSA P-256, cheap handshakes for both relays alike),
 * made with the library's own dev-certificate API and written as PEM files, since the peers (the C
 * driver, rsyslog) read files.
 */
const fs = require('fs');
const path = require('path');
const { makeClientCert, makeDevCa, makeServerCert } = require('../../dist');

/** Makes (once per directory) ca.crt, server.{key,crt}, client.{key,crt} in `dir`; returns `dir`. */
function makeCerts(dir) {
  if (fs.existsSync(path.join(dir, 'client.crt'))) return dir;
  fs.mkdirSync(dir, { recursive: true });
  const ca = makeDevCa({ cn: 'pollset bench CA' });
  const files = {
    ca: { cert: ca.cert },
    server: makeServerCert(ca, { cn: 'localhost', hosts: ['localhost', '127.0.0.1'] }),
    client: makeClientCert(ca, { cn: 'bench subscriber' }),
  };
  // client.crt last: its presence says the set is complete.
  for (const name of ['ca', 'server', 'client']) {
    if (files[name].key) fs.writeFileSync(path.join(dir, `${name}.key`), files[name].key, { mode: 0o600 });
    fs.writeFileSync(path.join(dir, `${name}.crt`), files[name].cert);
  }
  return dir;
}

/** The PEM files of `dir` as Node's tls options want them. */
function load(dir, name) {
  const read = (f) => fs.readFileSync(path.join(dir, f));
  return { key: read(`${name}.key`), cert: read(`${name}.crt`), ca: read('ca.crt') };
}

module.exports = { makeCerts, load };
