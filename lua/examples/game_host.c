/*
 * A game-server host that embeds the Lua 5.4 VM and loads the weft module:
 * the embedding case of lua/README.md.
 *
 *   game_host MODULE_DIR SCRIPT.lua [args...]
 *
 * MODULE_DIR holds weft.so (the build's lua/5.4/); it is put first on
 * package.cpath, so the script's `require "weft"` loads it. The module
 * resolves lua_* from this executable (it does not link liblua itself). The
 * script gets its arguments in the global `arg` (arg[0] is the script) and
 * as `...`. Exit status: 0 when the script returns normally (or returns
 * true/0), 1 on a Lua error (printed with its traceback), 2 on bad usage.
 */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <signal.h>
#include <stdio.h>

static int traceback(lua_State *L) {
  const char *msg = lua_tostring(L, 1);
  luaL_traceback(L, L, msg ? msg : "(error object is not a string)", 1);
  return 1;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s MODULE_DIR SCRIPT.lua [args...]\n", argv[0]);
    return 2;
  }
  signal(SIGPIPE, SIG_IGN); /* a peer that vanishes must not kill the server */
  lua_State *L = luaL_newstate();
  if (!L) return 1;
  luaL_openlibs(L);

  /* package.cpath = MODULE_DIR/?.so;<default> */
  lua_getglobal(L, "package");
  lua_pushfstring(L, "%s/?.so;", argv[1]);
  lua_getfield(L, -2, "cpath");
  lua_concat(L, 2);
  lua_setfield(L, -2, "cpath");
  lua_pop(L, 1);

  /* arg = { [0] = script, ... } */
  lua_createtable(L, argc - 3, 1);
  for (int i = 2; i < argc; i++) {
    lua_pushstring(L, argv[i]);
    lua_rawseti(L, -2, i - 2);
  }
  lua_setglobal(L, "arg");

  int status = 1;
  lua_pushcfunction(L, traceback);
  if (luaL_loadfile(L, argv[2]) != LUA_OK) {
    fprintf(stderr, "game_host: %s\n", lua_tostring(L, -1));
  } else {
    for (int i = 3; i < argc; i++)
      lua_pushstring(L, argv[i]);
    if (lua_pcall(L, argc - 3, 1, 1) != LUA_OK) {
      fprintf(stderr, "game_host: %s\n", lua_tostring(L, -1));
    } else {
      status = (lua_isnil(L, -1) || lua_toboolean(L, -1)) ? 0 : 1;
      if (lua_isinteger(L, -1)) status = (int)lua_tointeger(L, -1);
    }
  }
  lua_close(L); /* the module's loop closes what is still open */
  return status;
}
