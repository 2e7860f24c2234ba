-- Leaves a server and a connected client open and returns: the state is
-- closed (lua_close) with live handles; the loop's __gc must end them and
-- free everything (run under valgrind by lua/test.sh). A log function is
-- set: the records of that ending (disconnections, the client's close) must
-- not call into the closing state.
local weft = require "weft"
local records = 0
weft.set_log("debug", function() records = records + 1 end)
local srv = assert(weft.server { url = "ws://127.0.0.1:0/primus" })
srv:on("connection", function(s) s:on("data", function(m) s:write(m) end) end)
local c = assert(weft.client { url = "ws://127.0.0.1:" .. srv:port() .. "/primus" })
local got
c:on("data", function(m) got = m end)
c:write("hi")
while not got do weft.poll(5) end
assert(records >= 3, "listen, connection, open")
print("got", got, "exiting with handles open")
