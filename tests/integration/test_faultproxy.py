"""The fault-injecting proxy (tests/support/faultproxy.py) in front of the session registry.

The registry is the conftest `registry` fixture: xbuild's own LocalRegistry on a free port.
Nothing is skipped when the engine or docker-registry is missing: the tests fail.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import shutil
import subprocess
import time
import urllib.parse
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.faultproxy import (
    Exchange,
    Fault,
    FaultKind,
    FaultProxy,
    RandomFaults,
    fault_proxy,
)
from tests.support.run import docker
from xbuild.host.local_registry import LocalRegistry

pytestmark = [pytest.mark.integration, pytest.mark.harness]  # tests tests/support

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
    assert proxy.count(method="PUT", path_regex="/manifests/") == 1  # one image, one PUT
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


# -- the seeded random mode ---------------------------------------------------------------

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
RESET = "reset"  # what a client sees of a cut, before or after


def attempt(host: str, method: str, target: str, **kwargs: Any) -> int | str:
    """The status of one request on a fresh connection, or RESET when the proxy cut it."""
    try:
        return request(host, method, target, **kwargs).status
    except ConnectionResetError:
        return RESET


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def start_upload(host: str, repository: str) -> str:
    """Open a blob upload session; its target (path and query) on ``host``."""
    started = request(host, "POST", f"/v2/{repository}/blobs/uploads/")
    assert started.status == 202, started.body
    return target_of(started.header("Location") or "")


def put_blob(host: str, repository: str, data: bytes) -> str:
    """A monolithic blob upload (POST, then PUT with the body), all through ``host``."""
    digest = sha256(data)
    done = request(host, "PUT", f"{start_upload(host, repository)}&digest={digest}", body=data)
    assert done.status == 201, done.body
    return digest


def blob_status(registry: LocalRegistry, repository: str, digest: str) -> int:
    return request(registry.address, "HEAD", f"/v2/{repository}/blobs/{digest}").status


def push_image_manifest(host: str, repository: str, tag: str) -> dict[str, object]:
    """A minimal OCI image (a config and one layer blob) pushed with http.client; its
    descriptor, ready for an index."""
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": []}}).encode()
    layer = uuid.uuid4().bytes * 64
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": put_blob(host, repository, config), "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": put_blob(host, repository, layer), "size": len(layer)}],
    }).encode()
    put = request(host, "PUT", f"/v2/{repository}/manifests/{tag}", body=manifest,
                  headers={"Content-Type": OCI_MANIFEST})
    assert put.status == 201, put.body
    return {"mediaType": OCI_MANIFEST, "digest": sha256(manifest), "size": len(manifest)}


def index_of(image: dict[str, object], arches: list[str]) -> bytes:
    """An OCI index listing ``image`` once per arch (the registry only checks that the
    manifests it names exist)."""
    entries = [{**image, "platform": {"os": "linux", "architecture": arch}} for arch in arches]
    return json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX,
                       "manifests": entries}).encode()


def test_random_faults_are_a_function_of_seed_and_index() -> None:
    seven = RandomFaults(rate=0.2, seed=7)
    faults = {i: seven.decide(i) for i in range(60) if seven.decide(i) is not None}
    assert faults == {
        3: FaultKind.ERROR, 11: FaultKind.CUT_BEFORE, 15: FaultKind.CUT_AFTER,
        20: FaultKind.CUT_AFTER, 24: FaultKind.CUT_BEFORE, 32: FaultKind.ERROR,
        33: FaultKind.CUT_BEFORE, 35: FaultKind.ERROR, 38: FaultKind.ERROR,
        45: FaultKind.CUT_BEFORE, 48: FaultKind.ERROR, 53: FaultKind.CUT_BEFORE,
    }
    assert Counter(seven.decide(i) for i in range(1000)) == {
        None: 797, FaultKind.ERROR: 69, FaultKind.CUT_BEFORE: 69, FaultKind.CUT_AFTER: 65}
    # Decisions do not depend on what was drawn before, nor on the instance.
    assert [RandomFaults(rate=0.2, seed=7).decide(i) for i in (53, 3, 15)] == [
        FaultKind.CUT_BEFORE, FaultKind.ERROR, FaultKind.CUT_AFTER]
    # Weights: no cut-after at all when its weight is 0, errors three times as likely.
    weighted = RandomFaults(rate=0.2, seed=7, error=3, cut_before=1, cut_after=0)
    assert Counter(weighted.decide(i) for i in range(1000)) == {
        None: 797, FaultKind.ERROR: 158, FaultKind.CUT_BEFORE: 45}
    assert all(RandomFaults(rate=0.0, seed=7).decide(i) is None for i in range(1000))
    assert all(RandomFaults(rate=1.0, seed=7).decide(i) is not None for i in range(1000))


@pytest.mark.parametrize("seed", range(10))
def test_random_fault_rate_is_honoured_for_any_seed(seed: int) -> None:
    faults = RandomFaults(rate=0.2, seed=seed)
    kinds = Counter(faults.decide(i) for i in range(2000))
    assert 340 <= 2000 - kinds[None] <= 460  # 400 expected; 460 is over 4 sigma away
    for kind in FaultKind:
        assert 90 <= kinds[kind] <= 180, kind  # 133 expected each


@pytest.mark.parametrize(("rate", "weights"), [
    (-0.1, (1, 1, 1)), (1.5, (1, 1, 1)), (0.2, (-1, 1, 1)), (0.2, (0, 0, 0)),
])
def test_random_faults_refuse_nonsense(rate: float, weights: tuple[float, float, float]) -> None:
    error, cut_before, cut_after = weights
    with pytest.raises(ValueError):
        RandomFaults(rate=rate, error=error, cut_before=cut_before, cut_after=cut_after)


# The requests test_random_mode_faults_every_method_and_path sends, in turn. What the
# registry answers each when it is let through: (method, target, status).
ROUND = [
    ("GET", "/v2/", 200),
    ("HEAD", "/v2/xbuild-support/random/manifests/none", 404),
    ("POST", "/v2/xbuild-support/random/blobs/uploads/", 202),
    ("GET", "/v2/xbuild-support/random/tags/list", 404),
    ("DELETE", "/v2/xbuild-support/random/manifests/sha256:" + "0" * 64, 404),
]


def test_random_mode_faults_every_method_and_path(registry: LocalRegistry) -> None:
    sent = [ROUND[i % len(ROUND)] for i in range(60)]
    with fault_proxy(registry.address, random_faults=RandomFaults(rate=0.2, seed=7)) as proxy:
        seen = [attempt(proxy.host, method, target) for method, target, _ in sent]
        log, upstream = proxy.log, proxy.upstream
    # Seed 7's faults among 60 requests (see test_random_faults_are_a_function_...).
    errors, cuts_before, cuts_after = {3, 32, 35, 38, 48}, {11, 24, 33, 45, 53}, {15, 20}
    expected = [503 if i in errors else RESET if i in cuts_before | cuts_after else status
                for i, (_, _, status) in enumerate(sent)]
    assert seen == expected
    assert proxy.seen == len(log) == 60
    assert [e.kind for e in log] == [
        FaultKind.ERROR if i in errors else FaultKind.CUT_BEFORE if i in cuts_before
        else FaultKind.CUT_AFTER if i in cuts_after else None for i in range(60)]
    assert proxy.injected == 12
    assert proxy.faults_by_kind() == {FaultKind.ERROR: 5, FaultKind.CUT_BEFORE: 5,
                                      FaultKind.CUT_AFTER: 2}
    # Request i is ROUND[i % 5]: 0 GET /v2/, 1 HEAD, 2 POST, 3 GET tags, 4 DELETE.
    assert proxy.faults_by_method() == {
        (FaultKind.ERROR, "GET"): 4,  # 3, 35, 38, 48
        (FaultKind.ERROR, "POST"): 1,  # 32
        (FaultKind.CUT_BEFORE, "HEAD"): 1,  # 11
        (FaultKind.CUT_BEFORE, "DELETE"): 1,  # 24
        (FaultKind.CUT_BEFORE, "GET"): 3,  # 33, 45, 53
        (FaultKind.CUT_AFTER, "GET"): 2,  # 15, 20
    }
    # Only what went upstream was answered upstream: 60 - 5 errors - 5 cuts before.
    assert len(upstream) == 50
    assert [e.upstream_status for e in log if e.kind is FaultKind.CUT_AFTER] == [200, 200]
    assert [a.delivered for a in upstream].count(False) == 2


BLOB_PUT = r"/blobs/uploads/.+digest="


@pytest.mark.parametrize(("faults", "client_sees", "stored"), [
    (RandomFaults(rate=1, error=0, cut_before=0, method="PUT"), RESET, True),
    (RandomFaults(rate=1, error=0, cut_after=0, method="PUT"), RESET, False),
    (RandomFaults(rate=1, cut_before=0, cut_after=0, method="PUT"), 503, False),
], ids=["cut-after", "cut-before", "error"])
def test_a_faulted_blob_put_took_effect_only_when_cut_after(
        registry: LocalRegistry, faults: RandomFaults, client_sees: int | str,
        stored: bool) -> None:
    repository = f"xbuild-support/blob-{faults.error:.0f}{faults.cut_before:.0f}"
    blob = uuid.uuid4().bytes * 1000
    digest = sha256(blob)
    with fault_proxy(registry.address, random_faults=faults) as proxy:
        upload = start_upload(proxy.host, repository)  # a POST: not faulted
        assert attempt(proxy.host, "PUT", f"{upload}&digest={digest}", body=blob) == client_sees
        log, upstream = proxy.log, proxy.upstream
    assert blob_status(registry, repository, digest) == (200 if stored else 404)
    assert [(e.method, e.injected) for e in log] == [("POST", False), ("PUT", True)]
    assert log[1].upstream_status == (201 if stored else None)
    assert [(a.method, a.status, a.delivered) for a in upstream] == (
        [("POST", 202, True), ("PUT", 201, False)] if stored else [("POST", 202, True)])


def test_an_error_fault_answers_like_a_registry(registry: LocalRegistry) -> None:
    faults = RandomFaults(rate=1, cut_before=0, cut_after=0)
    with fault_proxy(registry.address, random_faults=faults) as proxy:
        answer = request(proxy.host, "GET", "/v2/")
        assert proxy.upstream == []
    assert answer.status == 503
    assert answer.header("Content-Type") == "application/json"
    assert json.loads(answer.body)["errors"][0]["code"] == "UNAVAILABLE"


def test_a_chunked_patch_cut_after_reached_the_registry_in_full(
        registry: LocalRegistry) -> None:
    blob = bytes(range(256)) * 1200 + uuid.uuid4().bytes  # several chunks
    fault = Fault(method="PATCH", cut_after=True)
    with fault_proxy(registry.address, [fault]) as proxy:
        upload = start_upload(proxy.host, "xbuild-support/patch")
        chunks = (blob[i : i + 100_000] for i in range(0, len(blob), 100_000))
        assert attempt(proxy.host, "PATCH", upload, body=chunks, encode_chunked=True) == RESET
        log = proxy.log
    assert (log[-1].kind, log[-1].status, log[-1].upstream_status) == (
        FaultKind.CUT_AFTER, None, 202)
    # The upload session holds every byte the client sent. (Asking the registry needs the
    # session's new _state, which was in the answer the client lost: read its storage.)
    session = upload.split("?", 1)[0].rsplit("/", 1)[1]
    stored = (registry.home / "data/docker/registry/v2/repositories/xbuild-support/patch"
              / "_uploads" / session / "data")
    assert stored.read_bytes() == blob


def test_an_error_keeps_the_connection_but_a_cut_closes_it(registry: LocalRegistry) -> None:
    faults = [Fault(path_regex="^/v2/$", status=503), Fault(path_regex="^/v2/$", reset=True)]
    with fault_proxy(registry.address, faults) as proxy:
        connection = http.client.HTTPConnection(proxy.host, timeout=10)
        try:
            connection.request("GET", "/v2/")
            assert connection.getresponse().read() != b""  # the 503 and its JSON body
            first = connection.sock
            connection.request("GET", "/v2/")
            assert connection.sock is first is not None  # the same connection, still open
            with pytest.raises(ConnectionResetError):
                connection.getresponse()
            assert proxy.count(injected=True) == 2
        finally:
            connection.close()


def test_pass_through_counts_every_request_by_method_and_path(registry: LocalRegistry) -> None:
    repository = "xbuild-support/counted"
    with fault_proxy(registry.address, random_faults=RandomFaults(rate=0)) as proxy:
        for _ in range(3):
            request(proxy.host, "GET", "/v2/")
        image = push_image_manifest(proxy.host, repository, "one")  # 2 x (POST, PUT), PUT
        request(proxy.host, "HEAD", f"/v2/{repository}/manifests/one",
                headers={"Accept": OCI_MANIFEST})
        request(proxy.host, "GET", f"/v2/{repository}/manifests/{image['digest']}",
                headers={"Accept": OCI_MANIFEST})
        routes = proxy.requests_by_route()
        assert proxy.injected == 0
        assert proxy.seen == 10
        assert proxy.count(method="PUT", path_regex="/manifests/") == 1
        assert proxy.count(method="PUT") == 3
        assert proxy.count(path_regex="/manifests/") == 3
        assert proxy.count(method="GET", status=200) == 4
    uploads = f"/v2/{repository}/blobs/uploads/"
    assert routes[("GET", "/v2/")] == 3
    assert routes[("POST", uploads)] == 2
    assert sum(n for (m, r), n in routes.items() if m == "PUT" and r.startswith(uploads)) == 2
    assert routes[("PUT", f"/v2/{repository}/manifests/one")] == 1
    assert routes[("HEAD", f"/v2/{repository}/manifests/one")] == 1
    assert sum(routes.values()) == 10


def test_manifest_answers_log_what_was_visible_even_when_cut(registry: LocalRegistry) -> None:
    repository = "xbuild-support/visible"
    tag = f"/v2/{repository}/manifests/list"
    accept = {"Accept": f"{OCI_INDEX}, {OCI_MANIFEST}"}
    with fault_proxy(registry.address) as proxy:
        image = push_image_manifest(proxy.host, repository, "image")
        two, one = index_of(image, ["amd64", "arm64"]), index_of(image, ["amd64"])
        proxy.add_fault(Fault(method="PUT", path_regex="/manifests/list$", cut_after=True))
        put = {"headers": {"Content-Type": OCI_INDEX}}
        assert attempt(proxy.host, "PUT", tag, body=two, **put) == RESET
        got = request(proxy.host, "GET", tag, headers=accept)
        headed = request(proxy.host, "HEAD", tag, headers=accept)
        assert attempt(proxy.host, "PUT", tag, body=one, **put) == 201
        assert attempt(proxy.host, "GET", tag, headers=accept) == 200
        assert attempt(proxy.host, "HEAD", f"/v2/{repository}/manifests/image",
                       headers=accept) == 200
        views = proxy.manifests(r"/manifests/list$")
        image_views = proxy.manifests(r"/manifests/image$")
    # The list put while the client was cut off was visible all the same.
    assert (got.status, got.body) == (200, two)  # the proxy relays what it read intact
    assert headed.header("Docker-Content-Digest") == sha256(two)
    assert [(v.method, v.delivered, v.platforms) for v in views] == [
        ("PUT", False, ("linux/amd64", "linux/arm64")),
        ("GET", True, ("linux/amd64", "linux/arm64")),
        ("HEAD", True, ("linux/amd64", "linux/arm64")),  # read by digest on the side
        ("PUT", True, ("linux/amd64",)),
        ("GET", True, ("linux/amd64",)),
    ]
    assert [v.entries for v in views] == [2, 2, 2, 1, 1]
    assert [v.digest for v in views] == [sha256(two)] * 3 + [sha256(one)] * 2
    assert {v.media_type for v in views} == {OCI_INDEX}
    assert [v.reference for v in views] == ["list"] * 5
    assert views == sorted(views, key=lambda v: v.time)
    assert [(v.method, v.media_type, v.is_index, v.entries) for v in image_views] == [
        ("PUT", OCI_MANIFEST, False, None), ("HEAD", OCI_MANIFEST, False, None)]
    # The side read for the HEAD is not a request of the client's.
    assert proxy.count(path_regex=r"/manifests/sha256:") == 0


# -- a realistic run: what BuildKit and the daemon do under 20% faults --------------------

REALISTIC_RATE = 0.2
PUSH_ATTEMPTS = 10
CREATE_ATTEMPTS = 40  # imagetools create makes ~12 requests: at 20% few attempts get through
# buildx platform, tag suffix, the busybox-<TARGETARCH><TARGETVARIANT> the Dockerfile copies
PLATFORMS = [("linux/amd64", "amd64"), ("linux/arm64", "arm64v8"), ("linux/arm/v7", "arm32v7")]
ERROR_CLASSES = {  # what a failed attempt's last ERROR line says, by a phrase in it
    "503": "503 Service Unavailable",
    "reset": "connection reset by peer",
    "manifest unknown": "manifest unknown",
    "EOF": "EOF",
}


@dataclass
class Step:
    name: str
    attempts: int = 0
    succeeded: bool = False
    seconds: float = 0.0
    errors: list[str] | None = None


def error_line(output: str) -> str:
    lines = [line for line in output.splitlines() if "ERROR" in line]
    return lines[-1].strip() if lines else (output.strip().splitlines() or ["(no output)"])[-1]


def error_class(line: str) -> str:
    return next((name for name, phrase in ERROR_CLASSES.items() if phrase in line), "other")


def until_done(name: str, argv: list[str], attempts: int) -> Step:
    step = Step(name, errors=[])
    started = time.monotonic()
    while step.attempts < attempts and not step.succeeded:
        step.attempts += 1
        done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=600)
        step.succeeded = done.returncode == 0
        if not step.succeeded:
            assert step.errors is not None
            step.errors.append(error_line(done.stderr))
    step.seconds = round(time.monotonic() - started, 1)
    return step


@pytest.mark.slow
def test_multi_arch_push_through_20_percent_faults(
        registry: LocalRegistry, busybox: dict[str, Path], tmp_path: Path) -> None:
    """Per-arch `buildx build --push` and `imagetools create` as xbuild runs them, each
    step re-run until it succeeds (or gives up), through a proxy failing 20% of requests.

    Reports (JSON, printed, and written to $XBUILD_FAULT_REPORT when set) what BuildKit and
    the daemon printed and how many attempts and requests it took. Their success is not
    asserted; what is: faults of every kind happened, and no index was ever visible under
    the list's tag with other than the three arches.
    """
    seed = int(os.environ.get("XBUILD_FAULT_SEED", "2024"))
    context = tmp_path / "context"
    context.mkdir()
    for suffix, binary in busybox.items():
        shutil.copy2(binary, context / f"busybox-{suffix}")
    (context / "Dockerfile").write_text(
        "FROM scratch\nARG TARGETARCH\nARG TARGETVARIANT\n"
        "COPY busybox-${TARGETARCH}${TARGETVARIANT} /bin/busybox\n")
    faults = RandomFaults(rate=REALISTIC_RATE, seed=seed)
    repository = f"xbuild-support/faulty-{uuid.uuid4().hex[:8]}"
    with fault_proxy(registry.address, random_faults=faults) as proxy:
        ref = f"{proxy.host}/{repository}"
        steps = [until_done(f"push t-{arch}",
                            ["docker", "buildx", "build", "--platform", platform, "--push",
                             "--progress", "plain", "--tag", f"{ref}:t-{arch}", str(context)],
                            PUSH_ATTEMPTS)
                 for platform, arch in PLATFORMS]
        pushed = all(step.succeeded for step in steps)
        if pushed:
            steps.append(until_done(
                "imagetools create t",
                ["docker", "buildx", "imagetools", "create", "--tag", f"{ref}:t",
                 *(f"{ref}:t-{arch}" for _, arch in PLATFORMS)],
                CREATE_ATTEMPTS))
        seen, log, views = proxy.seen, proxy.log, proxy.manifests(r"/manifests/t$")
        by_kind, by_method = proxy.faults_by_kind(), proxy.faults_by_method()
    for _, arch in PLATFORMS:
        docker("image", "rm", "--force", f"{ref}:t-{arch}")
    errors = Counter(error_class(e) for step in steps for e in step.errors or [])
    report = {
        "seed": seed, "rate": REALISTIC_RATE, "requests": seen,
        "faults": {str(kind): n for kind, n in sorted(by_kind.items())},
        "faults_by_method": {f"{k} {m}": n for (k, m), n in sorted(by_method.items())},
        "error_classes": dict(errors),
        "steps": [step.__dict__ for step in steps],
        "list_answers": [(v.method, v.delivered, v.platforms) for v in views],
    }
    text = json.dumps(report, indent=2)
    print(text)
    if os.environ.get("XBUILD_FAULT_REPORT"):
        Path(os.environ["XBUILD_FAULT_REPORT"]).write_text(text + "\n")
    assert seen == len(log)  # every request got its answer (or its cut)
    assert set(by_kind) == set(FaultKind), by_kind
    three = ("linux/amd64", "linux/arm/v7", "linux/arm64")
    assert all(tuple(sorted(v.platforms or ())) == three for v in views), views
    if pushed and steps[-1].succeeded:
        index = request(registry.address, "GET", f"/v2/{repository}/manifests/t",
                        headers={"Accept": f"{OCI_INDEX}, {DOCKER_LIST}"})
        assert index.status == 200, index.body
        platforms = sorted("/".join(filter(None, (m["platform"]["os"],
                                                  m["platform"]["architecture"],
                                                  m["platform"].get("variant"))))
                           for m in json.loads(index.body)["manifests"])
        assert tuple(platforms) == three
