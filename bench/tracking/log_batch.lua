-- wrk script: POST /api/2.0/mlflow/runs/log-batch with BENCH_BATCH metrics
-- (default 1000, MLflow's limit) per request, all key "loss" with distinct steps.
-- Environment: BENCH_RUN_ID (required), BENCH_TS0, BENCH_BATCH.
-- Thread t, request n, item i -> step = t*1e9 + n*BATCH + i (distinct rows).

local threads = {}
local counter = 0

function setup(thread)
  thread:set("tindex", #threads)
  table.insert(threads, thread)
end

local run_id, ts0, base, batch
local hdrs = { ["Content-Type"] = "application/json" }

function init(args)
  run_id = os.getenv("BENCH_RUN_ID")
  ts0 = tonumber(os.getenv("BENCH_TS0") or "1700000000000")
  batch = tonumber(os.getenv("BENCH_BATCH") or "1000")
  base = tindex * 1000000000
end

function request()
  local n = counter
  counter = counter + 1
  local parts = {}
  local s0 = base + n * batch
  for i = 1, batch do
    local step = s0 + i
    parts[i] = string.format('{"key":"loss","value":%.6f,"timestamp":%d,"step":%d}',
                             (i % 997) / 997.0, ts0 + n, step)
  end
  local body = '{"run_id":"' .. run_id .. '","metrics":[' .. table.concat(parts, ",") .. ']}'
  return wrk.format("POST", "/api/2.0/mlflow/runs/log-batch", hdrs, body)
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
