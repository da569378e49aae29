"""Several `slipway server` replicas on one PostgreSQL database and one
artifact folder, behind Debian's nginx on loopback (issue 16).

`ReplicaSet.start(n)` starts n servers (each with a data folder of its own:
the model cache, the prediction log) on the same `--store postgresql://...`
and the same `--artifacts` folder, then nginx as their load balancer on a
free port: round robin, a replica that refuses connections skipped
(`proxy_next_upstream error`), no request buffering (artifact uploads stream
through). Used by test_replicas.py and bench/replicas/.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import requests

from conftest import SlipwayServer, free_port, slipway_binary

NGINX_CONF = """
worker_processes 1;
daemon off;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
{user}
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_body_temp_path {root}/body;
  proxy_temp_path {root}/proxy;
  fastcgi_temp_path {root}/fastcgi;
  uwsgi_temp_path {root}/uwsgi;
  scgi_temp_path {root}/scgi;
  client_max_body_size 0;
  upstream slipway {{
{servers}
    keepalive 32;
  }}
  server {{
    listen 127.0.0.1:{port};
    location / {{
      proxy_pass http://slipway;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_request_buffering off;
      proxy_buffering off;
      proxy_read_timeout 120s;
      proxy_next_upstream error timeout;
    }}
  }}
}}
"""


def find_nginx() -> str | None:
    return shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)


class Nginx:
    """nginx in the foreground on a loopback port, balancing over `ports`."""

    def __init__(self, root: Path, ports: list[int]):
        self.root = root
        self.ports = ports
        self.port = 0
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "Nginx":
        binary = find_nginx()
        if binary is None:
            raise RuntimeError("nginx not found: install Debian's nginx-light (make test does)")
        self.root.mkdir(parents=True, exist_ok=True)
        for _ in range(5):
            self.port = free_port()
            conf = self.root / "nginx.conf"
            conf.write_text(NGINX_CONF.format(
                root=self.root, port=self.port,
                # Workers as root only when the tests run as root (the temp
                # folders are root's then).
                user="user root;" if os.geteuid() == 0 else "",
                servers="\n".join(f"    server 127.0.0.1:{p} max_fails=1 fail_timeout=2s;"
                                  for p in self.ports)))
            self.proc = subprocess.Popen([binary, "-p", str(self.root), "-c", str(conf)],
                                         stdout=subprocess.DEVNULL,
                                         stderr=open(self.root / "stderr", "wb"),
                                         stdin=subprocess.DEVNULL, start_new_session=True)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and self.proc.poll() is None:
                try:
                    if requests.get(f"{self.url}/health", timeout=1).status_code == 200:
                        return self
                except requests.RequestException:
                    pass
                time.sleep(0.05)
            self.stop()
        raise RuntimeError("nginx did not start: " + (self.root / "stderr").read_text()
                           + self.log_tail())

    def log_tail(self) -> str:
        path = self.root / "error.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)


class ReplicaSet:
    """n replicas on one database and one artifact folder, and nginx before them."""

    def __init__(self, root: Path, store_uri: str, extra_args: list[str] | None = None,
                 env: dict[str, str] | None = None):
        self.root = root
        self.store_uri = store_uri
        self.artifacts = root / "shared-artifacts"
        self.extra_args = extra_args or []
        self.env = env or {}
        self.replicas: list[SlipwayServer] = []
        self.nginx: Nginx | None = None

    @property
    def url(self) -> str:
        return self.nginx.url

    def start(self, n: int) -> "ReplicaSet":
        self.artifacts.mkdir(parents=True, exist_ok=True)
        for i in range(n):
            replica = SlipwayServer(binary=slipway_binary(), data_dir=self.root / f"replica-{i}",
                                    store_uri=self.store_uri, artifacts_uri=str(self.artifacts),
                                    extra_args=list(self.extra_args), env=dict(self.env))
            self.replicas.append(replica.start())
        self.nginx = Nginx(self.root / "nginx", [r.port for r in self.replicas]).start()
        return self

    def stop(self) -> None:
        if self.nginx is not None:
            self.nginx.stop()
        for replica in self.replicas:
            if replica.alive():
                replica.stop()

    def leaders(self) -> list[int]:
        """The indexes of the live replicas whose /metrics say they lead."""
        out = []
        for i, replica in enumerate(self.replicas):
            if not replica.alive():
                continue
            text = requests.get(f"{replica.url}/metrics", timeout=10).text
            if "\nslipway_replica_leader 1" in "\n" + text:
                out.append(i)
        return out
