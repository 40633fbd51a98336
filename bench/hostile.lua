-- wrk script for bench/hostile.sh: every request is the same POST of a hostile body.
--
--   wrk -t2 -c16 -d10s -s bench/hostile.lua http://127.0.0.1:PORT -- BODY_FILE PATH [TOKEN]
--
-- done() prints one machine-readable line:
--   HOSTILE_RESULT requests=N rps=R p50_ms=.. p99_ms=.. max_ms=.. statuses=422:N,... errors=N
-- (errors: socket errors and timeouts; the statuses are counted apart)

local threads = {}

function setup(thread)
   table.insert(threads, thread)
end

statuses = {}
local req

function init(args)
   local f = assert(io.open(args[1], "rb"))
   local body = f:read("*a")
   f:close()
   local headers = { ["Content-Type"] = "application/json" }
   if args[3] then headers["Authorization"] = "Bearer " .. args[3] end
   req = wrk.format("POST", args[2], headers, body)
end

function request()
   return req
end

function response(status, headers, body)
   statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
   local counts = {}
   for _, thread in ipairs(threads) do
      for status, n in pairs(thread:get("statuses")) do
         counts[status] = (counts[status] or 0) + n
      end
   end
   local parts = {}
   for status, n in pairs(counts) do
      table.insert(parts, status .. ":" .. n)
   end
   local errors = summary.errors
   io.write(string.format(
      "HOSTILE_RESULT requests=%d rps=%.1f p50_ms=%.1f p99_ms=%.1f max_ms=%.1f statuses=%s errors=%d\n",
      summary.requests, summary.requests / (summary.duration / 1e6),
      latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
      table.concat(parts, ","),
      errors.connect + errors.read + errors.write + errors.timeout))
end
