/**
 * Subscriber filters, unit level: the PRI read from RFC 3164 and RFC 5424 messages (and the rule for
 * a message without a valid one), the selector grammar with its errors, and the selection it makes,
 * checked against a reference evaluator written from the syslog.conf semantics. Property runs use a
 * fixed seed; fast-check prints the seed and the shrunk case when one fails.
 */
import fc from 'fast-check';
import { DEFAULT_PRI, priOf } from '../lib/relay/pri';
import { FACILITY_NAMES, parseSelector, SelectorError, SEVERITY_NAMES } from '../lib/relay/selector';

const SEED = 1201;
const b = (s: string) => Buffer.from(s, 'latin1');
const selected = (selector: string, facility: number, severity: number) =>
  parseSelector(selector).selects[facility * 8 + severity] === 1;

describe('PRI', () => {
  test.each([
    ['<13>Jan  1 00:00:00 host app: hi', 13],
    ['<0>kernel panic', 0],
    ['<191>1 2026-11-29T19:00:00Z host app - - - local7.debug', 191],
    ["<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - BOM'su root' failed", 34],
    ['<86>Nov 29 19:00:00 host sshd[1]: authpriv.info', 86],
  ])('%s → %d', (text, pri) => expect(priOf(b(text))).toBe(pri));

  test.each([
    ['no PRI at all', 'Jan  1 00:00:00 host app: hi'],
    ['empty', ''],
    ['no digits', '<>x'],
    ['four digits', '<1234>x'],
    ['above 191', '<192>x'],
    ['a leading zero', '<013>x'],
    ['a sign', '<-1>x'],
    ['not closed', '<13 x'],
    ['only the PRI opening', '<1'],
    ['a space before it', ' <13>x'],
  ])('%s: user.notice (13), as RFC 3164 §4.3.3 has a relay assume', (_, text) =>
    expect(priOf(b(text))).toBe(DEFAULT_PRI),
  );

  test('property: priOf agrees with the grammar <(0|[1-9][0-9]{0,2})> ≤ 191, on any bytes', () => {
    const pri = fc.oneof(
      fc.integer({ min: 0, max: 999 }).map((n) => `<${n}>`),
      fc.stringMatching(/^<[0-9]{0,4}>?/),
      fc.string({ maxLength: 6 }),
    );
    fc.assert(
      fc.property(pri, fc.uint8Array({ maxLength: 8 }), (head, tail) => {
        const bytes = Buffer.concat([b(head), Buffer.from(tail)]);
        const m = /^<(0|[1-9][0-9]{0,2})>/.exec(bytes.toString('latin1'));
        const expected = m && Number(m[1]) <= 191 ? Number(m[1]) : 13;
        expect(priOf(bytes)).toBe(expected);
      }),
      { seed: SEED, numRuns: 3000 },
    );
  });
});

describe('selector grammar', () => {
  test('auth,authpriv.*;*.warning: every auth and authpriv message, and warning or worse from any facility', () => {
    const s = 'auth,authpriv.*;*.warning';
    for (let sev = 0; sev < 8; sev++) {
      expect(selected(s, 4, sev)).toBe(true);
      expect(selected(s, 10, sev)).toBe(true);
      expect(selected(s, 1, sev)).toBe(sev <= 4);
      expect(selected(s, 23, sev)).toBe(sev <= 4);
    }
  });

  test('.=SEV selects that severity alone; .!SEV and .none take away what selectors to their left added', () => {
    expect([...Array(8).keys()].map((sev) => selected('mail.=info', 2, sev))).toEqual([
      false,
      false,
      false,
      false,
      false,
      false,
      true,
      false,
    ]);
    // *.info;mail.none: info or worse from everything but mail
    expect(selected('*.info;mail.none', 2, 0)).toBe(false);
    expect(selected('*.info;mail.none', 3, 6)).toBe(true);
    expect(selected('*.info;mail.none', 3, 7)).toBe(false);
    // order matters, as in syslog.conf: a later selector adds back
    expect(selected('mail.none;*.info', 2, 6)).toBe(true);
    // *.*;*.!err: everything less severe than err (notice, info…), nothing from err up
    expect([...Array(8).keys()].map((sev) => selected('*.*;*.!err', 1, sev))).toEqual([
      false,
      false,
      false,
      false,
      true,
      true,
      true,
      true,
    ]);
    expect([...Array(8).keys()].map((sev) => selected('*.*;kern.!=info', 0, sev))).toEqual([
      true,
      true,
      true,
      true,
      true,
      true,
      false,
      true,
    ]);
  });

  test('names are case-insensitive, synonyms and facility numbers work', () => {
    expect(parseSelector('AUTH.Warn').selects).toEqual(parseSelector('auth.warning').selects);
    expect(parseSelector('4.error').selects).toEqual(parseSelector('auth.err').selects);
    expect(parseSelector('local7.panic').selects).toEqual(parseSelector('23.emerg').selects);
    expect(selected('15.*', 15, 3)).toBe(true);
  });

  test.each([
    ['', 'empty selector at column 1'],
    ['auth', 'expected FACILITY.PRIORITY, not "auth" at column 1'],
    ['bogus.info', 'unknown facility "bogus" at column 1'],
    ['auth,bogus.info', 'unknown facility "bogus" at column 6'],
    ['auth.*;bogus.info', 'unknown facility "bogus" at column 8'],
    ['auth.loud', 'unknown severity "loud" at column 6'],
    ['auth.!=loud', 'unknown severity "loud" at column 8'],
    ['auth.', 'missing severity at column 6'],
    ['.info', 'missing facility at column 1'],
    ['auth,.info', 'missing facility at column 6'],
    ['auth.*;', 'empty selector (two ";" in a row, or one at an end) at column 8'],
    ['*,auth.info', '"*" cannot be listed with other facilities at column 1'],
    ['24.info', 'unknown facility "24" at column 1'],
    ['auth.!none', 'unknown severity "none" at column 7'],
    ['__proto__.info', 'unknown facility "__proto__" at column 1'],
    ['auth.constructor', 'unknown severity "constructor" at column 6'],
  ])('%j is refused: %s', (text, message) => {
    let error: unknown;
    try {
      parseSelector(text);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(SelectorError);
    expect((error as SelectorError).message).toBe(message);
    expect((error as SelectorError).code).toBe('ERR_INVALID_SELECTOR');
  });

  const facility = fc.oneof(
    fc.constantFrom(...Object.keys(FACILITY_NAMES)),
    fc.integer({ min: 0, max: 23 }).map(String),
  );
  const priority = fc.oneof(
    fc.constantFrom('*', 'none'),
    fc
      .tuple(fc.constantFrom('', '!'), fc.constantFrom('', '='), fc.constantFrom(...Object.keys(SEVERITY_NAMES)))
      .map((p) => p.join('')),
  );
  const one = fc.tuple(
    fc.oneof(fc.constant(['*']), fc.uniqueArray(facility, { minLength: 1, maxLength: 4 })),
    priority,
  );
  const list = fc.array(one, { minLength: 1, maxLength: 5 });

  /** syslog.conf, read literally: the last selector (from the left) that speaks of (facility, severity) decides. */
  function reference(sels: [readonly string[], string][], fac: number, sev: number): boolean {
    let decision = false;
    for (const [facs, prio] of sels) {
      const names = facs.map((f) => (f === '*' ? -1 : /^\d+$/.test(f) ? Number(f) : FACILITY_NAMES[f]));
      if (!names.includes(-1) && !names.includes(fac)) continue;
      if (prio === '*') decision = true;
      else if (prio === 'none') decision = false;
      else {
        const negate = prio.startsWith('!');
        const rest = negate ? prio.slice(1) : prio;
        const exact = rest.startsWith('=');
        const level = SEVERITY_NAMES[exact ? rest.slice(1) : rest];
        const covers = exact ? sev === level : sev <= level;
        if (covers) decision = !negate;
      }
    }
    return decision;
  }

  test('property: the selection equals the syslog.conf reading for every facility and severity', () => {
    fc.assert(
      fc.property(list, (sels) => {
        const text = sels.map(([facs, prio]) => `${facs.join(',')}.${prio}`).join(';');
        const expected = Array.from({ length: 192 }, (_, pri) => (reference(sels, pri >> 3, pri & 7) ? 1 : 0));
        expect([...parseSelector(text).selects]).toEqual(expected);
      }),
      { seed: SEED, numRuns: 500 },
    );
  });

  test('property: any text either parses or throws a SelectorError with a column inside it (never anything else)', () => {
    const text = fc.oneof(
      fc.string({ maxLength: 40 }),
      fc
        .array(fc.constantFrom('auth', 'mail', '*', '.', ',', ';', '!', '=', 'info', 'none', 'x', ''), {
          maxLength: 10,
        })
        .map((p) => p.join('')),
    );
    fc.assert(
      fc.property(text, (t) => {
        try {
          expect(parseSelector(t).selects).toHaveLength(192);
        } catch (e) {
          expect(e).toBeInstanceOf(SelectorError);
          expect((e as SelectorError).position).toBeGreaterThanOrEqual(1);
          expect((e as SelectorError).position).toBeLessThanOrEqual(Math.max(1, t.length + 1));
        }
      }),
      { seed: SEED, numRuns: 3000 },
    );
  });
});
