/** The matrix every loop test runs in: each compiled-in backend × both run modes. */
import { Backend, ByteStream, Loop, Pollset } from '../../lib';
import { openFds } from './fds';

export type Mode = 'integrated' | 'blocking';

export const matrix: [Backend, Mode][] = Pollset.backends.flatMap((b) =>
  (['integrated', 'blocking'] as const).map((m): [Backend, Mode] => [b, m]),
);

/** Runs the loop to completion in `mode`. */
export async function drive(loop: Loop, mode: Mode, done?: () => boolean): Promise<void> {
  if (mode === 'integrated') await loop.run();
  else loop.runBlocking(done);
}

export { openFds };

/** A loop whose crashes are collected instead of logged. */
export function newLoop(backend: Backend): { loop: Loop; crashes: unknown[] } {
  const crashes: unknown[] = [];
  const loop = new Loop({ backend, onError: (e) => crashes.push(e) });
  return { loop, crashes };
}

/**
 * Expects the process to have no more open fds than `before`. libuv closes the poll backend's wake pipe
 * in a later close phase, so allow a few turns (bounded: 200 ms).
 */
export async function expectFdsBackTo(before: number): Promise<void> {
  // Only growth is a leak: jest itself may close fds of its own meanwhile.
  for (let i = 0; i < 200 && openFds() > before; i++) await new Promise((resolve) => setTimeout(resolve, 1));
  if (openFds() > before) throw new Error(`fd leak: ${openFds()} open fds, ${before} before`);
}

/**
 * `describe`s `body` once per backend × mode, failing any test that leaves more fds open than it
 * found.
 */
export function describeMatrix(body: (backend: Backend, mode: Mode) => void): void {
  describe.each(matrix)('%s backend, %s mode', (backend, mode) => {
    let before = 0;
    // What a backend sets up once per process (libkqueue's close monitor: 2 fds) is no leak.
    beforeAll(() => new Pollset({ backend }).close());
    beforeEach(() => {
      before = openFds();
    });
    afterEach(() => expectFdsBackTo(before));
    body(backend, mode);
  });
}

/** Closes `streams` from a task of `loop`, runs it, and closes the loop. */
export async function closeAndFinish(loop: Loop, mode: Mode, ...streams: ByteStream[]): Promise<void> {
  loop.spawn(function* () {
    for (const s of streams) yield* s.close();
  });
  await drive(loop, mode);
  loop.close();
}
