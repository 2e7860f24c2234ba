-- weft for Lua: `local weft = require "weft"`.
--
-- The sugar over the C module weft.core (lua/src/): the constructors
-- weft.server{} and weft.client{} (lua/weft/server.lua, client.lua), the
-- options by name (options.lua), on(), plugins and tostring (events.lua).
-- Everything on the hot path (writes, events, values) is C.
local core = require "weft.core"
require "weft.events"
local server = require "weft.server"
local client = require "weft.client"

local weft = {
  server = server.new,
  client = client.new,
  null = core.null,       -- JSON null / msgpack nil (a light userdata; usable in tables)
  drop = core.drop,       -- what a transform returns to swallow a message
  version = core.version, -- the core's version
}
for _, name in ipairs {
  "poll", "flush", "run", "stop", "clock", "sleep", "timeout", -- the loop of this Lua state
  "transformers", "server_options", "client_options", -- what the core has
  "array", "map", "encode", "decode",                 -- values
  "set_log",                                          -- the core's log records
} do
  weft[name] = core[name]
end

return weft
