'use strict';
/**
 * The peer row: rsyslog (the Debian package, with rsyslog-openssl) as the relay. imudp in; one
 * omfwd action per receiver, TCP with the `ossl` stream driver (TLS, x509/certvalid both ways, the
 * bench's CA and client certificate) and RFC 5425 octet-counted framing, the message forwarded as
 * received plus LF (template `%rawmsg%\n`), so the receivers count lines as they do for our relay.
 * rsyslogd runs in the foreground (`-n`) with its own config, work dir and pid file in a temp dir,
 * never the system's. The receivers listen on `tlsPort` (driver.js `listen=1`); `subs` actions
 * connect there.
 * Prints {"ready":{udpPort, pid}} (pid: rsyslogd's, the process to measure), or "unavailable" when
 * rsyslogd or its ossl driver is not installed. On stop: SIGTERM to rsyslogd, then the result.
 */
const { spawn } = require('child_process');
const dgram = require('dgram');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { params, ready, result, unavailable, onStop } = require('../../lib/impl');

const p = params();
// BENCH_RSYSLOGD names another binary (or a missing one, to see the "unavailable" row).
const RSYSLOGD = (
  process.env.BENCH_RSYSLOGD ? [process.env.BENCH_RSYSLOGD] : ['/usr/sbin/rsyslogd', '/sbin/rsyslogd']
).find((f) => fs.existsSync(f));

/** rsyslog's module dir holds lmnsd_ossl.so when rsyslog-openssl is installed. */
function hasOssl() {
  const dirs = [
    '/usr/lib/x86_64-linux-gnu/rsyslog',
    '/usr/lib/aarch64-linux-gnu/rsyslog',
    '/usr/lib/rsyslog',
    '/usr/lib64/rsyslog',
  ];
  return dirs.some((d) => fs.existsSync(path.join(d, 'lmnsd_ossl.so')));
}

/** A UDP port free now (bound and released: rsyslog's imudp takes a fixed port, not 0). */
function freePort() {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket('udp4');
    s.on('error', reject);
    s.bind(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function config(dir, udpPort) {
  const certs = (f) => path.join(p.certs, f);
  const action =
    `action(type="omfwd" target="127.0.0.1" port="${p.tlsPort}" protocol="tcp" TCP_Framing="octet-counted" ` +
    `StreamDriver="ossl" StreamDriverMode="1" StreamDriverAuthMode="x509/certvalid" template="raw")`;
  return [
    `global(workDirectory="${path.join(dir, 'work')}"`,
    `  DefaultNetstreamDriverCAFile="${certs('ca.crt')}"`,
    `  DefaultNetstreamDriverCertFile="${certs('client.crt')}"`,
    `  DefaultNetstreamDriverKeyFile="${certs('client.key')}")`,
    `module(load="imudp")`,
    `input(type="imudp" address="127.0.0.1" port="${udpPort}" rcvbufSize="${p.rcvbuf}")`,
    `template(name="raw" type="string" string="%rawmsg%\\n")`,
    ...Array.from({ length: p.subs }, () => action),
    '',
  ].join('\n');
}

async function main() {
  if (!RSYSLOGD) return unavailable('rsyslogd is not installed (Debian: apt-get install rsyslog rsyslog-openssl)');
  if (!hasOssl()) return unavailable("rsyslog's ossl stream driver is not installed (Debian: rsyslog-openssl)");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-rsyslog-'));
  fs.mkdirSync(path.join(dir, 'work'));
  const udpPort = await freePort();
  const conf = path.join(dir, 'rsyslog.conf');
  fs.writeFileSync(conf, config(dir, udpPort));
  const daemon = spawn(RSYSLOGD, ['-n', '-f', conf, '-i', path.join(dir, 'rsyslogd.pid')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  let stopping = false;
  daemon.stderr.on('data', (d) => (stderr = (stderr + d).slice(-2000)));
  const exited = new Promise((resolve) => daemon.on('exit', resolve));
  // Whatever ends this wrapper (but SIGKILL, which the workload covers) ends the daemon too.
  process.on('exit', () => daemon.exitCode === null && daemon.signalCode === null && daemon.kill('SIGKILL'));
  for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(1));
  daemon.on('exit', (code, signal) => {
    if (!stopping) {
      process.stderr.write(`rsyslogd exited (${code ?? signal}): ${stderr}\n`);
      process.exit(1);
    }
  });
  // imudp is listening once its socket shows in /proc/net/udp (port in hex, local address 127.0.0.1).
  const hex = `0100007F:${udpPort.toString(16).toUpperCase().padStart(4, '0')}`;
  for (let i = 0; i < 500 && !fs.readFileSync('/proc/net/udp', 'utf8').includes(hex); i++)
    await new Promise((r) => setTimeout(r, 10));
  ready({ udpPort, pid: daemon.pid });
  onStop(async () => {
    stopping = true;
    daemon.kill('SIGTERM');
    await exited;
    fs.rmSync(dir, { recursive: true, force: true });
    result({});
  });
}

main();
