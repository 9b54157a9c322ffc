/**
 * scripts/check-internal.js (part of `npm run lint`): a declaration marked `@internal` is for its own
 * folder of lib/ only. Run as the lint runs it, on a planted tree and on lib/ itself.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

const root = path.join(__dirname, '..');
const script = path.join(root, 'scripts', 'check-internal.js');
const fixture = path.join('test', 'fixtures', 'internal-use');

function run(dir: string) {
  const r = spawnSync(process.execPath, [script, dir], { cwd: root, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, lines: r.stderr.split('\n').filter((l) => l !== '') };
}

/** `file:line symbol` for every line of the fixture tree marked `// VIOLATION symbol`. */
function planted(dir: string): string[] {
  const files = fs
    .readdirSync(path.join(root, dir), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'));
  return files.flatMap((f) =>
    fs
      .readFileSync(path.join(root, dir, f), 'utf8')
      .split('\n')
      .flatMap((text, i) => {
        const m = /\/\/ VIOLATION (new \w+|\w+)/.exec(text);
        return m ? [`${path.join(dir, f)}:${i + 1} ${m[1]}`] : [];
      }),
  );
}

test('every planted use of another folder’s @internal declaration is reported with file:line and symbol; nothing else', () => {
  const expected = planted(fixture).sort();
  expect(expected.length).toBeGreaterThanOrEqual(6);
  const { status, lines } = run(fixture);
  expect(status).toBe(1);
  const reported = lines
    .map((l) => /^(\S+:\d+): (new \w+|\w+) is @internal in (\S+) \(another folder\)$/.exec(l))
    .filter((m) => m !== null)
    .map((m) => `${m[1]} ${m[2]}`)
    .sort();
  expect(reported).toEqual(expected);
  expect(lines.at(-1)).toBe(`${expected.length} use(s) of @internal declarations across folders`);
});

test('lib/ uses no @internal declaration of another folder', () => {
  expect(run('lib')).toEqual({ status: 0, lines: [] });
});
