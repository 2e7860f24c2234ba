/*
 * Values both ways: Lua values to weft_value trees (never raising, for the
 * C side that must not unwind) and decoded values to Lua values; the
 * markers weft.array/weft.map; weft.encode/weft.decode.
 *
 * | Lua                              | weft                                  |
 * | nil, weft.null                   | null                                  |
 * | integer / float (5.4)            | int / float (LuaJIT: integral doubles |
 * |                                  | within 2^53 are ints)                 |
 * | string: UTF-8 / not              | string / binary                       |
 * | table with keys 1..n (n >= 1)    | array (weft.array marks one)          |
 * | any other table, {}              | map (weft.map marks one)              |
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "weft_lua.h"

/* Lua -> weft. Never raises: returns 0 or a WEFT_E* code, and *why says what
 * could not be converted. */
int weft__lto_value(weft__lloop *lp, lua_State *L, int idx, int depth, weft_value **out,
                    const char **why) {
  if (idx < 0 && idx > LUA_REGISTRYINDEX) idx = lua_gettop(L) + idx + 1;
  *out = NULL;
  switch (lua_type(L, idx)) {
  case LUA_TNIL: *out = weft_value_new_null(); break;
  case LUA_TBOOLEAN: *out = weft_value_new_bool(lua_toboolean(L, idx)); break;
  case LUA_TLIGHTUSERDATA:
    if (lua_touserdata(L, idx) != NULL) {
      *why = "a light userdata";
      return WEFT_ETYPE;
    }
    *out = weft_value_new_null(); /* weft.null */
    break;
  case LUA_TNUMBER: {
#ifdef WEFT__LUA_NO_INT
    double d = lua_tonumber(L, idx);
    if (d == floor(d) && fabs(d) <= 9007199254740992.0)
      *out = weft_value_new_int((int64_t)d);
    else
      *out = weft_value_new_float(d);
#else
    if (lua_isinteger(L, idx))
      *out = weft_value_new_int((int64_t)lua_tointeger(L, idx));
    else
      *out = weft_value_new_float(lua_tonumber(L, idx));
#endif
    break;
  }
  case LUA_TSTRING: {
    size_t len;
    const char *s = lua_tolstring(L, idx, &len);
    *out = weft_value_new_string(s, len);
    if (!*out) *out = weft_value_new_binary(s, len); /* not UTF-8: bytes */
    break;
  }
  case LUA_TTABLE: {
    if (depth >= WEFT_VALUE_MAX_DEPTH) {
      *why = "a table nested too deeply (or a cycle)";
      return WEFT_EDEPTH;
    }
    if (!lua_checkstack(L, 6)) return WEFT_ENOMEM;
    int kind = 0; /* 1 array, 2 map */
    if (lua_getmetatable(L, idx)) {
      lua_rawgeti(L, LUA_REGISTRYINDEX, lp->array_mt_ref);
      if (lua_rawequal(L, -1, -2)) kind = 1;
      lua_pop(L, 1);
      lua_rawgeti(L, LUA_REGISTRYINDEX, lp->map_mt_ref);
      if (lua_rawequal(L, -1, -2)) kind = 2;
      lua_pop(L, 2);
    }
    size_t n = lua_rawlen(L, idx);
    if (kind == 0) {
      if (n == 0) {
        kind = 2;
      } else {
        kind = 1;
        lua_pushnil(L);
        while (lua_next(L, idx)) {
          lua_pop(L, 1);
          int ok = 0;
          if (lua_type(L, -1) == LUA_TNUMBER) {
            lua_Number k = lua_tonumber(L, -1);
            ok = k >= 1 && k <= (lua_Number)n && k == floor(k);
          }
          if (!ok) {
            kind = 2;
            lua_pop(L, 1);
            break;
          }
        }
      }
    }
    if (kind == 1) {
      weft_value *arr = weft_value_new_array();
      if (!arr) return WEFT_ENOMEM;
      for (size_t i = 1; i <= n; i++) {
        weft_value *item;
        lua_rawgeti(L, idx, (int)i);
        int rc = weft__lto_value(lp, L, -1, depth + 1, &item, why);
        lua_pop(L, 1);
        if (rc == 0) rc = weft_value_array_push(arr, item);
        if (rc != 0) {
          weft_value_free(arr);
          return rc;
        }
      }
      *out = arr;
      return 0;
    }
    weft_value *map = weft_value_new_map();
    if (!map) return WEFT_ENOMEM;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
      weft_value *val, *key;
      int rc = weft__lto_value(lp, L, -1, depth + 1, &val, why);
      if (rc == 0) {
        size_t klen;
        if (lua_type(L, -2) == LUA_TSTRING) {
          /* A string key that is not UTF-8 is a binary key (msgpack). */
          const char *k = lua_tolstring(L, -2, &klen);
          key = weft_value_new_string(k, klen);
          if (!key) key = weft_value_new_binary(k, klen);
          if (key) {
            rc = weft_value_map_add_value(map, key, val);
          } else {
            weft_value_free(val);
            rc = WEFT_ENOMEM;
          }
        } else {
          rc = weft__lto_value(lp, L, -2, depth + 1, &key, why);
          if (rc == 0)
            rc = weft_value_map_add_value(map, key, val);
          else
            weft_value_free(val);
        }
      }
      lua_pop(L, 1);
      if (rc != 0) {
        lua_pop(L, 1);
        weft_value_free(map);
        return rc;
      }
    }
    *out = map;
    return 0;
  }
  default: *why = lua_typename(L, lua_type(L, idx)); return WEFT_ETYPE;
  }
  return *out ? 0 : WEFT_ENOMEM;
}

/* Converts argument `idx`, or returns the nil, message, name triple. */
int weft__lcheck_value(weft__lloop *lp, lua_State *L, int idx, weft_value **out, int *nret) {
  const char *why = NULL;
  int rc = weft__lto_value(lp, L, idx, 0, out, &why);
  if (rc != 0) {
    if (why)
      lua_pushfstring(L, "cannot send %s: %s", why, weft_strerror(rc));
    else
      lua_pushfstring(L, "cannot send this value: %s", weft_strerror(rc));
    const char *msg = lua_tostring(L, -1);
    *nret = weft__lfailmsg(L, rc, msg);
    lua_remove(L, -4);
  }
  return rc;
}

/* weft -> Lua (may raise a memory error: called inside lua_pcall only).
 * The caller leaves one free slot; a container checks for its key, value
 * and a child's own table (scalars, most of the calls, check nothing). */
void weft__lpush_value(weft__lloop *lp, lua_State *L, const weft_value *v) {
  switch (weft_value_type(v)) {
  case WEFT_NULL: lua_pushlightuserdata(L, NULL); break;
  case WEFT_BOOL: {
    int b = 0;
    weft_value_get_bool(v, &b);
    lua_pushboolean(L, b);
    break;
  }
  case WEFT_INT: {
    int64_t i = 0;
    weft_value_get_int(v, &i);
#ifdef WEFT__LUA_NO_INT
    lua_pushnumber(L, (lua_Number)i);
#else
    lua_pushinteger(L, (lua_Integer)i);
#endif
    break;
  }
  case WEFT_FLOAT: {
    double d = 0;
    weft_value_get_float(v, &d);
    lua_pushnumber(L, d);
    break;
  }
  case WEFT_STRING: {
    const char *s = NULL;
    size_t len = 0;
    weft_value_get_string(v, &s, &len);
    lua_pushlstring(L, s, len);
    break;
  }
  case WEFT_BINARY: {
    const uint8_t *p = NULL;
    size_t len = 0;
    weft_value_get_binary(v, &p, &len);
    lua_pushlstring(L, (const char *)p, len);
    break;
  }
  case WEFT_ARRAY: {
    luaL_checkstack(L, 4, "message nested too deeply");
    size_t n = weft_value_len(v);
    lua_createtable(L, n > INT32_MAX ? 0 : (int)n, 0);
    for (size_t i = 0; i < n; i++) {
      weft__lpush_value(lp, L, weft_value_array_at(v, i));
      lua_rawseti(L, -2, (int)(i + 1));
    }
    if (n == 0) {
      lua_rawgeti(L, LUA_REGISTRYINDEX, lp->array_mt_ref);
      lua_setmetatable(L, -2);
    }
    break;
  }
  case WEFT_MAP: {
    luaL_checkstack(L, 4, "message nested too deeply");
    size_t n = weft_value_len(v);
    lua_createtable(L, 0, n > INT32_MAX ? 0 : (int)n);
    for (size_t i = 0; i < n; i++) {
      const weft_value *k = weft_value_map_key_at(v, i);
      if (weft_value_type(k) == WEFT_FLOAT) {
        double d = 0;
        weft_value_get_float(k, &d);
        if (d != d) continue; /* NaN cannot be a Lua key */
      }
      weft__lpush_value(lp, L, k);
      weft__lpush_value(lp, L, weft_value_map_value_at(v, i));
      lua_rawset(L, -3);
    }
    if (n == 0) {
      lua_rawgeti(L, LUA_REGISTRYINDEX, lp->map_mt_ref);
      lua_setmetatable(L, -2);
    }
    break;
  }
  }
}

void weft__lpush_error(lua_State *L, const weft_error_info *err) {
  lua_createtable(L, 0, 6);
  lua_pushinteger(L, err->code);
  lua_setfield(L, -2, "code");
  lua_pushstring(L, weft_err_name(err->code));
  lua_setfield(L, -2, "name");
  lua_pushstring(L, err->kind ? err->kind : "");
  lua_setfield(L, -2, "kind");
  lua_pushstring(L, err->message ? err->message : weft_strerror(err->code));
  lua_setfield(L, -2, "message");
  if (err->status) {
    lua_pushinteger(L, err->status);
    lua_setfield(L, -2, "status");
  }
  if (err->body) {
    lua_pushstring(L, err->body);
    lua_setfield(L, -2, "body");
  }
}

/* Values at [first, last] as one array (nil is null). */
int weft__lcheck_args(weft__lloop *lp, lua_State *L, int first, int last, weft_value **out,
                      int *nret) {
  weft_value *arr = weft_value_new_array();
  if (!arr) {
    *nret = weft__lfail(L, WEFT_ENOMEM, "arguments");
    return WEFT_ENOMEM;
  }
  for (int i = first; i <= last; i++) {
    weft_value *v;
    int rc = weft__lcheck_value(lp, L, i, &v, nret);
    if (rc == 0) {
      rc = weft_value_array_push(arr, v);
      if (rc != 0) *nret = weft__lfail(L, rc, "arguments");
    }
    if (rc != 0) {
      weft_value_free(arr);
      return rc;
    }
  }
  *out = arr;
  return 0;
}

static int mark(lua_State *L, int ref) {
  if (lua_isnoneornil(L, 1)) {
    lua_settop(L, 0);
    lua_newtable(L);
  }
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
  lua_setmetatable(L, 1);
  return 1;
}
static int l_array(lua_State *L) { return mark(L, LOOP_UP(L)->array_mt_ref); }
static int l_map(lua_State *L) { return mark(L, LOOP_UP(L)->map_mt_ref); }

/* weft.encode(value, [parser]) -> bytes; weft.decode(bytes, [parser]) -> value */
static int l_encode(lua_State *L) {
  weft__lloop *lp = LOOP_UP(L);
  const char *parser = luaL_optstring(L, 2, "json");
  weft_value *v;
  int nret;
  lua_settop(L, 2);
  if (weft__lcheck_value(lp, L, 1, &v, &nret) != 0) return nret;
  uint8_t *out = NULL;
  size_t len = 0;
  int rc = weft_value_encode(parser, v, &out, &len);
  weft_value_free(v);
  if (rc != 0) return weft__lfail(L, rc, "encode");
  lua_pushlstring(L, (const char *)out, len); /* may raise: out leaks only then */
  weft_free(out);
  return 1;
}

static int decode_push(lua_State *L) {
  weft__lpush_value(LOOP_UP(L), L, lua_touserdata(L, 1));
  return 1;
}

static int l_decode(lua_State *L) {
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  const char *parser = luaL_optstring(L, 2, "json");
  weft_value *v = NULL;
  size_t pos = 0;
  int rc = weft_value_decode(parser, s, len, &v, &pos);
  if (rc != 0) {
    lua_pushnil(L);
    lua_pushfstring(L, "decode: %s at byte %d", weft_strerror(rc), (int)pos);
    lua_pushstring(L, weft_err_name(rc));
    return 3;
  }
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_pushcclosure(L, decode_push, 1);
  lua_pushlightuserdata(L, v);
  rc = lua_pcall(L, 1, 1, 0);
  weft_value_free(v);
  if (rc != 0) lua_error(L);
  return 1;
}

const luaL_Reg weft__lvalue_funcs[] = {
    {"array", l_array}, {"map", l_map}, {"encode", l_encode}, {"decode", l_decode}, {NULL, NULL}};
