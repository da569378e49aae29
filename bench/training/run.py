#!/usr/bin/env python3
"""Tuning and training, side by side: Slipway's TPE against Optuna's TPESampler,
and `slipway train` end to end against the same work in Python (scikit-learn +
xgboost + optuna, every trial logged to `mlflow server`).

One command, on the same data, the same model family (XGBoost, `--rounds`
boosting rounds), the same search space (bench/training/space.py: six
dimensions), the same budget (`--trials`
trials of `--folds`-fold stratified CV, ROC AUC) and the same cores, for
each problem of `--problems` and each of `--seeds` seeds:

  cancer     scikit-learn's breast cancer set: 569 rows, 30 features; its
             holdout (114 rows) tells the tuners apart by a pair or two.
  synthetic  scikit-learn's make_classification (fixed random_state): 3,000
             rows, 20 features (8 informative, 4 redundant, 3% of labels
             flipped); a holdout of 600 rows.

  1. `slipway train` with the spec, tracked by a `slipway server` (timed:
     the command, from start to exit). Its holdout rows (from the run's
     `evaluation/holdout_predictions.csv`) become the holdout of every other
     side for that seed, so all score the same rows.
  2. tpe: `slipway train --no-tracking` (the tuner and the final fit, nothing
     logged; with --quality-only not run: step 1's scores and params are its)
     against Optuna in this process: `TPESampler(seed)`, the same
     folds scheme (scikit-learn's StratifiedKFold on the same training rows),
     `xgb.train`, then the best params refit on the training rows and scored
     on the holdout (timed: from `create_study` to the holdout score; the
     imports are not). Both sides' best params are also refit by Python's
     xgboost on the same rows and scored on the same holdout, so the
     tuners' choices are compared apart from the two XGBoost builds.
  3. e2e: `python3 bench/training/optuna_mlflow.py` (a subprocess: its
     interpreter start and imports count, as the slipway binary's start
     does) against a running `mlflow server`, each trial a child run, the
     model logged with mlflow.xgboost; against step 1's time.

Both servers are up before the first timing; the steps run seed by seed
(1, 2, 3 for seed 1, then for seed 2, ...), problem by problem. Prints,
per problem, medians over the seeds and the ratios (> 1: Slipway takes less
time), the spread of the holdout scores and of their per-seed difference,
and with --record appends them to bench/RESULTS.md with the command, the
machine, the versions and the load average. --quality-only leaves the wall
and CPU times out of the tables (for runs on a loaded machine: the
proposals, and so the scores, do not depend on the load; the times do).

    python3 bench/training/run.py --quick          # 2 seeds, 20 trials, both problems
    python3 bench/training/run.py --record         # 5 seeds, 50 trials, 5 folds
    python3 bench/training/run.py --problems cancer --parts tpe --seeds 20 --quality-only
"""
from __future__ import annotations

import argparse
import datetime
import io
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
BENCH_DIR = os.path.dirname(HERE)
ROOT = os.path.dirname(BENCH_DIR)
sys.path.insert(0, os.path.join(BENCH_DIR, "tracking"))  # before this folder: its run.py
from run import Server, loadavg, log, machine, snapshot_slipway  # noqa: E402  (bench/tracking)
from space import SPACE, suggest, yaml_space  # noqa: E402

def cancer_csv(path: str) -> None:
    from sklearn import datasets

    frame = datasets.load_breast_cancer(as_frame=True).frame.rename(
        columns={"target": "malignant"})
    frame.columns = [c.replace(" ", "_") for c in frame.columns]
    frame.to_csv(path, index=False)


def synthetic_csv(path: str) -> None:
    import pandas as pd
    from sklearn import datasets

    x, y = datasets.make_classification(n_samples=3000, n_features=20, n_informative=8,
                                        n_redundant=4, flip_y=0.03, class_sep=0.8,
                                        random_state=14)
    frame = pd.DataFrame(x, columns=[f"x{i}" for i in range(x.shape[1])])
    frame["label"] = y
    frame.to_csv(path, index=False, float_format="%.6g")


# name: (writes its CSV, its target column, what RESULTS.md says of it)
PROBLEMS = {
    "cancer": (cancer_csv, "malignant", "breast cancer (569 rows, 30 features; holdout 114 "
               "rows)"),
    "synthetic": (synthetic_csv, "label", "make_classification (3,000 rows, 20 features: 8 "
                  "informative, 4 redundant, flip_y 0.03, class_sep 0.8, random_state 14; "
                  "holdout 600 rows)"),
}


def spec_text(args, problem: str, seed: int) -> str:
    return (f"data: {problem}@1\ntarget: {PROBLEMS[problem][1]}\ntask: binary\n"
            f"model:\n  type: xgboost\n  params: {{num_boost_round: {args.rounds}}}\n"
            f"search:\n  algorithm: tpe\n  trials: {args.trials}\n  space:\n"
            + yaml_space("    ")
            + f"cv: {{scheme: stratified, folds: {args.folds}}}\nholdout: 0.2\n"
              f"metric: roc_auc\nseed: {seed}\n")


def children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def self_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def timed(cmd: list[str], cwd: str, env: dict,
          server: Server | None = None) -> tuple[float, float, subprocess.CompletedProcess]:
    """Wall seconds, CPU seconds (the command's, plus the server's process
    tree's over the same time: a figure the load of the shared cores barely
    moves), and the output."""
    cpu0, server0 = children_cpu(), server.cpu_seconds()[0] if server else 0.0
    t = time.perf_counter()
    out = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=3600)
    seconds = time.perf_counter() - t
    cpu = children_cpu() - cpu0 + (server.cpu_seconds()[0] - server0 if server else 0.0)
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {out.returncode}: {out.stderr[-2000:]}")
    return seconds, cpu, out


def holdout_auc_of(stdout: str) -> float:
    return float(re.search(r"^roc_auc \*\s+\S+\s+\S+\s+(\S+)$", stdout, re.M).group(1))


def best_params_of(stdout: str) -> dict:
    line = re.search(r"^best      trial \d+: (.*)  roc_auc (\S+)$", stdout, re.M)
    params = dict(kv.split("=", 1) for kv in line.group(1).split())
    kinds = {name: kind for name, kind, _, _ in SPACE}
    return {k: int(float(v)) if kinds[k] == "int" else float(v) for k, v in params.items()}


def slipway_tracked(args, ws: str, server: Server, problem: str, seed: int, env: dict) -> dict:
    import requests

    with open(os.path.join(ws, f"spec-{problem}-{seed}.yaml"), "w") as f:
        f.write(spec_text(args, problem, seed))
    load0 = loadavg()
    seconds, cpu, out = timed([args.slipway_bin, "train", f"spec-{problem}-{seed}.yaml",
                               "--tracking-uri", f"http://127.0.0.1:{server.port}",
                               "--experiment", f"bench-{problem}-{seed}", "--jobs",
                               str(args.jobs)], ws, env, server)
    run_id = re.search(r"^logged    run ([0-9a-f]+): model at runs:/", out.stdout, re.M).group(1)
    base = f"http://127.0.0.1:{server.port}"
    run = requests.get(f"{base}/api/2.0/mlflow/runs/get", params={"run_id": run_id},
                       timeout=30).json()["run"]
    root = run["info"]["artifact_uri"].removeprefix("mlflow-artifacts:").lstrip("/")
    csv = requests.get(f"{base}/api/2.0/mlflow-artifacts/artifacts/{root}/"
                       "evaluation/holdout_predictions.csv", timeout=30).text
    rows = [int(line.split(",", 1)[0]) for line in csv.splitlines()[1:] if line]
    metrics = {m["key"]: m["value"] for m in run["data"]["metrics"]}
    children = requests.post(f"{base}/api/2.0/mlflow/runs/search", json={
        "experiment_ids": [run["info"]["experiment_id"]],
        "filter": f"tags.mlflow.parentRunId = '{run_id}'", "max_results": 1000},
        timeout=30).json().get("runs", [])
    return {"seconds": seconds, "cpu": cpu, "holdout_rows": rows,
            "holdout_auc": metrics["holdout.roc_auc"],
            "best_cv": metrics["cv.roc_auc.mean"], "best_params": best_params_of(out.stdout),
            "children": len(children), "load": f"{load0} -> {loadavg()}"}


def slipway_untracked(args, ws: str, problem: str, seed: int, env: dict,
                      binary: str | None = None) -> dict:
    load0 = loadavg()
    seconds, cpu, out = timed([binary or args.slipway_bin, "train", f"spec-{problem}-{seed}.yaml",
                               "--no-tracking", "--jobs", str(args.jobs)], ws, env)
    best = re.search(r"^best      trial \d+: .*  roc_auc (\S+)$", out.stdout, re.M)
    return {"seconds": seconds, "cpu": cpu, "holdout_auc": holdout_auc_of(out.stdout),
            "best_cv": float(best.group(1)), "best_params": best_params_of(out.stdout),
            "load": f"{load0} -> {loadavg()}"}


class Data:
    def __init__(self, csv: str, target: str, holdout_rows: list[int]):
        import numpy as np
        import pandas as pd

        frame = pd.read_csv(csv)
        self.y = frame[target].to_numpy()
        self.x = frame.drop(columns=[target]).to_numpy(dtype=np.float32)
        self.holdout = np.array(sorted(holdout_rows))
        self.training = np.setdiff1d(np.arange(len(frame)), self.holdout)


def refit_auc(data: Data, params: dict, seed: int, rounds: int, nthread: int) -> float:
    import xgboost as xgb
    from sklearn.metrics import roc_auc_score

    full = {"objective": "binary:logistic", "tree_method": "hist", "seed": seed,
            "nthread": nthread, "verbosity": 0, **params}
    booster = xgb.train(full, xgb.DMatrix(data.x[data.training], label=data.y[data.training]),
                        num_boost_round=rounds)
    return float(roc_auc_score(data.y[data.holdout],
                               booster.predict(xgb.DMatrix(data.x[data.holdout]))))


def optuna_in_process(args, data: Data, seed: int) -> dict:
    import numpy as np
    import optuna
    import xgboost as xgb
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    nthread = max(1, (os.cpu_count() or 1) // args.jobs)
    load0 = loadavg()
    cpu0 = self_cpu()
    t = time.perf_counter()
    x, y = data.x[data.training], data.y[data.training]
    folds = list(StratifiedKFold(args.folds, shuffle=True, random_state=seed).split(x, y))
    base = {"objective": "binary:logistic", "tree_method": "hist", "seed": seed,
            "nthread": nthread, "verbosity": 0}

    def objective(trial):
        params = {**base, **suggest(trial)}
        scores = []
        for tr, va in folds:
            booster = xgb.train(params, xgb.DMatrix(x[tr], label=y[tr]),
                                num_boost_round=args.rounds)
            scores.append(roc_auc_score(y[va], booster.predict(xgb.DMatrix(x[va]))))
        return float(np.mean(scores))

    study = optuna.create_study(direction="maximize",
                                sampler=optuna.samplers.TPESampler(seed=seed))
    study.optimize(objective, n_trials=args.trials, n_jobs=args.jobs)
    auc = refit_auc(data, study.best_params, seed, args.rounds, nthread)
    seconds = time.perf_counter() - t
    return {"seconds": seconds, "cpu": self_cpu() - cpu0, "holdout_auc": auc,
            "best_cv": study.best_value,
            "best_params": study.best_params, "load": f"{load0} -> {loadavg()}"}


def python_e2e(args, ws: str, server: Server, problem: str, seed: int, rows: list[int],
               env: dict) -> dict:
    from mlflow.tracking import MlflowClient

    rows_file = os.path.join(ws, f"holdout-{problem}-{seed}.txt")
    with open(rows_file, "w") as f:
        f.write("\n".join(map(str, rows)) + "\n")
    url = f"http://127.0.0.1:{server.port}"
    load0 = loadavg()
    seconds, cpu, out = timed([sys.executable, os.path.join(HERE, "optuna_mlflow.py"),
                               "--data", os.path.join(ws, f"{problem}.csv"), "--target",
                               PROBLEMS[problem][1], "--holdout-rows", rows_file,
                               "--tracking-uri", url,
                               "--experiment", f"bench-{problem}-{seed}", "--seed", str(seed),
                               "--trials", str(args.trials), "--folds", str(args.folds),
                               "--rounds", str(args.rounds), "--jobs", str(args.jobs)], ws, env,
                              server)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    client = MlflowClient(url)
    experiment = client.get_experiment_by_name(f"bench-{problem}-{seed}")
    runs = client.search_runs([experiment.experiment_id], max_results=1000)
    return {"seconds": seconds, "cpu": cpu, "holdout_auc": result["holdout_roc_auc"],
            "best_cv": result["best_cv"], "best_params": result["best_params"],
            "children": sum(1 for r in runs if "mlflow.parentRunId" in r.data.tags),
            "load": f"{load0} -> {loadavg()}"}


def median(values):
    return statistics.median(values) if values else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="2 seeds, 20 trials")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--first-seed", type=int, default=1, help="seeds FIRST..FIRST+SEEDS-1")
    ap.add_argument("--trials", type=int, default=50)
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=100)
    ap.add_argument("--jobs", type=int, default=1, help="trials at once, on both sides")
    ap.add_argument("--parts", default="tpe,e2e")
    ap.add_argument("--problems", default="cancer,synthetic",
                    help=f"comma-separated, of {', '.join(PROBLEMS)}")
    ap.add_argument("--save-json", help="write every side's per-seed results to this file")
    ap.add_argument("--compare-bin", help="another slipway binary (an earlier build): its "
                    "`train --no-tracking` on the same specs, reported beside (tpe part)")
    ap.add_argument("--report-json", help="print (and with --record, record) the report of a "
                    "--save-json file, finished or not, instead of running")
    ap.add_argument("--quality-only", action="store_true",
                    help="leave wall and CPU times out of the report (a loaded machine)")
    ap.add_argument("--omp-wait-policy", default="passive", choices=["passive", "active",
                                                                      "default"],
                    help="OMP_WAIT_POLICY for every side (XGBoost's OpenMP threads spin "
                         "on shared cores otherwise)")
    ap.add_argument("--slipway-bin", default=os.environ.get(
        "SLIPWAY_BINARY", os.path.join(ROOT, "build", "slipway")))
    ap.add_argument("--mlflow-workers", type=int, default=0)
    ap.add_argument("--workdir")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--record", action="store_true", help="append the result to bench/RESULTS.md")
    args = ap.parse_args()
    if args.quick:
        args.seeds, args.trials = min(args.seeds, 2), min(args.trials, 20)
    parts = set(args.parts.split(","))
    problems = args.problems.split(",")
    unknown = [p for p in problems if p not in PROBLEMS]
    if unknown:
        ap.error(f"--problems: unknown {', '.join(unknown)} (known: {', '.join(PROBLEMS)})")
    if args.report_json:
        started = datetime.datetime.now(datetime.timezone.utc)
        with open(args.report_json) as f:
            saved = json.load(f)
        vars(args).update(saved["binary"])
        if "started" in saved["binary"]:
            started = datetime.datetime.fromisoformat(saved["binary"]["started"])
        res = {problem: {side: {int(seed): r for seed, r in runs.items()}
                         for side, runs in sides.items()}
               for problem, sides in saved["results"].items()}
        finish(res, args, parts, started)
        return
    env = dict(os.environ)
    env.pop("SLIPWAY_WORKSPACE", None)
    compare_bin = None
    if args.omp_wait_policy != "default":
        env["OMP_WAIT_POLICY"] = os.environ["OMP_WAIT_POLICY"] = args.omp_wait_policy
    work = args.workdir or tempfile.mkdtemp(prefix="slipway-trainbench-")
    started = args.started = datetime.datetime.now(datetime.timezone.utc)
    snapshot_slipway(args, work)
    if args.compare_bin:
        compare_bin = os.path.join(work, "slipway-compared")
        shutil.copy2(args.compare_bin, compare_bin)
    ws = os.path.join(work, "ws")
    shutil.rmtree(ws, ignore_errors=True)
    os.makedirs(ws)
    for problem in problems:
        PROBLEMS[problem][0](os.path.join(ws, f"{problem}.csv"))
        subprocess.run([args.slipway_bin, "data", "add", f"{problem}.csv", "--name", problem],
                       cwd=ws, env=env, check=True, capture_output=True)
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    res = {problem: {"slipway": {}, "slipway_untracked": {}, "optuna": {}, "python_e2e": {},
                     "slipway_compared": {}}
           for problem in problems}
    servers = {}
    try:
        # Both servers up before the first timing, and every side run once
        # per seed in turn, so a change of the machine's load in the middle
        # of the bench falls on every side alike.
        servers["slipway"] = Server("slipway", os.path.join(work, "slipway-server"), args)
        servers["slipway"].start()
        if "e2e" in parts:
            servers["mlflow"] = Server("mlflow", os.path.join(work, "mlflow-server"), args)
            servers["mlflow"].start()
        nthread = max(1, (os.cpu_count() or 1) // args.jobs)
        for problem in problems:
            out = res[problem]
            for seed in seeds:
                r = out["slipway"][seed] = slipway_tracked(args, ws, servers["slipway"], problem,
                                                           seed, env)
                log(f"{problem} seed {seed}: slipway train (tracked) {r['seconds']:.1f}s, holdout "
                    f"{r['holdout_auc']:.4f}")
                if "tpe" in parts:
                    if args.quality_only:
                        # Proposals and fits depend on neither tracking nor timing: the
                        # tracked run's scores and params are the untracked run's.
                        out["slipway_untracked"][seed] = {
                            k: out["slipway"][seed][k] for k in (
                                "seconds", "cpu", "holdout_auc", "best_cv", "best_params", "load")}
                    else:
                        r = out["slipway_untracked"][seed] = slipway_untracked(
                            args, ws, problem, seed, env)
                        log(f"{problem} seed {seed}: slipway train --no-tracking "
                            f"{r['seconds']:.1f}s, holdout {r['holdout_auc']:.4f}")
                    data = Data(os.path.join(ws, f"{problem}.csv"), PROBLEMS[problem][1],
                                out["slipway"][seed]["holdout_rows"])
                    r = out["optuna"][seed] = optuna_in_process(args, data, seed)
                    log(f"{problem} seed {seed}: optuna in process {r['seconds']:.1f}s, "
                        f"holdout {r['holdout_auc']:.4f}")
                    if compare_bin:
                        r = out["slipway_compared"][seed] = slipway_untracked(
                            args, ws, problem, seed, env, compare_bin)
                        log(f"{problem} seed {seed}: --compare-bin train --no-tracking "
                            f"{r['seconds']:.1f}s, holdout {r['holdout_auc']:.4f}")
                    for side in ("slipway_untracked", "optuna", "slipway_compared"):
                        if seed not in out[side]:
                            continue
                        r = out[side][seed]
                        r["refit_auc"] = refit_auc(data, r["best_params"], seed, args.rounds,
                                                   nthread)
                if "e2e" in parts:
                    r = out["python_e2e"][seed] = python_e2e(
                        args, ws, servers["mlflow"], problem, seed,
                        out["slipway"][seed]["holdout_rows"], env)
                    log(f"{problem} seed {seed}: python script -> mlflow server "
                        f"{r['seconds']:.1f}s, holdout {r['holdout_auc']:.4f}")
                if args.save_json:  # after every seed: a stopped run keeps what it did
                    save(args, res)
    finally:
        for server in servers.values():
            server.stop()
        if not args.keep and not args.workdir:
            shutil.rmtree(work, ignore_errors=True)
    finish(res, args, parts, started)


def save(args, res: dict) -> None:
    binary = {k: getattr(args, k) for k in ("slipway_mtime", "slipway_sha") if hasattr(args, k)}
    binary["argv"] = sys.argv[1:]
    binary["started"] = args.started.isoformat()
    if args.compare_bin:
        import hashlib

        with open(args.compare_bin, "rb") as f:
            binary["compare_sha"] = hashlib.sha256(f.read()).hexdigest()[:16]
    with open(args.save_json, "w") as f:
        json.dump({"binary": binary, "results": res}, f)


def finish(res: dict, args, parts: set, started) -> None:
    lines = []
    for problem, out in res.items():
        lines += [f"### {problem}: {PROBLEMS[problem][2]}", ""] + report(out, args, parts)
    print("\n".join(lines))
    if args.record:
        record(lines, res, args, started)


def spread(values) -> str:
    """min / lower quartile / median / upper quartile / max."""
    if len(values) < 2:
        return "n/a"
    q = statistics.quantiles(values, n=4, method="inclusive")
    return " / ".join(f"{v:.4f}" for v in (min(values), q[0], q[1], q[2], max(values)))


def paired(a: dict, b: dict, key: str) -> str:
    """Per seed a - b: how many seeds a is ahead, level, behind, and the
    median difference."""
    diffs = [a[seed][key] - b[seed][key] for seed in a if seed in b]
    ahead = sum(d > 5e-5 for d in diffs)
    behind = sum(d < -5e-5 for d in diffs)
    return (f"ahead {ahead}, level {len(diffs) - ahead - behind}, behind {behind}; "
            f"median {median(diffs):+.4f}")


def report(res: dict, args, parts: set) -> list[str]:
    def med(side, key):
        return median([r[key] for r in res[side].values()])

    n = len(res["slipway_untracked"] if "tpe" in parts else res["slipway"])

    def first5(side, key):
        return median([r[key] for seed, r in res[side].items() if seed <= 5])

    out = []
    if "tpe" in parts:
        s, o = "slipway_untracked", "optuna"
        out += ["| tpe: same data, space, budget | slipway TPE | optuna TPESampler | ratio |",
                "|---|---|---|---|"]
        if n > 5:
            out += [f"| holdout roc_auc of its own final model, median of seeds 1..5 | "
                    f"{first5(s, 'holdout_auc'):.4f} | {first5(o, 'holdout_auc'):.4f} | "
                    f"{first5(s, 'holdout_auc') - first5(o, 'holdout_auc'):+.4f} |"]
        out += [f"| best CV roc_auc, median of {n} seeds | {med(s, 'best_cv'):.4f} | "
                f"{med(o, 'best_cv'):.4f} | {med(s, 'best_cv') - med(o, 'best_cv'):+.4f} |",
                f"| holdout roc_auc of its own final model, median | {med(s, 'holdout_auc'):.4f} | "
                f"{med(o, 'holdout_auc'):.4f} | "
                f"{med(s, 'holdout_auc') - med(o, 'holdout_auc'):+.4f} |",
                f"| holdout roc_auc, its best params refit by Python xgboost, median | "
                f"{med(s, 'refit_auc'):.4f} | {med(o, 'refit_auc'):.4f} | "
                f"{med(s, 'refit_auc') - med(o, 'refit_auc'):+.4f} |",
                f"| holdout roc_auc of its own final model, min / q1 / median / q3 / max | "
                f"{spread([r['holdout_auc'] for r in res[s].values()])} | "
                f"{spread([r['holdout_auc'] for r in res[o].values()])} | |",
                f"| holdout roc_auc of its own final model, per seed slipway - optuna | "
                f"{paired(res[s], res[o], 'holdout_auc')} | | |",
                f"| holdout roc_auc refit by Python xgboost, per seed slipway - optuna | "
                f"{paired(res[s], res[o], 'refit_auc')} | | |"]
        c = "slipway_compared"
        if res.get(c):
            out += [f"| --compare-bin's TPE: holdout roc_auc of its own final model, median | "
                    f"{med(c, 'holdout_auc'):.4f} | {med(o, 'holdout_auc'):.4f} | "
                    f"{med(c, 'holdout_auc') - med(o, 'holdout_auc'):+.4f} |",
                    f"| --compare-bin's TPE: best CV roc_auc, median | {med(c, 'best_cv'):.4f} | "
                    f"{med(o, 'best_cv'):.4f} | {med(c, 'best_cv') - med(o, 'best_cv'):+.4f} |",
                    f"| --compare-bin's TPE: holdout, per seed compared - optuna | "
                    f"{paired(res[c], res[o], 'holdout_auc')} | | |",
                    f"| this binary's TPE - --compare-bin's, holdout per seed | "
                    f"{paired(res[s], res[c], 'holdout_auc')} | | |"]
        if not args.quality_only:
            out += [f"| wall s, median (tuning + final fit) | {med(s, 'seconds'):.2f} | "
                    f"{med(o, 'seconds'):.2f} | {med(o, 'seconds') / med(s, 'seconds'):.1f}x |",
                    f"| CPU s, median (the process's user + system) | {med(s, 'cpu'):.2f} | "
                    f"{med(o, 'cpu'):.2f} | {med(o, 'cpu') / med(s, 'cpu'):.1f}x |"]
        out += [""]
    if "e2e" in parts:
        s, p = "slipway", "python_e2e"
        out += ["| e2e: train + track every trial | slipway train -> slipway server | "
                "python (sklearn+xgboost+optuna) -> mlflow server | ratio |",
                "|---|---|---|---|"]
        if not args.quality_only:
            out += [f"| wall s, median of {n} seeds | {med(s, 'seconds'):.2f} | "
                    f"{med(p, 'seconds'):.2f} | {med(p, 'seconds') / med(s, 'seconds'):.1f}x |",
                    f"| CPU s, median (client + server process trees) | {med(s, 'cpu'):.2f} | "
                    f"{med(p, 'cpu'):.2f} | {med(p, 'cpu') / med(s, 'cpu'):.1f}x |"]
        out += [f"| holdout roc_auc, median of {n} seeds | {med(s, 'holdout_auc'):.4f} | "
                f"{med(p, 'holdout_auc'):.4f} | "
                f"{med(s, 'holdout_auc') - med(p, 'holdout_auc'):+.4f} |",
                f"| best CV roc_auc, median | {med(s, 'best_cv'):.4f} | {med(p, 'best_cv'):.4f} "
                f"| {med(s, 'best_cv') - med(p, 'best_cv'):+.4f} |",
                f"| child runs logged per session | "
                f"{'/'.join(str(r['children']) for r in res[s].values())} | "
                f"{'/'.join(str(r['children']) for r in res[p].values())} | |",
                ""]
    return out


def versions() -> str:
    import importlib.metadata as md

    parts = []
    for name in ("optuna", "xgboost", "scikit-learn", "mlflow"):
        try:
            parts.append(f"{name} {md.version(name)}")
        except md.PackageNotFoundError:
            parts.append(f"{name} ?")
    try:
        lib = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", "libxgboost0"],
                             capture_output=True, text=True).stdout.strip()
        parts.append(f"slipway's libxgboost {lib or '?'} (Debian)")
    except OSError:
        pass
    return ", ".join(parts)


def seeds_of(res: dict) -> str:
    seeds = sorted({seed for sides in res.values() for runs in sides.values() for seed in runs})
    return f"{seeds[0]}..{seeds[-1]}" if seeds else "none"


def record(lines: list[str], res: dict, args, started) -> None:
    argv = list(getattr(args, "argv", sys.argv[1:]))  # a --report-json: the run's command
    if "--workdir" in argv:
        argv[argv.index("--workdir") + 1] = "$WORKDIR"
    for flag, name in (("--slipway-bin", "$SLIPWAY_BINARY"), ("--compare-bin", "$COMPARE_BINARY"),
                       ("--save-json", "$JSON")):
        if flag in argv:
            argv[argv.index(flag) + 1] = name
    cmd = "python3 bench/training/run.py " + " ".join(argv)
    buf = io.StringIO()
    buf.write(f"\n## {started:%Y-%m-%d %H:%M} UTC: training (tuning and end to end)\n\n")
    buf.write(f"- command: `{cmd}`\n")
    buf.write(f"- machine: {machine()}; load average at the end {loadavg()}\n")
    buf.write(f"- versions: {versions()}; slipway binary built "
              f"{getattr(args, 'slipway_mtime', '?')}, sha256 "
              f"{getattr(args, 'slipway_sha', '?')}..."
              + (f"; --compare-bin sha256 {args.compare_sha}..." if hasattr(args, "compare_sha")
                 else "") + "\n")
    buf.write(f"- problems: {'; '.join(f'{p}: {PROBLEMS[p][2]}' for p in res)}; XGBoost "
              f"{args.rounds} rounds, {len(SPACE)}-dimension space "
              f"({', '.join(n for n, *_ in SPACE)}), {args.trials} TPE trials of {args.folds}-fold "
              f"stratified CV on roc_auc, holdout 20% (Slipway's split, the same rows for every "
              f"side), seeds {seeds_of(res)}, --jobs {args.jobs} on both sides, OMP_WAIT_POLICY "
              f"{args.omp_wait_policy}"
              + ("; quality only: the machine was shared, so no times are recorded"
                 if args.quality_only else "") + "\n\n")
    buf.write("\n".join(lines) + "\n")
    for problem, sides in res.items():
        for side, runs in sides.items():
            for seed, r in runs.items():
                extra = ", ".join(f"{k} {v:.4f}" for k, v in r.items()
                                  if k in ("best_cv", "holdout_auc", "refit_auc"))
                times = ("" if args.quality_only
                         else f"{r['seconds']:.2f}s wall, {r['cpu']:.2f}s CPU, ")
                buf.write(f"- {problem} {side} seed {seed}: {times}{extra}; load {r['load']}\n")
    with open(os.path.join(BENCH_DIR, "RESULTS.md"), "a") as f:
        f.write(buf.getvalue())


if __name__ == "__main__":
    main()
