/**
 * Releasing what was acquired. `Symbol.dispose` and `Symbol.asyncDispose` wherever this library is loaded. Node ≥ 20 defines them
 * (as the registered symbols `nodejs.dispose` and `nodejs.asyncDispose`) in the realms it creates,
 * but not in a `vm` context such as the one jest runs tests in: there a class would get a method
 * named "undefined" and `using` would throw. The values are Node's own, so an object made in one
 * realm is released by `using` in another; where the engine has them natively nothing changes.
 */
const symbols = Symbol as { dispose?: symbol; asyncDispose?: symbol };
symbols.dispose ??= Symbol.for('nodejs.dispose');
symbols.asyncDispose ??= Symbol.for('nodejs.asyncDispose');

/**
 * Runs `setup(resource)` on something just acquired (an fd, a socket) and returns what it returns;
 * when `setup` throws, `release(resource)` runs before the error goes on, so a failed setup (bind,
 * listen, an option) leaks nothing. The caller owns `resource` only once this returns.
 */
export function closeOnThrow<R, T>(resource: R, release: (resource: R) => void, setup: (resource: R) => T): T {
  try {
    return setup(resource);
  } catch (err) {
    release(resource);
    throw err;
  }
}
