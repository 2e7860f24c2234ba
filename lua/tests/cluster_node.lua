-- A node of a weft cluster for tests/cross/cluster.test.js (the protocol is
-- node/test/fixtures/cluster_node.js's): a Lua server joined to Redis
-- (arg[1], ttl arg[2] ms), printing "listening <port>"; ?ctl=1 is the
-- test's control, ?i=N a client (even N join "lobby"). Runs until SIGTERM or
-- 110 s.
local weft = require "weft"

local srv = assert(weft.server {
  url = "ws://127.0.0.1:0/primus",
  redis = arg[1],
  redis_ttl = tonumber(arg[2] or "10000"),
})
local ctl = {}
local function tell(m)
  for c in pairs(ctl) do c:write(m) end
end

srv:on("error", function(err)
  if err.kind == "connect" or err.kind == "disconnect" then tell { error = err.kind } end
end)
srv:on("connection", function(spark)
  if spark:query("ctl") then
    ctl[spark] = true
    spark:on("end", function() ctl[spark] = nil end)
    spark:on("data", function(m)
      if type(m) ~= "table" then return end
      if m.cmd == "broadcast" then
        srv:write(m.tag)
      elseif m.cmd == "room" then
        srv:_send({ m.room }, nil, m.except, m.tag)
      elseif m.cmd == "direct" then
        srv:_send(nil, { m.id }, nil, m.tag)
      elseif m.cmd == "presence" then
        local ok, msg = srv:presence(m.room, function(ids, err)
          if ids then spark:write { done = m.cmd, ids = ids } else spark:write { done = m.cmd, error = err.name } end
        end)
        if not ok then spark:write { done = m.cmd, error = msg } end -- Redis away
        return
      end
      spark:write { done = m.cmd }
    end)
    return
  end
  local i = tonumber(spark:query("i") or "1")
  if i % 2 == 0 then spark:join("lobby") end
  tell { spark = i, id = spark:id() }
end)

io.stdout:write("listening ", srv:port(), "\n")
io.stdout:flush()
local deadline = weft.clock() + 110000
while weft.clock() < deadline do weft.poll(100) end
srv:close()
weft.poll(100)
