/**
 * `--check`: everything a start would refuse, found without starting — flags, host names, files,
 * certificates (the key matches the certificate, the CA holds one) — and nothing bound, created or
 * listened on. Each problem is one line; a flag that is wrong is reported once and the rest are
 * still checked (the daemon habit of `rsyslogd -N1`, `syslog-ng --syntax-only`).
 */
import { accessSync, constants, statSync } from 'fs';
import * as path from 'path';
import { Flags, UsageError } from './flags';

/**
 * Runs `build` until it succeeds, dropping each flag a usage error names (so the next one is
 * checked too): the problems found, and what `build` made of the flags that were good (undefined
 * when an error named no flag, or the same flag twice).
 */
export function collectUsage<T>(flags: Flags, build: (flags: Flags) => T): { built?: T; problems: UsageError[] } {
  const problems: UsageError[] = [];
  const dropped = new Set<string>();
  for (;;) {
    try {
      return { built: build(flags), problems };
    } catch (e) {
      if (!(e instanceof UsageError)) throw e;
      problems.push(e);
      const name = /^--([A-Za-z0-9-]+)/.exec(e.message)?.[1];
      if (name === undefined || dropped.has(name)) return { problems };
      dropped.add(name);
      flags.drop(name);
    }
  }
}

/** A file the program will read: it exists, is a regular file, and can be read. */
export function readableFile(flag: string, file: string): string | undefined {
  try {
    if (!statSync(file).isFile()) return `--${flag}: ${file} is not a regular file`;
    accessSync(file, constants.R_OK);
    return undefined;
  } catch (e) {
    return `--${flag}: cannot read ${file} (${(e as { code?: string }).code ?? (e as Error).message})`;
  }
}

/** A directory the program will create (with parents) or write to. */
export function writableDir(flag: string, dir: string): string | undefined {
  let at = path.resolve(dir);
  // The nearest part of it that exists must be a directory this user may write into.
  for (;;) {
    try {
      if (!statSync(at).isDirectory()) return `--${flag}: ${at} is not a directory`;
      accessSync(at, constants.W_OK | constants.X_OK);
      return undefined;
    } catch (e) {
      const code = (e as { code?: string }).code;
      if ((code !== 'ENOENT' && code !== 'ENOTDIR') || path.dirname(at) === at)
        return `--${flag}: cannot write in ${at} (${code ?? (e as Error).message})`;
      at = path.dirname(at);
    }
  }
}
