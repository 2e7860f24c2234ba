-- The extensions suite (issue #9): emitter with acks, rooms, channels,
-- batching. lua5.4 or luajit, LUA_CPATH at the build's weft.so, LUA_PATH at
-- lua/tests/. Real sockets on 127.0.0.1, port 0, bounded waits.
--
--   WEFT_ROOT=<repo> LUA_CPATH=... LUA_PATH=... lua5.4 test_ext.lua
local tap = require "tap"
local weft = require "weft"
local test, eq = tap.test, tap.eq

local ROOT = os.getenv("WEFT_ROOT") or "."
local IS54 = math.type ~= nil

local helpers = require "helpers"
local wait, settle = helpers.wait, helpers.settle

local function url_of(srv) return "ws://127.0.0.1:" .. srv:port() .. "/primus" end

-- A server with `opts` and `n` clients with `copts`, all connected; returns
-- the server, the clients and their sparks (same order).
local function setup(opts, n, copts)
  opts.url = "ws://127.0.0.1:0/primus"
  local srv = assert(weft.server(opts))
  local sparks_by_id = {}
  srv:on("connection", function(spark) sparks_by_id[spark:id()] = spark end)
  local clients, ids = {}, {}
  for i = 1, n or 1 do
    local o = { url = url_of(srv) }
    for k, v in pairs(copts or {}) do o[k] = v end
    local c = assert(weft.client(o))
    c:on("id", function(id) ids[i] = id end)
    c:on("open", function() c:id() end)
    clients[i] = c
  end
  wait(function()
    for i = 1, n or 1 do if not ids[i] or not sparks_by_id[ids[i]] then return false end end
    return true
  end, 10000, "connections")
  local sparks = {}
  for i = 1, n or 1 do sparks[i] = sparks_by_id[ids[i]] end
  return srv, clients, sparks
end

local function teardown(srv, clients)
  for _, c in ipairs(clients or {}) do c:close() end
  srv:close()
  settle()
end

-- Emitter ------------------------------------------------------------------------

test("emitter: client -> server acks: resolve, reject, no handler", function()
  local srv, cl = setup({ emitter = true }, 1, { emitter = true })
  local c = cl[1]
  srv:handle("sum", function(spark, reply, ...)
    assert(tostring(spark):find("weft.spark"), "the sender comes first")
    local s = 0
    for _, v in ipairs { ... } do s = s + v end
    reply:resolve(s)
  end)
  srv:handle("fail", function(_, reply)
    local r, _, name = reply:reject(function() end) -- cannot send: the reply stays usable
    eq(r, nil, "a function as reason")
    eq(name, "ETYPE", "ETYPE")
    eq(reply:pending(), true, "still pending")
    reply:reject("nope")
  end)
  local got = {}
  assert(c:emit("sum", 1, 2, 3, function(err, res) got.sum = { err, res } end))
  assert(c:emit("fail", function(err, res) got.fail = { err, res } end))
  assert(c:emit("nothing", 1, function(err) got.none = err end))
  wait(function() return got.sum and got.fail and got.none end, 5000, "three acks")
  eq(got.sum[1], nil, "resolved: no error")
  eq(got.sum[2], 6, "sum")
  if IS54 then eq(math.type(got.sum[2]), "integer", "an integer stays one") end
  eq(got.fail[1].name, "EREJECTED", "reject name")
  eq(got.fail[1].reason, "nope", "reject reason")
  eq(got.fail[1].kind, "emitter", "kind")
  assert(got.fail[1].message:find("nope"), got.fail[1].message)
  eq(got.fail[2], nil, "no value with a rejection")
  eq(got.none.name, "EREJECTED", "no handler: rejected")
  eq(got.none.reason, "no handler for nothing", "the core's reason")
  teardown(srv, cl)
end)

test("emitter: server -> client acks, event args, nil/null and tables", function()
  local srv, cl, sp = setup({ emitter = true }, 1, { emitter = true })
  local c, spark = cl[1], sp[1]
  local seen
  c:handle("ask", function(reply, a, b, t)
    seen = { a, b, t }
    reply:resolve { echo = t, n = a }
  end)
  local res
  assert(spark:emit("ask", 7, nil, { x = { 1, 2 } }, function(err, r) res = { err, r } end))
  wait(function() return res end, 5000, "ack from the client")
  eq(res[1], nil, "no error")
  eq(res[2].n, 7, "resolved table")
  eq(res[2].echo.x[2], 2, "nested")
  eq(seen[2], weft.null, "nil goes out as null")
  -- no ack wanted: the handler gets reply == nil
  local plain
  c:handle("note", function(reply, s) plain = { reply, s } end)
  assert(spark:emit("note", "hi"))
  wait(function() return plain end, 5000, "plain event")
  eq(plain[1], nil, "no reply handle without an ack")
  eq(plain[2], "hi", "arg")
  teardown(srv, cl)
end)

test("emitter: timeout, late answer, and disconnection -> ECLOSED", function()
  local srv, cl, sp = setup({ emitter = { timeout = 5000 } }, 2, { emitter = true })
  local held = {}
  for i = 1, 2 do cl[i]:handle("hold", function(reply) held[i] = reply end) end
  local errs = {}
  local t0 = weft.clock()
  assert(sp[1]:emit("hold", function(err) errs.timeout = err; errs.t = weft.clock() - t0 end,
    { timeout = 150 }))
  assert(sp[2]:emit("hold", function(err) errs.closed = err end))
  local srv_held
  srv:handle("hold2", function(_, reply) srv_held = reply end)
  cl[2]:emit("hold2", function() end)
  wait(function() return errs.timeout and held[2] and srv_held end, 5000, "the timeout")
  eq(errs.timeout.name, "ETIMEDOUT", "timed out")
  assert(errs.t >= 100, "not before its time: " .. errs.t)
  -- a late answer reaches the server as an unknown id: an emitter error, no crash
  local srv_err
  srv:on("error", function(err) srv_err = err end)
  assert(held[1]:resolve(1))
  eq(held[1]:pending(), false, "answered")
  local r, _, name = held[1]:resolve(2)
  eq(r, nil, "a second answer fails")
  eq(name, "ESTATE", "already answered")
  wait(function() return srv_err end, 5000, "error for the late ack")
  eq(srv_err.kind, "emitter", "kind of the late ack's error")
  -- the second client goes away with the ack pending
  cl[2]:close()
  wait(function() return errs.closed end, 5000, "ECLOSED")
  eq(errs.closed.name, "ECLOSED", "disconnection fails the pending ack")
  -- the client's own reply handles were dropped with it
  local ok, _, n2 = held[2]:resolve(1)
  eq(ok, nil, "reply after the client's close")
  eq(n2, "ESTATE", "dropped at close")
  -- the server's reply to the gone spark answers into the void
  ok, _, n2 = srv_held:resolve(1)
  eq(ok, nil, "reply to a gone spark")
  eq(n2, "ECLOSED", "ECLOSED")
  teardown(srv, { cl[1] })
end)

test("emitter: server:close rejects the replies it holds ('closing'); they go dead", function()
  local srv, cl = setup({ emitter = true }, 1, { emitter = true })
  local held
  srv:handle("hold", function(_, reply) held = reply end)
  local got
  cl[1]:emit("hold", function(err) got = err end)
  wait(function() return held end, 5000, "the held reply")
  eq(held:pending(), true, "pending")
  assert(srv:close())
  wait(function() return got end, 5000, "the answer of the close")
  eq(got.name, "EREJECTED", "rejected at close")
  eq(got.reason, "closing", "reason")
  eq(held:pending(), false, "dead")
  local r, _, name = held:resolve(1)
  eq(r, nil, "no answer after close")
  eq(name, "ESTATE", "ESTATE")
  local r2, _, n2 = srv:handle("x", function() end)
  eq(n2, "ECLOSED", "handle on a closed server")
  teardown({ close = function() end }, cl)
end)

test("emitter: wildcard '*', per-name handlers first; removing a handler", function()
  local srv, cl = setup({ emitter = true }, 1, { emitter = true })
  local c = cl[1]
  local log = {}
  srv:handle("*", function(spark, reply, name, a)
    log[#log + 1] = name .. ":" .. tostring(a)
    if reply then reply:resolve(name) end
  end)
  srv:handle("own", function(_, reply, a)
    log[#log + 1] = "own:" .. tostring(a)
    if reply then reply:resolve("own") end
  end)
  local res = {}
  c:emit("alpha", 1)
  c:emit("own", 2)
  c:emit("beta", 3, function(_, r) res.beta = r end)
  wait(function() return #log == 3 and res.beta end, 5000, "three events")
  eq(table.concat(log, ","), "alpha:1,own:2,beta:3", "order and routing")
  eq(res.beta, "beta", "wildcard resolves with the name")
  srv:handle("own", nil) -- now the wildcard takes it
  c:emit("own", 4, function(_, r) res.own = r end)
  wait(function() return res.own end, 5000, "own via wildcard")
  eq(res.own, "own", "wildcard got 'own'")
  teardown(srv, cl)
end)

test("emitter: a handler error is re-raised by poll(); the sender gets 'handler error'", function()
  local srv, cl = setup({ emitter = true }, 1, { emitter = true })
  srv:handle("boom", function() error("kaboom") end)
  srv:handle("drop", function(_, reply) reply = nil end) -- dropped: collected -> "no answer"
  local got = {}
  cl[1]:emit("boom", function(err) got.boom = err end)
  local raised = helpers.raised()
  assert(raised and tostring(raised):find("kaboom"), "re-raised: " .. tostring(raised))
  wait(function() return got.boom end, 5000, "ack of the failing handler")
  eq(got.boom.reason, "handler error", "rejected by the binding")
  cl[1]:emit("drop", function(err) got.drop = err end)
  wait(function()
    collectgarbage()
    return got.drop
  end, 5000, "the dropped reply")
  eq(got.drop.name, "EREJECTED", "dropped reply rejects")
  eq(got.drop.reason, "no answer", "reason (WEFT_REPLY_DROPPED)")
  teardown(srv, cl)
end)

test("emitter: malformed packets are errors, the connection stays; bad input", function()
  local srv, cl, sp = setup({ emitter = true }, 1, { emitter = true })
  local c = cl[1]
  local errs = {}
  srv:on("error", function(err, spark) errs[#errs + 1] = { err, spark } end)
  local ok = 0
  srv:handle("ok", function(_, reply) ok = ok + 1; if reply then reply:resolve(true) end end)
  c:write { type = 0, data = "not an array" }
  c:write { type = 0, data = { 42 } }            -- name is not a string
  c:write { type = 1, data = { weft.null, 1 } }  -- ack without id
  c:write { type = 1, id = 999, data = { weft.null } } -- unknown id
  c:write { type = 0, data = { "open" } }        -- reserved name
  local back
  c:emit("ok", function(err, r) back = { err, r } end)
  wait(function() return #errs >= 5 and back end, 5000, "five errors and the ack")
  local kinds = {}
  for _, e in ipairs(errs) do
    kinds[e[1].kind] = (kinds[e[1].kind] or 0) + 1
    eq(e[2], sp[1], "the sender comes with it")
  end
  -- malformed events: Primacron's "validation"; unknown id, reserved name: "emitter"
  eq(kinds.validation, 3, "validation errors")
  eq(kinds.emitter, 2, "emitter errors")
  eq(back[2], true, "the connection still works")
  -- ordinary messages still reach "data"
  local data
  sp[1]:on("data", function(m) data = m end)
  c:write { type = 7, hello = 1 }
  wait(function() return data end, 5000, "plain data")
  eq(data.hello, 1, "passes through")
  -- API misuse: nil, message, name
  local r, msg, name = c:emit("open", 1)
  eq(name, "EINVAL", "reserved name")
  r, msg, name = c:emit("x", function() end, function() end)
  eq(r, nil, "a function argument")
  eq(name, "ETYPE", "cannot send a function")
  r, msg, name = srv:handle("", function() end)
  eq(name, "EINVAL", "empty name")
  r, msg, name = srv:emit("x", function() end)
  eq(name, "EINVAL", "broadcast cannot ask for acks")
  assert(not pcall(c.emit, c, "x", 1, function() end, { timeout = "soon" }), "bad timeout raises")
  assert(not pcall(c.handle, c, "x", 42), "handler must be a function")
  local plain = assert(weft.server { url = "ws://127.0.0.1:0/primus" })
  r, msg, name = plain:handle("x", function() end)
  eq(name, "ESTATE", "no emitter")
  assert(msg:find("emitter=true"), msg)
  r, msg, name = plain:emit("x")
  eq(name, "ESTATE", "emit without emitter")
  plain:close()
  teardown(srv, cl)
end)

test("emitter: server:emit broadcasts to every client once", function()
  local srv, cl = setup({ emitter = true }, 5, { emitter = true })
  local got = {}
  for i, c in ipairs(cl) do
    c:handle("tick", function(_, n) got[i] = (got[i] or 0) + n end)
  end
  eq(srv:emit("tick", 1), 5, "five sparks reached")
  wait(function()
    for i = 1, 5 do if got[i] ~= 1 then return false end end
    return true
  end, 5000, "five ticks")
  teardown(srv, cl)
end)

-- Rooms ----------------------------------------------------------------------------

test("rooms: 100 sparks in 10 rooms; to(rooms):except(ids) reaches exactly the others once", function()
  local srv, cl, sp = setup({ rooms = true, emitter = true }, 100, { emitter = true })
  for i = 1, 100 do
    assert(sp[i]:join("r" .. (i % 10)))
    assert(sp[i]:join("all"))
    assert(sp[i]:join("all")) -- twice: no error
  end
  eq(#srv:rooms(), 11, "eleven rooms")
  eq(#srv:members("r3"), 10, "ten members")
  eq(#srv:members("nobody"), 0, "unknown room is empty")
  eq(sp[3]:in_room("r3"), true, "in_room")
  eq(sp[3]:in_room("r4"), false, "not in r4")
  eq(#sp[3]:rooms(), 2, "two rooms")
  local got, evs = {}, {}
  for i, c in ipairs(cl) do
    c:on("data", function(m) got[i] = (got[i] or 0) + 1; assert(m.n == 1) end)
    c:handle("ev", function(_, x) evs[i] = (evs[i] or 0) + x end)
  end
  -- r3 and all overlap: every spark once; the first five are excepted
  local ex = {}
  for i = 1, 5 do ex[i] = sp[i]:id() end
  eq(srv:to { "r3", "all" }:except(ex):write { n = 1 }, 95, "95 reached")
  -- rooms emit, with a spark object as exception
  eq(srv:to("r3"):except(sp[3]):emit("ev", 1), 9, "r3 minus one")
  wait(function()
    local n, e = 0, 0
    for i = 1, 100 do n = n + (got[i] or 0); e = e + (evs[i] or 0) end
    return n == 95 and e == 9
  end, 10000, "95 messages and 9 events")
  for i = 1, 100 do
    eq(got[i], i > 5 and 1 or nil, "message count of client " .. i)
    eq(evs[i], (i % 10 == 3 and i ~= 3) and 1 or nil, "event count of client " .. i)
  end
  -- leave, leave_all: rooms disappear with their last member
  for i = 1, 100 do if i % 10 == 7 then assert(sp[i]:leave("r7")) end end
  assert(sp[1]:leave_all())
  eq(#sp[1]:rooms(), 0, "no rooms after leave_all")
  eq(#srv:members("r7"), 0, "r7 emptied")
  eq(#srv:rooms(), 10, "r7 is gone")
  -- bad input
  local r, _, name = sp[2]:join("")
  eq(name, "EINVAL", "empty room name")
  r, _, name = srv:to(""):write(1)
  eq(name, "EINVAL", "empty room in to()")
  assert(not pcall(srv.to, srv, 42), "a number is no room name")
  teardown(srv, cl)
end)

test("rooms: direct emit by id, everyone but the sender, rooms gone with a disconnection", function()
  local srv, cl, sp = setup({ rooms = true, emitter = true }, 3, { emitter = true })
  local got = {}
  for i, c in ipairs(cl) do
    c:on("data", function(m) got[i] = (got[i] or "") .. m end)
    c:handle("direct", function(_, m) got[i] = (got[i] or "") .. m end)
  end
  assert(srv:spark(sp[2]:id()):emit("direct", "d"))
  eq(srv:spark("no-such-id"), nil, "unknown id")
  eq(srv:to():except(sp[1]):write("b"), 2, "everyone but the sender")
  wait(function() return got[2] == "db" and got[3] == "b" end, 5000, "direct and broadcast")
  eq(got[1], nil, "the sender got nothing")
  assert(sp[3]:join("x"))
  cl[3]:close()
  wait(function() return srv:count() == 2 end, 5000, "disconnection")
  eq(#srv:members("x"), 0, "left with the disconnection")
  local r, _, name = sp[3]:join("x")
  eq(name, "ECLOSED", "join on a closed spark")
  local plain = assert(weft.server { url = "ws://127.0.0.1:0/primus" })
  r, _, name = plain:rooms()
  eq(name, "ESTATE", "rooms not enabled")
  plain:close()
  local ok, err = pcall(weft.client, { url = url_of(srv), rooms = true })
  assert(not ok and err:find("no such client option"), "rooms live on servers: " .. tostring(err))
  teardown(srv, { cl[1], cl[2] })
end)

test("presence: this process without a cluster, sorted; bad inputs; redis option values", function()
  local srv, cl, sp = setup({ rooms = true, emitter = true }, 3, { emitter = true })
  assert(sp[1]:join("lobby"))
  assert(sp[3]:join("lobby"))
  local ids
  assert(srv:presence("lobby", function(list) ids = list end))
  local want = { sp[1]:id(), sp[3]:id() }
  table.sort(want)
  eq(ids and table.concat(ids, ","), table.concat(want, ","), "the members' ids, sorted")
  local r, _, name = srv:presence("", function() end)
  eq(name, "EINVAL", "an invalid room name")
  eq(pcall(srv.presence, srv, "lobby"), false, "a function is required")
  local plain = assert(weft.server { url = "ws://127.0.0.1:0/primus" })
  r, _, name = plain:presence("lobby", function() end)
  eq(name, "ESTATE", "rooms not enabled")
  plain:close()
  local bad, msg = weft.server { url = "ws://127.0.0.1:0/primus", redis = "http://127.0.0.1:1" }
  eq(bad, nil, "a URL that is not redis://")
  assert(tostring(msg):find("redis"), "the message names the option: " .. tostring(msg))
  teardown(srv, cl)
end)

test("rooms: client join/leave with the server's policy", function()
  local srv, cl, sp = setup({ rooms = true, emitter = true }, 1, { emitter = true })
  local c = cl[1]
  local res = {}
  c:join("lobby", function(err) res.nopolicy = err or "ok" end)
  wait(function() return res.nopolicy end, 5000, "answer without a policy")
  eq(res.nopolicy.name, "EREJECTED", "no policy: refused")
  local asked = {}
  srv:rooms_policy(function(spark, room, join)
    asked[#asked + 1] = { spark, room, join }
    return room:sub(1, 5) == "open-"
  end)
  c:join("open-1", function(err) res.join = err or "ok" end)
  c:join("secret", function(err) res.secret = err or "ok" end)
  wait(function() return res.join and res.secret end, 5000, "two answers")
  eq(res.join, "ok", "allowed")
  eq(res.secret.name, "EREJECTED", "refused")
  eq(sp[1]:in_room("open-1"), true, "member now")
  eq(sp[1]:in_room("secret"), false, "not a member")
  eq(asked[1][1], sp[1], "policy gets the spark")
  eq(asked[1][3], true, "join flag")
  c:leave("open-1", function(err) res.leave = err or "ok" end)
  wait(function() return res.leave end, 5000, "leave")
  eq(res.leave, "ok", "leave allowed")
  eq(asked[3][3], false, "leave flag")
  eq(sp[1]:in_room("open-1"), false, "left")
  c:join("open-3", function(err) res.j3 = err or "ok" end)
  c:join("open-4", function(err) res.j4 = err or "ok" end)
  wait(function() return res.j3 and res.j4 end, 5000, "two joins")
  eq(#sp[1]:rooms(), 2, "in two rooms")
  c:leave_all(function(err) res.all = err or "ok" end)
  wait(function() return res.all end, 5000, "leave_all")
  eq(res.all, "ok", "leave_all allowed")
  eq(#sp[1]:rooms(), 0, "in no room")
  local bad = pcall(c.leave_all, c, 5)
  eq(bad, false, "leave_all with a callback that is not a function")
  -- a policy that raises refuses (and the error is re-raised by poll)
  srv:rooms_policy(function() error("policy bug") end)
  c:join("open-2", function(err) res.bug = err or "ok" end)
  local raised
  local deadline = weft.clock() + 5000
  while not res.bug and weft.clock() < deadline do
    local ok, err = pcall(weft.poll, 5)
    if not ok then raised = err end
  end
  assert(raised and tostring(raised):find("policy bug"), "re-raised")
  eq(res.bug.name, "EREJECTED", "a raising policy refuses")
  local r, _, name = c:join("", function() end)
  eq(name, "EINVAL", "empty room name")
  teardown(srv, cl)
end)

-- Channels ---------------------------------------------------------------------------

test("channels: opened by the client, echoed, ended by a handshake", function()
  local srv, cl = setup({ channels = true }, 1, { channels = true })
  local c = cl[1]
  local server_side, ended = nil, {}
  srv:on("channel", function(ch, spark)
    server_side = { ch, spark }
    ch:on("data", function(m) ch:write { echo = m } end)
    ch:on("end", function() ended.server = true end)
  end)
  local ch = assert(c:channel("chat"))
  eq(c:channel("chat"), ch, "the same channel object for the same name")
  eq(ch:name(), "chat", "name")
  local got = {}
  ch:on("data", function(m) got[#got + 1] = m.echo end)
  ch:on("end", function() ended.client = true end)
  for i = 1, 5 do assert(ch:write(i)) end
  wait(function() return #got == 5 end, 5000, "five echoes")
  for i = 1, 5 do eq(got[i], i, "in order") end
  eq(tostring(server_side[2]):find("weft.spark") ~= nil, true, "the spark comes with it")
  eq(server_side[1]:spark(), server_side[2], "ch:spark()")
  -- a second channel on the same connection is independent
  local other = assert(c:channel("other"))
  assert(other:write("x"))
  assert(ch:close())
  wait(function() return ended.server and ended.client end, 5000, "both ends")
  eq(ch:is_open(), false, "ended")
  local r, _, name = ch:write(1)
  eq(name, "ECLOSED", "write after the end")
  r, _, name = ch:close()
  eq(name, "ECLOSED", "close twice")
  r, _, name = c:channel("")
  eq(name, "EINVAL", "empty channel name")
  r, _, name = other:write(function() end)
  eq(name, "ETYPE", "a function cannot be sent")
  local offline = assert(weft.client { url = url_of(srv), channels = true, manual = true })
  r, _, name = offline:channel("x")
  eq(name, "ECLOSED", "a client that is not open has no channels yet")
  offline:close()
  teardown(srv, cl)
end)

test("channels: opened by the server; refused without a handler; disconnection ends", function()
  local srv, cl, sp = setup({ channels = true }, 1, { channels = true })
  local c = cl[1]
  local got
  c:on("channel", function(ch) ch:on("data", function(m) got = m end) end)
  local news = assert(sp[1]:channel("news"))
  assert(news:write { headline = "weft" })
  wait(function() return got end, 5000, "server-opened channel")
  eq(got.headline, "weft", "message")
  -- no "channel" handler on the server: refused, the opener sees its end
  local ended
  local ch = assert(c:channel("unwanted"))
  ch:on("end", function() ended = true end)
  ch:write(1)
  wait(function() return ended end, 5000, "refusal")
  -- the connection goes away: the server's channel ends
  local news_end
  news:on("end", function() news_end = true end)
  c:close()
  wait(function() return news_end end, 5000, "end at disconnection")
  eq(news:is_open(), false, "ended")
  local plain = assert(weft.server { url = "ws://127.0.0.1:0/primus" })
  plain:on("connection", function() end)
  plain:close()
  teardown(srv, {})
end)

test("channels: flow control: a paused receiver, queued writes, drain", function()
  local srv, cl = setup({ channels = { window = 4 } }, 1, { channels = { window = 4 } })
  local c = cl[1]
  local rx, got = nil, {}
  srv:on("channel", function(ch)
    rx = ch
    ch:pause()
    ch:on("data", function(m) got[#got + 1] = m end)
  end)
  local ch = assert(c:channel("bulk"))
  local drained = false
  ch:on("drain", function() drained = true end)
  local results = {}
  for i = 1, 10 do results[i] = ch:write(i) end
  for i = 1, 4 do eq(results[i], true, "sent with credit " .. i) end
  for i = 5, 10 do eq(results[i], false, "queued " .. i) end
  eq(ch:queued(), 6, "six waiting for credit")
  wait(function() return rx end, 5000, "the server's channel")
  weft.poll(50)
  eq(#got, 0, "paused: nothing delivered")
  rx:resume()
  wait(function() return #got == 10 and drained end, 5000, "everything and drain")
  for i = 1, 10 do eq(got[i], i, "order") end
  eq(ch:queued(), 0, "queue empty")
  local r, _, name = weft.server { url = "ws://127.0.0.1:0/primus", channels = { window = 0 } }
  eq(name, "ERANGE", "window 0")
  teardown(srv, cl)
end)

-- Batching -------------------------------------------------------------------------------

test("batching: on both sides, messages and events arrive whole and in order", function()
  local srv, cl, sp = setup({ batching = 16384, emitter = true }, 1,
    { batching = true, emitter = true })
  local c = cl[1]
  local got, evs = {}, {}
  c:on("data", function(m) got[#got + 1] = m end)
  c:handle("e", function(_, i) evs[#evs + 1] = i end)
  local back = {}
  sp[1]:on("data", function(m) back[#back + 1] = m end)
  for i = 1, 200 do sp[1]:write { i = i, pad = ("x"):rep(100) } end
  for i = 1, 50 do sp[1]:emit("e", i) end
  for i = 1, 100 do c:write(i) end
  wait(function() return #got == 200 and #evs == 50 and #back == 100 end, 5000, "batches")
  for i = 1, 200 do eq(got[i].i, i, "message order") end
  for i = 1, 50 do eq(evs[i], i, "event order") end
  for i = 1, 100 do eq(back[i], i, "client's batched writes") end
  local ok, err = pcall(weft.server, { url = "ws://127.0.0.1:0/primus", batching = "lots" })
  assert(not ok and err:find("batching"), "batching must be a number or a boolean (raises): " .. tostring(err))
  local r, _, name = weft.server { url = "ws://127.0.0.1:0/primus", parser = "raw", batching = 1024 }
  eq(name, "EUNSUPPORTED", "no batching with the raw parser")
  teardown(srv, cl)
end)

-- Interop ------------------------------------------------------------------------------------

local INTEROP = ROOT .. "/tests/interop"
local function have_node()
  local f = io.open(INTEROP .. "/node_modules/primus/package.json")
  if f then f:close() end
  return f ~= nil and os.execute("command -v node >/dev/null 2>&1")
end

test("interop: the npm Primus client with primus-emitter packets, acks both ways", function()
  assert(have_node(), "node and tests/interop/node_modules are required (bash scripts/deps.sh)")
  local srv = assert(weft.server { url = "ws://127.0.0.1:0/primus", emitter = true })
  srv:handle("sum", function(_, reply, a, b) reply:resolve(a + b) end)
  srv:handle("fail", function(_, reply) reply:reject("nope") end)
  local answer
  srv:on("connection", function(spark)
    spark:emit("hello", "lua", function(err, r)
      answer = r
      spark:write { done = true }
    end)
  end)
  local out = os.tmpname()
  local h = io.popen(("NODE_PATH=%s/node_modules node %s/lua/tests/primus_emitter_client.js %s > %s 2>&1")
    :format(INTEROP, ROOT, url_of(srv), out))
  local result = helpers.wait_line(out, 15000, "the node client")
  h:close()
  os.remove(out)
  assert(result:find("^ok"), "node client: " .. tostring(result))
  eq(answer, "hi lua", "the node client's answer")
  srv:close()
  settle()
end)

test("emitter: callbacks an answer carries, depths 1, 2 and 3; released at timeout and close", function()
  local srv, cl = setup({ emitter = true }, 1, { emitter = true })
  local c = cl[1]
  local calls = {}
  srv:handle("chain", function(_, reply, q)
    -- depth 2 (server): carried by the answer
    reply:resolve("v1:" .. q, function(err, v, next_reply)
      calls[#calls + 1] = "server 2 " .. tostring(err) .. " " .. v
      next_reply:resolve("v3:" .. v)
    end)
  end)
  local depth3
  assert(c:emit("chain", "q", function(err, v, reply) -- depth 1 (client)
    calls[#calls + 1] = "client 1 " .. tostring(err) .. " " .. v
    reply:resolve("v2", function(err3, v3, more) -- depth 3 (client)
      depth3 = { err3, v3, more }
    end)
  end))
  wait(function() return depth3 end, 5000, "depth 3")
  eq(calls[1], "client 1 nil v1:q", "depth 1")
  eq(calls[2], "server 2 nil v2", "depth 2")
  eq(depth3[2], "v3:v2", "depth 3")
  eq(depth3[3], nil, "no further callback")
  -- Released: a kept callback times out; with no timeout it ends at the close.
  local outcomes, kept = {}, {}
  srv:handle("keep", function(_, reply, ms)
    reply:resolve(ms, function(err) outcomes[#outcomes + 1] = err and err.name end, { timeout = ms })
  end)
  c:emit("keep", 30, function(_, _, r) kept[#kept + 1] = r end)
  wait(function() return outcomes[1] end, 5000, "timeout")
  eq(outcomes[1], "ETIMEDOUT", "timed out")
  c:emit("keep", 0, function(_, _, r) kept[#kept + 1] = r end)
  wait(function() return kept[2] end, 5000, "kept")
  -- Bad input: a callback that is not a function.
  local okr, err = pcall(function() kept[2]:resolve(1, "not a function") end)
  eq(okr, false, "not a function")
  assert(tostring(err):find("callback"), tostring(err))
  c:close()
  wait(function() return outcomes[2] end, 5000, "close")
  eq(outcomes[2], "ECLOSED", "closed")
  srv:close()
  settle()
end)

-- The lead's cross-host script ---------------------------------------------------------------

test("reject_server.lua: prints its port, resolves sum, rejects fail", function()
  local interp = IS54 and "lua5.4" or "luajit"
  local cmd = ("LUA_CPATH=%q %s %s/lua/tests/reject_server.lua & echo pid $!")
      :format(package.cpath, interp, ROOT)
  local h = assert(io.popen(cmd))
  -- "pid N" (from the shell) and "listening P" (from the script), in either order
  local pid, port, line = nil, nil, ""
  for _ = 1, 2 do
    local l = h:read("*l") or ""
    pid = pid or l:match("^pid (%d+)$")
    port = port or l:match("^listening (%d+)$")
    if not l:match("^pid ") then line = l end
  end
  local ok, err = pcall(function()
    assert(port, "reject_server said: " .. line)
    local c = assert(weft.client { url = "ws://127.0.0.1:" .. port .. "/primus", emitter = true })
    local res = {}
    c:emit("sum", 1, 2, 39, function(e, r) res.sum = { e, r } end)
    c:emit("fail", function(e) res.fail = e end)
    wait(function() return res.sum and res.fail end, 5000, "answers")
    eq(res.sum[2], 42, "sum")
    eq(res.fail.reason, "nope", "reason")
    c:close()
    settle()
  end)
  if pid then os.execute("kill " .. pid) end
  h:read("*a")
  h:close()
  assert(ok, err)
end)

-- Vibe (issue #21) ---------------------------------------------------------------

test("vibe: a Lua client over ws, httpstream and httplongpoll, acks resolved and rejected both ways", function()
  local srv = assert(weft.server { url = "http://127.0.0.1:0/vibe", transformer = "vibe", emitter = true })
  srv:handle("sum", function(_, reply, numbers)
    if type(numbers) ~= "table" then return reply:reject("not numbers") end
    local s = 0
    for _, v in ipairs(numbers) do s = s + v end
    reply:resolve(s)
  end)
  local sparks = {}
  srv:on("connection", function(spark) sparks[#sparks + 1] = spark end)
  local base = "http://127.0.0.1:" .. srv:port() .. "/vibe"
  for i, q in ipairs { "", "?transport=stream", "?transport=longpoll" } do
    local c = assert(weft.client { url = base .. q, transformer = "vibe", emitter = true,
                                   retries = 0 })
    c:handle("question", function(reply, x)
      if x == 1 then reply:resolve(x * 2) else reply:reject("no " .. x) end
    end)
    local got = {}
    c:on("open", function() got.open = true end)
    c:on("close", function() got.closed = true end)
    wait(function() return got.open and sparks[i] end, 5000, "open " .. q)
    assert(c:emit("sum", { 1, 2, 3.5 }, function(e, r) got.sum = { e, r } end))
    assert(c:emit("sum", "x", function(e, r) got.bad = { e, r } end))
    assert(sparks[i]:emit("question", 1, function(e, r) got.yes = { e, r } end))
    assert(sparks[i]:emit("question", 2, function(e, r) got.no = { e, r } end))
    wait(function() return got.sum and got.bad and got.yes and got.no end, 5000, "answers " .. q)
    eq(got.sum[2], 6.5, "resolved by the server " .. q)
    eq(got.bad[1].name, "EREJECTED", "rejected by the server " .. q)
    eq(got.bad[1].reason, "not numbers", "its reason " .. q)
    eq(got.yes[2], 2, "resolved by the client " .. q)
    eq(got.no[1].reason, "no 2", "rejected by the client " .. q)
    c:close()
    wait(function() return got.closed end, 5000, "closed " .. q)
  end
  srv:close()
  settle()
end)

-- Connection-state recovery ------------------------------------------------------

test("recovery: spark:recovered() and client:recovered(); a forged resume is fresh", function()
  local srv = assert(weft.server { url = "ws://127.0.0.1:0/primus", rooms = true, recovery = 5000 })
  local seen = {}
  srv:on("connection", function(spark)
    seen[#seen + 1] = { id = spark:id(), recovered = spark:recovered(), rooms = #spark:rooms(), spark = spark }
  end)
  local c = assert(weft.client { url = url_of(srv), recovery = true,
                                 reconnect = { min = 20, max = 50, retries = 20 } })
  local got = {}
  c:on("data", function(m) got[#got + 1] = m end)
  wait(function() return #seen == 1 end, 5000, "the connection")
  eq(seen[1].recovered, false, "a fresh spark")
  eq(c:recovered(), false, "a fresh session")
  assert(seen[1].spark:join("r1"))
  local away = false
  srv:on("disconnection", function() away = true end)
  -- ended with reconnect: the client comes back, and resumes
  seen[1].spark:close(nil, { reconnect = true })
  wait(function() return away end, 5000, "the disconnection")
  for i = 1, 10 do srv:to("r1"):write(i) end
  wait(function() return #seen == 2 and #got == 10 end, 5000, "resumed, the missed messages")
  eq(seen[2].recovered, true, "spark:recovered()")
  eq(seen[2].id, seen[1].id, "the same id")
  eq(seen[2].rooms, 1, "its room")
  for i = 1, 10 do eq(got[i], i, "in order") end
  eq(c:recovered(), true, "client:recovered()")
  -- bad input: someone's id with a made-up token
  local f = assert(weft.client { url = url_of(srv) .. "?weft_rs=" .. seen[1].id ..
                                 ".AAAAAAAAAAAAAAAAAAAAAA.0", reconnect = { retries = 0 } })
  wait(function() return #seen == 3 end, 5000, "the forged connection")
  eq(seen[3].recovered, false, "forged: fresh")
  assert(seen[3].id ~= seen[1].id, "forged: another id")
  f:close()
  teardown(srv, { c })
end)

test("vibe: the transport option beside the URL's transport= query, and the server's vibe_heartbeat", function()
  local srv = assert(weft.server { url = "http://127.0.0.1:0/vibe", transformer = "vibe", emitter = true,
                                   vibe_heartbeat = 3000, vibe_heartbeat_wait = 1000 })
  srv:handle("twice", function(_, reply, x) reply:resolve(x * 2) end)
  local base = "http://127.0.0.1:" .. srv:port() .. "/vibe"
  for _, t in ipairs { { "", "httpstream" }, { "?transport=longpoll", "httplongpoll" }, { "", "ws" } } do
    local c = assert(weft.client { url = base .. t[1], transformer = "vibe", transport = t[2], emitter = true,
                                   retries = 0 })
    local got = {}
    c:on("open", function() got.open = true end)
    c:on("close", function() got.closed = true end)
    wait(function() return got.open end, 5000, "open " .. t[2])
    assert(c:emit("twice", 21, function(e, r) got.r = { e, r } end))
    wait(function() return got.r end, 5000, "answer " .. t[2])
    eq(got.r[2], 42, "answered over " .. t[2])
    c:close()
    wait(function() return got.closed end, 5000, "closed " .. t[2])
  end
  local c, msg, name = weft.client { url = base .. "?transport=longpoll", transformer = "vibe", transport = "ws" }
  eq(c, nil, "a transport the URL contradicts")
  eq(name, "EINVAL", "EINVAL")
  assert(msg:find("transport=", 1, true), msg)
  c, msg, name = weft.client { url = base, transformer = "vibe", transport = "carrier" }
  eq(name, "ERANGE", "an unknown transport: " .. tostring(msg))
  local s2
  s2, msg, name = weft.server { url = "http://127.0.0.1:0/vibe", transformer = "vibe", vibe_heartbeat = 1000,
                                vibe_heartbeat_wait = 1000 }
  eq(s2, nil, "a wait not below the heartbeat")
  eq(name, "EINVAL", "EINVAL")
  srv:close()
  settle()
end)

local ok = tap.run((IS54 and "lua5.4" or "luajit") .. "-ext", weft.clock)
weft.run()
os.exit(ok and 0 or 1, true)
