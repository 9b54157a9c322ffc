/** No leaks: churning pollsets, explicitly closed or left to the GC, keeps fd count and RSS flat. */
import { execFileSync } from 'child_process';
import * as path from 'path';
import { Pollset } from '../lib';

describe.each(Pollset.backends)('%s backend', (backend) => {
  test('10,000 create/insert/close cycles and 10,000 abandoned pollsets leave fds and RSS flat', () => {
    const out = execFileSync(
      process.execPath,
      ['--expose-gc', path.join(__dirname, 'fixtures', 'pollset-leak.js'), backend, '10000'],
      { encoding: 'utf8', timeout: 60_000 },
    );
    const m = JSON.parse(out);
    // Every round ends with exactly the fds we started with: nothing leaked, nothing still pending.
    for (const round of ['warmExplicit', 'warmAbandoned', 'afterExplicit', 'afterAbandoned']) {
      expect({ round, fds: m[round].fds }).toEqual({ round, fds: m.start.fds });
    }
    // After a warm-up round of each kind, another 20,000 pollsets add no more than allocator noise.
    const growth = m.afterAbandoned.rss - m.warmAbandoned.rss;
    expect(growth).toBeLessThan(8 * 1024 * 1024);
  });
});
