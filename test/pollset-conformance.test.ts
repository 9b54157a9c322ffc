/** One conformance suite, run once per compiled-in backend: the behaviour DESIGN.md promises on all of them. */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Pollset, pipe, socketpair, read, write, close, SystemError } from '../lib';
import { describeOnLinux } from './helpers/platform';

const fixture = (name: string) => path.join(__dirname, 'fixtures', name);
const closeAll = (...fds: number[]) => fds.forEach((fd) => close(fd));

function expectSystemError(fn: () => void, code: string, syscall: string, fd?: number): void {
  let thrown: SystemError | undefined;
  try {
    fn();
  } catch (e) {
    thrown = e as SystemError;
  }
  expect(thrown).toBeInstanceOf(Error);
  expect(thrown!.code).toBe(code);
  expect(typeof thrown!.errno).toBe('number');
  expect(thrown!.syscall).toBe(syscall);
  if (fd !== undefined) expect(thrown!.message).toContain(`fd ${fd}`);
}

describe.each(Pollset.backends)('%s backend', (backend) => {
  let ps: Pollset<string>;
  beforeEach(() => {
    ps = new Pollset<string>({ backend });
  });
  afterEach(() => ps.close());

  test('reports its backend and size', () => {
    expect(ps.backend).toBe(backend);
    expect(ps.size).toBe(0);
    const [r, w] = pipe();
    ps.insert(r, 'r');
    ps.insert(w, 'w');
    expect(ps.size).toBe(2);
    ps.remove(r);
    expect(ps.size).toBe(1);
    closeAll(r, w);
  });

  test('obj defaults to the fd; update keeps obj when omitted and replaces it when given', () => {
    const numbers = new Pollset({ backend });
    const [r, w] = pipe();
    numbers.insert(w, 'w');
    expect(numbers.wait(1000)).toBe(1);
    expect([...numbers.events()][0].obj).toBe(w);
    numbers.close();

    ps.insert(w, 'w', 'first');
    ps.update(w, 'rw');
    ps.wait(1000);
    expect([...ps.events()][0].obj).toBe('first');
    ps.update(w, 'w', 'second');
    ps.wait(1000);
    expect([...ps.events()][0].obj).toBe('second');
    closeAll(r, w);
  });

  test('insert of a registered fd is EEXIST', () => {
    const [r, w] = pipe();
    ps.insert(r, 'r');
    expectSystemError(() => ps.insert(r, 'r'), 'EEXIST', 'insert', r);
    closeAll(r, w);
  });

  test('update and remove of an unregistered fd are ENOENT', () => {
    const [r, w] = pipe();
    expectSystemError(() => ps.update(r, 'r'), 'ENOENT', 'update', r);
    expectSystemError(() => ps.remove(r), 'ENOENT', 'remove', r);
    closeAll(r, w);
  });

  test('empty or unknown event letters are EINVAL', () => {
    const [r, w] = pipe();
    expectSystemError(() => ps.insert(r, ''), 'EINVAL', 'insert', r);
    expectSystemError(() => ps.insert(r, 'rx'), 'EINVAL', 'insert', r);
    expectSystemError(() => ps.insert(r, 'R'), 'EINVAL', 'insert', r);
    ps.insert(r, 'r');
    expectSystemError(() => ps.update(r, ''), 'EINVAL', 'update', r);
    expectSystemError(() => ps.update(r, 'z'), 'EINVAL', 'update', r);
    expect(ps.size).toBe(1);
    closeAll(r, w);
  });

  test('negative or non-integer fds are EINVAL, a closed fd is EBADF', () => {
    expectSystemError(() => ps.insert(-1, 'r'), 'EINVAL', 'insert');
    expectSystemError(() => ps.insert(1.5, 'r'), 'EINVAL', 'insert');
    expectSystemError(() => ps.insert(NaN, 'r'), 'EINVAL', 'insert');
    expectSystemError(() => ps.remove(-3), 'EINVAL', 'remove');
    expectSystemError(() => ps.update(2.5, 'r'), 'EINVAL', 'update');
    const [r, w] = pipe();
    closeAll(r, w);
    expectSystemError(() => ps.insert(r, 'r'), 'EBADF', 'insert', r);
    expect(ps.size).toBe(0);
  });

  test('a closed fd reused by a new pipe never gets the old registration events', () => {
    const [r, w] = pipe();
    ps.insert(r, 'r', 'old');
    closeAll(r, w); // no remove()
    const [r2, w2] = pipe();
    expect(r2).toBe(r); // the kernel hands out the lowest free number
    write(w2, Buffer.from('data for the new owner'));
    ps.wait(50);
    expect([...ps.events()].filter((e) => e.obj === 'old')).toEqual([]);
    // The new owner can register the same number and gets its own events.
    ps.insert(r2, 'r', 'new');
    expect(ps.size).toBe(1);
    expect(ps.wait(1000)).toBe(1);
    expect([...ps.events()].map((e) => e.obj)).toEqual(['new']);
    closeAll(r2, w2);
  });

  test('remove of a closed fd still cleans up', () => {
    const [r, w] = pipe();
    ps.insert(r, 'r');
    closeAll(r, w);
    ps.remove(r);
    expect(ps.size).toBe(0);
  });

  test('removing an fd while iterating skips its pending event', () => {
    const a = pipe();
    const b = pipe();
    ps.insert(a[0], 'r', 'a');
    ps.insert(b[0], 'r', 'b');
    write(a[1], Buffer.from('x'));
    write(b[1], Buffer.from('x'));
    expect(ps.wait(1000)).toBe(2);
    const seen: string[] = [];
    for (const ev of ps.events()) {
      seen.push(ev.obj);
      ps.remove(ev.obj === 'a' ? b[0] : a[0]);
    }
    expect(seen).toHaveLength(1);
    closeAll(...a, ...b);
  });

  test('forEachEvent: the same fds and readiness as events(), as Pollset.flags bits, with the same skipping', () => {
    const a = pipe();
    const b = pipe();
    const [s1, s2] = socketpair();
    ps.insert(a[0], 'r', 'a');
    ps.insert(b[0], 'r', 'b');
    ps.insert(s1, 'rw', 's');
    write(a[1], Buffer.from('x'));
    close(s2); // s1: readable (end of file), writable until the kernel sees the hang-up, hung up
    expect(ps.wait(1000)).toBe(2);
    const { read: R, write: W, priority: P, hangup: H, error: E } = Pollset.flags;
    expect(new Set([R, W, P, H, E]).size).toBe(5);
    const asBits = (e: { read: boolean; write: boolean; priority: boolean; hangup: boolean; error: boolean }) =>
      (e.read ? R : 0) | (e.write ? W : 0) | (e.priority ? P : 0) | (e.hangup ? H : 0) | (e.error ? E : 0);
    const expected = [...ps.events()].map((e) => [e.fd, asBits(e)]);
    const seen: number[][] = [];
    ps.forEachEvent((fd, flags) => seen.push([fd, flags]));
    expect(seen).toEqual(expected);
    expect(seen.find(([fd]) => fd === a[0])?.[1]).toBe(R);
    expect((seen.find(([fd]) => fd === s1)?.[1] ?? 0) & R).toBe(R);
    // An fd removed during the calls is skipped, as in events().
    const calls: number[] = [];
    ps.forEachEvent((fd) => {
      calls.push(fd);
      ps.remove(fd === a[0] ? s1 : a[0]);
    });
    expect(calls).toHaveLength(1);
    closeAll(...a, ...b, s1);
  });

  test('inserting during iteration never yields garbage', () => {
    const a = pipe();
    ps.insert(a[0], 'r', 'a');
    write(a[1], Buffer.from('x'));
    expect(ps.wait(1000)).toBe(1);
    const seen: string[] = [];
    const extra: number[] = [];
    for (const ev of ps.events()) {
      seen.push(ev.obj);
      // Replace the ready fd under the same number with a new registration and add more.
      ps.remove(a[0]);
      ps.insert(a[0], 'r', 'reinserted');
      const p = pipe();
      extra.push(...p);
      ps.insert(p[1], 'w', 'fresh');
    }
    expect(seen).toEqual(['a']);
    closeAll(...a, ...extra);
  });

  test('level-triggered: an unread readable fd is reported again', () => {
    const [r, w] = pipe();
    ps.insert(r, 'r', 'p');
    write(w, Buffer.from('x'));
    for (let i = 0; i < 3; i++) {
      expect(ps.wait(1000)).toBe(1);
      expect([...ps.events()][0].read).toBe(true);
    }
    read(r, Buffer.alloc(8));
    expect(ps.wait(0)).toBe(0);
    closeAll(r, w);
  });

  test('one wait reports every ready fd of a large set', () => {
    const pipes = Array.from({ length: 300 }, () => pipe());
    pipes.forEach(([, w], i) => ps.insert(w, 'w', `w${i}`));
    expect(ps.wait(1000)).toBe(300);
    expect(new Set([...ps.events()].map((e) => e.obj)).size).toBe(300);
    pipes.forEach(([r, w]) => closeAll(r, w));
  });

  test('hang-up of the peer is reported', () => {
    const [r, w] = pipe();
    ps.insert(r, 'r', 'pipe');
    close(w);
    expect(ps.wait(1000)).toBe(1);
    // A reader is told it may read: the read returns EOF at once.
    expect([...ps.events()][0]).toMatchObject({ hangup: true, read: true });
    close(r);

    const [a, b] = socketpair();
    ps.insert(a, 'r', 'socket');
    close(b);
    expect(ps.wait(1000)).toBe(1);
    const ev = [...ps.events()][0];
    expect(ev).toMatchObject({ obj: 'socket', hangup: true, read: true });
    close(a);
  });

  test('a FIFO: data is reported, and its last writer closing is a hang-up (except on macOS kqueue)', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pollset-fifo-'));
    const fifo = path.join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    const r = fs.openSync(fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    let w = fs.openSync(fifo, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
    try {
      ps.insert(r, 'r', 'fifo');
      fs.writeSync(w, 'x');
      expect(ps.wait(1000)).toBe(1);
      expect([...ps.events()][0]).toMatchObject({ obj: 'fifo', read: true });
      expect(read(r, Buffer.alloc(8))).toBe(1);
      fs.closeSync(w);
      w = -1;
      // macOS's kqueue does not report a FIFO writer's close (README: "What each platform does not report").
      if (!(process.platform === 'darwin' && backend === 'kqueue')) {
        expect(ps.wait(1000)).toBe(1);
        expect([...ps.events()][0]).toMatchObject({ obj: 'fifo', read: true, hangup: true });
      }
    } finally {
      ps.remove(r);
      closeAll(r, ...(w >= 0 ? [w] : []));
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('read and write readiness of one fd come as one event', () => {
    const [a, b] = socketpair();
    ps.insert(a, 'rw', 'both');
    write(b, Buffer.from('x'));
    expect(ps.wait(1000)).toBe(1);
    const events = [...ps.events()];
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ fd: a, obj: 'both', read: true, write: true, hangup: false, error: false });
    closeAll(a, b);
  });

  test('wait on an empty set sleeps for its timeout and returns 0', () => {
    const start = process.hrtime.bigint();
    expect(ps.wait(60)).toBe(0);
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    expect(ms).toBeGreaterThanOrEqual(59);
  });

  test('sub-millisecond timeouts round up instead of spinning', () => {
    const start = process.hrtime.bigint();
    for (let i = 0; i < 5; i++) expect(ps.wait(0.2)).toBe(0);
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    expect(ms).toBeGreaterThanOrEqual(4.5);
  });

  test('a signal interrupting the wait returns 0, not an error', () => {
    const out = execFileSync(process.execPath, [fixture('signal-wait.js'), backend], { encoding: 'utf8' });
    const { result, ms } = JSON.parse(out);
    expect(result).toBe(0);
    expect(ms).toBeLessThan(9_000);
  });

  test('priority interest is accepted, or refused with ENOTSUP by a kqueue without EVFILT_EXCEPT', () => {
    const [a, b] = socketpair();
    let refused: SystemError | undefined;
    try {
      ps.insert(a, 'rp');
    } catch (e) {
      refused = e as SystemError;
    }
    if (refused) {
      // Only kqueue may lack a priority filter (libkqueue, FreeBSD); the refusal changes nothing.
      expect(backend).toBe('kqueue');
      expect(refused.code).toBe('ENOTSUP');
      expect(ps.size).toBe(0);
      ps.insert(a, 'r');
      expectSystemError(() => ps.update(a, 'rp'), 'ENOTSUP', 'update', a);
      write(b, Buffer.from('x'));
      expect(ps.wait(1000)).toBe(1);
      expect([...ps.events()][0]).toMatchObject({ fd: a, read: true, priority: false });
    } else {
      ps.update(a, 'p');
      expect(ps.wait(0)).toBe(0);
    }
    closeAll(a, b);
  });

  test('a regular file or a directory is refused with EPERM; bad letters stay EINVAL', () => {
    const file = fs.openSync(fixture('signal-wait.js'), 'r');
    const dir = fs.openSync(__dirname, 'r');
    try {
      for (const fd of [file, dir]) {
        expectSystemError(() => ps.insert(fd, 'r'), 'EPERM', 'insert', fd);
        expectSystemError(() => ps.insert(fd, 'rw'), 'EPERM', 'insert', fd);
        expectSystemError(() => ps.insert(fd, 'rx'), 'EINVAL', 'insert', fd);
      }
      expect(ps.size).toBe(0);
      // Nothing was left armed: an empty set sleeps.
      const start = process.hrtime.bigint();
      expect(ps.wait(30)).toBe(0);
      expect(Number(process.hrtime.bigint() - start) / 1e6).toBeGreaterThanOrEqual(29);
    } finally {
      closeAll(file, dir);
    }
  });

  test('one-shot interest is reported by one wait, then disarmed until update re-arms it', () => {
    const [a, b] = socketpair();
    write(b, Buffer.from('x'));
    ps.insert(a, 'rw', 'once', { oneshot: true });
    expect(ps.wait(1000)).toBe(1);
    expect([...ps.events()][0]).toMatchObject({ fd: a, obj: 'once', read: true, write: true });
    // Still readable and writable, but disarmed: the wait sleeps its whole timeout.
    const start = process.hrtime.bigint();
    expect(ps.wait(40)).toBe(0);
    expect(Number(process.hrtime.bigint() - start) / 1e6).toBeGreaterThanOrEqual(39);
    // update re-arms, with the same events or others, and keeps the one-shot mode.
    ps.update(a, 'rw');
    expect(ps.wait(1000)).toBe(1);
    expect(ps.wait(0)).toBe(0);
    ps.update(a, 'r');
    expect(ps.wait(1000)).toBe(1);
    expect([...ps.events()][0]).toMatchObject({ fd: a, read: true, write: false });
    expect(ps.wait(0)).toBe(0);
    // { oneshot: false } makes it level-triggered again.
    ps.update(a, 'r', undefined, { oneshot: false });
    expect(ps.wait(1000)).toBe(1);
    expect(ps.wait(1000)).toBe(1);
    // A disarmed registration is still registered: remove works, insert is EEXIST.
    ps.update(a, 'r', undefined, { oneshot: true });
    expect(ps.wait(1000)).toBe(1);
    expectSystemError(() => ps.insert(a, 'r'), 'EEXIST', 'insert', a);
    ps.remove(a);
    expect(ps.size).toBe(0);
    closeAll(a, b);
  });

  test('one-shot fds become ready again only after update, and a hang-up counts as the one report', () => {
    const [r, w] = pipe();
    ps.insert(r, 'r', 'pipe', { oneshot: true });
    expect(ps.wait(0)).toBe(0); // not ready yet: still armed
    write(w, Buffer.from('x'));
    expect(ps.wait(1000)).toBe(1);
    close(w);
    expect(ps.wait(30)).toBe(0); // the hang-up is not reported while disarmed
    ps.update(r, 'r');
    expect(ps.wait(1000)).toBe(1);
    expect([...ps.events()][0]).toMatchObject({ fd: r, read: true, hangup: true });
    expect(ps.wait(0)).toBe(0);
    close(r);
  });

  test('options are checked: oneshot must be a boolean, options an object', () => {
    const [r, w] = pipe();
    expect(() => ps.insert(r, 'r', 'x', { oneshot: 'yes' as never })).toThrow(TypeError);
    expect(() => ps.insert(r, 'r', 'x', 7 as never)).toThrow(TypeError);
    expect(ps.size).toBe(0);
    closeAll(r, w);
  });

  test('2,000 ready fds come in one wait', () => {
    const fds: number[] = [];
    try {
      for (let i = 0; i < 1000; i++) fds.push(...socketpair());
      fds.forEach((fd, i) => ps.insert(fd, 'w', `s${i}`));
      expect(ps.wait(1000)).toBe(2000);
      const seen = new Set([...ps.events()].map((ev) => ev.fd));
      expect(seen.size).toBe(2000);
      // Level-triggered: every one of them again, none lost or repeated.
      expect(ps.wait(1000)).toBe(2000);
      expect(new Set([...ps.events()].map((ev) => ev.fd)).size).toBe(2000);
    } finally {
      fds.forEach((fd) => ps.remove(fd));
      closeAll(...fds);
    }
  });

  test('close is idempotent and any other call afterwards throws', () => {
    const other = new Pollset({ backend });
    other.close();
    other.close();
    expect(() => other.wait(0)).toThrow(/closed/);
    expect(() => other.insert(0, 'r')).toThrow(/closed/);
    expect(() => other.size).toThrow(/closed/);
    expect(() => other.watch(() => {})).toThrow(/closed/);
  });
});

describeOnLinux('the default backend', 'epoll exists only on Linux', () => {
  test('backends lists epoll first', () => {
    expect(Pollset.backends[0]).toBe('epoll');
  });
});

test('backends lists poll everywhere; the default is the first', () => {
  expect(Pollset.backends).toContain('poll');
  expect(new Pollset().backend).toBe(Pollset.backends[0]);
  expect(() => new Pollset({ backend: 'select' as never })).toThrow(/EINVAL/);
});
