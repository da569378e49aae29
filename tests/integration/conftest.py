"""Fixtures that run a real `slipway server` process for the integration tests.

The binary is ``$SLIPWAY_BINARY`` or ``<repo>/build/slipway``. Every server gets a
fresh SQLite store and artifact folder under pytest's tmp dir, listens on a free
loopback port and is stopped with SIGTERM at teardown; a server that does not
exit 0 then (a crash, a hang) fails the test that owned it.

``SLIPWAY_ITEST_REFERENCE=mlflow`` runs the same tests against MLflow's own
``mlflow server`` instead, to check that the tests expect what MLflow does; tests
marked ``slipway_only`` (Slipway's own contract: /metrics, 413, exit codes) are
skipped in that mode.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

# The client must fail fast against a broken server, not retry for minutes, and
# must never phone home from a test.
os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "60")
os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
os.environ["DO_NOT_TRACK"] = "true"

REPO_ROOT = Path(__file__).resolve().parents[2]
REFERENCE = os.environ.get("SLIPWAY_ITEST_REFERENCE", "")
# SLIPWAY_ITEST_STORE=postgresql: every server the fixtures start gets a fresh
# database on the run's PostgreSQL instead of a SQLite file (tests that open
# the SQLite file themselves do not apply then).
STORE = os.environ.get("SLIPWAY_ITEST_STORE", "sqlite")
# SLIPWAY_ITEST_ARTIFACTS=s3: every server the fixtures start keeps its
# artifacts under a prefix of its own in one bucket of the run's S3Proxy
# (tests/integration/s3.py) instead of a local folder (tests that read the
# artifact folder themselves do not apply then).
ARTIFACTS = os.environ.get("SLIPWAY_ITEST_ARTIFACTS", "local")
STARTUP_TIMEOUT_S = 60.0 if REFERENCE else 20.0
SHUTDOWN_TIMEOUT_S = 30.0 if REFERENCE else 10.0


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "slipway_only: Slipway's own contract, not checked against mlflow server"
    )


# Files a test run wrote for people to look at (the web UI's screenshots):
# the run's summary names them. Under pytest-xdist the tests run in worker
# processes, so the summary (written by the controller) also looks at the
# screenshot folder itself: named when a file in it is newer than the run.
REVIEW_FILES: list[str] = []
_RUN_STARTED = time.time()


def _screenshot_folder() -> Path:
    default = slipway_binary().parent / "screenshots"
    return Path(os.environ.get("SLIPWAY_SCREENSHOTS", default)).resolve()


def pytest_terminal_summary(terminalreporter):
    lines = list(REVIEW_FILES)
    folder = _screenshot_folder()
    if folder.is_dir() and any(f.stat().st_mtime >= _RUN_STARTED for f in folder.iterdir()):
        lines.append(f"web UI screenshots: {folder}")
    for line in dict.fromkeys(lines):
        terminalreporter.write_line(line)


def pytest_collection_modifyitems(config, items):
    if not REFERENCE:
        return
    skip = pytest.mark.skip(reason="Slipway-specific behaviour; reference mode")
    for item in items:
        if "slipway_only" in item.keywords:
            item.add_marker(skip)


def slipway_binary() -> Path:
    return Path(os.environ.get("SLIPWAY_BINARY", REPO_ROOT / "build" / "slipway")).resolve()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def unique(prefix: str) -> str:
    """A name no other test uses, so tests sharing a server stay independent."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


@dataclass
class SlipwayServer:
    """One `slipway server` process and the store it owns.

    The store and artifact folder outlive the process, so restart() brings a
    server back on the same data (and the same port).
    """

    binary: Path
    data_dir: Path
    port: int = field(default_factory=free_port)
    host: str = "127.0.0.1"
    proc: subprocess.Popen | None = None
    starts: int = 0
    extra_args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    store_uri: str = ""  # a PostgreSQL database (SLIPWAY_ITEST_STORE); "": SQLite in data_dir
    # --artifacts when not the local folder (an s3:// root: test_s3_artifacts.py).
    artifacts_uri: str = ""

    @property
    def store_path(self) -> Path:
        return self.data_dir / "slipway.db"

    @property
    def artifacts_dir(self) -> Path:
        return self.data_dir / "artifacts"

    def stored_artifact(self, path: str) -> bytes | None:
        """The bytes the artifact root holds at `path` (relative to the root):
        the local folder, or the run's bucket under SLIPWAY_ITEST_ARTIFACTS=s3;
        None when there is nothing."""
        if self.artifacts_uri.startswith(f"s3://{_S3_BUCKET}/") and _S3 is not None:
            key = self.artifacts_uri.removeprefix(f"s3://{_S3_BUCKET}/") + "/" + path
            found = _S3.object_path(_S3_BUCKET, key)
        else:
            found = self.artifacts_dir / path
        return found.read_bytes() if found.is_file() else None

    def stored_dataset_files(self, folder: str) -> list[str]:
        """The files of the server's dataset content store under `folder`
        (`packs`, `objects`): beside the store database, or in the run's
        bucket under SLIPWAY_ITEST_ARTIFACTS=s3 (PREFIX/.slipway/datasets/)."""
        if self.artifacts_uri.startswith(f"s3://{_S3_BUCKET}/") and _S3 is not None:
            prefix = (self.artifacts_uri.removeprefix(f"s3://{_S3_BUCKET}/") +
                      f"/.slipway/datasets/{folder}/")
            return sorted(_S3.objects(_S3_BUCKET, prefix))
        root = self.data_dir / "datasets" / folder
        return sorted(str(p) for p in root.rglob("*") if p.is_file())

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def api(self) -> str:
        return f"{self.url}/api/2.0/mlflow"

    @property
    def artifacts_api(self) -> str:
        return f"{self.url}/api/2.0/mlflow-artifacts/artifacts"

    @property
    def stderr_path(self) -> Path:
        return self.data_dir / f"server-{self.starts}.stderr"

    @property
    def stdout_path(self) -> Path:
        return self.data_dir / f"server-{self.starts}.stdout"

    def command(self) -> list[str]:
        if REFERENCE == "mlflow":
            return [
                "mlflow", "server", "--host", self.host, "--port", str(self.port),
                "--backend-store-uri", f"sqlite:///{self.store_path}",
                "--artifacts-destination", str(self.artifacts_dir), "--workers", "1",
            ]
        return [
            str(self.binary), "server", "--host", self.host, "--port", str(self.port),
            *(["--data-dir", str(self.data_dir)] if self.store_uri else []),
            "--store", self.store_uri or f"sqlite:///{self.store_path}",
            "--artifacts", self.artifacts_uri or str(self.artifacts_dir),
            *self.extra_args,
        ]

    def stderr_tail(self, limit: int = 4000) -> str:
        text = ""
        for path in (self.stderr_path, self.stdout_path):
            if path.exists():
                text += f"--- {path.name} ---\n" + path.read_text(errors="replace")[-limit:]
        return text

    def start(self) -> "SlipwayServer":
        assert self.proc is None or self.proc.poll() is not None, "server already running"
        if not REFERENCE and not self.binary.exists():
            pytest.fail(
                f"slipway binary not found at {self.binary}: build it or set SLIPWAY_BINARY"
            )
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.artifacts_dir.mkdir(parents=True, exist_ok=True)
        self.starts += 1
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(
                self.command(), stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                cwd=self.data_dir, start_new_session=True, env={**os.environ, **self.env},
            )
        self.wait_ready()
        return self

    def wait_ready(self, timeout: float = STARTUP_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout
        last = "no answer"
        while time.monotonic() < deadline:
            code = self.proc.poll()
            if code is not None:
                pytest.fail(
                    f"slipway server exited with {code} before /health answered "
                    f"({' '.join(self.command())})\n{self.stderr_tail()}"
                )
            try:
                r = requests.get(f"{self.url}/health", timeout=1)
                if r.status_code == 200:
                    return
                last = f"HTTP {r.status_code}: {r.text[:200]}"
            except requests.RequestException as e:
                last = repr(e)
            time.sleep(0.05)
        self.kill()
        pytest.fail(
            f"slipway server did not answer GET /health with 200 within {timeout}s "
            f"(last: {last})\n{self.stderr_tail()}"
        )

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = SHUTDOWN_TIMEOUT_S) -> int:
        """SIGTERM and wait; returns the exit code (fails the test on a hang)."""
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                pytest.fail(
                    f"slipway server did not exit within {timeout}s of SIGTERM\n"
                    f"{self.stderr_tail()}"
                )
        if REFERENCE:  # mlflow server leaves job-runner processes in its group
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        return self.proc.returncode

    def kill(self) -> None:
        """SIGKILL the server (its whole process group: mlflow server forks workers)."""
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(timeout=10)

    def restart(self) -> "SlipwayServer":
        """SIGTERM (asserting a clean exit), then start again on the same store."""
        if self.alive():
            code = self.stop()
            assert code == 0 or REFERENCE, (
                f"server exited {code} on SIGTERM\n{self.stderr_tail()}"
            )
        return self.start()

    def assert_clean_exit(self) -> None:
        """Teardown check: the server must still be alive, then exit 0 on SIGTERM."""
        if self.proc is None:
            return
        code = self.proc.poll()
        if code is not None and code != 0 and code != -signal.SIGKILL:
            pytest.fail(f"slipway server died during the test with {code}\n{self.stderr_tail()}")
        if code is None:
            code = self.stop()
            if not REFERENCE:
                assert code == 0, (
                    f"slipway server exited {code} on SIGTERM (expected 0)\n{self.stderr_tail()}"
                )

    # ------------------------------------------------------------------ helpers
    def post(self, endpoint: str, body, **kw) -> requests.Response:
        data = body if isinstance(body, (bytes, str)) else json.dumps(body)
        headers = {"Content-Type": "application/json", **kw.pop("headers", {})}
        return requests.post(f"{self.api}/{endpoint}", data=data, headers=headers,
                             timeout=kw.pop("timeout", 30), **kw)

    def get(self, endpoint: str, params=None, **kw) -> requests.Response:
        return requests.get(f"{self.api}/{endpoint}", params=params,
                            timeout=kw.pop("timeout", 30), **kw)


def _make_server(tmp_path_factory, name: str) -> SlipwayServer:
    data_dir = tmp_path_factory.mktemp(name)
    store_uri = _postgres_cluster().create_database() if STORE == "postgresql" else ""
    srv = SlipwayServer(binary=slipway_binary(), data_dir=data_dir, store_uri=store_uri)
    if ARTIFACTS == "s3":
        proxy = _run_s3proxy()
        srv.artifacts_uri = f"s3://{_S3_BUCKET}/{data_dir.name}"
        srv.extra_args += ["--s3-endpoint", proxy.endpoint]
        srv.env.update(proxy.env())
    return srv


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A server shared by the tests of one module (they use fresh experiment names)."""
    srv = _make_server(tmp_path_factory, "slipway").start()
    yield srv
    srv.assert_clean_exit()


@pytest.fixture
def fresh_server(tmp_path_factory):
    """A server of the test's own, for tests that stop, kill or restart it."""
    srv = _make_server(tmp_path_factory, "slipway-fresh").start()
    yield srv
    srv.assert_clean_exit()


@pytest.fixture
def server_factory(tmp_path_factory):
    """Builds (not yet started) servers; every one started is checked at teardown."""
    made: list[SlipwayServer] = []

    def make() -> SlipwayServer:
        srv = _make_server(tmp_path_factory, "slipway-made")
        made.append(srv)
        return srv

    yield make
    for srv in made:
        srv.assert_clean_exit()


@pytest.fixture(autouse=True)
def _shared_server_still_alive(request):
    """A module-scoped server that died during a test fails that test, not a later one.

    (Function-scoped servers are checked by their own teardown.)
    """
    yield
    if "server" in request.fixturenames:
        srv = request.getfixturevalue("server")
        if srv.proc is not None and srv.proc.poll() is not None:
            pytest.fail(
                f"slipway server died during this test with {srv.proc.returncode}\n"
                f"{srv.stderr_tail()}"
            )


_REGISTRY_URI_AT_START = os.environ.get("MLFLOW_REGISTRY_URI")


@pytest.fixture(autouse=True)
def _mlflow_registry_uri_reset():
    """mlflow.set_registry_uri sets a process global and MLFLOW_REGISTRY_URI:
    each test's ends with the test (a stale one sends a later module's
    MlflowClient(url) registry calls to a server stopped by then). Module
    fixtures set it too, so it goes back to what the session started with;
    without one, MLflow uses the tracking URI, which those fixtures set."""
    yield
    if "mlflow" in sys.modules:
        sys.modules["mlflow"].set_registry_uri(None)
    if _REGISTRY_URI_AT_START is None:
        os.environ.pop("MLFLOW_REGISTRY_URI", None)
    else:
        os.environ["MLFLOW_REGISTRY_URI"] = _REGISTRY_URI_AT_START


def _point_mlflow_at(srv: SlipwayServer, monkeypatch):
    import mlflow
    import mlflow.tracking.fluent as fluent
    from mlflow import MlflowClient

    while mlflow.active_run() is not None:
        mlflow.end_run()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", srv.url)
    monkeypatch.delenv("MLFLOW_EXPERIMENT_ID", raising=False)
    monkeypatch.delenv("MLFLOW_EXPERIMENT_NAME", raising=False)
    monkeypatch.delenv("MLFLOW_RUN_ID", raising=False)
    mlflow.set_tracking_uri(srv.url)
    # set_registry_uri also sets MLFLOW_REGISTRY_URI: through monkeypatch, so
    # the variable goes when the test ends (the module global is reset by the
    # fixture); a stale one would send a later module's MlflowClient(url)'s
    # registry calls to this, by then stopped, server.
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", srv.url)
    mlflow.set_registry_uri(srv.url)
    fluent._active_experiment_id = None
    return MlflowClient(tracking_uri=srv.url)


@pytest.fixture
def mlflow_client(server, monkeypatch):
    """An MlflowClient (and the fluent API) pointed at the shared server."""
    import mlflow

    client = _point_mlflow_at(server, monkeypatch)
    yield client
    while mlflow.active_run() is not None:
        mlflow.end_run()
    import mlflow.tracking.fluent as fluent

    fluent._active_experiment_id = None


@pytest.fixture
def fresh_mlflow_client(fresh_server, monkeypatch):
    """An MlflowClient (and the fluent API) pointed at the test's own server."""
    import mlflow

    client = _point_mlflow_at(fresh_server, monkeypatch)
    yield client
    while mlflow.active_run() is not None:
        mlflow.end_run()
    import mlflow.tracking.fluent as fluent

    fluent._active_experiment_id = None


def assert_mlflow_error(resp: requests.Response, status: int, error_code: str,
                        message_contains: str | None = None) -> dict:
    """The response is MLflow's error form with this HTTP status and error_code."""
    assert resp.status_code == status, (
        f"expected HTTP {status} {error_code}, got {resp.status_code}: {resp.text[:500]}"
    )
    try:
        body = resp.json()
    except ValueError:
        pytest.fail(f"error body is not JSON (HTTP {resp.status_code}): {resp.text[:500]!r}")
    assert body.get("error_code") == error_code, f"body: {body}"
    assert isinstance(body.get("message"), str) and body["message"], f"body: {body}"
    if message_contains is not None:
        assert message_contains in body["message"], f"body: {body}"
    return body


# ---------------------------------------------------------------------- PostgreSQL
_CLUSTER = None  # the run's PostgreSQL, started on first use


def _postgres_cluster():
    """The run's throw-away PostgreSQL (tests/integration/pg.py), started on
    first use. Debian's `postgresql` package (make test installs it);
    ``SLIPWAY_POSTGRES_BIN`` names another folder of initdb and pg_ctl."""
    global _CLUSTER
    if _CLUSTER is None:
        from pg import PostgresCluster, find_postgres_bin

        bin_dir = find_postgres_bin()
        if bin_dir is None:
            pytest.fail("PostgreSQL's initdb not found: install Debian's postgresql package "
                        "(make test does) or set SLIPWAY_POSTGRES_BIN")
        cluster = PostgresCluster(bin_dir)
        try:
            cluster.start()
        except RuntimeError as e:
            cluster.stop()
            pytest.fail(f"could not start a PostgreSQL cluster: {e}")
        _CLUSTER = cluster
    return _CLUSTER


def pytest_sessionfinish(session):
    if _CLUSTER is not None:
        _CLUSTER.stop()


@pytest.fixture(scope="session")
def postgres():
    """The run's PostgreSQL server (see _postgres_cluster)."""
    return _postgres_cluster()


@pytest.fixture
def postgres_db(postgres) -> str:
    """The URI of a fresh, empty database of the test's own."""
    return postgres.create_database()


_S3 = None  # the run's S3Proxy for SLIPWAY_ITEST_ARTIFACTS=s3, started on first use
_S3_BUCKET = "itest"


def _run_s3proxy():
    global _S3
    if _S3 is None:
        import atexit
        import tempfile

        from s3 import start_s3proxy

        folder = Path(tempfile.mkdtemp(prefix="slipway-itest-s3-"))
        _S3 = start_s3proxy(folder)
        _S3.make_bucket(_S3_BUCKET)
        atexit.register(lambda: (_S3.stop(), shutil.rmtree(folder, ignore_errors=True)))
    return _S3


@pytest.fixture(scope="session")
def s3proxy(tmp_path_factory):
    """A real S3-compatible server (S3Proxy, tests/integration/s3.py) for the session."""
    from s3 import start_s3proxy

    proxy = start_s3proxy(tmp_path_factory.mktemp("s3proxy"))
    yield proxy
    proxy.stop()
