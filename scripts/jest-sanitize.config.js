'use strict';
// Jest for `npm run test:sanitize` (scripts/test-sanitize.sh): the suites that drive the addon — pollset, net,
// tls, streams and native-* (argument fuzzing) — with the project's ordinary settings. Not run here:
// - the prebuild and package suites: they test what node-gyp-build loads from prebuilds/ and a packed tarball,
//   not the sanitizer build, so their global setup that makes a prebuild is dropped too;
// - the RSS leak suites (pollset-leaks, tls-leak): ASan holds freed memory in a quarantine (to catch use after
//   free) and adds redzones and shadow memory, so RSS grows by design and their bounds cannot hold; the fd
//   leak checks they also make run in the ordinary `npm test`.
const path = require('path');
const base = require('../jest.config.js');

const { globalSetup, ...rest } = base; // eslint-disable-line no-unused-vars
module.exports = {
  ...rest,
  rootDir: path.join(__dirname, '..'),
  testMatch: ['**/test/{pollset,net,tls,streams,native}-*.test.ts'],
  testPathIgnorePatterns: ['/node_modules/', '/test/(pollset-leaks|tls-leak)\\.test\\.ts$'],
  // Sanitized code and an intercepted malloc run slower; the suites' own bounds still catch hangs.
  testTimeout: 2 * base.testTimeout,
};
