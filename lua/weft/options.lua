-- The constructors' option tables, translated into the core's options by
-- name (weft.server_options(), weft.client_options(): the core's table,
-- checked there once) plus the options only Lua has. Also renders both as
-- Markdown for lua/README.md (lua/tests/test_parity.lua checks it).
local core = require "weft.core"

local M = {}

local TABLES = { server = core.server_options(), client = core.client_options() }
local BY_NAME = { server = {}, client = {} }
for kind, list in pairs(TABLES) do
  for _, o in ipairs(list) do BY_NAME[kind][o.name] = o end
end

-- Options only Lua has (the constructors handle them), and shapes that
-- translate into the core's options.
M.HOST = {
  server = {
    { "url", "string or list", "required",
      "one listener per URL: ws://, wss://, ws+unix:// (port 0 picks one)" },
    { "tls", "table", "nil", "{ cert = PEM file, key = PEM file }: tls_cert and tls_key" },
    { "authorize", "function", "nil", "fn(req) for every upgrade: see server:authorize" },
    { "id_generator", "function", "nil", "fn() --> a spark id (a string); else a random one" },
    { "plugins", "list", "{}", "plugin tables, in order: see Plugins and transforms" },
    { "handler_errors", "string", '"raise"',
      '"raise": poll() raises a handler\'s error; "close": the spark closes (1011) and its error event says why' },
    { "psk", "string", "nil", "a pre-shared key tcp:// and ipc:// clients must prove (weft's HMAC-SHA256 handshake)" },
    { "streams", "boolean", "false", "binary streams (needs emitter = true, else EINVAL): the \"stream\" event, spark:stream()" },
  },
  client = {
    { "url", "string", "required", "ws://, wss://, ws+unix:// (the path is the server's pathname)" },
    { "reconnect", "table", "nil", "{ min =, max =, retries =, factor = }: reconnect_min, reconnect_max, retries, factor" },
    { "manual", "boolean", "false", "true: connect only on client:open()" },
    { "plugins", "list", "{}", "plugin tables, in order: see Plugins and transforms" },
    { "psk", "string", "nil", "the pre-shared key a tcp:// or ipc:// server asks for (a wrong one: error, status 401)" },
    { "streams", "boolean or table", "false", "binary streams (needs emitter = true, else EINVAL): the \"stream\" event, client:stream(); { window = bytes } sets the writers' credit" },
  },
}
local HOST = { server = {}, client = {} }
for kind, rows in pairs(M.HOST) do
  for _, row in ipairs(rows) do HOST[kind][row[1]] = true end
end
-- emitter = { timeout = ms }, channels = { window = n }: the switch and its tuning
local TUNING = { emitter = { "timeout", "ack_timeout" }, channels = { "window", "channel_window" } }
local RECONNECT = { min = "reconnect_min", max = "reconnect_max", retries = "retries", factor = "factor" }

-- `level`: as error()'s, counted from the function that calls bad().
local function bad(msg, level) error("bad option " .. msg, level + 1) end

-- The user's table --> the core's options (name -> value) and the host's.
-- Unknown names and tables of the wrong shape raise.
local function translate(kind, user, level)
  local flat, host = {}, {}
  for k, v in pairs(user) do
    if type(k) ~= "string" then bad(("key %s (option names are strings)"):format(tostring(k)), level) end
    if TUNING[k] and type(v) == "table" then
      flat[k] = true
      flat[TUNING[k][2]] = v[TUNING[k][1]]
    elseif k == "batching" and type(v) == "boolean" then
      flat.batching = v and 16384 or 0
    elseif k == "tls" and kind == "server" then
      if type(v) ~= "table" then bad(("'tls' (a table { cert =, key = } expected, got %s)"):format(type(v)), level) end
      flat.tls_cert, flat.tls_key = v.cert, v.key
    elseif k == "reconnect" and kind == "client" then
      if type(v) ~= "table" then bad(("'reconnect' (a table expected, got %s)"):format(type(v)), level) end
      for field, name in pairs(RECONNECT) do flat[name] = v[field] end
    elseif HOST[kind][k] then
      host[k] = v
    elseif BY_NAME[kind][k] then
      flat[k] = v
    else
      bad(("'%s' (no such %s option; weft.%s_options() lists them)"):format(k, kind, kind), level)
    end
  end
  return flat, host
end

-- Sets the user's options on `handle` in the core's order. Returns the
-- host's options, or nil, message, name. Unknown names, tables of the wrong
-- shape and values of the wrong type raise, blaming the code `level` levels
-- up from apply() (as error()'s level).
function M.apply(handle, kind, user, level)
  local flat, host = translate(kind, user, level + 1)
  for _, o in ipairs(TABLES[kind]) do
    local v = flat[o.name]
    if v ~= nil then
      local ok, msg, name = handle:set_option(o.name, v)
      if not ok then
        if name == "ETYPE" then error("bad " .. msg, level) end
        if o.name == "transformer" and name == "EUNSUPPORTED" then
          msg = ("unknown transformer '%s' (available: %s)"):format(tostring(v),
            table.concat(core.transformers(), ", "))
        end
        return nil, msg, name
      end
    end
  end
  return host
end

-- Markdown: one table per kind, the core's options then Lua's.
local function cell(s) return (tostring(s):gsub("|", "\\|")) end

function M.markdown(kind)
  local out = { "| option | type | default | what |", "|---|---|---|---|" }
  for _, o in ipairs(TABLES[kind]) do
    local what = o.doc .. " (" .. o.expects .. ")"
    if o.fixed then what = what .. (kind == "server" and "; before listening" or "; before opening") end
    out[#out + 1] = ("| `%s` | %s | `%s` | %s |"):format(o.name, o.type, cell(o.default_json), cell(what))
  end
  for _, row in ipairs(M.HOST[kind]) do
    out[#out + 1] = ("| `%s` | %s | `%s` | %s (Lua) |"):format(row[1], row[2], cell(row[3]), cell(row[4]))
  end
  return table.concat(out, "\n") .. "\n"
end

return M
