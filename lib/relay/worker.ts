/** Blocking mode: the relay's loop owns this worker thread and blocks in the pollset between events. */
import { parentPort, workerData } from 'worker_threads';
import { Loop } from '../loop';
import { createLogger } from './log';
import { LineSink } from './logsink';
import type { ResolvedOptions } from './options';
import { RunnerMessage, startEngine } from './runner';
import { Counters } from './stats';

const { options, counters, inputs, streams, controlFd, logFd } = workerData as {
  options: ResolvedOptions;
  counters: SharedArrayBuffer;
  inputs: number;
  streams: number;
  controlFd: number;
  logFd: number;
};
const log = createLogger({ json: options.json, level: options.logLevel, sink: new LineSink(logFd) });
const loop = new Loop({
  backend: options.backend,
  onError: (e, task) => log('error', 'task-crashed', { task: task.id, reason: (e as Error)?.stack ?? String(e) }),
});
const post = (m: RunnerMessage) => parentPort!.postMessage(m);
let started = false;
try {
  const onReloaded = (ok: boolean) => post({ reloaded: ok });
  post({
    listening: startEngine(
      { ...options, mode: 'blocking' },
      loop,
      new Counters(inputs, streams, counters),
      log,
      controlFd,
      onReloaded,
    ),
  });
  started = true;
} catch (e) {
  const err = e as NodeJS.ErrnoException & { reason?: string };
  post({ error: { message: err.message, code: err.code, errno: err.errno, syscall: err.syscall, reason: err.reason } });
}
if (started) loop.runBlocking();
loop.close();
// The thread ends here and its queued lines with it: what stderr has not taken yet (`stopped` last) goes out first, if it is read soon.
log.sink?.flushWithin(1000);
