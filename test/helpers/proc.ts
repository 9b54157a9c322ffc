/** What Linux /proc says about another process: its open fds and the CPU time it has used. Only for tests inside `describeOnLinux`. */
import * as fs from 'fs';

/** Open fds of a process, or undefined once it is gone. */
export function fdCount(pid: number): number | undefined {
  try {
    return fs.readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return undefined;
  }
}

/** CPU seconds (user + system) a process has used so far. */
export function cpuSeconds(pid: number): number {
  // After "pid (comm) ": state is field 0, utime field 11, stime field 12 (proc(5) fields 14 and 15).
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}
