-- emit + ack round trips per second through Lua: a server and a client in
-- this process over 127.0.0.1; the client emits "add" with an ack, the
-- server's Lua handler resolves, the client's Lua callback counts.
--   LUA_CPATH="$PWD/build-lua/core/lua/5.4/?.so" lua5.4 lua/bench/ack_bench.lua [SECONDS] [IN_FLIGHT]
local weft = require "weft"
local seconds = tonumber(arg[1]) or 2
local inflight = tonumber(arg[2]) or 1
local label = arg[3] or (math.type and "lua5.4" or "luajit")

local srv = assert(weft.server { url = "ws://127.0.0.1:0/primus", emitter = true })
srv:handle("add", function(_, reply, a, b) reply:resolve(a + b) end)
local c = assert(weft.client { url = "ws://127.0.0.1:" .. srv:port() .. "/primus", emitter = true })
local open = false
c:on("open", function() open = true end)
while not open do weft.poll(5) end

local done, stop, bad = 0, false, 0
local function one(i)
  c:emit("add", i, 1, function(err, r)
    if err or r ~= i + 1 then bad = bad + 1 end
    done = done + 1
    if not stop then one(i + 1) end
  end)
end
local t0 = weft.clock()
for k = 1, inflight do one(k * 1000000) end
while weft.clock() - t0 < seconds * 1000 do weft.poll(1) end
stop = true
local ms = weft.clock() - t0
print(("%s: %d emit+ack round trips in %.0f ms, %d in flight: %.0f/s (%d bad)")
  :format(label, done, ms, inflight, done / ms * 1000, bad))
c:close()
srv:close()
weft.poll(50)
