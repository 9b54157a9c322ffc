/**
 * A small command-line parser for the CLIs: `--name value`, `--name=value`, repeatable flags, flags
 * whose value is optional (`--demo [DIR]`), and booleans. Every mistake is a UsageError whose message
 * is one line; the CLIs print it and exit with code 2.
 */
export class UsageError extends Error {}

export interface FlagSpec {
  /** Without the leading dashes. */
  name: string;
  kind: 'string' | 'boolean' | 'optional-string';
  repeatable?: boolean;
  /** Shown by --help. */
  help: string;
  /**
   * Placeholder shown by --help, e.g. HOST:PORT. `HOST:PORT` also marks a listener's address: a
   * host name in it is resolved at start (addresses.ts), and a socket passed by systemd socket
   * activation may carry the flag's name (logrelay.ts).
   */
  value?: string;
  /** A one-letter alias (`-h` for --help). */
  short?: string;
}

export type Parsed = Map<string, (string | true)[]>;

export function parseFlags(argv: readonly string[], specs: readonly FlagSpec[]): Parsed {
  const byName = new Map(specs.map((s) => [s.name, s]));
  const byShort = new Map(specs.filter((s) => s.short).map((s) => [`-${s.short}`, s]));
  const parsed: Parsed = new Map();
  for (let i = 0; i < argv.length; i++) {
    const arg = byShort.has(argv[i]) ? `--${byShort.get(argv[i])!.name}` : argv[i];
    if (!arg.startsWith('--')) throw new UsageError(`unexpected argument ${JSON.stringify(arg)}`);
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    const spec = byName.get(name);
    if (!spec) throw new UsageError(`unknown flag --${name} (see --help)`);
    let value: string | true;
    if (eq >= 0) {
      if (spec.kind === 'boolean') throw new UsageError(`--${name} takes no value`);
      value = arg.slice(eq + 1);
    } else if (spec.kind === 'boolean') {
      value = true;
    } else if (i + 1 < argv.length && !argv[i + 1].startsWith('--')) {
      value = argv[++i];
    } else if (spec.kind === 'optional-string') {
      value = true;
    } else {
      throw new UsageError(`--${name} needs a value${spec.value ? ` (${spec.value})` : ''}`);
    }
    const seen = parsed.get(name) ?? [];
    if (seen.length && !spec.repeatable) throw new UsageError(`--${name} given twice`);
    parsed.set(name, [...seen, value]);
  }
  return parsed;
}

/** The --help text: one line per flag. */
export function helpText(usage: string, specs: readonly FlagSpec[]): string {
  const left = specs.map((s) => {
    const v =
      s.kind === 'boolean' ? '' : s.kind === 'optional-string' ? ` [${s.value ?? 'VALUE'}]` : ` ${s.value ?? 'VALUE'}`;
    return `  ${s.short ? `-${s.short}, ` : '    '}--${s.name}${v}`;
  });
  const width = Math.max(...left.map((l) => l.length)) + 2;
  return [
    usage,
    '',
    ...specs.map((s, i) => left[i].padEnd(width) + s.help + (s.repeatable ? ' (repeatable)' : '')),
  ].join('\n');
}

/** Accessors that turn raw values into checked ones, each failure a one-line UsageError. */
export class Flags {
  constructor(private readonly parsed: Parsed) {}

  has(name: string): boolean {
    return this.parsed.has(name);
  }

  /** Replaces a flag's values (host names by their addresses, …); nothing when it was not given. */
  replace(name: string, values: string[]): void {
    if (this.parsed.has(name)) this.parsed.set(name, values);
  }

  /** Forgets a flag, as if it had not been given. */
  drop(name: string): void {
    this.parsed.delete(name);
  }

  string(name: string, fallback?: string): string | undefined {
    const v = this.parsed.get(name)?.[0];
    if (v === undefined) return fallback;
    if (v === true) throw new UsageError(`--${name} needs a value`);
    return v;
  }

  strings(name: string): string[] {
    return (this.parsed.get(name) ?? []).filter((v): v is string => v !== true);
  }

  /** For `optional-string` flags: undefined when absent, true when given without a value. */
  optional(name: string): string | true | undefined {
    return this.parsed.get(name)?.[0];
  }

  integer(name: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
    const v = this.string(name);
    if (v === undefined) return fallback;
    if (!/^[0-9]+$/.test(v) || Number(v) < min || Number(v) > max) {
      throw new UsageError(`--${name} must be an integer from ${min} to ${max}, not ${JSON.stringify(v)}`);
    }
    return Number(v);
  }

  choice<C extends string>(name: string, choices: readonly C[], fallback: C): C {
    const v = this.string(name);
    if (v === undefined) return fallback;
    if (!(choices as readonly string[]).includes(v)) {
      throw new UsageError(`--${name} must be one of ${choices.join(', ')}, not ${JSON.stringify(v)}`);
    }
    return v as C;
  }
}
