#!/usr/bin/env python3
"""Artifact throughput through the server's artifact proxy to S3: Slipway vs mlflow server.

One S3Proxy (tests/s3proxy/lib, `make deps-s3proxy`) holds one bucket; each
server in turn keeps its artifacts under its own prefix of that bucket:

  slipway server --artifacts s3://BUCKET/slipway --s3-endpoint http://127.0.0.1:PORT
  mlflow server --artifacts-destination s3://BUCKET/mlflow    (boto3, MLFLOW_S3_ENDPOINT_URL)

For a few file sizes, sequentially on one client: plain HTTP PUT and GET
through /api/2.0/mlflow-artifacts/artifacts/<path>, and the real mlflow
client (`MlflowClient.log_artifact`, `mlflow.artifacts.download_artifacts`).
Every download is compared byte for byte (sha256) with what was uploaded, and
every upload is looked up in S3Proxy's filesystem backend (so it reached the
bucket, not a local folder). For scale, the same sizes straight to S3Proxy
with boto3 (`put_object` / `get_object`, no proxy): the store's own limit on
this machine. See bench/README.md.
"""

import argparse
import datetime
import hashlib
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
BENCH_DIR = os.path.dirname(HERE)
REPO = os.path.dirname(BENCH_DIR)
sys.path.insert(0, os.path.join(BENCH_DIR, "tracking"))
from run import Server, free_port, loadavg, log, machine, snapshot_slipway  # noqa: E402

ACCESS_KEY = "slipway-bench-access-key"
SECRET_KEY = "slipway-bench-secret-key"
BUCKET = "bench"
PROXY_PATH = "/api/2.0/mlflow-artifacts/artifacts/"
SERVERS = ("mlflow", "slipway")
WORKLOADS = ("http-put", "http-get", "client-log", "client-download")

FULL = dict(sizes="64K,4M,64M", budget_s=20.0, min_repeats=3, max_repeats=40)
QUICK = dict(sizes="64K,4M,16M", budget_s=5.0, min_repeats=2, max_repeats=10)


def parse_size(text):
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    text = text.strip().upper()
    if text[-1] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(text)


def sha256(data):
    return hashlib.sha256(data).hexdigest()


# ----------------------------------------------------------------------------- S3Proxy


class S3Proxy:
    """S3Proxy on jclouds' filesystem backend (as tests/integration/s3.py starts
    it), on a free loopback port; the object KEY of BUCKET is the file
    basedir/BUCKET/KEY."""

    def __init__(self, lib, folder):
        self.lib = lib
        self.folder = folder
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.basedir = os.path.join(folder, "buckets")
        self.proc = None

    def start(self, timeout=120):
        if not os.path.exists(os.path.join(self.lib, "s3proxy-2.6.0.jar")):
            raise RuntimeError(f"S3Proxy is not in {self.lib}: run `make deps-s3proxy` "
                               "(or pass --s3proxy-lib)")
        if shutil.which("java") is None:
            raise RuntimeError("java is not on PATH: S3Proxy needs a Java 17 runtime")
        os.makedirs(os.path.join(self.basedir, BUCKET), exist_ok=True)
        props = os.path.join(self.folder, "s3proxy.properties")
        with open(props, "w") as f:
            f.write(f"s3proxy.endpoint={self.endpoint}\n"
                    "s3proxy.authorization=aws-v2-or-v4\n"
                    f"s3proxy.identity={ACCESS_KEY}\n"
                    f"s3proxy.credential={SECRET_KEY}\n"
                    "jclouds.provider=filesystem\n"
                    f"jclouds.filesystem.basedir={self.basedir}\n")
        logf = open(os.path.join(self.folder, "s3proxy.log"), "ab")
        self.proc = subprocess.Popen(
            ["java", "-cp", f"{self.lib}/*", "org.gaul.s3proxy.Main", "--properties", props],
            stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True, env={**os.environ, "LOG_LEVEL": "info"})
        logf.close()
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"S3Proxy exited with {self.proc.returncode} at start")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return self
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"S3Proxy did not listen within {timeout}s")

    def find(self, prefix, tail):
        """Sizes of the backend files under BUCKET/prefix whose key ends with `tail`."""
        root = os.path.join(self.basedir, BUCKET, prefix)
        found = []
        for d, _, files in os.walk(root):
            for name in files:
                path = os.path.join(d, name)
                if path.endswith("/" + tail):
                    found.append(os.path.getsize(path))
        return found

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)


def s3_env(endpoint):
    """What the servers and boto3 read: static keys, a region, mlflow's endpoint
    variable. boto3 1.36+ sends CRC checksums in aws-chunked bodies by default,
    which S3Proxy 2.6 answers with 501 NotImplemented; `when_required` is
    botocore's documented setting for S3-compatible servers that lack them."""
    return {"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1",
            "MLFLOW_S3_ENDPOINT_URL": endpoint,
            "AWS_REQUEST_CHECKSUM_CALCULATION": "when_required",
            "AWS_RESPONSE_CHECKSUM_VALIDATION": "when_required",
            "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false"}


class ArtifactServer(Server):
    """The tracking bench's server, with its artifacts on S3 and a SQLite store."""

    def __init__(self, kind, store_dir, args, endpoint):
        super().__init__(kind, store_dir, args)
        self.endpoint = endpoint

    def command(self):
        d, p = self.dir, str(self.port)
        if self.kind == "mlflow":
            cmd = ["mlflow", "server", "--backend-store-uri", f"sqlite:///{d}/mlflow.db",
                   "--artifacts-destination", f"s3://{BUCKET}/mlflow",
                   "--host", "127.0.0.1", "--port", p]
            if self.args.mlflow_workers:
                cmd += ["--workers", str(self.args.mlflow_workers)]
            return cmd
        return [self.args.slipway_bin, "server", "--host", "127.0.0.1", "--port", p,
                "--store", f"sqlite:///{d}/slipway.db", "--artifacts", f"s3://{BUCKET}/slipway",
                "--s3-endpoint", self.endpoint]


# ----------------------------------------------------------------------------- timing


def repeat(cfg, fn):
    """Calls fn(i) -> (bytes, seconds) at least min_repeats times, then until the
    budget is spent or max_repeats. Returns dict(n, bytes, seconds, mb_s)."""
    n, nbytes, secs = 0, 0, 0.0
    t0 = time.time()
    while n < cfg["max_repeats"] and (n < cfg["min_repeats"] or time.time() - t0 < cfg["budget_s"]):
        b, s = fn(n)
        n += 1
        nbytes += b
        secs += s
    return dict(n=n, bytes=nbytes, seconds=secs, mb_s=nbytes / secs / 1e6 if secs else None)


class Http:
    """One keep-alive connection to a server."""

    def __init__(self, port):
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)

    def request(self, method, path, body=None):
        t = time.perf_counter()
        headers = {"Content-Type": "application/octet-stream"} if body is not None else {}
        self.conn.request(method, path, body=body, headers=headers)
        resp = self.conn.getresponse()
        out = resp.read()
        dt = time.perf_counter() - t
        if resp.status != 200:
            raise RuntimeError(f"{method} {path} -> HTTP {resp.status}: {out[:300]!r}")
        return out, dt


def warm_up(put, get, sizes, data, rounds=3):
    """Discarded transfers of every size before any timing (S3Proxy's JVM and
    mlflow's lazily imported workers are slow the first times)."""
    for label, _ in sizes:
        for i in range(rounds):
            put(f"warm/{label}-{i}.bin", data[label])
            get(f"warm/{label}-{i}.bin")


def bench_http(port, prefix, s3, sizes, data, cfg, out):
    """PUT then GET through the artifact proxy, per size."""
    c = Http(port)
    warm_up(lambda p, b: c.request("PUT", PROXY_PATH + p, b),
            lambda p: c.request("GET", PROXY_PATH + p), sizes, data)
    for label, size in sizes:
        body = data[label]
        want = sha256(body)
        paths = []

        def put(i):
            path = f"put-{label}/{i}.bin"
            _, dt = c.request("PUT", PROXY_PATH + path, body)
            paths.append(path)
            return size, dt
        r = repeat(cfg, put)
        stored = [s3.find(prefix, p) for p in paths]
        r["verify"] = ("ok: every PUT is one object of the right size in the bucket"
                       if all(f == [size] for f in stored) else
                       f"MISMATCH: backend sizes {stored[:3]}... expected [{size}]")
        out[("http-put", label)] = r
        log(f"    http PUT {label}: {r['mb_s']:.1f} MB/s over {r['n']}; {r['verify']}")

        bad = []

        def get(i):
            got, dt = c.request("GET", PROXY_PATH + paths[i % len(paths)])
            if sha256(got) != want:
                bad.append(i)
            return len(got), dt
        r = repeat(dict(cfg, max_repeats=min(cfg["max_repeats"], len(paths) * 4)), get)
        r["verify"] = "ok: every GET equals the upload" if not bad else \
            f"MISMATCH: {len(bad)} GETs differ from the upload"
        out[("http-get", label)] = r
        log(f"    http GET {label}: {r['mb_s']:.1f} MB/s over {r['n']}; {r['verify']}")


def bench_client(port, prefix, s3, sizes, files, cfg, out, work):
    """The mlflow client: log_artifact, then download_artifacts, per size."""
    import mlflow
    from mlflow.tracking import MlflowClient
    mlflow.set_tracking_uri(f"http://127.0.0.1:{port}")
    client = MlflowClient()
    exp = client.create_experiment(f"bench-artifacts-{int(time.time() * 1000)}")
    run_id = client.create_run(exp).info.run_id
    for label, size in sizes:
        local = files[label]
        name = os.path.basename(local)
        want = sha256(open(local, "rb").read())
        dirs = []

        def up(i):
            d = f"client-{label}/{i}"
            t = time.perf_counter()
            client.log_artifact(run_id, local, artifact_path=d)
            dt = time.perf_counter() - t
            dirs.append(d)
            return size, dt
        r = repeat(cfg, up)
        stored = [s3.find(prefix, f"{d}/{name}") for d in dirs]
        r["verify"] = ("ok: every upload is one object of the right size in the bucket"
                       if all(f == [size] for f in stored) else
                       f"MISMATCH: backend sizes {stored[:3]}... expected [{size}]")
        out[("client-log", label)] = r
        log(f"    mlflow.log_artifact {label}: {r['mb_s']:.1f} MB/s over {r['n']}; {r['verify']}")

        bad = []

        def down(i):
            dst = tempfile.mkdtemp(dir=work)
            t = time.perf_counter()
            path = mlflow.artifacts.download_artifacts(
                run_id=run_id, artifact_path=f"{dirs[i % len(dirs)]}/{name}", dst_path=dst)
            dt = time.perf_counter() - t
            with open(path, "rb") as f:
                if sha256(f.read()) != want:
                    bad.append(i)
            shutil.rmtree(dst, ignore_errors=True)
            return size, dt
        r = repeat(dict(cfg, max_repeats=min(cfg["max_repeats"], len(dirs) * 4)), down)
        r["verify"] = "ok: every download equals the file" if not bad else \
            f"MISMATCH: {len(bad)} downloads differ from the file"
        out[("client-download", label)] = r
        log(f"    mlflow download_artifacts {label}: {r['mb_s']:.1f} MB/s over {r['n']}; "
            f"{r['verify']}")


def bench_direct(s3, sizes, data, cfg, out):
    """boto3 put_object / get_object straight to S3Proxy: no proxy in between."""
    import boto3
    from botocore.config import Config
    cl = boto3.client("s3", endpoint_url=s3.endpoint, aws_access_key_id=ACCESS_KEY,
                      aws_secret_access_key=SECRET_KEY, region_name="us-east-1",
                      config=Config(s3={"addressing_style": "path"}))
    warm_up(lambda k, b: cl.put_object(Bucket=BUCKET, Key=k, Body=b),
            lambda k: cl.get_object(Bucket=BUCKET, Key=k)["Body"].read(), sizes, data, rounds=5)
    for label, size in sizes:
        body = data[label]
        want = sha256(body)
        keys = []

        def put(i):
            key = f"direct/put-{label}/{i}.bin"
            t = time.perf_counter()
            cl.put_object(Bucket=BUCKET, Key=key, Body=body)
            dt = time.perf_counter() - t
            keys.append(key)
            return size, dt
        r = repeat(cfg, put)
        stored = [s3.find("direct", k[len("direct/"):]) for k in keys]
        r["verify"] = "ok" if all(f == [size] for f in stored) else f"MISMATCH: {stored[:3]}"
        out[("http-put", label)] = r
        log(f"    boto3 put_object {label}: {r['mb_s']:.1f} MB/s over {r['n']}; {r['verify']}")
        bad = []

        def get(i):
            t = time.perf_counter()
            got = cl.get_object(Bucket=BUCKET, Key=keys[i % len(keys)])["Body"].read()
            dt = time.perf_counter() - t
            if sha256(got) != want:
                bad.append(i)
            return len(got), dt
        r = repeat(dict(cfg, max_repeats=min(cfg["max_repeats"], len(keys) * 4)), get)
        r["verify"] = "ok" if not bad else f"MISMATCH: {len(bad)} GETs differ"
        out[("http-get", label)] = r
        log(f"    boto3 get_object {label}: {r['mb_s']:.1f} MB/s over {r['n']}; {r['verify']}")


def bench_server(kind, args, cfg, s3, sizes, data, files, work, out):
    srv = ArtifactServer(kind, os.path.join(work, kind), args, s3.endpoint)
    srv.start(timeout=300)
    out["command"] = " ".join(srv.command())
    out["load"] = loadavg()
    try:
        cpu0 = srv.cpu_seconds()[0]
        bench_http(srv.port, kind, s3, sizes, data, cfg, out["cells"])
        cpu1 = srv.cpu_seconds()[0]
        bench_client(srv.port, kind, s3, sizes, files, cfg, out["cells"], work)
        cpu2 = srv.cpu_seconds()[0]
        http_mb = sum(v["bytes"] for k, v in out["cells"].items() if k[0].startswith("http"))
        client_mb = sum(v["bytes"] for k, v in out["cells"].items() if k[0].startswith("client"))
        out["cpu_ms_per_mb"] = dict(http=(cpu1 - cpu0) * 1000 / (http_mb / 1e6),
                                    client=(cpu2 - cpu1) * 1000 / (client_mb / 1e6))
        out["load_end"] = loadavg()
    finally:
        srv.stop()


# ----------------------------------------------------------------------------- report


def fmt_ratio(a, b):
    if not a or not b:
        return "n/a"
    return f"{a / b:.2f}x"


def table(res, sizes):
    head = ["workload", "size", "S3 direct (boto3)", "mlflow", "slipway", "slipway/mlflow"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for w in WORKLOADS:
        for label, _ in sizes:
            vals = {}
            for k in ("direct",) + SERVERS:
                cell = res.get(k, {}).get("cells", {}).get((w, label))
                vals[k] = cell["mb_s"] if cell else None
            if w.startswith("client"):
                vals["direct"] = None
            cells = [w, label] + [f"{vals[k]:.1f}" if vals[k] else "n/a"
                                  for k in ("direct",) + SERVERS]
            cells.append(fmt_ratio(vals["slipway"], vals["mlflow"]))
            lines.append("| " + " | ".join(cells) + " |")
    cpu = ["server CPU ms per MB moved", "http / client"]
    cpu.append("n/a")
    for k in SERVERS:
        c = res.get(k, {}).get("cpu_ms_per_mb")
        cpu.append(f"{c['http']:.1f} / {c['client']:.1f}" if c else "n/a")
    cm, cs = (res.get(k, {}).get("cpu_ms_per_mb") for k in SERVERS)
    cpu.append(f"{cm['http'] / cs['http']:.1f}x / {cm['client'] / cs['client']:.1f}x"
               if cm and cs and cs["http"] and cs["client"] else "n/a")
    lines.append("| " + " | ".join(cpu) + " |")
    return "\n".join(lines)


def notes(res):
    out = []
    for k in ("direct",) + SERVERS:
        r = res.get(k)
        if r is None:
            continue
        if r.get("error"):
            out.append(f"- {k}: FAILED: {r['error']}")
        for (w, label), cell in sorted(r.get("cells", {}).items()):
            out.append(f"- {k} {w} {label}: {cell['n']} transfers, {cell['bytes'] / 1e6:.1f} MB "
                       f"in {cell['seconds']:.2f}s; {cell['verify']}")
        if "command" in r:
            out.append(f"- {k} server (load average at start {r.get('load', '?')}, at end "
                       f"{r.get('load_end', '?')}): `{r['command']}`")
    return "\n".join(out)


def versions():
    out = []
    for cmd in (["mlflow", "--version"], ["java", "-version"]):
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
            out.append((p.stdout + p.stderr).strip().splitlines()[0])
        except (OSError, IndexError, subprocess.TimeoutExpired):
            out.append(f"{cmd[0]}: not available")
    try:
        import boto3
        out.append(f"boto3 {boto3.__version__}")
    except ImportError:
        out.append("boto3: not available")
    return "; ".join(out)


def record(path, argv, res, sizes, cfg, started, elapsed, args, work):
    entry = [
        f"\n## {started:%Y-%m-%d %H:%M} UTC: artifacts through the proxy to S3, "
        f"{'quick' if args.quick else 'full'} mode\n",
        f"- command: `{argv}`",
        f"- machine: {machine()}; load average at the end {loadavg()} (shared with other "
        "sessions' builds and tests: ratios only)",
        f"- versions: {versions()}; S3Proxy 2.6.0 (filesystem backend); slipway binary built "
        f"{getattr(args, 'slipway_mtime', '?')}, sha256 {getattr(args, 'slipway_sha', '?')}...",
        f"- sizes {', '.join(l for l, _ in sizes)}; per cell at least {cfg['min_repeats']} and "
        f"at most {cfg['max_repeats']} sequential transfers on one client, {cfg['budget_s']:.0f} s "
        f"budget; MB = 10^6 bytes; took {elapsed / 60:.1f} min",
        "",
        table(res, sizes),
        "",
        "MB/s = bytes / sum of send-to-last-byte times (mlflow client rows: the call's wall time, "
        "including writing the downloaded file). slipway/mlflow > 1: Slipway moves more per "
        "second. The S3 direct column is boto3 put_object/get_object to S3Proxy with no proxy "
        "(the store's limit on this machine); it has no client rows. Before timing, discarded "
        "transfers of every size: 5 PUT+GET straight to S3Proxy, 3 through each server.",
        "",
        notes(res),
        "",
    ]
    text = "\n".join(entry).replace(work, "$WORKDIR")
    with open(path, "a") as f:
        f.write(text)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="sizes 64K,4M,16M, 5 s per cell")
    ap.add_argument("--sizes", help="comma list, e.g. 64K,4M,64M")
    ap.add_argument("--budget", type=float, help="seconds per cell once the minimum is done")
    ap.add_argument("--servers", default=",".join(SERVERS), help="mlflow,slipway (any subset)")
    ap.add_argument("--no-direct", action="store_true", help="skip the boto3-only row")
    ap.add_argument("--slipway-bin", default=os.path.join(REPO, "build", "slipway"))
    ap.add_argument("--mlflow-workers", type=int, default=0)
    ap.add_argument("--s3proxy-lib", default=os.path.join(REPO, "tests", "s3proxy", "lib"))
    ap.add_argument("--workdir")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--no-record", action="store_true")
    ap.add_argument("--results", default=os.path.join(BENCH_DIR, "RESULTS.md"))
    args = ap.parse_args()

    cfg = dict(QUICK if args.quick else FULL)
    if args.sizes:
        cfg["sizes"] = args.sizes
    if args.budget:
        cfg["budget_s"] = args.budget
    sizes = [(s.strip().upper(), parse_size(s)) for s in cfg["sizes"].split(",") if s.strip()]
    kinds = [k.strip() for k in args.servers.split(",") if k.strip()]
    for k in kinds:
        if k not in SERVERS:
            ap.error(f"unknown server {k}")

    started = datetime.datetime.utcnow()
    t_all = time.time()
    work = os.path.abspath(args.workdir or tempfile.mkdtemp(prefix="slipway-bench-art-"))
    os.makedirs(work, exist_ok=True)
    log(f"work dir {work}; {machine()}")
    if "slipway" in kinds:
        snapshot_slipway(args, work)
    data, files = {}, {}
    for label, size in sizes:
        data[label] = os.urandom(size)
        files[label] = os.path.join(work, "files", f"data-{label}.bin")
        os.makedirs(os.path.dirname(files[label]), exist_ok=True)
        with open(files[label], "wb") as f:
            f.write(data[label])

    s3 = S3Proxy(os.path.abspath(args.s3proxy_lib), os.path.join(work, "s3proxy"))
    os.makedirs(s3.folder, exist_ok=True)
    res = {}
    s3.start()
    os.environ.update(s3_env(s3.endpoint))
    try:
        log(f"S3Proxy at {s3.endpoint}, bucket {BUCKET}")
        if not args.no_direct:
            log("== S3 direct (boto3)")
            res["direct"] = {"cells": {}}
            try:
                bench_direct(s3, sizes, data, cfg, res["direct"]["cells"])
            except Exception as e:  # noqa: BLE001 - recorded, then the servers run
                res["direct"]["error"] = f"{type(e).__name__}: {e}"
                log(f"  FAILED {res['direct']['error']}")
        for kind in SERVERS:
            if kind not in kinds:
                continue
            log(f"== {kind}")
            res[kind] = {"cells": {}}
            try:
                bench_server(kind, args, cfg, s3, sizes, data, files, work, res[kind])
            except Exception as e:  # noqa: BLE001 - recorded, then the next server runs
                res[kind]["error"] = f"{type(e).__name__}: {e}"
                log(f"  {kind} FAILED: {res[kind]['error']}")
    finally:
        s3.stop()
    elapsed = time.time() - t_all

    with open(os.path.join(work, "results.json"), "w") as f:
        json.dump({k: {**v, "cells": {"/".join(c): x for c, x in v.get("cells", {}).items()}}
                   for k, v in res.items()}, f, indent=1, default=str)
    print(table(res, sizes))
    print()
    print(notes(res))
    argv = " ".join(["python3", os.path.relpath(os.path.abspath(sys.argv[0]), REPO)] + sys.argv[1:])
    if not args.no_record:
        record(args.results, argv, res, sizes, cfg, started, elapsed, args, work)
        log(f"appended to {args.results}")
    if not args.keep and not args.workdir:
        shutil.rmtree(work, ignore_errors=True)
    else:
        log(f"kept {work}")
    log(f"total {elapsed / 60:.1f} min")
    bad = any(r.get("error") or any("MISMATCH" in c["verify"] for c in r.get("cells", {}).values())
              for r in res.values())
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
