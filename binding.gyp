{
  "variables": {
    # Prefix of a libkqueue install (for the kqueue backend on Linux); empty means "not wanted".
    "kqueue_prefix%": "<!(node -p \"process.env.POLLSET_KQUEUE || ''\")"
  },
  "targets": [
    {
      "target_name": "pollset",
      # Every native/*.cc is compiled: the directory is the one list of sources (CMakeLists.txt globs it too);
      # platform-specific files compile to stubs where their kernel API is absent.
      "sources": ["<!@(node -p \"require('fs').readdirSync('native').filter(f => f.endsWith('.cc')).sort().map(f => 'native/' + f).join(' ')\")"],
      "dependencies": ["<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "cflags_cc!": ["-std=gnu++17", "-fno-exceptions"],
      "defines": ["NAPI_VERSION=8"],
      "conditions": [
        ["OS=='linux'", { "defines": ["POLLSET_HAVE_EPOLL=1"] }],
        ["OS=='mac' or OS=='freebsd' or OS=='openbsd' or OS=='netbsd'", { "defines": ["POLLSET_HAVE_KQUEUE=1"] }],
        ["OS=='mac'", {
          "xcode_settings": {
            "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
            "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
            "MACOSX_DEPLOYMENT_TARGET": "11.0"
          }
        }],
        ["OS=='linux' and kqueue_prefix!=''", {
          "defines": ["POLLSET_HAVE_KQUEUE=1", "POLLSET_LIBKQUEUE=1"],
          "include_dirs": ["<(kqueue_prefix)/include/kqueue", "<(kqueue_prefix)/include"],
          "libraries": ["-L<(kqueue_prefix)/lib", "-Wl,-rpath,<(kqueue_prefix)/lib", "-lkqueue"]
        }],
        ["OS=='win'", { "type": "none" }]
      ]
    }
  ]
}
