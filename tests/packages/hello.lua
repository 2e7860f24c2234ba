-- weft's hello world for Lua, as installed by `luarocks make`
-- (scripts/packages.sh): a server and a client in one script; the client's
-- message comes back. Prints "hello, weft (weft VERSION)".
local weft = require "weft"
local server = assert(weft.server { url = "ws://127.0.0.1:0/primus" })
server:on("data", function(spark, msg) spark:write(msg) end)
local client = assert(weft.client { url = "ws://127.0.0.1:" .. server:port() .. "/primus" })
client:on("data", function(msg)
  print(("%s (weft %s)"):format(msg, weft.version))
  client:close()
  server:close()
end)
client:write("hello, weft")
weft.run()
