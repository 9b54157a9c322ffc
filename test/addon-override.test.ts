/**
 * POLLSET_ADDON names the compiled addon to load instead of node-gyp-build's choice (test:sanitize points it at
 * the sanitizer build); a name that is not a file stops the load instead of falling back to the ordinary build.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const root = path.join(__dirname, '..');

const ordinary: string = require('node-gyp-build').resolve(root);

/** Loads the package (dist/) in a child with POLLSET_ADDON set; prints the addon files it loaded and a pipe. */
function loadWith(addon: string) {
  const script = `
    const { pipe, close } = require(${JSON.stringify(root)});
    const fds = pipe();
    fds.forEach(close);
    const loaded = Object.keys(require.cache).filter((f) => f.endsWith('.node'));
    console.log(JSON.stringify({ loaded, fds: fds.length }));`;
  return spawnSync(process.execPath, ['-e', script], {
    encoding: 'utf8',
    timeout: 20000,
    env: { ...process.env, POLLSET_ADDON: addon },
  });
}

test('the file POLLSET_ADDON names is loaded, and only that one', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pollset-addon-'));
  try {
    const copy = path.join(dir, 'other.node');
    fs.copyFileSync(ordinary, copy);
    const run = loadWith(copy);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({ loaded: [copy], fds: 2 });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test.each([
  ['a missing file', path.join(os.tmpdir(), 'pollset-no-such-addon.node')],
  ['a directory', os.tmpdir()],
])('POLLSET_ADDON naming %s is an ENOENT error naming the path, not a fallback', (_what, addon) => {
  const run = loadWith(addon);
  expect(run.status).not.toBe(0);
  expect(run.stdout).toBe('');
  expect(run.stderr).toContain(`ENOENT: POLLSET_ADDON names no addon file, ${addon}`);
});
