'use strict';
// The package's install script: a clear refusal on Windows (pollset needs POSIX fds and epoll/kqueue/poll,
// so a compiler error would only hide that), else node-gyp-build — which loads nothing and exits when a
// matching prebuild is shipped, and builds from source with node-gyp otherwise.
const { spawnSync } = require('child_process');

if (process.platform === 'win32') {
  console.error(
    'pollset: Windows is not supported. pollset is a readiness event loop over POSIX file descriptors ' +
      '(epoll, kqueue, poll) and runs on Linux, macOS and FreeBSD/OpenBSD/NetBSD (on Windows, use WSL).',
  );
  process.exit(1);
}
const bin = require.resolve('node-gyp-build/bin.js');
const run = spawnSync(process.execPath, [bin], { stdio: 'inherit' });
process.exit(run.status ?? 1);
