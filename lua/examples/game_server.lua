-- A 20 Hz game server on weft: each tick drains the network (players'
-- inputs run their handlers), steps the world, and broadcasts the world
-- state to every player.
--
--   lua5.4 game_server.lua [--port 8080] [--tick-ms 50] [--ticks N]
--                          [--bots N] [--parser msgpack|json]
--
-- With --bots N the script also starts N bot players in the same process
-- (weft clients) that send one input per state they receive; it waits for
-- all of them, runs --ticks ticks (default 100), then checks that every bot
-- got every tick's state exactly once and in order and that every input
-- sent was applied, prints a summary and exits (0 when all is well). Without
-- --bots it serves forever (players connect with any Primus client).
--
-- Runs under lua5.4, luajit, and the embedding host (examples/game_host.c).
local weft = require "weft"

local opts = { port = 8080, tick_ms = 50, ticks = nil, bots = 0, parser = "msgpack" }
do
  local args = { ... }
  local i = 1
  while i <= #args do
    local k, v = args[i], args[i + 1]
    if k == "--port" then opts.port = tonumber(v)
    elseif k == "--tick-ms" then opts.tick_ms = tonumber(v)
    elseif k == "--ticks" then opts.ticks = tonumber(v)
    elseif k == "--bots" then opts.bots = tonumber(v)
    elseif k == "--parser" then opts.parser = v
    else error("unknown option " .. tostring(k)) end
    i = i + 2
  end
  if opts.bots > 0 then
    opts.port = 0
    opts.ticks = opts.ticks or 100
  end
end

-- The world -----------------------------------------------------------------

local players = {} -- spark id -> { id =, x =, y =, inputs = n }
local nplayers = 0
local applied = 0

local server = assert(weft.server {
  url = "ws://127.0.0.1:" .. opts.port .. "/primus",
  parser = opts.parser,
  ping_interval = 30000,
})

server:on("connection", function(spark)
  local p = { id = spark:id(), x = 0, y = 0, inputs = 0 }
  players[p.id] = p
  nplayers = nplayers + 1
  spark:on("data", function(input)
    -- { dx = -1|0|1, dy = -1|0|1 }: applied at once, seen in the next state.
    if type(input) == "table" and type(input.dx) == "number" and type(input.dy) == "number" then
      p.x = p.x + math.max(-1, math.min(1, input.dx))
      p.y = p.y + math.max(-1, math.min(1, input.dy))
      p.inputs = p.inputs + 1
      applied = applied + 1
    end
  end)
  spark:on("end", function()
    players[p.id] = nil
    nplayers = nplayers - 1
  end)
  spark:write { welcome = p.id }
end)

local function state(tick)
  local list = {}
  for _, p in pairs(players) do list[#list + 1] = { p.id, p.x, p.y } end
  return { tick = tick, players = weft.array(list) }
end

-- Bots (optional) -----------------------------------------------------------

local bots = {}
local function start_bots(n)
  local url = "ws://127.0.0.1:" .. server:port() .. "/primus"
  for i = 1, n do
    local bot = { last = 0, got = 0, bad = 0, sent = 0, open = false }
    bot.client = assert(weft.client { url = url, parser = opts.parser })
    bot.client:on("open", function() bot.open = true end)
    bot.client:on("data", function(msg)
      if msg.tick then
        if msg.tick ~= bot.last + 1 then bot.bad = bot.bad + 1 end
        bot.last = msg.tick
        bot.got = bot.got + 1
        bot.client:write { dx = (i % 3) - 1, dy = ((i + msg.tick) % 3) - 1 }
        bot.sent = bot.sent + 1
      end
    end)
    bots[i] = bot
  end
end

local function wait(cond, ms)
  local deadline = weft.clock() + ms
  while not cond() and weft.clock() < deadline do weft.poll(5) end
  return cond()
end

-- The loop --------------------------------------------------------------------

if opts.bots > 0 then
  start_bots(opts.bots)
  assert(wait(function() return nplayers == opts.bots end, 10000),
    ("only %d of %d bots connected"):format(nplayers, opts.bots))
else
  print(("game server on ws://127.0.0.1:%d/primus, %d ms ticks"):format(server:port(), opts.tick_ms))
end

local tick = 0
local poll_ms, bcast_ms, events = 0, 0, 0
local next_tick = weft.clock()
while not opts.ticks or tick < opts.ticks do
  -- Sleep until the tick is due, handling the network meanwhile.
  while weft.clock() < next_tick do weft.poll(next_tick - weft.clock()) end
  next_tick = next_tick + opts.tick_ms
  local t0 = weft.clock()
  events = events + server:poll() -- drain: inputs run their handlers
  local t1 = weft.clock()
  tick = tick + 1
  server:write(state(tick)) -- one encode, queued on every spark
  local t2 = weft.clock()
  poll_ms, bcast_ms = poll_ms + (t1 - t0), bcast_ms + (t2 - t1)
end

if opts.bots == 0 then return true end

-- Let the last states and inputs arrive, then check.
local total_sent = 0
wait(function()
  total_sent = 0
  for _, b in ipairs(bots) do
    if b.last ~= opts.ticks then return false end
    total_sent = total_sent + b.sent
  end
  return applied == total_sent
end, 5000)

local ok, missing, disorder = true, 0, 0
for _, b in ipairs(bots) do
  if b.got ~= opts.ticks or b.last ~= opts.ticks then missing = missing + 1 end
  disorder = disorder + b.bad
end
if missing > 0 or disorder > 0 or applied ~= total_sent then ok = false end
print(("game: %d bots x %d ticks (%d ms): %d bots missed states, %d out of order, inputs %d sent %d applied; poll %.3f ms/tick, broadcast %.3f ms/tick, %d events"):format(
  opts.bots, opts.ticks, opts.tick_ms, missing, disorder, total_sent, applied,
  poll_ms / tick, bcast_ms / tick, events))

for _, b in ipairs(bots) do b.client:close() end
server:close()
weft.run() -- until every handle is closed
return ok
