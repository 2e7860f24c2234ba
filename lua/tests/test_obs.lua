-- Logs and metrics (issue #17): exact counters after known traffic from
-- server:metrics(), server:metrics_text() and the metrics path scraped over
-- HTTP; the core's records in the function of weft.set_log; the level; an
-- error in the log function; bad input. Real sockets on 127.0.0.1: the
-- traffic comes from a node child (tests/obs_peer.js, the npm `ws` client
-- and raw HTTP) while this process polls its server, and from weft clients.
--
--   WEFT_ROOT=<repo> LUA_CPATH=... LUA_PATH=... lua5.4 test_obs.lua
local tap = require "tap"
local weft = require "weft"
local helpers = require "helpers"
local test, eq = tap.test, tap.eq
local wait, settle = helpers.wait, helpers.settle

local ROOT = os.getenv("WEFT_ROOT") or "."
local INTEROP = ROOT .. "/tests/interop"
local IS54 = math.type ~= nil

local function echo_server(opts)
  local o = { url = "ws://127.0.0.1:0/primus", ping_interval = 0, max_length = 100 }
  for k, v in pairs(opts or {}) do o[k] = v end
  local srv = assert(weft.server(o))
  srv:on("connection", function(spark) spark:on("data", function(msg) spark:write(msg) end) end)
  return srv
end

-- The value of one series of a text exposition.
local function series(text, name)
  local found
  for line in text:gmatch("[^\n]+") do
    if line:sub(1, #name + 1) == name .. " " then
      assert(not found, "series " .. name .. " twice")
      found = tonumber(line:sub(#name + 2))
    end
  end
  assert(found, "no series " .. name)
  return found
end

-- Runs tests/obs_peer.js against `srv` while polling; returns its report.
local function known_traffic(srv)
  local f = io.open(INTEROP .. "/node_modules/ws/package.json")
  assert(f, "node and tests/interop/node_modules are required (bash scripts/deps.sh)")
  f:close()
  local out = os.tmpname()
  local h = io.popen(("NODE_PATH=%s/node_modules node %s/lua/tests/obs_peer.js %d > %s 2>&1"):format(
    INTEROP, ROOT, srv:port(), out))
  local line = helpers.wait_line(out, 15000, "the node peer")
  h:close()
  os.remove(out)
  local report = assert(weft.decode(line, "json"))
  assert(not report.error, "node peer: " .. tostring(report.error))
  return report
end

local SERIES = {
  ['weft_connections{transport="websockets"}'] = 0,
  ['weft_connections_total{transport="websockets"}'] = 4,
  weft_handshakes_total = 4,
  ['weft_http_responses_total{code="400"}'] = 1,
  ['weft_messages_received_total{transport="websockets"}'] = 15,
  ['weft_messages_sent_total{transport="websockets"}'] = 15,
  ['weft_received_bytes_total{transport="websockets"}'] = 60,
  ['weft_sent_bytes_total{transport="websockets"}'] = 60,
  weft_queue_bytes = 0,
  weft_queue_refused_total = 0,
  weft_heartbeat_timeouts_total = 0,
  ['weft_errors_total{kind="toobig"}'] = 1,
  ['weft_errors_total{kind="json"}'] = 0,
}

local OK200 = 'weft_http_responses_total{code="200"}'

test("metrics: exact counters from metrics(), metrics_text() and the metrics path; the records",
  function()
    local records = {}
    weft.set_log("debug", function(r) records[#records + 1] = r end)
    local srv = echo_server { metrics_path = "/metrics" }
    eq(srv:metrics().connections_total, 0, "fresh")
    local report = known_traffic(srv)
    eq(report.refused, 400, "refused handshake")
    eq(report.oversize, 1009, "oversize message")
    local m = srv:metrics()
    local want = {
      connections_open = 0, connections_total = 4, handshakes_total = 4, refused_total = 1,
      messages_in_total = 15, messages_out_total = 15, bytes_in_total = 60, bytes_out_total = 60,
      queue_bytes = 0, queue_refused_total = 0, heartbeat_timeouts_total = 0, errors_total = 1,
      polling_requests_total = 0,
    }
    local n = 0
    for k, v in pairs(m) do
      n = n + 1
      eq(v, want[k], k)
      if IS54 then eq(math.type(v), "integer", k .. " is an integer") end
    end
    eq(n, 13, "fields")
    local text = srv:metrics_text()
    for name, value in pairs(SERIES) do eq(series(text, name), value, name) end
    -- The scrapes: the page is made before its own 200 is counted.
    eq(report.status, 200, "scrape status")
    eq(report.type, "text/plain; version=0.0.4; charset=utf-8", "content type")
    for name, value in pairs(SERIES) do eq(series(report.body, name), value, "scraped " .. name) end
    eq(series(report.body, OK200), report.scrapes - 1, "200s before the last scrape")
    eq(series(text, OK200), report.scrapes, "200s after it")
    local strip = function(t) return (t:gsub('\nweft_http_responses_total{code="200"} %d+\n', "\n")) end
    eq(strip(report.body), strip(text), "the scraped text is metrics_text()")
    srv:close()
    settle()
    weft.set_log("off")
    -- The records, as the core made them.
    local function of(event)
      local list = {}
      for _, r in ipairs(records) do if r.event == event then list[#list + 1] = r end end
      return list
    end
    eq(records[1].event, "listen", "first record")
    eq(records[1].level, "info", "listen level")
    eq(records[1].source, "server", "listen source")
    assert(records[1].message:find("^listening on ws://127%.0%.0%.1:%d+/primus %(websockets%)$"),
      records[1].message)
    eq(#of("connection"), 4, "connections")
    eq(#of("disconnection"), 4, "disconnections")
    local ids = {}
    for _, r in ipairs(of("connection")) do
      local prefix = "spark " .. tostring(r.spark) .. " connected from "
      assert(r.spark and r.message:sub(1, #prefix) == prefix, r.message)
      assert(r.message:sub(#prefix + 1):find("^127%.0%.0%.1:%d+ %(websockets%)$"), r.message)
      ids[r.spark] = true
    end
    for _, r in ipairs(of("disconnection")) do assert(ids[r.spark], "disconnection of a known spark") end
    local refused = of("refused")
    eq(#refused, 1, "refusals")
    assert(refused[1].message:find("^400 Bad Request to 127%.0%.0%.1:%d+ for GET /primus$"),
      refused[1].message)
    eq(refused[1].spark, nil, "a refusal has no spark")
    local errs = of("error")
    eq(#errs, 1, "errors")
    eq(errs[1].level, "warn", "error level")
    eq(errs[1].kind, "toobig", "error kind")
    assert(ids[errs[1].spark], "the error's spark")
  end)

test("log: a client's records; the level filters", function()
  local records = {}
  weft.set_log("info", function(r) records[#records + 1] = r end)
  local srv = echo_server()
  local c = assert(weft.client { url = srv:url(), reconnect = { retries = 0 } })
  local got
  c:on("data", function(m) got = m end)
  c:write("hi")
  wait(function() return got end, 5000, "echo")
  c:close()
  wait(function() return srv:count() == 0 end, 5000, "closed")
  local events = {}
  for _, r in ipairs(records) do
    if r.source == "client" then events[#events + 1] = r.event end
  end
  eq(table.concat(events, ","), "open,close,end", "the client's records")
  -- "warn": the error, not the connection; the spec fetch is no refusal.
  records = {}
  weft.set_log("warn", function(r) records[#records + 1] = r end)
  c = assert(weft.client { url = srv:url(), reconnect = { retries = 0 } })
  c:on("error", function() end)
  local opened
  c:on("open", function() opened = true end)
  wait(function() return opened end, 5000, "open")
  c:write(("x"):rep(200)) -- over max_length 100
  wait(function() return #records > 0 and srv:count() == 0 end, 5000, "oversize refused")
  c:close()
  weft.set_log("off")
  -- The server's error, and at most the client giving up on reconnecting
  -- once the server closed it (if poll() got that far): nothing at info.
  local server_side = {}
  for _, r in ipairs(records) do
    eq(r.level, "warn", "only warn and above")
    if r.source == "server" then
      server_side[#server_side + 1] = r
    else
      eq(r.source .. " " .. r.event, "client reconnect", "the client only gives up")
    end
  end
  eq(#server_side, 1, "one server record at warn")
  eq(server_side[1].event .. " " .. server_side[1].kind, "error toobig", "the error")
  eq(srv:metrics().refused_total, 0, "no refusals")
  srv:close()
  settle()
end)

test("log: an error in the log function is raised by poll(), and the server goes on", function()
  local after = {}
  weft.set_log("info", function(r)
    if r.event == "connection" then error("log boom") end
    after[#after + 1] = r.event
  end)
  local srv = echo_server()
  local c = assert(weft.client { url = srv:url(), reconnect = { retries = 0 } })
  local raised = helpers.raised()
  assert(raised and tostring(raised):find("log boom"), "raised: " .. tostring(raised))
  local got
  c:on("data", function(m) got = m end)
  c:write("still here")
  wait(function() return got end, 5000, "echo after the error")
  eq(got, "still here", "echo")
  c:close()
  wait(function() return srv:count() == 0 end, 5000, "closed")
  weft.set_log("off")
  local seen = table.concat(after, ",")
  assert(seen:find("disconnection", 1, true), "records after the error: " .. seen)
  srv:close()
  settle()
end)

test("log and metrics: bad input", function()
  assert(not pcall(weft.set_log, "loud", function() end), "a bad level name raises")
  assert(not pcall(weft.set_log, "INFO", function() end), "names are lower case")
  assert(not pcall(weft.set_log), "no level")
  assert(not pcall(weft.set_log, "info"), "no function")
  assert(not pcall(weft.set_log, "info", 42), "not a function")
  assert(not pcall(weft.set_log, 3, function() end), "a number is no level name")
  eq(weft.set_log("off"), true, "off")
  for _, path in ipairs { "metrics", "/a b", "/m?x", "/m#x", "/m\r\nX: y" } do
    local s, msg, name = weft.server { url = "ws://127.0.0.1:0/primus", metrics_path = path }
    eq(s, nil, "metrics_path " .. path)
    eq(name, "EINVAL", "name")
    assert(msg:find("metrics_path"), msg)
  end
  assert(not pcall(weft.server, { url = "ws://127.0.0.1:0/primus", metrics_path = 5 }),
    "a metrics_path that is not a string raises")
  local srv = echo_server()
  srv:close()
  local v, msg, name = srv:metrics()
  eq(v, nil, "metrics after close")
  eq(name, "ECLOSED", "name")
  assert(msg:find("metrics"), msg)
  v, msg, name = srv:metrics_text()
  eq(v, nil, "metrics_text after close")
  eq(name, "ECLOSED", "name")
  settle()
end)

local ok = tap.run((IS54 and "lua5.4" or "luajit") .. "-obs", weft.clock)
weft.run()
os.exit(ok and 0 or 1, true) -- close the state: the loop's __gc runs
