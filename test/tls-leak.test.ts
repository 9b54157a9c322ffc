/**
 * 10,000 handshakes (our client ↔ our server, client certificates, socketpairs) in a child with
 * --expose-gc: half the sessions freed explicitly, half left to the GC. fds and RSS stay flat.
 */
import { execFile } from 'child_process';
import * as path from 'path';

interface Sample {
  done: number;
  fds: number;
  rss: number;
}

test('fd count and RSS stay flat over 10,000 TLS handshakes', async () => {
  const fixture = path.join(__dirname, 'fixtures', 'tls-leak.js');
  const stdout = await new Promise<string>((resolve, reject) =>
    execFile(process.execPath, ['--expose-gc', fixture, '10000', '2000'], { timeout: 170000 }, (err, out, errOut) =>
      err ? reject(new Error(`${err.message}\n${errOut}`)) : resolve(out),
    ),
  );
  const { samples } = JSON.parse(stdout) as { samples: Sample[] };
  const [start, early, end] = samples;
  expect([early.done, end.done]).toEqual([2000, 10000]);
  expect(early.fds).toBe(start.fds);
  expect(end.fds).toBe(start.fds);
  // A leaked SSL is ~25 KB: 8,000 of them would add ~200 MB. Allow 16 MiB of allocator noise.
  expect(end.rss - early.rss).toBeLessThan(16 * 1024 * 1024);
}, 180000);
