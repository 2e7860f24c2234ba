-- The Lua suite: lua5.4 or luajit, with LUA_CPATH pointing at the build's
-- weft.so and LUA_PATH at lua/tests/. Every test uses real sockets on
-- 127.0.0.1 with port 0 (or Unix sockets in a mktemp -d folder that is
-- removed) and waits with bounded deadlines.
--
--   WEFT_ROOT=<repo> LUA_CPATH=... LUA_PATH=... lua5.4 test_weft.lua
local tap = require "tap"
local weft = require "weft"
local test, eq = tap.test, tap.eq

local ROOT = os.getenv("WEFT_ROOT") or "."
local INTEROP = ROOT .. "/tests/interop"
local IS54 = math.type ~= nil

local helpers = require "helpers"
local wait, settle = helpers.wait, helpers.settle

local function echo_server(parser, transformer)
  local srv = assert(weft.server { url = "ws://127.0.0.1:0/primus", parser = parser,
                                   transformer = transformer })
  srv:on("connection", function(spark)
    spark:on("data", function(msg) spark:write(msg) end)
  end)
  return srv
end

local function url_of(srv) return "ws://127.0.0.1:" .. srv:port() .. "/primus" end

local function deep_eq(a, b)
  if type(a) ~= type(b) then return false end
  if type(a) ~= "table" then
    if IS54 and type(a) == "number" and math.type(a) ~= math.type(b) then return false end
    return a == b
  end
  for k, v in pairs(a) do if not deep_eq(v, b[k]) then return false end end
  for k in pairs(b) do if a[k] == nil then return false end end
  return true
end

-- Values -----------------------------------------------------------------------

test("values: arrays, maps, markers, ints and floats round-trip", function()
  for _, parser in ipairs { "json", "msgpack" } do
    local v = { a = 1, b = 2.5, s = "text", t = true, f = false, n = weft.null,
      arr = { 1, 2, { x = 1 } }, nested = { { 1 }, { 2 } } }
    local back = assert(weft.decode(assert(weft.encode(v, parser)), parser))
    assert(deep_eq(v, back), parser .. ": round-trip differs")
    if IS54 then
      eq(math.type(back.a), "integer", "int stays int")
      eq(math.type(back.b), "float", "float stays float")
      eq(math.type(weft.decode(weft.encode(3.0, parser), parser)), "float", "3.0 stays float")
    end
  end
  eq(weft.encode({ 1, 2, 3 }), "[1,2,3]", "1..n table")
  eq(weft.encode({ [1] = 1, [3] = 3 }, "msgpack") ~= nil, true, "holes make a map")
  eq(weft.encode({}), "{}", "empty table is a map")
  eq(weft.encode(weft.array {}), "[]", "weft.array marker")
  eq(weft.encode(weft.map { 1, 2 }, "msgpack"):byte(1), 0x82, "map marker: a msgpack map of 2")
  eq(weft.encode({ 1, 2 }, "msgpack"):byte(1), 0x92, "no marker: a msgpack array of 2")
  eq(weft.encode(weft.array()), "[]", "weft.array() makes a table")
  eq(weft.encode({ x = weft.null }), '{"x":null}', "weft.null")
  -- empty containers decode with their marker, so they round-trip
  eq(weft.encode(weft.decode("[]")), "[]", "[] round-trips")
  eq(weft.encode(weft.decode("{}")), "{}", "{} round-trips")
  -- strings are bytes: invalid UTF-8 goes out as binary (msgpack bin)
  local bytes = "\255\0\1binary"
  eq(weft.decode(weft.encode(bytes, "msgpack"), "msgpack"), bytes, "bytes round-trip")
  local t = weft.decode(weft.encode({ [bytes] = 1, ok = 2 }, "msgpack"), "msgpack")
  eq(t[bytes], 1, "a bytes key round-trips")
  eq(t.ok, 2, "next to a text key")
end)

test("values: bad input returns nil, message, name", function()
  local v, msg, name = weft.encode({ f = function() end })
  eq(v, nil, "function")
  eq(name, "ETYPE", "name")
  assert(msg:find("function"), msg)
  local cyc = {}
  cyc.self = cyc
  v, msg, name = weft.encode(cyc)
  eq(v, nil, "cycle")
  eq(name, "EDEPTH", "cycle name")
  v, msg, name = weft.decode("[1,", "json")
  eq(v, nil, "truncated json")
  eq(name, "EPARSE", "parse error name")
  v, msg, name = weft.decode("\193", "msgpack")
  eq(v, nil, "bad msgpack")
  v, msg, name = weft.encode({ [true] = 1 }, "json")
  eq(v, nil, "json cannot carry a boolean key")
  v, msg, name = weft.encode(1, "nope")
  eq(name, "EINVAL", "unknown parser")
  eq(v, nil, "unknown parser returns nil")
  assert(msg)
  -- bytes go out in JSON as Node's Buffer form, as Primus's json parser does
  eq(weft.encode("\255", "json"), '{"type":"Buffer","data":[255]}', "bytes in json")
end)

test("signals: require set SIGPIPE to ignored (Linux /proc)", function()
  local f = io.open("/proc/self/status")
  if not f then return end
  local mask
  for line in f:lines() do mask = mask or line:match("^SigIgn:%s*(%x+)") end
  f:close()
  local bit13 = tonumber(mask:sub(-4, -4), 16) % 2 -- SIGPIPE is 13: bit 12, the 4th hex digit
  eq(bit13, 1, "SIGPIPE ignored")
end)

-- Echo ------------------------------------------------------------------------------

for _, parser in ipairs { "json", "msgpack" } do
  test("echo (" .. parser .. "): server and client, in order", function()
    local srv = echo_server(parser)
    local c = assert(weft.client { url = url_of(srv), parser = parser })
    local got = {}
    c:on("data", function(msg) got[#got + 1] = msg end)
    local sent = {}
    for i = 1, 50 do
      sent[i] = { i = i, f = i + 0.5, s = ("x"):rep(i), list = { i, i * 2 } }
      assert(c:write(sent[i])) -- queued until open, sent in order
    end
    wait(function() return #got == 50 end, 5000, "50 echoes")
    for i = 1, 50 do assert(deep_eq(sent[i], got[i]), "echo " .. i .. " differs") end
    eq(srv:count(), 1, "one spark")
    c:close()
    srv:close()
    settle()
  end)
end

test("echo: spark id, address, query and client id event", function()
  local srv = assert(weft.server { url = "ws://127.0.0.1:0/primus" })
  local spark
  srv:on("connection", function(s) spark = s end)
  local c = assert(weft.client { url = url_of(srv) .. "?room=blue" })
  local id
  c:on("id", function(x) id = x end)
  c:on("open", function() c:id() end)
  wait(function() return spark and id end, 5000, "connection and id")
  eq(id, spark:id(), "client id matches spark id")
  eq(spark:query("room"), "blue", "query")
  eq(spark:address(), "127.0.0.1", "address")
  assert(tostring(spark):find(id, 1, true))
  c:close()
  srv:close()
  settle()
end)

-- Broadcast -----------------------------------------------------------------------------

test("broadcast: server:write reaches every client once", function()
  local srv = assert(weft.server { url = "ws://127.0.0.1:0/primus", parser = "msgpack" })
  local clients, got = {}, {}
  for i = 1, 20 do
    got[i] = {}
    clients[i] = assert(weft.client { url = url_of(srv), parser = "msgpack" })
    clients[i]:on("data", function(m) table.insert(got[i], m.n) end)
  end
  wait(function() return srv:count() == 20 end, 5000, "20 connections")
  for n = 1, 10 do eq(srv:write { n = n, pad = ("p"):rep(100) }, 20, "queued on 20 sparks") end
  wait(function()
    for i = 1, 20 do if #got[i] < 10 then return false end end
    return true
  end, 5000, "every broadcast")
  for i = 1, 20 do
    eq(#got[i], 10, "count")
    for n = 1, 10 do eq(got[i][n], n, "order") end
  end
  local v, _, name = srv:write(print)
  eq(v, nil, "a function cannot be broadcast")
  eq(name, "ETYPE", "name")
  for i = 1, 20 do clients[i]:close() end
  srv:close()
  settle()
end)

test("flush: weft.flush() sends a tick's broadcast before any poll; in a handler it is ESTATE", function()
  local srv = assert(weft.server { url = "ws://127.0.0.1:0/primus", parser = "msgpack" })
  local spark, got, inside
  srv:on("connection", function(s)
    spark = s
    s:on("data", function() inside = { weft.flush() } end)
  end)
  local c = assert(weft.client { url = url_of(srv), parser = "msgpack" })
  local open = false
  c:on("open", function() open = true end)
  c:on("data", function(m) got = m.n end)
  wait(function() return open and spark ~= nil end, 5000, "the connection")
  eq(srv:write { n = 7 }, 1, "queued on the spark")
  assert(spark:buffered() > 0, "a write waits for the loop")
  eq(weft.flush(), true, "flushed")
  eq(spark:buffered(), 0, "handed to the kernel without a poll")
  eq(srv:flush(), true, "nothing queued: still true")
  wait(function() return got ~= nil end, 5000, "the flushed message")
  eq(got, 7, "what was flushed")
  c:write { x = 1 }
  wait(function() return inside ~= nil end, 5000, "the data handler")
  eq(inside[1], nil, "no flush from inside a handler")
  eq(inside[3], "ESTATE", "its name")
  c:close()
  srv:close()
  settle()
end)

-- Errors in handlers ---------------------------------------------------------------------

test("errors: a handler error is re-raised by poll() with its traceback; the server survives", function()
  local srv = assert(weft.server { url = "ws://127.0.0.1:0/primus" })
  local function boom_handler(msg)
    if msg == "boom" then error("handler boom") end
  end
  srv:on("connection", function(spark)
    spark:on("data", function(msg)
      boom_handler(msg)
      spark:write(msg)
    end)
  end)
  local c = assert(weft.client { url = url_of(srv) })
  local got = {}
  c:on("data", function(m) got[#got + 1] = m end)
  c:write("boom")
  local raised = helpers.raised()
  assert(raised, "poll() did not raise")
  assert(raised:find("handler boom", 1, true), raised)
  assert(raised:find("stack traceback", 1, true), "no traceback in: " .. raised)
  assert(raised:find("boom_handler", 1, true), "traceback lacks the handler: " .. raised)
  -- still serving, same connection
  c:write("after")
  wait(function() return got[1] == "after" end, 5000, "echo after the error")
  eq(srv:count(), 1, "spark survived")
  -- a client handler error too, and a non-string error object
  c:on("data", function() error({ code = 42 }) end)
  c:write("x")
  raised = nil
  deadline = weft.clock() + 5000
  while not raised and weft.clock() < deadline do
    local ok, err = pcall(weft.poll, 5)
    if not ok then raised = err end
  end
  eq(type(raised), "table", "error object kept")
  eq(raised.code, 42, "error object intact")
  c:close()
  srv:close()
  settle()
end)

test("errors: weft.run() stops and re-raises a handler error", function()
  local srv = assert(weft.server { url = "ws://127.0.0.1:0/primus" })
  srv:on("connection", function() error("in run") end)
  local c = assert(weft.client { url = url_of(srv) })
  local ok, err = pcall(weft.run)
  eq(ok, false, "run raised")
  assert(tostring(err):find("in run", 1, true), err)
  c:close()
  srv:close()
  settle()
end)

test("errors: misuse and bad options return nil, message, name", function()
  local v, msg, name = weft.server { url = "nope://127.0.0.1:0/x" }
  eq(v, nil, "bad scheme")
  eq(name, "EURL", "bad scheme name")
  assert(msg:find("listen"), msg)
  v, msg, name = weft.server { url = "ws://127.0.0.1:0/primus", parser = "yaml" }
  eq(v, nil, "bad parser")
  eq(name, "ERANGE", "bad parser name")
  local srv = assert(weft.server { url = "ws://127.0.0.1:0/primus" })
  v, msg, name = weft.server { url = url_of(srv) }
  eq(v, nil, "port in use")
  eq(name, "EADDRINUSE", "port in use name")
  v, msg, name = weft.client { url = "nope://x" }
  eq(v, nil, "bad client url")
  eq(name, "EURL", "client url name")
  v, msg, name = weft.client { url = url_of(srv), parser = "yaml" }
  eq(name, "ERANGE", "client parser")
  assert(not pcall(weft.server, {}), "missing url raises (argument error)")
  v, msg, name = weft.server { url = "ws://127.0.0.1:0/", max_length = -1 }
  eq(name, "ERANGE", "a negative option: the core's range check")
  assert(msg:find("max_length"), msg)
  assert(not pcall(weft.server, { url = "ws://127.0.0.1:0/", max_length = "big" }), "a string for a number raises (ETYPE)")
  assert(not pcall(srv.on, srv, "nonsense", print), "unknown event raises")
  assert(not pcall(srv.on, srv, "data", 42), "non-function handler raises")
  assert(not pcall(weft.poll, -1), "negative wait")
  -- poll from inside a handler is refused, not re-entered
  local inner
  srv:on("connection", function() inner = { weft.poll() } end)
  local c = assert(weft.client { url = url_of(srv) })
  wait(function() return inner end, 5000, "connection")
  eq(inner[1], nil, "nested poll")
  eq(inner[3], "ESTATE", "nested poll name")
  -- a client to a closed port: error event, then end after retries
  -- (a port that was just free: a server on port 0, closed)
  local gone = assert(weft.server { url = "ws://127.0.0.1:0/primus" })
  local gone_url, gone_closed = url_of(gone), false
  gone:on("close", function() gone_closed = true end)
  gone:close()
  wait(function() return gone_closed end, 5000, "the server's close")
  local dead = assert(weft.client { url = gone_url, reconnect = { min = 10, max = 20, retries = 1 } })
  local kinds, ended = {}, false
  dead:on("error", function(e) kinds[#kinds + 1] = e.kind end)
  dead:on("end", function() ended = true end)
  wait(function() return ended end, 5000, "end after failed retries")
  eq(kinds[1], "connect", "error kind")
  c:close()
  dead:close()
  srv:close()
  settle()
end)

test("tls: wss:// server and client (the repo's test certificate)", function()
  local tls = { cert = ROOT .. "/tests/data/tls/cert.pem", key = ROOT .. "/tests/data/tls/key.pem" }
  local srv = assert(weft.server { url = "wss://127.0.0.1:0/primus", tls = tls })
  srv:on("connection", function(spark) spark:on("data", function(m) spark:write(m) end) end)
  local c = assert(weft.client { url = "wss://127.0.0.1:" .. srv:port() .. "/primus", ca_file = tls.cert })
  local got, errs = nil, {}
  c:on("data", function(m) got = m end)
  c:on("error", function(e) errs[#errs + 1] = e.kind .. ": " .. e.message end)
  c:write { secure = true }
  wait(function() return got or #errs > 0 end, 5000, "a TLS echo")
  assert(got, "TLS errors: " .. table.concat(errs, "; "))
  eq(got.secure, true, "echo over TLS")
  -- without trusting the certificate, the client refuses the server
  local untrusting = assert(weft.client { url = "wss://127.0.0.1:" .. srv:port() .. "/primus",
    reconnect = { retries = 0 } })
  local kind
  untrusting:on("error", function(e) kind = kind or e.kind end)
  wait(function() return kind end, 5000, "a certificate error")
  eq(kind, "tls", "error kind")
  untrusting:close()
  c:close()
  srv:close()
  -- bad input: unreadable files, a tls table without its fields
  local v, _, name = weft.server { url = "wss://127.0.0.1:0/primus", tls = { cert = "/nonexistent.pem", key = "/nonexistent.pem" } }
  eq(v, nil, "missing certificate")
  assert(name == "EINVAL" or name == "EIO", name)
  v, _, name = weft.server { url = "wss://127.0.0.1:0/primus", tls = {} }
  eq(name, "EINVAL", "tls without cert and key")
  settle()
end)

-- The slow-consumer policy ------------------------------------------------------------------

test("queue_policy: a full queue closes the spark (default) or drops that message", function()
  for _, policy in ipairs({ "close", "drop" }) do
    local srv = assert(weft.server { url = "ws://127.0.0.1:0/primus", max_queue = 8192,
                                     queue_policy = policy, ping_interval = 0 })
    local kinds, refused, gone = {}, nil, false
    srv:on("error", function(e) kinds[#kinds + 1] = e.kind end)
    srv:on("disconnection", function() gone = true end)
    srv:on("connection", function(spark)
      for _ = 1, 100 do
        local ok, _, name = spark:write(string.rep("z", 1000))
        if ok == nil then refused = name; break end
      end
    end)
    local c = assert(weft.client { url = url_of(srv), ping_timeout = 0 })
    wait(function() return refused ~= nil end, 5000, "a refused write (" .. policy .. ")")
    eq(refused, "ENOBUFS", policy .. ": the write is refused")
    eq(table.concat(kinds, ","), "queue", policy .. ": one error of kind queue")
    if policy == "close" then
      wait(function() return gone end, 5000, "the spark closed")
    else
      local t0 = weft.clock()
      wait(function() return weft.clock() - t0 >= 200 end, 1000, "a pause")
      eq(gone, false, "drop: the spark stays")
      eq(srv:count(), 1, "drop: one spark")
    end
    c:close()
    srv:close()
  end
  local v, _, name = weft.server { url = "ws://127.0.0.1:0/primus", queue_policy = "sometimes" }
  eq(v, nil, "a policy that does not exist")
  eq(name, "ERANGE", "its error")
end)

-- Transports: transformers, Unix sockets, a server at "/" ------------------------------------

-- A client on `url` that writes `msg` and returns the echo (waits, bounded).
local function echo_once(url, msg, opts)
  local o = { url = url }
  for k, v in pairs(opts or {}) do o[k] = v end
  local c = assert(weft.client(o))
  local got, errs = nil, {}
  c:on("data", function(m) got = m end)
  c:on("error", function(e) errs[#errs + 1] = e.kind .. ": " .. e.message end)
  c:write(msg)
  wait(function() return got ~= nil or #errs > 0 end, 5000, "an echo over " .. url)
  assert(got ~= nil, "errors over " .. url .. ": " .. table.concat(errs, "; "))
  c:close()
  return got
end

test("transformer: by name on server and client; weft.transformers() lists the core's names", function()
  local names = weft.transformers()
  eq(type(names), "table", "transformers() is a table")
  eq(names[1], "websockets", "the first (default) transformer")
  local srv = assert(weft.server { url = "ws://127.0.0.1:0/primus", transformer = "websockets" })
  srv:on("connection", function(spark) spark:on("data", function(m) spark:write(m) end) end)
  local got = echo_once(url_of(srv), { t = "websockets" }, { transformer = "websockets" })
  eq(got.t, "websockets", "echo with the transformer named on both sides")
  srv:close()
  settle()
end)

test("transformer: an unknown name fails with the core's names (server and client)", function()
  local expected = "unknown transformer 'sockjs' (available: " .. table.concat(weft.transformers(), ", ") .. ")"
  local v, msg, name = weft.server { url = "ws://127.0.0.1:0/primus", transformer = "sockjs" }
  eq(v, nil, "server: no server")
  eq(msg, expected, "server: message")
  eq(name, "EUNSUPPORTED", "server: name")
  local ok, err = pcall(function() return assert(weft.server { url = "ws://127.0.0.1:0/", transformer = "sockjs" }) end)
  eq(ok, false, "server: assert raises")
  eq(tostring(err):sub(-#expected), expected, "server: raised message") -- 5.4 prefixes the position
  v, msg, name = weft.client { url = "ws://127.0.0.1:1/primus", transformer = "sockjs" }
  eq(v, nil, "client: no client")
  eq(msg, expected, "client: message")
  eq(name, "EUNSUPPORTED", "client: name")
  ok, err = pcall(function() return assert(weft.client { url = "ws://127.0.0.1:1/", transformer = "sockjs" }) end)
  eq(ok, false, "client: assert raises")
  eq(tostring(err):sub(-#expected), expected, "client: raised message") -- 5.4 prefixes the position
  v, msg, name = weft.client { url = "ws://127.0.0.1:1/primus", transformer = "" }
  eq(name, "EUNSUPPORTED", "client: empty name")
  assert(msg:find("unknown transformer ''", 1, true), msg)
  assert(not pcall(weft.server, { url = "ws://127.0.0.1:0/", transformer = 42 }), "server: a number raises")
  assert(not pcall(weft.client, { url = "ws://127.0.0.1:1/", transformer = true }), "client: a boolean raises")
  settle()
end)

test("unix: a server on ws+unix:// and a client over it echo; the socket file goes with the server", function()
  helpers.with_tmpdir(function(dir)
    local sock = dir .. "/app.sock"
    local url = "ws+unix://" .. sock .. ":/primus"
    local srv = assert(weft.server { url = url, unix_mode = tonumber("600", 8) })
    local spark, closed = nil, false
    srv:on("connection", function(s)
      spark = s
      s:on("data", function(m) s:write(m) end)
    end)
    srv:on("close", function() closed = true end)
    eq(srv:url(), url, "url()")
    eq(srv:url(1), url, "url(1)")
    eq(srv:url(2), nil, "url(2): no second listener")
    eq(#srv:urls(), 1, "one listener")
    eq(srv:port(), 0, "a Unix socket has no port")
    eq(tostring(srv), "weft.server (" .. url .. ")", "tostring")
    assert(helpers.exists(sock), "the socket file exists while serving")
    local h = assert(io.popen("stat -c %a '" .. sock .. "'"))
    eq(h:read("*l"), "600", "unix_mode")
    h:close()
    local got = echo_once(url, { over = "unix", n = 7 })
    eq(got.over, "unix", "echo over the Unix socket")
    eq(got.n, 7, "echo value")
    local ip, port = spark:address()
    eq(ip, "", "a spark over a Unix socket has no address")
    eq(port, 0, "nor a port")
    eq(spark:header("host"), "localhost", "the client's Host header")
    -- a path where a server accepts is taken
    local v, msg, name = weft.server { url = url }
    eq(v, nil, "second server on the same socket")
    eq(name, "EADDRINUSE", "name")
    assert(msg:find(url, 1, true), "the message names the URL: " .. msg)
    srv:close()
    wait(function() return closed end, 5000, "the server's close")
    eq(helpers.exists(sock), false, "the socket file is removed at close")
    assert(os.remove(dir), "the directory is empty after the server closed")
  end)
  settle()
end)

test("unix: one server on TCP and a Unix socket; urls() lists both; clients over each echo", function()
  helpers.with_tmpdir(function(dir)
    local unix_url = "ws+unix://" .. dir .. "/both.sock:/primus"
    local srv = assert(weft.server { url = { "ws://127.0.0.1:0/primus", unix_url } })
    local closed = false
    srv:on("connection", function(s) s:on("data", function(m) s:write(m) end) end)
    srv:on("close", function() closed = true end)
    local urls = srv:urls()
    eq(#urls, 2, "two listeners")
    eq(urls[1], url_of(srv), "the TCP URL, port resolved")
    eq(urls[2], unix_url, "the Unix URL")
    eq(srv:url(2), unix_url, "url(2)")
    eq(echo_once(urls[1], "tcp"), "tcp", "echo over TCP")
    eq(echo_once(urls[2], "unix"), "unix", "echo over the Unix socket")
    srv:close()
    wait(function() return closed end, 5000, "the server's close")
    local v, _, name = srv:urls()
    eq(v, nil, "urls() after close")
    eq(name, "ECLOSED", "urls() after close: name")
    eq(helpers.exists(dir .. "/both.sock"), false, "the socket file is removed at close")
  end)
  settle()
end)

test('path "/": a server at ws://127.0.0.1:0/ and a client at ws://127.0.0.1:PORT/ echo', function()
  local srv = assert(weft.server { url = "ws://127.0.0.1:0/" })
  srv:on("connection", function(s) s:on("data", function(m) s:write(m) end) end)
  local root = "ws://127.0.0.1:" .. srv:port() .. "/"
  eq(srv:url(), root, "the served URL is /")
  eq(echo_once(root, { at = "/" }).at, "/", "echo at /")
  eq(echo_once(root .. "any/where", "deep"), "deep", "a server at / serves every path")
  srv:close()
  settle()
end)

test("unix: bad input (malformed ws+unix URLs, unix_mode, url lists) fails cleanly", function()
  helpers.with_tmpdir(function(dir)
    local bad = {
      "ws+unix://",                                 -- no socket path
      "ws+unix://:/primus",                          -- empty socket path
      "ws+unix://" .. dir .. "/a.sock:primus",      -- request path without '/'
      "ws+unix://" .. dir .. "/a.sock:",            -- ':' and nothing after
      "ws+unix://" .. dir .. "/" .. ("s"):rep(110) .. ".sock:/primus", -- over 107 bytes
    }
    for _, url in ipairs(bad) do
      local v, msg, name = weft.server { url = url }
      eq(v, nil, "server " .. url)
      eq(name, "EURL", "server name for " .. url)
      assert(msg:find(url, 1, true), "the message names the URL: " .. msg)
      v, msg, name = weft.client { url = url }
      eq(v, nil, "client " .. url)
      eq(name, "EURL", "client name for " .. url)
    end
    -- nothing listens on a missing socket file: the client reports it and ends
    local c = assert(weft.client { url = "ws+unix://" .. dir .. "/none.sock:/primus",
      reconnect = { retries = 0 } })
    local kind, ended = nil, false
    c:on("error", function(e) kind = kind or e.kind end)
    c:on("end", function() ended = true end)
    wait(function() return ended end, 5000, "the client's end")
    eq(kind, "connect", "error kind for a missing socket")
    c:close()
    -- unix_mode beyond 07777
    local v, _, name = weft.server { url = "ws+unix://" .. dir .. "/m.sock:/primus", unix_mode = 4096 }
    eq(v, nil, "unix_mode 010000")
    eq(name, "ERANGE", "unix_mode name")
    v, _, name = weft.server { url = "ws+unix://" .. dir .. "/m.sock", unix_mode = -1 }
    eq(name, "ERANGE", "a negative mode")
    -- a list whose second URL is bad: no server, and the first listener is undone
    local first = "ws+unix://" .. dir .. "/first.sock:/primus"
    local msg
    v, msg, name = weft.server { url = { first, "ws+unix://" .. dir .. "/x.sock:nope" } }
    eq(v, nil, "a list with a bad URL")
    eq(name, "EURL", "its name")
    assert(msg:find("x.sock:nope", 1, true), "the message names the bad URL: " .. msg)
    settle()
    eq(helpers.exists(dir .. "/first.sock"), false, "the first listener's socket file is removed")
    assert(not pcall(weft.server, { url = {} }), "an empty url list raises")
    assert(not pcall(weft.server, { url = { "ws://127.0.0.1:0/", 42 } }), "a non-string in the list raises")
    assert(not pcall(weft.server, { url = 42 }), "a number url raises")
    assert(os.remove(dir), "the directory is empty")
  end)
  settle()
end)

-- Close -----------------------------------------------------------------------------------

test("close: spark:close ends the client; writes after close return ECLOSED", function()
  local srv = assert(weft.server { url = "ws://127.0.0.1:0/primus" })
  local spark, disconnected, spark_end = nil, nil, false
  srv:on("connection", function(s)
    spark = s
    s:on("end", function() spark_end = true end)
  end)
  srv:on("disconnection", function(s) disconnected = s end)
  local c = assert(weft.client { url = url_of(srv) })
  local got, ended = nil, false
  c:on("data", function(m) got = m end)
  c:on("end", function() ended = true end)
  wait(function() return spark end, 5000, "connection")
  assert(spark:close("bye"))
  wait(function() return ended and disconnected end, 5000, "client end and disconnection")
  eq(got, "bye", "last message")
  eq(spark_end, true, "spark end event")
  eq(disconnected, spark, "same spark object")
  eq(spark:is_open(), false, "spark closed")
  local v, _, name = spark:write("late")
  eq(v, nil, "write after close")
  eq(name, "ECLOSED", "name")
  eq(c:state(), "closed", "client state")
  c:close()
  v, _, name = c:write("late")
  eq(name, "ECLOSED", "client write after close")
  v, _, name = c:close()
  eq(name, "ECLOSED", "client close twice")
  srv:close()
  settle()
end)

test("close: server:close ends every client and emits close once", function()
  local srv = assert(weft.server { url = "ws://127.0.0.1:0/primus" })
  local closed = 0
  srv:on("close", function() closed = closed + 1 end)
  local ends = 0
  local cs = {}
  for i = 1, 5 do
    cs[i] = assert(weft.client { url = url_of(srv) })
    cs[i]:on("end", function() ends = ends + 1 end)
  end
  wait(function() return srv:count() == 5 end, 5000, "5 connections")
  assert(srv:close())
  wait(function() return ends == 5 and closed == 1 end, 5000, "ends and close")
  local v, _, name = srv:close()
  eq(v, nil, "second close")
  eq(name, "ECLOSED", "second close name")
  v, _, name = srv:write("x")
  eq(name, "ECLOSED", "write after close")
  for i = 1, 5 do cs[i]:close() end
  settle()
end)

test("close: handles close on __gc (and __close in Lua 5.4)", function()
  local srv = assert(weft.server { url = "ws://127.0.0.1:0/primus" })
  local port = srv:port()
  srv = nil
  collectgarbage()
  collectgarbage()
  settle()
  -- the port is free again: a new server can bind it
  local again = assert(weft.server { url = "ws://127.0.0.1:" .. port .. "/primus" })
  again:close()
  if IS54 then
    local chunk = assert(load([[
      local weft = ...
      local port
      do
        local s <close> = assert(weft.server { url = "ws://127.0.0.1:0/primus" })
        port = s:port()
      end
      return port
    ]]))
    port = chunk(weft)
    settle()
    local third = assert(weft.server { url = "ws://127.0.0.1:" .. port .. "/primus" })
    third:close()
  end
  -- a client dropped while connected goes away, and the server sees it
  local srv2 = assert(weft.server { url = "ws://127.0.0.1:0/primus" })
  local c = assert(weft.client { url = url_of(srv2) })
  wait(function() return srv2:count() == 1 end, 5000, "connection")
  c = nil
  collectgarbage()
  collectgarbage()
  wait(function() return srv2:count() == 0 end, 5000, "disconnection after __gc")
  srv2:close()
  settle()
end)

-- Real peers: npm Primus client and server ---------------------------------------------

local function have_node()
  local f = io.open(INTEROP .. "/node_modules/primus/package.json")
  if f then f:close() end
  return f ~= nil and os.execute("command -v node >/dev/null 2>&1")
end

-- The npm Primus client (lua/tests/primus_client.js: 20 echoes) against srv.
local function primus_client_against(srv, parser, transformer)
  assert(have_node(), "node and tests/interop/node_modules are required (bash scripts/deps.sh)")
  local out = os.tmpname()
  local script = ROOT .. "/lua/tests/primus_client.js"
  local h = io.popen(("NODE_PATH=%s/node_modules node %s %s %s %s > %s 2>&1"):format(
    INTEROP, script, url_of(srv), parser, transformer, out))
  local result = helpers.wait_line(out, 15000, "the node client")
  h:close()
  os.remove(out)
  assert(result:find("^ok"), "node client: " .. tostring(result))
  srv:close()
  settle()
end

-- A Lua client with `opts` writes `msg` to the npm Primus server
-- (tests/interop/primus_server.js ARGS) and gets it back: returns the echo.
local function echo_via_primus_server(args, opts, msg)
  assert(have_node(), "node and tests/interop/node_modules are required (bash scripts/deps.sh)")
  local h = assert(io.popen(("echo $$; exec node %s/primus_server.js --port 0 %s"):format(INTEROP, args)))
  local pid = tonumber(h:read("*l"))
  local line = h:read("*l") or ""
  local url = line:match("listening on (%S+)")
  local got
  local ok, err = pcall(function()
    assert(url, "primus server said: " .. line)
    opts.url = url
    local c = assert(weft.client(opts))
    c:on("data", function(m) got = m end)
    c:write(msg)
    wait(function() return got end, 5000, "echo from Primus")
    c:close()
    settle()
  end)
  if pid then os.execute("kill " .. pid) end
  h:read("*a") -- drain its last lines until it exits, so it never writes to a closed pipe
  h:close()
  assert(ok, err)
  return got
end

test("reconnect timeout: a retry that hangs is abandoned, the backoff goes on", function()
  assert(have_node(), "node is required (bash scripts/deps.sh)")
  -- a TCP server that accepts and never answers; it exits when its stdin
  -- closes (h:close() below), or by itself after 10 s
  local out = os.tmpname()
  local h = io.popen(("node -e %q > %s 2>&1"):format(
    "const s=require('net').createServer(()=>{});s.listen(0,'127.0.0.1',()=>console.log(s.address().port));"
      .. "process.stdin.on('end',()=>process.exit(0));process.stdin.resume();"
      .. "setTimeout(()=>process.exit(0),10000)", out), "w")
  local port = tonumber(helpers.wait_line(out, 10000, "the silent server's port"):match("%d+"))
  local c = assert(weft.client { url = "ws://127.0.0.1:" .. port .. "/primus", timeout = 200,
    reconnect = { min = 10, max = 20, retries = 2 } })
  local seen = {}
  c:on("error", function() end)
  for _, name in ipairs { "timeout", "reconnect scheduled", "reconnect timeout" } do
    c:on(name, function(info) seen[#seen + 1] = name .. (info and info.attempt or "") end)
  end
  wait(function() return #seen >= 4 end, 5000, "timeout, retry, reconnect timeout, retry")
  eq(table.concat(seen, ",", 1, 4), "timeout,reconnect scheduled1,reconnect timeout1,reconnect scheduled2",
    "events")
  c:close()
  h:close()
  os.remove(out)
  settle()
end)

test("interop: the npm Primus client against a Lua server (msgpack)", function()
  primus_client_against(echo_server("msgpack"), "msgpack", "websockets")
end)

test("interop: a Lua client against the npm Primus server", function()
  local got = echo_via_primus_server("--parser json", {}, { hello = "primus", list = { 1, 2, 3 } })
  eq(got.hello, "primus", "echo")
  eq(#got.list, 3, "list")
end)

test("engine.io: a Lua client and a Lua server on engine.io; websockets beside it", function()
  local srv = echo_server("json", "websockets,engine.io")
  local got = echo_once(url_of(srv), { t = "engine.io", s = "é😀" }, { transformer = "engine.io" })
  eq(got.t, "engine.io", "echo over engine.io")
  eq(got.s, "é😀", "echo over engine.io")
  got = echo_once(url_of(srv), { t = "websockets" })
  eq(got.t, "websockets", "echo over websockets on the same port")
  srv:close()
  settle()
end)

test("interop: the npm Primus client on engine.io against a Lua server (msgpack)", function()
  primus_client_against(echo_server("msgpack", "engine.io"), "msgpack", "engine.io")
end)

test("interop: a Lua client on engine.io against the npm Primus server on engine.io", function()
  local got = echo_via_primus_server("--parser msgpack --transformer engine.io",
    { transformer = "engine.io", parser = "msgpack" }, { hello = "engine.io", list = { 1, 2, 3 } })
  eq(got.hello, "engine.io", "echo")
  eq(#got.list, 3, "list")
end)

-- fast-tcp (issue #20) ---------------------------------------------------------------------

test("fast-tcp: tcp:// and ipc:// served and dialed with the same API as ws://", function()
  local path = os.tmpname()
  os.remove(path)
  for _, url in ipairs({ "tcp://127.0.0.1:0", "ipc://" .. path .. ".sock" }) do
    local srv = assert(weft.server { url = url })
    srv:on("connection", function(spark) spark:on("data", function(m) spark:write(m) end) end)
    local at = url:sub(1, 3) == "tcp" and ("tcp://127.0.0.1:" .. srv:port()) or url
    local got = echo_once(at, { over = url:sub(1, 3), list = { 1, "two", true } })
    eq(got.over, url:sub(1, 3), "echo over " .. url)
    eq(#got.list, 3, "list over " .. url)
    srv:close()
    settle()
  end
end)

test("fast-tcp: a Lua client against npm fast-tcp 3.3.2's server, plain messages", function()
  assert(have_node(), "node and tests/interop/node_modules are required (bash scripts/deps.sh)")
  local h = assert(io.popen(("echo $$; exec node %s/lib/fasttcp_server.js"):format(INTEROP)))
  local pid = tonumber(h:read("*l"))
  local line = h:read("*l") or ""
  local url = line:match("listening on (%S+)")
  local ok, err = pcall(function()
    assert(url, "fast-tcp server said: " .. line)
    local got = echo_once(url, { plain = { 1, 2 } })
    eq(#got.plain, 2, "echo from npm fast-tcp")
    settle()
  end)
  if pid then os.execute("kill " .. pid) end
  h:read("*a")
  h:close()
  assert(ok, err)
end)

-- The Lua client against npm fast-tcp 3.3.2's server (its own process): the
-- value set as events, acks and acks the server asks; the server's emits;
-- reconnect after the server is killed and restarted on the same port.
local function ft_server(port)
  assert(have_node(), "node and tests/interop/node_modules are required (bash scripts/deps.sh)")
  local h = assert(io.popen(("echo $$; exec node %s/lib/fasttcp_server.js --port %d"):format(INTEROP, port or 0)))
  local pid = tonumber(h:read("*l"))
  local line = h:read("*l") or ""
  local url = assert(line:match("listening on (%S+)"), "fast-tcp server said: " .. line)
  return { url = url, port = tonumber(url:match(":(%d+)$")),
           stop = function(sig)
             os.execute(("kill -%s %d"):format(sig or "TERM", pid))
             h:read("*a")
             h:close()
           end }
end

local function ft_client(url)
  local c = assert(weft.client { url = url, emitter = true,
                                 reconnect = { min = 50, max = 200, retries = 100 } })
  c:on("error", function() end)
  return c
end

local function ask(c, event, ...)
  local done, err, res = false, nil, nil
  local n, args = select("#", ...), { ... }
  args[n + 1] = function(e, r) done, err, res = true, e, r end
  assert(c:emit(event, (table.unpack or unpack)(args, 1, n + 1)))
  wait(function() return done end, 5000, "the ack of " .. event)
  assert(err == nil, tostring(err and err.message or err))
  return res
end

local function same(a, b)
  if type(a) == "number" and a ~= a then return b ~= b end
  return deep_eq(a, b)
end

test("fast-tcp: the Lua client against npm fast-tcp 3.3.2's server: every value as event, ack, asked ack", function()
  local srv = ft_server()
  local ok, err = pcall(function()
    local c = ft_client(srv.url)
    local got = { echo = {}, answer = {} }
    c:handle("echo", function(_, v) got.echo[#got.echo + 1] = { v } end)
    c:handle("ctl:answer", function(_, v) got.answer[#got.answer + 1] = { v } end)
    c:handle("question", function(reply, v) reply:resolve(v == nil and weft.null or v) end)
    local bin = {}
    for i = 1, 1048576 do bin[i] = string.char((i * 7919) % 256) end
    bin[1] = "\255" -- not UTF-8: goes out as binary
    local cases = {
      { "string", "héllo" }, { "empty string", "" }, { "1 MiB string", ("x"):rep(1048576) },
      { "U+2028", "a\u{2028}b" }, { "emoji", "😀 \u{1F469}\u{200D}\u{1F4BB}" },
      { "1 MiB binary", table.concat(bin) },
      { "2^47-1", 140737488355327 }, { "-(2^47-1)", -140737488355327 }, { "-2^47", -140737488355328 }, { "zero", 0 },
      { "1.5", 1.5 }, { "-1.5e-300", -1.5e-300 }, { "5e-324", 5e-324 },
      { "nan", 0 / 0 }, { "inf", math.huge }, { "-inf", -math.huge },
      { "true", true }, { "false", false }, { "null", weft.null },
      { "nested", { a = { b = { 1, "x", true, { c = 2.5 } } }, ["\u{2028}"] = "😀", n = 9007199254740992 } },
    }
    for _, cs in ipairs(cases) do
      local label, value = cs[1], cs[2]
      local back = value
      if value == weft.null then back = nil end -- fast-tcp's "empty": no argument
      c:emit("echo", value)
      wait(function() return #got.echo > 0 end, 5000, "echo " .. label)
      assert(same(table.remove(got.echo)[1], back), "event: " .. label)
      local acked = ask(c, "echo", value)
      assert(same(acked, back == nil and weft.null or back), "ack: " .. label)
      eq(ask(c, "ctl:ask", value), true, "ctl:ask " .. label)
      wait(function() return #got.answer > 0 end, 5000, "answer " .. label)
      assert(same(table.remove(got.answer)[1], back), "asked: " .. label)
    end
    c:close()
    settle()
  end)
  srv.stop()
  assert(ok, err)
end)

test("fast-tcp: the Lua client: join, leave, leave_all; the server's emits to all, others, a room, an id; reconnect after a kill", function()
  local srv = ft_server()
  local second
  local ok, err = pcall(function()
    local cl, got = {}, {}
    for i = 1, 3 do
      cl[i] = ft_client(srv.url)
      got[i] = {}
      cl[i]:handle("news", function(_, d) got[i][#got[i] + 1] = d end)
    end
    -- join/leave/leave_all leave as fast-tcp's room messages; the npm server
    -- never answers them, so weft settles each once it is on the wire.
    local function room(c, op, name)
      local res
      local fn = function(e) res = e or "ok" end
      if name then c[op](c, name, fn) else c[op](c, fn) end
      wait(function() return res end, 5000, op)
      eq(res, "ok", op .. " " .. tostring(name))
    end
    room(cl[1], "join", "r1")
    room(cl[1], "join", "r2")
    room(cl[2], "join", "r2")
    eq(table.concat(ask(cl[1], "ctl:rooms"), ","), "r1,r2", "a's rooms")
    room(cl[1], "leave", "r1")
    eq(table.concat(ask(cl[1], "ctl:rooms"), ","), "r2", "a left r1")
    room(cl[3], "join", "r3")
    assert(cl[3]:join("r4")) -- no callback: fast-tcp's plain join
    eq(table.concat(ask(cl[3], "ctl:rooms"), ","), "r3,r4", "c's rooms")
    room(cl[3], "leave_all")
    eq(#ask(cl[3], "ctl:rooms"), 0, "c left every room")
    local cid = ask(cl[3], "ctl:id")
    for _, a in ipairs { { "news", "all", {} }, { "news", "others", { except = { "self" } } },
                         { "news", "room", { rooms = { "r2" }, except = { "self" } } },
                         { "news", "room with sender", { rooms = { "r2" } } },
                         { "news", "id", { sockets = { cid } } }, { "news", "end", {} } } do
      ask(cl[1], "ctl:send", a)
    end
    wait(function() return got[1][#got[1]] == "end" and got[2][#got[2]] == "end" and got[3][#got[3]] == "end" end,
      5000, "news")
    eq(table.concat(got[1], ","), "all,room with sender,end", "a")
    eq(table.concat(got[2], ","), "all,others,room,room with sender,end", "b")
    eq(table.concat(got[3], ","), "all,others,id,end", "c")
    -- Reconnect: the server is killed; emits made meanwhile arrive once, in order.
    local c = cl[1]
    local closed, reconnected = false, false
    c:on("close", function() closed = true end)
    c:on("reconnected", function() reconnected = true end)
    c:emit("q", "before")
    eq(table.concat(ask(c, "ctl:log"), ","), "before", "log before")
    local port = srv.port
    srv.stop("KILL")
    srv = nil
    wait(function() return closed end, 5000, "close")
    for i = 1, 20 do c:emit("q", i) end
    local t0 = weft.clock()
    wait(function() return weft.clock() - t0 > 300 end, 1000, "a pause")
    second = ft_server(port)
    eq(second.port, port, "the same port")
    wait(function() return reconnected end, 10000, "reconnected")
    local log = ask(c, "ctl:log")
    eq(#log, 20, "20 queued emits")
    for i = 1, 20 do eq(log[i], i, "queued emit " .. i) end
    for i = 1, 3 do cl[i]:close() end
    settle()
  end)
  if srv then srv.stop() end
  if second then second.stop() end
  assert(ok, err)
end)

test("fast-tcp: psk: the right key is served, a wrong one refused (401) and nothing delivered", function()
  local path = os.tmpname()
  os.remove(path)
  local url = "ipc://" .. path .. ".sock"
  local got = {}
  local srv = assert(weft.server { url = url, psk = ("k"):rep(32) })
  srv:on("connection", function(spark) spark:on("data", function(m) got[#got + 1] = m; spark:write(m) end) end)
  eq(echo_once(url, { n = 1 }, { psk = ("k"):rep(32) }).n, 1, "the right key")
  local c = assert(weft.client { url = url, psk = ("x"):rep(32) })
  local errs = {}
  c:on("error", function(e) errs[#errs + 1] = e end)
  c:write({ n = 2 })
  wait(function() return #errs > 0 end, 5000, "the refusal")
  eq(errs[1].status, 401, "refused with 401")
  c:close()
  local v, msg = weft.server { url = "tcp://127.0.0.1:0", psk = ("k"):rep(257) }
  eq(v, nil, "a key too long")
  assert(msg, "a message")
  eq(#got, 1, "only the right key's message delivered")
  srv:close()
  settle()
end)

-- The game loop ------------------------------------------------------------------------------

test("game loop: 100 clients x 60 ticks, every state in order, every input applied", function()
  local main = assert(loadfile(ROOT .. "/lua/examples/game_server.lua"))
  eq(main("--bots", "100", "--ticks", "60", "--tick-ms", "20"), true, "game example")
  settle()
end)

local ok = tap.run(IS54 and "lua5.4" or "luajit", weft.clock)
weft.run()
os.exit(ok and 0 or 1, true) -- close the state: the loop's __gc runs
