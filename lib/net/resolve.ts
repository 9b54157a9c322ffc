/**
 * Host names in `HOST:PORT` texts, resolved at the edges of the program (configuration time, or a
 * client's connect), never inside `Address.parse`, which stays free of DNS. The resolver is the
 * system's (`getaddrinfo` through `dns.lookup`: /etc/hosts, nsswitch, DNS), in the order it returns.
 */
import type { LookupAddress } from 'dns';
import { Address } from './address';

/** A `HOST:PORT` whose host name has no address: `code` is the resolver's (ENOTFOUND, EAI_AGAIN…). */
export class ResolveError extends Error {
  constructor(
    readonly address: string,
    readonly host: string,
    readonly code: string,
  ) {
    super(`cannot resolve ${host} (${code === 'ENOTFOUND' ? 'no such host' : code}) in ${address}`);
  }
}

/** `host` and `port` of a `HOST:PORT` (`[HOST]:PORT` too) whose host is a name; undefined for anything else. */
function hostName(text: string): { host: string; port: string } | undefined {
  const m = /^(?:\[([^\]/@]+)\]|([^\]/@:[]+)):([0-9]{1,5})$/.exec(text);
  return m ? { host: m[1] ?? m[2], port: m[3] } : undefined;
}

function join(a: LookupAddress, port: string): Address {
  return Address.parse(a.family === 6 ? `[${a.address}]:${port}` : `${a.address}:${port}`);
}

/**
 * Every address of `text`, in the resolver's order: a numeric address or unix path as itself, a host
 * name looked up. Throws the parse error (EINVAL) for what is no address at all, and
 * {@link ResolveError} for a name with no address.
 */
export async function resolveAll(text: string): Promise<Address[]> {
  let parseError: unknown;
  try {
    return [Address.parse(text)];
  } catch (e) {
    parseError = e;
  }
  const name = hostName(text);
  if (!name) throw parseError;
  // Loaded here: programs that never resolve names do not pay for the module.
  const dns = await import('dns');
  let found: LookupAddress[];
  try {
    found = await dns.promises.lookup(name.host, { all: true });
  } catch (e) {
    throw new ResolveError(text, name.host, (e as { code?: string }).code ?? 'ENOTFOUND');
  }
  if (found.length === 0) throw new ResolveError(text, name.host, 'ENOTFOUND');
  return found.map((a) => join(a, name.port));
}

/**
 * The address a listener binds for `text`: a host name resolves to the FIRST address the resolver
 * returns (for `localhost`, 127.0.0.1 or ::1 as the system orders them). One name, one socket: to
 * listen on several addresses give each, numerically.
 */
export async function resolveListen(text: string): Promise<string> {
  return (await resolveAll(text))[0].toString();
}
