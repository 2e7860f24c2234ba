-- What servers, sparks, clients and channels share on the Lua side: on()
-- over the C handlers (event names, aliases, argument checks), the plugins
-- (their hooks handed to the C trampolines over weft_plugin_ops), and
-- tostring.
local core = require "weft.core"
local classes = core.classes

local M = {}

-- name -> the C handler's index; "reconnect_scheduled" spells
-- "reconnect scheduled" too.
local function indexes(names, aliases)
  local t = {}
  for i, name in ipairs(names) do
    t[name] = i
    t[(name:gsub(" ", "_"))] = i
  end
  for alias, name in pairs(aliases or {}) do t[alias] = t[name] end
  return t
end

local EVENTS = {
  server = indexes(core.events.server),
  spark = indexes(core.events.spark, { close = "end", disconnection = "end" }),
  client = indexes(core.events.client),
  channel = indexes(core.events.channel),
}

-- handle:on(event, fn|nil): sets or clears the handler; returns the handle
-- (nil, message, "ECLOSED" once it is gone). An unknown event name or a
-- handler that is not a function raises, as Lua's own functions do.
for kind, map in pairs(EVENTS) do
  classes[kind].on = function(self, event, fn)
    if event == "stream" and (kind == "server" or kind == "client") then
      if fn ~= nil and type(fn) ~= "function" then
        error(("bad argument #2 to 'on' (function expected, got %s)"):format(type(fn)), 2)
      end
      return self:_on_stream(fn)
    end
    local i = map[event]
    if not i then
      error(("bad argument #1 to 'on' (unknown event '%s')"):format(tostring(event)), 2)
    end
    if fn ~= nil and type(fn) ~= "function" then
      error(("bad argument #2 to 'on' (function expected, got %s)"):format(type(fn)), 2)
    end
    return self:_on(i, fn)
  end
end

-- Plugins: tables of hooks, registered before the server listens or the
-- client opens, in order.
--   servers: connection(spark), disconnection(spark), incoming(spark, msg),
--            outgoing(spark, msg)
--   clients: open(client), close(client), incoming(msg), outgoing(msg)
--   both:    name (default "plugin#<i>"), init(handle) at registration,
--            incoming_types = { "table", "string", ... }: the Lua types
--            `incoming` looks at (nil, boolean, number, string, table);
--            others pass without a call (default: every type)
-- A transform returns the message (replacing it), nothing (it goes on as
-- it came), weft.drop (swallowed), or nil and a reason (failed: an error
-- event of kind "transform").
local registered = setmetatable({}, { __mode = "k" }) -- handle -> { name -> plugin }

-- incoming_types: the Lua types `incoming` looks at, as the core's
-- WEFT_PLUGIN_TYPE bits (each name's own, so their sum is their union; no
-- bit operators in Lua 5.1/LuaJIT).
local TYPE_BITS = {
  ["nil"] = 1, -- WEFT_NULL
  boolean = 2, -- WEFT_BOOL
  number = 4 + 8, -- WEFT_INT, WEFT_FLOAT
  string = 16 + 32, -- WEFT_STRING, WEFT_BINARY
  table = 64 + 128, -- WEFT_ARRAY, WEFT_MAP
}

local function type_mask(name, p, level)
  local types = p.incoming_types
  if types == nil then return 0 end
  local function bad(why) -- blamed as M.use blames: two calls further down
    error(("bad option 'plugins' (plugin '%s': incoming_types %s)"):format(name, why), level + 2)
  end
  if p.incoming == nil then bad("without an incoming transform") end
  if type(types) ~= "table" then bad("must be a list of type names") end
  local mask, seen = 0, {}
  for _, t in ipairs(types) do
    if not TYPE_BITS[t] then bad(("takes nil, boolean, number, string, table, not %s"):format(tostring(t))) end
    if not seen[t] then mask, seen[t] = mask + TYPE_BITS[t], true end
  end
  if mask == 0 then bad("is empty (leave it out for every type)") end
  return mask
end

local HOOKS = {
  server = { "connection", "disconnection", "incoming", "outgoing" },
  client = { "open", "close", "incoming", "outgoing" },
}

-- `level`: the code to blame for a bad plugin, counted from use() as error()'s.
function M.use(handle, kind, list, level)
  if type(list) ~= "table" then
    error(("bad option 'plugins' (a list of plugin tables expected, got %s)"):format(type(list)), level)
  end
  local mine = {}
  registered[handle] = mine
  local weak = setmetatable({ handle }, { __mode = "v" }) -- hooks must not hold the client
  for i, p in ipairs(list) do
    if type(p) ~= "table" then
      error(("bad option 'plugins' (plugin #%d is a %s, not a table)"):format(i, type(p)), level)
    end
    local name = p.name == nil and ("plugin#" .. i) or p.name
    if type(name) ~= "string" then error(("bad option 'plugins' (plugin #%d: name must be a string)"):format(i), level) end
    local hooks = {}
    for _, h in ipairs(HOOKS[kind]) do
      local fn = p[h]
      if fn ~= nil and type(fn) ~= "function" then
        error(("bad option 'plugins' (plugin '%s': %s must be a function)"):format(name, h), level)
      end
      hooks[h] = fn
    end
    if p.init ~= nil and type(p.init) ~= "function" then
      error(("bad option 'plugins' (plugin '%s': init must be a function)"):format(name), level)
    end
    local types = type_mask(name, p, level)
    if kind == "client" then
      local open, close = hooks.open, hooks.close
      if open then hooks.open = function() return open(weak[1]) end end
      if close then hooks.close = function() return close(weak[1]) end end
    end
    if p.init then p.init(handle) end
    local ok, msg, ename = handle:_use(name, hooks, types)
    if not ok then return nil, msg, ename end
    mine[name] = p
  end
  return true
end

-- handle:plugin(name) --> the plugin table registered under that name, or nil.
function classes.server.plugin(self, name) return (registered[self] or {})[name] end
classes.client.plugin = classes.server.plugin

-- tostring
classes.server.__tostring = function(self)
  local url = self:url()
  return url and ("weft.server (" .. url .. ")") or "weft.server (closed)"
end
classes.spark.__tostring = function(self)
  return self:is_open() and ("weft.spark (" .. self:id() .. ")") or "weft.spark (closed)"
end
classes.client.__tostring = function(self) return "weft.client (" .. self:state() .. ")" end
classes.channel.__tostring = function(self)
  local name = self:name()
  return name and ("weft.channel (" .. name .. ")") or "weft.channel (ended)"
end
classes.reply.__tostring = function(self)
  return self:pending() and "weft.reply" or "weft.reply (answered)"
end
classes.auth.__tostring = function(self)
  local url = self:url()
  return url and ("weft.auth (" .. url .. ")") or "weft.auth (answered)"
end

-- Both handles poll (and flush) the one loop; options by name, also after the
-- constructor (those that are not fixed: high_water_mark, max_queue, …).
classes.server.poll, classes.client.poll = core.poll, core.poll
classes.server.flush, classes.client.flush = core.flush, core.flush
classes.server.set_option, classes.client.set_option = core.set_option, core.set_option

return M
