'use strict';
/**
 * Certificates for the relay bench: a CA, a server certificate for 127.0.0.1/localhost and a
 * client certificate, all issued by that CA (ECDSA P-256, cheap handshakes for both relays alike).
 * Made with the system `openssl` binary, a dev tool here: Node cannot issue X.509 certificates.
 * Plug-in point: when the project's TLS layer offers a dev-certificate API, make them with it here.
 */
const { execFileSync } = require('child_process');
const fs = require('fs');
const path = require('path');

function openssl(args, cwd) {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

function issue(dir, name, subject, ext) {
  openssl(
    [
      'req',
      '-new',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.csr`,
      '-subj',
      subject,
    ],
    dir,
  );
  fs.writeFileSync(path.join(dir, `${name}.ext`), ext);
  openssl(
    [
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-days',
      '2',
      '-out',
      `${name}.crt`,
      '-extfile',
      `${name}.ext`,
    ],
    dir,
  );
}

/** Makes (once per directory) ca.crt, server.{key,crt}, client.{key,crt} in `dir`; returns `dir`. */
function makeCerts(dir) {
  if (fs.existsSync(path.join(dir, 'client.crt'))) return dir;
  fs.mkdirSync(dir, { recursive: true });
  openssl(
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      'ca.key',
      '-out',
      'ca.crt',
      '-days',
      '2',
      '-subj',
      '/CN=pollset bench CA',
    ],
    dir,
  );
  issue(dir, 'server', '/CN=localhost', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  issue(dir, 'client', '/CN=bench subscriber', 'extendedKeyUsage=clientAuth\n');
  return dir;
}

/** The PEM files of `dir` as Node's tls options want them. */
function load(dir, name) {
  const read = (f) => fs.readFileSync(path.join(dir, f));
  return { key: read(`${name}.key`), cert: read(`${name}.crt`), ca: read('ca.crt') };
}

module.exports = { makeCerts, load };
