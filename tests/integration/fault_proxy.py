"""A fault-injecting HTTP proxy for the tests: between a Slipway server and
S3Proxy, it passes requests on unchanged (the Host header too, so SigV4
signatures stay valid) until a test tells it to misbehave.

    proxy = FaultProxy("http://127.0.0.1:PORT").start()   # proxy.endpoint is its URL
    proxy.fail(503, times=2, method="PUT")   # the next 2 PUTs get a 503 SlowDown
    proxy.fail(500)                          # every request gets a 500, until clear()
    proxy.reset(times=1)                     # the next request's connection is reset
    proxy.delay(2.0)                         # every answer waits 2 s before it starts
    proxy.slow_body(64 * 1024)               # answers' bodies trickle at 64 KiB/s
    proxy.clear()                            # back to passing everything on

A rule applies to requests whose method and path-and-query match (`method`,
`match`: a substring); `times=None` means until cleared. The proxy counts
what it saw (`requests`) and what it injected (`injected`), so a test can
assert that a fault really happened. It runs as threads of the test process
(one per connection), HTTP/1.1 with keep-alive on both sides.
"""

from __future__ import annotations

import http.client
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse

_HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te",
               "trailer", "upgrade"}

_S3_ERROR = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code>"
             "<Message>injected by the test's fault proxy</Message></Error>")
_CODES = {500: "InternalError", 503: "SlowDown", 502: "BadGateway", 504: "GatewayTimeout",
          429: "SlowDown"}


@dataclass
class _Rule:
    kind: str                  # "status", "reset", "delay", "slow_body"
    value: float = 0
    times: int | None = None   # None: until cleared
    method: str | None = None
    match: str | None = None

    def applies(self, method: str, path: str) -> bool:
        if self.times is not None and self.times <= 0:
            return False
        if self.method and self.method != method:
            return False
        return not self.match or self.match in path


@dataclass
class _State:
    lock: threading.Lock = field(default_factory=threading.Lock)
    rules: list[_Rule] = field(default_factory=list)
    requests: list[tuple[str, str]] = field(default_factory=list)
    injected: list[tuple[str, str, str]] = field(default_factory=list)

    def take(self, method: str, path: str) -> list[_Rule]:
        """The rules that apply to this request, each used once."""
        with self.lock:
            self.requests.append((method, path))
            found = []
            for rule in self.rules:
                if rule.applies(method, path):
                    if rule.times is not None:
                        rule.times -= 1
                    found.append(rule)
                    if rule.kind in ("status", "reset"):
                        self.injected.append((rule.kind, method, path))
            return found


class FaultProxy:
    def __init__(self, upstream: str):
        parsed = urlparse(upstream)
        self.upstream_host = parsed.hostname
        self.upstream_port = parsed.port
        self.state = _State()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------ commands
    def fail(self, status: int = 503, times: int | None = None, method: str | None = None,
             match: str | None = None) -> "FaultProxy":
        return self._add(_Rule("status", status, times, method, match))

    def reset(self, times: int | None = None, method: str | None = None,
              match: str | None = None) -> "FaultProxy":
        return self._add(_Rule("reset", 0, times, method, match))

    def delay(self, seconds: float, times: int | None = None, method: str | None = None,
              match: str | None = None) -> "FaultProxy":
        return self._add(_Rule("delay", seconds, times, method, match))

    def slow_body(self, bytes_per_second: int, times: int | None = None,
                  method: str | None = None, match: str | None = None) -> "FaultProxy":
        return self._add(_Rule("slow_body", bytes_per_second, times, method, match))

    def clear(self) -> None:
        with self.state.lock:
            self.state.rules.clear()

    def _add(self, rule: _Rule) -> "FaultProxy":
        with self.state.lock:
            self.state.rules.append(rule)
        return self

    # ------------------------------------------------------------ what it saw
    @property
    def requests(self) -> list[tuple[str, str]]:
        with self.state.lock:
            return list(self.state.requests)

    @property
    def injected(self) -> list[tuple[str, str, str]]:
        with self.state.lock:
            return list(self.state.injected)

    # ------------------------------------------------------------ running
    @property
    def endpoint(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> "FaultProxy":
        proxy = self

        class Handler(_Handler):
            owner = proxy

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True,
                                        name="fault-proxy")
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


class _Handler(BaseHTTPRequestHandler):
    owner: FaultProxy
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # noqa: A002 - quiet: pytest shows failures
        pass

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length", "0") or 0))

    def _reset(self) -> None:
        # RST instead of FIN: the client sees "connection reset by peer".
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        self.connection.close()

    def _handle(self) -> None:
        body = self._body()
        rules = self.owner.state.take(self.command, self.path)
        slow = 0
        for rule in rules:
            if rule.kind == "delay":
                time.sleep(rule.value)
            elif rule.kind == "slow_body":
                slow = int(rule.value)
        for rule in rules:
            if rule.kind == "reset":
                self._reset()
                return
            if rule.kind == "status":
                status = int(rule.value)
                payload = _S3_ERROR.format(code=_CODES.get(status, "InternalError")).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)
                return
        upstream = http.client.HTTPConnection(self.owner.upstream_host, self.owner.upstream_port,
                                              timeout=300)
        try:
            upstream.putrequest(self.command, self.path, skip_host=True,
                                skip_accept_encoding=True)
            for name, value in self.headers.items():
                if name.lower() not in _HOP_BY_HOP and name.lower() != "content-length":
                    upstream.putheader(name, value)
            if body or self.command in ("PUT", "POST"):
                upstream.putheader("Content-Length", str(len(body)))
            upstream.endheaders(body or None)
            answer = upstream.getresponse()
            payload = answer.read()
        except OSError:
            self._reset()
            return
        finally:
            upstream.close()
        self.send_response_only(answer.status, answer.reason)
        for name, value in answer.getheaders():
            if name.lower() not in _HOP_BY_HOP and name.lower() != "content-length":
                self.send_header(name, value)
        length = answer.getheader("Content-Length") if self.command == "HEAD" else len(payload)
        self.send_header("Content-Length", str(length or 0))
        self.end_headers()
        if self.command == "HEAD":
            return
        if not slow:
            self.wfile.write(payload)
            return
        step = max(1, slow // 10)
        for start in range(0, len(payload), step):
            self.wfile.write(payload[start:start + step])
            self.wfile.flush()
            time.sleep(0.1)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle
