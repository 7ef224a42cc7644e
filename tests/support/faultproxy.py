"""A fault-injecting HTTP reverse proxy in front of a registry, for retry tests.

Every request is forwarded to the upstream registry unless a :class:`Fault` rule
matches it: a matching rule answers with its status (503, 429 + Retry-After, ...) or
resets the connection, for its first ``times`` matches, then lets requests through.
Bodies are streamed both ways (Content-Length and chunked). The proxy sends
``Host: <upstream>`` upstream, so the registry builds its absolute Location URLs
(upload sessions) with the upstream address; those are rewritten to the proxy's.

Loopback only: the proxy listens on 127.0.0.1:<free port>.
"""

from __future__ import annotations

import contextlib
import http.client
import io
import json
import re
import socket
import struct
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

CHUNK = 64 * 1024
UPSTREAM_TIMEOUT = 120.0
# Longer than Go's idle-connection timeout in dockerd/buildkit (90 s), so that it is always
# the client that closes an idle keep-alive connection, never the proxy under its feet.
IDLE_TIMEOUT = 300.0
DEFAULT_RETRY_AFTER = 1

Request = socket.socket | tuple[bytes, socket.socket]  # what socketserver hands a handler

# Headers that describe one connection, not the message: never forwarded as they are.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "expect",
        "host",
    }
)


@dataclass(frozen=True)
class Fault:
    """A fault rule: the first ``times`` requests matching it get the fault.

    ``method`` None matches any method; ``path_regex`` is searched in the request
    target (path and query). ``reset=True`` closes the connection with a TCP RST and
    no answer; otherwise the proxy answers ``status`` with a registry-style JSON error.
    For 429 a Retry-After header is sent (``retry_after`` seconds, default 1).
    """

    method: str | None = None
    path_regex: str = ""
    status: int = 503
    times: int = 1
    reset: bool = False
    retry_after: int | None = None

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method.upper() != method.upper():
            return False
        return re.search(self.path_regex, path) is not None


@dataclass(frozen=True)
class Exchange:
    """One request seen by the proxy, logged before its answer is sent.

    ``status`` is what the client was answered: the fault's status, the upstream's, 502
    when the upstream could not be reached, or None when the proxy reset the connection.
    ``injected`` tells whether a fault rule answered it.
    """

    method: str
    path: str
    status: int | None
    injected: bool


class FaultState:
    """Thread-safe fault counters and request log shared by the handler threads."""

    def __init__(self, faults: list[Fault]) -> None:
        self._lock = threading.Lock()
        self._faults = list(faults)
        self._remaining = [fault.times for fault in faults]
        self._log: list[Exchange] = []

    def take_fault(self, method: str, path: str) -> Fault | None:
        """The first matching rule that still has faults left, consuming one."""
        with self._lock:
            for index, fault in enumerate(self._faults):
                if self._remaining[index] > 0 and fault.matches(method, path):
                    self._remaining[index] -= 1
                    return fault
        return None

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)
            self._remaining.append(fault.times)

    def record(self, exchange: Exchange) -> None:
        with self._lock:
            self._log.append(exchange)

    @property
    def log(self) -> list[Exchange]:
        with self._lock:
            return list(self._log)

    @property
    def remaining(self) -> list[int]:
        with self._lock:
            return list(self._remaining)


class ProxyServer(ThreadingHTTPServer):
    """One thread per client connection; open connections are tracked so that stopping
    the proxy also cuts docker's pooled keep-alive connections."""

    daemon_threads = True

    def __init__(self, upstream_host: str, state: FaultState) -> None:
        super().__init__(("127.0.0.1", 0), ProxyHandler)
        self.upstream_host = upstream_host
        self.state = state
        self.host = f"127.0.0.1:{self.server_address[1]}"
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()

    def process_request(self, request: Request, client_address: Any) -> None:
        if isinstance(request, socket.socket):
            with self._open_lock:
                self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Request) -> None:
        if isinstance(request, socket.socket):
            with self._open_lock:
                self._open.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Request, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)  # a client hanging up is no news

    def close_connections(self) -> None:
        with self._open_lock:
            open_now = list(self._open)
        for sock in open_now:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        self.close_connections()


def read_chunked(reader: io.BufferedIOBase) -> Iterator[bytes]:
    """Decode a chunked request body from a buffered reader, chunk by chunk."""
    while True:
        size_line = reader.readline()
        if not size_line:
            raise ConnectionError("client closed the connection inside a chunked body")
        size = int(size_line.split(b";", 1)[0].strip(), 16)
        if size == 0:
            while reader.readline() not in (b"\r\n", b"\n", b""):
                pass  # trailers
            return
        data = reader.read(size)
        if len(data) < size:
            raise ConnectionError("client closed the connection inside a chunk")
        reader.readline()  # the CRLF after the chunk data
        yield data


class ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = IDLE_TIMEOUT
    server: ProxyServer

    def log_message(self, format: str, *args: object) -> None:
        pass  # the FaultState log is the record; keep test output quiet

    def do_GET(self) -> None:
        self.handle_any()

    do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = do_OPTIONS = do_GET

    # -- dispatch -----------------------------------------------------------------

    def handle_any(self) -> None:
        fault = self.server.state.take_fault(self.command, self.path)
        if fault is not None and fault.reset:
            self.reset_connection()
            return
        if fault is not None:
            self.answer_fault(fault)
            return
        self.forward()

    # -- faults -------------------------------------------------------------------

    def reset_connection(self) -> None:
        self.record(None, injected=True)
        self.close_connection = True
        linger = struct.pack("ii", 1, 0)  # l_onoff=1, l_linger=0: close() sends RST
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
        self.connection.close()

    def answer_fault(self, fault: Fault) -> None:
        for _ in self.request_body():
            pass  # drain, so the connection stays usable
        code = "TOOMANYREQUESTS" if fault.status == 429 else "UNAVAILABLE"  # distribution's
        message = f"fault injected by test proxy: {fault.status}"
        body = json.dumps({"errors": [{"code": code, "message": message}]}).encode()
        self.send_response(fault.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        retry_after = fault.retry_after
        if retry_after is None and fault.status == 429:
            retry_after = DEFAULT_RETRY_AFTER
        if retry_after is not None:
            self.send_header("Retry-After", str(retry_after))
        self.record(fault.status, injected=True)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    # -- forwarding ---------------------------------------------------------------

    def request_body(self) -> Iterator[bytes]:
        """The request body, streamed; empty when the request has none."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            yield from read_chunked(self.rfile)
            return
        remaining = int(self.headers.get("Content-Length") or 0)
        while remaining > 0:
            data = self.rfile.read(min(remaining, CHUNK))
            if not data:
                raise ConnectionError("client closed the connection inside the body")
            remaining -= len(data)
            yield data

    def forward(self) -> None:
        """Send the request upstream and relay the answer.

        The exchange is recorded before the answer is relayed, so that a client that has
        read its answer always finds its request in the log.
        """
        upstream = http.client.HTTPConnection(self.server.upstream_host, timeout=UPSTREAM_TIMEOUT)
        try:
            try:
                self.send_upstream(upstream)
                response = upstream.getresponse()
            except OSError as error:
                self.record(502)
                self.answer_bad_gateway(error)
                return
            self.record(response.status)
            self.relay_response(response)
        finally:
            upstream.close()

    def record(self, status: int | None, injected: bool = False) -> None:
        self.server.state.record(Exchange(self.command, self.path, status, injected))

    def send_upstream(self, upstream: http.client.HTTPConnection) -> None:
        chunked = "chunked" in self.headers.get("Transfer-Encoding", "").lower()
        upstream.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
        upstream.putheader("Host", self.server.upstream_host)
        for name, value in self.headers.items():
            if name.lower() not in HOP_BY_HOP:
                upstream.putheader(name, value)
        if chunked:
            upstream.putheader("Transfer-Encoding", "chunked")
        upstream.endheaders()
        for data in self.request_body():
            upstream.send(b"%x\r\n%s\r\n" % (len(data), data) if chunked else data)
        if chunked:
            upstream.send(b"0\r\n\r\n")

    def relay_response(self, response: http.client.HTTPResponse) -> None:
        self.send_response_only(response.status, response.reason)
        for name, value in response.getheaders():
            if name.lower() in HOP_BY_HOP:
                continue
            is_location = name.lower() == "location"
            self.send_header(name, self.rewrite_location(value) if is_location else value)
        has_body = self.command != "HEAD" and response.status not in (204, 304)
        chunked = has_body and response.getheader("Content-Length") is None
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        if has_body:
            self.relay_body(response, chunked)

    def relay_body(self, response: http.client.HTTPResponse, chunked: bool) -> None:
        while data := response.read1(CHUNK):
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data) if chunked else data)
        if chunked:
            self.wfile.write(b"0\r\n\r\n")

    def rewrite_location(self, location: str) -> str:
        upstream = self.server.upstream_host
        for scheme in ("http://", "https://"):
            if location.startswith(f"{scheme}{upstream}"):
                return f"http://{self.server.host}{location[len(scheme) + len(upstream) :]}"
        return location

    def answer_bad_gateway(self, error: OSError) -> None:
        body = f"fault proxy: upstream {self.server.upstream_host} failed: {error}\n".encode()
        self.close_connection = True
        self.send_response(502)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)


@dataclass(frozen=True)
class FaultProxy:
    """A running proxy: ``host`` is "127.0.0.1:<port>"; ``log`` and ``injected`` are live."""

    host: str
    upstream_host: str
    state: FaultState

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    @property
    def log(self) -> list[Exchange]:
        """A snapshot of every request seen so far, in the order they were answered."""
        return self.state.log

    @property
    def injected(self) -> int:
        """How many requests got a fault (an error status or a reset)."""
        return sum(1 for exchange in self.state.log if exchange.injected)

    def add_fault(self, fault: Fault) -> None:
        """Arm one more rule, e.g. once a test is past the requests it wants left alone."""
        self.state.add(fault)

    @property
    def faults_left(self) -> list[int]:
        """Per rule, how many faults it still has to inject."""
        return self.state.remaining


@contextlib.contextmanager
def fault_proxy(upstream_host: str, faults: list[Fault] | None = None) -> Iterator[FaultProxy]:
    """Run the proxy in a background thread in front of ``upstream_host`` ("host:port")."""
    state = FaultState(faults or [])
    server = ProxyServer(upstream_host, state)
    thread = threading.Thread(
        target=server.serve_forever, name=f"fault-proxy-{server.host}", daemon=True
    )
    thread.start()
    try:
        yield FaultProxy(host=server.host, upstream_host=upstream_host, state=state)
    finally:
        server.stop()
        thread.join(timeout=10)
