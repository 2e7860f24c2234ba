-- Game-tick benchmark: the time poll() and the broadcast take per tick.
--
--   lua5.4 tick_bench.lua [PLAYERS] [TICKS] [TICK_MS] [INTERP]
--
-- A weft server (msgpack) in this process; PLAYERS bot clients in another
-- process (bots.lua, started with INTERP, default lua5.4) that answer every
-- state with one input. Each tick: sleep until the tick is due (the network
-- is not touched meanwhile, as in a game that handles it only in its tick),
-- then server:poll() (drains the inputs that arrived: their handlers run),
-- then server:write() of a 200-byte state to every player and
-- server:flush() (the state leaves with its tick). TICK_FLUSH=0 leaves the
-- flush out: the broadcast then leaves at the start of the next poll(),
-- before its reads (bench/tick_floor's write-first order). Prints per-tick
-- figures (ms): mean, p50, p99 and max of poll, broadcast and both, in
-- wall-clock time and in this
-- process's CPU time (os.clock: not inflated when other tenants of a shared
-- machine preempt it); inputs handled per tick; and this process's CPU time
-- per tick, user and kernel. The last line is the same as JSON for scripts.
-- BOTS_PREFIX, if set, goes before the bots' command (run.sh pins them to
-- the other core with "taskset -c 1").
local weft = require "weft"
local players = tonumber(arg[1]) or 100
local ticks = tonumber(arg[2]) or 200
local tick_ms = tonumber(arg[3]) or 50
local interp = arg[4] or "lua5.4"
local here = (arg[0]:match("^(.*)/[^/]*$") or ".")
local flush = os.getenv("TICK_FLUSH") ~= "0" and weft.flush ~= nil -- older builds have none

local server = assert(weft.server { url = "ws://127.0.0.1:0/primus", parser = "msgpack" })
local inputs = 0
server:on("connection", function(spark)
  spark:on("data", function(input)
    if type(input) == "table" then inputs = inputs + 1 end
  end)
end)

local url = "ws://127.0.0.1:" .. server:port() .. "/primus"
local seconds = math.ceil((ticks * tick_ms) / 1000) + 10
local bots = assert(io.popen(("LUA_CPATH=%q " .. (os.getenv("BOTS_PREFIX") or "") .. " %s %s/bots.lua %s %d %d"):format(
  package.cpath, interp, here, url, players, seconds)))

local deadline = weft.clock() + 30000
while server:count() < players and weft.clock() < deadline do weft.poll(10) end
assert(server:count() == players, ("only %d of %d players connected"):format(server:count(), players))

-- a 200-byte state
local pad = ("w"):rep(200)
local state = { tick = 0, world = pad }
local size = #weft.encode(state, "msgpack")
state.world = ("w"):rep(200 - (size - 200))
size = #weft.encode(state, "msgpack")

-- user and system CPU seconds of this process (Linux /proc), else nil
local function cputimes()
  local f = io.open("/proc/self/stat")
  if not f then return nil end
  local line = f:read("*l")
  f:close()
  local rest = line:match("%) (.*)$")
  local fields = {}
  for x in rest:gmatch("%S+") do fields[#fields + 1] = x end
  return tonumber(fields[12]) / 100, tonumber(fields[13]) / 100 -- utime, stime (clock ticks)
end

local polls, bcasts, totals, handled, cpus = {}, {}, {}, {}, {}
local cpu0 = os.clock()
local u0, s0 = cputimes()
local next_tick = weft.clock()
for tick = 1, ticks do
  local now = weft.clock()
  if next_tick > now then weft.sleep(next_tick - now) end
  next_tick = next_tick + tick_ms
  local before = inputs
  local c0 = os.clock()
  local t0 = weft.clock()
  server:poll()
  local t1 = weft.clock()
  state.tick = tick
  server:write(state)
  if flush then server:flush() end
  local t2 = weft.clock()
  cpus[tick] = (os.clock() - c0) * 1000
  polls[tick], bcasts[tick], totals[tick], handled[tick] = t1 - t0, t2 - t1, t2 - t0, inputs - before
end
local cpu = os.clock() - cpu0
local u1, s1 = cputimes()

local function mean(xs)
  local sum = 0
  for i = 1, #xs do sum = sum + xs[i] end
  return sum / #xs
end
local function stats(xs)
  local s = {}
  for i = 1, #xs do s[i] = xs[i] end
  table.sort(s)
  local function q(p) return s[math.max(1, math.ceil(p * #s))] end
  return ("mean %.3f p50 %.3f p99 %.3f max %.3f"):format(mean(xs), q(0.5), q(0.99), s[#s])
end
-- the first ticks include the connection burst: skip 10%
local function tail(xs)
  local t = {}
  for i = math.floor(#xs / 10) + 1, #xs do t[#t + 1] = xs[i] end
  return t
end
local h = 0
for _, x in ipairs(tail(handled)) do h = h + x end
print(("players %d, ticks %d at %d ms, state %d B msgpack, %s, %s"):format(players, ticks, tick_ms, size,
  _VERSION, flush and "flushed at the end of the tick" or "flushed by the next poll"))
print(("  poll()          ms/tick: %s"):format(stats(tail(polls))))
print(("  broadcast%s ms/tick: %s"):format(flush and "+flush" or "      ", stats(tail(bcasts))))
print(("  poll+broadcast  ms/tick: %s"):format(stats(tail(totals))))
print(("  poll+broadcast CPU ms/tick: %s"):format(stats(tail(cpus))))
print(("  inputs handled per tick: %.1f (of %d players); server CPU %.3f ms/tick"):format(
  h / #tail(handled), players, cpu * 1000 / ticks))
if u0 then
  print(("  of which user %.3f ms/tick, kernel %.3f ms/tick"):format((u1 - u0) * 1000 / ticks,
    (s1 - s0) * 1000 / ticks))
end
server:close()
weft.run()
print("  " .. (bots:read("*a"):gsub("\n$", "")))
bots:close()
print(('{"interp":"%s","flush":%s,"players":%d,"ticks":%d,"tick_ms":%.3f,"cpu_ms":%.3f,"inputs_per_tick":%.1f}'):format(
  rawget(_G, "jit") and "luajit" or "lua5.4", tostring(flush), players, #tail(totals), mean(tail(totals)), mean(tail(cpus)),
  h / #tail(handled)))
