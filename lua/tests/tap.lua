-- A small TAP runner (Lua 5.1/LuaJIT and 5.4): tests are functions; a test
-- passes when it returns without raising. Prints TAP ("ok 1 - name") and
-- ends with the line "N passed, N failed". Each test's wall time (ms, from
-- `clock`) is printed; `only` (env WEFT_LUA_TEST) runs the tests whose name contains it.
local tap = { tests = {} }

function tap.test(name, fn) tap.tests[#tap.tests + 1] = { name = name, fn = fn } end

function tap.eq(a, b, what)
  if a ~= b then
    error(("%s: expected %s, got %s"):format(what or "value", tostring(b), tostring(a)), 2)
  end
end

function tap.run(label, clock)
  local only = os.getenv("WEFT_LUA_TEST")
  local passed, failed, n = 0, 0, 0
  clock = clock or function() return os.time() * 1000 end
  print("TAP version 13")
  for _, t in ipairs(tap.tests) do
    if not only or t.name:find(only, 1, true) then
      n = n + 1
      local t0 = clock()
      local ok, err = xpcall(t.fn, debug.traceback)
      if ok then
        passed = passed + 1
        print(("ok %d - %s # %.0f ms"):format(n, t.name, clock() - t0))
      else
        failed = failed + 1
        print(("not ok %d - %s"):format(n, t.name))
        for line in tostring(err):gmatch("[^\n]+") do print("# " .. line) end
      end
    end
  end
  print(("1..%d"):format(n))
  print(("%s: %d passed, %d failed"):format(label or "lua", passed, failed))
  return failed == 0 and n > 0
end

return tap
