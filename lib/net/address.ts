/**
 * Socket addresses: `'127.0.0.1:5514'`, `'[::1]:6514'`, `'/run/x.sock'` (and `'@name'` for a Linux
 * abstract unix socket). Parsing never resolves names; {@link resolveAddress} does, off the hot path.
 */
import { EINVAL, systemError } from '../errors';
import { native } from '../native';

/** The address families the socket API speaks. */
export type AddressFamily = 'ipv4' | 'ipv6' | 'unix';

/**
 * One socket address. It holds the kernel's sockaddr bytes; the text form is made only when asked
 * for (a received datagram's source costs nothing until it is printed).
 */
export class Address {
  /** The sockaddr bytes, as the kernel takes and gives them. Do not modify. */
  readonly raw: Uint8Array;
  #text: string | undefined;

  private constructor(raw: Uint8Array, text?: string) {
    this.raw = raw;
    this.#text = text;
  }

  /** Parses an address text; throws EINVAL naming the input for anything else (host names too). */
  static parse(text: string): Address {
    const raw = typeof text === 'string' ? native.parseAddress(text) : -EINVAL;
    if (typeof raw === 'number') throw systemError(raw, 'parseAddress', { address: String(text) });
    return new Address(raw, text);
  }

  /** An address from sockaddr bytes the kernel gave (copied). */
  static fromRaw(raw: Uint8Array): Address {
    return new Address(raw.slice());
  }

  /** `'ipv4'`, `'ipv6'` or `'unix'`. */
  get family(): AddressFamily {
    const text = this.toString();
    return text.startsWith('[') ? 'ipv6' : text === '' || text[0] === '/' || text[0] === '@' ? 'unix' : 'ipv4';
  }

  /** The IP address (without brackets) or the unix path; `''` for an unnamed unix socket. */
  get host(): string {
    const text = this.toString();
    if (this.family === 'unix') return text;
    const colon = text.lastIndexOf(':');
    return this.family === 'ipv6' ? text.slice(1, colon - 1) : text.slice(0, colon);
  }

  /** The port; 0 for a unix address. */
  get port(): number {
    return this.family === 'unix' ? 0 : Number(this.toString().slice(this.toString().lastIndexOf(':') + 1));
  }

  /** The text form, e.g. `'[::1]:6514'`. */
  toString(): string {
    if (this.#text === undefined) {
      const text = native.formatAddress(this.raw);
      if (typeof text === 'number') throw systemError(text, 'formatAddress');
      this.#text = text;
    }
    return this.#text;
  }

  /** Same bytes, so the same endpoint. */
  equals(other: Address): boolean {
    return this.raw.length === other.raw.length && this.raw.every((b, i) => b === other.raw[i]);
  }
}

/** An Address as is, or a text parsed into one. */
export function toAddress(address: string | Address): Address {
  return address instanceof Address ? address : Address.parse(address);
}

/**
 * Like {@link Address.parse}, but a host name (`'localhost:5514'`, `'[localhost]:5514'`) is looked up
 * with `dns.lookup` first. For configuration time, before binding; never on the hot path.
 */
export async function resolveAddress(text: string, family?: 4 | 6): Promise<Address> {
  try {
    return Address.parse(text);
  } catch (err) {
    const match = /^\[?([^\]/@]+)\]?:(\d+)$/.exec(text);
    if (!match) throw err;
    // Loaded here, not at the top: programs that never resolve names don't pay for the module.
    const dns = await import('dns');
    const { address, family: found } = await dns.promises.lookup(match[1], family ? { family } : {});
    return Address.parse(found === 6 ? `[${address}]:${match[2]}` : `${address}:${match[2]}`);
  }
}
