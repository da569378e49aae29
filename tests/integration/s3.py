"""S3Proxy, the S3-compatible server the S3 tests run Slipway against.

A real server (org.gaul:s3proxy from Maven Central, on jclouds' filesystem
backend), not a mocking library. Its jars are fetched once by
``make deps-s3proxy`` (``mvn dependency:copy-dependencies`` over
tests/s3proxy/pom.xml) into tests/s3proxy/lib. A server listens on a free
loopback port, keeps its buckets as folders under a temporary folder
(bucket ``b`` is ``<basedir>/b``, the object ``x/y`` in it the file
``<basedir>/b/x/y``) and accepts SigV4 with fixed test credentials.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
S3PROXY_LIB = REPO_ROOT / "tests" / "s3proxy" / "lib"
ACCESS_KEY = "slipway-itest-access-key"
# Distinctive, so a test can assert that no log or error message carries it.
SECRET_KEY = "slipway-itest-secret-5b7c1e9f"
STARTUP_TIMEOUT_S = 90.0  # a JVM on a loaded 2-core machine


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class S3Proxy:
    endpoint: str
    basedir: Path
    log_path: Path
    proc: subprocess.Popen

    def make_bucket(self, name: str) -> str:
        """A new empty bucket (a folder of the filesystem backend)."""
        (self.basedir / name).mkdir()
        return name

    def object_path(self, bucket: str, key: str) -> Path:
        """Where the filesystem backend keeps the object `key` of `bucket`."""
        return self.basedir / bucket / key

    def objects(self, bucket: str, prefix: str = "") -> dict[str, bytes]:
        """Every object of the bucket under `prefix`, read from the backend's files."""
        root = self.basedir / bucket
        found = {}
        for path in sorted(root.rglob("*")):
            key = path.relative_to(root).as_posix()
            if path.is_file() and key.startswith(prefix):
                found[key] = path.read_bytes()
        return found

    def env(self) -> dict[str, str]:
        """The environment a Slipway process needs to reach it."""
        return {
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": self.endpoint,
        }

    def log_tail(self, limit: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-limit:] if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


def start_s3proxy(folder: Path, port: int | None = None) -> S3Proxy:
    """S3Proxy keeping its buckets under `folder`; on `port` to restart one."""
    if not (S3PROXY_LIB / "s3proxy-2.6.0.jar").exists():
        pytest.fail(f"S3Proxy is not in {S3PROXY_LIB}: run `make deps-s3proxy` (needs mvn, Java 17)")
    if shutil.which("java") is None:
        pytest.fail("java is not on PATH: S3Proxy needs a Java 17 runtime (default-jre-headless)")
    port = port or _free_port()
    endpoint = f"http://127.0.0.1:{port}"
    basedir = folder / "buckets"
    basedir.mkdir(parents=True, exist_ok=True)
    properties = folder / "s3proxy.properties"
    properties.write_text(
        f"s3proxy.endpoint={endpoint}\n"
        "s3proxy.authorization=aws-v2-or-v4\n"
        f"s3proxy.identity={ACCESS_KEY}\n"
        f"s3proxy.credential={SECRET_KEY}\n"
        "jclouds.provider=filesystem\n"
        f"jclouds.filesystem.basedir={basedir}\n"
    )
    log_path = folder / "s3proxy.log"
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            ["java", "-cp", f"{S3PROXY_LIB}/*", "org.gaul.s3proxy.Main",
             "--properties", str(properties)],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True, env={**os.environ, "LOG_LEVEL": "info"},
        )
    proxy = S3Proxy(endpoint=endpoint, basedir=basedir, log_path=log_path, proc=proc)
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"S3Proxy exited with {proc.returncode} at start-up\n{proxy.log_tail()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return proxy
        except OSError:
            time.sleep(0.2)
    proxy.stop()
    pytest.fail(f"S3Proxy did not listen within {STARTUP_TIMEOUT_S}s\n{proxy.log_tail()}")
