"""A fault-injecting HTTP reverse proxy in front of a registry, for retry tests.

Every request is forwarded to the upstream registry unless a fault is due:

* :class:`Fault` rules, checked first: a matching rule answers with its status (503,
  429 + Retry-After, ...) or cuts the connection, for its first ``times`` matches.
* :class:`RandomFaults`, a seeded random mode: each request (every method and path,
  unless filtered) independently gets a fault with probability ``rate``, of one of three
  kinds (:class:`FaultKind`) drawn with configurable weights:

  - ``error``: the proxy answers 503 with a registry-style JSON error; nothing goes upstream.
  - ``cut-before``: the connection is reset (TCP RST) before anything goes upstream.
  - ``cut-after``: the request is forwarded in full and the upstream's answer read in full
    (the request took effect), then the client's connection is reset: it never sees it.

  The n-th request the mode sees gets the fault ``RandomFaults.decide(n)``, a function of
  the seed and n only: a run is reproducible as far as the order of concurrent requests is.

Every request is logged (:class:`Exchange`), so tests can count them by method, path and
fault kind; with no fault armed the proxy is a plain counting pass-through. Every answer of
the upstream is logged too (:class:`UpstreamAnswer`), with, for manifests, the media type,
the digest and the platforms of an index, so a test can check which manifest lists were ever
visible in the registry, whether or not the client received the answer.

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
import random
import re
import socket
import struct
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

CHUNK = 64 * 1024
UPSTREAM_TIMEOUT = 120.0
# Longer than Go's idle-connection timeout in dockerd/buildkit (90 s), so that it is always
# the client that closes an idle keep-alive connection, never the proxy under its feet.
IDLE_TIMEOUT = 300.0
DEFAULT_RETRY_AFTER = 1
# distribution refuses manifests over 4 MiB; the proxy reads whole manifests to log them.
MANIFEST_LIMIT = 4 * 1024 * 1024
MANIFEST_PATH = re.compile(r"^/v2/(?P<name>.+)/manifests/(?P<reference>[^/?]+)")
INDEX_TYPES = frozenset({
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
})

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


class FaultKind(StrEnum):
    """What an injected fault does to a request."""

    ERROR = "error"  # the proxy answers an error status; nothing reaches the upstream
    CUT_BEFORE = "cut-before"  # TCP RST, nothing reaches the upstream
    CUT_AFTER = "cut-after"  # forwarded and answered upstream, then TCP RST to the client


@dataclass(frozen=True)
class Fault:
    """A fault rule: the first ``times`` requests matching it get the fault.

    ``method`` None matches any method; ``path_regex`` is searched in the request
    target (path and query). ``reset=True`` closes the connection with a TCP RST and
    no answer, before anything is forwarded; ``cut_after=True`` forwards the request,
    reads the upstream's whole answer, then resets the connection instead of relaying it.
    Otherwise the proxy answers ``status`` with a registry-style JSON error.
    For 429 a Retry-After header is sent (``retry_after`` seconds, default 1).
    """

    method: str | None = None
    path_regex: str = ""
    status: int = 503
    times: int = 1
    reset: bool = False
    retry_after: int | None = None
    cut_after: bool = False

    def __post_init__(self) -> None:
        if self.reset and self.cut_after:
            raise ValueError("a fault cuts the connection either before or after, not both")

    @property
    def kind(self) -> FaultKind:
        if self.reset:
            return FaultKind.CUT_BEFORE
        return FaultKind.CUT_AFTER if self.cut_after else FaultKind.ERROR

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method.upper() != method.upper():
            return False
        return re.search(self.path_regex, path) is not None


@dataclass(frozen=True)
class RandomFaults:
    """Seeded random faults: each matching request gets a fault with probability ``rate``.

    The kind is drawn with weights ``error`` (answer ``status``, 503 by default),
    ``cut_before`` and ``cut_after`` (see :class:`FaultKind`); a weight of 0 disables a
    kind. ``method`` and ``path_regex`` restrict which requests draw at all (by default
    every request does); requests that do not match are passed through and do not use up
    a draw. ``rate=0`` never injects anything: the proxy only counts.
    """

    rate: float
    seed: int | str = 0
    error: float = 1.0
    cut_before: float = 1.0
    cut_after: float = 1.0
    status: int = 503
    method: str | None = None
    path_regex: str = ""

    def __post_init__(self) -> None:
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError(f"rate must be within [0, 1], not {self.rate}")
        weights = (self.error, self.cut_before, self.cut_after)
        if min(weights) < 0 or (self.rate > 0 and sum(weights) == 0):
            raise ValueError(f"weights must be >= 0 with a positive sum, not {weights}")

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method.upper() != method.upper():
            return False
        return re.search(self.path_regex, path) is not None

    def decide(self, index: int) -> FaultKind | None:
        """The fault of the ``index``-th matching request (0-based), or None.

        A function of (seed, index) only, whatever came before: string seeds hash with
        SHA-512 in :class:`random.Random`, so this is the same in every process.
        """
        draw = random.Random(f"xbuild-faultproxy/{self.seed}/{index}")
        if draw.random() >= self.rate:
            return None
        kinds = (FaultKind.ERROR, FaultKind.CUT_BEFORE, FaultKind.CUT_AFTER)
        weights = (self.error, self.cut_before, self.cut_after)
        return draw.choices(kinds, weights)[0]

    def fault(self, kind: FaultKind) -> Fault:
        return Fault(status=self.status, reset=kind is FaultKind.CUT_BEFORE,
                     cut_after=kind is FaultKind.CUT_AFTER)


@dataclass(frozen=True)
class Exchange:
    """One request seen by the proxy, logged before its answer is sent.

    ``status`` is what the client was answered: the fault's status, the upstream's, 502
    when the upstream could not be reached, or None when the proxy cut the connection.
    ``injected`` tells whether a fault was injected, ``kind`` which one. Equality compares
    what the client saw (method, path, status, injected) only; ``kind``, ``upstream_status``
    (what the upstream answered, None if it never saw the request) and ``time``
    (time.monotonic() when logged) are extra detail.
    """

    method: str
    path: str
    status: int | None
    injected: bool
    kind: FaultKind | None = field(default=None, compare=False)
    upstream_status: int | None = field(default=None, compare=False)
    time: float = field(default=0.0, compare=False)

    @property
    def route(self) -> str:
        """The path without its query string."""
        return self.path.split("?", 1)[0]


@dataclass(frozen=True)
class UpstreamAnswer:
    """One answer of the upstream registry, logged whether or not the client received it.

    For a 200 answer to GET, HEAD or PUT on ``/v2/<name>/manifests/<reference>``:
    ``media_type`` and ``digest`` of the manifest, and, when it is an index (OCI index or
    Docker manifest list), ``platforms``: one "os/arch[/variant]" per entry, in order
    (attestation manifests appear as "unknown/unknown"). For a HEAD the proxy reads the
    index by digest with a request of its own, which is not in the exchange log. For a
    PUT the manifest is the request body, and ``media_type`` its Content-Type.
    ``delivered`` is False when the proxy cut the answer off (a cut-after fault).
    """

    time: float
    method: str
    path: str
    status: int
    delivered: bool
    media_type: str | None = None
    digest: str | None = None
    platforms: tuple[str, ...] | None = None

    @property
    def is_index(self) -> bool:
        return self.platforms is not None

    @property
    def entries(self) -> int | None:
        """How many manifests the index lists; None when this is no index."""
        return None if self.platforms is None else len(self.platforms)

    @property
    def reference(self) -> str | None:
        """The tag or digest of a manifest path, else None."""
        found = MANIFEST_PATH.match(self.path)
        return found["reference"] if found else None


class FaultState:
    """Thread-safe fault rules, random mode, counters and logs shared by the handlers."""

    def __init__(self, faults: list[Fault], random_faults: RandomFaults | None = None) -> None:
        self._lock = threading.Lock()
        self._faults = list(faults)
        self._remaining = [fault.times for fault in faults]
        self._random = random_faults
        self._draws = 0
        self._seen = 0
        self._log: list[Exchange] = []
        self._upstream: list[UpstreamAnswer] = []

    def take_fault(self, method: str, path: str) -> Fault | None:
        """The fault due for this request, if any: the first matching rule that still has
        faults left (consuming one), else the random mode's draw (consuming one)."""
        with self._lock:
            self._seen += 1
            for index, fault in enumerate(self._faults):
                if self._remaining[index] > 0 and fault.matches(method, path):
                    self._remaining[index] -= 1
                    return fault
            if self._random is None or not self._random.matches(method, path):
                return None
            kind = self._random.decide(self._draws)
            self._draws += 1
            return None if kind is None else self._random.fault(kind)

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)
            self._remaining.append(fault.times)

    def set_random(self, random_faults: RandomFaults | None) -> None:
        with self._lock:
            self._random = random_faults
            self._draws = 0

    def record(self, exchange: Exchange) -> None:
        with self._lock:
            self._log.append(exchange)

    def record_upstream(self, answer: UpstreamAnswer) -> None:
        with self._lock:
            self._upstream.append(answer)

    @property
    def seen(self) -> int:
        with self._lock:
            return self._seen

    @property
    def log(self) -> list[Exchange]:
        with self._lock:
            return list(self._log)

    @property
    def upstream(self) -> list[UpstreamAnswer]:
        with self._lock:
            return list(self._upstream)

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


def index_platforms(body: bytes, media_type: str | None) -> tuple[str, ...] | None:
    """One "os/arch[/variant]" per entry of an index; None when ``body`` is no index."""
    try:
        manifest = json.loads(body)
    except ValueError:
        return None
    if not isinstance(manifest, dict):
        return None
    media_type = manifest.get("mediaType") or media_type
    if media_type not in INDEX_TYPES or not isinstance(manifest.get("manifests"), list):
        return None
    platforms = []
    for entry in manifest["manifests"]:
        platform = entry.get("platform") or {} if isinstance(entry, dict) else {}
        parts = [platform.get("os") or "unknown", platform.get("architecture") or "unknown"]
        if platform.get("variant"):
            parts.append(platform["variant"])
        platforms.append("/".join(parts))
    return tuple(platforms)


def media_type_of(content_type: str | None) -> str | None:
    return content_type.split(";", 1)[0].strip() if content_type else None


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
        if fault is None:
            self.forward()
        elif fault.kind is FaultKind.CUT_BEFORE:
            self.record(None, FaultKind.CUT_BEFORE)
            self.reset_connection()
        elif fault.kind is FaultKind.CUT_AFTER:
            self.forward(cut=True)
        else:
            self.answer_fault(fault)

    @property
    def is_manifest(self) -> bool:
        return MANIFEST_PATH.match(self.path) is not None

    # -- faults -------------------------------------------------------------------

    def reset_connection(self) -> None:
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
        self.record(fault.status, FaultKind.ERROR)
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

    def forward(self, cut: bool = False) -> None:
        """Send the request upstream and relay the answer, or with ``cut`` read the whole
        answer and reset the client's connection instead.

        The exchange is recorded before the answer is relayed, so that a client that has
        read its answer always finds its request in the log.
        """
        upstream = http.client.HTTPConnection(self.server.upstream_host, timeout=UPSTREAM_TIMEOUT)
        kind = FaultKind.CUT_AFTER if cut else None
        try:
            try:
                sent = self.send_upstream(upstream)
                response = upstream.getresponse()
                body = self.read_manifest(response) if self.is_manifest else None
                if cut:
                    while response.read1(CHUNK):
                        pass  # the whole answer, so the upstream is done with the request
            except OSError as error:
                if cut:
                    self.record(None, kind)
                    self.reset_connection()
                    return
                self.record(502)
                self.answer_bad_gateway(error)
                return
            self.record_upstream(response, sent, body, delivered=not cut)
            if cut:
                self.record(None, kind, upstream_status=response.status)
                self.reset_connection()
                return
            self.record(response.status, upstream_status=response.status)
            self.relay_response(response, body)
        finally:
            upstream.close()

    def read_manifest(self, response: http.client.HTTPResponse) -> bytes | None:
        """A manifest answer's whole body, read to log it; None when not worth reading."""
        if self.command != "GET" or response.status != 200:
            return None
        length = response.getheader("Content-Length")
        if length is not None and int(length) > MANIFEST_LIMIT:
            return None
        return response.read()

    def record(self, status: int | None, kind: FaultKind | None = None,
               upstream_status: int | None = None) -> None:
        self.server.state.record(Exchange(self.command, self.path, status, kind is not None,
                                          kind, upstream_status, time.monotonic()))

    def record_upstream(self, response: http.client.HTTPResponse, sent: bytes | None,
                        body: bytes | None, delivered: bool) -> None:
        answer = UpstreamAnswer(time.monotonic(), self.command, self.path, response.status,
                                delivered)
        if self.is_manifest and response.status in (200, 201):
            if self.command == "PUT":
                media_type = media_type_of(self.headers.get("Content-Type"))
                manifest = sent
            else:
                media_type = media_type_of(response.getheader("Content-Type"))
                manifest = body
            digest = response.getheader("Docker-Content-Digest")
            if manifest is None and self.command == "HEAD" and media_type in INDEX_TYPES:
                manifest = self.fetch_manifest(digest, media_type)
            platforms = index_platforms(manifest, media_type) if manifest else None
            answer = UpstreamAnswer(answer.time, answer.method, answer.path, answer.status,
                                    delivered, media_type, digest, platforms)
        self.server.state.record_upstream(answer)

    def fetch_manifest(self, digest: str | None, media_type: str) -> bytes | None:
        """The manifest ``digest`` read from the upstream on a side connection."""
        found = MANIFEST_PATH.match(self.path)
        if digest is None or found is None:
            return None
        headers = {"Accept": media_type, "Host": self.server.upstream_host}
        if self.headers.get("Authorization"):
            headers["Authorization"] = self.headers["Authorization"]
        side = http.client.HTTPConnection(self.server.upstream_host, timeout=UPSTREAM_TIMEOUT)
        try:
            side.request("GET", f"/v2/{found['name']}/manifests/{digest}", headers=headers)
            response = side.getresponse()
            return response.read() if response.status == 200 else None
        except OSError:
            return None
        finally:
            side.close()

    def send_upstream(self, upstream: http.client.HTTPConnection) -> bytes | None:
        """Forward the request; the body is returned when it is a manifest PUT."""
        chunked = "chunked" in self.headers.get("Transfer-Encoding", "").lower()
        upstream.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
        upstream.putheader("Host", self.server.upstream_host)
        for name, value in self.headers.items():
            if name.lower() not in HOP_BY_HOP:
                upstream.putheader(name, value)
        if chunked:
            upstream.putheader("Transfer-Encoding", "chunked")
        upstream.endheaders()
        keep = self.command == "PUT" and self.is_manifest
        kept: list[bytes] = []
        size = 0
        for data in self.request_body():
            upstream.send(b"%x\r\n%s\r\n" % (len(data), data) if chunked else data)
            if keep and size <= MANIFEST_LIMIT:
                kept.append(data)
                size += len(data)
        if chunked:
            upstream.send(b"0\r\n\r\n")
        return b"".join(kept) if keep and size <= MANIFEST_LIMIT else None

    def relay_response(self, response: http.client.HTTPResponse, body: bytes | None) -> None:
        """Relay the upstream's answer; ``body``, when given, is its body, already read."""
        self.send_response_only(response.status, response.reason)
        for name, value in response.getheaders():
            if name.lower() in HOP_BY_HOP:
                continue
            if body is not None and name.lower() == "content-length":
                continue
            is_location = name.lower() == "location"
            self.send_header(name, self.rewrite_location(value) if is_location else value)
        has_body = self.command != "HEAD" and response.status not in (204, 304)
        if body is not None:
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
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
    """A running proxy: ``host`` is "127.0.0.1:<port>"; the logs and counters are live."""

    host: str
    upstream_host: str
    state: FaultState

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    @property
    def log(self) -> list[Exchange]:
        """A snapshot of every request answered so far, in the order they were answered."""
        return self.state.log

    @property
    def upstream(self) -> list[UpstreamAnswer]:
        """A snapshot of every answer the upstream gave, in the order it gave them."""
        return self.state.upstream

    @property
    def seen(self) -> int:
        """How many requests arrived, including any still in flight."""
        return self.state.seen

    @property
    def injected(self) -> int:
        """How many requests got a fault (an error status or a cut)."""
        return sum(1 for exchange in self.state.log if exchange.injected)

    def count(self, method: str | None = None, path_regex: str = "", *,
              injected: bool | None = None, kind: FaultKind | None = None,
              status: int | None = None) -> int:
        """How many logged requests match all the given criteria, e.g. the manifest PUTs:
        ``count(method="PUT", path_regex="/manifests/")``. ``path_regex`` is searched in
        the path and query; ``status`` is what the client was answered."""
        pattern = re.compile(path_regex)
        return sum(
            1 for e in self.state.log
            if (method is None or e.method == method.upper())
            and pattern.search(e.path) is not None
            and (injected is None or e.injected == injected)
            and (kind is None or e.kind == kind)
            and (status is None or e.status == status)
        )

    def requests_by_route(self) -> Counter[tuple[str, str]]:
        """Requests per (method, path without query)."""
        return Counter((e.method, e.route) for e in self.state.log)

    def faults_by_kind(self) -> Counter[FaultKind]:
        return Counter(e.kind for e in self.state.log if e.kind is not None)

    def faults_by_method(self) -> Counter[tuple[FaultKind, str]]:
        """Injected faults per (kind, method)."""
        return Counter((e.kind, e.method) for e in self.state.log if e.kind is not None)

    def manifests(self, path_regex: str = "") -> list[UpstreamAnswer]:
        """The upstream's 200/201 manifest answers whose path matches, in time order: what
        was visible in the registry and when, e.g. ``manifests(r"/manifests/latest$")``."""
        pattern = re.compile(path_regex)
        return [a for a in self.state.upstream
                if a.media_type is not None and pattern.search(a.path) is not None]

    def add_fault(self, fault: Fault) -> None:
        """Arm one more rule, e.g. once a test is past the requests it wants left alone."""
        self.state.add(fault)

    def set_random(self, random_faults: RandomFaults | None) -> None:
        """Arm (or with None disarm) the random mode; its draws start again at 0."""
        self.state.set_random(random_faults)

    @property
    def faults_left(self) -> list[int]:
        """Per rule, how many faults it still has to inject."""
        return self.state.remaining


@contextlib.contextmanager
def fault_proxy(upstream_host: str, faults: list[Fault] | None = None, *,
                random_faults: RandomFaults | None = None) -> Iterator[FaultProxy]:
    """Run the proxy in a background thread in front of ``upstream_host`` ("host:port").

    ``faults`` are rules checked first; ``random_faults`` arms the seeded random mode.
    """
    state = FaultState(faults or [], random_faults)
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
