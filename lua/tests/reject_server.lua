-- A standalone Lua server with the emitter, for cross-host tests:
--
--   LUA_CPATH="$PWD/build-lua/core/lua/5.4/?.so" lua5.4 lua/tests/reject_server.lua [parser]
--
-- Listens on ws://127.0.0.1:<port>/primus (port 0: the system picks), prints
-- "listening <port>" on stdout (flushed), answers the event "sum" with the
-- sum of its arguments, rejects "fail" with the reason "nope" and answers
-- "chain" with a callback (nmsg's nesting, see below). Runs until
-- SIGTERM/SIGINT, or 60 s.
local weft = require "weft"

local srv = assert(weft.server {
  url = "ws://127.0.0.1:0/primus",
  parser = arg[1] or "json",
  emitter = true,
})
srv:handle("sum", function(_, reply, ...)
  local s = 0
  for _, v in ipairs { ... } do
    if type(v) ~= "number" then
      if reply then reply:reject("sum: not a number") end
      return
    end
    s = s + v
  end
  if reply then reply:resolve(s) end
end)
-- nmsg's nested callbacks: "chain" answers "v1:<arg>" with a callback
-- that, called back with v, answers "v3:<v>".
srv:handle("chain", function(_, reply, q)
  reply:resolve("v1:" .. tostring(q), function(err, v, next_reply)
    if not err and next_reply then next_reply:resolve("v3:" .. tostring(v)) end
  end)
end)
srv:handle("fail", function(_, reply)
  if reply then reply:reject("nope") end
end)
srv:on("error", function(err) io.stderr:write("error: ", err.message, "\n") end)

io.stdout:write("listening ", srv:port(), "\n")
io.stdout:flush()

local deadline = weft.clock() + 60000
while weft.clock() < deadline do weft.poll(100) end
srv:close()
weft.poll(100)
