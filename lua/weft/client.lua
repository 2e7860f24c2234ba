-- weft.client{}: a reconnecting client from its options (the core's, by
-- name, and Lua's), connecting unless manual.
local core = require "weft.core"
local options = require "weft.options"
local events = require "weft.events"

-- weft.client{ url = …, options… } --> the client (connecting unless
-- manual = true), or nil, message, name. Option names and types that are
-- wrong raise.
local function new(opts)
  if type(opts) ~= "table" then
    error(("bad argument #1 to 'client' (table expected, got %s)"):format(type(opts)), 2)
  end
  if type(opts.url) ~= "string" then error("bad argument #1 to 'client' ('url' is required)", 2) end
  local c, msg, name = core.client_new(opts.url)
  if not c then return nil, msg, name end
  -- On an error raised here, the client that never opened is collected.
  local ok, host
  host, msg, name = options.apply(c, "client", opts, 3)
  ok = host
  if ok and host.psk ~= nil then
    if type(host.psk) ~= "string" then error("bad option 'psk' (a string expected)", 2) end
    ok, msg, name = c:_psk(host.psk)
  end
  if ok and host.streams and not opts.emitter then
    ok, msg, name = nil, "option 'streams' needs emitter = true", "EINVAL"
  elseif ok and host.streams then
    local window = type(host.streams) == "table" and host.streams.window or nil
    ok, msg, name = c:_streams(window)
  end
  if ok and host.plugins ~= nil then ok, msg, name = events.use(c, "client", host.plugins, 3) end
  if ok then
    c:_channels() -- the peer's channels to the "channel" event (when channels are on)
    if not host.manual then ok, msg, name = c:open() end
  end
  if not ok then
    c:close()
    return nil, msg, name
  end
  return c
end

return { new = new }
