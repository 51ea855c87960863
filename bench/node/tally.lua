-- wrk script: counts responses by body ("hello PID") in each thread and
-- prints "tally BODY COUNT" lines at the end.
local threads = {}
setup = function(thread) table.insert(threads, thread) end
counts = {}
response = function(status, headers, body)
  counts[body] = (counts[body] or 0) + 1
end
done = function(summary, latency, requests)
  local all = {}
  for _, t in ipairs(threads) do
    for body, n in pairs(t:get("counts")) do all[body] = (all[body] or 0) + n end
  end
  for body, n in pairs(all) do io.write(string.format("tally %s\t%d\n", body, n)) end
end
