"""Killing the server with SIGKILL under load loses no acknowledged write.

Several client threads log metrics (log-metric and log-batch) and params over raw
HTTP to 127.0.0.1 and record each point only once the server has answered 200.
The server is SIGKILLed mid-load, restarted on the same store, and every
acknowledged point must read back. The load is bounded: a few seconds, loopback only.
"""

from __future__ import annotations

import json
import random
import threading
import time

import requests

from conftest import unique

THREADS = 6
LOAD_SECONDS = 2.5
HARD_STOP_SECONDS = 15  # no thread keeps sending past this, whatever happens


class Writer(threading.Thread):
    """Logs to one run until the server goes away; remembers what was acknowledged."""

    def __init__(self, api: str, run_id: str, index: int, stop_at: float):
        super().__init__(daemon=True)
        self.api, self.run_id, self.index, self.stop_at = api, run_id, index, stop_at
        self.acked_metrics: dict[str, dict[int, float]] = {"single": {}, "batch": {}}
        self.acked_params: dict[str, str] = {}
        self.acked_tags: dict[str, str] = {}
        self.requests_sent = 0
        self.unexpected: list[str] = []
        self.rng = random.Random(index)

    def _post(self, session, endpoint, body) -> bool:
        """True when acknowledged; raises ConnectionError once the server is gone."""
        self.requests_sent += 1
        try:
            r = session.post(f"{self.api}/{endpoint}", json=body, timeout=10)
        except requests.RequestException as e:
            raise ConnectionError(str(e)) from e  # not acknowledged: the kill cut it
        if r.status_code != 200:
            self.unexpected.append(f"{endpoint}: {r.status_code} {r.text[:200]}")
            return False
        return True

    def run(self):
        s = requests.Session()
        step = 0
        try:
            while time.monotonic() < self.stop_at and len(self.unexpected) < 20:
                kind = self.rng.random()
                if kind < 0.5:
                    value = self.index * 1e6 + step + 0.25
                    ok = self._post(s, "runs/log-metric", {
                        "run_id": self.run_id, "key": "single", "value": value,
                        "timestamp": 1_000_000 + step, "step": step})
                    if ok:
                        self.acked_metrics["single"][step] = value
                    step += 1
                elif kind < 0.95:
                    n = self.rng.randint(50, 1000)
                    points = {step + i: self.index * 1e6 + step + i + 0.5 for i in range(n)}
                    ok = self._post(s, "runs/log-batch", {
                        "run_id": self.run_id,
                        "metrics": [{"key": "batch", "value": v, "timestamp": 2_000_000 + st,
                                     "step": st} for st, v in points.items()],
                        "tags": [{"key": f"tag{step}", "value": str(step)}],
                    })
                    if ok:
                        self.acked_metrics["batch"].update(points)
                        self.acked_tags[f"tag{step}"] = str(step)
                    step += n
                else:
                    key = f"p{step}"
                    if self._post(s, "runs/log-parameter",
                                  {"run_id": self.run_id, "key": key, "value": str(step)}):
                        self.acked_params[key] = str(step)
                    step += 1
        except ConnectionError:
            pass  # the server was killed: stop sending
        finally:
            s.close()


def _history(server, run_id: str, key: str) -> dict[int, float]:
    """Every point of a metric, paging get-history with max_results/page_token."""
    out: dict[int, float] = {}
    token = None
    pages = 0
    while True:
        params = {"run_id": run_id, "metric_key": key, "max_results": 25000}
        if token:
            params["page_token"] = token
        r = requests.get(f"{server.api}/metrics/get-history", params=params, timeout=60)
        assert r.status_code == 200, r.text
        body = r.json()
        for m in body.get("metrics", []):
            out[int(m["step"])] = float(m["value"])
        token = body.get("next_page_token")
        pages += 1
        assert pages < 1000
        if not token:
            return out


def _load_then_kill(server, run_ids, kill_after: float):
    stop_at = time.monotonic() + HARD_STOP_SECONDS
    writers = [Writer(server.api, rid, i, stop_at) for i, rid in enumerate(run_ids)]
    for w in writers:
        w.start()
    time.sleep(kill_after)
    server.kill()  # SIGKILL mid-load
    for w in writers:
        w.join(HARD_STOP_SECONDS + 5)
        assert not w.is_alive(), "writer thread did not stop"
    return writers


def _assert_all_acknowledged_present(server, writers):
    acked_points = 0
    for w in writers:
        assert w.unexpected == [], w.unexpected[:5]
        for key, acked in w.acked_metrics.items():
            stored = _history(server, w.run_id, key)
            missing = [st for st in acked if st not in stored]
            assert not missing, (
                f"run {w.run_id} metric {key}: {len(missing)} acknowledged points lost "
                f"after SIGKILL, e.g. steps {missing[:10]}")
            wrong = [st for st, v in acked.items() if stored[st] != v]
            assert not wrong, f"run {w.run_id} metric {key}: values changed at {wrong[:10]}"
            acked_points += len(acked)
        r = requests.get(f"{server.api}/runs/get", params={"run_id": w.run_id}, timeout=30)
        data = r.json()["run"]["data"]
        params = {p["key"]: p["value"] for p in data.get("params", [])}
        tags = {t["key"]: t["value"] for t in data.get("tags", [])}
        for k, v in w.acked_params.items():
            assert params.get(k) == v, f"acknowledged param {k} lost"
        for k, v in w.acked_tags.items():
            assert tags.get(k) == v, f"acknowledged tag {k} lost"
    return acked_points


def _setup_runs(server, n):
    r = requests.post(f"{server.api}/experiments/create", json={"name": unique("dur")},
                      timeout=10)
    assert r.status_code == 200, r.text
    exp_id = r.json()["experiment_id"]
    run_ids = []
    for _ in range(n):
        r = requests.post(f"{server.api}/runs/create", json={"experiment_id": exp_id,
                                                             "start_time": 1}, timeout=10)
        assert r.status_code == 200, r.text
        run_ids.append(r.json()["run"]["info"]["run_id"])
    return exp_id, run_ids


def test_sigkill_under_load_loses_no_acknowledged_point(fresh_server):
    srv = fresh_server
    exp_id, run_ids = _setup_runs(srv, THREADS)
    writers = _load_then_kill(srv, run_ids, LOAD_SECONDS)
    assert srv.proc.returncode == -9
    total_requests = sum(w.requests_sent for w in writers)
    acked = sum(len(m) for w in writers for m in w.acked_metrics.values())
    print(f"{total_requests} requests sent, {acked} metric points acknowledged before SIGKILL")
    assert total_requests > 50, "the load generator barely ran"
    assert acked > 1000, f"only {acked} points acknowledged: the test proves little"

    srv.start()  # same store, same port
    checked = _assert_all_acknowledged_present(srv, writers)
    assert checked == acked

    # the restarted server takes new writes on the same runs
    r = requests.post(f"{srv.api}/runs/log-metric", json={
        "run_id": run_ids[0], "key": "after", "value": 42.0, "timestamp": 1, "step": 0},
        timeout=10)
    assert r.status_code == 200
    assert _history(srv, run_ids[0], "after") == {0: 42.0}


def test_repeated_sigkill_cycles(fresh_server):
    """Three kill/restart cycles on one store; the acknowledged set only grows."""
    srv = fresh_server
    _, run_ids = _setup_runs(srv, 3)
    all_writers = []
    for cycle in range(3):
        all_writers += _load_then_kill(srv, run_ids, 0.8 + 0.3 * cycle)
        srv.start()
    # every cycle's writers log the same deterministic value for a (run, key, step), so all
    # acknowledged points of all cycles must read back exactly.
    _assert_all_acknowledged_present(srv, all_writers)


def test_sigkill_while_idle_after_writes(fresh_server, fresh_mlflow_client):
    """A write acknowledged a moment before SIGKILL, with no load, is there after restart."""
    client = fresh_mlflow_client
    exp_id = client.create_experiment(unique("idle-kill"))
    run = client.create_run(exp_id, run_name="kept")
    client.log_metric(run.info.run_id, "m", 3.5, timestamp=7, step=1)
    client.log_param(run.info.run_id, "p", "v")
    client.set_terminated(run.info.run_id, "FINISHED")
    fresh_server.kill()
    fresh_server.start()
    got = client.get_run(run.info.run_id)
    assert got.info.run_name == "kept"
    assert got.info.status == "FINISHED"
    assert got.data.metrics == {"m": 3.5}
    assert got.data.params == {"p": "v"}
    assert client.get_experiment(exp_id).name.startswith("idle-kill")


def test_sigkill_during_artifact_uploads_keeps_acknowledged_files(fresh_server):
    """Uploads acknowledged before a SIGKILL read back intact after the restart."""
    srv = fresh_server
    rel = f"0/{unique('art')}/artifacts"
    done = {}
    payload = bytes(range(256)) * 4096  # 1 MiB

    def upload():
        for i in range(10_000):
            try:
                r = requests.put(f"{srv.artifacts_api}/{rel}/f{i}.bin", data=payload, timeout=10)
            except requests.RequestException:
                return
            if r.status_code == 200:
                done[i] = True
            if time.monotonic() > deadline:
                return

    deadline = time.monotonic() + HARD_STOP_SECONDS
    t = threading.Thread(target=upload, daemon=True)
    t.start()
    time.sleep(0.8)
    srv.kill()
    t.join(HARD_STOP_SECONDS + 5)
    assert done, "no upload was acknowledged before the kill"
    srv.start()
    for i in done:
        r = requests.get(f"{srv.artifacts_api}/{rel}/f{i}.bin", timeout=10)
        assert r.status_code == 200
        assert r.content == payload, f"acknowledged artifact f{i}.bin is not intact"


def test_sigterm_under_load_exits_zero_and_keeps_acknowledged_points(fresh_server):
    """A graceful stop under the same load: exit 0 promptly, nothing acknowledged lost."""
    srv = fresh_server
    _, run_ids = _setup_runs(srv, 4)
    stop_at = time.monotonic() + HARD_STOP_SECONDS
    writers = [Writer(srv.api, rid, i, stop_at) for i, rid in enumerate(run_ids)]
    for w in writers:
        w.start()
    time.sleep(1.5)
    t0 = time.monotonic()
    code = srv.stop(timeout=15)
    elapsed = time.monotonic() - t0
    for w in writers:
        w.join(HARD_STOP_SECONDS + 5)
        assert not w.is_alive()
    assert code == 0, srv.stderr_tail()
    assert elapsed < 10.0, f"took {elapsed:.1f}s to stop under load"
    acked = sum(len(m) for w in writers for m in w.acked_metrics.values())
    assert acked > 1000
    srv.start()
    assert _assert_all_acknowledged_present(srv, writers) == acked


def test_sigkill_while_spans_stream_in_keeps_every_acknowledged_span(fresh_server):
    """OTLP writers send spans (one new trace per request, JSON) until the server is
    killed; every span the server answered 200 for is there after the restart."""
    r = requests.post(f"{fresh_server.api}/experiments/create", json={"name": unique("otlp")},
                      timeout=10)
    exp_id = r.json()["experiment_id"]
    stop_at = time.monotonic() + HARD_STOP_SECONDS
    acked: list[list[str]] = [[] for _ in range(THREADS)]

    def send(index: int):
        n = 0
        while time.monotonic() < stop_at:
            trace_hex = f"{index:08x}{n:024x}"
            span = {"traceId": trace_hex, "spanId": f"{n + 1:016x}", "name": f"s{n}",
                    "startTimeUnixNano": str(1_700_000_000_000_000_000 + n),
                    "endTimeUnixNano": str(1_700_000_000_000_000_000 + n + 1000),
                    "attributes": [{"key": "n", "value": {"intValue": str(n)}}]}
            body = {"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]}
            try:
                resp = requests.post(f"{fresh_server.url}/v1/traces", json=body, timeout=5,
                                     headers={"x-mlflow-experiment-id": exp_id})
            except requests.RequestException:
                return
            if resp.status_code != 200:
                return
            acked[index].append(trace_hex)
            n += 1

    threads = [threading.Thread(target=send, args=(i,), daemon=True) for i in range(THREADS)]
    for t in threads:
        t.start()
    time.sleep(1.5)
    fresh_server.kill()
    for t in threads:
        t.join(HARD_STOP_SECONDS + 5)
    fresh_server.restart()
    total = sum(len(a) for a in acked)
    assert total > 0
    for hexes in acked:
        for trace_hex in hexes:
            r = requests.get(f"{fresh_server.url}/api/3.0/mlflow/traces/get",
                             params={"trace_id": "tr-" + trace_hex, "allow_partial": "true"},
                             timeout=10)
            assert r.status_code == 200, f"acknowledged trace tr-{trace_hex} lost: {r.text}"
            assert len(r.json()["trace"]["spans"]) == 1


def test_sigkill_while_dataset_records_stream_in_keeps_every_acknowledged_record(fresh_server):
    """Writers upsert evaluation dataset records (each request new inputs, and a merge
    into an earlier record) until the server is killed; every record an upsert was
    answered 200 for is there after the restart, merged as acknowledged."""
    r = requests.post(f"{fresh_server.api}/experiments/create", json={"name": unique("evalds")},
                      timeout=10)
    exp_id = r.json()["experiment_id"]
    api = f"{fresh_server.url}/api/3.0/mlflow/datasets"
    r = requests.post(f"{api}/create", json={"name": "kill", "experiment_ids": [exp_id]},
                      timeout=10)
    dataset_id = r.json()["dataset"]["dataset_id"]
    stop_at = time.monotonic() + HARD_STOP_SECONDS
    acked: list[list[int]] = [[] for _ in range(THREADS)]

    def send(index: int):
        n = 0
        while time.monotonic() < stop_at:
            records = [{"inputs": {"writer": index, "n": n}, "expectations": {"first": True}},
                       {"inputs": {"writer": index, "n": max(n - 1, 0)},
                        "expectations": {"merged": n}}]
            try:
                resp = requests.post(f"{api}/{dataset_id}/records", timeout=5,
                                     json={"records": json.dumps(records)})
            except requests.RequestException:
                return
            if resp.status_code != 200:
                return
            acked[index].append(n)
            n += 1

    threads = [threading.Thread(target=send, args=(i,), daemon=True) for i in range(THREADS)]
    for t in threads:
        t.start()
    time.sleep(1.5)
    fresh_server.kill()
    for t in threads:
        t.join(HARD_STOP_SECONDS + 5)
    fresh_server.restart()
    stored: dict[tuple[int, int], dict] = {}
    token = None
    while True:
        params = {"max_results": 1000, **({"page_token": token} if token else {})}
        r = requests.get(f"{api}/{dataset_id}/records", params=params, timeout=10)
        assert r.status_code == 200, r.text
        for record in json.loads(r.json()["records"]):
            stored[(record["inputs"]["writer"], record["inputs"]["n"])] = record
        token = r.json().get("next_page_token")
        if not token:
            break
    assert sum(len(a) for a in acked) > 0
    for index, ns in enumerate(acked):
        for n in ns:
            record = stored.get((index, n))
            assert record is not None, f"acknowledged record {index}/{n} lost"
            assert record["expectations"]["first"] is True
        if len(ns) > 1:  # the merge of the last acknowledged request is there too
            last = ns[-1]
            assert stored[(index, last - 1)]["expectations"]["merged"] >= last
