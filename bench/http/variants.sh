#!/bin/bash
# Slipway against Slipway: one build or set of server flags against another,
# back to back on the same machine, to tell apart what a change costs when
# the anchor's ratio cannot (the machine's noise is larger than the effect).
# One fresh store per call; wrk runs bench/tracking's log_metric.lua (8 s,
# 32 connections) and log_batch.lua (8 s, 4 connections, 1000 points).
#
# usage: bench/http/variants.sh LABEL BINARY [server flags...]
#   e.g. bench/http/variants.sh "sync normal" build/slipway --sync normal
# Run the variants in alternating rounds and compare means.
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
label=$1; bin=$2; shift 2
d=$(mktemp -d); port=$((20000 + RANDOM % 20000))
$bin server --host 127.0.0.1 --port $port --store sqlite:///$d/s.db --artifacts $d/a "$@" > $d/log 2>&1 &
pid=$!
for i in $(seq 50); do curl -s -o /dev/null http://127.0.0.1:$port/health && break; sleep 0.1; done
exp=$(curl -s -X POST -H 'Content-Type: application/json' -d '{"name":"ab"}' http://127.0.0.1:$port/api/2.0/mlflow/experiments/create | python3 -c 'import json,sys; print(json.load(sys.stdin)["experiment_id"])')
run() { curl -s -X POST -H 'Content-Type: application/json' -d "{\"experiment_id\":\"$exp\",\"start_time\":1}" http://127.0.0.1:$port/api/2.0/mlflow/runs/create | python3 -c 'import json,sys; print(json.load(sys.stdin)["run"]["info"]["run_id"])'; }
r1=$(run); r2=$(run)
m=$(BENCH_RUN_ID=$r1 wrk -t1 -c32 -d8s --timeout 10s -s $here/tracking/log_metric.lua http://127.0.0.1:$port | grep -o '"requests":[0-9]*\|"duration_us":[0-9]*' | tr '\n' ' ')
b=$(BENCH_RUN_ID=$r2 BENCH_BATCH=1000 wrk -t1 -c4 -d8s --timeout 10s -s $here/tracking/log_batch.lua http://127.0.0.1:$port | grep -o '"requests":[0-9]*\|"duration_us":[0-9]*' | tr '\n' ' ')
kill $pid; wait $pid 2>/dev/null
python3 - "$label" "$m" "$b" <<'PY'
import sys,re
label,m,b=sys.argv[1:4]
def rate(s):
    r=int(re.search(r'"requests":(\d+)',s).group(1)); d=int(re.search(r'"duration_us":(\d+)',s).group(1))
    return r/(d/1e6)
print(f"{label:40s} log-metric {rate(m):8.0f} req/s   log-batch {rate(b)*1000:9.0f} points/s")
PY
rm -rf $d
