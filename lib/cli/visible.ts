/**
 * Message bytes made safe to show on a terminal. Anyone who can send the relay a datagram chooses
 * these bytes; written as they are, ESC sequences, BEL, CR or C1 controls would act on the reader's
 * terminal (move the cursor, rewrite earlier lines, change the title…). Shown instead, escaped:
 *
 * - C0 controls except TAB, and DEL: `\xHH` (`\x1b`, `\x07`, `\x0d`, `\x7f`);
 * - C1 controls (U+0080–U+009F, as valid UTF-8) and the bidirectional overrides and isolates
 *   (U+202A–U+202E, U+2066–U+2069), which reorder what follows them: `\uHHHH` (`\u009b`, `\u202e`);
 * - every byte that is not part of valid UTF-8 (stray continuation bytes, overlong forms, surrogates,
 *   beyond U+10FFFF, truncated sequences): `\xHH`, one per byte;
 * - a backslash: `\\`, so that an escape on screen always stands for one of the above.
 *
 * Everything else — printable ASCII, TAB, valid UTF-8 text — passes through unchanged.
 */
const BACKSLASH = 0x5c;

const hex = (n: number, width: number) => n.toString(16).padStart(width, '0');

/** Length of the valid UTF-8 sequence starting at `i`, or 0 (Unicode Table 3-7, well-formed byte sequences). */
function sequenceLength(m: Uint8Array, i: number): number {
  const b = m[i];
  const cont = (k: number, lo = 0x80, hi = 0xbf) => i + k < m.length && m[i + k] >= lo && m[i + k] <= hi;
  if (b >= 0xc2 && b <= 0xdf) return cont(1) ? 2 : 0;
  if (b === 0xe0) return cont(1, 0xa0) && cont(2) ? 3 : 0;
  if (b === 0xed) return cont(1, 0x80, 0x9f) && cont(2) ? 3 : 0; // no surrogates
  if (b >= 0xe1 && b <= 0xef) return cont(1) && cont(2) ? 3 : 0;
  if (b === 0xf0) return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0;
  if (b >= 0xf1 && b <= 0xf3) return cont(1) && cont(2) && cont(3) ? 4 : 0;
  if (b === 0xf4) return cont(1, 0x80, 0x8f) && cont(2) && cont(3) ? 4 : 0; // up to U+10FFFF
  return 0;
}

function codePoint(m: Uint8Array, i: number, length: number): number {
  let cp = m[i] & (0xff >> (length + 1));
  for (let k = 1; k < length; k++) cp = (cp << 6) | (m[i + k] & 0x3f);
  return cp;
}

function hiddenControl(cp: number): boolean {
  return (cp >= 0x80 && cp <= 0x9f) || (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

/** `message` with every control, bidi override, invalid byte and backslash escaped as described above. */
export function visible(message: Uint8Array): Buffer {
  const parts: (string | Uint8Array)[] = [];
  let plain = 0; // start of the run of bytes copied as they are
  const escape = (at: number, skip: number, text: string) => {
    if (at > plain) parts.push(message.subarray(plain, at));
    parts.push(text);
    plain = at + skip;
  };
  for (let i = 0; i < message.length;) {
    const b = message[i];
    if (b < 0x80) {
      if ((b < 0x20 && b !== 0x09) || b === 0x7f) escape(i, 1, `\\x${hex(b, 2)}`);
      else if (b === BACKSLASH) escape(i, 1, '\\\\');
      i++;
      continue;
    }
    const length = sequenceLength(message, i);
    if (length === 0) {
      escape(i, 1, `\\x${hex(b, 2)}`);
      i++;
      continue;
    }
    const cp = codePoint(message, i, length);
    if (hiddenControl(cp)) escape(i, length, `\\u${hex(cp, 4)}`);
    i += length;
  }
  if (plain === 0) return Buffer.from(message);
  if (plain < message.length) parts.push(message.subarray(plain));
  return Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : p)));
}
