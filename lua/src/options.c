/*
 * Options by name: the core's tables (weft/options.h) as Lua tables, and
 * handle:set_option(name, value) for servers and clients. The value is
 * checked once, by the core; lua/weft/options.lua translates the
 * constructors' tables into these calls.
 */
#include <string.h>

#include "weft_lua.h"

static const char *const type_names[] = {"",       "bool", "uint",    "number",
                                         "string", "enum", "strings", "headers"};

/* Pushes the option's default: its JSON decoded ("null" is nil). */
static void push_default(weft__lloop *lp, lua_State *L, const char *json) {
  weft_value *v = NULL;
  if (strcmp(json, "null") == 0 || weft_value_decode("json", json, strlen(json), &v, NULL) != 0) {
    lua_pushnil(L);
    return;
  }
  weft__lpush_value(lp, L, v); /* small and well-formed: does not raise */
  weft_value_free(v);
}

static void push_choices(lua_State *L, const char *choices) {
  lua_newtable(L);
  int n = 0;
  for (const char *p = choices; *p;) {
    size_t k = strcspn(p, "|");
    lua_pushlstring(L, p, k);
    lua_rawseti(L, -2, ++n);
    p += k + (p[k] == '|');
  }
}

static int push_options(lua_State *L, const weft_option *(*at)(size_t)) {
  weft__lloop *lp = LOOP_UP(L);
  lua_newtable(L);
  for (size_t i = 0; at(i); i++) {
    const weft_option *o = at(i);
    lua_createtable(L, 0, 12);
    lua_pushstring(L, o->name);
    lua_setfield(L, -2, "name");
    lua_pushstring(L, o->type > 0 && o->type <= WEFT_OPT_HEADERS ? type_names[o->type] : "?");
    lua_setfield(L, -2, "type");
    lua_pushboolean(L, (o->flags & WEFT_OPT_FIXED) != 0);
    lua_setfield(L, -2, "fixed");
    lua_pushboolean(L, (o->flags & WEFT_OPT_EXT) != 0);
    lua_setfield(L, -2, "ext");
    lua_pushstring(L, o->def);
    lua_setfield(L, -2, "default_json");
    push_default(lp, L, o->def);
    lua_setfield(L, -2, "default");
    if (o->choices) {
      push_choices(L, o->choices);
      lua_setfield(L, -2, "choices");
    }
    if (o->type == WEFT_OPT_UINT || o->type == WEFT_OPT_NUMBER) {
      lua_pushnumber(L, o->min);
      lua_setfield(L, -2, "min");
      lua_pushnumber(L, o->max);
      lua_setfield(L, -2, "max");
    }
    lua_pushstring(L, o->unit); /* nil when NULL */
    lua_setfield(L, -2, "unit");
    lua_pushstring(L, o->expects);
    lua_setfield(L, -2, "expects");
    lua_pushstring(L, o->doc);
    lua_setfield(L, -2, "doc");
    lua_rawseti(L, -2, (int)i + 1);
  }
  return 1;
}

/* weft.server_options() / weft.client_options() --> { { name =, type =,
 * fixed =, ext =, default =, default_json =, choices =, min =, max =,
 * unit =, expects =, doc = }, ... } in the core's order. */
static int l_server_options(lua_State *L) { return push_options(L, weft_server_option_at); }
static int l_client_options(lua_State *L) { return push_options(L, weft_client_option_at); }

/* handle:set_option(name, value) --> true, or nil, message, name. The
 * message says what the value must be (the core's words). */
static int set_option(lua_State *L) {
  int is_client;
  weft__lowner *o = weft__lcheck_owner(L, 1, &is_client);
  const char *name = luaL_checkstring(L, 2);
  weft__lloop *lp = LOOP_UP(L);
  lp->L = L;
  const weft_option *opt = is_client ? weft_client_option(name) : weft_server_option(name);
  weft_value *v = NULL;
  int nret;
  if (opt && opt->type == WEFT_OPT_STRINGS && lua_type(L, 3) == LUA_TTABLE &&
      lua_rawlen(L, 3) == 0) {
    lua_pushnil(L);
    if (lua_next(L, 3) == 0) v = weft_value_new_array(); /* {}: an empty list */
    lua_settop(L, 3);
  }
  if (!v && weft__lcheck_value(lp, L, 3, &v, &nret) != 0) return nret;
  int rc =
      is_client ? weft_client_set_option(o->c, name, v) : weft_server_set_option(o->s, name, v);
  weft_value_free(v);
  if (rc == 0) {
    lua_pushboolean(L, 1);
    return 1;
  }
  if (rc == WEFT_ENOENT)
    lua_pushfstring(L, "unknown option '%s'", name);
  else if ((rc == WEFT_ETYPE || rc == WEFT_ERANGE || rc == WEFT_ESTATE || rc == WEFT_EINVAL) && opt)
    lua_pushfstring(L, "option '%s' must be %s (%s)", name, opt->expects, weft_strerror(rc));
  else
    lua_pushfstring(L, "option '%s': %s", name, weft_strerror(rc));
  return weft__lfailmsg(L, rc, lua_tostring(L, -1));
}

const luaL_Reg weft__loptions_funcs[] = {{"server_options", l_server_options},
                                         {"client_options", l_client_options},
                                         {"set_option", set_option},
                                         {NULL, NULL}};
