/**
 * LineSink on a real pipe nobody reads for a while: the fd takes what it can, the rest waits in a
 * bounded queue, lines beyond it are dropped and counted, and once the reader drains the pipe every
 * kept line comes out whole and in order.
 */
import { close, pipe, read, WOULD_BLOCK } from '../lib';
import { LineSink } from '../lib/relay/logsink';

test('a full pipe: bounded queue, whole lines in order, drops counted, drained once read', () => {
  const [r, w] = pipe();
  try {
    const sink = new LineSink(w, 16 * 1024);
    let drained = 0;
    sink.onBacklog = () => undefined; // no timer: this test drains by hand
    sink.onDrained = () => drained++;
    const LINES = 5000;
    for (let i = 0; i < LINES; i++)
      sink.write(Buffer.from(`line ${String(i).padStart(5, '0')} ${'x'.repeat(80 + (i % 37))}\n`));
    expect(sink.dropped).toBeGreaterThan(0);
    expect(sink.pendingBytes).toBeLessThanOrEqual(16 * 1024 + 200); // the bound, plus the rest of one started line
    expect(drained).toBe(0);

    const chunks: Buffer[] = [];
    const buf = Buffer.alloc(65536);
    for (let rounds = 0; rounds < 10000; rounds++) {
      const n = read(r, buf);
      if (n !== WOULD_BLOCK && n > 0) chunks.push(Buffer.from(buf.subarray(0, n)));
      if (sink.flush() && n === WOULD_BLOCK) break;
    }
    expect(sink.pendingBytes).toBe(0);
    expect(drained).toBe(1);
    const lines = Buffer.concat(chunks).toString('latin1').split('\n');
    expect(lines.pop()).toBe(''); // ends with a whole line
    expect(lines.length).toBe(LINES - sink.dropped);
    let last = -1;
    for (const line of lines) {
      const m = /^line (\d{5}) (x+)$/.exec(line);
      expect(m).not.toBeNull();
      const i = Number(m![1]);
      expect(m![2].length).toBe(80 + (i % 37));
      expect(i).toBeGreaterThan(last);
      last = i;
    }
  } finally {
    close(r);
    close(w);
  }
});

test('a pipe whose reader is gone (EPIPE): lines are counted as dropped, nothing throws', () => {
  const [r, w] = pipe();
  close(r);
  try {
    const sink = new LineSink(w);
    for (let i = 0; i < 10; i++) sink.write(Buffer.from(`line ${i}\n`));
    expect(sink.dropped).toBe(10);
    expect(sink.flush()).toBe(true);
  } finally {
    close(w);
  }
});

test('the reader goes away while lines wait: they are counted as dropped, and the sink takes no more', () => {
  const [r, w] = pipe();
  try {
    const sink = new LineSink(w, 16 * 1024);
    sink.onBacklog = () => undefined;
    for (let i = 0; i < 2000; i++) sink.write(Buffer.from(`line ${i} ${'y'.repeat(60)}\n`));
    const before = sink.dropped;
    const waiting = sink.pendingBytes;
    expect(waiting).toBeGreaterThan(0);
    close(r);
    expect(sink.flush()).toBe(true);
    expect(sink.pendingBytes).toBe(0);
    expect(sink.dropped).toBeGreaterThan(before);
    sink.write(Buffer.from('after\n'));
    expect(sink.pendingBytes).toBe(0);
  } finally {
    close(w);
  }
});
