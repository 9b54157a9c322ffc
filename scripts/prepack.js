'use strict';
// npm pack / npm publish: a tarball without prebuilds installs only where a compiler, python3 and make are
// at hand, so refuse to pack unless prebuilds/ holds at least the Linux x64 and arm64 binaries (the release
// workflow collects every platform's; `npm run build:prebuilds` and `build:prebuilds:arm64` make these two).
// POLLSET_PACK_WITHOUT_PREBUILDS=1 packs anyway, for a local tarball that may build from source.
const fs = require('fs');
const path = require('path');

const prebuilds = path.join(__dirname, '..', 'prebuilds');
const required = ['linux-x64', 'linux-arm64'];
const binaries = (tuple) => {
  try {
    return fs.readdirSync(path.join(prebuilds, tuple)).filter((f) => f.endsWith('.node'));
  } catch {
    return [];
  }
};
const missing = required.filter((tuple) => binaries(tuple).length === 0);

if (missing.length > 0 && process.env.POLLSET_PACK_WITHOUT_PREBUILDS !== '1') {
  console.error(
    `pollset: refusing to pack without prebuilds for ${missing.join(' and ')} (no prebuilds/<tuple>/*.node): ` +
      'installing such a tarball needs a compiler. Make them with `npm run build:prebuilds` (this machine) and ' +
      "`npm run build:prebuilds:arm64`, or download the release workflow's, or set " +
      'POLLSET_PACK_WITHOUT_PREBUILDS=1 to pack anyway.',
  );
  process.exit(1);
}
