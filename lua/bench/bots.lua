-- Bot players for tick_bench.lua, in their own process:
--   lua5.4 bots.lua URL N SECONDS
-- N weft clients; each answers every state it receives with one input
-- ({dx, dy}, ~20 B msgpack). Exits by itself after SECONDS and prints one
-- line: bots, states received, out-of-order states, inputs sent.
local weft = require "weft"
local url, n, seconds = arg[1], tonumber(arg[2]), tonumber(arg[3])
local bots, states, disorder, sent = {}, 0, 0, 0
for i = 1, n do
  local last = nil
  local c = assert(weft.client { url = url, parser = "msgpack", reconnect = { retries = 0 } })
  c:on("data", function(msg)
    if type(msg) == "table" and msg.tick then
      if last and msg.tick ~= last + 1 then disorder = disorder + 1 end
      last = msg.tick
      states = states + 1
      c:write { dx = (i % 3) - 1, dy = (msg.tick % 3) - 1 }
      sent = sent + 1
    end
  end)
  bots[i] = c
end
local deadline = weft.clock() + seconds * 1000
while weft.clock() < deadline do weft.poll(math.min(50, deadline - weft.clock())) end
for i = 1, n do bots[i]:close() end
weft.poll()
print(("bots %d states %d out_of_order %d inputs %d"):format(n, states, disorder, sent))
