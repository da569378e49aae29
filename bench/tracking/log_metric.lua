-- wrk script: POST /api/2.0/mlflow/runs/log-metric, one distinct point per request.
-- Environment: BENCH_RUN_ID (required), BENCH_TS0 (base timestamp, ms).
-- Each wrk thread gets its own step range (thread_index * 1e9 + n), so every
-- request inserts a distinct row (run, key, timestamp, step, value).
-- done() prints one JSON line prefixed with "WRKJSON " for the driver.

local threads = {}
local counter = 1

function setup(thread)
  thread:set("tindex", #threads)
  table.insert(threads, thread)
end

local run_id, ts0, base
local hdrs = { ["Content-Type"] = "application/json" }

function init(args)
  run_id = os.getenv("BENCH_RUN_ID")
  ts0 = tonumber(os.getenv("BENCH_TS0") or "1700000000000")
  base = tindex * 1000000000
end

function request()
  local n = counter
  counter = counter + 1
  local step = base + n
  local body = string.format(
    '{"run_id":"%s","key":"loss","value":%.6f,"timestamp":%d,"step":%d}',
    run_id, 1.0 / (n + 1), ts0 + n, step)
  return wrk.format("POST", "/api/2.0/mlflow/runs/log-metric", hdrs, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"err_connect":%d,"err_read":%d,"err_write":%d,"err_status":%d,"err_timeout":%d,' ..
    '"lat_p50_us":%d,"lat_p90_us":%d,"lat_p99_us":%d,"lat_max_us":%d,"lat_mean_us":%.1f}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean))
end
