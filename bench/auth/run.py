#!/usr/bin/env python3
"""Cost of the authentication check per request: mlflow server vs Slipway.

For each configuration in turn (one server at a time: the machine has 2 shared
cores), on 127.0.0.1 over a fresh store: start the server, create one
experiment and one run (as admin when auth is on), check that the server
answers 401 without credentials and with a wrong password (and 200 with the
right ones), then run wrk for a fixed time:

    GET /api/2.0/mlflow/runs/get?run_id=<id>   with -H "Authorization: ..."

Configurations:
  mlflow              mlflow server, no auth
  mlflow-auth         mlflow server --app-name basic-auth, Basic admin credentials
                      (auth_cache_ttl_seconds = 0, mlflow's default: a password
                      hash per request)
  mlflow-auth-cache   the same with auth_cache_ttl_seconds = 60 (mlflow's opt-in
                      credential cache)
  slipway             slipway server, no auth
  slipway-auth        slipway server --auth, Basic admin credentials
  slipway-token       slipway server --auth, Bearer token from POST /api/v1/tokens

Prints requests/s per configuration, the per-request cost of auth per server
estimated from throughput as 1/rps_auth - 1/rps_noauth (and from the server's
CPU time per request), the Slipway/mlflow throughput ratios with auth on, and
appends a dated entry to bench/RESULTS.md. See bench/README.md.
"""

import argparse
import base64
import datetime
import importlib.metadata
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time

import requests

HERE = os.path.dirname(os.path.abspath(__file__))
BENCH_DIR = os.path.dirname(HERE)
REPO = os.path.dirname(BENCH_DIR)
sys.path.insert(0, os.path.join(BENCH_DIR, "tracking"))
from run import Server, loadavg, log, machine, snapshot_slipway  # noqa: E402  (bench/tracking/run.py)

API = "/api/2.0/mlflow"
TS0 = 1700000000000
ADMIN = "admin"

# name, server, auth ("basic" / "bearer" / None), mlflow auth_cache_ttl_seconds, label
CONFIGS = [
    ("mlflow", "mlflow", None, None, "mlflow server, no auth"),
    ("mlflow-auth", "mlflow", "basic", 0,
     "mlflow server --app-name basic-auth, Basic (auth cache off: default)"),
    ("mlflow-auth-cache", "mlflow", "basic", 60,
     "mlflow server --app-name basic-auth, Basic, auth_cache_ttl_seconds=60"),
    ("slipway", "slipway", None, None, "slipway server, no auth"),
    ("slipway-auth", "slipway", "basic", None, "slipway server --auth, Basic"),
    ("slipway-token", "slipway", "bearer", None, "slipway server --auth, Bearer token"),
]
BY_NAME = {c[0]: c for c in CONFIGS}
NOAUTH = {"mlflow": "mlflow", "slipway": "slipway"}  # the no-auth baseline of each server

# wrk's own summary as one JSON line (wrk counts responses with status > 399 in
# errors.status: the "Non-2xx or 3xx responses" line of its text output).
WRK_REPORT_LUA = """\
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"err_connect":%d,"err_read":%d,"err_write":%d,"err_status":%d,"err_timeout":%d,' ..
    '"lat_p50_us":%d,"lat_p90_us":%d,"lat_p99_us":%d,"lat_max_us":%d,"lat_mean_us":%.1f}\\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean))
end
"""


class AuthServer(Server):
    """bench/tracking's Server with auth switched on by flag and environment."""

    def __init__(self, cfg, store_dir, args, env):
        super().__init__(cfg[1], store_dir, args)
        self.cfg = cfg
        self.env = env

    def command(self):
        cmd = super().command()
        if self.cfg[2]:
            if self.kind == "mlflow":
                cmd = cmd[:2] + ["--app-name", "basic-auth"] + cmd[2:]
            else:
                cmd = cmd + ["--auth"]
        return cmd

    def start(self, timeout=180):
        # The server inherits the environment at spawn: set it only around start().
        saved = {k: os.environ.get(k) for k in self.env}
        os.environ.update(self.env)
        try:
            return super().start(timeout)
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v

    def mlflow_workers(self):
        """The --workers value of mlflow's uvicorn process, read from the process tree."""
        for p in self.pids():
            try:
                with open(f"/proc/{p}/cmdline", "rb") as f:
                    argv = f.read().decode(errors="replace").split("\0")
            except OSError:
                continue
            if "uvicorn" in argv and "--workers" in argv:
                return int(argv[argv.index("--workers") + 1])
        return None


def basic(user, password):
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def call(port, method, path, auth=None, body=None, timeout=120):
    headers = {"Authorization": auth} if auth else {}
    r = requests.request(method, f"http://127.0.0.1:{port}{path}", json=body, headers=headers,
                         timeout=timeout)
    return r.status_code, r.text


def call_ok(port, method, path, auth=None, body=None):
    status, text = call(port, method, path, auth, body)
    if status != 200:
        raise RuntimeError(f"{method} {path} -> HTTP {status}: {text[:300]}")
    return json.loads(text)


def mlflow_ini(path, db, cache_ttl):
    with open(path, "w") as f:
        f.write("[mlflow]\n"
                "default_permission = READ\n"
                f"database_uri = sqlite:///{db}\n"
                f"admin_username = {ADMIN}\n"
                "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
                f"auth_cache_ttl_seconds = {cache_ttl}\n")
    # admin_password is not written: it comes from MLFLOW_AUTH_ADMIN_PASSWORD.
    return (f"default_permission = READ, database_uri = sqlite:///{db}, admin_username = "
            f"{ADMIN}, auth_cache_ttl_seconds = {cache_ttl} (admin password from "
            f"MLFLOW_AUTH_ADMIN_PASSWORD)")


def stored_hash_scheme(cfg, sdir):
    """The scheme and cost parameters of the stored admin password hash (no salt, no hash)."""
    import sqlite3
    db = os.path.join(sdir, "basic_auth.db" if cfg[1] == "mlflow" else "slipway.db")
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        h = con.execute("SELECT password_hash FROM users WHERE username = ?", (ADMIN,)).fetchone()
        con.close()
    except sqlite3.Error as e:
        return f"? ({e})"
    if not h:
        return "?"
    parts = h[0].split("$")
    # werkzeug: "scrypt:32768:8:1$salt$hash"; slipway: "pbkdf2-sha256$600000$salt$hash"
    return parts[0] if cfg[1] == "mlflow" else " ".join(parts[:2])


def wrk(args, port, path, auth, seconds, script):
    cmd = ["wrk", f"-t{args.wrk_threads}", f"-c{args.conns}", f"-d{seconds}s", "--timeout",
           f"{args.wrk_timeout}s", "--latency"]
    if auth:
        cmd += ["-H", f"Authorization: {auth}"]
    cmd += ["-s", script, f"http://127.0.0.1:{port}{path}"]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + args.wrk_timeout + 120)
    m = re.search(r"^WRKJSON (.*)$", p.stdout, re.M)
    if p.returncode != 0 or not m:
        raise RuntimeError(f"wrk failed ({p.returncode}): {p.stdout[-800:]} {p.stderr[-800:]}")
    r = json.loads(m.group(1))
    r["socket_errors"] = sum(r[k] for k in ("err_connect", "err_read", "err_write", "err_timeout"))
    r["rps"] = r["requests"] / (r["duration_us"] / 1e6)
    shown = list(cmd)
    if auth:  # the record names the header's kind, not the secret
        kind = auth.split()[0]
        shown[shown.index("-H") + 1] = ("Authorization: Basic <base64 admin:PASSWORD>"
                                        if kind == "Basic" else "Authorization: Bearer <TOKEN>")
    r["command"] = " ".join(f"'{a}'" if " " in a else a for a in shown)
    return r


def bench_config(cfg, sdir, args, script, out):
    name, kind, auth_kind, cache_ttl, _ = cfg
    os.makedirs(sdir, exist_ok=True)
    password = "bench-" + secrets.token_urlsafe(18)
    env = {}
    if auth_kind and kind == "mlflow":
        ini = os.path.join(sdir, "basic_auth.ini")
        out["mlflow_ini"] = mlflow_ini(ini, os.path.join(sdir, "basic_auth.db"), cache_ttl)
        env = {"MLFLOW_AUTH_CONFIG_PATH": ini, "MLFLOW_AUTH_ADMIN_PASSWORD": password,
               "MLFLOW_FLASK_SERVER_SECRET_KEY": secrets.token_hex(16)}
        out["env"] = ("MLFLOW_AUTH_CONFIG_PATH=<the ini above>, MLFLOW_AUTH_ADMIN_PASSWORD="
                      "<random>, MLFLOW_FLASK_SERVER_SECRET_KEY=<random>")
    elif auth_kind:
        env = {"SLIPWAY_ADMIN_PASSWORD": password}
        out["env"] = "SLIPWAY_ADMIN_PASSWORD=<random>"
    srv = AuthServer(cfg, sdir, args, env)
    out["command"] = " ".join(srv.command())
    srv.start(timeout=300)
    try:
        if kind == "mlflow":
            out["mlflow_workers"] = srv.mlflow_workers()
        admin = basic(ADMIN, password) if auth_kind else None
        exp = call_ok(srv.port, "POST", API + "/experiments/create", admin,
                      {"name": "bench-auth"})["experiment_id"]
        run_id = call_ok(srv.port, "POST", API + "/runs/create", admin,
                         {"experiment_id": exp, "start_time": TS0, "run_name": "auth"}
                         )["run"]["info"]["run_id"]
        call_ok(srv.port, "POST", API + "/runs/log-batch", admin, {
            "run_id": run_id,
            "params": [{"key": "alpha", "value": "0.5"}, {"key": "l1_ratio", "value": "0.1"}],
            "metrics": [{"key": "rmse", "value": 0.25, "timestamp": TS0, "step": 0}],
            "tags": [{"key": "team", "value": "bench"}]})
        header = admin
        if auth_kind == "bearer":
            reply = call_ok(srv.port, "POST", "/api/v1/tokens", admin, {"name": "bench"})
            header = "Bearer " + reply["token"]
        if auth_kind:
            out["hash"] = stored_hash_scheme(cfg, sdir)
        path = API + "/runs/get?run_id=" + run_id

        # Correctness: right credentials 200 with the run; none / wrong ones 401 with auth on.
        checks, bad = [], False
        status, text = call(srv.port, "GET", path, header)
        good = status == 200 and json.loads(text)["run"]["info"]["run_id"] == run_id
        checks.append(f"{'credentials' if auth_kind else 'GET'} {status}"
                      + ("" if good else " (MISMATCH: want 200 with the run)"))
        bad |= not good
        probes = [("none", None)]
        if auth_kind:
            probes.append(("wrong password", basic(ADMIN, password + "x")))
            probes.append(("unknown user", basic("nobody", password)))
        if auth_kind == "bearer":
            probes.append(("wrong token", header[:-4] + ("AAAA" if not header.endswith("AAAA")
                                                         else "BBBB")))
        for what, h in probes:
            status, _ = call(srv.port, "GET", path, h)
            want = 401 if auth_kind else 200
            checks.append(f"{what} {status}" + ("" if status == want else f" (MISMATCH: want {want})"))
            bad |= status != want
        out["checks"] = ", ".join(checks)
        out["checks_ok"] = not bad
        log(f"  checks: {out['checks']}")

        # Warm-up (discarded), then wait until the server has finished what wrk left in flight.
        wrk(args, srv.port, path, header, args.warmup_seconds, script)
        srv.settle(timeout=120)
        out["load_before"] = loadavg()
        cpu0, _ = srv.cpu_seconds()
        r = wrk(args, srv.port, path, header, args.seconds, script)
        cpu1, nproc = srv.cpu_seconds()
        out["load_after"] = loadavg()
        r["server_cpu_s"] = cpu1 - cpu0
        r["server_cpu_us_per_req"] = (cpu1 - cpu0) / r["requests"] * 1e6 if r["requests"] else None
        r["server_processes"] = nproc
        out["wrk"] = r
        if srv.proc.poll() is not None:
            raise RuntimeError(f"server exited with {srv.proc.returncode} during the run")
        if r["err_status"] or r["socket_errors"]:
            out["error"] = (f"{r['err_status']} responses with HTTP status >= 400 and "
                            f"{r['socket_errors']} socket errors (connect {r['err_connect']}, "
                            f"read {r['err_read']}, write {r['err_write']}, timeout "
                            f"{r['err_timeout']}): not a result")
        log(f"  {r['rps']:.1f} req/s, p50 {r['lat_p50_us'] / 1000:.2f} ms, p99 "
            f"{r['lat_p99_us'] / 1000:.2f} ms, status>=400 {r['err_status']}, socket errors "
            f"{r['socket_errors']}, server CPU {r['server_cpu_us_per_req'] or 0:.0f} us/req; "
            f"load {out['load_before']} -> {out['load_after']}")
    finally:
        srv.stop()


# ----------------------------------------------------------------------------- report


def rps(res, name):
    r = res.get(name, {})
    if r.get("error") or r.get("skipped") or "wrk" not in r or not r.get("checks_ok"):
        return None
    return r["wrk"]["rps"]


def cpu_per_req(res, name):
    return res[name]["wrk"]["server_cpu_us_per_req"] if rps(res, name) else None


def fmt_ratio(x):
    return "n/a" if x is None else f"{x:.0f}x" if x >= 100 else f"{x:.1f}x"


def table(res, names):
    lines = ["| configuration | req/s | p50 ms | p99 ms | server CPU us/req | "
             "auth cost us/req (throughput) | auth cost us/req (server CPU) |",
             "|---|---|---|---|---|---|---|"]
    for name in names:
        label = BY_NAME[name][4]
        r = res.get(name, {})
        if r.get("skipped"):
            lines.append(f"| {label} | n/a (skipped) | | | | | |")
            continue
        if "wrk" not in r or r.get("error") or not r.get("checks_ok"):
            why = "error" if r.get("error") or "wrk" not in r else "check failed"
            lines.append(f"| {label} | {why} | | | | | |")
            continue
        w = r["wrk"]
        base = NOAUTH[BY_NAME[name][1]]
        cost_t = cost_c = ""
        if BY_NAME[name][2]:
            b, bc = rps(res, base), cpu_per_req(res, base)
            cost_t = f"{(1 / w['rps'] - 1 / b) * 1e6:.1f}" if b else "n/a"
            cost_c = f"{w['server_cpu_us_per_req'] - bc:.0f}" if b else "n/a"
        lines.append(f"| {label} | {w['rps']:.1f} | {w['lat_p50_us'] / 1000:.2f} | "
                     f"{w['lat_p99_us'] / 1000:.2f} | {w['server_cpu_us_per_req']:.0f} | "
                     f"{cost_t} | {cost_c} |")
    return "\n".join(lines)


def ratios(res):
    out = []
    for s in ("slipway-auth", "slipway-token"):
        for m in ("mlflow-auth", "mlflow-auth-cache"):
            a, b = rps(res, s), rps(res, m)
            if a is not None or b is not None:
                out.append(f"- {BY_NAME[s][4]} / {BY_NAME[m][4]}: "
                           f"{fmt_ratio(a / b if a and b else None)} the requests/s")
    for name in ("mlflow-auth", "mlflow-auth-cache", "slipway-auth", "slipway-token"):
        a, b = rps(res, name), rps(res, NOAUTH[BY_NAME[name][1]])
        if a and b:
            out.append(f"- {BY_NAME[name][4]}: {a / b * 100:.1f}% of the no-auth requests/s")
    return "\n".join(out)


def notes(res, names):
    out = []
    for name in names:
        r = res.get(name)
        if r is None:
            continue
        if r.get("skipped"):
            out.append(f"- {name}: skipped: {r['skipped']}")
            continue
        if r.get("error"):
            out.append(f"- {name}: ERROR: {r['error']}")
        if "checks" in r:
            out.append(f"- {name} checks ({'ok' if r['checks_ok'] else 'FAILED'}): {r['checks']}")
        if "wrk" in r:
            w = r["wrk"]
            out.append(f"- {name}: {w['requests']} responses in {w['duration_us'] / 1e6:.2f}s, "
                       f"status >= 400: {w['err_status']}, socket errors {w['socket_errors']}; "
                       f"p90 {w['lat_p90_us'] / 1000:.2f} ms, max {w['lat_max_us'] / 1000:.2f} ms; "
                       f"server CPU {w['server_cpu_s']:.2f}s over {w['server_processes']} "
                       f"process(es); load average {r.get('load_before', '?')} before, "
                       f"{r.get('load_after', '?')} after")
        if "hash" in r:
            out.append(f"- {name}: stored admin password hash: {r['hash']}")
        if r.get("mlflow_workers") is not None:
            out.append(f"- {name}: uvicorn --workers {r['mlflow_workers']}")
        if "mlflow_ini" in r:
            out.append(f"- {name}: MLFLOW_AUTH_CONFIG_PATH ini: {r['mlflow_ini']}")
        if "env" in r:
            out.append(f"- {name}: environment: {r['env']}")
        if "command" in r:
            out.append(f"- {name} server: `{r['command']}`")
        if "wrk" in r:
            out.append(f"- {name} wrk: `{r['wrk']['command']}`")
    return "\n".join(out)


def versions():
    out = []
    for pkg in ("mlflow", "werkzeug", "flask-wtf"):
        try:
            out.append(f"{pkg} {importlib.metadata.version(pkg)}")
        except importlib.metadata.PackageNotFoundError:
            out.append(f"{pkg} not installed")
    try:
        p = subprocess.run(["wrk", "-v"], capture_output=True, text=True, timeout=30)
        out.append((p.stdout + p.stderr).strip().splitlines()[0])
    except (OSError, IndexError, subprocess.TimeoutExpired):
        out.append("wrk not available")
    return "; ".join(out)


def slipway_desc(args):
    src = getattr(args, "slipway_src", args.slipway_bin)
    rel = os.path.relpath(os.path.abspath(src), REPO)
    where = f"`{rel}`" if not rel.startswith("..") else "`$SLIPWAY_BIN` (outside the repo)"
    return (f"slipway binary {where} built {getattr(args, 'slipway_mtime', '?')}, sha256 "
            f"{getattr(args, 'slipway_sha', '?')}...")


def text_report(res, names, args):
    return "\n".join([
        table(res, names),
        "",
        "Auth cost per request: (1/rps_auth - 1/rps_noauth) of the same server, in "
        "microseconds of wall time at saturation, derived from throughput on 2 shared cores "
        "(wrk runs on the same cores); and the difference in server-process CPU time per "
        "request. Both are noisy where the cost is small next to the request itself.",
        "",
        ratios(res),
        "",
        notes(res, names),
    ])


def mlflow_workers_desc(res, args):
    seen = sorted({r["mlflow_workers"] for r in res.values() if r.get("mlflow_workers")})
    ran = "/".join(map(str, seen)) or "?"
    if args.mlflow_workers:
        return f"--workers {args.mlflow_workers} (uvicorn ran {ran})"
    return f"--workers not passed, as bench/tracking: uvicorn ran {ran} (mlflow's default)"


def record(path, argv, res, names, started, elapsed, args, work, load_start):
    entry = [
        f"\n## {started:%Y-%m-%d %H:%M} UTC: auth, {'quick' if args.quick else 'full'} mode\n",
        f"- command: `{argv}` (niceness {os.nice(0)})",
        f"- machine: {machine()}; load average at the start {load_start}, at the end {loadavg()}",
        f"- versions: {versions()}; {slipway_desc(args)}",
        f"- load: wrk -t{args.wrk_threads} -c{args.conns} -d{args.seconds}s --timeout "
        f"{args.wrk_timeout}s --latency, GET {API}/runs/get?run_id=<id> of one run (2 params, 1 "
        f"metric, 1 tag) after a {args.warmup_seconds}s wrk warm-up (discarded); mlflow "
        f"{mlflow_workers_desc(res, args)}; took {elapsed / 60:.1f} min",
        "",
        text_report(res, names, args),
        "",
    ]
    text = "\n".join(entry).replace(work, "$WORKDIR")
    # No machine paths in the record: a binary outside the repo is named $SLIPWAY_BIN.
    src = os.path.abspath(getattr(args, "slipway_src", args.slipway_bin))
    if os.path.relpath(src, REPO).startswith(".."):
        text = text.replace(src, "$SLIPWAY_BIN").replace(
            getattr(args, "slipway_src", src), "$SLIPWAY_BIN")
    if os.path.relpath(os.path.abspath(path), REPO).startswith(".."):
        text = text.replace(path, "$RESULTS")
    with open(path, "a") as f:
        f.write(text)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="3 s per configuration instead of 10 s")
    ap.add_argument("--configs", default=",".join(c[0] for c in CONFIGS),
                    help="comma list among " + ",".join(c[0] for c in CONFIGS) + " (default all)")
    ap.add_argument("--slipway-bin", default=os.path.join(REPO, "build", "slipway"))
    ap.add_argument("--mlflow-workers", type=int, default=0,
                    help="pass --workers to mlflow server (default: mlflow's own default, 4; "
                         "as bench/tracking)")
    ap.add_argument("--wrk-threads", type=int, default=2)
    ap.add_argument("--conns", type=int, default=16, help="wrk connections (default 16)")
    ap.add_argument("--seconds", type=float, help="wrk duration (default 10, --quick 3)")
    ap.add_argument("--warmup-seconds", type=float, help="wrk warm-up (default 2, --quick 1)")
    ap.add_argument("--wrk-timeout", type=int, default=30,
                    help="wrk --timeout in seconds (default 30; mlflow's basic-auth app "
                         "answers in seconds under 16 connections, wrk's default is 2)")
    ap.add_argument("--workdir", help="where stores go (default: a new temp dir, removed after)")
    ap.add_argument("--keep", action="store_true", help="keep the work dir")
    ap.add_argument("--no-record", action="store_true", help="do not append to bench/RESULTS.md")
    ap.add_argument("--results", default=os.path.join(BENCH_DIR, "RESULTS.md"))
    args = ap.parse_args()
    if args.seconds is None:
        args.seconds = 3 if args.quick else 10
    if args.warmup_seconds is None:
        args.warmup_seconds = 1 if args.quick else 2
    args.seconds = int(args.seconds) if float(args.seconds).is_integer() else args.seconds
    args.warmup_seconds = (int(args.warmup_seconds) if float(args.warmup_seconds).is_integer()
                           else args.warmup_seconds)
    names = [n.strip() for n in args.configs.split(",") if n.strip()]
    for n in names:
        if n not in BY_NAME:
            ap.error(f"unknown configuration {n}")
    names = [c[0] for c in CONFIGS if c[0] in names]
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (apt-get install wrk)")

    started = datetime.datetime.utcnow()
    t_all = time.time()
    load_start = loadavg()
    work = os.path.abspath(args.workdir or tempfile.mkdtemp(prefix="slipway-bench-auth-"))
    os.makedirs(work, exist_ok=True)
    log(f"work dir {work}; {machine()}; load average {load_start}")
    script = os.path.join(work, "wrk_report.lua")
    with open(script, "w") as f:
        f.write(WRK_REPORT_LUA)
    if any(BY_NAME[n][1] == "slipway" for n in names):
        snapshot_slipway(args, work)
    res = {}
    for name in names:
        kind = BY_NAME[name][1]
        exe = {"mlflow": "mlflow", "slipway": args.slipway_bin}[kind]
        if shutil.which(exe) is None:
            res[name] = {"skipped": f"`{exe}` not found"}
            log(f"== {name}: skipped, {exe} not found")
            continue
        log(f"== {name}: {BY_NAME[name][4]}")
        res[name] = {}
        try:
            bench_config(BY_NAME[name], os.path.join(work, name), args, script, res[name])
        except Exception as e:  # noqa: BLE001 - recorded, then the next configuration runs
            res[name]["error"] = f"{type(e).__name__}: {e}"
            log(f"  {name} FAILED: {res[name]['error']}")
    elapsed = time.time() - t_all

    with open(os.path.join(work, "results.json"), "w") as f:
        json.dump(res, f, indent=1, default=str)
    print(text_report(res, names, args))
    argv = " ".join(["python3", os.path.relpath(os.path.abspath(sys.argv[0]), REPO)] + sys.argv[1:])
    if not args.no_record:
        record(args.results, argv, res, names, started, elapsed, args, work, load_start)
        log(f"appended to {args.results}")
    if not args.keep and not args.workdir:
        shutil.rmtree(work, ignore_errors=True)
    else:
        log(f"kept {work}")
    log(f"total {elapsed / 60:.1f} min")
    failed = any(r.get("error") or ("checks_ok" in r and not r["checks_ok"]) for r in res.values())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
