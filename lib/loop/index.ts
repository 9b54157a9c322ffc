/** The coroutine layer: tasks, operations, timers, fd waiters, mailboxes and the loop that runs them. */
export type { Instruction } from './operation';
export type { Operation } from './operation';
export { Task, HaltedError, currentTask } from './task';
export type { TaskState } from './task';
export { Loop } from './loop';
export type { LoopOptions, LoopStats, ErrorHandler, RunOptions } from './loop';
export { spawn, getDefaultLoop } from './spawn';
export { sleep, timeout } from './timers';
export { abortable } from './interrupt';
export { ensure } from './ensure';
export type { TimeoutError } from './timers';
export { waitReadable, waitWritable } from './fdwaiters';
export { Mailbox, CLOSED } from './mailbox';
export type { Closed } from './mailbox';
export { park, schedule, yieldNow, self } from './park';
export type { NotParkedError } from './park';
