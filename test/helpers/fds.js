/**
 * The open fds of this process, the same way on Linux, macOS and the BSDs, so leak checks run
 * wherever the backends run. Plain JavaScript, so the child-process fixtures share it with the tests.
 *
 * `/dev/fd` lists the caller's fds on Linux (a link to /proc/self/fd) and on macOS (devfs). On
 * FreeBSD it is a static directory of 0, 1 and 2 unless fdescfs is mounted there, so the listing is
 * first checked against an fd known to be open; where it fails that check, fds are found by fstat.
 */
'use strict';
const fs = require('fs');

/**
 * fd numbers are handed out lowest first, so open fds are dense: the probe stops after this many
 * closed numbers in a row past the highest open one found. A leak above such a gap would need as
 * many fds closed below it first.
 */
const PROBE_GAP = 256;

/** Whether `fd` is open in this process. */
function isFdOpen(fd) {
  try {
    fs.fstatSync(fd);
    return true;
  } catch {
    return false;
  }
}

function listDevFd() {
  // The directory handle readdir itself opened is listed too, and closed by now: fstat drops it.
  return fs.readdirSync('/dev/fd').map(Number).filter(isFdOpen);
}

/** The fallback: every fd number fstat accepts (exported so a test can hold it against /dev/fd). */
function probe() {
  const open = [];
  for (let fd = 0, gap = 0; gap < PROBE_GAP; fd++) {
    if (isFdOpen(fd)) {
      open.push(fd);
      gap = 0;
    } else {
      gap++;
    }
  }
  return open;
}

let devFdLists;

/** Whether /dev/fd lists this process's fds: checked once, with a file opened for the purpose. */
function devFdWorks() {
  if (devFdLists === undefined) {
    const marker = fs.openSync(process.execPath, 'r');
    try {
      devFdLists = fs.readdirSync('/dev/fd').map(Number).includes(marker);
    } catch {
      devFdLists = false;
    } finally {
      fs.closeSync(marker);
    }
  }
  return devFdLists;
}

/** The numbers of this process's open fds, ascending. */
function openFdList() {
  return (devFdWorks() ? listDevFd() : probe()).sort((a, b) => a - b);
}

/** How many fds this process has open. */
function openFds() {
  return openFdList().length;
}

module.exports = { isFdOpen, openFdList, openFds, probeOpenFds: probe, devFdWorks };
