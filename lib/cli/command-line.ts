/**
 * What both CLIs share about their command line: `-h`/`--help`, `-V`/`--version`, `--config FILE`
 * (see config.ts) under the command line's own flags, and usage errors that say where a bad value
 * came from.
 */
import { readFileSync } from 'fs';
import * as path from 'path';
import { loadConfig, locate, Origins, overlay } from './config';
import { FlagSpec, Flags, helpText, parseFlags, UsageError } from './flags';

/** Flags every CLI has; append them to its table. */
export const COMMON_SPECS: FlagSpec[] = [
  {
    name: 'config',
    kind: 'string',
    value: 'FILE',
    help: 'read flags from FILE, one `NAME = VALUE` (or `NAME`) a line; flags given here override it',
  },
  { name: 'version', short: 'V', kind: 'boolean', help: 'print the version and exit' },
  { name: 'help', short: 'h', kind: 'boolean', help: 'show this help and exit' },
];

/** The package's version, as `npm` installed it. */
export function version(): string {
  const pkg = JSON.parse(readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

export class CommandLine {
  #origins: Origins = new Map();

  constructor(
    readonly tool: string,
    readonly specs: readonly FlagSpec[],
    readonly usage: string,
  ) {}

  /**
   * The flags of `argv` over those of its `--config` file; undefined when `--help` or `--version`
   * was answered (exit 0). Throws UsageError.
   */
  read(argv: readonly string[]): Flags | undefined {
    const command = parseFlags(argv, this.specs);
    if (command.has('help')) {
      process.stdout.write(helpText(this.usage, this.specs) + '\n');
      return undefined;
    }
    if (command.has('version')) {
      process.stdout.write(`${this.tool} ${version()}\n`);
      return undefined;
    }
    const file = command.get('config')?.[0];
    if (file === undefined) return new Flags(command);
    if (file === true || file === '') throw new UsageError('--config needs a file');
    const merged = overlay(loadConfig(file, this.specs), command);
    this.#origins = merged.origins;
    return new Flags(merged.parsed);
  }

  /** The one line a usage error is reported as (naming the config file and line when it came from there). */
  message(error: UsageError): string {
    return `${this.tool}: ${locate(error, this.#origins).message}`;
  }
}
