'use strict';
/** What the figures were measured on: they mean nothing without it. */
const fs = require('fs');
const os = require('os');
const path = require('path');

function packageVersion(name) {
  try {
    return JSON.parse(fs.readFileSync(require.resolve(`${name}/package.json`), 'utf8')).version;
  } catch {
    return null;
  }
}

function describe() {
  const cpus = os.cpus();
  const own = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8'));
  return {
    cpuModel: cpus[0] ? cpus[0].model.trim() : 'unknown',
    cores: cpus.length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    kernel: `${os.type()} ${os.release()}`,
    arch: os.arch(),
    node: process.version,
    openssl: process.versions.openssl,
    libuv: process.versions.uv,
    packages: { pollset: own.version, epoll: packageVersion('epoll') },
    loadAverageAtStart: os.loadavg(),
  };
}

module.exports = { describe };
