/**
 * sd_notify(3): telling the service manager how the relay is doing, for `Type=notify` units.
 * `NOTIFY_SOCKET` names a unix datagram socket (a path, or `@name` in the abstract namespace); each
 * notification is one datagram of `KEY=VALUE` lines. The variable is removed once read, so no
 * child inherits it. Without it (not run by systemd) every call does nothing.
 */
import { WOULD_BLOCK } from '../errors';
import { Address } from '../net/address';
import { DatagramSocket } from '../net/datagram';

export class Notifier {
  readonly #socket: DatagramSocket;
  readonly #address: Address;

  private constructor(address: Address) {
    this.#address = address;
    this.#socket = new DatagramSocket('unix', { slots: 1, slotSize: 1 });
  }

  /** The notifier `NOTIFY_SOCKET` asks for, or undefined; throws when it names no unix socket address. */
  static fromEnv(env: NodeJS.ProcessEnv = process.env): Notifier | undefined {
    const path = env.NOTIFY_SOCKET;
    delete env.NOTIFY_SOCKET;
    if (path === undefined || path === '') return undefined;
    let address: Address | undefined;
    try {
      if (/^[/@]/.test(path)) address = Address.parse(path);
    } catch {
      // too long for a unix socket address: reported below
    }
    if (!address) {
      throw Object.assign(new Error(`NOTIFY_SOCKET is not a unix socket path or @name: ${JSON.stringify(path)}`), {
        code: 'ERR_NOTIFY_SOCKET',
      });
    }
    return new Notifier(address);
  }

  /**
   * Sends `fields` as one notification. The manager's queue being full (EAGAIN) loses this one
   * notification — the relay never waits for its supervisor; any other failure is thrown.
   */
  notify(fields: Record<string, string | number>): boolean {
    const text = Object.entries(fields)
      .map(([k, v]) => `${k}=${String(v).replace(/\n/g, ' ')}`)
      .join('\n');
    return this.#socket.send(Buffer.from(text + '\n'), this.#address) !== WOULD_BLOCK;
  }

  close(): void {
    this.#socket.close();
  }
}

/** CLOCK_MONOTONIC in µs, as `MONOTONIC_USEC=` wants it with `RELOADING=1` (libuv's hrtime is that clock). */
export function monotonicUsec(): string {
  return (process.hrtime.bigint() / 1000n).toString();
}
