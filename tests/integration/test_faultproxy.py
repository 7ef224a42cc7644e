"""The fault-injecting proxy (tests/support/faultproxy.py) in front of the session registry.

The registry is the conftest `registry` fixture: xbuild's own LocalRegistry on a free port.
Nothing is skipped when the engine or docker-registry is missing: the tests fail.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import subprocess
import urllib.parse
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.faultproxy import Exchange, Fault, FaultProxy, fault_proxy
from tests.support.run import docker
from xbuild.host.registry import LocalRegistry

pytestmark = pytest.mark.integration

MANIFEST_V2 = "application/vnd.docker.distribution.manifest.v2+json"


@pytest.fixture
def tiny_context(tmp_path: Path) -> Path:
    """A FROM-scratch context whose one layer is unique to the test, so no blob is shared."""
    context = tmp_path / "tiny"
    context.mkdir()
    (context / "hello").write_text(f"hello {uuid.uuid4()}\n")
    (context / "Dockerfile").write_text("FROM scratch\nCOPY hello /hello\n")
    return context


@dataclass(frozen=True)
class Answer:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def header(self, name: str) -> str | None:
        return self.headers.get(name)


def request(host: str, method: str, target: str, **kwargs: Any) -> Answer:
    """One request on a fresh connection."""
    connection = http.client.HTTPConnection(host, timeout=30)
    try:
        connection.request(method, target, **kwargs)
        response = connection.getresponse()
        return Answer(response.status, response.headers, response.read())
    finally:
        connection.close()


def statuses(log: list[Exchange]) -> list[int | None]:
    return [exchange.status for exchange in log]


def target_of(location: str) -> str:
    parts = urllib.parse.urlsplit(location)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


def build_and_push(context: Path, ref: str) -> subprocess.CompletedProcess[str]:
    """Build ``context`` into the local store as ``ref``, push it, drop the local tag."""
    try:
        built = docker("build", "--quiet", "--tag", ref, str(context))
        assert built.returncode == 0, built.stderr
        return docker("push", ref)
    finally:
        docker("image", "rm", "--force", ref)


def manifest_status(registry: LocalRegistry, repository: str, tag: str) -> int:
    """What the registry itself (not the proxy) answers for a manifest."""
    return request(registry.address, "HEAD", f"/v2/{repository}/manifests/{tag}",
                   headers={"Accept": MANIFEST_V2}).status


def push_through(proxy: FaultProxy, context: Path, repository: str) -> str:
    pushed = build_and_push(context, f"{proxy.host}/{repository}:t")
    assert pushed.returncode == 0, pushed.stderr
    return pushed.stdout


def test_proxy_answers_503_twice_then_passes_through(registry: LocalRegistry) -> None:
    faults = [Fault(method="GET", path_regex=r"^/v2/$", status=503, times=2)]
    with fault_proxy(registry.address, faults) as proxy:
        answers = [request(proxy.host, "GET", "/v2/") for _ in range(3)]
        assert [a.status for a in answers] == [503, 503, 200]
        assert answers[2].header("Docker-Distribution-Api-Version") == "registry/2.0"
        assert proxy.injected == 2
        assert proxy.faults_left == [0]
        assert proxy.log == [
            Exchange("GET", "/v2/", 503, True),
            Exchange("GET", "/v2/", 503, True),
            Exchange("GET", "/v2/", 200, False),
        ]


def test_proxy_faults_match_method_and_path(registry: LocalRegistry) -> None:
    faults = [Fault(method="PUT", path_regex=r"/manifests/", status=503, times=1)]
    with fault_proxy(registry.address, faults) as proxy:
        assert request(proxy.host, "GET", "/v2/x/manifests/t").status == 404
        assert request(proxy.host, "PUT", "/v2/_catalog").status != 503
        assert proxy.injected == 0
        assert proxy.faults_left == [1]


def test_proxy_429_carries_retry_after(registry: LocalRegistry) -> None:
    faults = [Fault(path_regex=r"^/v2/$", status=429), Fault(path_regex="^/v2/$", retry_after=7)]
    with fault_proxy(registry.address, faults) as proxy:
        first = request(proxy.host, "GET", "/v2/")
        second = request(proxy.host, "HEAD", "/v2/")
        third = request(proxy.host, "GET", "/v2/")
    assert (first.status, first.header("Retry-After")) == (429, "1")
    assert (second.status, second.header("Retry-After")) == (503, "7")
    assert (third.status, third.header("Retry-After")) == (200, None)
    assert json.loads(first.body)["errors"][0]["code"] == "TOOMANYREQUESTS"
    assert second.body == b""


def test_proxy_reset_closes_the_connection_without_an_answer(registry: LocalRegistry) -> None:
    uploads = "/v2/xbuild-support/reset/blobs/uploads/"
    with fault_proxy(registry.address, [Fault(method="POST", reset=True)]) as proxy:
        with pytest.raises(ConnectionResetError):
            request(proxy.host, "POST", uploads)
        assert request(proxy.host, "POST", uploads).status == 202
        assert statuses(proxy.log) == [None, 202]
        assert proxy.injected == 1


def test_proxy_add_fault_arms_a_rule_later(registry: LocalRegistry) -> None:
    with fault_proxy(registry.address) as proxy:
        assert request(proxy.host, "GET", "/v2/").status == 200
        proxy.add_fault(Fault(path_regex=r"^/v2/$", status=500))
        assert [request(proxy.host, "GET", "/v2/").status for _ in range(2)] == [500, 200]
        assert proxy.faults_left == [0]


def test_proxy_keeps_connections_alive_and_cuts_them_when_stopped(
        registry: LocalRegistry) -> None:
    with fault_proxy(registry.address) as proxy:
        connection = http.client.HTTPConnection(proxy.host, timeout=10)
        sockets = []
        for _ in range(2):
            connection.request("GET", "/v2/")
            assert connection.getresponse().read() == b"{}"
            sockets.append(connection.sock)
        assert sockets[0] is sockets[1] is not None  # one connection served both
    try:
        with pytest.raises(ConnectionError):
            connection.request("GET", "/v2/")
            connection.getresponse()
    finally:
        connection.close()


def test_proxy_streams_a_chunked_blob_upload_and_rewrites_location(
        registry: LocalRegistry) -> None:
    blob = bytes(range(256)) * 1500 + uuid.uuid4().bytes  # ~384 kB, several chunks, unique
    digest = "sha256:" + hashlib.sha256(blob).hexdigest()
    with fault_proxy(registry.address) as proxy:
        started = request(proxy.host, "POST", "/v2/xbuild-support/blob/blobs/uploads/")
        location = started.header("Location") or ""
        assert started.status == 202
        assert location.startswith(f"http://{proxy.host}/"), location
        chunks = (blob[i : i + 100_000] for i in range(0, len(blob), 100_000))
        patched = request(proxy.host, "PATCH", target_of(location), body=chunks,
                          encode_chunked=True,
                          headers={"Content-Type": "application/octet-stream"})
        assert (patched.status, patched.header("Range")) == (202, f"0-{len(blob) - 1}")
        location = patched.header("Location") or ""
        assert location.startswith(f"http://{proxy.host}/"), location
        done = request(proxy.host, "PUT", f"{target_of(location)}&digest={digest}", body=b"")
        assert done.status == 201
        blob_path = f"/v2/xbuild-support/blob/blobs/{digest}"
        head = request(proxy.host, "HEAD", blob_path)
        assert (head.status, head.header("Content-Length")) == (200, str(len(blob)))
        assert request(proxy.host, "GET", blob_path).body == blob
        assert request(proxy.host, "DELETE", blob_path).status == 202
        methods = [exchange.method for exchange in proxy.log]
    assert methods == ["POST", "PATCH", "PUT", "HEAD", "GET", "DELETE"]


def test_docker_push_through_proxy_without_faults(registry: LocalRegistry,
                                                  tiny_context: Path) -> None:
    with fault_proxy(registry.address) as proxy:
        push_through(proxy, tiny_context, "xbuild-support/clean")
        log = proxy.log
    assert proxy.injected == 0
    assert Exchange("PUT", "/v2/xbuild-support/clean/manifests/t", 201, False) in log
    # Blob uploads follow the (rewritten) Location into the proxy, not around it.
    assert sum(1 for e in log if e.method == "PATCH" and e.status == 202) == 2
    assert manifest_status(registry, "xbuild-support/clean", "t") == 200


def test_docker_push_retries_a_blob_upload_after_a_503(registry: LocalRegistry,
                                                       tiny_context: Path) -> None:
    faults = [Fault(method="POST", path_regex=r"/blobs/uploads/$", status=503, times=1)]
    with fault_proxy(registry.address, faults) as proxy:
        push_through(proxy, tiny_context, "xbuild-support/retried")
        posts = [e for e in proxy.log if e.method == "POST"]
    assert proxy.injected == 1
    assert [e.status for e in posts][:2] == [503, 202]
    assert manifest_status(registry, "xbuild-support/retried", "t") == 200
