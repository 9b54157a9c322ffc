/**
 * Subscriber filters: selectors in the style of syslog.conf (sysklogd, rsyslog), such as
 * `auth,authpriv.*;*.warning` or `*.info;mail.none`.
 *
 * Grammar (case-insensitive; no spaces):
 *   selectors  = selector *( ";" selector )
 *   selector   = facilities "." priority
 *   facilities = "*" / facility *( "," facility )
 *   priority   = "*" / "none" / [ "!" ] [ "=" ] severity
 *   facility   = kern / user / mail / daemon / auth / syslog / lpr / news / uucp / cron / authpriv /
 *                ftp / ntp / security / console / local0 … local7, or its number 0…23
 *   severity   = emerg (panic) / alert / crit / err (error) / warning (warn) / notice / info / debug
 *
 * Semantics, as syslog.conf: each facility has a set of selected severities, empty at first; the
 * selectors apply from left to right to the facilities they name. `.SEV` adds SEV and every more
 * severe one, `.=SEV` adds SEV alone, `.*` adds all; `.!SEV` removes SEV and every more severe one,
 * `.!=SEV` removes SEV alone, `.none` removes all. A message is selected when its severity is in its
 * facility's set at the end: with only adding selectors, when any selector matches it; `none` and `!`
 * exclude what selectors to their left added (so order matters: `mail.none;*.info` selects mail.info).
 */
import { PRI_COUNT } from './pri';

const FACILITIES: Record<string, number> = {
  kern: 0,
  user: 1,
  mail: 2,
  daemon: 3,
  auth: 4,
  syslog: 5,
  lpr: 6,
  news: 7,
  uucp: 8,
  cron: 9,
  authpriv: 10,
  ftp: 11,
  ntp: 12,
  security: 13,
  console: 14,
  local0: 16,
  local1: 17,
  local2: 18,
  local3: 19,
  local4: 20,
  local5: 21,
  local6: 22,
  local7: 23,
};

const SEVERITIES: Record<string, number> = {
  emerg: 0,
  panic: 0,
  alert: 1,
  crit: 2,
  err: 3,
  error: 3,
  warning: 4,
  warn: 4,
  notice: 5,
  info: 6,
  debug: 7,
};

/** Longest selector text accepted (it travels in a request line of at most 1024 bytes). */
export const MAX_SELECTOR = 900;

/** A bad selector: `position` is the 1-based column of the offending part. */
export class SelectorError extends Error {
  readonly code = 'ERR_INVALID_SELECTOR';
  constructor(
    readonly position: number,
    why: string,
  ) {
    super(`${why} at column ${position}`);
  }
}

/** A parsed selector: `selects[pri]` is 1 when a message of that PRI (0…191) is selected. */
export interface Selector {
  /** The text as given. */
  readonly text: string;
  readonly selects: Uint8Array;
}

/** Parses a selector list; throws SelectorError naming the column of the first mistake. */
export function parseSelector(text: string): Selector {
  if (typeof text !== 'string') throw new TypeError('a selector must be a string');
  if (text.length > MAX_SELECTOR)
    throw new SelectorError(MAX_SELECTOR + 1, `selector longer than ${MAX_SELECTOR} characters`);
  if (text === '') throw new SelectorError(1, 'empty selector');
  const selects = new Uint8Array(PRI_COUNT);
  let at = 0;
  for (const part of text.split(';')) {
    apply(part, at + 1, selects);
    at += part.length + 1;
  }
  return { text, selects };
}

/** One `facilities.priority` starting at column `column`, applied to `selects`. */
function apply(part: string, column: number, selects: Uint8Array): void {
  const dot = part.indexOf('.');
  if (part === '') throw new SelectorError(column, 'empty selector (two ";" in a row, or one at an end)');
  if (dot < 0) throw new SelectorError(column, `expected FACILITY.PRIORITY, not ${JSON.stringify(part)}`);
  const facilities = facilityMask(part.slice(0, dot), column);
  const priority = part.slice(dot + 1).toLowerCase();
  const pcol = column + dot + 1;
  let mask: number;
  let remove = false;
  if (priority === '*') {
    mask = 0xff;
  } else if (priority === 'none') {
    mask = 0xff;
    remove = true;
  } else {
    let p = priority;
    if (p.startsWith('!')) {
      remove = true;
      p = p.slice(1);
    }
    const exact = p.startsWith('=');
    if (exact) p = p.slice(1);
    if (!Object.hasOwn(SEVERITIES, p)) {
      throw new SelectorError(
        pcol + priority.length - p.length,
        p === '' ? 'missing severity' : `unknown severity ${JSON.stringify(p.slice(0, 32))}`,
      );
    }
    const sev = SEVERITIES[p];
    // Severity 0 is the most severe: "SEV and more severe" is 0…SEV.
    mask = exact ? 1 << sev : (1 << (sev + 1)) - 1;
  }
  for (let f = 0; f < 24; f++) {
    if (!(facilities & (1 << f))) continue;
    for (let s = 0; s < 8; s++) {
      if (!(mask & (1 << s))) continue;
      selects[f * 8 + s] = remove ? 0 : 1;
    }
  }
}

/** The facilities of a selector as a bit mask (bit f = facility f). */
function facilityMask(list: string, column: number): number {
  if (list === '*') return 0xffffff;
  if (list === '') throw new SelectorError(column, 'missing facility');
  let mask = 0;
  let at = column;
  for (const name of list.split(',')) {
    const lower = name.toLowerCase();
    let f: number | undefined;
    if (/^(0|[1-9][0-9]?)$/.test(lower) && Number(lower) < 24) f = Number(lower);
    else if (Object.hasOwn(FACILITIES, lower)) f = FACILITIES[lower];
    if (f === undefined) {
      throw new SelectorError(
        at,
        name === ''
          ? 'missing facility'
          : name === '*'
            ? '"*" cannot be listed with other facilities'
            : `unknown facility ${JSON.stringify(name.slice(0, 32))}`,
      );
    }
    mask |= 1 << f;
    at += name.length + 1;
  }
  return mask;
}

/** Facility names, by number (for documentation and tests). */
export const FACILITY_NAMES: Readonly<Record<string, number>> = FACILITIES;
/** Severity names, with their synonyms. */
export const SEVERITY_NAMES: Readonly<Record<string, number>> = SEVERITIES;
