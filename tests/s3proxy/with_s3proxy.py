#!/usr/bin/env python3
"""Runs a command with one S3Proxy for all of it: `with_s3proxy.py CMD ARGS...`.

The unit tests of the S3 backend start their own S3Proxy when
SLIPWAY_TEST_S3_ENDPOINT is unset, one per test process; ctest runs every
test in its own process, so `make test-unit` starts one here instead (a JVM
start costs seconds on two cores) and hands its endpoint and credentials to
the command in SLIPWAY_TEST_S3_*. Without the jars (`make deps-s3proxy`) or
java, the command runs without it, and the S3 tests start their own or skip.
Exits with the command's status.
"""

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
import s3  # noqa: E402  (tests/integration/s3.py: the one way to start S3Proxy)


def main() -> int:
    command = sys.argv[1:]
    if not command:
        sys.exit("usage: with_s3proxy.py COMMAND [ARGS...]")
    if not (s3.S3PROXY_LIB / "s3proxy-2.6.0.jar").exists() or shutil.which("java") is None:
        print("with_s3proxy: no S3Proxy jars or no java; running without it", file=sys.stderr)
        return subprocess.call(command)
    folder = Path(tempfile.mkdtemp(prefix="slipway-s3proxy-"))
    proxy = s3.start_s3proxy(folder)
    try:
        env = dict(os.environ, SLIPWAY_TEST_S3_ENDPOINT=proxy.endpoint,
                   SLIPWAY_TEST_S3_ACCESS_KEY=s3.ACCESS_KEY, SLIPWAY_TEST_S3_SECRET_KEY=s3.SECRET_KEY)
        return subprocess.call(command, env=env)
    finally:
        proxy.stop()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
