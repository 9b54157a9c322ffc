/**
 * A network namespace of a test's own: fixed ports (logrelay --demo's 5514/6514) can be bound in it
 * whatever holds them on the host, e.g. an `npm start` in another shell. Its only interface is a
 * loopback of its own (127.0.0.1, ::1), brought up here.
 *
 * Made by `unshare --net` (as root; else with `--map-root-user`, an unprivileged user namespace) and
 * kept alive by a holder process (`sh` waiting on its stdin); programs run inside through
 * `prefix` (`nsenter … --`, which execs them, so signals reach the program itself). The holder
 * exits when `close()` ends its stdin or when the test process dies (its stdin closes then too), so
 * no namespace outlives the test. Needs util-linux's unshare and nsenter and iproute2's `ip`
 * (.ci/run installs them); where a namespace cannot be made (no tools, or not permitted: a
 * container's seccomp policy, a distribution that restricts user namespaces) `open()` says why.
 */
import { ChildProcess, spawn } from 'child_process';

export class NetNamespace {
  private constructor(
    private readonly holder: ChildProcess,
    /** Prepend to a command line to run it inside the namespace. */
    readonly prefix: string[],
  ) {}

  /** A new namespace with loopback up, or why none can be made. */
  static open(timeoutMs = 10000): Promise<NetNamespace | { unavailable: string }> {
    const root = process.getuid?.() === 0;
    const holder = spawn(
      'unshare',
      [...(root ? [] : ['--map-root-user']), '--net', 'sh', '-c', 'ip link set lo up && echo up && read _'],
      {
        stdio: ['pipe', 'pipe', 'pipe'],
      },
    );
    let stderr = '';
    holder.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    return new Promise((resolve) => {
      const fail = (why: string) => {
        clearTimeout(timer);
        holder.kill('SIGKILL');
        resolve({ unavailable: why });
      };
      const timer = setTimeout(
        () => fail(`unshare did not bring loopback up within ${timeoutMs} ms: ${stderr.trim()}`),
        timeoutMs,
      );
      holder.once('error', (err) => fail(`cannot run unshare: ${err.message}`));
      holder.once('exit', (code, signal) => fail(`unshare --net exited (${code ?? signal}): ${stderr.trim()}`));
      holder.stdout.once('data', () => {
        clearTimeout(timer);
        holder.removeAllListeners('exit');
        const enter = [
          'nsenter',
          `--target=${holder.pid}`,
          ...(root ? [] : ['--user', '--preserve-credentials']),
          '--net',
          '--',
        ];
        resolve(new NetNamespace(holder, enter));
      });
    });
  }

  /** Lets the holder go; the namespace ends with the last process inside it. */
  close(): Promise<void> {
    if (this.holder.exitCode !== null || this.holder.signalCode !== null) return Promise.resolve();
    const exited = new Promise<void>((resolve) => this.holder.once('exit', () => resolve()));
    this.holder.stdin!.end();
    return exited;
  }
}
