#!/usr/bin/env python3
"""Model-registry operations per second: mlflow server vs Slipway.

One command starts each server in turn on 127.0.0.1 (one at a time: the
machine has 2 shared cores) over a fresh store, creates one experiment and one
run, then measures with N client threads (one requests.Session each) for a
fixed duration:
  1. create-version   POST model-versions/create into a few registered models
  2. set-alias        POST registered-models/alias
  3. get-by-alias     GET  registered-models/alias?name=&alias=
  4. search-versions  GET  model-versions/search?filter=name='m1'&max_results=100
                      over a model with 500 versions
Only HTTP 200 responses count as operations; everything else is an error.
Afterwards what each server stored is checked. Prints a table and appends a
dated entry to bench/RESULTS.md. See bench/README.md.
"""

import argparse
import datetime
import json
import os
import shutil
import sys
import tempfile
import threading
import time
import types

import requests

HERE = os.path.dirname(os.path.abspath(__file__))
BENCH_DIR = os.path.dirname(HERE)
REPO = os.path.dirname(BENCH_DIR)
sys.path.insert(0, os.path.join(BENCH_DIR, "tracking"))
from run import (  # noqa: E402  (bench/tracking/run.py)
    Server, loadavg, log, machine, server_status, snapshot_slipway)

API = "/api/2.0/mlflow"
SERVERS = ("mlflow", "slipway")
OPS = ("create-version", "set-alias", "get-by-alias", "search-versions")
CREATE_MODELS = 4        # registered models that create-version spreads over
ALIAS_VERSIONS = 10      # versions of the alias model that set-alias points at
SEARCH_VERSIONS = 500    # versions of model m1 for search-versions


class Api:
    """A requests.Session bound to one server. Raises on non-200."""

    def __init__(self, port):
        self.base = f"http://127.0.0.1:{port}{API}"
        self.s = requests.Session()

    def post(self, ep, body, timeout=120):
        r = self.s.post(self.base + ep, json=body, timeout=timeout)
        if r.status_code != 200:
            raise RuntimeError(f"POST {ep} {json.dumps(body)[:200]} -> {r.status_code}: "
                               f"{r.text[:300]}")
        return r.json()

    def get(self, ep, params, timeout=120):
        r = self.s.get(self.base + ep, params=params, timeout=timeout)
        if r.status_code != 200:
            raise RuntimeError(f"GET {ep} {params} -> {r.status_code}: {r.text[:300]}")
        return r.json()


def count_versions(api, name, deadline):
    """Number of versions of a registered model, via paged model-versions/search."""
    n, token, pages = 0, None, 0
    while True:
        q = {"filter": f"name='{name}'", "max_results": 200}
        if token:
            q["page_token"] = token
        d = api.get("/model-versions/search", q)
        n += len(d.get("model_versions", []))
        token = d.get("next_page_token")
        pages += 1
        if not token or not d.get("model_versions"):
            return n
        if time.time() > deadline or pages > 10000:
            raise TimeoutError(f"counting versions of {name}: {n} after {pages} pages")


def parallel_setup(port, items, fn, threads, deadline, what):
    """Call fn(api, item) for every item on `threads` sessions; bounded by deadline."""
    lock = threading.Lock()
    state = {"next": 0, "err": None}

    def worker():
        api = Api(port)
        while True:
            with lock:
                i = state["next"]
                if i >= len(items) or state["err"]:
                    return
                if time.time() > deadline:
                    state["err"] = TimeoutError(f"{what}: only {i}/{len(items)} before deadline")
                    return
                state["next"] += 1
            try:
                fn(api, items[i])
            except Exception as e:  # noqa: BLE001 - re-raised below
                with lock:
                    state["err"] = e
                return
    ts = [threading.Thread(target=worker) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if state["err"]:
        raise state["err"]


def measure(port, threads, seconds, make_request):
    """Run `threads` workers, each with its own Session, for `seconds`.
    make_request(session, thread_index, i) -> requests.Response.
    Returns counts; ops/s = 200s / wall time from start to the last worker's end
    (a worker finishes the request it has in flight when the time is up)."""
    base = f"http://127.0.0.1:{port}{API}"
    stats = [dict(ok=0, status={}, exc=0, last_exc="", lat=[]) for _ in range(threads)]
    start = threading.Barrier(threads + 1)
    box = {}

    def worker(k):
        s = requests.Session()
        st = stats[k]
        start.wait()
        end = box["end"]
        i = 0
        while True:
            t = time.perf_counter()
            if t >= end:
                break
            try:
                r = make_request(s, base, k, i)
                if r.status_code == 200:
                    st["ok"] += 1
                    st["lat"].append(time.perf_counter() - t)
                else:
                    st["status"][r.status_code] = st["status"].get(r.status_code, 0) + 1
                    st["last_exc"] = f"HTTP {r.status_code}: {r.text[:200]}"
            except requests.RequestException as e:
                st["exc"] += 1
                st["last_exc"] = f"{type(e).__name__}: {e}"[:200]
            i += 1
        s.close()

    ts = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
    for t in ts:
        t.start()
    t0 = time.perf_counter()
    box["end"] = t0 + seconds
    start.wait()
    for t in ts:
        t.join(timeout=seconds + 300)
    wall = time.perf_counter() - t0
    status = {}
    for st in stats:
        for c, n in st["status"].items():
            status[c] = status.get(c, 0) + n
    lat = sorted(x for st in stats for x in st["lat"])
    ok = sum(st["ok"] for st in stats)
    return dict(ok=ok, per_thread=[st["ok"] for st in stats], wall_s=wall,
                ops_s=ok / wall if wall else 0.0, status_errors=status,
                exceptions=sum(st["exc"] for st in stats),
                last_error=next((st["last_exc"] for st in stats if st["last_exc"]), ""),
                p50_ms=lat[len(lat) // 2] * 1000 if lat else None,
                p99_ms=lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000 if lat else None)


def bench_server(kind, store, args, out):
    srv = Server(kind, store, args)
    out["command"] = " ".join(srv.command())
    srv.start()
    try:
        out["load"] = loadavg()
        api = Api(srv.port)
        deadline = time.time() + args.setup_budget
        exp = api.post("/experiments/create", {"name": "bench-registry"})["experiment_id"]
        run_id = api.post("/runs/create", {"experiment_id": exp, "start_time": 1700000000000,
                                           "run_name": "registry"})["run"]["info"]["run_id"]
        source = f"runs:/{run_id}/model"
        body = lambda name: {"name": name, "source": source, "run_id": run_id}  # noqa: E731
        create_models = [f"create-{j}" for j in range(CREATE_MODELS)]
        for name in create_models + ["alias-m", "m1"]:
            api.post("/registered-models/create", {"name": name})
        for _ in range(ALIAS_VERSIONS):
            api.post("/model-versions/create", body("alias-m"))
        t = time.time()
        parallel_setup(srv.port, list(range(SEARCH_VERSIONS)),
                       lambda a, _i: a.post("/model-versions/create", body("m1")),
                       4, deadline, "m1 versions")
        out["setup_s"] = time.time() - t
        log(f"  {SEARCH_VERSIONS} versions of m1 in {out['setup_s']:.1f}s")
        srv.settle(timeout=60)

        T, D = args.threads, args.seconds
        res = out["ops"] = {}
        checks = out["checks"] = {}

        # 1. create-version
        def create(s, base, k, i):
            return s.post(base + "/model-versions/create",
                          json=body(create_models[(k + i) % CREATE_MODELS]), timeout=60)
        res["create-version"] = r = measure(srv.port, T, D, create)
        stored = sum(count_versions(api, m, deadline + 600) for m in create_models)
        checks["create-version"] = (
            f"ok: {stored} versions stored = {r['ok']} 200s" if stored == r["ok"] else
            f"MISMATCH: {stored} versions stored, {r['ok']} 200s")
        log(f"  create-version {r['ops_s']:.0f}/s; {checks['create-version']}")

        # 2. set-alias: thread k sets alias a<k> of alias-m; remember the last 200 per thread
        last = {}

        def set_alias(s, base, k, i):
            v = str(i % ALIAS_VERSIONS + 1)
            resp = s.post(base + "/registered-models/alias",
                          json={"name": "alias-m", "alias": f"a{k}", "version": v}, timeout=60)
            if resp.status_code == 200:
                last[k] = v
            return resp
        res["set-alias"] = r = measure(srv.port, T, D, set_alias)
        bad = []
        for k, v in sorted(last.items()):
            got = api.get("/registered-models/alias", {"name": "alias-m", "alias": f"a{k}"})
            if str(got["model_version"]["version"]) != v:
                bad.append(f"a{k}: {got['model_version']['version']} != {v}")
        checks["set-alias"] = (f"ok: {len(last)} aliases point at the last version set"
                               if not bad else "MISMATCH: " + "; ".join(bad))
        log(f"  set-alias {r['ops_s']:.0f}/s; {checks['set-alias']}")

        # 3. get-by-alias (aliases a<k> exist for every thread that set one)
        aliases = sorted(last)
        if not aliases:
            raise RuntimeError("no alias was set")
        wrong = [0]

        def get_alias(s, base, k, i):
            a = aliases[(k + i) % len(aliases)]
            resp = s.get(base + "/registered-models/alias",
                         params={"name": "alias-m", "alias": f"a{a}"}, timeout=60)
            if resp.status_code == 200 and f'"{last[a]}"'.encode() not in resp.content:
                wrong[0] += 1
            return resp
        res["get-by-alias"] = r = measure(srv.port, T, D, get_alias)
        checks["get-by-alias"] = (f"ok: every 200 named the expected version" if not wrong[0]
                                  else f"MISMATCH: {wrong[0]} responses without the version")
        log(f"  get-by-alias {r['ops_s']:.0f}/s; {checks['get-by-alias']}")

        # 4. search-versions over m1
        first = api.get("/model-versions/search", {"filter": "name='m1'", "max_results": 100})
        short = [0]

        def search(s, base, k, i):
            resp = s.get(base + "/model-versions/search",
                         params={"filter": "name='m1'", "max_results": 100}, timeout=120)
            if resp.status_code == 200 and resp.content.count(b'"run_id"') != 100:
                short[0] += 1
            return resp
        res["search-versions"] = r = measure(srv.port, T, D, search)
        n_first = len(first.get("model_versions", []))
        names = {mv["name"] for mv in first.get("model_versions", [])}
        ok = n_first == 100 and names == {"m1"} and first.get("next_page_token") and not short[0]
        m1 = count_versions(api, "m1", deadline + 600)
        checks["search-versions"] = (
            f"{'ok' if ok and m1 == SEARCH_VERSIONS else 'MISMATCH'}: first page {n_first} "
            f"versions of {sorted(names)}, next_page_token "
            f"{'set' if first.get('next_page_token') else 'missing'}; {short[0]} responses "
            f"without 100 versions; m1 has {m1} versions")
        log(f"  search-versions {r['ops_s']:.0f}/s; {checks['search-versions']}")
    finally:
        srv.stop()


# ----------------------------------------------------------------------------- report


def table(res):
    lines = ["| op | mlflow ops/s | slipway ops/s | ratio (slipway/mlflow) |",
             "|---|---|---|---|"]
    for op in OPS:
        vals = []
        for k in SERVERS:
            try:
                vals.append(res[k]["ops"][op]["ops_s"])
            except (KeyError, TypeError):
                vals.append(None)
        cells = [op] + [f"{v:.0f}" if v is not None else "n/a" for v in vals]
        m, s = vals
        cells.append(f"{s / m:.1f}x" if m and s else "n/a")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def notes(res):
    out = []
    for k in SERVERS:
        r = res.get(k)
        if r is None or not server_status(k, r, out):
            continue
        for op in OPS:
            x = r.get("ops", {}).get(op)
            if not x:
                continue
            errs = sum(x["status_errors"].values()) + x["exceptions"]
            p = (f", p50 {x['p50_ms']:.1f} ms, p99 {x['p99_ms']:.1f} ms"
                 if x["p50_ms"] is not None else "")
            line = (f"- {k} {op}: {x['ok']} x 200 in {x['wall_s']:.2f}s{p}; errors {errs} "
                    f"(status {x['status_errors'] or 0}, exceptions {x['exceptions']})")
            if errs:
                line += f", last: {x['last_error']}"
            out.append(line + f"; check {r.get('checks', {}).get(op, 'not run')}")
        if "setup_s" in r:
            out.append(f"- {k}: {SEARCH_VERSIONS} versions of m1 created (4 threads) in "
                       f"{r['setup_s']:.1f}s")
        if "command" in r:
            out.append(f"- {k} server (load average when it was up {r.get('load', '?')}): "
                       f"`{r['command']}`")
    return "\n".join(out)


def mlflow_version():
    try:
        import importlib.metadata as md
        return f"mlflow {md.version('mlflow')}, requests {requests.__version__}"
    except Exception:  # noqa: BLE001
        return "mlflow ?"


def record(path, argv, res, started, elapsed, args, work):
    entry = [
        f"\n## {started:%Y-%m-%d %H:%M} UTC: registry, {'quick' if args.quick else 'full'} mode\n",
        f"- command: `{argv}`",
        f"- machine: {machine()}; load average at the end {loadavg()}",
        f"- versions: {mlflow_version()}; slipway binary "
        f"`{os.path.relpath(args.slipway_src, REPO)}` built {getattr(args, 'slipway_mtime', '?')}, "
        f"sha256 {getattr(args, 'slipway_sha', '?')}...",
        f"- load: {args.threads} client threads (one requests.Session each, in one Python "
        f"process on the same cores as the server), {args.seconds}s per op; create-version "
        f"into {CREATE_MODELS} models, set/get alias on one model with {ALIAS_VERSIONS} "
        f"versions, search over a model with {SEARCH_VERSIONS} versions; took "
        f"{elapsed / 60:.1f} min",
        "",
        table(res),
        "",
        "Only HTTP 200 responses count. The Python client shares the 2 cores with the "
        "server, so Slipway's figures are bounded by the client as much as by the server.",
        "",
        notes(res),
        "",
    ]
    text = "\n".join(entry).replace(work, "$WORKDIR")
    with open(path, "a") as f:
        f.write(text)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="2 s per op instead of 5 s")
    ap.add_argument("--servers", default=",".join(SERVERS), help="mlflow,slipway (any subset)")
    ap.add_argument("--slipway-bin", default=os.path.join(REPO, "build", "slipway"))
    ap.add_argument("--mlflow-workers", type=int, default=0,
                    help="pass --workers to mlflow server (default: mlflow's own default)")
    ap.add_argument("--threads", type=int, default=8, help="client threads (default 8)")
    ap.add_argument("--seconds", type=float, help="seconds per op (default 5, --quick 2)")
    ap.add_argument("--setup-budget", type=float, default=600,
                    help="seconds allowed to create the registry data on one server")
    ap.add_argument("--workdir", help="where stores go (default: a new temp dir, removed after)")
    ap.add_argument("--keep", action="store_true", help="keep the work dir")
    ap.add_argument("--no-record", action="store_true", help="do not append to bench/RESULTS.md")
    ap.add_argument("--results", default=os.path.join(BENCH_DIR, "RESULTS.md"))
    args = ap.parse_args()
    if args.seconds is None:
        args.seconds = 2 if args.quick else 5
    kinds = [k.strip() for k in args.servers.split(",") if k.strip()]
    for k in kinds:
        if k not in SERVERS:
            ap.error(f"unknown server {k}")

    started = datetime.datetime.utcnow()
    t_all = time.time()
    work = os.path.abspath(args.workdir or tempfile.mkdtemp(prefix="slipway-bench-registry-"))
    os.makedirs(work, exist_ok=True)
    log(f"work dir {work}; {machine()}")
    if "slipway" in kinds:
        snapshot_slipway(args, work)
    res = {}
    for kind in SERVERS:
        if kind not in kinds:
            continue
        exe = {"mlflow": "mlflow", "slipway": args.slipway_bin}[kind]
        if shutil.which(exe) is None:
            res[kind] = {"skipped": f"`{exe}` not found"}
            log(f"== {kind}: skipped, {exe} not found")
            continue
        log(f"== {kind}")
        res[kind] = {}
        try:
            bench_server(kind, os.path.join(work, kind), args, res[kind])
        except Exception as e:  # noqa: BLE001 - recorded, then the next server runs
            res[kind]["error"] = f"{type(e).__name__}: {e}"
            log(f"  {kind} FAILED: {res[kind]['error']}")
    elapsed = time.time() - t_all

    with open(os.path.join(work, "results.json"), "w") as f:
        json.dump(res, f, indent=1, default=str)
    print(table(res))
    print()
    print(notes(res))
    argv = " ".join(["python3", os.path.relpath(os.path.abspath(sys.argv[0]), REPO)] + sys.argv[1:])
    if not args.no_record:
        record(args.results, argv, res, started, elapsed, args, work)
        log(f"appended to {args.results}")
    if not args.keep and not args.workdir:
        shutil.rmtree(work, ignore_errors=True)
    else:
        log(f"kept {work}")
    log(f"total {elapsed / 60:.1f} min")
    failed = any(r.get("error") for r in res.values()) or any(
        "MISMATCH" in c for r in res.values() for c in r.get("checks", {}).values())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
