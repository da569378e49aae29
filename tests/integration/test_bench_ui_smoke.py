"""bench/ui/run.py still runs: its quick mode against Slipway alone (2,000 runs,
a 20,000-point metric, one repeat, about 30 s), so the benchmark of the web UI
cannot rot between full runs. It needs what the web UI tests need: Debian's
chromium and Playwright."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conftest import REPO_ROOT, slipway_binary

pytestmark = pytest.mark.slipway_only

CHROMIUM = os.environ.get("SLIPWAY_CHROMIUM", "/usr/bin/chromium")


def test_bench_ui_quick_against_slipway(tmp_path):
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"no chromium at {CHROMIUM}: `make deps` installs Debian's chromium")
    work = tmp_path / "work"
    proc = subprocess.run(
        [sys.executable, str(REPO_ROOT / "bench" / "ui" / "run.py"), "--quick", "--repeats", "1",
         "--servers", "slipway", "--no-record", "--slipway-bin", str(slipway_binary()),
         "--workdir", str(work), "--timeout", "60"],
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    res = json.loads((work / "results.json").read_text())["slipway"]
    for key in ("first", "warm", "search", "chart"):
        assert len(res[key]) == 1, (key, res)
        assert 0 < res[key][0]["ms"] < 60_000, (key, res[key])
    # The cold page fetched the app and the runs; the search asked the server again.
    assert res["first"][0]["bytes"] > 10_000 and res["first"][0]["requests"] >= 2
    assert res["search"][0]["requests"] >= 1
    # The chart got sampled points of the 20,000-point metric, not all of them.
    assert 100 <= res["chart"][0]["points"] < 20_000, res["chart"]
    assert res["chart"][0]["history_bytes"] > 0
    assert "| runs page first render, cold, ms" in proc.stdout
