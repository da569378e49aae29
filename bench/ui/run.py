#!/usr/bin/env python3
"""Side-by-side web UI benchmark: Slipway's UI on `slipway server` vs MLflow's
own UI on `mlflow server`, in the same Chromium, on the same data.

For each server in turn (one at a time: the machine has 2 shared cores) the
store gets N runs (100k) and one run with an M-point metric (1M); then
Playwright drives Debian's chromium against the server's own UI and measures,
each repeated (median):

  1. first render of the runs table, cold (fresh browser context): navigation
     start -> the first rows are in the DOM with the expected run names; bytes
     and requests until the page is quiet
  2. the same page reloaded warm (same context, HTTP cache filled)
  3. search: `metrics.rmse < 0.5` typed into the UI's search box, Enter ->
     the table shows the expected filtered rows
  4. chart draw of the M-point metric on its run page, cold: navigation start
     -> the chart is drawn (Slipway: the uPlot canvas has ink; MLflow: the
     Plotly line path exists); bytes of the page and of the history requests

Every wait is capped (--timeout); a cap reached is recorded as "did not finish
in N s". Prints a table of medians and ratios and, with --record, appends an
entry to bench/RESULTS.md. See bench/README.md.
"""

import argparse
import datetime
import importlib.util
import json
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
BENCH_DIR = os.path.dirname(HERE)
REPO = os.path.dirname(BENCH_DIR)


def _load_tracking():
    """bench/tracking/run.py as a module (its name would clash with this file's)."""
    path = os.path.join(BENCH_DIR, "tracking", "run.py")
    spec = importlib.util.spec_from_file_location("tracking_bench", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


tracking = _load_tracking()
log = tracking.log
TS0 = tracking.TS0
API = tracking.API
SERVERS = ("mlflow", "slipway")
CHROMIUM = os.environ.get("SLIPWAY_CHROMIUM", "/usr/bin/chromium")
FILTER = "metrics.rmse < 0.5"
CHECK_ROWS = 10  # run names compared in order after each render

FULL = dict(runs=100_000, history=1_000_000, repeats=3)
QUICK = dict(runs=2_000, history=20_000, repeats=2)

# How each UI is reached and what in its DOM means "rendered".
UI = {
    "slipway": dict(
        # The runs page of an experiment, and a run page with the chart of one metric.
        runs_url="/experiments/{exp}",
        chart_url="/experiments/{exp}/runs/{run}?metric=loss",
        row="[data-testid=runs-table] .vt-row",
        name=".run-name",
        row_index="aria-rowindex",
        search_box="input[aria-label='Filter runs']",
    ),
    "mlflow": dict(
        # MLflow 3.17 opens `#/experiments/<id>` on its GenAI overview page, not
        # on the runs table; `/runs` is the runs table (its "Training runs").
        runs_url="/#/experiments/{exp}/runs",
        # The run page's "Model metrics" tab: one Plotly chart per metric,
        # points from metrics/get-history-bulk-interval.
        chart_url="/#/experiments/{exp}/runs/{run}/model-metrics",
        row=".ag-row",
        name="a[href*='/runs/']",
        row_index="row-index",
        search_box="input[placeholder^='metrics.rmse']",
    ),
}

# Returns performance.now() once the first rows, ordered by their row index,
# carry the expected run names; false until then.
ROWS_JS = """([rowSel, nameSel, idxAttr, want]) => {
  const rows = [];
  for (const r of document.querySelectorAll(rowSel)) {
    const a = r.querySelector(nameSel);
    if (a) rows.push([parseInt(r.getAttribute(idxAttr) || '0', 10), a.textContent.trim()]);
  }
  if (rows.length < want.length) return false;
  rows.sort((x, y) => x[0] - y[0]);
  for (let i = 0; i < want.length; i++) if (rows[i][1] !== want[i]) return false;
  return performance.now();
}"""

# Chart drawn: Slipway's uPlot canvas has ink once its point count is shown.
SLIPWAY_CHART_JS = """() => {
  const p = document.querySelector('[data-testid=chart-points]');
  if (!p || !/points? drawn/.test(p.textContent)) return false;
  const c = document.querySelector('[data-testid=metric-chart] canvas');
  if (!c || !c.width || !c.height) return false;
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let ink = 0;
  for (let i = 3; i < d.length; i += 4) if (d[i] > 0) ink++;
  if (ink < 500) return false;
  return {t: performance.now(), points: parseInt(p.textContent, 10), ink};
}"""

# MLflow's Plotly chart: the line trace's SVG path exists with its points.
MLFLOW_CHART_JS = """() => {
  let best = 0;
  for (const p of document.querySelectorAll('.js-plotly-plot path.js-line')) {
    const d = p.getAttribute('d') || '';
    best = Math.max(best, d.split('L').length);
  }
  if (best < 10) return false;
  return {t: performance.now(), points: best};
}"""


# ----------------------------------------------------------------------------- data


def make_runs(n):
    """bench/tracking's runs (name, start_time, rmse, params alpha and l1_ratio)
    with one more param, a second metric and two tags."""
    runs = tracking.make_runs(n)
    rng = random.Random(20240602)
    for r in runs:
        r["params"]["optimizer"] = rng.choice(["sgd", "adam", "adamw"])
        r["accuracy"] = round(rng.random(), 6)
        r["tags"] = {"team": rng.choice(["red", "blue", "green"]),
                     "stage": rng.choice(["dev", "prod"])}
    return runs


def newest(runs, pred, k=CHECK_ROWS):
    """Names of the k newest runs (start time descending, as both UIs order
    them by default) that satisfy pred."""
    out = []
    for r in reversed(runs):
        if pred(r):
            out.append(r["name"])
            if len(out) == k:
                break
    return out


def populate_mlflow(sdir, runs, history):
    """mlflow's store the way bench/tracking fills it (mlflow_sql.populate: its
    own SqlAlchemyStore for the schema and one run, then copies of its rows),
    plus the second metric and the tags, copied the same way."""
    import mlflow_sql  # on sys.path through the tracking module

    db = os.path.join(sdir, "mlflow.db")
    exp_id, hist_rid = mlflow_sql.populate(db, os.path.join(sdir, "artifacts"), runs, history,
                                           log=log)
    by_name = {r["name"]: r for r in runs}
    conn = sqlite3.connect(db)
    conn.execute("BEGIN")
    for table in ("metrics", "latest_metrics"):
        cur = conn.execute(
            f"SELECT m.*, r.name FROM {table} m JOIN runs r ON r.run_uuid = m.run_uuid "
            "WHERE m.key = 'rmse' AND r.experiment_id = ?", (int(exp_id),))
        cols = [d[0] for d in cur.description][:-1]
        rows = []
        for row in cur.fetchall():
            m = dict(zip(cols, row[:-1]))
            m["key"] = "accuracy"
            m["value"] = by_name[row[-1]]["accuracy"]
            rows.append(m)
        conn.executemany(f"INSERT INTO {table} ({','.join(cols)}) VALUES "
                         f"({','.join('?' * len(cols))})", ([m[c] for c in cols] for m in rows))
    ids = conn.execute("SELECT run_uuid, name FROM runs WHERE experiment_id = ?",
                       (int(exp_id),)).fetchall()
    conn.executemany("INSERT INTO tags (key, value, run_uuid) VALUES (?, ?, ?)",
                     ((k, v, rid) for rid, name in ids for k, v in by_name[name]["tags"].items()))
    conn.execute("COMMIT")
    conn.close()
    log(f"  mlflow store: accuracy and tags added to {len(ids)} runs")
    return exp_id, hist_rid


def populate_slipway(port, runs, history, deadline):
    """Slipway through its REST API, as bench/tracking does: runs/create +
    log-batch per run on 4 keep-alive connections, the history in 1000-point
    log-batches. Returns (search experiment id, history experiment id, history run id)."""
    c = tracking.Client(port)
    exp_id = c.post("/experiments/create", {"name": "bench-search"})["experiment_id"]
    hist_exp = c.post("/experiments/create", {"name": "bench-history"})["experiment_id"]

    def one_run(cl, r):
        rid = cl.post("/runs/create", {
            "experiment_id": exp_id, "start_time": r["start_time"], "run_name": r["name"],
            "user_id": "bench"})["run"]["info"]["run_id"]
        cl.post("/runs/log-batch", {
            "run_id": rid,
            "metrics": [{"key": k, "value": r[k], "timestamp": r["start_time"], "step": 0}
                        for k in ("rmse", "accuracy")],
            "params": [{"key": k, "value": v} for k, v in r["params"].items()],
            "tags": [{"key": k, "value": v} for k, v in r["tags"].items()]})
    t = time.time()
    tracking.run_parallel(one_run, runs, 4, deadline, "runs via API", port)
    log(f"  {len(runs)} runs via API in {time.time() - t:.1f}s")

    hist_rid = c.post("/runs/create", {"experiment_id": hist_exp, "start_time": TS0,
                                       "run_name": "history"})["run"]["info"]["run_id"]

    def one_batch(cl, lo):
        cl.post("/runs/log-batch", {"run_id": hist_rid, "metrics": [
            {"key": "loss", "value": tracking.history_value(s), "timestamp": TS0 + s, "step": s}
            for s in range(lo, min(lo + 1000, history))]})
    t = time.time()
    tracking.run_parallel(one_batch, list(range(0, history, 1000)), 2, deadline,
                          "history via API", port)
    log(f"  {history} history points via API in {time.time() - t:.1f}s")
    return exp_id, hist_exp, hist_rid


def experiment_id(port, name):
    c = tracking.Client(port)
    return c.get("/experiments/get-by-name", experiment_name=name)["experiment"]["experiment_id"]


# ----------------------------------------------------------------------------- browser


class Net:
    """What one page fetched since the last reset(), from Chrome's DevTools
    protocol: requests sent and bytes received (Network.loadingFinished
    encodedDataLength: headers and body as they came over the wire; 0 for a
    response from the HTTP cache). Requests sent before the reset are not
    counted nor waited for."""

    def __init__(self, context, page):
        self.cdp = context.new_cdp_session(page)
        self.reset()
        self.history = []  # Playwright responses of metric-history requests
        page.on("response", lambda r: "/metrics/get-history" in r.url and self.history.append(r))
        self.cdp.on("Network.requestWillBeSent", self._sent)
        self.cdp.on("Network.loadingFinished", self._done)
        self.cdp.on("Network.loadingFailed", self._failed)
        self.cdp.send("Network.enable")

    def reset(self):
        self.urls = {}  # request id -> url, for requests sent since the reset
        self.inflight = set()
        self.requests = 0
        self.bytes = 0
        self.history_bytes = 0
        self.cached = 0
        self.history = []
        self.last_event = time.perf_counter()

    def _sent(self, e):
        url = e["request"]["url"]
        if url.startswith("data:"):
            return
        if e["requestId"] not in self.urls:  # a redirect reuses the id
            self.requests += 1
        self.urls[e["requestId"]] = url
        self.inflight.add(e["requestId"])
        self.last_event = time.perf_counter()

    def _done(self, e):
        url = self.urls.get(e["requestId"])
        if url is None:
            return
        n = int(e.get("encodedDataLength", 0))
        self.bytes += n
        if "/metrics/get-history" in url:
            self.history_bytes += n
        if n == 0:
            self.cached += 1
        self.inflight.discard(e["requestId"])
        self.last_event = time.perf_counter()

    def _failed(self, e):
        self.inflight.discard(e["requestId"])
        self.last_event = time.perf_counter()

    def quiet(self, page, idle_s=1.0, cap_s=10.0):
        """Wait until no request is in flight and nothing happened for idle_s,
        at most cap_s. Returns the URLs still in flight at the cap."""
        end = time.perf_counter() + cap_s
        while time.perf_counter() < end:
            page.wait_for_timeout(100)  # lets Playwright deliver the events
            if not self.inflight and time.perf_counter() - self.last_event >= idle_s:
                return []
        return sorted({urllib.parse.urlsplit(self.urls[i]).path for i in self.inflight})

    def history_points(self):
        """Points in the metric-history responses received since the reset."""
        n = 0
        for r in self.history:
            try:
                body = r.json()
            except Exception:  # noqa: BLE001 - a cancelled or non-JSON response
                continue
            n += len(body.get("metrics", []))
        return n

    def snapshot(self):
        return dict(requests=self.requests, bytes=self.bytes, history_bytes=self.history_bytes,
                    cached=self.cached)


class DidNotFinish(Exception):
    pass


def wait_js(page, js, arg, timeout_s):
    from playwright.sync_api import TimeoutError as PwTimeout
    try:
        h = page.wait_for_function(js, arg=arg, polling="raf", timeout=timeout_s * 1000)
    except PwTimeout:
        raise DidNotFinish(f"did not finish in {timeout_s:.0f} s") from None
    return h.json_value()


def measure_server(kind, browser, base, ids, runs, cfg, args, shots, out):
    """Runs the browser workloads against one server's UI; fills out[...]."""
    ui = UI[kind]
    exp, hist_exp, hist_rid = ids
    row_args = [ui["row"], ui["name"], ui["row_index"]]
    want_all = newest(runs, lambda r: True)
    want_filtered = newest(runs, lambda r: r["rmse"] < 0.5)
    if want_all == want_filtered:
        out["notes"].append("the newest runs all match the filter: the search check is weak")
    timeout = args.timeout
    for key in ("first", "warm", "search", "chart"):
        out[key] = []

    def attempt(key, fn):
        """One measurement; a cap reached or an error is recorded, and the
        measurement is not repeated after it (or after one slower than --slow)."""
        if out.get(key + "_error"):
            return
        prev = [x["ms"] for x in out[key]]
        if prev and prev[-1] > args.slow * 1000:
            return
        try:
            out[key].append(fn())
        except DidNotFinish as e:
            out[key + "_error"] = str(e)
            log(f"    {key}: {e}")
        except Exception as e:  # noqa: BLE001 - recorded in the results
            out[key + "_error"] = f"{type(e).__name__}: {str(e)[:300]}"
            log(f"    {key}: FAILED {out[key + '_error']}")

    for rep in range(cfg["repeats"]):
        context = browser.new_context(viewport={"width": 1360, "height": 900}, base_url=base)
        page = context.new_page()
        page.on("pageerror", lambda e: out["page_errors"].append(str(e)[:200]))
        net = Net(context, page)
        try:
            def first():
                net.reset()
                page.goto(ui["runs_url"].format(exp=exp), wait_until="commit",
                          timeout=timeout * 1000)
                t = wait_js(page, ROWS_JS, row_args + [want_all], timeout)
                at = net.snapshot()
                left = net.quiet(page)
                r = dict(ms=t, at_render=at, in_flight_at_cap=left, **net.snapshot())
                log(f"    first render {t:.0f} ms, {r['bytes'] / 1e3:.0f} KB in "
                    f"{r['requests']} requests")
                if rep == 0:
                    page.screenshot(path=os.path.join(shots, f"{kind}-runs.png"))
                return r
            attempt("first", first)

            def warm():
                net.reset()
                page.reload(wait_until="commit", timeout=timeout * 1000)
                t = wait_js(page, ROWS_JS, row_args + [want_all], timeout)
                left = net.quiet(page)
                r = dict(ms=t, in_flight_at_cap=left, **net.snapshot())
                log(f"    warm reload {t:.0f} ms, {r['bytes'] / 1e3:.0f} KB in "
                    f"{r['requests']} requests ({r['cached']} from cache)")
                return r
            attempt("warm", warm)

            def search():
                box = page.locator(ui["search_box"]).first
                box.fill(FILTER)
                net.reset()
                t0 = page.evaluate("performance.now()")
                box.press("Enter")
                t = wait_js(page, ROWS_JS, row_args + [want_filtered], timeout)
                left = net.quiet(page)
                r = dict(ms=t - t0, in_flight_at_cap=left, **net.snapshot())
                log(f"    search {r['ms']:.0f} ms, {r['bytes'] / 1e3:.0f} KB in "
                    f"{r['requests']} requests")
                if rep == 0:
                    page.screenshot(path=os.path.join(shots, f"{kind}-search.png"))
                return r
            if "first_error" not in out and "warm_error" not in out:
                attempt("search", search)
        finally:
            context.close()

        context = browser.new_context(viewport={"width": 1360, "height": 900}, base_url=base)
        page = context.new_page()
        page.on("pageerror", lambda e: out["page_errors"].append(str(e)[:200]))
        net = Net(context, page)
        try:
            def chart():
                net.reset()
                page.goto(ui["chart_url"].format(exp=hist_exp, run=hist_rid),
                          wait_until="commit", timeout=timeout * 1000)
                js = SLIPWAY_CHART_JS if kind == "slipway" else MLFLOW_CHART_JS
                got = wait_js(page, js, None, timeout)
                left = net.quiet(page)
                r = dict(ms=got["t"], points=net.history_points(), in_flight_at_cap=left,
                         **net.snapshot())
                if kind == "slipway" and got["points"] != r["points"]:
                    out["notes"].append(f"chart: {r['points']} points received, "
                                        f"{got['points']} drawn")
                log(f"    chart {r['ms']:.0f} ms, {r['points']} points received, "
                    f"{r['bytes'] / 1e3:.0f} KB ({r['history_bytes'] / 1e3:.0f} KB history) in "
                    f"{r['requests']} requests")
                if rep == 0:
                    page.screenshot(path=os.path.join(shots, f"{kind}-chart.png"))
                return r
            attempt("chart", chart)
        finally:
            context.close()


def bench_server(kind, sdir, browser, runs, cfg, args, out):
    """Fill a fresh store, start the server on it, measure its UI, stop it."""
    t = time.time()
    os.makedirs(sdir, exist_ok=True)
    if kind == "mlflow":
        exp, hist_rid = populate_mlflow(sdir, runs, cfg["history"])
        out["populate"] = ("mlflow_sql.populate (bench/tracking) + accuracy and tags rows "
                           "copied the same way")
    else:
        srv = tracking.Server(kind, sdir, args)
        srv.start(timeout=180)
        try:
            exp, _, hist_rid = populate_slipway(srv.port, runs, cfg["history"],
                                                time.time() + args.populate_budget)
        finally:
            srv.stop()
        out["populate"] = "REST API: runs/create + log-batch per run; 1000-point log-batches"
    out["populate_s"] = time.time() - t
    log(f"  populated in {out['populate_s']:.0f}s")

    srv = tracking.Server(kind, sdir, args)
    srv.start(timeout=300)
    out["command"] = " ".join(srv.command())
    out["page_errors"] = []
    out["notes"] = []
    try:
        hist_exp = experiment_id(srv.port, "bench-history")
        out["load_start"] = tracking.loadavg()
        measure_server(kind, browser, f"http://127.0.0.1:{srv.port}",
                       (exp, hist_exp, hist_rid), runs, cfg, args, args.shots, out)
        out["load_end"] = tracking.loadavg()
        rss = srv.peak_rss_mb()
        out["rss_mb"] = rss[0]
    finally:
        srv.stop()


# ----------------------------------------------------------------------------- report


def med(res, key, field="ms"):
    vals = [x[field] for x in res.get(key, []) if x.get(field) is not None]
    return statistics.median(vals) if vals else None


ROWS = [
    # label, measurement, field, scale, format
    ("runs page first render, cold, ms", "first", "ms", 1, "{:.0f}"),
    ("runs page bytes, cold, KB", "first", "bytes", 1e-3, "{:.0f}"),
    ("runs page requests, cold", "first", "requests", 1, "{:.0f}"),
    ("runs page reload, warm, ms", "warm", "ms", 1, "{:.0f}"),
    ("runs page bytes, warm, KB", "warm", "bytes", 1e-3, "{:.1f}"),
    (f"search `{FILTER}`, ms", "search", "ms", 1, "{:.0f}"),
    ("search bytes, KB", "search", "bytes", 1e-3, "{:.1f}"),
    ("chart draw, cold, ms", "chart", "ms", 1, "{:.0f}"),
    ("chart page bytes, cold, KB", "chart", "bytes", 1e-3, "{:.0f}"),
    ("chart history requests, KB", "chart", "history_bytes", 1e-3, "{:.1f}"),
    ("chart points received (history requests)", "chart", "points", 1, "{:.0f}"),
]


def cell(res, kind, key, field, scale, fmt):
    r = res.get(kind)
    if r is None:
        return "n/a", None
    if r.get("skipped"):
        return "n/a", None
    v = med(r, key, field)
    if v is None:
        err = r.get(key + "_error") or r.get("error")
        return (err or "n/a"), None
    return fmt.format(v * scale), v * scale


def table(res, cfg):
    head = ["workload", "mlflow UI", "slipway UI", "mlflow/slipway"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for label, key, field, scale, fmt in ROWS:
        label = label.replace("chart", f"{cfg['history']:,}-point chart", 1) \
            if label.startswith("chart draw") else label
        if key in ("first", "warm", "search"):
            label += f" ({cfg['runs']:,} runs)" if label.startswith("runs page first") else ""
        (m_s, m), (s_s, s) = (cell(res, k, key, field, scale, fmt) for k in SERVERS)
        if field == "points" or not m or not s:
            r = "n/a" if field != "points" else ""
            if field != "points" and s and not m and res.get("mlflow", {}).get(key + "_error"):
                r = "> " + ratio_bound(res["mlflow"][key + "_error"], s, field)
        else:
            x = m / s
            r = f"{x:.0f}x" if x >= 100 else f"{x:.1f}x"
        lines.append(f"| {label} | {m_s} | {s_s} | {r} |")
    return "\n".join(lines)


def ratio_bound(err, s, field):
    """For a timed-out MLflow figure: the ratio it is at least."""
    import re
    m = re.search(r"in (\d+) s", err)
    if field == "ms" and m:
        x = int(m.group(1)) * 1000 / s
        return f"{x:.0f}x" if x >= 100 else f"{x:.1f}x"
    return "n/a"


def notes(res, cfg):
    out = []
    for k in SERVERS:
        r = res.get(k)
        if r is None:
            continue
        if r.get("skipped"):
            out.append(f"- {k}: skipped: {r['skipped']}")
            continue
        if r.get("error"):
            out.append(f"- {k}: FAILED: {r['error']}")
        for key in ("first", "warm", "search", "chart"):
            xs = r.get(key, [])
            if xs:
                out.append(f"- {k} {key}: " + ", ".join(
                    f"{x['ms']:.0f} ms/{x['bytes'] / 1e3:.0f} KB/{x['requests']} req"
                    + (f" (still in flight 10 s after: {', '.join(x['in_flight_at_cap'])})"
                       if x.get("in_flight_at_cap") else "") for x in xs))
            if r.get(key + "_error"):
                out.append(f"- {k} {key}: {r[key + '_error']}")
        for x in r.get("first", [])[:1]:
            a = x["at_render"]
            out.append(f"- {k} first render: {a['bytes'] / 1e3:.0f} KB in {a['requests']} "
                       f"requests had arrived when the rows showed")
        for n in dict.fromkeys(r.get("notes", [])):
            out.append(f"- {k}: {n}")
        if r.get("page_errors"):
            out.append(f"- {k}: uncaught page errors: {r['page_errors'][:3]}")
        if "populate" in r:
            out.append(f"- {k} store populated by {r['populate']} in {r['populate_s']:.0f}s")
        if "command" in r:
            out.append(f"- {k} server (load average {r.get('load_start', '?')} at the start of "
                       f"the browser workloads, {r.get('load_end', '?')} at the end; peak RSS "
                       f"{r.get('rss_mb', 0):.0f} MB): `{r['command']}`")
    return "\n".join(out)


def versions(browser_version):
    v = {"chromium": browser_version}
    try:
        p = subprocess.run(["mlflow", "--version"], capture_output=True, text=True, timeout=60)
        v["mlflow"] = (p.stdout + p.stderr).strip().splitlines()[0]
    except (OSError, IndexError, subprocess.TimeoutExpired):
        v["mlflow"] = "not available"
    try:
        from importlib.metadata import version
        v["playwright"] = "playwright " + version("playwright")
    except Exception:  # noqa: BLE001
        v["playwright"] = "playwright ?"
    return v


def record(path, argv, res, cfg, started, elapsed, args, v):
    entry = [
        f"\n## {started:%Y-%m-%d %H:%M} UTC: ui, {'quick' if args.quick else 'full'} mode\n",
        f"- command: `{argv}`",
        f"- machine: {tracking.machine()}; load average at the end {tracking.loadavg()}",
        f"- versions: {v['mlflow']} (its own UI); Chromium {v['chromium']} (Debian, headless); "
        f"{v['playwright']}; slipway binary `{os.path.relpath(args.slipway_src, REPO)}` built "
        f"{getattr(args, 'slipway_mtime', '?')}, sha256 {getattr(args, 'slipway_sha', '?')}...",
        f"- sizes: {cfg['runs']:,} runs (2 metrics, 3 params, 2 tags each) in one experiment, "
        f"one run with a {cfg['history']:,}-point metric; {cfg['repeats']} repeats (median; "
        f"a measurement slower than {args.slow:.0f} s is not repeated), every wait capped at "
        f"{args.timeout:.0f} s; took {elapsed / 60:.1f} min",
        "",
        table(res, cfg),
        "",
        "Times are from navigation start (`performance.now()` in the page) to the condition, "
        "for search from the Enter key. Bytes are Chrome's encodedDataLength (headers + body "
        "on the wire) summed until the page was quiet for 1 s (at most 10 s). "
        "mlflow/slipway > 1 means Slipway's UI is faster or smaller.",
        "",
        notes(res, cfg),
        "",
    ]
    text = "\n".join(entry)
    if getattr(args, "work", None):
        text = text.replace(args.work, "$WORKDIR")
    with open(path, "a") as f:
        f.write(text)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true",
                    help=f"smoke run: {QUICK['runs']:,} runs, {QUICK['history']:,} points")
    ap.add_argument("--servers", default=",".join(SERVERS), help="comma list among mlflow,slipway")
    ap.add_argument("--slipway-bin", default=os.path.join(REPO, "build", "slipway"))
    ap.add_argument("--mlflow-workers", type=int, default=0,
                    help="pass --workers to mlflow server (default: mlflow's own default)")
    ap.add_argument("--runs", type=int, help="runs in the experiment (default 100000)")
    ap.add_argument("--history", type=int, help="points of the long metric (default 1000000)")
    ap.add_argument("--repeats", type=int, help="repeats of each measurement (median)")
    ap.add_argument("--timeout", type=float, default=300, help="cap of every wait, seconds")
    ap.add_argument("--slow", type=float, default=60,
                    help="a measurement slower than this (s) is not repeated")
    ap.add_argument("--populate-budget", type=float, default=1800)
    ap.add_argument("--workdir", help="where stores go (default: a new temp dir, removed after)")
    ap.add_argument("--keep", action="store_true", help="keep the work dir (screenshots, logs)")
    ap.add_argument("--record", action="store_true", help="append an entry to bench/RESULTS.md")
    ap.add_argument("--no-record", dest="record", action="store_false")
    ap.add_argument("--results", default=os.path.join(BENCH_DIR, "RESULTS.md"))
    args = ap.parse_args()

    cfg = dict(QUICK if args.quick else FULL)
    for k in ("runs", "history", "repeats"):
        if getattr(args, k):
            cfg[k] = getattr(args, k)
    kinds = [k.strip() for k in args.servers.split(",") if k.strip()]
    for k in kinds:
        if k not in SERVERS:
            ap.error(f"unknown server {k}")
    if not os.access(CHROMIUM, os.X_OK):
        sys.exit(f"no chromium at {CHROMIUM} (apt-get install chromium, or set SLIPWAY_CHROMIUM)")
    from playwright.sync_api import sync_playwright

    started = datetime.datetime.utcnow()
    t_all = time.time()
    work = os.path.abspath(args.workdir or tempfile.mkdtemp(prefix="slipway-bench-ui-"))
    os.makedirs(work, exist_ok=True)
    args.shots = os.path.join(work, "screenshots")
    os.makedirs(args.shots, exist_ok=True)
    log(f"work dir {work}; {tracking.machine()}")
    runs = make_runs(cfg["runs"])
    args.slipway_src = args.slipway_bin
    res = {}
    with sync_playwright() as p:
        # Playwright starts chromium with --no-sandbox (chromium_sandbox=False), which root needs.
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        v = versions(browser.version)
        for kind in kinds:
            if kind == "slipway":
                # Copied when its turn comes (the build may replace it meanwhile).
                tracking.snapshot_slipway(args, work)
            exe = {"mlflow": "mlflow", "slipway": args.slipway_bin}[kind]
            if shutil.which(exe) is None:
                res[kind] = {"skipped": f"`{exe}` not found"}
                log(f"== {kind}: skipped, {exe} not found")
                continue
            log(f"== {kind}")
            res[kind] = {}
            try:
                bench_server(kind, os.path.join(work, kind), browser, runs, cfg, args, res[kind])
            except Exception as e:  # noqa: BLE001 - recorded, then the next server runs
                res[kind]["error"] = f"{type(e).__name__}: {e}"
                log(f"  {kind} FAILED: {res[kind]['error']}")
        browser.close()
    elapsed = time.time() - t_all

    with open(os.path.join(work, "results.json"), "w") as f:
        json.dump(res, f, indent=1, default=str)
    print(table(res, cfg))
    print()
    print(notes(res, cfg))
    argv = " ".join(["python3", os.path.relpath(os.path.abspath(sys.argv[0]), REPO)] + sys.argv[1:])
    if args.record:
        args.work = work
        record(args.results, argv, res, cfg, started, elapsed, args, v)
        log(f"appended to {args.results}")
    if not args.keep and not args.workdir:
        shutil.rmtree(work, ignore_errors=True)
    else:
        log(f"kept {work} (screenshots in {args.shots})")
    log(f"total {elapsed / 60:.1f} min")
    failed = any(r.get("error") or any(k.endswith("_error") for k in r) for r in res.values())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
