-- wrk script: each request carries its own X-Forwarded-For (10.x.y.z), as
-- distinct clients behind a proxy would, for herd's --sticky-header; the
-- other headers (-H) stay.
local n = 0
request = function()
  n = n + 1
  local h = {}
  for k, v in pairs(wrk.headers) do h[k] = v end
  h["X-Forwarded-For"] = string.format("10.%d.%d.%d", math.floor(n / 65536) % 256, math.floor(n / 256) % 256, n % 256)
  return wrk.format(nil, nil, h)
end
