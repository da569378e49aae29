-- wrk script for bench/serving: POST the same body on every request.
-- Environment: BENCH_BODY_FILE (the request body), BENCH_PATH (default
-- /invocations), BENCH_CONTENT_TYPE (default application/json), BENCH_HEADER
-- (optional, one more header).
-- done() prints one JSON line prefixed with "WRKJSON " for the driver: counts,
-- errors by kind and wrk's latency distribution (microseconds).

local path = os.getenv("BENCH_PATH") or "/invocations"
local ctype = os.getenv("BENCH_CONTENT_TYPE") or "application/json"
local f = assert(io.open(os.getenv("BENCH_BODY_FILE"), "rb"))
local body = f:read("*a")
f:close()

wrk.method = "POST"
wrk.path = path
wrk.body = body
wrk.headers["Content-Type"] = ctype
-- BENCH_HEADER: one more "Name: value" header (the binary tensor extension's
-- Inference-Header-Content-Length).
local extra = os.getenv("BENCH_HEADER")
if extra then
  local name, value = extra:match("^([^:]+):%s*(.*)$")
  wrk.headers[name] = value
end

-- Requests are all alike, so wrk builds the request once (no request()
-- function): the load generator spends its core on sending, not on Lua.

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"err_connect":%d,"err_read":%d,"err_write":%d,"err_status":%d,"err_timeout":%d,' ..
    '"lat_p50_us":%d,"lat_p75_us":%d,"lat_p90_us":%d,"lat_p99_us":%d,"lat_p999_us":%d,' ..
    '"lat_max_us":%d,"lat_mean_us":%.1f,"lat_stdev_us":%.1f}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(75), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9),
    latency.max, latency.mean, latency.stdev))
end
