-- What Lua has since issue #15 (items 4 and 6): authorize, plugins and
-- transforms on servers and clients, for_each, set_online, headers and
-- query enumeration, client:close() as destroy, client compression, the id
-- generator, the browser client and static files served, and what a
-- raising handler does (poll() raises it with its traceback, or
-- handler_errors = "close" closes that spark with 1011). Each with its bad
-- input. Real sockets on 127.0.0.1; HTTP and close codes come from a node
-- child (lua/tests/peer.js).
--
--   WEFT_ROOT=<repo> LUA_CPATH=... LUA_PATH=... lua5.4 test_parity.lua
local tap = require "tap"
local weft = require "weft"
local helpers = require "helpers"
local test, eq = tap.test, tap.eq
local wait, settle = helpers.wait, helpers.settle

local ROOT = os.getenv("WEFT_ROOT") or "."
local INTEROP = ROOT .. "/tests/interop"

local function url_of(srv, query) return "ws://127.0.0.1:" .. srv:port() .. "/primus" .. (query or "") end
local function http_of(srv, path) return "http://127.0.0.1:" .. srv:port() .. path end

local function server(opts)
  local o = { url = "ws://127.0.0.1:0/primus", ping_interval = 0 }
  for k, v in pairs(opts or {}) do o[k] = v end
  return weft.server(o)
end

local function echo(srv)
  srv:on("connection", function(sp) sp:on("data", function(m) sp:write(m) end) end)
  return srv
end

-- Runs lua/tests/peer.js MODE ARGS... while polling; returns its report.
local function peer(...)
  local f = io.open(INTEROP .. "/node_modules/ws/package.json")
  assert(f, "node and tests/interop/node_modules are required (bash scripts/deps.sh)")
  f:close()
  local args = {}
  for i, a in ipairs { ... } do args[i] = "'" .. a .. "'" end
  local out = os.tmpname()
  local h = io.popen(("NODE_PATH=%s/node_modules node %s/lua/tests/peer.js %s > %s 2>&1"):format(
    INTEROP, ROOT, table.concat(args, " "), out))
  local line = helpers.wait_line(out, 15000, "the node peer")
  h:close()
  os.remove(out)
  local report = assert(weft.decode(line, "json"))
  assert(not report.error, "node peer: " .. tostring(report.error))
  return report
end

local function raises(fn, pattern, what)
  local ok, err = pcall(fn)
  assert(not ok, what .. ": did not raise")
  assert(tostring(err):find(pattern, 1, true), what .. ": " .. tostring(err))
end

-- Authorization -------------------------------------------------------------

test("authorize: allowed, denied with status and message, answered later, raising; bad input", function()
  local later
  local srv = assert(server {
    authorize = function(req)
      local t = req:query("token")
      if t == "good" then return true end
      if t == "later" then
        later = req
        return
      end
      if t == "boom" then error("authorize boom") end
      return false, 403, "forbidden here"
    end,
  })
  echo(srv)
  local ok = assert(weft.client { url = url_of(srv, "?token=good") })
  local opened
  ok:on("open", function() opened = true end)
  wait(function() return opened end, 5000, "the allowed client")
  local bad = assert(weft.client { url = url_of(srv, "?token=bad") })
  local err, ended
  bad:on("error", function(e) err = e end)
  bad:on("end", function() ended = true end)
  wait(function() return err and ended end, 5000, "the denied client")
  eq(err.kind, "http", "kind")
  eq(err.status, 403, "status")
  assert(err.body:find("forbidden here", 1, true), err.body)
  -- answered later, from the loop
  local slow = assert(weft.client { url = url_of(srv, "?token=later") })
  local slow_open
  slow:on("open", function() slow_open = true end)
  wait(function() return later end, 5000, "the deferred request")
  eq(later:url():find("token=later", 1, true) ~= nil, true, "req:url()")
  assert(later:address(), "req:address()")
  assert(later:allow())
  local r, _, name = later:allow()
  eq(r, nil, "a second answer")
  eq(name, "ESTATE", "answered already")
  wait(function() return slow_open end, 5000, "the deferred client")
  -- a raising authorize: 500 for the client, the error raised by poll()
  local boom = assert(weft.client { url = url_of(srv, "?token=boom") })
  local boom_err
  boom:on("error", function(e) boom_err = e end)
  local raised = helpers.raised()
  assert(raised and tostring(raised):find("authorize boom", 1, true), tostring(raised))
  wait(function() return boom_err end, 5000, "the client of the raising authorize")
  eq(boom_err.status, 500, "raising: 500")
  eq(srv:count(), 2, "two sparks: good and later")
  for _, c in ipairs { ok, bad, slow, boom } do c:close() end
  srv:close()
  raises(function() server { authorize = 5 } end, "authorize", "authorize must be a function")
  settle()
end)

-- Plugins and transforms -------------------------------------------------------

test("server plugins: hooks in order, transforms in and out, drop and failure; bad input", function()
  local log = {}
  local greeter = {
    name = "greeter",
    init = function(s) log[#log + 1] = "init " .. tostring(s):sub(1, 11) end,
    connection = function(sp) sp:write { greeting = "hello" } end,
    disconnection = function() log[#log + 1] = "gone" end,
  }
  local srv = assert(server {
    plugins = {
      greeter,
      { incoming = function(_, m) if m == "drop" then return weft.drop end end },
      { incoming = function(_, m) if m == "fail" then return nil, "no fail" end end },
      { incoming = function(_, m) return { ["in"] = m } end },
      { outgoing = function(_, m) if type(m) == "table" and m.secret then return weft.drop end end },
      { outgoing = function(_, m) return { out = m } end },
    },
  })
  local got, errs = {}, {}
  srv:on("connection", function(sp) sp:on("data", function(m) got[#got + 1] = m; sp:write(m) end) end)
  srv:on("error", function(e) errs[#errs + 1] = e end)
  eq(srv:plugin("greeter"), greeter, "server:plugin(name)")
  eq(srv:plugin("nope"), nil, "no such plugin")
  eq(log[1], "init weft.server", "init with the server")
  local c = assert(weft.client { url = url_of(srv) })
  local back = {}
  c:on("data", function(m) back[#back + 1] = m end)
  for _, m in ipairs { "a", "drop", "fail", "b" } do c:write(m) end
  wait(function() return #back == 3 and #errs == 1 end, 5000, "greeting and two echoes")
  eq(back[1].out.greeting, "hello", "the plugin's greeting, through outgoing")
  eq(back[2].out["in"], "a", "in then out")
  eq(back[3].out["in"], "b", "order kept, drop and fail gone")
  eq(#got, 2, "the handler saw two")
  eq(errs[1].kind, "transform", "a failed transform is an error of kind transform")
  -- outgoing drop
  srv:for_each(function(sp) sp:write { secret = 1 } end)
  srv:write("after")
  wait(function() return #back == 4 end, 5000, "after the dropped write")
  eq(back[4].out, "after", "the secret never went out")
  c:close()
  wait(function() return log[2] == "gone" end, 5000, "disconnection hook")
  srv:close()
  raises(function() server { plugins = 5 } end, "plugins", "plugins must be a list")
  raises(function() server { plugins = { 5 } } end, "plugin #1", "a plugin must be a table")
  raises(function() server { plugins = { { incoming = 5 } } } end, "incoming must be a function", "hooks are functions")
  raises(function() server { plugins = { { name = 5 } } } end, "name must be a string", "names are strings")
  local r, _, name = server { plugins = { { name = "x" }, { name = "x" } } }
  eq(r, nil, "a name twice")
  assert(name, "a name twice has an error name")
  settle()
end)

test("client plugins: open hook, transforms in and out (the core's client_outgoing), drop, failure; bad input", function()
  local srv = assert(server {})
  local got = {}
  srv:on("connection", function(sp)
    sp:on("data", function(m)
      got[#got + 1] = m
      if m == "echo" or (type(m) == "table" and m.out == "echo") then sp:write("drop") sp:write("x") end
    end)
  end)
  local mine = { name = "mine", open = function(cl) cl:write { greeting = "hello" } end }
  local c = assert(weft.client {
    url = url_of(srv),
    plugins = {
      mine,
      { incoming = function(m) if m == "drop" then return weft.drop end end },
      { incoming = function(m) return { ["in"] = m } end },
      { outgoing = function(m) if m == "secret" then return weft.drop end end },
      { outgoing = function(m) if m == "refuse" then return nil, "refused here" end end },
      { outgoing = function(m) return { out = m } end },
    },
  })
  eq(c:plugin("mine"), mine, "client:plugin(name)")
  local back = {}
  c:on("data", function(m) back[#back + 1] = m end)
  wait(function() return #got == 1 end, 5000, "the open hook's greeting")
  eq(got[1].out.greeting, "hello", "the greeting went through outgoing")
  eq(c:write("secret"), true, "a dropped write is not an error")
  local r, _, name = c:write("refuse")
  eq(r, nil, "a failed outgoing transform fails the write")
  eq(name, "EINVAL", "its error")
  c:write("echo")
  wait(function() return #back == 1 end, 5000, "the server's answer")
  eq(back[1]["in"], "x", "incoming: drop then wrap")
  eq(#got, 2, "the secret never went out")
  c:close()
  srv:close()
  raises(function() weft.client { url = "ws://127.0.0.1:1/primus", plugins = { { open = true } } } end,
    "open must be a function", "client hooks are functions")
  settle()
end)

test("incoming_types: a plugin's incoming sees only the Lua types it names (the core skips it); bad input", function()
  local tables, strings, every, client_tables = {}, {}, {}, {}
  local srv = assert(server {
    plugins = {
      { incoming = function(_, m) tables[#tables + 1] = m; if m.swap then return "was a table" end end,
        incoming_types = { "table" } },
      { incoming = function(_, m) strings[#strings + 1] = m end, incoming_types = { "string", "string" } },
      { incoming = function(_, m) every[#every + 1] = m end },
    },
  })
  local got = {}
  srv:on("connection", function(sp) sp:on("data", function(m) got[#got + 1] = m end) end)
  local c = assert(weft.client {
    url = url_of(srv),
    plugins = { { incoming = function(m) client_tables[#client_tables + 1] = m end, incoming_types = { "table" } } },
  })
  local back = {}
  c:on("data", function(m) back[#back + 1] = m end)
  for _, m in ipairs { "a", { k = 1 }, 5, true, { swap = 1 }, 1.5 } do c:write(m) end
  wait(function() return #got == 6 end, 5000, "six messages")
  eq(#tables, 2, "the table plugin saw the two tables")
  eq(tables[1].k, 1, "the first table")
  eq(#strings, 2, "the string plugin saw the string and the replacement")
  eq(strings[1], "a", "the string")
  eq(strings[2], "was a table", "a replacement is matched by its own type")
  eq(#every, 6, "the plugin without types saw all")
  eq(got[5], "was a table", "replaced")
  srv:write("hi")
  srv:write { m = 2 }
  wait(function() return #back == 2 end, 5000, "two broadcasts")
  eq(#client_tables, 1, "the client's plugin saw the table only")
  eq(client_tables[1].m, 2, "the table")
  c:close()
  srv:close()
  raises(function() server { plugins = { { incoming = function() end, incoming_types = { "set" } } } } end,
    "incoming_types takes nil, boolean, number, string, table, not set", "an unknown type name")
  raises(function() server { plugins = { { incoming = function() end, incoming_types = "table" } } } end,
    "must be a list of type names", "a list")
  raises(function() server { plugins = { { incoming = function() end, incoming_types = {} } } } end,
    "is empty", "an empty list")
  raises(function() server { plugins = { { incoming_types = { "table" } } } } end,
    "without an incoming transform", "types without a transform")
  settle()
end)

-- Sparks: for_each, headers and query -------------------------------------------

test("for_each, spark:headers(), spark:query(); bad input", function()
  local srv = assert(server {})
  local cl = {}
  for i = 1, 3 do
    cl[i] = assert(weft.client { url = url_of(srv, "?n=" .. i .. "&team=red"), headers = { ["X-Player"] = "p" .. i } })
  end
  wait(function() return srv:count() == 3 end, 5000, "three sparks")
  local seen = {}
  eq(srv:for_each(function(sp)
    local h, q = sp:headers(), sp:query()
    seen[q.n] = h["x-player"]
    eq(q.team, "red", "query enumerated")
    assert(h.host and h["sec-websocket-key"], "every header, names in lower case")
  end), 3, "for_each called three times")
  for i = 1, 3 do eq(seen[tostring(i)], "p" .. i, "header of spark " .. i) end
  eq(srv:for_each(function() return false end), 1, "false stops")
  raises(function() srv:for_each(5) end, "function expected", "for_each needs a function")
  for i = 1, 3 do cl[i]:close() end
  srv:close()
  local r, _, name = srv:for_each(function() end)
  eq(r, nil, "for_each on a closed server")
  eq(name, "ECLOSED", "ECLOSED")
  settle()
end)

test("kept_headers, keep_url: the whole request at the connection event, then only what is kept", function()
  local srv = assert(server { kept_headers = { "X-Player" }, keep_url = false })
  local at_open
  srv:on("connection", function(sp) at_open = { sp:header("host"), sp:url() } end)
  local c = assert(weft.client { url = url_of(srv, "?n=1"), headers = { ["X-Player"] = "p1" } })
  wait(function() return srv:count() == 1 end, 5000, "a spark")
  eq(at_open[1] ~= nil and at_open[2]:sub(1, 11), "/primus?n=1", "the whole request at the connection event")
  srv:for_each(function(sp)
    local h = sp:headers()
    eq(h["x-player"], "p1", "the kept header")
    eq(h.host, nil, "another header is gone")
    eq(sp:url(), nil, "the URL is gone")
    eq(sp:query("n"), "1", "the query stays")
  end)
  c:close()
  srv:close()
  raises(function() assert(server { kept_headers = { "bad name" } }) end, "kept_headers", "a name with a space")
  raises(function() assert(server { kept_headers = "x" }) end, "kept_headers", "a string, not a list")
  settle()
end)

-- Clients: set_online, close as destroy, compression -------------------------------

test("client: set_online closes and reopens; close() destroys; compression both ways; bad input", function()
  local srv = echo(assert(server { compression = true }))
  local c = assert(weft.client { url = url_of(srv), compression = true, reconnect = { min = 50, max = 100 } })
  local ev = {}
  for _, e in ipairs { "open", "close", "online", "offline", "end" } do
    c:on(e, function() ev[#ev + 1] = e end)
  end
  local got
  c:on("data", function(m) got = m end)
  wait(function() return ev[1] == "open" end, 5000, "open")
  local big = ("compressible "):rep(2000)
  c:write(big)
  wait(function() return got end, 5000, "the compressed echo")
  eq(got, big, "echo through permessage-deflate")
  assert(c:set_online(false))
  wait(function() return srv:count() == 0 and #ev >= 3 end, 5000, "offline")
  eq(table.concat(ev, ","), "open,offline,close", "offline closes")
  weft.poll(200)
  eq(srv:count(), 0, "no retry while offline")
  assert(c:set_online(true))
  wait(function() return srv:count() == 1 and ev[#ev] == "open" end, 5000, "online again")
  eq(ev[4], "online", "online first")
  assert(c:close())
  wait(function() return ev[#ev] == "end" end, 5000, "end")
  local r, _, name = c:write("x")
  eq(r, nil, "write after close")
  eq(name, "ECLOSED", "ECLOSED after close")
  r, _, name = c:set_online(true)
  eq(name, "ECLOSED", "set_online after close")
  r, _, name = c:close()
  eq(name, "ECLOSED", "close twice")
  srv:close()
  raises(function() weft.client { url = "ws://127.0.0.1:1/primus", compression = "yes" } end, "compression",
    "compression must be a boolean")
  settle()
end)

-- Spark ids ---------------------------------------------------------------------------

test("id_generator: ids from Lua; a bad id or an error falls back to the core's; bad input", function()
  local n, mode = 0, "ok"
  local srv = assert(server {
    id_generator = function()
      n = n + 1
      if mode == "number" then return 42 end
      if mode == "raise" then error("id boom") end
      return "g-" .. n
    end,
  })
  local ids = {}
  srv:on("connection", function(sp) ids[#ids + 1] = sp:id() end)
  local a = assert(weft.client { url = url_of(srv) })
  wait(function() return #ids == 1 end, 5000, "first spark")
  eq(ids[1], "g-1", "the generator's id")
  mode = "number"
  local b = assert(weft.client { url = url_of(srv) })
  wait(function() return #ids == 2 end, 5000, "second spark")
  assert(#ids[2] > 8 and ids[2] ~= "42", "a non-string falls back: " .. ids[2])
  mode = "raise"
  local c = assert(weft.client { url = url_of(srv) })
  local raised = helpers.raised()
  assert(raised and tostring(raised):find("id boom", 1, true), tostring(raised))
  wait(function() return #ids == 3 end, 5000, "third spark")
  assert(#ids[3] > 8, "an error falls back")
  for _, x in ipairs { a, b, c } do x:close() end
  srv:close()
  raises(function() server { id_generator = "counter" } end, "id_generator", "must be a function")
  settle()
end)

-- HTTP: the browser client and static files -----------------------------------------------

test("the browser client at <pathname>/weft.js and /primus.js; client_library = false", function()
  local srv = assert(server {})
  local r = peer("get", http_of(srv, "/primus/weft.js"))
  eq(r.status, 200, "weft.js")
  assert(r.body:find("Weft", 1, true), "weft.js holds Weft")
  assert(r.type:find("javascript", 1, true), r.type)
  r = peer("get", http_of(srv, "/primus/primus.js"))
  eq(r.status, 200, "primus.js")
  assert(r.body:find("Primus", 1, true), "primus.js holds Primus")
  srv:close()
  local off = assert(server { client_library = false })
  r = peer("get", http_of(off, "/primus/weft.js"))
  assert(r.status ~= 200, "not served when off: " .. r.status)
  off:close()
  raises(function() server { client_library = "yes" } end, "client_library", "must be a boolean")
  settle()
end)

test("static files: static_dir and server:asset(); bad input", function()
  helpers.with_tmpdir(function(dir)
    local f = assert(io.open(dir .. "/index.html", "w"))
    f:write("<p>lua index</p>")
    f:close()
    local srv = assert(server { static_dir = dir })
    assert(srv:asset("/primus/hello.txt", "text/plain", "hello asset"))
    local r = peer("get", http_of(srv, "/"))
    eq(r.status, 200, "/ is index.html")
    assert(r.body:find("lua index", 1, true), r.body)
    r = peer("get", http_of(srv, "/primus/hello.txt"))
    eq(r.body, "hello asset", "the asset")
    eq(r.type, "text/plain", "its type")
    eq(peer("get", http_of(srv, "/missing.html")).status, 404, "missing file")
    local v, _, name = srv:asset("/primus/hello.txt", "text/plain", "again")
    eq(v, nil, "a path twice")
    eq(name, "EEXIST", "EEXIST")
    v, _, name = srv:asset("no-slash", "text/plain", "x")
    eq(name, "EINVAL", "a path without /")
    raises(function() srv:asset("/x") end, "bad argument", "asset needs type and data")
    srv:close()
    v, _, name = server { static_dir = dir .. "/nope" }
    eq(v, nil, "a folder that does not exist")
    eq(name, "ENOENT", "ENOENT")
    settle()
  end)
end)

-- Handler errors (issue #15, item 6) -------------------------------------------------------

test('handler_errors = "close": the spark closes 1011, its error event has the traceback', function()
  local srv = assert(server { handler_errors = "close" })
  local function failing_handler(m)
    if m == "boom" then error("data boom") end
  end
  local errs, ends = {}, 0
  srv:on("connection", function(sp)
    sp:on("data", function(m)
      failing_handler(m)
      sp:write(m)
    end)
    sp:on("error", function(e) errs[#errs + 1] = e end)
    sp:on("end", function() ends = ends + 1 end)
  end)
  local r = peer("close", url_of(srv), '"boom"')
  eq(r.code, 1011, "closed with 1011")
  eq(#r.messages, 0, "no primus::server::close: the client may reconnect")
  wait(function() return #errs == 1 and ends == 1 end, 5000, "the error event, then end")
  eq(errs[1].kind, "handler", "kind handler")
  assert(errs[1].message:find("data boom", 1, true), errs[1].message)
  assert(errs[1].message:find("failing_handler", 1, true), "traceback: " .. errs[1].message)
  assert(tostring(errs[1].error):find("data boom", 1, true), "what was raised")
  -- poll() did not raise, and another spark is fine
  local c = assert(weft.client { url = url_of(srv) })
  local got
  c:on("data", function(m) got = m end)
  c:write("fine")
  wait(function() return got end, 5000, "an echo on another spark")
  eq(got, "fine", "the server goes on")
  c:close()
  srv:close()
  settle()
end)

test('handler_errors = "close" without an error handler: closed, and poll() raises; bad input', function()
  local srv = assert(server { handler_errors = "close" })
  srv:on("connection", function(sp) sp:on("data", function() error("unheard boom") end) end)
  local c = assert(weft.client { url = url_of(srv), reconnect = { min = 2000, max = 3000 } })
  local closed
  c:on("close", function() closed = true end)
  c:on("open", function() c:write("x") end)
  local raised = helpers.raised()
  assert(raised and tostring(raised):find("unheard boom", 1, true), tostring(raised))
  assert(tostring(raised):find("stack traceback", 1, true), "with its traceback")
  wait(function() return closed end, 5000, "the spark closed")
  c:close()
  srv:close()
  local v, msg, name = server { handler_errors = "sometimes" }
  eq(v, nil, "an unknown mode")
  eq(name, "ERANGE", "ERANGE")
  assert(msg:find("raise", 1, true), msg)
  raises(function() server { handler_errors = true } end, "handler_errors", "must be a string")
  settle()
end)

-- Docs ------------------------------------------------------------------------------------

test("README: the options tables are the core's (weft.server_options(), client_options()) and Lua's", function()
  local f = assert(io.open(ROOT .. "/lua/README.md"))
  local text = f:read("*a")
  f:close()
  local options = require "weft.options"
  for _, kind in ipairs { "server", "client" } do
    local head = "<!-- options: " .. kind .. " (generated from the core table: lua/tests/test_parity.lua checks it) -->\n"
    local s = text:find(head, 1, true)
    assert(s, "README has no " .. kind .. " options table")
    local e = text:find("<!-- end of " .. kind .. " options -->", s, true)
    eq(text:sub(s + #head, e - 1), options.markdown(kind),
      kind .. " options in lua/README.md (regenerate: weft.options.markdown)")
  end
  eq(#weft.server_options() > 20, true, "the core's server table")
end)

local ok = tap.run((math.type and "lua5.4" or "luajit") .. "-parity", weft.clock)
os.exit(ok and 0 or 1, true)
