"""A throw-away PostgreSQL server for the tests: Debian's `postgresql` package.

`PostgresCluster` runs initdb and pg_ctl on a temporary folder and a free
loopback port, so a test run needs no PostgreSQL set up beforehand and
leaves nothing behind. PostgreSQL refuses to run as root; when the tests
run as root, the cluster's files belong to the `postgres` user and its
programs run as that user through `runuser`. Clients connect over TCP to
127.0.0.1 as the superuser `slipway`, with `trust` authentication (loopback
only, and the cluster lives as long as the test run).

The cluster is tuned for a test run: no fsync (a killed `slipway server`
loses nothing it acknowledged, since PostgreSQL's own process keeps running
and the files stay in the kernel's cache; only a crash of the machine would
lose commits, which no test makes).

Used by conftest.py's `postgres` (session scope) and `postgres_db` (a fresh
database per test) fixtures; also runnable to start a cluster by hand for the
unit tests:

    python3 tests/integration/pg.py    # prints SLIPWAY_TEST_POSTGRES_URI=...; Ctrl-C or kill stops it
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

SUPERUSER = "slipway"


def find_postgres_bin() -> Path | None:
    """The folder of initdb and pg_ctl: $SLIPWAY_POSTGRES_BIN, else the newest
    /usr/lib/postgresql/<version>/bin (Debian installs them off PATH), else PATH."""
    if os.environ.get("SLIPWAY_POSTGRES_BIN"):
        return Path(os.environ["SLIPWAY_POSTGRES_BIN"])
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0)
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresCluster:
    """One running PostgreSQL server in a temporary folder; stop() removes it."""

    def __init__(self, bin_dir: Path):
        self.bin_dir = bin_dir
        self.as_postgres = os.geteuid() == 0
        # Not under pytest's tmp dir: that is private to root (mode 700), and
        # the server runs as `postgres`.
        self.root = Path(tempfile.mkdtemp(prefix="slipway-pg-"))
        self.data_dir = self.root / "data"
        self.socket_dir = self.root / "socket"
        self.log_path = self.root / "server.log"
        self.port = 0
        self.running = False
        self.databases = 0

    # ------------------------------------------------------------------ running
    def _run(self, args: list[str], **kw) -> subprocess.CompletedProcess:
        if self.as_postgres:
            args = ["runuser", "-u", "postgres", "--", *args]
        return subprocess.run(args, capture_output=True, text=True, **kw)

    def _check(self, args: list[str], what: str) -> None:
        result = self._run(args)
        if result.returncode != 0:
            raise RuntimeError(
                f"{what} failed with exit code {result.returncode}: {' '.join(args)}\n"
                f"{result.stdout}{result.stderr}{self.log_tail()}"
            )

    def log_tail(self, limit: int = 3000) -> str:
        try:
            return "\n--- server.log ---\n" + self.log_path.read_text(errors="replace")[-limit:]
        except OSError:
            return ""

    def start(self) -> "PostgresCluster":
        self.socket_dir.mkdir()
        if self.as_postgres:
            user = pwd.getpwnam("postgres")
            for path in (self.root, self.socket_dir):
                os.chown(path, user.pw_uid, user.pw_gid)
        self._check([str(self.bin_dir / "initdb"), "-D", str(self.data_dir), "-U", SUPERUSER,
                     "-A", "trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"], "initdb")
        # A free port can be taken between asking and binding: try a few.
        for _ in range(5):
            self.port = _free_port()
            options = (f"-p {self.port} -c listen_addresses=127.0.0.1 "
                       f"-c unix_socket_directories={self.socket_dir} -c fsync=off "
                       f"-c full_page_writes=off -c max_connections=200")
            result = self._run([str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-l",
                                str(self.log_path), "-o", options, "-w", "-t", "60", "start"])
            if result.returncode == 0:
                self.running = True
                return self
            if "could not bind" not in self.log_tail():
                break
        raise RuntimeError(f"pg_ctl start failed:\n{result.stdout}{result.stderr}{self.log_tail()}")

    def stop(self) -> None:
        if self.running:
            self._run([str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-m", "immediate",
                       "-w", "stop"])
            self.running = False
        shutil.rmtree(self.root, ignore_errors=True)

    # ------------------------------------------------------------------ use
    def uri(self, database: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def psql(self, sql: str, database: str = "postgres") -> str:
        """Runs `sql` with psql over TCP; returns its unaligned output."""
        psql = self.bin_dir / "psql"
        if not psql.exists():
            psql = Path(shutil.which("psql") or "psql")
        result = subprocess.run(
            [str(psql), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", self.uri(database),
             "-c", sql], capture_output=True, text=True, timeout=60)
        if result.returncode != 0:
            raise RuntimeError(f"psql failed: {sql}\n{result.stderr}")
        return result.stdout

    def create_database(self, prefix: str = "t") -> str:
        """A new empty database (from template0: nothing a test left in
        template1 leaks into it); returns its URI."""
        self.databases += 1
        name = f"{prefix}_{self.databases}_{uuid.uuid4().hex[:8]}"
        self.psql(f'CREATE DATABASE "{name}" TEMPLATE template0 ENCODING \'UTF8\'')
        return self.uri(name)


def _stop_on_signal(signum, frame):
    raise KeyboardInterrupt


if __name__ == "__main__":
    # Ctrl-C or kill: stop the server and remove its folder (a shell starts
    # background jobs with SIGINT ignored, so take it back, and SIGTERM too).
    signal.signal(signal.SIGINT, _stop_on_signal)
    signal.signal(signal.SIGTERM, _stop_on_signal)
    bin_dir = find_postgres_bin()
    if bin_dir is None:
        raise SystemExit("no initdb found: install Debian's postgresql package")
    cluster = PostgresCluster(bin_dir).start()
    print(f"SLIPWAY_TEST_POSTGRES_URI={cluster.uri()}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        cluster.stop()
