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

return M
