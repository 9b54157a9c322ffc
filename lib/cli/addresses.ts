/**
 * Host names in a listener's address flags, resolved once at start (see net/resolve.ts): every flag
 * whose value is shown as `HOST:PORT` takes a name, so a flag added to a CLI's table gets it too.
 * Unix paths and numeric addresses pass through; a name without an address is a usage error (exit 2).
 */
import { resolveListen, ResolveError } from '../net/resolve';
import { FlagSpec, Flags, UsageError } from './flags';

export function isAddressFlag(spec: FlagSpec): boolean {
  return spec.value === 'HOST:PORT';
}

export interface Resolution {
  /** Names that did not resolve, as usage errors (a flag with one keeps its values as given). */
  failed: { flag: string; error: UsageError }[];
  /** Names that did, for the log. */
  resolved: { flag: string; name: string; address: string }[];
}

/** Every address flag's host names, replaced by the first address each resolves to. */
export async function resolveAddressFlags(flags: Flags, specs: readonly FlagSpec[]): Promise<Resolution> {
  const failed: Resolution['failed'] = [];
  const done: Resolution['resolved'] = [];
  for (const spec of specs.filter(isAddressFlag)) {
    const values = flags.strings(spec.name);
    const resolved: string[] = [];
    for (const v of values) {
      try {
        const address = await resolveListen(v);
        if (address !== v) done.push({ flag: spec.name, name: v, address });
        resolved.push(address);
      } catch (e) {
        if (e instanceof ResolveError)
          failed.push({ flag: spec.name, error: new UsageError(`--${spec.name}: ${e.message}`) });
        // Not an address at all: left for the flag's own check to say so.
        resolved.push(v);
      }
    }
    if (values.length) flags.replace(spec.name, resolved);
  }
  return { failed, resolved: done };
}
