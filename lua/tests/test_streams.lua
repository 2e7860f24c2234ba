-- Streams and routes (issue #20): binary streams both ways with info and
-- acks (npm fast-tcp 3.3.2's server over tcp://, weft over ipc://), flow
-- control (a paused reader holds its writer back), misuse, and the
-- server's route policy. lua5.4 or luajit, LUA_CPATH at the build's
-- weft.so, LUA_PATH at lua/tests/. Bounded waits; the node peer exits by
-- itself.
local tap = require "tap"
local weft = require "weft"
local helpers = require "helpers"
local test, eq = tap.test, tap.eq
local wait, settle = helpers.wait, helpers.settle

local ROOT = os.getenv("WEFT_ROOT") or "."
local INTEROP = ROOT .. "/tests/interop"
local BIG = 8 * 1024 * 1024

local function random_bytes(n)
  local f = assert(io.open("/dev/urandom", "rb"))
  local s = f:read(n)
  f:close()
  assert(#s == n, "short read from /dev/urandom")
  return s
end

-- SHA-256 (hex) by coreutils' sha256sum, over a temporary file.
local function sha256(s)
  local path = os.tmpname()
  local f = assert(io.open(path, "wb"))
  f:write(s)
  f:close()
  local h = assert(io.popen("sha256sum '" .. path .. "'"))
  local line = h:read("*l")
  h:close()
  os.remove(path)
  return assert(line:match("^(%x+)"), "sha256sum: " .. tostring(line))
end

-- Writes `data` in 64 KiB chunks under credit, then finishes; state.done
-- once finished. Returns the state ({ sent = bytes accepted }).
local function pump(w, data, state)
  state = state or {}
  state.sent = state.sent or 0
  local function go()
    while state.sent < #data do
      local chunk = data:sub(state.sent + 1, state.sent + 65536)
      local ok, msg, name = w:write(chunk)
      if ok == nil then
        if name == "ENOBUFS" then return end -- not taken: on_drain again
        state.err = msg
        return
      end
      state.sent = state.sent + #chunk
      if ok == false then return end
    end
    if not state.done then
      state.done = true
      assert(w:finish())
    end
  end
  w:on_drain(go)
  go()
  return state
end

-- Collects a stream's bytes: r.data (a string) and r.aborted at its end,
-- then calls then_fn (when given).
local function collect(st, r, then_fn)
  local parts = {}
  r.bytes = 0
  st:on("data", function(chunk)
    parts[#parts + 1] = chunk
    r.bytes = r.bytes + #chunk
  end)
  st:on("end", function(aborted)
    r.aborted = aborted
    r.data = table.concat(parts)
    if then_fn then then_fn() end
  end)
end

test("fast-tcp: a Lua client streams 8 MiB both ways with npm fast-tcp 3.3.2's server (info, SHA-256, acks)", function()
  local f = io.open(INTEROP .. "/node_modules/fast-tcp/package.json")
  assert(f, "node and tests/interop/node_modules are required (bash scripts/deps.sh)")
  f:close()
  local portfile, out = os.tmpname(), os.tmpname()
  local h = io.popen(("NODE_PATH=%s/node_modules node %s/lua/tests/ft_stream_peer.js %s > %s 2>&1")
    :format(INTEROP, ROOT, portfile, out))
  local port = assert(weft.decode(helpers.wait_line(portfile, 15000, "the fast-tcp server"), "json")).port
  local c = assert(weft.client { url = "tcp://127.0.0.1:" .. port, emitter = true, streams = true })
  local down, opened = {}, false
  c:on("stream", function(st, event, info, reply)
    eq(event, "download", "the event")
    down.info, down.reply = info, reply
    collect(st, down)
  end)
  c:on("open", function() opened = true end)
  wait(function() return opened end, 10000, "the connection")
  local data = random_bytes(BIG)
  local ack
  local w = assert(c:stream("upload", { name = "blob", bytes = BIG }, function(err, v) ack = { err, v } end))
  local up = pump(w, data)
  wait(function() return ack end, 20000, "the server's ack")
  assert(up.done and not up.err, "the upload finished: " .. tostring(up.err))
  local hex = sha256(data)
  eq(ack[1], nil, "the ack resolved")
  eq(ack[2].sha256, hex, "the server's SHA-256 of the upload")
  eq(ack[2].bytes, BIG, "the server's byte count")
  assert(c:emit("want-download", BIG))
  wait(function() return down.data end, 20000, "the download")
  eq(down.aborted, false, "ended by the sender")
  eq(#down.data, BIG, "the download's size")
  eq(down.info.bytes, BIG, "info.bytes")
  local got = sha256(down.data)
  eq(got, down.info.sha256, "SHA-256 of the download equals the sender's")
  assert(down.reply, "the sender asked for an ack")
  assert(down.reply:resolve { sha256 = got, bytes = #down.data })
  local report = assert(weft.decode(helpers.wait_line(out, 20000, "the fast-tcp server's report"), "json"))
  h:close()
  os.remove(portfile)
  os.remove(out)
  assert(not report.error, "fast-tcp server: " .. tostring(report.error))
  eq(report.upload.sha256, hex, "the server hashed what the client sent")
  eq(report.upload.info.name, "blob", "the upload's info reached the server")
  eq(report.ack.sha256, report.sent.sha256, "the client's ack reached the server")
  eq(report.ack.bytes, BIG, "the ack's byte count")
  c:close()
  settle()
end)

test("fast-tcp: a Lua client's routed streams through npm fast-tcp's server (to a socket id, to everyone else)", function()
  local portfile, out = os.tmpname(), os.tmpname()
  local h = io.popen(("NODE_PATH=%s/node_modules node %s/lua/tests/ft_stream_peer.js %s > %s 2>&1")
    :format(INTEROP, ROOT, portfile, out))
  local port = assert(weft.decode(helpers.wait_line(portfile, 15000, "the fast-tcp server"), "json")).port
  local cs, ids, got = {}, {}, { {}, {} }
  for i = 1, 2 do
    cs[i] = assert(weft.client { url = "tcp://127.0.0.1:" .. port, emitter = true, streams = true })
    cs[i]:handle("your-id", function(_, id) ids[i] = id end)
    cs[i]:on("stream", function(st, event, info)
      local r = { event = event, info = info }
      got[i][#got[i] + 1] = r
      collect(st, r)
    end)
  end
  wait(function() return ids[1] and ids[2] end, 10000, "both clients' ids")
  local data = random_bytes(1024 * 1024 + 3)
  local ok, msg, name = cs[1]:stream("x", nil, function() end, { sockets = { ids[2] } })
  eq(name, "EINVAL", "a routed stream cannot ask for an ack: " .. tostring(msg))
  pump(assert(cs[1]:stream("to-socket", { n = 1 }, nil, { sockets = { ids[2] } })), data)
  wait(function() return got[2][1] and got[2][1].data end, 15000, "the stream to a socket id")
  pump(assert(cs[1]:stream("to-all", { n = 2 }, nil, { broadcast = true })), data)
  wait(function() return got[2][2] and got[2][2].data end, 15000, "the broadcast stream")
  eq(got[2][1].event, "to-socket", "the stream to a socket id")
  eq(got[2][1].info.n, 1, "its info")
  assert(got[2][1].data == data, "to a socket id: byte for byte")
  eq(got[2][2].event, "to-all", "the broadcast stream")
  assert(got[2][2].data == data, "broadcast: byte for byte")
  eq(#got[1], 0, "the sender is left out")
  for _, c in ipairs(cs) do c:close() end
  settle()
  h:close() -- the peer exits once both sockets closed
  os.remove(portfile)
  os.remove(out)
end)

-- A server over ipc:// in `dir` and one client, connected; both with streams.
local function pair(dir, sopts, copts)
  local url = "ipc://" .. dir .. "/s.sock"
  sopts = sopts or {}
  sopts.url, sopts.emitter, sopts.streams = url, true, true
  local srv = assert(weft.server(sopts))
  local spark
  srv:on("connection", function(sp) spark = sp end)
  copts = copts or {}
  copts.url, copts.emitter, copts.streams = url, true, copts.streams or true
  local c = assert(weft.client(copts))
  wait(function() return spark end, 10000, "the connection")
  return srv, c, spark
end

test("ipc://: Lua <-> Lua streams both ways, byte for byte, with info and acks", function()
  helpers.with_tmpdir(function(dir)
    local srv, c, spark = pair(dir)
    local at_server, at_client = {}, {}
    srv:on("stream", function(st, event, info, reply, sp)
      at_server.event, at_server.info, at_server.spark = event, info, sp
      collect(st, at_server, function() reply:resolve("got it") end)
    end)
    c:on("stream", function(st, event, info, reply)
      at_client.event, at_client.info, at_client.reply = event, info, reply
      collect(st, at_client)
    end)
    local up, down = random_bytes(2 * 1024 * 1024 + 17), random_bytes(3 * 1024 * 1024 + 5)
    local ack_c, ack_s
    pump(assert(c:stream("up", { n = #up }, function(err, v) ack_c = { err, v } end)), up)
    pump(assert(spark:stream("down", "info", function(err, v) ack_s = { err, v } end)), down)
    wait(function() return ack_c and at_client.data end, 15000, "both streams")
    eq(ack_c[1], nil, "the client's ack resolved")
    eq(ack_c[2], "got it", "the server's answer")
    eq(at_server.event, "up", "event at the server")
    eq(at_server.info.n, #up, "info at the server")
    eq(at_server.spark, spark, "the spark it came from")
    assert(at_server.data == up, "the server got the client's bytes, byte for byte")
    eq(at_client.event, "down", "event at the client")
    eq(at_client.info, "info", "info at the client")
    assert(at_client.data == down, "the client got the server's bytes, byte for byte")
    assert(at_client.reply:resolve(#at_client.data))
    wait(function() return ack_s end, 5000, "the server's ack")
    eq(ack_s[2], #down, "the client's answer")
    c:close()
    srv:close()
    settle()
  end)
end)

test("flow control: a paused reader holds the writer back; resume completes it", function()
  helpers.with_tmpdir(function(dir)
    local srv, c = pair(dir, nil, { streams = { window = 256 * 1024 } })
    local r, stream = {}, nil
    srv:on("stream", function(st)
      stream = st
      assert(st:pause())
      collect(st, r)
    end)
    local data = random_bytes(16 * 1024 * 1024)
    local w = assert(c:stream("slow"))
    local state = pump(w, data)
    wait(function() return stream end, 5000, "the stream")
    -- the writer runs out of credit and stops
    local last, still = -1, 0
    wait(function()
      if state.sent == last then still = still + 1 else still, last = 0, state.sent end
      return still >= 20
    end, 10000, "the writer to stop")
    local held = state.sent
    assert(held < #data, "the writer is held back (" .. held .. " of " .. #data .. " bytes taken)")
    assert(w:pending() >= 256 * 1024, "the window is used up: " .. w:pending() .. " bytes queued")
    local ok, msg, name = w:write("z")
    eq(ok, nil, "a write without credit")
    eq(name, "ENOBUFS", "a write without credit is not taken: " .. tostring(msg))
    local t0, bytes = weft.clock(), r.bytes
    while weft.clock() - t0 < 300 do weft.poll(5) end
    eq(state.sent, held, "no progress while paused")
    eq(r.bytes, bytes, "nothing read while paused")
    assert(stream:resume())
    wait(function() return r.data end, 20000, "the stream's end after resume (" .. state.sent .. " taken)")
    assert(r.data == data, "every byte arrived, in order")
    c:close()
    srv:close()
    settle()
  end)
end)

test("misuse: write after finish or close, bad chunks, streams off, ended streams, raising handlers", function()
  helpers.with_tmpdir(function(dir)
    local srv, c, spark = pair(dir)
    local ended
    srv:on("stream", function(st)
      local raised = false
      st:on("data", function()
        if not raised then
          raised = true
          error("boom in a data handler")
        end
      end)
      st:on("end", function() ended = st end)
    end)
    local w = assert(c:stream("m", nil, nil))
    local ok, msg, name = w:write("")
    eq(ok, nil, "an empty chunk")
    eq(name, "EINVAL", "an empty chunk: " .. tostring(msg))
    assert(w:write("a"))
    local err = helpers.raised(5000)
    assert(tostring(err):find("boom in a data handler", 1, true), "poll raised the handler's error: " .. tostring(err))
    assert(w:write("b"), "the connection survived the handler's error")
    assert(w:finish())
    ok, msg, name = w:write("c")
    eq(name, "ESTATE", "write after finish: " .. tostring(msg))
    ok, msg, name = w:finish()
    eq(name, "ESTATE", "finish twice: " .. tostring(msg))
    wait(function() return ended end, 5000, "the end")
    ok, msg, name = ended:pause()
    eq(name, "ECLOSED", "pause after the end: " .. tostring(msg))
    eq(ended:is_open(), false, "an ended stream")
    ok, msg, name = c:stream("bad", nil, function() end, { broadcast = true })
    eq(name, "EINVAL", "a routed stream with an ack: " .. tostring(msg))
    local sw = assert(spark:stream("s"))
    local w2 = assert(c:stream("late"))
    c:close()
    wait(function() return not spark:is_open() end, 5000, "the disconnection")
    ok, msg, name = w2:write("x")
    eq(ok, nil, "write after close")
    assert(name == "ECLOSED" or name == "ESTATE", "write after close: " .. tostring(name))
    ok, msg, name = sw:write("x")
    eq(name, "ECLOSED", "a server's write after the client went: " .. tostring(msg))
    ok, msg, name = spark:stream("again")
    eq(ok, nil, "a stream to a gone spark: " .. tostring(msg))
    srv:close()
    settle()
    w2 = nil
    collectgarbage()
    ok, msg, name = sw:finish()
    eq(name, "ECLOSED", "finish after the server went: " .. tostring(msg))
    -- streams without the emitter
    ok, msg, name = weft.server { url = "ipc://" .. dir .. "/u.sock", streams = true }
    eq(name, "EINVAL", "a server's streams without the emitter: " .. tostring(msg))
    ok, msg, name = weft.client { url = "ipc://" .. dir .. "/u.sock", streams = true, manual = true }
    eq(name, "EINVAL", "a client's streams without the emitter: " .. tostring(msg))
    -- streams off
    local s2 = assert(weft.server { url = "ipc://" .. dir .. "/t.sock", emitter = true })
    local c2 = assert(weft.client { url = "ipc://" .. dir .. "/t.sock", emitter = true })
    ok, msg, name = c2:stream("x")
    eq(ok, nil, "no streams: " .. tostring(msg))
    local ok2 = pcall(function() c2:on("stream", 42) end)
    eq(ok2, false, "a handler that is not a function raises")
    c2:close()
    s2:close()
    settle()
  end)
end)

test("route policy: served by default, refused, rewritten; a raising policy refuses; bad input", function()
  helpers.with_tmpdir(function(dir)
    local url = "ipc://" .. dir .. "/r.sock"
    local srv = assert(weft.server { url = url, emitter = true })
    local got = { {}, {} }
    local cs, ids = {}, {}
    srv:on("connection", function(spark) ids[#ids + 1] = spark:id() end)
    for i = 1, 2 do -- one after the other: ids[i] is cs[i]'s
      cs[i] = assert(weft.client { url = url, emitter = true })
      cs[i]:handle("*", function(_, name, ...) got[i][#got[i] + 1] = name .. ":" .. table.concat({ ... }, ",") end)
      wait(function() return ids[i] end, 10000, "client " .. i)
    end
    -- default: served, the sender left out
    assert(cs[1]:route("news", { "a" }, { broadcast = true }))
    wait(function() return #got[2] == 1 end, 5000, "the broadcast")
    eq(got[2][1], "news:a", "the route's event and args")
    local seen
    srv:route_policy(function(spark, route)
      seen = route
      if route.event == "secret" then return false end
      if route.event == "boom" then error("policy boom") end
      if route.event == "loud" then return { with_sender = true } end
      return true
    end)
    assert(cs[1]:route("secret", nil, { broadcast = true }))
    assert(cs[1]:route("loud", { "x" }, { broadcast = true }))
    wait(function() return #got[1] == 1 and #got[2] == 2 end, 5000, "the rewritten route")
    eq(got[2][2], "loud:x", "the refused route was never sent; the next one was")
    eq(got[1][1], "loud:x", "rewritten: with the sender")
    eq(seen.broadcast, true, "the policy saw the route")
    eq(seen.args[1], "x", "the policy saw the args")
    assert(cs[1]:route("to-one", { 7 }, { sockets = { ids[2] } }))
    wait(function() return #got[2] == 3 end, 5000, "the route to a socket")
    eq(got[2][3], "to-one:7", "to a socket id")
    eq(seen.sockets[1], ids[2], "the policy saw the ids")
    assert(cs[1]:route("boom", nil, { broadcast = true }))
    local err = helpers.raised(5000)
    assert(tostring(err):find("policy boom", 1, true), "the policy's error: " .. tostring(err))
    assert(cs[1]:route("news", { "b" }, { broadcast = true }))
    wait(function() return #got[2] == 4 end, 5000, "the route after the raising policy")
    eq(got[2][4], "news:b", "a raising policy refused its route")
    local ok, msg, name = cs[1]:route("x", nil, {})
    eq(name, "EINVAL", "no recipients: " .. tostring(msg))
    eq(pcall(function() srv:route_policy(42) end), false, "a policy that is not a function raises")
    eq(pcall(function() cs[1]:route("x", nil, { rooms = "r" }) end), false, "rooms not a list raises")
    srv:route_policy(nil)
    local plain = assert(weft.server { url = "ipc://" .. dir .. "/p.sock" })
    ok, msg, name = plain:route_policy(function() end)
    eq(name, "ESTATE", "no emitter: " .. tostring(msg))
    plain:close()
    for _, c in ipairs(cs) do c:close() end
    srv:close()
    settle()
  end)
end)

local ok = tap.run((math.type and "lua5.4" or "luajit") .. "-streams", weft.clock)
os.exit(ok and 0 or 1, true)
