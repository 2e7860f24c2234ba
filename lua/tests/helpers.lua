-- Shared by the Lua suites: bounded waits that drive the loop.
local weft = require "weft"
local M = {}

-- Polls until cond() is true; an error after `ms` (5000) names `what`.
function M.wait(cond, ms, what)
  local deadline = weft.clock() + (ms or 5000)
  while not cond() do
    if weft.clock() > deadline then error("timed out waiting for " .. (what or "a condition"), 2) end
    weft.poll(5)
  end
end

-- Polls until poll() raises (a handler's error, re-raised after the step);
-- returns that error, or nil after `ms` (5000).
function M.raised(ms)
  local deadline = weft.clock() + (ms or 5000)
  while weft.clock() < deadline do
    local ok, err = pcall(weft.poll, 5)
    if not ok then return err end
  end
end

-- Lets close handshakes finish so tests do not leak handles into each other.
function M.settle()
  local deadline = weft.clock() + 3000
  while weft.clock() < deadline and weft.timeout() ~= -1 do weft.poll(5) end
end

-- Waits (driving the loop) until the file at `path` holds a whole line, as
-- a child process writes it; returns what the file holds then.
function M.wait_line(path, ms, what)
  local text
  M.wait(function()
    local f = io.open(path)
    if f then
      text = f:read("*a")
      f:close()
    end
    return text and text:find("\n", 1, true)
  end, ms, what)
  return text
end

-- A new empty directory made by mkdtemp (`mktemp -d`), under /tmp so that
-- socket paths stay far below the 107-byte limit whatever TMPDIR says.
function M.mkdtemp()
  local h = assert(io.popen("mktemp -d /tmp/weft-lua.XXXXXX"))
  local dir = h:read("*l")
  h:close()
  assert(dir and dir:match("^/tmp/weft%-lua%.%w+$"), "mktemp -d failed")
  return dir
end

-- Whether anything (a socket file included) exists at `path`.
function M.exists(path) return os.rename(path, path) ~= nil end

-- Runs fn(dir) with a fresh temporary directory and removes the directory
-- afterwards, whatever fn did (then re-raises fn's error).
function M.with_tmpdir(fn)
  local dir = M.mkdtemp()
  local ok, err = xpcall(function() return fn(dir) end, debug.traceback)
  os.execute("rm -rf '" .. dir .. "'")
  assert(not M.exists(dir), "temporary directory left behind: " .. dir)
  if not ok then error(err, 0) end
end

return M
