#!/usr/bin/env python3
"""Runs a command with one S3Proxy and one PostgreSQL for all of it:
`with_test_servers.py CMD ARGS...`.

The unit tests of the S3 backend and of the PostgreSQL stores start their
own server when SLIPWAY_TEST_S3_ENDPOINT or SLIPWAY_TEST_POSTGRES_URI is
unset, once per test process; ctest runs every test in its own process, so
`make test-unit` starts one of each here instead (a JVM start or an initdb
costs seconds on two cores) and hands them to the command through those
variables. Each test still works in its own bucket prefix or database. A
server that cannot be started here (no S3Proxy jars or java, no initdb) is
left to the tests, which start their own or skip, saying why. Exits with
the command's status.
"""

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "integration"))
import pg  # noqa: E402  (tests/integration/pg.py: the one way to start PostgreSQL)
import s3  # noqa: E402  (tests/integration/s3.py: the one way to start S3Proxy)


def main() -> int:
    command = sys.argv[1:]
    if not command:
        sys.exit("usage: with_test_servers.py COMMAND [ARGS...]")
    env = dict(os.environ)
    stops = []
    try:
        if (s3.S3PROXY_LIB / "s3proxy-2.6.0.jar").exists() and shutil.which("java"):
            folder = Path(tempfile.mkdtemp(prefix="slipway-s3proxy-"))
            proxy = s3.start_s3proxy(folder)
            stops.append(lambda: (proxy.stop(), shutil.rmtree(folder, ignore_errors=True)))
            env.update(SLIPWAY_TEST_S3_ENDPOINT=proxy.endpoint,
                       SLIPWAY_TEST_S3_ACCESS_KEY=s3.ACCESS_KEY,
                       SLIPWAY_TEST_S3_SECRET_KEY=s3.SECRET_KEY)
        else:
            print("with_test_servers: no S3Proxy jars or no java; the S3 tests start their own "
                  "or skip", file=sys.stderr)
        bin_dir = pg.find_postgres_bin()
        if bin_dir is not None:
            cluster = pg.PostgresCluster(bin_dir).start()
            stops.append(cluster.stop)
            env["SLIPWAY_TEST_POSTGRES_URI"] = cluster.uri()
        else:
            print("with_test_servers: no initdb; the PostgreSQL tests start their own or skip",
                  file=sys.stderr)
        return subprocess.call(command, env=env)
    finally:
        for stop in reversed(stops):
            stop()


if __name__ == "__main__":
    sys.exit(main())
