"""One throw-away PostgreSQL cluster for a benchmark run.

The cluster is the integration tests' (tests/integration/pg.py: initdb and
pg_ctl from Debian's postgresql on a temporary folder and a free loopback
port, run as the `postgres` user when the bench runs as root, `trust`
authentication for the superuser `slipway` over 127.0.0.1 only), with one
difference: the tests turn fsync and full-page writes off, a benchmark keeps
PostgreSQL's defaults (fsync on, synchronous_commit on) unless asked, so a
commit costs what it costs on a real server. Every server under test gets a
fresh database of its own on it.
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
from pg import PostgresCluster, find_postgres_bin  # noqa: E402


class BenchCluster(PostgresCluster):
    """PostgresCluster started with durable settings (or the tests' fast ones)."""

    def __init__(self, bin_dir, durable=True):
        super().__init__(bin_dir)
        self.durable = durable
        self.settings = ""

    def start(self):
        self.socket_dir.mkdir()
        if self.as_postgres:
            import pwd
            user = pwd.getpwnam("postgres")
            for path in (self.root, self.socket_dir):
                os.chown(path, user.pw_uid, user.pw_gid)
        self._check([str(self.bin_dir / "initdb"), "-D", str(self.data_dir), "-U", "slipway",
                     "-A", "trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"], "initdb")
        fast = "" if self.durable else " -c fsync=off -c full_page_writes=off"
        self.settings = ("fsync=on, full_page_writes=on, synchronous_commit=on (defaults)"
                         if self.durable else "fsync=off, full_page_writes=off (tests' settings)")
        result = None
        for _ in range(5):  # a free port can be taken between asking and binding
            from pg import _free_port
            self.port = _free_port()
            options = (f"-p {self.port} -c listen_addresses=127.0.0.1 "
                       f"-c unix_socket_directories={self.socket_dir} "
                       f"-c max_connections=200{fast}")
            result = self._run([str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-l",
                                str(self.log_path), "-o", options, "-w", "-t", "60", "start"])
            if result.returncode == 0:
                self.running = True
                return self
            if "could not bind" not in self.log_tail():
                break
        raise RuntimeError(f"pg_ctl start failed:\n{result.stdout}{result.stderr}{self.log_tail()}")

    def version(self):
        return self.psql("SHOW server_version").strip()


def start_cluster(durable=True):
    """A running BenchCluster; raises RuntimeError if PostgreSQL is not installed."""
    bin_dir = find_postgres_bin()
    if bin_dir is None:
        raise RuntimeError("no initdb found: install Debian's postgresql package")
    return BenchCluster(bin_dir, durable).start()
