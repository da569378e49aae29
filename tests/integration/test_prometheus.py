"""A real Prometheus server scrapes Slipway's /metrics and can query what it served.

Prometheus (Debian's package, installed by `make deps`) is started on a free
loopback port with a one-second scrape interval pointed at a real
`slipway server`. The test drives known requests, then asks Prometheus'
HTTP API for the series: the exposition must parse, the target must be up, and
the counters and histogram must hold the numbers the test caused.
"""

from __future__ import annotations

import shutil
import subprocess
import time

import pytest
import requests

from conftest import free_port, unique

pytestmark = pytest.mark.slipway_only

PROMETHEUS = shutil.which("prometheus")


@pytest.fixture
def prometheus(server, tmp_path):
    if PROMETHEUS is None:
        pytest.fail("prometheus is not installed: `make deps` installs Debian's package")
    port = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n"
        "  scrape_interval: 1s\n"
        "  evaluation_interval: 1s\n"
        "scrape_configs:\n"
        "  - job_name: slipway\n"
        "    static_configs:\n"
        f"      - targets: ['127.0.0.1:{server.port}']\n"
    )
    log = open(tmp_path / "prometheus.log", "wb")
    proc = subprocess.Popen(
        [PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
         f"--web.listen-address=127.0.0.1:{port}"],
        stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                if requests.get(f"{url}/-/ready", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if proc.poll() is not None:
                pytest.fail(f"prometheus exited: {(tmp_path / 'prometheus.log').read_text()}")
            time.sleep(0.2)
        else:
            pytest.fail("prometheus did not become ready within 30 s")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


def query(url: str, expr: str) -> list:
    r = requests.get(f"{url}/api/v1/query", params={"query": expr}, timeout=5)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "success", body
    return body["data"]["result"]


def wait_for(url: str, expr: str, predicate, timeout: float = 30.0) -> list:
    deadline = time.time() + timeout
    result = []
    while time.time() < deadline:
        result = query(url, expr)
        if predicate(result):
            return result
        time.sleep(0.5)
    pytest.fail(f"{expr} never satisfied the condition; last result: {result}")


def test_prometheus_scrapes_request_counters_and_histograms(server, prometheus):
    experiment = server.post("experiments/create", {"name": unique("prom")}).json()["experiment_id"]
    for _ in range(7):
        r = server.post("runs/create", {"experiment_id": experiment})
        assert r.status_code == 200, r.text
    for _ in range(3):
        r = server.get("runs/get", {"run_id": "does-not-exist"})
        assert r.status_code == 404

    # The target is up: the exposition parsed without errors.
    wait_for(prometheus, 'up{job="slipway"}', lambda r: r and r[0]["value"][1] == "1")
    created = wait_for(
        prometheus,
        'slipway_http_requests_total{route="runs/create",method="POST",status="200"}',
        lambda r: r and float(r[0]["value"][1]) == 7)
    assert created[0]["metric"]["job"] == "slipway"
    wait_for(prometheus,
             'slipway_http_requests_total{route="runs/get",method="GET",status="404"}',
             lambda r: r and float(r[0]["value"][1]) == 3)
    # The histogram is usable: buckets end in +Inf equal to the count, and a
    # quantile over them is a finite number of seconds.
    wait_for(prometheus,
             'slipway_http_request_duration_seconds_count{route="runs/create"}',
             lambda r: r and float(r[0]["value"][1]) == 7)
    inf = query(prometheus,
                'slipway_http_request_duration_seconds_bucket{route="runs/create",le="+Inf"}')
    assert float(inf[0]["value"][1]) == 7
    p99 = query(prometheus, 'histogram_quantile(0.99, '
                'slipway_http_request_duration_seconds_bucket{route="runs/create"})')
    assert 0 < float(p99[0]["value"][1]) <= 10
