-- Benchmark server for the Lua host, mirroring bench/peers/ws_server.js:
--   lua5.4 weft_server.lua [--mode echo|broadcast] [--port 0]
-- echo: every message goes back to its sender (through a Lua handler);
-- broadcast: every message goes to every spark (server:write, encoded once
-- in C). Heartbeats off. Prints "listening on ws://127.0.0.1:PORT/primus".
-- Needs LUA_CPATH to find the module (build/lua/5.4/?.so).
local weft = require "weft"

local mode, port = "echo", 0
local i = 1
while arg[i] do
  if arg[i] == "--mode" then mode = arg[i + 1]
  elseif arg[i] == "--port" then port = tonumber(arg[i + 1])
  elseif arg[i] ~= "--ping-interval" then error("unknown option " .. arg[i]) end
  i = i + 2
end

local server = assert(weft.server {
  url = ("ws://127.0.0.1:%d/primus"):format(port),
  ping_interval = 0,
})
if mode == "echo" then
  server:on("data", function(spark, msg) spark:write(msg) end)
else
  server:on("data", function(_, msg) server:write(msg) end)
end
io.write(("listening on ws://127.0.0.1:%d/primus\n"):format(server:port()))
io.flush()
weft.run()
