#!/usr/bin/env python3
"""Side-by-side model-serving benchmark: `slipway serve` vs `mlflow models serve`,
MLServer, BentoML, nginx (the HTTP limit) and in-process XGBoost (the compute limit).

One command trains the issue's model once (XGBoost binary classifier, 100
trees, depth 6, 30 features, seeded), saves it with mlflow.xgboost.save_model,
then starts each server in turn on 127.0.0.1 (one at a time: the machine has
2 shared cores) and measures, on the same machine and the same bodies:

  start  seconds from process start to the first 200 from POST /invocations
         (median of --start-repeats starts)
  (a)    single-row dataframe_split requests/s, wrk, 32 connections, with wrk's
         latency distribution
  (b)    rows/s in 1000-row requests, wrk, --batch-conns connections
  (b2)   the same for Slipway with the rows as one OIP v2 FP32 tensor in Triton's
         binary extension (what tritonclient.http sends with binary_data=True)
  (c)    latency at half of the server's own peak (a) rate, open loop
         (openloop.c: requests due on a fixed schedule, latency counted from
         when each was due, so a stall is charged to every request it delays)
  ref    in-process Booster.inplace_predict rows/s on the same 1000-row batch
         and the same cores (the reference limit for (b))

then prints the table and the ratios issue 11 asks for, and with --record
appends them with the command to bench/RESULTS.md. See bench/README.md.
"""

import argparse
import datetime
import http.client
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
BENCH_DIR = os.path.dirname(HERE)
REPO = os.path.dirname(BENCH_DIR)

def _tracking_bench():
    """bench/tracking/run.py, loaded by path (this file is also named run.py)."""
    import importlib.util
    sys.path.insert(0, os.path.join(BENCH_DIR, "tracking"))
    spec = importlib.util.spec_from_file_location("tracking_run",
                                                  os.path.join(BENCH_DIR, "tracking", "run.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


_t = _tracking_bench()
Server, free_port, loadavg, machine = _t.Server, _t.free_port, _t.loadavg, _t.machine

# Run (and shown) in this order: Slipway next to its two references, nginx and
# inplace_predict, so the ratios to them come from the closest moments of the run.
SERVERS = ("nginx", "slipway", "inplace", "mlflow", "mlserver", "bentoml")
MODEL_NAME = "xgb"  # MLServer's model name (its URL is /v2/models/xgb/infer)

FULL = dict(seconds=15, warmup=3, start_repeats=3)
QUICK = dict(seconds=4, warmup=1, start_repeats=1)

# Each anchor's own venv under --venvs (created if missing, not timed). MLServer
# 1.7.1's inference workers call asyncio.get_event_loop() in a fresh process,
# which uvloop >= 0.22 refuses; xgboost's scikit-learn classes need sklearn.
VENVS = {
    "mlserver": (["mlserver==1.7.1", "mlserver-xgboost==1.7.1", "xgboost==3.2.0",
                  "scikit-learn==1.9.1", "uvloop<0.22"],
                 "import mlserver, mlserver_xgboost, sklearn", "mlserver"),
    "bentoml": (["bentoml==1.4.40", "xgboost==3.2.0", "scikit-learn==1.9.1", "pandas==3.1.1"],
                "import bentoml, xgboost, sklearn, pandas", "bentoml"),
}


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------- set-up


def ensure_venv(path, pins, probe):
    """Creates a venv with the pinned packages if it has none; returns (python, error)."""
    py = os.path.join(path, "bin", "python")
    if os.path.exists(py):
        p = subprocess.run([py, "-c", probe], capture_output=True, text=True)
        if p.returncode == 0:
            return py, None
    log(f"venv: creating {path} with {' '.join(pins)} (not timed) ...")
    for cmd in ([sys.executable, "-m", "venv", path],
                [os.path.join(path, "bin", "pip"), "install", "-q", *pins]):
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode != 0:
            err = (p.stderr or p.stdout).strip().splitlines()[-4:]
            return None, f"`{' '.join(cmd)}` failed ({p.returncode}): {' | '.join(err)}"
    p = subprocess.run([py, "-c", probe], capture_output=True, text=True)
    if p.returncode != 0:
        return None, f"import check failed: {p.stderr.strip().splitlines()[-1:]}"
    return py, None


def pkg_version(py, dist):
    p = subprocess.run([py, "-c", f"import importlib.metadata as m; print(m.version('{dist}'))"],
                       capture_output=True, text=True)
    return p.stdout.strip() if p.returncode == 0 else "not installed"


def prepare_model(work, batch_rows, seed):
    """Trains and saves the model once per work dir (reused when the parameters match)."""
    out = os.path.join(work, "model-data")
    meta_path = os.path.join(out, "meta.json")
    if os.path.exists(meta_path):
        with open(meta_path) as f:
            meta = json.load(f)
        if meta.get("batch_rows") == batch_rows and meta.get("seed") == seed:
            log(f"model: reusing {out}")
            return out, meta
    os.makedirs(out, exist_ok=True)
    log("model: training XGBoost (100 trees, depth 6, 30 features) and saving it with "
        "mlflow.xgboost.save_model ...")
    p = subprocess.run([sys.executable, os.path.join(HERE, "model.py"), "train", "--out", out,
                        "--seed", str(seed), "--batch-rows", str(batch_rows)],
                       capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"training failed: {p.stderr[-2000:]}")
    with open(meta_path) as f:
        return out, json.load(f)


def build_openloop(work):
    exe = os.path.join(work, "openloop")
    src = os.path.join(HERE, "openloop.c")
    if not os.path.exists(exe) or os.path.getmtime(exe) < os.path.getmtime(src):
        cc = shutil.which("cc") or shutil.which("gcc")
        if not cc:
            sys.exit("no C compiler (cc) to build bench/serving/openloop.c")
        subprocess.run([cc, "-O2", "-Wall", "-Wextra", "-o", exe, src], check=True)
    return exe


def snapshot_slipway(args, work):
    """Copies the Slipway binary into the work dir (a build may replace it while
    the run goes on) and records its source, build time and sha256."""
    import hashlib
    args.slipway_src = args.slipway
    if not os.path.isfile(args.slipway):
        return
    copy = os.path.join(work, "slipway-under-test")
    shutil.copy2(args.slipway, copy)
    with open(copy, "rb") as f:
        args.slipway_sha = hashlib.sha256(f.read()).hexdigest()[:16]
    args.slipway_mtime = datetime.datetime.utcfromtimestamp(
        os.path.getmtime(args.slipway)).strftime("%Y-%m-%d %H:%M UTC")
    args.slipway = copy
    log(f"slipway: {args.slipway_src} (built {args.slipway_mtime}, sha256 "
        f"{args.slipway_sha}...) copied to {copy}")


# ----------------------------------------------------------------------------- servers


class ModelServer(Server):
    """One model server (and its process group). The process-tree helpers
    (pids, cpu_seconds, peak_rss_mb, settle, stop) come from the tracking bench."""

    def __init__(self, kind, sdir, args, data, meta):
        super().__init__(kind, sdir, args)
        self.data = data
        self.meta = meta
        self.model_dir = os.path.join(data, "model")
        v2 = kind == "mlserver"
        self.path = f"/v2/models/{MODEL_NAME}/infer" if v2 else "/invocations"
        prefix = "v2" if v2 else "split"
        self.body1 = os.path.join(data, f"{prefix}-1.json")
        self.body_batch = os.path.join(data, f"{prefix}-{meta['batch_rows']}.json")
        self.env = dict(os.environ)
        if args.omp_wait_policy != "default":
            self.env["OMP_WAIT_POLICY"] = args.omp_wait_policy
        self.cwd = sdir
        self.setup()

    def setup(self):
        d, w = self.dir, self.args.workers
        if self.kind == "nginx":
            os.makedirs(os.path.join(d, "tmp"), exist_ok=True)
            tmp = os.path.join(d, "tmp")
            with open(os.path.join(d, "nginx.conf"), "w") as f:
                f.write(f"""daemon off;
worker_processes {w};
pid {d}/nginx.pid;
error_log {d}/error.log;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  keepalive_requests 100000000;
  client_body_temp_path {tmp};
  proxy_temp_path {tmp};
  fastcgi_temp_path {tmp};
  uwsgi_temp_path {tmp};
  scgi_temp_path {tmp};
  server {{
    listen 127.0.0.1:{self.port};
    location / {{ default_type application/json; return 200 '{{"predictions": [1]}}'; }}
  }}
}}
""")
        elif self.kind == "mlserver":
            with open(os.path.join(d, "settings.json"), "w") as f:
                json.dump(dict(host="127.0.0.1", http_port=self.port, grpc_port=free_port(),
                               metrics_port=free_port(), parallel_workers=w), f)
            with open(os.path.join(d, "model-settings.json"), "w") as f:
                json.dump(dict(name=MODEL_NAME, implementation="mlserver_xgboost.XGBoostModel",
                               parameters=dict(uri=os.path.join(self.model_dir,
                                                                self.meta["model_file"]))), f)
        elif self.kind == "bentoml":
            self.env.update(BENTOML_DO_NOT_TRACK="True", BENCH_WORKERS=str(w),
                            BENCH_MODEL_FILE=os.path.join(self.model_dir,
                                                          self.meta["model_file"]))

    def command(self):
        p, w, a = str(self.port), str(self.args.workers), self.args
        if self.kind == "mlflow":
            cmd = ["mlflow", "models", "serve", "-m", self.model_dir, "--env-manager", "local",
                   "--host", "127.0.0.1", "--port", p, "--workers", w]
        elif self.kind == "slipway":
            cmd = [a.slipway, "serve", self.model_dir, "--port", p] + a.slipway_args.split()
        elif self.kind == "nginx":
            cmd = ["nginx", "-p", self.dir, "-c", os.path.join(self.dir, "nginx.conf"),
                   "-e", os.path.join(self.dir, "error.log")]
        elif self.kind == "mlserver":
            cmd = [os.path.join(a.venv_bin["mlserver"], "mlserver"), "start", self.dir]
        elif self.kind == "bentoml":
            cmd = [os.path.join(a.venv_bin["bentoml"], "bentoml"), "serve",
                   "bento_service:XgbService", "--working-dir", HERE, "--host", "127.0.0.1",
                   "--port", p]
        else:
            raise ValueError(self.kind)
        return a.server_prefix + cmd

    def stop(self):
        """Stops the process group and waits until none of it is left, so the
        next start finds its ports free (MLServer's metrics server kept one)."""
        pgid = self.proc.pid if self.proc is not None else None
        super().stop()
        if pgid is None:
            return
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                os.killpg(pgid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def post(self, body_file, timeout=30):
        with open(body_file, "rb") as f:
            body = f.read()
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            c.request("POST", self.path, body=body, headers={"Content-Type": "application/json"})
            r = c.getresponse()
            return r.status, r.read()
        finally:
            c.close()

    def start(self, timeout=180):
        """Starts the process; returns seconds from spawn to the first 200 on
        POST /invocations (/v2/.../infer for MLServer) with the single-row body.
        Polled every 10 ms, a fresh connection each time."""
        logf = open(os.path.join(self.dir, f"{self.kind}.log"), "ab")
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(self.command(), stdout=logf, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True,
                                     cwd=self.cwd, env=self.env)
        logf.close()
        last = None
        while time.perf_counter() - t0 < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.kind} exited with {self.proc.returncode} at start; "
                                   f"see {self.dir}/{self.kind}.log")
            try:
                status, out = self.post(self.body1, timeout=5)
                if status == 200:
                    return time.perf_counter() - t0
                last = f"HTTP {status}: {out[:200]!r}"
            except OSError as e:
                last = str(e)
            time.sleep(0.01)
        self.stop()
        raise RuntimeError(f"{self.kind} did not answer within {timeout}s (last: {last})")


# ----------------------------------------------------------------------------- load


def wrk(srv, body_file, conns, seconds, args, path=None, extra_env=None):
    cmd = args.load_prefix + [
        "wrk", f"-t{args.wrk_threads}", f"-c{conns}", f"-d{seconds}s", "--timeout", "10s",
        "-s", os.path.join(HERE, "post.lua"), f"http://127.0.0.1:{srv.port}"]
    env = dict(os.environ, BENCH_BODY_FILE=body_file, BENCH_PATH=path or srv.path,
               **(extra_env or {}))
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=seconds + 120)
    line = [x for x in p.stdout.splitlines() if x.startswith("WRKJSON ")]
    if p.returncode != 0 or not line:
        raise RuntimeError(f"wrk failed ({p.returncode}): {p.stdout[-800:]} {p.stderr[-800:]}")
    r = json.loads(line[0][8:])
    r["errors"] = sum(r[k] for k in ("err_connect", "err_read", "err_write", "err_status",
                                     "err_timeout"))
    r["ok"] = r["requests"] - r["err_status"]
    r["secs"] = r["duration_us"] / 1e6
    r["rps"] = r["ok"] / r["secs"]
    shown_env = " ".join(f"{k}='{v}'" for k, v in (extra_env or {}).items())
    r["command"] = (shown_env + " " if shown_env else "") + " ".join(cmd[len(args.load_prefix):]).replace(
        f"127.0.0.1:{srv.port}", "127.0.0.1:PORT").replace(REPO + "/", "")
    return r


def openloop(srv, body_file, rate, seconds, args):
    # The generator runs at a higher priority when it may (root): it sleeps
    # between due times and needs the CPU only briefly, but when the
    # server's threads hold both shared cores a starved generator sends late,
    # and that lateness would be charged to the server.
    boost = ["nice", "-n", "-10"] if os.geteuid() == 0 else []
    cmd = boost + args.load_prefix + [args.openloop, "127.0.0.1", str(srv.port), srv.path,
                              "application/json", body_file, f"{rate:.1f}", str(seconds),
                              str(args.conns), "1"]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 120)
    line = [x for x in p.stdout.splitlines() if x.startswith("OPENLOOP ")]
    if p.returncode != 0 or not line:
        raise RuntimeError(f"openloop failed ({p.returncode}): {p.stdout[-500:]} "
                           f"{p.stderr[-500:]}")
    r = json.loads(line[0][9:])
    r["errors"] = r["bad_status"] + r["sock_errors"]
    return r


def predictions(kind, raw):
    """The numbers a server answered, flattened."""
    d = json.loads(raw)
    if kind == "mlserver":
        vals = d["outputs"][0]["data"]
    else:
        vals = d["predictions"] if isinstance(d, dict) else d
    flat = []

    def walk(v):
        if isinstance(v, list):
            for x in v:
                walk(x)
        elif isinstance(v, dict):
            for x in v.values():
                walk(x)
        else:
            flat.append(float(v))
    walk(vals)
    return flat


def verify(srv, data):
    """POSTs the batch body and compares the answer with the in-process model's:
    class labels exactly (what mlflow's pyfunc answers), or probabilities to 1e-6."""
    with open(os.path.join(data, "expected.json")) as f:
        exp = json.load(f)
    status, raw = srv.post(srv.body_batch, timeout=120)
    if status != 200:
        return f"MISMATCH: HTTP {status}: {raw[:300]!r}"
    got = predictions(srv.kind, raw)
    n = len(exp["labels"])
    if len(got) != n:
        return f"MISMATCH: {len(got)} predictions for {n} rows"
    if all(g == e for g, e in zip(got, exp["labels"])):
        return f"ok: {n} class labels equal to in-process XGBClassifier.predict"
    diff = max(abs(g - e) for g, e in zip(got, exp["proba"]))
    if diff <= 1e-6:
        return (f"ok: {n} probabilities within {diff:.1e} of in-process "
                f"XGBClassifier.predict_proba")
    return f"MISMATCH: neither labels nor probabilities (max |diff| vs proba {diff:.3g})"


# ----------------------------------------------------------------------------- one server


def bench_server(kind, args, cfg, data, meta, out, only_single=False, floor_rate=None):
    sdir = os.path.join(args.work, kind)
    os.makedirs(sdir, exist_ok=True)
    out["errors"] = []
    starts = []
    srv = None
    try:
        for i in range(cfg["start_repeats"]):
            if srv is not None:
                srv.stop()
            # A new server object per start: fresh ports (and config files).
            srv = ModelServer(kind, sdir, args, data, meta)
            out["command"] = " ".join(srv.command()).replace(str(srv.port), "PORT").replace(
                REPO + "/", "")
            starts.append(srv.start())
            log(f"  start {i + 1}/{cfg['start_repeats']}: first answer after "
                f"{starts[-1]:.2f}s")
        out["start_s"] = statistics.median(starts)
        out["start_all_s"] = starts
        waited = srv.settle()
        out["processes"] = len(srv.pids())
        log(f"  idle after {waited:.1f}s more, {out['processes']} process(es)")
        if kind != "nginx":
            out["verify"] = verify(srv, data)
            log(f"  verify: {out['verify']}")
        out["load_before"] = loadavg()
        cpu0 = srv.cpu_seconds()[0]

        def attempt(name, fn):
            try:
                fn()
            except Exception as e:  # noqa: BLE001 - recorded in the results
                out["errors"].append(f"{name}: {type(e).__name__}: {e}")
                log(f"  FAILED {name}: {e}")

        def single():
            wrk(srv, srv.body1, args.conns, cfg["warmup"], args)  # warm-up, discarded
            c0 = srv.cpu_seconds()[0]
            r = wrk(srv, srv.body1, args.conns, cfg["seconds"], args)
            r["server_cpu_s"] = srv.cpu_seconds()[0] - c0
            out["single"] = r
            log(f"  (a) single-row: {r['rps']:.0f} req/s, p50 {r['lat_p50_us'] / 1000:.2f} ms, "
                f"p99 {r['lat_p99_us'] / 1000:.2f} ms, errors {r['errors']}")

        def batch():
            wrk(srv, srv.body_batch, args.batch_conns, cfg["warmup"], args)
            r = wrk(srv, srv.body_batch, args.batch_conns, cfg["seconds"], args)
            r["rows_per_s"] = r["rps"] * meta["batch_rows"]
            out["batch"] = r
            log(f"  (b) {meta['batch_rows']}-row: {r['rows_per_s']:.0f} rows/s "
                f"({r['rps']:.1f} req/s), p99 {r['lat_p99_us'] / 1000:.1f} ms, "
                f"errors {r['errors']}")

        def binary():
            # Slipway only: the same rows as an OIP v2 FP32 tensor in Triton's
            # binary extension (no number parsing at all).
            body = os.path.join(data, f"v2bin-{meta['batch_rows']}.bin")
            extra = dict(BENCH_CONTENT_TYPE="application/octet-stream",
                         BENCH_HEADER="Inference-Header-Content-Length: %d"
                         % meta["v2bin_header_bytes"])
            path = "/v2/models/model/infer"
            wrk(srv, body, args.batch_conns, cfg["warmup"], args, path, extra)
            r = wrk(srv, body, args.batch_conns, cfg["seconds"], args, path, extra)
            if r["ok"] != r["requests"]:
                raise RuntimeError(f"{r['requests'] - r['ok']} binary requests failed")
            r["rows_per_s"] = r["rps"] * meta["batch_rows"]
            out["batch_binary"] = r
            log(f"  (b2) {meta['batch_rows']}-row binary tensors: {r['rows_per_s']:.0f} rows/s, "
                f"p99 {r['lat_p99_us'] / 1000:.1f} ms, errors {r['errors']}")

        def half():
            rate = out["single"]["rps"] / 2
            r = openloop(srv, srv.body1, rate, cfg["seconds"], args)
            out["half"] = r
            log(f"  (c) open loop at {rate:.0f} req/s: achieved {r['achieved_rate']:.0f}, p50 "
                f"{r['lat_p50_us'] / 1000:.2f} ms, p99 {r['lat_p99_us'] / 1000:.2f} ms, "
                f"p99.9 {r['lat_p999_us'] / 1000:.2f} ms (due -> sent p99 "
                f"{r['send_delay_p99_us'] / 1000:.2f} ms), errors {r['errors']}")

        attempt("single-row", single)
        if not only_single:
            attempt("batch", batch)
            if kind == "slipway":
                attempt("batch-binary", binary)
        if "single" in out and not only_single:
            attempt("half-peak", half)
        if floor_rate:
            # The same open-loop schedule Slipway got, against nginx's fixed
            # 200: the latency this machine and generator add at that rate
            # whatever the server (the floor under Slipway's p99).
            def floor():
                r = openloop(srv, srv.body1, floor_rate, cfg["seconds"], args)
                out["floor"] = r
                log(f"  (c) open loop at slipway's rate {floor_rate:.0f} req/s: p99 "
                    f"{r['lat_p99_us'] / 1000:.2f} ms (due -> sent p99 "
                    f"{r['send_delay_p99_us'] / 1000:.2f} ms), errors {r['errors']}")
            attempt("floor", floor)
        out["load_after"] = loadavg()
        out["cpu_s"] = srv.cpu_seconds()[0] - cpu0
        rss = srv.peak_rss_mb()
        out["rss"] = dict(sum_mb=rss[0], max_proc_mb=rss[1], processes=rss[2])
    finally:
        if srv is not None:
            srv.stop()


def bench_inplace(args, cfg, data, out):
    """In-process reference, run twice: with OpenMP's default (active) wait
    policy and with OMP_WAIT_POLICY=passive; on shared, loaded cores the
    spinning of the default can cost a 1-caller nthread=2 loop most of its
    speed. The reference is the best figure of all (the strictest bar)."""
    out["load_before"] = loadavg()
    runs = {}
    for policy in ("default", "passive"):
        env = dict(os.environ)
        if policy == "passive":
            env["OMP_WAIT_POLICY"] = "passive"
        cmd = args.server_prefix + [sys.executable, os.path.join(HERE, "model.py"), "inplace",
                                    "--out", data, "--seconds", str(cfg["seconds"] / 2),
                                    "--threads", str(args.cores)]
        p = subprocess.run(cmd, capture_output=True, text=True, env=env,
                           timeout=cfg["seconds"] * 3 + 120)
        if p.returncode != 0:
            raise RuntimeError(f"inplace_predict failed: {p.stderr[-800:]}")
        runs[policy] = json.loads(p.stdout.strip().splitlines()[-1])
        r = runs[policy]
        log(f"  OMP {policy}: one caller nthread={args.cores}: "
            f"{r['one_caller_rows_per_s']:.0f} rows/s; {args.cores} callers nthread=1: "
            f"{r['callers_rows_per_s']:.0f} rows/s; single-row calls "
            f"{r['single_row_calls_per_s']:.0f}/s; max |diff| {r['max_abs_diff_vs_expected']:.1e}")
    out["runs"] = runs
    best = max(runs.values(), key=lambda r: r["rows_per_s"])
    out["rows_per_s"] = best["rows_per_s"]
    out["single_row_calls_per_s"] = max(r["single_row_calls_per_s"] for r in runs.values())
    out["command"] = " ".join(["python3"] + cmd[len(args.server_prefix) + 1:]).replace(
        REPO + "/", "")
    out["load_after"] = loadavg()


# ----------------------------------------------------------------------------- report


def get(res, kind, *keys):
    try:
        v = res[kind]
        for k in keys:
            v = v[k]
        return v
    except (KeyError, TypeError):
        return None


def fmt(v, f):
    return "n/a" if v is None else f.format(v)


def table(res, meta, args):
    shown = [k for k in SERVERS if k in res]
    br = meta["batch_rows"]
    rows = [
        ("start to first answer, s (median)", lambda k: get(res, k, "start_s"), "{:.2f}"),
        (f"(a) single-row req/s ({args.conns} conns)", lambda k: get(res, k, "single", "rps"),
         "{:.0f}"),
        ("(a) latency p50 ms", lambda k: ms(get(res, k, "single", "lat_p50_us")), "{:.2f}"),
        ("(a) latency p90 ms", lambda k: ms(get(res, k, "single", "lat_p90_us")), "{:.2f}"),
        ("(a) latency p99 ms", lambda k: ms(get(res, k, "single", "lat_p99_us")), "{:.2f}"),
        ("(a) latency p99.9 ms", lambda k: ms(get(res, k, "single", "lat_p999_us")), "{:.2f}"),
        ("(a) latency max ms", lambda k: ms(get(res, k, "single", "lat_max_us")), "{:.2f}"),
        (f"(b) rows/s, {br}-row requests ({args.batch_conns} conns)",
         lambda k: get(res, k, "batch", "rows_per_s") if k != "inplace"
         else get(res, k, "rows_per_s"), "{:.0f}"),
        (f"(b) {br}-row request p50 ms", lambda k: ms(get(res, k, "batch", "lat_p50_us")),
         "{:.1f}"),
        (f"(b) {br}-row request p99 ms", lambda k: ms(get(res, k, "batch", "lat_p99_us")),
         "{:.1f}"),
        (f"(b2) rows/s, {br}-row OIP v2 binary FP32 tensors ({args.batch_conns} conns)",
         lambda k: get(res, k, "batch_binary", "rows_per_s"), "{:.0f}"),
        ("(c) open-loop rate = half own peak, req/s",
         lambda k: get(res, k, "half", "target_rate"), "{:.0f}"),
        ("(c) latency p50 ms", lambda k: ms(get(res, k, "half", "lat_p50_us")), "{:.2f}"),
        ("(c) latency p99 ms", lambda k: ms(get(res, k, "half", "lat_p99_us")), "{:.2f}"),
        ("(c) latency p99.9 ms", lambda k: ms(get(res, k, "half", "lat_p999_us")), "{:.2f}"),
        ("(c) due -> sent p99 ms (no idle conn, or generator starved)",
         lambda k: ms(get(res, k, "half", "send_delay_p99_us")), "{:.2f}"),
        ("(a) server CPU per request, us", lambda k: cpu_per_req(res, k), "{:.0f}"),
        ("peak RSS MB (process tree)", lambda k: get(res, k, "rss", "sum_mb"), "{:.0f}"),
    ]
    head = ["measure"] + [("inplace_predict" if k == "inplace" else k) for k in shown]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for label, fn, f in rows:
        lines.append("| " + " | ".join([label] + [fmt(fn(k), f) for k in shown]) + " |")
    return "\n".join(lines)


def ms(us):
    return None if us is None else us / 1000


def cpu_per_req(res, k):
    """Server process-tree CPU (user+sys, 10 ms ticks) during (a) per request:
    what a request costs the server, whatever else shared the cores."""
    cpu, n = get(res, k, "single", "server_cpu_s"), get(res, k, "single", "requests")
    return None if cpu is None or not n else cpu / n * 1e6


def ratios(res, meta):
    out = []
    s = get(res, "slipway", "single", "rps")

    def r(a, b):
        return None if a is None or b is None or not b else a / b
    for anchor in ("mlflow", "mlserver", "bentoml"):
        x = r(s, get(res, anchor, "single", "rps"))
        goal = " (issue 11: at least 100x)" if anchor == "mlflow" else ""
        out.append(f"- single-row req/s, slipway / {anchor}: "
                   f"{'n/a' if x is None else f'{x:.1f}x'}{goal}")
    ng = [v for v in (get(res, "nginx", "single", "rps"), get(res, "nginx_after", "single", "rps"))
          if v]
    x = r(s, statistics.mean(ng) if ng else None)
    both = (f" (nginx {ng[0]:.0f} before and {ng[1]:.0f} req/s right after slipway; "
            f"their mean)" if len(ng) == 2 else "")
    out.append(f"- single-row req/s, slipway as % of nginx's fixed 200 (the HTTP limit): "
               f"{'n/a' if x is None else f'{100 * x:.0f}%'}{both} (issue 11: at least 40%)")
    x = r(get(res, "slipway", "batch", "rows_per_s"), get(res, "inplace", "rows_per_s"))
    out.append(f"- rows/s in {meta['batch_rows']}-row requests, slipway as % of in-process "
               f"inplace_predict: {'n/a' if x is None else f'{100 * x:.0f}%'} "
               f"(issue 11: at least 100%)")
    x = r(get(res, "slipway", "batch_binary", "rows_per_s"), get(res, "inplace", "rows_per_s"))
    out.append(f"- rows/s in {meta['batch_rows']}-row requests as OIP v2 binary tensors, slipway "
               f"as % of in-process inplace_predict: {'n/a' if x is None else f'{100 * x:.0f}%'}")
    x = r(get(res, "slipway", "batch", "rows_per_s"), get(res, "mlflow", "batch", "rows_per_s"))
    out.append(f"- rows/s in {meta['batch_rows']}-row requests, slipway / mlflow: "
               f"{'n/a' if x is None else f'{x:.1f}x'}")
    p99 = ms(get(res, "slipway", "half", "lat_p99_us"))
    rate = get(res, "slipway", "half", "target_rate")
    out.append(f"- p99 latency at half of slipway's peak "
               f"({'n/a' if rate is None else f'{rate:.0f} req/s'}, open loop): "
               f"{'n/a' if p99 is None else f'{p99:.2f} ms'} (issue 11: under 2 ms)")
    floor = ms(get(res, "nginx_after", "floor", "lat_p99_us"))
    if floor is not None:
        out.append(f"- p99 of nginx's fixed 200 on the same open-loop schedule (what the machine "
                   f"and the generator add at that rate): {floor:.2f} ms")
    a, b = get(res, "slipway", "start_s"), get(res, "mlflow", "start_s")
    out.append(f"- start to first answer: slipway {fmt(a, '{:.2f} s')} (issue 11: under 1 s), "
               f"mlflow models serve {fmt(b, '{:.2f} s')}"
               + ("" if a is None or b is None else f", {b / a:.0f}x sooner"))
    return "\n".join(out)


def notes(res, args):
    out = []
    for k in SERVERS + ("nginx_after",):
        r = res.get(k)
        if r is None:
            continue
        if r.get("skipped"):
            out.append(f"- {k}: skipped: {r['skipped']}")
            continue
        if r.get("error"):
            out.append(f"- {k}: FAILED: {r['error']}")
        for e in r.get("errors", []):
            out.append(f"- {k}: FAILED {e}")
        if k == "inplace":
            for pol, x in r.get("runs", {}).items():
                out.append(f"- inplace_predict, OMP wait policy {pol}: one caller nthread="
                           f"{x['threads']} {x['one_caller_rows_per_s']:.0f} rows/s, "
                           f"{x['threads']} callers nthread=1 {x['callers_rows_per_s']:.0f} "
                           f"rows/s, single-row calls {x['single_row_calls_per_s']:.0f}/s, "
                           f"max |diff| vs expected {x['max_abs_diff_vs_expected']:.1e}")
            if "command" in r:
                out.append(f"- inplace_predict (load {r.get('load_before')} -> "
                           f"{r.get('load_after')}): `{r['command']}`")
            continue
        if "verify" in r:
            out.append(f"- {k} answers: {r['verify']}")
        for w in ("single", "batch", "batch_binary"):
            if w in r:
                x = r[w]
                out.append(f"- {k} {w}: {x['requests']} responses in {x['secs']:.1f}s, "
                           f"{x['errors']} errors (status {x['err_status']}, timeout "
                           f"{x['err_timeout']}, connect {x['err_connect']}, read "
                           f"{x['err_read']}, write {x['err_write']}): `{x['command']}`")
        if "half" in r:
            x = r["half"]
            out.append(f"- {k} open loop: {x['scheduled']} requests due at "
                       f"{x['target_rate']:.0f}/s over {x['seconds']:.0f}s on {x['conns']} "
                       f"conns, {x['ok']} answered 2xx, {x['errors']} errors, most due and "
                       f"unsent at once {x['max_queue']}, server time p50/p99 "
                       f"{x['svc_p50_us'] / 1000:.2f}/{x['svc_p99_us'] / 1000:.2f} ms")
        if "start_all_s" in r:
            out.append(f"- {k} starts (s): {', '.join(f'{v:.2f}' for v in r['start_all_s'])}; "
                       f"{r.get('processes', '?')} process(es) when idle")
        if "command" in r:
            out.append(f"- {k} server (load {r.get('load_before', '?')} -> "
                       f"{r.get('load_after', '?')}): `{r['command']}`")
    return "\n".join(out)


def slipway_threads(args):
    """What `slipway serve` ran with: the extra arguments given, and its defaults
    for threads, I/O threads and the access log as its --help states them."""
    given = args.slipway_args.strip()
    try:
        p = subprocess.run([args.slipway, "serve", "--help"], capture_output=True, text=True,
                           timeout=30)
        helptext = p.stdout
    except (OSError, subprocess.TimeoutExpired):
        helptext = ""
    import re
    d = {k: (re.search(rf"--{k} INT[^=]*=(\d+)", helptext) or [None, "?"])[1]
         for k in ("threads", "io-threads")}
    io = d["io-threads"] + (" (one per core it may use)" if d["io-threads"] == "0" else "")
    defaults = f"defaults --threads {d['threads']} --io-threads {io}"
    if not given:
        return f"its {defaults}, access log on (to a file)"
    return f"`{given}` on top of its {defaults}"


def threads_line(args):
    pin = ("not pinned: server and load generator share both cores" if args.pin == "none" else
           f"server (and inplace_predict) pinned to CPU {args.server_cpus}, load generators "
           f"to CPU {args.load_cpus} (taskset)")
    boost = " at nice -10" if os.geteuid() == 0 else ""
    return (f"threads: wrk -t{args.wrk_threads}; openloop 1 thread{boost}; mlflow --workers "
            f"{args.workers}; MLServer parallel_workers {args.workers} (one uvicorn HTTP "
            f"process in front); BentoML workers {args.workers}; nginx worker_processes "
            f"{args.workers}; slipway: {slipway_threads(args)}; "
            f"inplace_predict nthread={args.cores} / {args.cores} callers; {pin}; "
            f"OMP_WAIT_POLICY for every server: {args.omp_wait_policy}")


def versions(args):
    v = []
    for name, cmd in (("mlflow", ["mlflow", "--version"]), ("nginx", ["nginx", "-v"]),
                      ("wrk", ["wrk", "-v"])):
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
            v.append((p.stdout + p.stderr).strip().splitlines()[0])
        except (OSError, IndexError, subprocess.TimeoutExpired):
            v.append(f"{name} not available")
    v.append(f"xgboost {pkg_version(sys.executable, 'xgboost')}")
    for kind, (_, _, dist) in VENVS.items():
        py = args.venv_py.get(kind)
        if py:
            v.append(f"{dist} {pkg_version(py, dist)} (own venv)")
    if getattr(args, "slipway_sha", None):
        src = os.path.abspath(args.slipway_src)
        src = os.path.relpath(src, REPO) if src.startswith(REPO + "/") else "$SLIPWAY_BINARY"
        v.append(f"slipway binary `{src}` built "
                 f"{args.slipway_mtime}, sha256 {args.slipway_sha}...")
    return "; ".join(v)


def hide_paths(text, args):
    """The record names this machine's folders $WORKDIR and $VENVS (longest first,
    as one may hold the other)."""
    for p, name in sorted(((args.work, "$WORKDIR"), (args.venvs, "$VENVS")),
                          key=lambda x: -len(x[0])):
        text = text.replace(p, name)
    return text


def record(path, argv, res, meta, started, elapsed, args, cfg):
    entry = [
        f"\n## {started:%Y-%m-%d %H:%M} UTC: serving, {'quick' if args.quick else 'full'} mode\n",
        f"- command: `{argv}`",
        f"- machine: {machine()}; load average at the end {loadavg()}",
        f"- versions: {versions(args)}",
        f"- model: XGBClassifier, {meta['trees']} trees, depth {meta['depth']}, "
        f"{meta['features']} features, trained on {meta['train_rows']:,} generated rows "
        f"(seed {meta['seed']}), mlflow.xgboost.save_model ({meta['model_file']}); bodies: "
        f"dataframe_split {meta['body_bytes']['split-1.json']} B (1 row), "
        f"{meta['body_bytes']['split-%d.json' % meta['batch_rows']]:,} B "
        f"({meta['batch_rows']} rows); MLServer gets the same rows as OIP v2 FP32 tensors",
        f"- {threads_line(args)}",
        f"- durations: {cfg['seconds']}s per measured point after a {cfg['warmup']}s wrk "
        f"warm-up; {cfg['start_repeats']} start(s) per server; took {elapsed / 60:.1f} min",
        "",
        table(res, meta, args),
        "",
        ratios(res, meta),
        "",
        notes(res, args),
        "",
    ]
    text = hide_paths("\n".join(entry), args)
    with open(path, "a") as f:
        f.write(text)


# ----------------------------------------------------------------------------- main


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--servers", default=",".join(SERVERS),
                    help="comma list among " + ",".join(SERVERS) + " (default all)")
    ap.add_argument("--slipway", default=os.environ.get("SLIPWAY_BINARY",
                                                        os.path.join(REPO, "build", "slipway")),
                    help="Slipway binary (default $SLIPWAY_BINARY, else build/slipway)")
    ap.add_argument("--slipway-args", default="",
                    help="extra arguments for `slipway serve` (e.g. thread counts)")
    ap.add_argument("--quick", action="store_true",
                    help=f"short run: {QUICK['seconds']}s per point, one start (~3-4 min)")
    ap.add_argument("--seconds", type=int, help="seconds per measured point (full: 15)")
    ap.add_argument("--warmup", type=int, help="seconds of discarded wrk warm-up per point")
    ap.add_argument("--start-repeats", type=int, help="starts per server (full: 3)")
    ap.add_argument("--conns", type=int, default=32, help="connections for (a) and (c)")
    ap.add_argument("--batch-conns", type=int, default=4, help="connections for (b)")
    ap.add_argument("--batch-rows", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=20261206)
    ap.add_argument("--wrk-threads", type=int, default=1)
    ap.add_argument("--workers", type=int, default=os.cpu_count(),
                    help="worker processes of mlflow, MLServer, BentoML and nginx "
                         "(default: one per core)")
    ap.add_argument("--omp-wait-policy", choices=("passive", "active", "default"),
                    default="passive",
                    help="OMP_WAIT_POLICY for every server process (default passive: "
                         "xgboost's OpenMP threads spinning on shared, loaded cores made "
                         "MLServer 30x slower here; 'default' leaves the environment as is)")
    ap.add_argument("--pin", choices=("none", "split"), default="none",
                    help="split: server on CPU 0, load generator on CPU 1 (taskset)")
    ap.add_argument("--workdir", help="model, venvs, server folders (default: a temp dir)")
    ap.add_argument("--venvs", help="folder of venv-mlserver and venv-bentoml (default: "
                                    "the work dir)")
    ap.add_argument("--keep", action="store_true", help="keep a temporary work dir")
    ap.add_argument("--record", action="store_true", help="append the results to RESULTS.md")
    ap.add_argument("--results", default=os.path.join(BENCH_DIR, "RESULTS.md"))
    args = ap.parse_args()

    cfg = dict(QUICK if args.quick else FULL)
    for k in ("seconds", "warmup", "start_repeats"):
        if getattr(args, k):
            cfg[k] = getattr(args, k)
    kinds = [k.strip() for k in args.servers.split(",") if k.strip()]
    for k in kinds:
        if k not in SERVERS:
            ap.error(f"unknown server {k}")
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (apt-get install wrk)")
    args.cores = os.cpu_count()
    if args.pin == "split":
        args.cores = 1
        args.server_cpus, args.load_cpus = "0", "1"
        args.server_prefix = ["taskset", "-c", args.server_cpus]
        args.load_prefix = ["taskset", "-c", args.load_cpus]
    else:
        args.server_prefix, args.load_prefix = [], []

    started = datetime.datetime.utcnow()
    t_all = time.time()
    work = os.path.abspath(args.workdir or tempfile.mkdtemp(prefix="slipway-servebench-"))
    os.makedirs(work, exist_ok=True)
    args.work = work
    log(f"work dir {work}; {machine()}")
    args.openloop = build_openloop(work)
    data, meta = prepare_model(work, args.batch_rows, args.seed)
    args.venv_bin, args.venv_py = {}, {}
    res = {}
    venvs = args.venvs = os.path.abspath(args.venvs or work)
    for kind, (pins, probe, _) in VENVS.items():
        if kind in kinds:
            py, err = ensure_venv(os.path.join(venvs, f"venv-{kind}"), pins, probe)
            if err:
                res[kind] = {"skipped": f"could not install: {err}"}
                log(f"== {kind}: skipped: {err}")
            else:
                args.venv_py[kind] = py
                args.venv_bin[kind] = os.path.dirname(py)
    if "slipway" in kinds:
        snapshot_slipway(args, work)

    for kind in SERVERS:
        if kind not in kinds or kind in res:
            continue
        log(f"== {kind} (load {loadavg()})")
        res[kind] = {}
        if kind == "slipway" and not os.path.isfile(args.slipway):
            res[kind] = {"skipped": f"no binary at {args.slipway}"}
            log(f"  skipped: {res[kind]['skipped']}")
            continue
        if kind in ("mlflow", "nginx") and shutil.which(kind) is None:
            res[kind] = {"skipped": f"`{kind}` not found"}
            log(f"  skipped: {res[kind]['skipped']}")
            continue
        try:
            if kind == "inplace":
                bench_inplace(args, cfg, data, res[kind])
            else:
                bench_server(kind, args, cfg, data, meta, res[kind])
        except Exception as e:  # noqa: BLE001 - recorded, then the next server runs
            res[kind]["error"] = f"{type(e).__name__}: {e}"
            log(f"  {kind} FAILED: {res[kind]['error']}")
        if kind == "slipway" and "single" in res.get("nginx", {}):
            # The shared cores' load moves by minutes: nginx's (a) again right
            # after Slipway's, and Slipway's share is taken of the mean of both.
            log(f"== nginx again, (a) only (load {loadavg()})")
            res["nginx_after"] = {}
            try:
                bench_server("nginx", args, dict(cfg, start_repeats=1), data, meta,
                             res["nginx_after"], only_single=True,
                             floor_rate=get(res, "slipway", "half", "target_rate"))
            except Exception as e:  # noqa: BLE001 - recorded
                res["nginx_after"]["error"] = f"{type(e).__name__}: {e}"
    elapsed = time.time() - t_all

    with open(os.path.join(work, "results.json"), "w") as f:
        json.dump(dict(results=res, meta=meta, cfg=cfg), f, indent=1, default=str)
    print(f"{threads_line(args)}\n")
    print(table(res, meta, args))
    print()
    print(ratios(res, meta))
    print()
    print(hide_paths(notes(res, args), args))
    argv = hide_paths(" ".join(["python3", os.path.relpath(os.path.abspath(sys.argv[0]), REPO)]
                               + sys.argv[1:]), args)
    if args.record:
        record(args.results, argv, res, meta, started, elapsed, args, cfg)
        log(f"appended to {args.results}")
    if not args.keep and not args.workdir:
        shutil.rmtree(work, ignore_errors=True)
    else:
        log(f"kept {work}")
    log(f"total {elapsed / 60:.1f} min")
    return 1 if any(r.get("error") or r.get("errors") for r in res.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
