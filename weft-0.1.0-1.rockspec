-- The Lua module `weft` (lua/src/*.c over the C core, lua/weft/*.lua embedded), for luarocks:
--   luarocks make                          (from this folder, a clone of weft)
--   luarocks make --tree /opt/game-rocks   (into another tree)
-- It builds with CMake (the root CMakeLists.txt, target weft_lua_rock) in
-- build-luarocks/, against the Lua headers luarocks builds for, and needs
-- libuv, msgpack-c, OpenSSL and zlib with their headers (Debian/Ubuntu:
-- apt-get install cmake pkg-config libuv1-dev libmsgpack-dev libssl-dev zlib1g-dev libhiredis-dev).
-- The version here and in the file name is checked against VERSION by
-- scripts/version.py (a stage of `make test`).
rockspec_format = "3.0"
package = "weft"
version = "0.1.0-1"
-- weft has no published source archive yet: `luarocks make` builds the
-- folder it runs in and never fetches this.
source = {
   url = "./",
}
description = {
   summary = "Real-time messaging for Lua game servers on weft's C core (Primus 8 wire protocol)",
   detailed = [[
A Lua C module over weft's C event core: WebSocket servers and reconnecting
clients that speak Primus 8's wire protocol, made for a game server's fixed
tick (server:poll() drains the network without blocking). Tested with Lua 5.4
and LuaJIT 2.1.]],
   license = "MIT",
   labels = { "websocket", "networking", "primus" },
}
dependencies = {
   "lua >= 5.1, < 5.5",
}
external_dependencies = {
   LIBUV = { header = "uv.h" },
   MSGPACK = { header = "msgpack.h" },
   OPENSSL = { header = "openssl/ssl.h" },
   ZLIB = { header = "zlib.h" },
}
build = {
   type = "command",
   build_command = [[cmake -S . -B build-luarocks -DCMAKE_BUILD_TYPE=Release -DWEFT_TESTS=OFF -DWEFT_TOOLS=OFF -DWEFT_LUA=OFF -DWEFT_INSTALL=OFF "-DWEFT_LUA_INCDIR=$(LUA_INCDIR)" && cmake --build build-luarocks --target weft_lua_rock -j 2]],
   install = {
      lib = { weft = "build-luarocks/lua/rock/weft.so" },
   },
}
