/**
 * `--config FILE`: any flag by its long name, one per line, for both CLIs.
 *
 * ```
 * # a comment (a line whose first non-blank character is #)
 * udp = 0.0.0.0:514          a flag with a value: NAME = VALUE
 * udp = [::]:514             a repeatable flag: one line per value
 * json                       a flag without a value: NAME alone (or NAME = true / false)
 * issuer = "CN=ops CA,O=x"   a value in double quotes is a JSON string (for spaces at its ends)
 * ```
 *
 * Flags given on the command line override the file: a single-valued flag replaces the file's, a
 * repeatable flag given there replaces all of the file's values. Relative paths are relative to the
 * working directory, as on the command line. Every mistake names the file, the line and the key.
 */
import { readFileSync } from 'fs';
import { FlagSpec, Parsed, UsageError } from './flags';

/** Where each flag's value came from, for error messages: `FILE:LINE`. */
export type Origins = Map<string, string>;

/** Flags that act on the command line itself and mean nothing in a file. */
const COMMAND_ONLY = new Set(['config', 'help', 'version']);

function value(text: string, where: string): string {
  if (!text.startsWith('"')) return text;
  try {
    const v: unknown = JSON.parse(text);
    if (typeof v === 'string') return v;
  } catch {
    // reported below
  }
  throw new UsageError(`${where}: a quoted value must be one JSON string, not ${text}`);
}

/** Text from the file as an error shows it: quoted, escaped, and cut to 60 characters (a file may be anything). */
function shown(text: string): string {
  return JSON.stringify(text.length > 60 ? `${text.slice(0, 60)}…` : text);
}

/** Reads a config file into flags, with the origin of each. */
export function loadConfig(file: string, specs: readonly FlagSpec[]): { parsed: Parsed; origins: Origins } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new UsageError(`--config: cannot read ${file}: ${(e as Error).message}`);
  }
  const byName = new Map(specs.map((s) => [s.name, s]));
  const parsed: Parsed = new Map();
  const origins: Origins = new Map();
  // A byte order mark, as some editors write one, is not part of the first key.
  text
    .replace(/^\uFEFF/, '')
    .split(/\r?\n/)
    .forEach((raw, i) => {
      const line = raw.trim();
      if (line === '' || line.startsWith('#')) return;
      const at = `${file}:${i + 1}`;
      const m = /^([A-Za-z0-9-]+)\s*(?:=\s*(.*))?$/.exec(line);
      if (!m) throw new UsageError(`${at}: expected NAME = VALUE or NAME, not ${shown(line)}`);
      const [, name, rest] = m;
      const spec = byName.get(name);
      if (!spec || COMMAND_ONLY.has(name))
        throw new UsageError(`${at}: unknown key ${shown(name)}${spec ? ' (command line only)' : ''}`);
      let v: string | true;
      if (spec.kind === 'boolean') {
        if (rest !== undefined && rest !== 'true' && rest !== 'false')
          throw new UsageError(`${at}: key ${name} is true or false, not ${shown(rest)}`);
        if (rest === 'false') return;
        v = true;
      } else if (rest === undefined || rest === '') {
        if (spec.kind !== 'optional-string')
          throw new UsageError(`${at}: key ${name} needs a value${spec.value ? ` (${spec.value})` : ''}`);
        v = true;
      } else {
        v = value(rest, `${at}: key ${name}`);
      }
      const seen = parsed.get(name) ?? [];
      if (seen.length && !spec.repeatable)
        throw new UsageError(
          `${at}: key ${name} given twice (first at line ${origins.get(name)!.slice(file.length + 1)})`,
        );
      parsed.set(name, [...seen, v]);
      if (!origins.has(name)) origins.set(name, at);
    });
  return { parsed, origins };
}

/** The file's flags with the command line's on top; origins keep only what the file still decides. */
export function overlay(
  file: { parsed: Parsed; origins: Origins },
  command: Parsed,
): { parsed: Parsed; origins: Origins } {
  const parsed: Parsed = new Map(file.parsed);
  const origins: Origins = new Map(file.origins);
  for (const [name, values] of command) {
    parsed.set(name, values);
    origins.delete(name);
  }
  return { parsed, origins };
}

/**
 * A usage error about a flag (`--name …`) whose value came from the file gets the file and line
 * in front, so it is found there rather than looked for on the command line.
 */
export function locate(error: UsageError, origins: Origins): UsageError {
  const name = /^--([A-Za-z0-9-]+)/.exec(error.message)?.[1];
  const at = name === undefined ? undefined : origins.get(name);
  return at === undefined ? error : new UsageError(`${at}: ${error.message}`);
}
