/**
 * The flag bits have one source, native/pollset.h, which the addon exports as `native.flags`; lib's `Flag`
 * const enum repeats them for the compiler. This holds the two together: the same names, the same numbers.
 */
import { Flag, native } from '../lib/native';

// Record<keyof typeof Flag, …> makes the compiler insist this object names every member of Flag, and no other.
const declared: Record<keyof typeof Flag, number> = {
  Read: Flag.Read,
  Write: Flag.Write,
  Priority: Flag.Priority,
  Hangup: Flag.Hangup,
  Error: Flag.Error,
  Oneshot: Flag.Oneshot,
};

test('Flag has exactly the names and numbers of the frozen flags object the addon exports', () => {
  expect(Object.isFrozen(native.flags)).toBe(true);
  expect({ ...native.flags }).toEqual(declared);
});

test('the flags are distinct single bits', () => {
  const bits = Object.values(native.flags);
  expect(new Set(bits).size).toBe(bits.length);
  for (const bit of bits) expect(bit > 0 && (bit & (bit - 1)) === 0).toBe(true);
});
