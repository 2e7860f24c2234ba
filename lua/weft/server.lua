-- weft.server{}: a server from its options (the core's, by name, and
-- Lua's), listening on every URL; and what servers and sparks have in Lua:
-- to()/except() targets, for_each().
local core = require "weft.core"
local options = require "weft.options"
local events = require "weft.events"

local Server = core.classes.server

-- The url option: a string or a non-empty list of strings; raises otherwise.
local function urls_of(url)
  if type(url) == "string" then return { url } end
  if type(url) ~= "table" then
    error(url == nil and "bad argument #1 to 'server' ('url' is required)"
      or "bad argument #1 to 'server' ('url' must be a string or a list of strings)", 3)
  end
  if #url == 0 then error("bad argument #1 to 'server' ('url' is required)", 3) end
  for _, u in ipairs(url) do
    if type(u) ~= "string" then error("bad argument #1 to 'server' ('url' list must hold strings only)", 3) end
  end
  return url
end

local HANDLER_ERRORS = { raise = false, close = true }

-- Everything Lua adds after the core's options, before listening.
local function host_options(srv, host, emitter)
  local mode = host.handler_errors
  if mode ~= nil then
    if type(mode) ~= "string" then error("bad option 'handler_errors' (a string expected)", 3) end
    if HANDLER_ERRORS[mode] == nil then
      return nil, ("option 'handler_errors' must be \"raise\" or \"close\" (got %q)"):format(mode), "ERANGE"
    end
    srv:_handler_errors(HANDLER_ERRORS[mode])
  end
  for _, name in ipairs { "authorize", "id_generator" } do
    local fn = host[name]
    if fn ~= nil then
      if type(fn) ~= "function" then error(("bad option '%s' (a function expected)"):format(name), 3) end
      local ok, msg, ename = srv[name](srv, fn)
      if not ok then return nil, msg, ename end
    end
  end
  if host.psk ~= nil then
    if type(host.psk) ~= "string" then error("bad option 'psk' (a string expected)", 3) end
    local ok, msg, ename = srv:_psk(host.psk)
    if not ok then return nil, msg, ename end
  end
  if host.streams then
    if not emitter then return nil, "option 'streams' needs emitter = true", "EINVAL" end
    local ok, msg, ename = srv:_streams()
    if not ok then return nil, msg, ename end
  end
  if host.plugins ~= nil then
    local ok, msg, ename = events.use(srv, "server", host.plugins, 4)
    if not ok then return nil, msg, ename end
  end
  srv:_channels() -- the peer's channels to the "channel" event (when channels are on)
  return true
end

-- weft.server{ url = …, options… } --> the server, listening; or nil,
-- message, name (a URL that fails names itself; the listeners already made
-- are undone). Option names and types that are wrong raise.
local function new(opts)
  if type(opts) ~= "table" then
    error(("bad argument #1 to 'server' (table expected, got %s)"):format(type(opts)), 2)
  end
  local urls = urls_of(opts.url)
  local srv, msg, name = core.server_new()
  if not srv then return nil, msg, name end
  -- On an error raised here, the server that never listened is collected.
  local host
  host, msg, name = options.apply(srv, "server", opts, 3)
  if host then host, msg, name = host_options(srv, host, opts.emitter) end
  if not host then
    srv:close()
    return nil, msg, name
  end
  for _, url in ipairs(urls) do
    local ok
    ok, msg, name = srv:listen(url)
    if not ok then
      srv:close()
      return nil, msg, name
    end
  end
  return srv
end

-- ---- recipients: server:to(rooms…):except(ids…):write(msg) / :emit(…) ----

local Target = {}
Target.__index = Target
Target.__tostring = function() return "weft.target" end

-- Appends room names or ids (strings) and the ids of sparks to `rooms` or
-- `ids`, flattening one level of tables; anything else raises.
local function collect(rooms, ids, what, ...)
  for i = 1, select("#", ...) do
    local v = select(i, ...)
    local kind = type(v)
    if kind == "string" then
      rooms[#rooms + 1] = v
    elseif kind == "userdata" and getmetatable(v) == core.classes.spark then
      ids[#ids + 1] = v:id()
    elseif kind == "table" and getmetatable(v) ~= Target then
      for _, x in ipairs(v) do
        if type(x) == "table" then
          error(("bad argument to '%s' (room names or spark ids: strings, sparks, or a table of them)"):format(what), 3)
        end
        collect(rooms, ids, what, x)
      end
    else
      error(("bad argument to '%s' (room names or spark ids: strings, sparks, or a table of them)"):format(what), 3)
    end
  end
end

-- server:to(rooms or sparks…): the members of the rooms and those sparks;
-- to() with nothing: every open spark. Each spark gets a message once.
function Server:to(...)
  local t = setmetatable({ server = self, rooms = {}, ids = {}, minus = {},
                           chosen = select("#", ...) > 0 }, Target)
  collect(t.rooms, t.ids, "to", ...)
  return t
end

-- target:except(ids or sparks…): minus these.
function Target:except(...)
  collect(self.minus, self.minus, "except", ...)
  return self
end

local function lists(t)
  local none = t.chosen and #t.rooms == 0 and #t.ids == 0 -- to({}): nobody, not everyone
  return none, #t.rooms > 0 and t.rooms or nil, #t.ids > 0 and t.ids or nil,
    #t.minus > 0 and t.minus or nil
end

-- target:write(msg) --> the number of sparks it was queued on (encoded once).
function Target:write(msg)
  local none, rooms, ids, except = lists(self)
  if none then return 0 end
  return self.server:_send(rooms, ids, except, msg)
end

-- target:emit(name, args…) --> the number of sparks reached (no acks).
function Target:emit(name, ...)
  if type(name) ~= "string" then
    error(("bad argument #1 to 'emit' (string expected, got %s)"):format(type(name)), 2)
  end
  local none, rooms, ids, except = lists(self)
  if none then return 0 end
  return self.server:_send_event(rooms, ids, except, name, ...)
end

-- server:for_each(fn): fn(spark) for every open spark, in no set order,
-- until fn returns false. Returns how many it was called for.
function Server:for_each(fn)
  if type(fn) ~= "function" then
    error(("bad argument #1 to 'for_each' (function expected, got %s)"):format(type(fn)), 2)
  end
  local sparks, msg, name = self:sparks()
  if not sparks then return nil, msg, name end
  local n = 0
  for _, spark in ipairs(sparks) do
    if spark:is_open() then -- not ended by an earlier call
      n = n + 1
      if fn(spark) == false then break end
    end
  end
  return n
end

return { new = new }
