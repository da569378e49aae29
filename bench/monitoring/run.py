#!/usr/bin/env python3
"""Batch drift: `slipway monitor drift` vs Evidently's DataDriftPreset.

Issue 15 ("Speed") asks for batch drift on 1M rows x 50 columns (numeric and
categorical) at least 50x faster than Evidently's DataDriftPreset on the same data,
with a fraction of its peak memory; and 3M x 1,000 columns "in minutes with bounded
memory" for Slipway.

One run:
  1. generates ref.csv and cur.csv (seeded): 35 numeric columns (normal, lognormal,
     uniform; two with 1% missing; one integer column with 4 values) and 15
     categorical ones (4 to 40 categories); drift planted in 8 numeric and 4
     categorical columns, far from the thresholds (no column is a coin flip);
  2. runs `slipway monitor drift ref.csv cur.csv --format json --out F` and the
     Evidently child (evidently_drift.py: pandas.read_csv of both files, then
     Report([DataDriftPreset()]).run) one after the other, each under
     /usr/bin/time -v: wall time and peak RSS (maximum resident set size) of the
     process; both read the same CSV files from disk, so the end-to-end times
     compare like with like (the Evidently child also reports its read and report
     times apart);
  3. prints the ratio of wall times and both peak memories, and whether both flag
     the same columns (and which, where they differ);
  4. with --wide, runs Slipway alone on WIDE_ROWS x 1,000 columns (see --wide-rows).
  5. appends the results, with the load average, to bench/RESULTS.md.

Setup: the Evidently venv (its own: Evidently 0.7.23 needs pandas < 3, the test
requirements resolve to pandas 3):
  python3 -m venv /work/bench-venvs/evidently
  /work/bench-venvs/evidently/bin/pip install -r bench/monitoring/requirements.txt

Usage: python3 bench/monitoring/run.py [--rows N] [--wide | --wide-only] [--wide-rows N] [--wide-decimals D]
       [--evidently-python PATH] [--slipway-bin PATH] [--no-record] [--keep DIR]
"""

import argparse
import datetime
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
import pandas as pd

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
SEED = 20261207
NUMERIC = 35
CATEGORICAL = 15
DRIFT_NUMERIC = {"n00": ("shift", 0.5), "n01": ("shift", 0.3), "n02": ("shift", -0.4),
                 "n03": ("scale", 1.6), "n04": ("shift", 1.0), "n05": ("scale", 0.5),
                 "n06": ("shift", 0.25), "n07": ("shift", 0.6)}
DRIFT_CATEGORICAL = {"c00", "c01", "c02", "c03"}


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def make_frame(rows, rng, drifted):
    data = {}
    for i in range(NUMERIC):
        name = f"n{i:02d}"
        kind = i % 3
        if name == "n34":
            values = rng.choice([0, 1, 2, 3], rows, p=[.4, .3, .2, .1]).astype(float)
            if drifted:
                values = rng.choice([0, 1, 2, 3], rows, p=[.2, .3, .3, .2]).astype(float)
        elif kind == 0:
            values = rng.normal(10 * i, 1 + i % 5, rows)
        elif kind == 1:
            values = rng.lognormal(0, 0.5 + (i % 4) / 4, rows)
        else:
            values = rng.uniform(-i, i + 1, rows)
        if drifted and name in DRIFT_NUMERIC:
            how, amount = DRIFT_NUMERIC[name]
            sd = values.std()
            mean = values.mean()
            values = values + amount * sd if how == "shift" else mean + (values - mean) * amount
        if name in ("n10", "n11"):
            values[rng.random(rows) < 0.01] = np.nan
        data[name] = np.round(values, 5) if name != "n34" else values.astype(int)
    for i in range(CATEGORICAL):
        name = f"c{i:02d}"
        k = 4 + (i * 7) % 37
        # The categories' shares depend on the column only (the same on both sides).
        p = np.random.default_rng(SEED * 100 + i).dirichlet(np.ones(k) * 2)
        if drifted and name in DRIFT_CATEGORICAL:
            p = np.roll(p, 1) if i % 2 else p[::-1]
        data[name] = np.array([f"{name}_v{j}" for j in range(k)])[
            rng.choice(k, rows, p=p / p.sum())]
    return pd.DataFrame(data)


def write_csvs(folder, rows):
    """Reference and current: the same columns' parameters, other samples, and drift
    planted in the current one."""
    for name, drifted in (("ref.csv", False), ("cur.csv", True)):
        frame = make_frame(rows, np.random.default_rng(SEED + (1 if drifted else 0)), drifted)
        frame.to_csv(os.path.join(folder, name), index=False)
        del frame
    return os.path.join(folder, "ref.csv"), os.path.join(folder, "cur.csv")


def peak_anon_mib(proc):
    """Samples the RssAnon of `proc`'s child (the process /usr/bin/time runs) every 0.1 s
    until it ends; returns the largest seen, in MiB. Peak RSS (VmHWM) also counts the pages
    of files a process maps (Slipway maps the CSV files it reads; those pages are the page
    cache's, reclaimable), RssAnon only the memory it allocated."""
    peak = 0
    while proc.poll() is None:
        try:
            with open(f"/proc/{proc.pid}/task/{proc.pid}/children") as f:
                children = f.read().split()
            for child in children:
                with open(f"/proc/{child}/status") as f:
                    m = re.search(r"RssAnon:\s+(\d+) kB", f.read())
                    if m:
                        peak = max(peak, int(m.group(1)))
        except OSError:
            pass
        time.sleep(0.1)
    return peak / 1024


def timed(cmd):
    """Runs `cmd` under /usr/bin/time -v; returns (completed, wall seconds, peak RSS MiB,
    peak anonymous RSS MiB)."""
    proc = subprocess.Popen(["/usr/bin/time", "-v", *cmd], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    anon = peak_anon_mib(proc)
    stdout, stderr = proc.communicate()
    out = subprocess.CompletedProcess(cmd, proc.returncode, stdout, stderr)
    wall = re.search(r"Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):([\d.]+)", out.stderr)
    h, m, s = wall.groups()
    seconds = int(h or 0) * 3600 + int(m) * 60 + float(s)
    rss_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", out.stderr).group(1))
    return out, seconds, rss_kb / 1024, anon


def run_slipway(binary, ref, cur, out_json):
    out, wall, rss, anon = timed([binary, "monitor", "drift", ref, cur, "--format", "json",
                                  "--out", out_json])
    if out.returncode not in (0, 1):
        raise SystemExit(f"slipway failed ({out.returncode}): {out.stderr[-2000:]}")
    with open(out_json) as f:
        report = json.load(f)
    flagged = {c["column"] for c in report["columns"] if c["drift"]["drifted"]}
    return wall, rss, anon, flagged, report


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--wide", action="store_true", help="also Slipway alone on 1,000 columns")
    ap.add_argument("--wide-rows", type=int, default=300_000)
    ap.add_argument("--wide-only", action="store_true", help="only the wide Slipway run")
    ap.add_argument("--wide-decimals", type=int, default=4,
                    help="decimals of the wide run's numeric values (fewer: smaller files)")
    ap.add_argument("--evidently-python", default="/work/bench-venvs/evidently/bin/python")
    ap.add_argument("--slipway-bin", default=os.path.join(REPO, "build", "slipway"))
    ap.add_argument("--no-record", action="store_true")
    ap.add_argument("--keep", help="keep the data in this folder (and reuse it if there)")
    args = ap.parse_args()

    work = args.keep or tempfile.mkdtemp(prefix="slipway-bench-drift-")
    os.makedirs(work, exist_ok=True)
    binary = os.path.join(work, "slipway-under-test")
    shutil.copy2(args.slipway_bin, binary)
    if args.wide_only:
        lines, notes = run_wide(binary, work, args.wide_rows, args.wide_decimals)
        print("\n".join(lines + [""] + notes))
        if not args.no_record:
            record(args, lines, notes)
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        return
    load_start = loadavg()
    log(f"generating {args.rows} x {NUMERIC + CATEGORICAL} in {work} (load {load_start})")
    stamp = os.path.join(work, f"generated-{args.rows}-{SEED}")
    if os.path.exists(stamp):  # --keep DIR of an earlier run with the same data
        ref, cur = os.path.join(work, "ref.csv"), os.path.join(work, "cur.csv")
    else:
        ref, cur = write_csvs(work, args.rows)
        open(stamp, "w").close()
    size_mb = (os.path.getsize(ref) + os.path.getsize(cur)) / 1e6

    log("slipway monitor drift ...")
    s_wall, s_rss, s_anon, s_flagged, _ = run_slipway(binary, ref, cur,
                                                      os.path.join(work, "slipway.json"))
    log(f"  {s_wall:.2f} s, peak RSS {s_rss:.0f} MiB (anonymous {s_anon:.0f}),"
        f" flagged {sorted(s_flagged)}")

    log("evidently DataDriftPreset ...")
    e_json = os.path.join(work, "evidently.json")
    out, e_wall, e_rss, e_anon = timed([args.evidently_python,
                                        os.path.join(HERE, "evidently_drift.py"), ref, cur, e_json])
    if out.returncode != 0:
        raise SystemExit(f"evidently failed: {out.stderr[-3000:]}")
    with open(e_json) as f:
        evidently = json.load(f)
    e_flagged = {c for c, v in evidently["columns"].items() if v["drifted"]}
    log(f"  {e_wall:.2f} s (read {evidently['read_s']:.1f} s, report {evidently['report_s']:.1f} s),"
        f" peak RSS {e_rss:.0f} MiB (anonymous {e_anon:.0f}), flagged {sorted(e_flagged)}")
    load_end = loadavg()
    planted = set(DRIFT_NUMERIC) | DRIFT_CATEGORICAL | {"n34"}
    same = s_flagged == e_flagged
    lines = [
        f"| batch drift, {args.rows:,} x {NUMERIC + CATEGORICAL} ({size_mb:.0f} MB of CSV) "
        f"| slipway monitor drift | Evidently 0.7.23 DataDriftPreset | ratio |",
        "|---|---|---|---|",
        f"| wall s, end to end (CSV read included) | {s_wall:.2f} | {e_wall:.2f} "
        f"| {e_wall / s_wall:.1f}x |",
        f"| wall s, Evidently's Report.run alone | | {evidently['report_s']:.2f} "
        f"| {evidently['report_s'] / s_wall:.1f}x |",
        f"| peak RSS MiB (VmHWM; Slipway's counts the mapped CSV pages) | {s_rss:.0f} "
        f"| {e_rss:.0f} | {e_rss / s_rss:.1f}x less |",
        f"| peak anonymous RSS MiB (sampled every 0.1 s) | {s_anon:.0f} | {e_anon:.0f} "
        f"| {e_anon / max(s_anon, 1):.1f}x less |",
        f"| columns flagged | {len(s_flagged)} | {len(e_flagged)} | "
        f"{'same' if same else 'differ'} |",
    ]
    notes = [f"- planted drift: {sorted(planted)}",
             f"- slipway flagged: {sorted(s_flagged)}",
             f"- evidently flagged: {sorted(e_flagged)}"]
    if not same:
        notes.append(f"- only slipway: {sorted(s_flagged - e_flagged)}; only evidently: "
                     f"{sorted(e_flagged - s_flagged)}")
    notes.append(f"- load average {load_start} -> {load_end}")

    if args.wide:
        wide_lines, wide_notes = run_wide(binary, work, args.wide_rows, args.wide_decimals)
        lines += [""] + wide_lines
        notes += wide_notes
    print("\n".join(lines + [""] + notes))
    if not args.no_record:
        record(args, lines, notes)
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


def run_wide(binary, work, rows, decimals=4, columns=1000, block=5000):
    """Slipway alone on rows x 1,000 numeric and categorical columns. The files repeat a
    block of `block` generated rows (the generator, not Slipway, is the slow part here);
    the current side has drift in 100 columns. Numeric values are rounded to `decimals`
    (1 halves the files, so that 3M rows fit a shared disk; still parsed as floats)."""
    rng = np.random.default_rng(SEED)
    paths = []
    for name, drifted in (("wide_ref.csv", False), ("wide_cur.csv", True)):
        cols = {}
        for i in range(columns):
            if i % 5 == 4:
                values = np.array(["a", "b", "c", "d"])[rng.integers(0, 4 if not (
                    drifted and i < 100) else 2, block)]
            else:
                values = np.round(rng.normal(0.5 if drifted and i < 100 else 0, 1, block), decimals)
            cols[f"f{i:04d}"] = values
        text = pd.DataFrame(cols).to_csv(index=False)
        header, body = text.split("\n", 1)
        path = os.path.join(work, name)
        with open(path, "w") as f:
            f.write(header + "\n")
            for _ in range(rows // block):
                f.write(body)
        paths.append(path)
    size_gb = sum(os.path.getsize(p) for p in paths) / 1e9
    log(f"wide: {rows} x {columns} ({size_gb:.1f} GB) ...")
    load = loadavg()
    wall, rss, anon, flagged, _ = run_slipway(binary, paths[0], paths[1],
                                              os.path.join(work, "wide.json"))
    for p in paths:
        os.remove(p)
    log(f"  {wall:.1f} s, peak RSS {rss:.0f} MiB (anonymous {anon:.0f}), {len(flagged)} flagged")
    lines = [f"| batch drift, {rows // block * block:,} x {columns} ({size_gb:.1f} GB of CSV, "
             f"{decimals} decimals) "
             f"| slipway monitor drift |", "|---|---|",
             f"| wall s | {wall:.1f} |", f"| peak RSS MiB (VmHWM, mapped CSV pages included) "
             f"| {rss:.0f} |", f"| peak anonymous RSS MiB | {anon:.0f} |",
             f"| columns flagged (100 planted) | {len(flagged)} |"]
    return lines, [f"- wide run: load average {load} -> {loadavg()}"]


def record(args, lines, notes):
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    cmd = "python3 bench/monitoring/run.py " + " ".join(sys.argv[1:])
    with open(os.path.join(REPO, "bench", "RESULTS.md"), "a") as f:
        f.write(f"\n## bench/monitoring: batch drift ({when})\n\n`{cmd}`\n\n")
        f.write("\n".join(lines + [""] + notes) + "\n")


if __name__ == "__main__":
    main()
