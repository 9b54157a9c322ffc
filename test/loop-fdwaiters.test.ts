/**
 * Per-fd waiters when an fd is closed behind the loop's back (a plain close(2), not the streams'
 * closeFd): the registration the kernel or the native pollset already dropped is let go quietly,
 * and a number reused by a new file gets its own registration; nothing is left registered.
 */
import { close, Operation, Pollset, sleep, socketpair, timeout, waitReadable, waitWritable, write } from '../lib';
import { describeMatrix, drive, newLoop } from './helpers/loops';

describeMatrix((backend, mode) => {
  test('a waiter whose fd was closed behind the loop is halted cleanly, and the number is reusable', async () => {
    const { loop, crashes } = newLoop(backend);
    const [a, b] = socketpair();
    let released = false;
    const waiter = loop.spawn(function* () {
      try {
        yield* waitReadable(a);
      } finally {
        released = true;
      }
    });
    let reused = -1;
    loop.spawn(function* () {
      yield* sleep(1);
      expect(loop.stats.pollsetSize).toBe(1);
      close(a); // not closeFd: the loop is not told
      waiter.halt();
      expect(released).toBe(true);
      // The same number for a new socket: waiting on it registers the new file.
      const [c, d] = socketpair();
      reused = c;
      try {
        write(d, Buffer.from('x'));
        yield* timeout(5000, waitReadable(c));
        yield* timeout(5000, waitWritable(c));
      } finally {
        close(c);
        close(d);
      }
    });
    await drive(loop, mode);
    close(b);
    expect(reused).toBe(a);
    expect(crashes).toEqual([]);
    expect(loop.stats.pollsetSize).toBe(0);
    expect(loop.stats.fdWaiters).toBe(0);
    loop.close();
  });

  test('an interest change on an fd closed behind the loop fails the waiter with EBADF and leaves nothing registered', async () => {
    const { loop, crashes } = newLoop(backend);
    const [a, b] = socketpair();
    const reader = loop.spawn(function* () {
      yield* waitReadable(a);
    });
    const errors: unknown[] = [];
    loop.spawn(function* (): Operation<void> {
      yield* sleep(1);
      close(a);
      try {
        yield* waitWritable(a); // read interest is registered: this is an update of a closed fd
      } catch (err) {
        errors.push(err);
      }
      reader.halt();
    });
    await drive(loop, mode);
    close(b);
    expect(errors).toEqual([expect.objectContaining({ code: 'EBADF', syscall: 'update', fd: a })]);
    expect(crashes).toEqual([]);
    expect(loop.stats.pollsetSize).toBe(0);
    loop.close();
  });
});

test('Pollset.has follows insert, remove, and an update that finds the fd closed', () => {
  for (const backend of Pollset.backends) {
    const ps = new Pollset({ backend });
    const [a, b] = socketpair();
    expect(ps.has(a)).toBe(false);
    ps.insert(a, 'r');
    expect(ps.has(a)).toBe(true);
    close(a);
    expect(() => ps.update(a, 'rw')).toThrow(expect.objectContaining({ code: 'EBADF' }));
    expect(ps.has(a)).toBe(false);
    expect(ps.size).toBe(0);
    ps.insert(b, 'r');
    ps.remove(b);
    expect(ps.has(b)).toBe(false);
    close(b);
    ps.close();
  }
});
