-- wrk script: each request is a random line of a file of pre-made requests,
--   METHOD <tab> PATH <tab> BEARER TOKEN [<tab> JSON BODY]
--
--   wrk -t2 -c16 -d10s -s bench/wrk/requests.lua http://127.0.0.1:8080 -- REQUESTS_FILE
--
-- Lines are formatted once at start-up (wrk shares the two cores with the server). done()
-- prints one line: BENCH_RESULT requests=N rps=R p50_ms=.. p90_ms=.. p99_ms=.. non2xx=N
-- (non2xx counted in response(), per thread, then summed).

local threads = {}

function setup(thread)
   table.insert(threads, thread)
   thread:set("tid", #threads)
end

non2xx = 0
first_bad = ""
local reqs = {}
local nreqs = 0

function init(args)
   local path = args[1] or os.getenv("REQUESTS_FILE")
   local f = assert(io.open(path, "r"))
   for line in f:lines() do
      local method, target, token, body = line:match("^(%S+)\t(%S+)\t(%S+)\t?(.*)$")
      if method then
         local headers = { ["Authorization"] = "Bearer " .. token }
         if body == "" then
            body = nil
         else
            headers["Content-Type"] = "application/json"
         end
         nreqs = nreqs + 1
         reqs[nreqs] = wrk.format(method, target, headers, body)
      end
   end
   f:close()
   if nreqs == 0 then error("requests.lua: no requests in " .. path) end
   math.randomseed(os.time() * 7919 + (tid or 0) * 104729)
end

function request()
   return reqs[math.random(nreqs)]
end

function response(status, headers, body)
   if status < 200 or status > 299 then
      non2xx = non2xx + 1
      if first_bad == "" then first_bad = tostring(status) .. " " .. (body or ""):sub(1, 200) end
   end
end

function done(summary, latency, requests)
   local bad, first = 0, ""
   for _, t in ipairs(threads) do
      bad = bad + (t:get("non2xx") or 0)
      local fb = t:get("first_bad")
      if first == "" and fb and fb ~= "" then first = fb end
   end
   local secs = summary.duration / 1e6
   io.write(string.format(
      "BENCH_RESULT requests=%d rps=%.1f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f non2xx=%d\n",
      summary.requests, summary.requests / secs, latency:percentile(50) / 1000,
      latency:percentile(90) / 1000, latency:percentile(99) / 1000, bad))
   if first ~= "" then io.stderr:write("first non-2xx: " .. first .. "\n") end
end
