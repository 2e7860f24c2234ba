-- The extensions at lua_close: a held reply on each side, a pending ack,
-- open channels on both sides and room memberships are left as they are;
-- the loop's __gc must end everything and free it (valgrind in lua/test.sh).
local weft = require "weft"
local srv = assert(weft.server {
  url = "ws://127.0.0.1:0/primus", emitter = true, rooms = true, channels = true, batching = 4096,
})
local held = {}
local server_ch
srv:on("connection", function(s) s:join("lobby") end)
srv:on("channel", function(ch) server_ch = ch end)
srv:handle("hold", function(_, reply) held.server = reply end)
local c = assert(weft.client {
  url = "ws://127.0.0.1:" .. srv:port() .. "/primus", emitter = true, channels = true,
})
c:handle("hold", function(reply) held.client = reply end)
local acks = 0
c:on("open", function()
  c:emit("hold", function() acks = acks + 1 end)
  c:emit("never", 1, function() acks = acks + 1 end, { timeout = 0 })
  c:channel("open-at-exit"):write("x")
end)
local deadline = weft.clock() + 5000
while not (held.server and server_ch) and weft.clock() < deadline do weft.poll(5) end
for _, s in ipairs(srv:members("lobby")) do s:emit("hold", function() end) end
while not held.client and weft.clock() < deadline do weft.poll(5) end
assert(held.server and held.client and server_ch, "setup")
print("holding replies, channels and acks; exiting with handles open")
