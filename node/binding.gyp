{
  # Two targets: the core's C sources (core/sources.txt, the one list) as a
  # static library, and the addon. scripts/sources.js says where the sources
  # are (../ in the repository, csrc/ in a packed tarball). The addon's own
  # code is held to -Werror; the core's warnings are enforced by its own
  # CMake build (the C stage of `make test`), so a compiler difference in
  # node-gyp's flags cannot break the Node build.
  "target_defaults": {
    "include_dirs": ["<!@(node scripts/sources.js --include)"],
    "defines": ["_GNU_SOURCE", "NAPI_VERSION=8"],
    "cflags": ["-std=c11", "-fvisibility=hidden", "-O2", "-Wall", "-Wextra"],
    "cflags_c": ["-std=c11"]
  },
  "targets": [
    {
      "target_name": "weft_core",
      "type": "static_library",
      "sources": ["<!@(node scripts/sources.js)"],
      "cflags": ["-fPIC"]
    },
    {
      "target_name": "weft",
      "dependencies": ["weft_core"],
      "sources": ["src/module.c", "src/value.c", "src/server.c", "src/auth.c", "src/spark.c",
                  "src/client.c", "src/transform.c", "src/emitter.c", "src/rooms.c",
                  "src/channel.c", "src/log.c", "src/parser.c", "src/stream.c"],
      "cflags": ["-Werror"],
      "libraries": ["-lm", "-lhiredis"],
      # Only the Node-API entry points leave the addon: the core's weft_*
      # symbols stay private to it (they come from the static library).
      "ldflags": ["-Wl,--exclude-libs,ALL"]
    }
  ]
}
