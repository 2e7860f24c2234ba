-- The conformance driver of the Lua host (tests/conformance/README.md):
-- weft servers and clients through `require "weft"` (lua/README.md), driven
-- by weft.poll(), controlled by JSON lines on stdin and reporting JSON lines
-- on stdout. Every event comes from a Lua handler of the module's API.
--
-- Lua's io cannot wait on a pipe and the network at once, so the runner
-- hands this driver a regular file as stdin and appends commands to it: a
-- read at its end returns nil (no command yet), and the loop polls.
local weft = require "weft"

local CAPS = {
  "server", "client", "values", "values.int64.json", "values.float", "parser.msgpack",
  "parser.raw", "emitter", "rooms", "rooms.client", "channels", "batching", "queue", "drain",
  "origins", "trusted_proxies", "compression", "client.manual", "client.id", "client.headers",
  "client.emitter", "client.channels", "client.batching", "client.max_length", "client.http_status",
}
local SAFE = 9007199254740991
local TAGS = { ["$int"] = true, ["$float"] = true, ["$bin"] = true, ["$map"] = true }
local null = weft.null

local function out(ev)
  io.stdout:write(assert(weft.encode(ev, "json")), "\n")
  io.stdout:flush()
end

-- ---- base64 -------------------------------------------------------------
local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
local function b64encode(s)
  local parts = {}
  for i = 1, #s, 3 do
    local a, b, c = s:byte(i, i + 2)
    local n = (a << 16) | ((b or 0) << 8) | (c or 0)
    parts[#parts + 1] = B64:sub((n >> 18) + 1, (n >> 18) + 1) .. B64:sub(((n >> 12) & 63) + 1, ((n >> 12) & 63) + 1)
      .. (b and B64:sub(((n >> 6) & 63) + 1, ((n >> 6) & 63) + 1) or "=")
      .. (c and B64:sub((n & 63) + 1, (n & 63) + 1) or "=")
  end
  return table.concat(parts)
end
local function b64decode(s)
  local parts, acc, bits = {}, 0, 0
  for ch in s:gsub("=", ""):gmatch(".") do
    acc = (acc << 6) | (B64:find(ch, 1, true) - 1)
    bits = bits + 6
    if bits >= 8 then
      bits = bits - 8
      parts[#parts + 1] = string.char((acc >> bits) & 255)
    end
  end
  return table.concat(parts)
end

-- ---- values (README.md "Values") --------------------------------------
local function native(w)
  if type(w) ~= "table" then
    if math.type(w) == "float" and w == math.floor(w) and math.abs(w) <= SAFE then return math.tointeger(w) end
    return w
  end
  local k, v = next(w)
  if k ~= nil and next(w, k) == nil and TAGS[k] then
    if k == "$int" then return math.tointeger(tonumber(v)) end
    if k == "$float" then
      local f = ({ NaN = 0 / 0, Infinity = math.huge, ["-Infinity"] = -math.huge, ["-0"] = -0.0 })[v]
      return f or tonumber(v) * 1.0
    end
    if k == "$bin" then return b64decode(v) end
    local m = weft.map()
    for _, pair in ipairs(v) do m[native(pair[1])] = native(pair[2]) end
    return m
  end
  local mt = getmetatable(w)
  local t = (mt and mt.__weft == "array") and weft.array() or ((mt and mt.__weft == "map") and weft.map() or {})
  for key, val in pairs(w) do t[key] = native(val) end
  return t
end

local function float_text(d)
  if d ~= d then return "NaN" end
  if d == math.huge then return "Infinity" end
  if d == -math.huge then return "-Infinity" end
  if d == 0 then return 1 / d < 0 and "-0" or "0" end
  return string.format("%.17g", d)
end

local function is_array(t)
  local mt = getmetatable(t)
  if mt and mt.__weft then return mt.__weft == "array" end
  local n = #t
  if n == 0 then return false end
  local count = 0
  for _ in pairs(t) do count = count + 1 end
  return count == n
end

local function wire(v)
  if v == nil or v == null then return null end
  local tv = type(v)
  if tv == "boolean" then return v end
  if tv == "number" then
    if math.type(v) == "integer" then
      return (v >= -SAFE and v <= SAFE) and v or { ["$int"] = tostring(v) }
    end
    if v == v and v ~= math.huge and v ~= -math.huge and v ~= math.floor(v) then return v end
    return { ["$float"] = float_text(v) }
  end
  if tv == "string" then return utf8.len(v) and v or { ["$bin"] = b64encode(v) } end
  if is_array(v) then
    local a = weft.array()
    for i = 1, #v do a[i] = wire(v[i]) end
    return a
  end
  local plain, count = true, 0
  for k in pairs(v) do
    count = count + 1
    if type(k) ~= "string" or not utf8.len(k) then plain = false end
  end
  local k1 = next(v)
  if count == 1 and TAGS[k1] then plain = false end
  if plain then
    local m = weft.map()
    for k, x in pairs(v) do m[k] = wire(x) end
    return m
  end
  local pairs_ = weft.array()
  for k, x in pairs(v) do pairs_[#pairs_ + 1] = weft.array { wire(k), wire(x) } end
  return { ["$map"] = pairs_ }
end

-- ---- state ----------------------------------------------------------------
local servers, sparks, clients, channels, replies = {}, {}, {}, {}, {}
local next_reply = 0

local function cap(what) error({ code = "ECAP", message = "the Lua host cannot " .. what }, 0) end
local function check(ok, msg, name)
  if ok == nil then error({ code = name or "EINVAL", message = msg }, 0) end
  return ok
end

-- The handler of event `name`: fn(spark, reply, args...) on a server,
-- fn(reply, args...) on a client; reply is nil when no answer is wanted.
local function handler(about, name, with_spark)
  return function(...)
    local args = table.pack(...)
    local first, ev = 1, { ev = "event" }
    for k, v in pairs(about) do ev[k] = v end
    if with_spark then
      ev.spark = args[1]:id()
      first = 2
    end
    local reply = args[first]
    local list = weft.array()
    for i = first + 1, args.n do list[#list + 1] = wire(args[i]) end
    ev.name, ev.args = name, list
    if reply then
      next_reply = next_reply + 1
      ev.reply = "r" .. next_reply
      replies[ev.reply] = reply
    end
    out(ev)
  end
end

local function watch_channel(ch, owner, spark_id)
  local base = { channel = ch:name() }
  for k, v in pairs(owner) do base[k] = v end
  if spark_id then base.spark = spark_id end
  channels[(owner.server or owner.client) .. "|" .. (spark_id or "") .. "|" .. ch:name()] = ch
  local function ev(name, extra)
    local e = { ev = name }
    for k, v in pairs(base) do e[k] = v end
    for k, v in pairs(extra or {}) do e[k] = v end
    out(e)
  end
  ch:on("data", function(v) ev("channel_data", { value = wire(v) }) end)
  ch:on("end", function() ev("channel_end") end)
  ch:on("drain", function() ev("channel_drain") end)
  return ch
end

-- ---- commands ---------------------------------------------------------------
local C = {}

function C.serve(c)
  local o = c.options or {}
  for _, k in ipairs { "authorize", "transforms", "plugins", "id_generator", "static_dir", "asset", "serve_client" } do
    if o[k] ~= nil then cap(k) end
  end
  local name = c.server
  local opts = { url = c.url or "ws://127.0.0.1:0/primus" }
  for _, k in ipairs { "parser", "transformer", "ping_interval", "max_length", "compression", "high_water_mark",
                       "max_queue", "queue_policy", "origins", "trusted_proxies", "batching", "rooms" } do
    if o[k] ~= nil then opts[k] = o[k] end
  end
  -- The protocol's rooms imply the emitter (clients' join requests travel as
  -- events), as Node's and Python's options do; Lua's rooms do not.
  if o.emitter or o.rooms then opts.emitter = o.ack_timeout and { timeout = o.ack_timeout } or true end
  if o.channels then opts.channels = o.channel_window and { window = o.channel_window } or true end
  local s = check(weft.server(opts))
  servers[name] = s
  local about = { server = name }
  s:on("connection", function(sp)
    local id = sp:id()
    sparks[name .. "|" .. id] = sp
    out { ev = "connection", server = name, spark = id }
    sp:on("data", function(v)
      out { ev = "data", server = name, spark = id, value = wire(v) }
      if o.echo then sp:write(v) end
    end)
    sp:on("drain", function() out { ev = "drain", server = name, spark = id } end)
  end)
  s:on("disconnection", function(sp) out { ev = "disconnection", server = name, spark = sp:id() } end)
  s:on("error", function(err, sp)
    out { ev = "error", server = name, spark = sp and sp:id() or nil, code = err.name, kind = err.kind }
  end)
  s:on("close", function() out { ev = "close", server = name } end)
  for _, e in ipairs(o.events or {}) do s:handle(e, handler(about, e, true)) end
  if o.channels then
    s:on("channel", function(ch, sp)
      watch_channel(ch, about, sp:id())
      out { ev = "channel", server = name, spark = sp:id(), channel = ch:name() }
    end)
  end
  if o.rooms_policy then
    local prefix = o.rooms_policy.allow_prefix
    s:rooms_policy(function(_, room) return room:sub(1, #prefix) == prefix end)
  end
  out { ev = "listening", server = name, url = s:url() }
  return { url = s:url() }
end

function C.connect(c)
  local o = c.options or {}
  for _, k in ipairs { "transforms", "plugins", "compression" } do
    if o[k] ~= nil then cap("client " .. k) end
  end
  local name = c.client
  local opts = { url = c.url }
  for _, k in ipairs { "parser", "transformer", "timeout", "ping_timeout", "reconnect", "strategy", "retry_refused",
                       "max_length", "queue_limit", "headers", "manual", "batching" } do
    if o[k] ~= nil then opts[k] = o[k] end
  end
  if o.emitter then opts.emitter = o.ack_timeout and { timeout = o.ack_timeout } or true end
  if o.channels then opts.channels = o.channel_window and { window = o.channel_window } or true end
  local cl = check(weft.client(opts))
  clients[name] = cl
  for _, e in ipairs { "open", "close", "end", "timeout", "online", "offline" } do
    cl:on(e, function() out { ev = e, client = name } end)
  end
  cl:on("data", function(v) out { ev = "data", client = name, value = wire(v) } end)
  cl:on("id", function(id) out { ev = "id", client = name, id = id } end)
  cl:on("error", function(err)
    out { ev = "error", client = name, code = err.name, kind = err.kind, status = err.status, body = err.body }
  end)
  for _, e in ipairs { "reconnect scheduled", "reconnect", "reconnected", "reconnect failed", "reconnect timeout" } do
    cl:on(e, function(i)
      out { ev = e:gsub(" ", "_"), client = name, attempt = i.attempt, retries = i.retries, delay = i.delay }
    end)
  end
  for _, e in ipairs(o.events or {}) do cl:handle(e, handler({ client = name }, e, false)) end
  if o.channels then
    cl:on("channel", function(ch)
      watch_channel(ch, { client = name })
      out { ev = "channel", client = name, channel = ch:name() }
    end)
  end
  return {}
end

local function spark(c)
  return check(sparks[c.server .. "|" .. c.spark], "no spark " .. tostring(c.spark))
end
local function target(c)
  if c.server then return spark(c) end
  return check(clients[c.client], "no client " .. tostring(c.client))
end
local function channel(c)
  local owner = c.server and { server = c.server } or { client = c.client }
  local key = (c.server or c.client) .. "|" .. (c.spark or "") .. "|" .. c.channel
  local ch = channels[key]
  if not ch or not ch:is_open() then ch = watch_channel(check(target(c):channel(c.channel)), owner, c.spark) end
  return ch
end

local function ack(ref)
  return function(err, value)
    if not err then return out { ev = "ack", ref = ref, status = "resolved", value = wire(value) } end
    local status = ({ EREJECTED = "rejected", ETIMEDOUT = "timeout", ECLOSED = "closed" })[err.name] or err.name
    out { ev = "ack", ref = ref, status = status, value = status == "rejected" and wire(err.reason) or nil }
  end
end

local function unpack_args(list)
  local args = {}
  for i, v in ipairs(list or {}) do args[i] = native(v) end
  return args, #(list or {})
end

function C.close(c) check(servers[c.server]:close { reconnect = c.reconnect or false, timeout = c.timeout }) end
function C.open(c) check(target(c):open()) end
function C.destroy() cap("destroy a client (client:close() ends it)") end
function C.set_online() cap("set_online") end
function C.client_id(c) check(target(c):id()) end
function C.write(c)
  local r = check(target(c):write(native(c.value)))
  if c.server then return { below = r } end
end
function C.write_many(c)
  local t = target(c)
  for _, v in ipairs(c.values) do check(t:write(native(v))) end
end
function C.broadcast(c) return { count = check(servers[c.server]:write(native(c.value))) } end
function C.flood(c)
  local sp, payload, writes, full = spark(c), string.rep("x", c.size), 0, false
  while writes < c.max do
    writes = writes + 1
    local r, _, name = sp:write(payload)
    if r == nil then return { writes = writes, full = true, code = name } end
    if r == false then
      full = true
      if c["until"] ~= "error" then break end
    end
  end
  return { writes = writes, full = full }
end
C["end"] = function(c)
  local v = c.value ~= nil and native(c.value) or nil
  if c.server then check(spark(c):close(v, { reconnect = c.reconnect or false }))
  else check(target(c):close(v)) end
end
function C.spark_info(c)
  if c.all then cap("enumerate a spark's headers and query (by name only)") end
  local sp = spark(c)
  local headers, query = weft.map(), weft.map()
  for _, h in ipairs(c.headers or {}) do headers[h] = sp:header(h) end
  for _, q in ipairs(c.query or {}) do query[q] = sp:query(q) end
  return { spark = check(sp:id()), address = check(sp:address()), headers = headers, query = query }
end
function C.emit(c)
  local t = target(c)
  local args, n = unpack_args(c.args)
  if c.ack then
    args[n + 1] = ack(c.ref)
    if c.timeout then args[n + 2] = { timeout = c.timeout } end
  end
  return { below = check(t:emit(c.event, table.unpack(args, 1, c.ack and (c.timeout and n + 2 or n + 1) or n))) }
end
function C.emit_all(c)
  local args, n = unpack_args(c.args)
  return { count = check(servers[c.server]:emit(c.event, table.unpack(args, 1, n))) }
end
function C.reply(c)
  local r = check(replies[c.reply], "no reply " .. tostring(c.reply))
  replies[c.reply] = nil
  if c.resolve ~= nil then check(r:resolve(native(c.resolve))) else check(r:reject(native(c.reject))) end
end
function C.join(c) check(spark(c):join(c.room)) end
function C.leave(c) check(spark(c):leave(c.room)) end
function C.client_join(c)
  local cl = target(c)
  local done = ack(c.ref)
  local fn = function(err) done(err, null) end
  if c.leave then check(cl:leave(c.room, fn)) else check(cl:join(c.room, fn)) end
end
local function selection(c)
  return servers[c.server]:to(table.unpack(c.rooms)):except(c.except or {})
end
function C.room_write(c) return { count = check(selection(c):write(native(c.value))) } end
function C.room_emit(c)
  local args, n = unpack_args(c.args)
  return { count = check(selection(c):emit(c.event, table.unpack(args, 1, n))) }
end
function C.channel_open(c) channel(c) end
function C.channel_write(c) return { queued = not check(channel(c):write(native(c.value))) } end
function C.channel_end(c) check(channel(c):close()) end
function C.channel_pause(c) check(channel(c):pause()) end
function C.channel_resume(c) check(channel(c):resume()) end

local running = true
function C.quit()
  running = false
  for _, s in pairs(servers) do s:close { timeout = 200 } end
  for _, cl in pairs(clients) do cl:close() end
end

local function handle(line)
  -- Values are converted where a command uses them (native(c.value), …).
  local c = assert(weft.decode(line, "json"))
  local fn = C[c.cmd]
  local ok, r = pcall(function()
    if not fn then cap("run " .. tostring(c.cmd)) end
    return fn(c)
  end)
  local reply = type(r) == "table" and ok and r or {}
  if ok then
    reply.id, reply.ok = c.id, true
  else
    reply = { id = c.id, ok = false, code = type(r) == "table" and r.code or "EDRIVER",
              message = type(r) == "table" and r.message or tostring(r) }
  end
  out(reply)
end

out { ev = "hello", protocol = 1, host = "lua", caps = CAPS, pid = 0 }
local pending = ""
local quit_at
while true do
  local ok, err = pcall(weft.poll, 5)
  if not ok then out { ev = "driver_error", message = tostring(err) } end
  while running do
    local chunk = io.stdin:read("L")
    if not chunk then break end
    pending = pending .. chunk
    if pending:sub(-1) == "\n" then
      handle(pending)
      pending = ""
    end
  end
  if not running then
    quit_at = quit_at or weft.clock() + 500
    if weft.timeout() < 0 or weft.clock() > quit_at then break end
  end
end
os.exit(0)
