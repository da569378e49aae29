-- wrk script for bench/replicas: POST /api/2.0/mlflow/runs/log-metric, one
-- distinct point per request, spread over several runs in turn (many
-- clients, each logging to a run of its own), unlike
-- bench/tracking/log_metric.lua's single run.
-- Environment: BENCH_RUN_IDS (comma-separated run ids, required).
-- done() prints one JSON line prefixed with "WRKJSON " for the driver.

local runs = {}
local counter = 0
local hdrs = { ["Content-Type"] = "application/json" }

function init(args)
  for id in string.gmatch(os.getenv("BENCH_RUN_IDS"), "[^,]+") do
    table.insert(runs, id)
  end
end

function request()
  counter = counter + 1
  local run_id = runs[(counter % #runs) + 1]
  local body = string.format(
    '{"run_id":"%s","key":"loss","value":%.6f,"timestamp":%d,"step":%d}',
    run_id, 1.0 / (counter + 1), 1700000000000 + counter, counter)
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
