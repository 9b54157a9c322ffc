/**
 * The leak checks' fd listing: on this system it must see an fd the moment it is opened and stop
 * seeing it once closed, and /dev/fd (where it lists this process) and the fstat probe used where it
 * does not (FreeBSD without fdescfs) must agree.
 */
import * as fs from 'fs';
import { close, pipe } from '../lib';
import { devFdWorks, openFdList, openFds, probeOpenFds } from './helpers/fds';

test('an fd is listed while open and not after close; the count follows', () => {
  const before = openFds();
  const [r, w] = pipe();
  expect(openFdList()).toEqual(expect.arrayContaining([r, w]));
  expect(openFds()).toBe(before + 2);
  close(r);
  close(w);
  expect(openFdList()).not.toContain(r);
  expect(openFdList()).not.toContain(w);
  expect(openFds()).toBe(before);
});

test('the /dev/fd listing and the fstat probe agree, a gap below the highest fd included', () => {
  // Linux and macOS list the caller's fds in /dev/fd; where a system does not, the probe alone is used.
  if (process.platform === 'linux' || process.platform === 'darwin') expect(devFdWorks()).toBe(true);
  const held = Array.from({ length: 6 }, () => fs.openSync(__filename, 'r'));
  fs.closeSync(held[2]); // a hole: numbers above it must still be found
  try {
    expect(probeOpenFds()).toEqual(openFdList());
    expect(openFdList()).toEqual(expect.arrayContaining([held[3], held[5]]));
  } finally {
    for (const fd of [...held.slice(0, 2), ...held.slice(3)]) fs.closeSync(fd);
  }
});
