{
  "targets": [
    {
      "target_name": "pollset",
      # Every native/*.cc is compiled: the directory is the one list of sources (CMakeLists.txt globs it too);
      # platform-specific files compile to stubs where their kernel API is absent.
      "sources": ["<!@(node -p \"require('fs').readdirSync('native').filter(f => f.endsWith('.cc')).sort().map(f => 'native/' + f).join(' ')\")"],
      "dependencies": ["<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except"],
      # Flags, defines, include dirs and libraries come from native/build.json (shared with CMakeLists.txt),
      # resolved for this platform and for POLLSET_KQUEUE=<libkqueue prefix> by native/build-config.js.
      "cflags_cc": ["<!@(node native/build-config.js cflags_cc)"],
      "cflags_cc!": ["-std=gnu++17", "-fno-exceptions"],
      "defines": ["<!@(node native/build-config.js defines)"],
      "configurations": {
        "Debug": { "defines": ["<!@(node native/build-config.js debug_defines)"] }
      },
      "include_dirs": ["<!@(node native/build-config.js include_dirs)"],
      "libraries": ["<!@(node native/build-config.js libraries)"],
      "conditions": [
        ["OS=='mac'", {
          "xcode_settings": {
            "OTHER_CPLUSPLUSFLAGS": ["<!@(node native/build-config.js cflags_cc)"],
            "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
            "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
            "MACOSX_DEPLOYMENT_TARGET": "11.0"
          }
        }],
        # pollset is POSIX-only (epoll/kqueue/poll over raw fds): say so instead of failing in the compiler.
        ["OS=='win'", {
          "type": "none",
          "actions": [{
            "action_name": "unsupported_platform",
            "inputs": [],
            "outputs": ["unsupported"],
            "action": ["node", "-e", "console.error('pollset supports Linux, macOS and the BSDs only (it needs epoll, kqueue or poll over POSIX fds); Windows is not supported.'); process.exit(1)"]
          }]
        }]
      ]
    }
  ]
}
