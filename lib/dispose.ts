/**
 * `Symbol.dispose` and `Symbol.asyncDispose` wherever this library is loaded. Node ≥ 20 defines them
 * (as the registered symbols `nodejs.dispose` and `nodejs.asyncDispose`) in the realms it creates,
 * but not in a `vm` context such as the one jest runs tests in: there a class would get a method
 * named "undefined" and `using` would throw. The values are Node's own, so an object made in one
 * realm is released by `using` in another; where the engine has them natively nothing changes.
 */
const symbols = Symbol as { dispose?: symbol; asyncDispose?: symbol };
symbols.dispose ??= Symbol.for('nodejs.dispose');
symbols.asyncDispose ??= Symbol.for('nodejs.asyncDispose');

export {};
