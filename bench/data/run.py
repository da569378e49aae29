#!/usr/bin/env python3
"""Dataset versioning and profiling speed: `slipway data` vs DVC, pandas and whylogs.

Issue 4 ("Speed") asks for:
  - `slipway data add` of a 1 GB CSV at least 5x faster than `dvc add`, and a
    re-add after 1% of the rows changed storing under 5% new bytes (DVC stores
    the whole file again);
  - profiling a 1M-row x 50-column CSV at least 10x faster than pandas
    (read_csv + describe(include="all") + value_counts() of every column) and
    than whylogs (why.log of the read_csv frame).

One command generates the data deterministically (a seed), runs every tool one
at a time on the same files, checks what each stored or computed, prints a table
with the ratios and appends a dated entry to bench/RESULTS.md. See
bench/README.md ("bench/data").

Parts:
  add       `slipway data add events.csv --name events --json` (parses and profiles
            the CSV, then stores content-defined chunks) and the same with
            `--opaque` (bytes only), vs `dvc add events.csv` in a fresh git + dvc
            repo; each timed add runs on a fresh store. Then, in each store, a
            re-add of a changed file: 1% of the rows changed in contiguous blocks,
            1% new rows appended, and 1% of the rows changed at random places.
  profile   `slipway data profile prof.csv --json > /dev/null` vs pandas and
            whylogs, each in a fresh process.
"""

import argparse
import datetime
import hashlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ in bench/tracking from the import below
HERE = os.path.dirname(os.path.abspath(__file__))
BENCH_DIR = os.path.dirname(HERE)
REPO = os.path.dirname(BENCH_DIR)
sys.path.insert(0, os.path.join(BENCH_DIR, "tracking"))
from run import loadavg, log, machine, snapshot_slipway  # noqa: E402  (bench/tracking/run.py)

FULL = dict(add_mb=1000, profile_rows=1_000_000, repeats=3, whylogs_runs=2)
QUICK = dict(add_mb=100, profile_rows=100_000, repeats=3, whylogs_runs=1)
SEED = 20261127
CHANGE_FRACTION = 0.01
VARIANTS = ("blocks", "append", "random")
VARIANT_LABEL = {
    "blocks": "1% of rows changed in {blocks} contiguous blocks",
    "append": "1% new rows appended at the end",
    "random": "1% of rows changed at uniformly random places",
}
# The anchors, each installed into its own venv (installation is not timed).
PINS = {
    "dvc": ["dvc==3.67.1"],
    # whylogs 1.6 needs numpy < 2; pandas 2.3 is the newest it works with here.
    "whylogs": ["whylogs==1.6.4", "numpy==1.26.4", "pandas==2.3.3"],
}
QUIET_ENV = {"DVC_NO_ANALYTICS": "1", "WHYLOGS_NO_ANALYTICS": "1"}  # no telemetry requests


# ----------------------------------------------------------------------------- helpers


def env():
    e = dict(os.environ)
    e.update(QUIET_ENV)
    return e


def timed(cmd, cwd, stdout=subprocess.PIPE):
    """Runs cmd; returns (wall seconds, CPU seconds of it and its waited children, stdout).
    The user/sys split of the last call is kept in LAST_CPU."""
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    p = subprocess.run(cmd, cwd=cwd, env=env(), stdout=stdout, stderr=subprocess.PIPE)
    wall = time.perf_counter() - t
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0:
        err = (p.stderr or b"").decode(errors="replace").strip().splitlines()[-5:]
        raise RuntimeError(f"`{' '.join(cmd)}` exited with {p.returncode}: {' | '.join(err)}")
    LAST_CPU.update(user=r1.ru_utime - r0.ru_utime, sys=r1.ru_stime - r0.ru_stime)
    cpu = LAST_CPU["user"] + LAST_CPU["sys"]
    out = p.stdout.decode() if isinstance(p.stdout, bytes) else ""
    return wall, cpu, out


LAST_CPU = {}


def warm(path):
    """Reads a file once (the `cat FILE > /dev/null` before every timed run), after
    flushing dirty pages of earlier steps so no write-back runs during the timed command."""
    os.sync()
    with open(path, "rb", buffering=0) as f:
        while f.read(16 << 20):
            pass


def fsync_file(path):
    with open(path, "rb+") as f:
        os.fsync(f.fileno())


def digests(path):
    sha, md5 = hashlib.sha256(), hashlib.md5()
    with open(path, "rb", buffering=0) as f:
        while True:
            b = f.read(16 << 20)
            if not b:
                break
            sha.update(b)
            md5.update(b)
    return sha.hexdigest(), md5.hexdigest()


def tree_bytes(path):
    """Sum of the apparent sizes of the files under path (du --apparent-size, files only)."""
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                pass
    return total


def fresh_dir(path):
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    return path


def remove_tree(path):
    shutil.rmtree(path, ignore_errors=True)
    os.sync()


def human(n):
    for unit, div in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if abs(n) >= div:
            return f"{n / div:.2f} {unit}"
    return f"{n} B"


def med(xs):
    return statistics.median(xs) if xs else None


def fmt_ratio(x):
    return "n/a" if x is None else f"{x:.0f}x" if x >= 100 else f"{x:.1f}x"


# ----------------------------------------------------------------------------- data

CATS = ["books", "electronics", "grocery", "toys", "garden", "sports", "beauty", "auto",
        "music", "games", "office", "pets", "baby", "tools", "health", "shoes", "jewelry",
        "outdoor", "kitchen", "movies"]
COUNTRIES = ["US", "DE", "FR", "GB", "IT", "ES", "NL", "PL", "SE", "BR", "IN", "JP", "CN",
             "CA", "AU", "MX", "KR", "TR", "ZA", "AR"]
STATUSES = ["placed", "paid", "shipped", "delivered", "returned"]
STATUS_P = [0.05, 0.10, 0.25, 0.55, 0.05]
EVENTS_HEADER = "id,event_time,user_id,category,country,amount,score,qty,lat,status\n"


def event_rows(np, rng, first_id, n):
    """n rows of the events table, ids first_id.., one event every 3 s from 2024-01-01."""
    ids = np.arange(first_id, first_id + n)
    t0 = np.datetime64("2024-01-01T00:00:00")
    ts = [s.replace("T", " ") for s in
          np.datetime_as_string(t0 + (ids * 3).astype("timedelta64[s]"), unit="s").tolist()]
    user = rng.integers(1, 1_000_000, n).tolist()
    cat = np.array(CATS, dtype=object)[rng.integers(0, len(CATS), n)].tolist()
    cty = np.array(COUNTRIES, dtype=object)[rng.integers(0, len(COUNTRIES), n)].tolist()
    amount = rng.gamma(2.0, 50.0, n).tolist()
    score = rng.random(n).tolist()
    qty = rng.integers(1, 21, n).tolist()
    lat = rng.uniform(-90, 90, n).tolist()
    st = np.array(STATUSES, dtype=object)[rng.choice(len(STATUSES), n, p=STATUS_P)].tolist()
    return "".join([f"{i},{t},{u},{c},{k},{a:.2f},{s:.6f},{q},{la:.4f},{x}\n" for
                    i, t, u, c, k, a, s, q, la, x in
                    zip(ids.tolist(), ts, user, cat, cty, amount, score, qty, lat, st)])


def gen_events(path, target_bytes, seed):
    """Writes chunks of 100,000 rows until the file reaches target_bytes; returns rows."""
    import numpy as np
    rng = np.random.default_rng(seed)
    rows, size = 0, len(EVENTS_HEADER)
    with open(path, "w") as f:
        f.write(EVENTS_HEADER)
        while size < target_bytes:
            n = 100_000
            text = event_rows(np, rng, rows + 1, n)
            f.write(text)
            size += len(text)
            rows += n
        f.flush()
        os.fsync(f.fileno())
    return rows


def changed_rows(np, rng, kind, nrows, nchg, blocks):
    """Sorted 0-based data-row indices to change."""
    if kind == "random":
        return np.sort(rng.choice(nrows, nchg, replace=False))
    # blocks: the file cut into `blocks` equal segments, one contiguous run of
    # nchg/blocks rows at a random place in each (records updated together,
    # e.g. clustered by time or id).
    per = nchg // blocks
    seg = nrows // blocks
    starts = [s * seg + int(rng.integers(0, seg - per)) for s in range(blocks)]
    return np.concatenate([np.arange(s, s + per) for s in starts])


def write_variant(base, out, kind, nrows, frac, blocks, seed):
    """The base file with 1% of its rows changed (or appended); returns rows changed."""
    import numpy as np
    rng = np.random.default_rng(seed + 1 + VARIANTS.index(kind))
    nchg = round(nrows * frac)
    if kind == "append":
        shutil.copyfile(base, out)
        with open(out, "a") as f:
            f.write(event_rows(np, rng, nrows + 1, nchg))
            f.flush()
            os.fsync(f.fileno())
        return nchg
    idx = changed_rows(np, rng, kind, nrows, nchg, blocks).tolist()
    # An update of a record: a new amount and score, and status "returned".
    amount = rng.gamma(2.0, 50.0, len(idx)).tolist()
    score = rng.random(len(idx)).tolist()
    with open(base, "rb") as fi, open(out, "wb") as fo:
        fo.write(fi.readline())
        row, k = 0, 0
        while True:
            lines = fi.readlines(64 << 20)
            if not lines:
                break
            end = row + len(lines)
            while k < len(idx) and idx[k] < end:
                fields = lines[idx[k] - row].split(b",")
                fields[5] = f"{amount[k]:.2f}".encode()
                fields[6] = f"{score[k]:.6f}".encode()
                fields[9] = b"returned\n"
                lines[idx[k] - row] = b",".join(fields)
                k += 1
            fo.writelines(lines)
            row = end
        fo.flush()
        os.fsync(fo.fileno())
    return len(idx)


# The 50 columns of the profiling file: 20 float, 15 int, 10 string, 5 bool.
# (name, kind, missing share)
PROFILE_COLUMNS = (
    [(f"f{i:02d}", "float", 0.02 if i % 4 == 0 else 0.0) for i in range(20)]
    + [(f"i{i:02d}", "int", 0.01 if i in (3, 11) else 0.0) for i in range(15)]
    + [("s_status", "str5", 0.0), ("s_category", "str50", 0.03), ("s_item", "str1000", 0.0),
       ("s_user", "hex64", 0.0), ("s_session", "hex128", 0.0), ("s_country", "country", 0.0),
       ("s_note", "text", 0.05), ("s_email_domain", "domain", 0.0), ("s_date", "date", 0.0),
       ("s_time", "datetime", 0.01)]
    + [(f"b{i}", "bool", 0.0) for i in range(5)]
)
WORDS = ["red", "green", "blue", "large", "small", "fresh", "used", "new", "fast", "slow",
         "apple", "table", "chair", "phone", "cable", "lamp", "book", "shirt", "shoe", "cup"]


def profile_column(np, rng, kind, miss, n):
    """n CSV fields (strings) of one column."""
    if kind == "float":
        which = int(rng.integers(0, 3))
        x = (rng.normal(rng.uniform(-100, 100), rng.uniform(1, 50), n) if which == 0 else
             rng.lognormal(0, 1.5, n) if which == 1 else rng.uniform(0, 1, n))
        vals = [f"{v:.6g}" for v in x.tolist()]
    elif kind == "int":
        hi = int(10 ** rng.integers(1, 10))
        vals = [str(v) for v in rng.integers(-hi // 10, hi, n).tolist()]
    elif kind == "bool":
        vals = np.where(rng.random(n) < rng.uniform(0.1, 0.9), "true", "false").tolist()
    elif kind.startswith("str"):
        k = int(kind[3:])
        vals = [f"v{v}" for v in rng.zipf(1.3, n).clip(1, k).tolist()]
    elif kind == "hex64":  # high cardinality: about n distinct
        vals = [f"u{v:016x}" for v in rng.integers(0, 2 ** 63, n).tolist()]
    elif kind == "hex128":
        a, b = rng.integers(0, 2 ** 63, n).tolist(), rng.integers(0, 2 ** 63, n).tolist()
        vals = [f"{x:016x}{y:016x}" for x, y in zip(a, b)]
    elif kind == "country":
        vals = np.array(COUNTRIES, dtype=object)[rng.integers(0, len(COUNTRIES), n)].tolist()
    elif kind == "text":  # quoted, with a comma inside
        w = np.array(WORDS, dtype=object)
        a, b, c = (w[rng.integers(0, len(WORDS), n)].tolist() for _ in range(3))
        vals = [f'"{x} {y}, {z}"' for x, y, z in zip(a, b, c)]
    elif kind == "domain":
        vals = [f"mail{v}.example.com" for v in rng.integers(0, 200, n).tolist()]
    elif kind == "date":
        d = np.datetime64("2020-01-01") + rng.integers(0, 1500, n).astype("timedelta64[D]")
        vals = np.datetime_as_string(d, unit="D").tolist()
    elif kind == "datetime":
        d = np.datetime64("2024-01-01T00:00:00") + rng.integers(0, 3e7, n).astype("timedelta64[s]")
        vals = [s.replace("T", " ") for s in np.datetime_as_string(d, unit="s").tolist()]
    else:
        raise ValueError(kind)
    if miss:
        for j in np.nonzero(rng.random(n) < miss)[0].tolist():
            vals[j] = ""
    return vals


def gen_profile(path, rows, seed):
    import numpy as np
    # Column j draws its values from its own running generator, and its distribution
    # parameters from a generator reset for every chunk (see _Mixed), so a column has
    # the same distribution all through the file.
    values = [np.random.default_rng(seed + 1000 + j) for j in range(len(PROFILE_COLUMNS))]
    with open(path, "w") as f:
        f.write(",".join(c[0] for c in PROFILE_COLUMNS) + "\n")
        done = 0
        while done < rows:
            n = min(50_000, rows - done)
            cols = [profile_column(np, _Mixed(np.random.default_rng(seed + 5000 + j), values[j]),
                                   kind, miss, n)
                    for j, (_, kind, miss) in enumerate(PROFILE_COLUMNS)]
            f.write("\n".join(",".join(r) for r in zip(*cols)) + "\n")
            done += n
        f.flush()
        os.fsync(f.fileno())


class _Mixed:
    """Parameters (uniform draws, integers for choices) from `p`, values from `v`,
    so a column's distribution is the same in every chunk of the file."""

    def __init__(self, p, v):
        self.p, self.v = p, v

    def uniform(self, lo, hi, size=None):
        return (self.p if size is None else self.v).uniform(lo, hi, size)

    def integers(self, lo, hi, size=None):
        return (self.p if size is None else self.v).integers(lo, hi, size)

    def __getattr__(self, name):
        return getattr(self.v, name)


DATA_VERSION = 1  # bump when the generators change: the data is generated again


def prepare_data(args, ddir):
    """Generates (or reuses, when the parameters match) the files; returns their metadata."""
    os.makedirs(ddir, exist_ok=True)
    meta_path = os.path.join(ddir, "meta.json")
    want = dict(version=DATA_VERSION, seed=args.seed, add_bytes=int(args.add_mb * 1e6),
                profile_rows=args.profile_rows, fraction=CHANGE_FRACTION, blocks=args.blocks,
                parts=sorted(args.parts), variants=sorted(args.variants))
    try:
        with open(meta_path) as f:
            meta = json.load(f)
        if meta.get("params") == want and all(
                os.path.getsize(os.path.join(ddir, fm["file"])) == fm["size"]
                for fm in meta["files"].values()):
            log(f"data: reusing {ddir} (same parameters)")
            meta["reused"] = True
            return meta
    except (OSError, ValueError, KeyError):
        pass
    meta = dict(params=want, files={})
    t = time.time()
    if "add" in args.parts:
        base = os.path.join(ddir, "events.csv")
        log(f"data: generating {human(want['add_bytes'])} events.csv ...")
        nrows = gen_events(base, want["add_bytes"], args.seed)
        meta["events_rows"] = nrows
        meta["files"]["base"] = dict(file="events.csv", rows=nrows)
        for v in args.variants:
            name = f"events-{v}.csv"
            log(f"data: writing {name} ...")
            n = write_variant(base, os.path.join(ddir, name), v, nrows, CHANGE_FRACTION,
                              args.blocks, args.seed)
            meta["files"][v] = dict(file=name, rows=nrows + (n if v == "append" else 0),
                                    changed=n)
    if "profile" in args.parts:
        log(f"data: generating prof.csv, {args.profile_rows:,} rows x {len(PROFILE_COLUMNS)} "
            "columns ...")
        gen_profile(os.path.join(ddir, "prof.csv"), args.profile_rows, args.seed)
        meta["files"]["prof"] = dict(file="prof.csv", rows=args.profile_rows)
    for key, fm in meta["files"].items():
        p = os.path.join(ddir, fm["file"])
        fm["size"] = os.path.getsize(p)
        fm["sha256"], fm["md5"] = digests(p)
    meta["generated_s"] = round(time.time() - t, 1)
    with open(meta_path, "w") as f:
        json.dump(meta, f, indent=1)
    log(f"data: generated in {meta['generated_s']}s")
    return meta


# ----------------------------------------------------------------------------- venvs


def ensure_venv(path, pins, probe):
    """Creates a venv with the pinned packages if it has none; returns (python, error)."""
    py = os.path.join(path, "bin", "python")
    if os.path.exists(py):
        p = subprocess.run([py, "-c", probe], capture_output=True, text=True, env=env())
        if p.returncode == 0:
            return py, None
    log(f"venv: creating {path} with {' '.join(pins)} (not timed) ...")
    for cmd in ([sys.executable, "-m", "venv", path],
                [os.path.join(path, "bin", "pip"), "install", "-q", *pins]):
        p = subprocess.run(cmd, capture_output=True, text=True, env=env())
        if p.returncode != 0:
            err = (p.stderr or p.stdout).strip().splitlines()[-6:]
            return None, f"`{' '.join(cmd)}` failed ({p.returncode}): {' | '.join(err)}"
    p = subprocess.run([py, "-c", probe], capture_output=True, text=True, env=env())
    if p.returncode != 0:
        return None, f"import check failed: {p.stderr.strip().splitlines()[-1:]}"
    return py, None


def pkg_version(py, dist):
    p = subprocess.run([py, "-c", f"import importlib.metadata as m; print(m.version('{dist}'))"],
                       capture_output=True, text=True)
    return p.stdout.strip() if p.returncode == 0 else "not installed"


# ----------------------------------------------------------------------------- add


def sample(wall, cpu, lb, extra=None):
    s = dict(wall=wall, cpu=cpu, user=LAST_CPU.get("user"), sys=LAST_CPU.get("sys"),
             load_before=lb, load_after=loadavg())
    s.update(extra or {})
    return s


def slipway_add(args, ws, path, opaque=False):
    cmd = [args.slipway_bin, "data", "add", path, "--name", "events", "--workspace", ws, "--json"]
    if opaque:
        cmd.insert(-1, "--opaque")
    warm(path)
    lb = loadavg()
    before = tree_bytes(os.path.join(ws, ".slipway"))
    wall, cpu, out = timed(cmd, cwd=ws)
    j = json.loads(out)
    return sample(wall, cpu, lb, dict(json=j, store_growth=tree_bytes(os.path.join(ws, ".slipway"))
                                      - before)), cmd


def check_slipway(args, ws, j, fm, version, roundtrip, out):
    """Appends (kind, ok, message) to out: the version's digest against the file's
    sha256 and, if roundtrip, `data get` of the version against the file."""
    ok = (j.get("version") == version and j.get("content_digest") == fm["sha256"]
          and j.get("size_bytes") == fm["size"])
    out.append(("slipway version's content_digest and size = sha256sum and size of the file",
                ok, f"{fm['file']}: v{j.get('version')} digest {j.get('content_digest')}, size "
                    f"{j.get('size_bytes')}"))
    if roundtrip:
        dst = os.path.join(ws, "roundtrip.out")
        subprocess.run([args.slipway_bin, "data", "get", f"events@{version}", "-o", dst,
                        "--workspace", ws], check=True, capture_output=True, env=env())
        sha = digests(dst)[0]
        os.remove(dst)
        good = sha == fm["sha256"]
        out.append(("`slipway data get NAME@V -o out` byte-identical to the file (sha256; base "
                    "and each variant, first repetition)", good,
                    f"{fm['file']}: events@{version} -> sha256 {sha}"))
        ok &= good
    return ok


def summarize_checks(checks):
    kinds, bad = {}, []
    for kind, ok, msg in checks:
        k = kinds.setdefault(kind, [0, 0])
        k[0] += bool(ok)
        k[1] += 1
        if not ok:
            bad.append(f"MISMATCH {kind}: {msg}")
    return "; ".join([f"{kind}: {a}/{n} ok" for kind, (a, n) in kinds.items()] + bad)


def mount_fs(path):
    """The filesystem type of the mount holding path (from /proc/mounts)."""
    best, fs = "", "?"
    try:
        with open("/proc/mounts") as f:
            for line in f:
                parts = line.split()
                mp = parts[1]
                if (path == mp or path.startswith(mp.rstrip("/") + "/")) and len(mp) > len(best):
                    best, fs = mp, parts[2]
    except OSError:
        pass
    return fs


DVC_CHECK = "dvc's events.csv.dvc md5 = md5 of the file"


def dvc_cache_file(repo, md5):
    return os.path.join(repo, ".dvc", "cache", "files", "md5", md5[:2], md5[2:])


def dvc_add(args, repo, src, fm):
    """Copies src into the repo as events.csv (fsync'd, not timed) and times `dvc add`."""
    dst = os.path.join(repo, "events.csv")
    shutil.copyfile(src, dst)
    fsync_file(dst)
    warm(dst)  # (warm() syncs first)
    cache = os.path.join(repo, ".dvc", "cache")
    before = tree_bytes(cache)
    cmd = [args.dvc, "add", "events.csv"]
    lb = loadavg()
    wall, cpu, _ = timed(cmd, cwd=repo)
    # Not part of dvc add: how long making its cache copy durable takes (slipway's add
    # fsyncs what it stores; dvc leaves the copy to the kernel's write-back).
    cf = dvc_cache_file(repo, fm["md5"])
    fsync_s = None
    if os.path.exists(cf):
        t = time.perf_counter()
        fsync_file(cf)
        dfd = os.open(os.path.dirname(cf), os.O_RDONLY)
        os.fsync(dfd)
        os.close(dfd)
        fsync_s = time.perf_counter() - t
    with open(os.path.join(repo, "events.csv.dvc")) as f:
        text = f.read()
    md5 = next((ln.split(":", 1)[1].strip() for ln in text.splitlines()
                if ln.strip().startswith("- md5:") or ln.strip().startswith("md5:")), None)
    link = "?"
    if os.path.exists(cf):
        a, b = os.lstat(dst), os.lstat(cf)
        link = ("symlink" if os.path.islink(dst) else "hardlink" if a.st_ino == b.st_ino
                else "copy (separate inode; reflink not detectable this way)")
    return sample(wall, cpu, lb, dict(md5=md5, cache_growth=tree_bytes(cache) - before,
                                      link=link, fsync_s=fsync_s)), cmd


def create_probe(d, n=1000, size=64 << 10):
    """Milliseconds per file to create and write n files of `size` bytes in a new folder d
    (kept: see run_add) of the work filesystem (slipway's store wrote one file per chunk
    until it switched to one pack file per add; dvc writes one per added file)."""
    d = fresh_dir(d)
    data = os.urandom(size)
    os.sync()
    t = time.perf_counter()
    for i in range(n):
        fd = os.open(os.path.join(d, f"f{i}"), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
        os.write(fd, data)
        os.close(fd)
    return (time.perf_counter() - t) / n * 1e3


def dvc_init(args, repo):
    fresh_dir(repo)
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True, env=env())
    subprocess.run([args.dvc, "init", "-q"], cwd=repo, check=True, env=env())


def run_add(args, ddir, meta, work, res):
    files = meta["files"]
    base = files["base"]
    bpath = os.path.join(ddir, base["file"])
    runs = os.path.join(work, "runs")
    res.update(slipway=[], opaque=[], dvc=[], readd={v: dict(slipway=[], dvc=[])
                                                      for v in args.variants},
               checks=[], commands={})
    ok = True
    # Slipway stores (thousands of chunk files each) are deleted only after the last timed
    # add: on ext4 without a journal (this machine's disk) the inode allocator skips
    # recently freed inodes (for up to minutes), so deleting a store makes the next
    # stores' file creations slower. dvc repos hold a few files and are deleted after use.
    res["create_ms"] = [create_probe(os.path.join(runs, "create-probe-0"))]
    for rep in range(args.repeats):
        for vi, v in enumerate(args.variants):
            first = rep == 0
            vm = files[v]
            vpath = os.path.join(ddir, vm["file"])
            order = ["slipway", "dvc"] if (rep + vi) % 2 == 0 else ["dvc", "slipway"]
            for tool in order:
                tag = f"rep {rep + 1}, {v}"
                if tool == "slipway":
                    ws = fresh_dir(os.path.join(runs, f"slipway-{rep}-{v}"))
                    s, cmd = slipway_add(args, ws, bpath)
                    res["commands"]["slipway add"] = cmd
                    ok &= check_slipway(args, ws, s["json"], base, 1, first and vi == 0,
                                        res["checks"])
                    res["slipway"].append(s)
                    log(f"  slipway add ({tag}): {s['wall']:.2f}s, cpu {s['cpu']:.2f}s, "
                        f"bytes_new {s['json'].get('bytes_new')}; load {s['load_before']}")
                    s2, cmd2 = slipway_add(args, ws, vpath)
                    res["commands"]["slipway re-add"] = cmd2
                    ok &= check_slipway(args, ws, s2["json"], vm, 2, first, res["checks"])
                    res["readd"][v]["slipway"].append(s2)
                    log(f"  slipway re-add {v} ({tag}): {s2['wall']:.2f}s, bytes_new "
                        f"{s2['json'].get('bytes_new')} ({s2['json'].get('chunks_new')}/"
                        f"{s2['json'].get('chunks_total')} chunks), store +{s2['store_growth']}")
                elif args.dvc:
                    repo = os.path.join(runs, f"dvc-{rep}-{v}")
                    dvc_init(args, repo)
                    d, cmd = dvc_add(args, repo, bpath, base)
                    res["commands"]["dvc add"] = cmd
                    good = d["md5"] == base["md5"]
                    ok &= good
                    res["checks"].append((DVC_CHECK, good, f"{base['file']}: {d['md5']}"))
                    res["dvc"].append(d)
                    res["dvc_link"] = d["link"]
                    log(f"  dvc add ({tag}): {d['wall']:.2f}s, cpu {d['cpu']:.2f}s, cache "
                        f"+{d['cache_growth']}; load {d['load_before']}")
                    d2, _ = dvc_add(args, repo, vpath, vm)
                    good = d2["md5"] == vm["md5"]
                    ok &= good
                    res["checks"].append((DVC_CHECK, good, f"{vm['file']}: {d2['md5']}"))
                    res["readd"][v]["dvc"].append(d2)
                    log(f"  dvc re-add {v} ({tag}): {d2['wall']:.2f}s, cache +{d2['cache_growth']}")
                    if rep == 0 and vi == 0:
                        p = subprocess.run([args.dvc, "config", "cache.type"], cwd=repo,
                                           capture_output=True, text=True, env=env())
                        res["dvc_cache_type"] = p.stdout.strip() or "unset"
                    remove_tree(repo)
        # --opaque: bytes only, the cost split of the headline number
        ws = fresh_dir(os.path.join(runs, f"opaque-{rep}"))
        s, cmd = slipway_add(args, ws, bpath, opaque=True)
        res["commands"]["slipway add --opaque"] = cmd
        ok &= check_slipway(args, ws, s["json"], base, 1, rep == 0, res["checks"])
        res["opaque"].append(s)
        log(f"  slipway add --opaque (rep {rep + 1}): {s['wall']:.2f}s, cpu {s['cpu']:.2f}s")
    res["create_ms"].append(create_probe(os.path.join(runs, "create-probe-1")))
    remove_tree(runs)
    res["fs"] = mount_fs(work)
    return ok


# ----------------------------------------------------------------------------- profile

PANDAS_SCRIPT = r'''
import json, sys, time
t0 = time.perf_counter()
import pandas as pd
t1 = time.perf_counter()
df = pd.read_csv(sys.argv[1])
t2 = time.perf_counter()
desc = df.describe(include="all")
t3 = time.perf_counter()
vc = {c: df[c].value_counts() for c in df.columns}
t4 = time.perf_counter()
num = df.select_dtypes("number")
print(json.dumps(dict(
    import_s=t1 - t0, read_csv_s=t2 - t1, describe_s=t3 - t2, value_counts_s=t4 - t3,
    total_s=t4 - t1, rows=len(df), columns=len(df.columns),
    dtypes={c: str(t) for c, t in df.dtypes.items()},
    missing={c: int(v) for c, v in df.isna().sum().items()},
    mean={c: float(v) for c, v in num.mean().items()},
    distinct={c: int(len(v)) for c, v in vc.items()},
    describe_shape=list(desc.shape))))
'''

WHYLOGS_SCRIPT = r'''
import json, sys, time
t0 = time.perf_counter()
import pandas as pd
import whylogs as why
t1 = time.perf_counter()
df = pd.read_csv(sys.argv[1])
t2 = time.perf_counter()
view = why.log(df).view()
t3 = time.perf_counter()
s = view.to_pandas()
print(json.dumps(dict(
    import_s=t1 - t0, read_csv_s=t2 - t1, log_s=t3 - t2, total_s=t3 - t1,
    rows=len(df), columns=len(s),
    n={c: int(v) for c, v in s["counts/n"].items()},
    null={c: int(v) for c, v in s["counts/null"].items()},
    mean={c: float(v) for c, v in s["distribution/mean"].items() if v == v})))
'''


def check_profile(sj, pj, wj, rows, out):
    ok = True
    cols = {c["name"]: c for c in sj["columns"]}
    good = sj.get("row_count") == rows and len(cols) == len(PROFILE_COLUMNS)
    out.append(f"{'ok' if good else 'MISMATCH'}: slipway profile: {sj.get('row_count')} rows, "
               f"{len(cols)} columns (generated {rows} x {len(PROFILE_COLUMNS)})")
    ok &= good
    if pj:
        good = pj["rows"] == rows and pj["columns"] == len(PROFILE_COLUMNS)
        bad_miss = [c for c in cols if cols[c].get("missing") != pj["missing"].get(c)]
        bad_mean = [c for c, m in pj["mean"].items() if c in cols and "mean" in cols[c]
                    and abs(cols[c]["mean"] - m) > 1e-9 * max(1.0, abs(m))]
        no_mean = [c for c in pj["mean"] if "mean" not in cols.get(c, {})]
        types = {}
        for c, t in pj["dtypes"].items():
            types.setdefault(f"{cols.get(c, {}).get('type')}/{t}", []).append(c)
        out.append(f"{'ok' if good and not bad_miss and not bad_mean else 'MISMATCH'}: pandas "
                   f"{pj['rows']} x {pj['columns']}; slipway's missing count per column equals "
                   f"pandas' isna().sum() for {len(cols) - len(bad_miss)}/{len(cols)} columns"
                   f"{' (differ: ' + ', '.join(bad_miss) + ')' if bad_miss else ''}; mean equal "
                   f"(1e-9 relative) for {len(pj['mean']) - len(bad_mean) - len(no_mean)}/"
                   f"{len(pj['mean'])} numeric columns"
                   f"{' (differ: ' + ', '.join(bad_mean) + ')' if bad_mean else ''}"
                   f"{' (no slipway mean: ' + ', '.join(no_mean) + ')' if no_mean else ''}")
        out.append("types slipway/pandas: " + "; ".join(
            f"{k} {len(v)}" for k, v in sorted(types.items())))
        exact = [c for c in cols if cols[c].get("distinct_exact")
                 and int(cols[c]["distinct"]) != pj["distinct"].get(c)]
        errs = [abs(cols[c]["distinct"] - pj["distinct"][c]) / max(1, pj["distinct"][c])
                for c in cols if c in pj["distinct"]]
        out.append(f"distinct: slipway marks {sum(1 for c in cols.values() if c.get('distinct_exact'))}"
                   f"/{len(cols)} columns exact (all equal to pandas' value_counts length: "
                   f"{'yes' if not exact else 'NO: ' + ', '.join(exact)}); the others are "
                   f"sketch estimates (HLL), largest relative error vs pandas "
                   f"{max(errs) * 100 if errs else 0:.2f}%")
        ok &= good and not bad_miss and not bad_mean and not exact
    if wj:
        good = wj["rows"] == rows and all(v == rows for v in wj["n"].values())
        bad_null = [c for c, v in wj["null"].items() if pj and v != pj["missing"].get(c)]
        out.append(f"{'ok' if good and not bad_null else 'MISMATCH'}: whylogs counts/n = {rows} "
                   f"for {sum(1 for v in wj['n'].values() if v == rows)}/{len(wj['n'])} columns; "
                   f"counts/null equals pandas' missing for {len(wj['null']) - len(bad_null)}/"
                   f"{len(wj['null'])} columns"
                   f"{' (differ: ' + ', '.join(bad_null) + ')' if bad_null else ''}")
        ok &= good and not bad_null
    return ok


def run_profile(args, ddir, meta, work, res):
    fm = meta["files"]["prof"]
    path = os.path.join(ddir, fm["file"])
    pdir = fresh_dir(os.path.join(work, "profile"))  # no .slipway here: profile only
    pscript = os.path.join(pdir, "pandas_profile.py")
    wscript = os.path.join(pdir, "whylogs_profile.py")
    with open(pscript, "w") as f:
        f.write(PANDAS_SCRIPT)
    with open(wscript, "w") as f:
        f.write(WHYLOGS_SCRIPT)
    res.update(slipway=[], pandas=[], whylogs=[], checks=[], commands={})
    scmd = [args.slipway_bin, "data", "profile", path, "--json"]
    pcmd = [sys.executable, pscript, path]
    res["commands"].update(slipway=scmd + [">", "/dev/null"], pandas=pcmd)
    # One untimed slipway run whose JSON is checked against pandas' numbers.
    _, _, sout = timed(scmd, cwd=pdir)
    sj = json.loads(sout)
    pj = wj = None
    for rep in range(args.repeats):
        for tool in (("slipway", "pandas") if rep % 2 == 0 else ("pandas", "slipway")):
            warm(path)
            lb = loadavg()
            if tool == "slipway":
                with open(os.devnull, "wb") as dn:
                    wall, cpu, _ = timed(scmd, cwd=pdir, stdout=dn)
                res["slipway"].append(sample(wall, cpu, lb))
                log(f"  slipway profile (rep {rep + 1}): {wall:.2f}s, cpu {cpu:.2f}s; load {lb}")
            else:
                wall, cpu, out = timed(pcmd, cwd=pdir)
                pj = json.loads(out)
                res["pandas"].append(sample(wall, cpu, lb, {k: pj[k] for k in (
                    "import_s", "read_csv_s", "describe_s", "value_counts_s", "total_s")}))
                log(f"  pandas (rep {rep + 1}): {pj['total_s']:.2f}s in the script (read_csv "
                    f"{pj['read_csv_s']:.2f}, describe {pj['describe_s']:.2f}, value_counts "
                    f"{pj['value_counts_s']:.2f}), process {wall:.2f}s; load {lb}")
    if args.whylogs:
        wcmd = [args.whylogs, wscript, path]
        res["commands"]["whylogs"] = wcmd
        for rep in range(args.whylogs_runs):
            warm(path)
            lb = loadavg()
            wall, cpu, out = timed(wcmd, cwd=pdir)
            wj = json.loads(out)
            res["whylogs"].append(sample(wall, cpu, lb, {k: wj[k] for k in (
                "import_s", "read_csv_s", "log_s", "total_s")}))
            log(f"  whylogs (run {rep + 1}): {wj['total_s']:.2f}s (read_csv {wj['read_csv_s']:.2f}, "
                f"why.log {wj['log_s']:.2f}), process {wall:.2f}s; load {lb}")
    res["pandas_dtypes"] = sorted({t for t in (pj or {}).get("dtypes", {}).values()})
    return check_profile(sj, pj, wj, fm["rows"], res["checks"])


# ----------------------------------------------------------------------------- report


def stat(samples, key="wall"):
    xs = [s[key] for s in samples]
    return (med(xs), min(xs), len(xs)) if xs else (None, None, 0)


def cell(samples, key="wall"):
    m, lo, n = stat(samples, key)
    return "n/a" if m is None else f"{m:.2f} ({lo:.2f}), n={n}"


def verdict(ratio, target, higher=True):
    if ratio is None:
        return "n/a"
    met = ratio >= target if higher else ratio < target
    return "met" if met else f"MISSED ({ratio / target * 100:.0f}% of the target)" if higher \
        else "MISSED"


def add_table(res, meta, args):
    base = meta["files"]["base"]
    size = base["size"]
    lines = ["| workload | dvc | slipway | dvc/slipway | target |",
             "|---|---|---|---|---|"]
    sd, ss, so = stat(res["dvc"])[0], stat(res["slipway"])[0], stat(res["opaque"])[0]
    r = sd / ss if sd and ss else None
    lines.append(f"| add {human(size)} CSV (slipway: parse + profile + chunk + store), wall s "
                 f"median (min) | {cell(res['dvc'])} | {cell(res['slipway'])} | {fmt_ratio(r)} | "
                 f">= 5x: {verdict(r, 5)} |")
    fs = [d["wall"] + d["fsync_s"] for d in res["dvc"] if d.get("fsync_s") is not None]
    if fs:
        m = med(fs)
        r = m / ss if ss else None
        lines.append(f"| add, dvc followed by an fsync of its cache file (untimed by dvc; the "
                     f"durability slipway's add includes), wall s | {m:.2f} ({min(fs):.2f}), "
                     f"n={len(fs)} | {cell(res['slipway'])} | {fmt_ratio(r)} | (for reference) |")
    r = sd / so if sd and so else None
    lines.append(f"| add, slipway `--opaque` (bytes only: chunk + store, no CSV parse/profile) | "
                 f"{cell(res['dvc'])} | {cell(res['opaque'])} | {fmt_ratio(r)} | (cost split) |")
    def us(xs):
        return (f"{stat(xs, 'cpu')[0]:.2f} (user {stat(xs, 'user')[0]:.2f}, sys "
                f"{stat(xs, 'sys')[0]:.2f})" if xs else "n/a")
    lines.append(f"| add, CPU s median (all threads and waited children) | {us(res['dvc'])} | "
                 f"{us(res['slipway'])}; --opaque {us(res['opaque'])} | | |")
    for v in args.variants:
        rd = res["readd"][v]
        label = VARIANT_LABEL[v].format(blocks=args.blocks)
        fm = meta["files"][v]
        wd, ws_ = stat(rd["dvc"])[0], stat(rd["slipway"])[0]
        r = wd / ws_ if wd and ws_ else None
        lines.append(f"| re-add, {label}: wall s median (min) | {cell(rd['dvc'])} | "
                     f"{cell(rd['slipway'])} | {fmt_ratio(r)} | |")
        nb = [s["json"]["bytes_new"] for s in rd["slipway"]]
        cg = [s["cache_growth"] for s in rd["dvc"]]
        sn = med(nb) if nb else None
        dn = med(cg) if cg else None
        share_s = sn / fm["size"] * 100 if sn is not None else None
        share_d = dn / fm["size"] * 100 if dn is not None else None
        tgt = f"< 5%: {'met' if share_s < 5 else 'MISSED'}" if share_s is not None else "n/a"
        lines.append(
            f"| re-add, {label}: new bytes stored (share of the {human(fm['size'])} file) | "
            f"{human(dn) + f' ({share_d:.1f}%)' if dn is not None else 'n/a'} | "
            f"{human(sn) + f' ({share_s:.2f}%)' if sn is not None else 'n/a'} | "
            f"{fmt_ratio(dn / sn) if dn and sn else 'n/a'} | {tgt} |")
    return "\n".join(lines)


def profile_table(res, meta):
    rows = meta["files"]["prof"]["rows"]
    size = meta["files"]["prof"]["size"]
    ss = stat(res["slipway"])[0]
    lines = ["| workload | anchor | slipway | anchor/slipway | target |", "|---|---|---|---|---|"]
    title = f"profile {rows:,} x {len(PROFILE_COLUMNS)} CSV ({human(size)})"
    pt = stat(res["pandas"], "total_s")[0]
    r = pt / ss if pt and ss else None
    lines.append(f"| {title}: pandas read_csv + describe(include=\"all\") + value_counts() per "
                 f"column (timed in the script), s median (min) | {cell(res['pandas'], 'total_s')} "
                 f"| {cell(res['slipway'])} | {fmt_ratio(r)} | >= 10x: {verdict(r, 10)} |")
    pw = stat(res["pandas"])[0]
    r = pw / ss if pw and ss else None
    lines.append(f"| the same, pandas process wall (python start + import pandas included) | "
                 f"{cell(res['pandas'])} | {cell(res['slipway'])} | {fmt_ratio(r)} | |")
    wt = stat(res["whylogs"], "total_s")[0]
    r = wt / ss if wt and ss else None
    lines.append(f"| {title}: whylogs read_csv + why.log (timed in the script) | "
                 f"{cell(res['whylogs'], 'total_s')} | {cell(res['slipway'])} | {fmt_ratio(r)} | "
                 f">= 10x: {verdict(r, 10)} |")
    wl = stat(res["whylogs"], "log_s")[0]
    r = wl / ss if wl and ss else None
    lines.append(f"| the same, why.log alone (read_csv excluded; slipway still reads the file) | "
                 f"{cell(res['whylogs'], 'log_s')} | {cell(res['slipway'])} | {fmt_ratio(r)} | |")
    ww = stat(res["whylogs"])[0]
    r = ww / ss if ww and ss else None
    lines.append(f"| the same, whylogs process wall (python start + imports included) | "
                 f"{cell(res['whylogs'])} | {cell(res['slipway'])} | {fmt_ratio(r)} | |")
    return "\n".join(lines)


def loads(samples):
    return ", ".join(f"{s['load_before'].split()[0]}->{s['load_after'].split()[0]}"
                     for s in samples)


def add_notes(res, meta, args):
    base = meta["files"]["base"]
    out = [f"- files: events.csv {base['size']:,} bytes, {base['rows']:,} rows x 10 columns "
           f"(id, event_time `2024-01-01 00:00:03`, user_id, category, country, amount, score, qty, "
           f"lat, status), seed {args.seed}, sha256 {base['sha256'][:16]}..."]
    for v in args.variants:
        fm = meta["files"][v]
        how = {"blocks": f"{fm['changed']:,} rows in {args.blocks} runs of "
                         f"{fm['changed'] // args.blocks:,} consecutive rows, one at a random place "
                         f"in each 1/{args.blocks} of the file (amount, score and status rewritten)",
               "append": f"{fm['changed']:,} new rows (the next ids and times) appended",
               "random": f"{fm['changed']:,} rows chosen uniformly at random (amount, score and "
                         f"status rewritten)"}[v]
        out.append(f"- variant {v}: {how}; {fm['size']:,} bytes, sha256 {fm['sha256'][:16]}...")
    out.append(f"- method: every timed add runs on a fresh store (a new slipway workspace; a new "
               f"`git init` + `dvc init` repo); one store per variant per repetition, so "
               f"{args.repeats} x {len(args.variants)} base adds per tool; the re-add of the "
               f"variant goes into the store holding only that base version. Before each timed "
               f"command: `sync`, then the input file is read once (`cat FILE > /dev/null`) so "
               f"the page cache is warm for both tools; page caches are not dropped (shared "
               f"machine). dvc's input is a copy of the file inside its repo (copied and "
               f"fsync'd, untimed); slipway reads the file where it is. Order of the tools "
               f"alternates between rounds. Slipway stores are deleted only after the last "
               f"timed add (ext4 without a journal skips recently freed inodes when it "
               f"allocates new ones, so deleting thousands of files slows the next file "
               f"creations; this mattered while the store kept one file per chunk); dvc "
               f"repos (a few files) are deleted after use.")
    fs = res.get("fs", "?")
    out.append(f"- dvc cache: `dvc config cache.type` = {res.get('dvc_cache_type', '?')} (dvc's "
               f"default `reflink,copy`); filesystem {fs}"
               f"{': no reflink, so dvc copies the file into .dvc/cache' if fs in ('ext4', 'ext3', 'ext2', 'tmpfs') else ''}"
               f" (workspace file vs cache file after the add: {res.get('dvc_link', '?')}). "
               f"dvc's new bytes = growth of the apparent size of the files under .dvc/cache; "
               f"slipway's = `bytes_new` of `--json`. DVC_SITE_CACHE_DIR (dvc's state databases) "
               f"= $WORKDIR/dvc-site-cache.")
    if res.get("create_ms"):
        out.append(f"- file creation on this filesystem (1000 files of 64 KiB, os.open + write + "
                   f"close, before and after the runs): "
                   f"{', '.join(f'{x:.3f}' for x in res['create_ms'])} ms per file. slipway's "
                   f"store writes one pack file per add (one file per ~64 KiB chunk before "
                   f"2026-11-27 03:40), dvc one cache file per added file.")
    for v in args.variants:
        rd = res["readd"][v]["slipway"]
        if rd:
            j = rd[0]["json"]
            out.append(f"- slipway re-add {v}: chunks new/total {j.get('chunks_new')}/"
                       f"{j.get('chunks_total')}; bytes_new per repetition "
                       f"{[s['json']['bytes_new'] for s in rd]}; on-disk growth of .slipway "
                       f"(apparent) {[s['store_growth'] for s in rd]}")
    if res["slipway"]:
        j = res["slipway"][0]["json"]
        out.append(f"- slipway base add: {j.get('chunks_total')} chunks, bytes_new "
                   f"{j.get('bytes_new'):,}, .slipway growth {res['slipway'][0]['store_growth']:,}; "
                   f"rows {j.get('row_count')}, columns {j.get('column_count')}")
    out.append("- checks: " + (summarize_checks(res["checks"]) or "none ran"))
    out.append(f"- load average (1 min) before->after each timed add: slipway {loads(res['slipway'])}; "
               f"--opaque {loads(res['opaque'])}; dvc {loads(res['dvc'])}")
    for v in args.variants:
        out.append(f"- load re-add {v}: slipway {loads(res['readd'][v]['slipway'])}; dvc "
                   f"{loads(res['readd'][v]['dvc'])}")
    for k, cmd in res["commands"].items():
        out.append(f"- {k}: `{' '.join(cmd)}`")
    return "\n".join(out)


def profile_notes(res, meta, args):
    fm = meta["files"]["prof"]
    out = [f"- file: prof.csv {fm['size']:,} bytes, {fm['rows']:,} rows x 50 columns: 20 float "
           f"(normal, lognormal, uniform; 5 with 2% missing), 15 int (2 with 1% missing), 10 "
           f"string (5, 50 and 1000 distinct values, 2 high-cardinality ids, a country code, a "
           f"quoted text with a comma, a domain, a date, a datetime; 3 with missing values), 5 "
           f"bool; seed {args.seed}, sha256 {fm['sha256'][:16]}..."]
    out.append("- method: each tool in a fresh process per run; before each run `sync` and the "
               "file read once (page cache warm, not dropped). pandas and whylogs time themselves "
               "inside the script from before read_csv to after the last value_counts / why.log "
               "(the process wall time is shown too); slipway is the process wall time of "
               "`slipway data profile` (2 threads) with its JSON sent to /dev/null. slipway and "
               "pandas alternate order each round.")
    for k in ("pandas", "whylogs"):
        if res[k]:
            parts = ("read_csv_s", "describe_s", "value_counts_s") if k == "pandas" else \
                ("read_csv_s", "log_s")
            out.append(f"- {k} phases, median s: " + ", ".join(
                f"{p[:-2]} {stat(res[k], p)[0]:.2f}" for p in parts)
                + f", import {stat(res[k], 'import_s')[0]:.2f}; CPU median "
                  f"{stat(res[k], 'cpu')[0]:.2f}s")
    if res["slipway"]:
        out.append(f"- slipway CPU median {stat(res['slipway'], 'cpu')[0]:.2f}s (user "
                   f"{stat(res['slipway'], 'user')[0]:.2f}, sys {stat(res['slipway'], 'sys')[0]:.2f}; wall "
                   f"{stat(res['slipway'])[0]:.2f}s)")
    if res.get("pandas_dtypes"):
        out.append(f"- pandas dtypes seen: {', '.join(res['pandas_dtypes'])}")
    out.append("- slipway's profile, like whylogs', keeps sketches: distinct counts beyond its "
               "exact limit are HLL estimates and top values come from a frequent-items sketch; "
               "pandas' value_counts is exact. Counts, missing, min/max and mean are exact in "
               "all three.")
    out += [f"- {'check: ' if c.startswith(('ok', 'MISMATCH')) else ''}{c}" for c in res["checks"]]
    out.append(f"- load average (1 min) before->after: slipway {loads(res['slipway'])}; pandas "
               f"{loads(res['pandas'])}; whylogs {loads(res['whylogs'])}")
    for k, cmd in res["commands"].items():
        out.append(f"- {k}: `{' '.join(cmd)}`")
    return "\n".join(out)


def text_report(res, meta, args):
    out = []
    if "add" in res:
        out += ["### data add: slipway vs dvc", "", add_table(res["add"], meta, args), "",
                "Ratios are dvc/slipway of the median wall times (>1 = Slipway faster); new "
                "bytes are medians over the repetitions.", "", add_notes(res["add"], meta, args),
                ""]
    if "profile" in res:
        out += ["### data profile: slipway vs pandas and whylogs", "",
                profile_table(res["profile"], meta), "",
                "Ratios are anchor/slipway of the median times (>1 = Slipway faster).", "",
                profile_notes(res["profile"], meta, args), ""]
    for part in ("add", "profile"):
        if res.get(f"{part}_error"):
            out.append(f"- {part}: ERROR: {res[part + '_error']}")
    return "\n".join(out)


def slipway_desc(args):
    src = getattr(args, "slipway_src", args.slipway_bin)
    rel = os.path.relpath(os.path.abspath(src), REPO)
    where = f"`{rel}`" if not rel.startswith("..") else "`$SLIPWAY_BIN` (outside the repo)"
    return (f"slipway binary {where} built {getattr(args, 'slipway_mtime', '?')}, sha256 "
            f"{getattr(args, 'slipway_sha', '?')}...")


def versions(args):
    import importlib.metadata as m
    out = []
    if args.dvc:
        out.append(f"dvc {pkg_version(args.dvc_py, 'dvc')} (dvc-data "
                   f"{pkg_version(args.dvc_py, 'dvc-data')}, dvc-objects "
                   f"{pkg_version(args.dvc_py, 'dvc-objects')})")
    elif "add" in args.parts:
        out.append(f"dvc not available: {args.dvc_error}")
    for d in ("pandas", "numpy", "pyarrow"):
        try:
            out.append(f"{d} {m.version(d)}")
        except m.PackageNotFoundError:
            out.append(f"{d} not installed")
    if args.whylogs:
        out.append(f"whylogs {pkg_version(args.whylogs, 'whylogs')} with pandas "
                   f"{pkg_version(args.whylogs, 'pandas')}, numpy "
                   f"{pkg_version(args.whylogs, 'numpy')}, whylogs-sketching "
                   f"{pkg_version(args.whylogs, 'whylogs-sketching')}")
    elif "profile" in args.parts:
        out.append(f"whylogs not available: {args.whylogs_error}")
    p = subprocess.run(["git", "--version"], capture_output=True, text=True)
    out.append(p.stdout.strip())
    return "; ".join(out)


def record(path, argv, res, meta, started, elapsed, args, work, load_start):
    sizes = []
    if "add" in args.parts:
        sizes.append(f"add: {human(meta['files']['base']['size'])} CSV, {args.repeats} "
                     f"repetitions x {len(args.variants)} variants")
    if "profile" in args.parts:
        sizes.append(f"profile: {args.profile_rows:,} x {len(PROFILE_COLUMNS)} CSV, "
                     f"{args.repeats} runs (whylogs {args.whylogs_runs})")
    entry = [
        f"\n## {started:%Y-%m-%d %H:%M} UTC: data, {'quick' if args.quick else 'full'} mode\n",
        f"- command: `{argv}` (niceness {os.nice(0)})",
        f"- machine: {machine()}; load average at the start {load_start}, at the end {loadavg()}",
        f"- versions: {versions(args)}; {slipway_desc(args)}",
        f"- sizes: {'; '.join(sizes)}; data generated in {meta.get('generated_s', '?')}s"
        f"{' (by an earlier run with the same parameters, reused)' if meta.get('reused') else ''}; "
        f"took {elapsed / 60:.1f} min",
        "",
        text_report(res, meta, args),
    ]
    text = "\n".join(entry)
    # No machine paths in the record: a binary outside the repo is $SLIPWAY_BIN, the work
    # dir $WORKDIR, the venvs' folder $VENVS, this Python python3.
    src = getattr(args, "slipway_src", args.slipway_bin)
    if os.path.relpath(os.path.abspath(src), REPO).startswith(".."):
        text = text.replace(os.path.abspath(src), "$SLIPWAY_BIN").replace(src, "$SLIPWAY_BIN")
    text = text.replace(sys.executable, "python3")
    for p, name in sorted(((work, "$WORKDIR"), (args.venvs, "$VENVS")),
                          key=lambda x: -len(x[0])):
        text = text.replace(os.path.abspath(p), name)
    text = text.replace(REPO + os.sep, "")
    with open(path, "a") as f:
        f.write(text)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true",
                    help="100 MB add file, 100,000-row profile file, 1 whylogs run")
    ap.add_argument("--parts", default="add,profile", help="add,profile (default both)")
    ap.add_argument("--variants", default=",".join(VARIANTS),
                    help="changed files to re-add: " + ",".join(VARIANTS) + " (default all)")
    ap.add_argument("--add-mb", type=float, help="size of the add file in MB (10^6 bytes; "
                                                   "default 1000, --quick 100)")
    ap.add_argument("--profile-rows", type=int, help="rows of the profile file (default "
                                                      "1,000,000, --quick 100,000)")
    ap.add_argument("--repeats", type=int, help="timed runs per command (default 3)")
    ap.add_argument("--whylogs-runs", type=int, help="whylogs runs (default 2, --quick 1)")
    ap.add_argument("--blocks", type=int, default=100,
                    help="contiguous blocks of the 'blocks' variant (default 100)")
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--slipway-bin", default=os.path.join(REPO, "build", "slipway"))
    ap.add_argument("--venvs", help="folder of the venvs venv-dvc and venv-whylogs (created "
                                    "with the pinned versions if missing; default: the work dir)")
    ap.add_argument("--workdir", help="where data, stores and venvs go (default: a new temp "
                                      "dir, removed after)")
    ap.add_argument("--keep", action="store_true", help="keep the work dir")
    ap.add_argument("--no-record", action="store_true", help="do not append to bench/RESULTS.md")
    ap.add_argument("--results", default=os.path.join(BENCH_DIR, "RESULTS.md"))
    args = ap.parse_args()
    mode = QUICK if args.quick else FULL
    for k, v in mode.items():
        if getattr(args, k) is None:
            setattr(args, k, v)
    args.parts = [p for p in args.parts.split(",") if p]
    args.variants = [v for v in args.variants.split(",") if v]
    for p in args.parts:
        if p not in ("add", "profile"):
            ap.error(f"unknown part {p}")
    for v in args.variants:
        if v not in VARIANTS:
            ap.error(f"unknown variant {v}")
    if not os.path.isfile(args.slipway_bin):
        sys.exit(f"{args.slipway_bin} not found: build Slipway first or pass --slipway-bin")

    started = datetime.datetime.utcnow()
    t_all = time.time()
    load_start = loadavg()
    work = os.path.abspath(args.workdir or tempfile.mkdtemp(prefix="slipway-bench-data-"))
    os.makedirs(work, exist_ok=True)
    args.venvs = os.path.abspath(args.venvs or work)
    log(f"work dir {work}; {machine()}; load average {load_start}")
    snapshot_slipway(args, work)

    args.dvc = args.whylogs = None
    if "add" in args.parts:
        args.dvc_py, args.dvc_error = ensure_venv(os.path.join(args.venvs, "venv-dvc"),
                                                  PINS["dvc"], "import dvc")
        if args.dvc_py:
            args.dvc = os.path.join(os.path.dirname(args.dvc_py), "dvc")
        else:
            log(f"dvc: {args.dvc_error}")
    if "profile" in args.parts:
        args.whylogs, args.whylogs_error = ensure_venv(os.path.join(args.venvs, "venv-whylogs"),
                                                       PINS["whylogs"], "import whylogs, pandas")
        if not args.whylogs:
            log(f"whylogs: {args.whylogs_error}")

    # dvc keeps its state databases in a site cache dir (default /var/tmp/dvc): keep it in
    # the work dir, one per run of the bench.
    os.environ["DVC_SITE_CACHE_DIR"] = fresh_dir(os.path.join(work, "dvc-site-cache"))
    ddir = os.path.join(work, "data")
    meta = prepare_data(args, ddir)
    res, ok = {}, True
    if "add" in args.parts:
        log("== add")
        res["add"] = {}
        try:
            ok &= run_add(args, ddir, meta, work, res["add"])
        except Exception as e:  # noqa: BLE001 - recorded, then the next part runs
            res["add_error"] = f"{type(e).__name__}: {e}"
            log(f"  add FAILED: {res['add_error']}")
            ok = False
    if "profile" in args.parts:
        log("== profile")
        res["profile"] = {}
        try:
            ok &= run_profile(args, ddir, meta, work, res["profile"])
        except Exception as e:  # noqa: BLE001
            res["profile_error"] = f"{type(e).__name__}: {e}"
            log(f"  profile FAILED: {res['profile_error']}")
            ok = False
    elapsed = time.time() - t_all

    with open(os.path.join(work, "results.json"), "w") as f:
        json.dump(res, f, indent=1, default=str)
    print(text_report(res, meta, args))
    argv = " ".join(["python3", os.path.relpath(os.path.abspath(sys.argv[0]), REPO)] + sys.argv[1:])
    if not args.no_record:
        record(args.results, argv, res, meta, started, elapsed, args, work, load_start)
        log(f"appended to {args.results}")
    if not args.keep and not args.workdir:
        shutil.rmtree(work, ignore_errors=True)
    else:
        log(f"kept {work}")
    log(f"total {elapsed / 60:.1f} min")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
