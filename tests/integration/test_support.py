"""Tests of the integration-test support code: busybox, local registry, fault proxy, fixtures.

They need the real engine (docker, buildx, QEMU binfmt), Debian's docker-registry and apt.
Nothing is skipped when something is missing: the tests fail, as they must under CI=true.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import shutil
import subprocess
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support import busybox as busybox_support
from tests.support import registry as registry_support
from tests.support.busybox import default_cache_dir, fetch_busybox, stage_busybox
from tests.support.faultproxy import Exchange, Fault, FaultProxy, fault_proxy
from tests.support.registry import Registry, local_registry

pytestmark = pytest.mark.integration

FIXTURE_MATRIX = Path(__file__).resolve().parent.parent / "fixtures" / "matrix"
# ELF e_machine per TARGETARCH+TARGETVARIANT: x86-64, AArch64, ARM.
ELF_MACHINES = {"amd64": 0x3E, "arm64": 0xB7, "armv7": 0x28}


# -- fixtures ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def busybox_binaries() -> dict[str, Path]:
    return fetch_busybox(default_cache_dir())


@pytest.fixture
def reg(tmp_path: Path) -> Iterator[Registry]:
    with local_registry(tmp_path / "registry") as running:
        yield running


@pytest.fixture
def tiny_context(tmp_path: Path) -> Path:
    context = tmp_path / "tiny"
    context.mkdir()
    (context / "hello").write_text(f"hello {uuid.uuid4()}\n")
    (context / "Dockerfile").write_text("FROM scratch\nCOPY hello /hello\n")
    return context


# -- helpers ----------------------------------------------------------------------------


def docker(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(["docker", *args], capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        pytest.fail(f"docker {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
    return proc


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


def get_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code


def statuses(log: list[Exchange]) -> list[int | None]:
    return [exchange.status for exchange in log]


def target_of(location: str) -> str:
    parts = urllib.parse.urlsplit(location)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


def build_and_push(context: Path, ref: str) -> subprocess.CompletedProcess[str]:
    """Build ``context`` into the local store as ``ref``, push it, drop the local tag."""
    docker("build", "--quiet", "--tag", ref, str(context))
    try:
        return docker("push", ref, check=False)
    finally:
        docker("image", "rm", "--force", ref, check=False)


def manifest_status(reg: Registry, repository: str, tag: str) -> int:
    accept = "application/vnd.docker.distribution.manifest.v2+json"
    response = request(
        reg.host, "HEAD", f"/v2/{repository}/manifests/{tag}", headers={"Accept": accept}
    )
    return response.status


# -- busybox ----------------------------------------------------------------------------


def test_fetch_busybox_gives_static_binaries_per_docker_arch(
    busybox_binaries: dict[str, Path],
) -> None:
    assert set(busybox_binaries) == {"amd64", "arm64", "armv7"}
    for arch, binary in busybox_binaries.items():
        header = binary.read_bytes()[:20]
        assert header[:4] == b"\x7fELF", arch
        assert int.from_bytes(header[18:20], "little") == ELF_MACHINES[arch], arch


def test_fetch_busybox_reuses_cached_debs(busybox_binaries: dict[str, Path]) -> None:
    cache_dir = default_cache_dir()
    debs = {deb: deb.stat().st_mtime_ns for deb in cache_dir.glob("*.deb")}
    assert len(debs) >= 3
    again = fetch_busybox(cache_dir)
    assert again == busybox_binaries
    assert {deb: deb.stat().st_mtime_ns for deb in cache_dir.glob("*.deb")} == debs


def test_fetch_busybox_error_names_the_arch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(busybox_support, "DEBIAN_ARCHES", {"bogus": "nosucharch"})
    with pytest.raises(RuntimeError, match="nosucharch") as raised:
        fetch_busybox(tmp_path)
    assert "apt-get download" in str(raised.value)


def test_stage_busybox_names_files_like_targetarch_targetvariant(
    tmp_path: Path, busybox_binaries: dict[str, Path]
) -> None:
    staged = stage_busybox(tmp_path, busybox_binaries)
    assert sorted(p.name for p in staged) == ["busybox-amd64", "busybox-arm64", "busybox-armv7"]
    for path in staged:
        original = busybox_binaries[path.name.removeprefix("busybox-")]
        assert path.read_bytes() == original.read_bytes()


# -- local registry ---------------------------------------------------------------------


def test_local_registry_answers_v2_and_stops(tmp_path: Path) -> None:
    data_dir = tmp_path / "registry"
    with local_registry(data_dir) as running:
        assert running.host.startswith("127.0.0.1:")
        assert running.url == f"http://{running.host}"
        assert get_status(f"{running.url}/v2/") == 200
        assert f"rootdirectory: {data_dir}" in (data_dir / "config.yml").read_text()
        assert running.log_path.is_file()
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"{running.url}/v2/", timeout=2)


def test_local_registry_startup_failure_is_explained(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(registry_support, "REGISTRY_BINARY", "false")
    with (
        pytest.raises(RuntimeError, match="exited with 1 before answering"),
        local_registry(tmp_path),
    ):
        pass


def test_docker_push_to_local_registry_lands_in_data_dir(
    tmp_path: Path, reg: Registry, tiny_context: Path
) -> None:
    pushed = build_and_push(tiny_context, f"{reg.host}/xbuild-support/direct:t")
    assert pushed.returncode == 0, pushed.stderr
    assert manifest_status(reg, "xbuild-support/direct", "t") == 200
    stored = tmp_path / "registry" / "docker" / "registry" / "v2" / "repositories"
    assert (stored / "xbuild-support" / "direct").is_dir()


# -- fault proxy ------------------------------------------------------------------------


def test_proxy_answers_503_twice_then_passes_through(reg: Registry) -> None:
    faults = [Fault(method="GET", path_regex=r"^/v2/$", status=503, times=2)]
    with fault_proxy(reg.host, faults) as proxy:
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


def test_proxy_faults_match_method_and_path(reg: Registry) -> None:
    faults = [Fault(method="PUT", path_regex=r"/manifests/", status=503, times=1)]
    with fault_proxy(reg.host, faults) as proxy:
        assert request(proxy.host, "GET", "/v2/x/manifests/t").status == 404
        assert request(proxy.host, "PUT", "/v2/_catalog").status != 503
        assert proxy.injected == 0


def test_proxy_429_carries_retry_after(reg: Registry) -> None:
    faults = [Fault(path_regex=r"^/v2/$", status=429), Fault(path_regex="^/v2/$", retry_after=7)]
    with fault_proxy(reg.host, faults) as proxy:
        first = request(proxy.host, "GET", "/v2/")
        second = request(proxy.host, "HEAD", "/v2/")
        third = request(proxy.host, "GET", "/v2/")
    assert (first.status, first.header("Retry-After")) == (429, "1")
    assert (second.status, second.header("Retry-After")) == (503, "7")
    assert (third.status, third.header("Retry-After")) == (200, None)
    assert json.loads(first.body)["errors"][0]["code"] == "TOOMANYREQUESTS"
    assert second.body == b""


def test_proxy_reset_closes_the_connection_without_an_answer(reg: Registry) -> None:
    with fault_proxy(reg.host, [Fault(method="POST", reset=True)]) as proxy:
        with pytest.raises(ConnectionResetError):
            request(proxy.host, "POST", "/v2/xbuild-support/reset/blobs/uploads/")
        assert request(proxy.host, "POST", "/v2/xbuild-support/reset/blobs/uploads/").status == 202
        assert statuses(proxy.log) == [None, 202]
        assert proxy.injected == 1


def test_proxy_add_fault_arms_a_rule_later(reg: Registry) -> None:
    with fault_proxy(reg.host) as proxy:
        assert request(proxy.host, "GET", "/v2/").status == 200
        proxy.add_fault(Fault(path_regex=r"^/v2/$", status=500))
        assert [request(proxy.host, "GET", "/v2/").status for _ in range(2)] == [500, 200]
        assert proxy.faults_left == [0]


def test_proxy_keeps_connections_alive_and_cuts_them_when_stopped(reg: Registry) -> None:
    with fault_proxy(reg.host) as proxy:
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


def test_proxy_streams_a_chunked_blob_upload_and_rewrites_location(reg: Registry) -> None:
    blob = bytes(range(256)) * 1500  # 384 kB, several chunks
    digest = "sha256:" + hashlib.sha256(blob).hexdigest()
    with fault_proxy(reg.host) as proxy:
        started = request(proxy.host, "POST", "/v2/xbuild-support/blob/blobs/uploads/")
        location = started.header("Location") or ""
        assert started.status == 202
        assert location.startswith(f"http://{proxy.host}/"), location
        chunks = (blob[i : i + 100_000] for i in range(0, len(blob), 100_000))
        patched = request(
            proxy.host,
            "PATCH",
            target_of(location),
            body=chunks,
            encode_chunked=True,
            headers={"Content-Type": "application/octet-stream"},
        )
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


def push_through(proxy: FaultProxy, context: Path, repository: str) -> str:
    pushed = build_and_push(context, f"{proxy.host}/{repository}:t")
    assert pushed.returncode == 0, pushed.stderr
    return pushed.stdout


def test_docker_push_through_proxy_without_faults(reg: Registry, tiny_context: Path) -> None:
    with fault_proxy(reg.host) as proxy:
        push_through(proxy, tiny_context, "xbuild-support/clean")
        log = proxy.log
    assert proxy.injected == 0
    assert Exchange("PUT", "/v2/xbuild-support/clean/manifests/t", 201, False) in log
    # Blob uploads follow the (rewritten) Location into the proxy, not around it.
    assert sum(1 for e in log if e.method == "PATCH" and e.status == 202) == 2
    assert manifest_status(reg, "xbuild-support/clean", "t") == 200


def test_docker_push_retries_a_blob_upload_after_a_503(reg: Registry, tiny_context: Path) -> None:
    faults = [Fault(method="POST", path_regex=r"/blobs/uploads/$", status=503, times=1)]
    with fault_proxy(reg.host, faults) as proxy:
        push_through(proxy, tiny_context, "xbuild-support/retried")
        posts = [e for e in proxy.log if e.method == "POST"]
    assert proxy.injected == 1
    assert [e.status for e in posts][:2] == [503, 202]
    assert manifest_status(reg, "xbuild-support/retried", "t") == 200


# -- the fixture matrix -----------------------------------------------------------------


def fixture_images() -> dict[str, dict[str, object]]:
    raw = yaml.safe_load((FIXTURE_MATRIX / "matrix.yml").read_text())
    images: dict[str, dict[str, object]] = raw["images"]
    return images


def test_fixture_recipes_pull_nothing_and_name_parents_as_the_matrix_does() -> None:
    raw = yaml.safe_load((FIXTURE_MATRIX / "matrix.yml").read_text())
    for name, entry in fixture_images().items():
        lines = (FIXTURE_MATRIX / str(entry["context"]) / "Dockerfile").read_text().splitlines()
        assert not any(line.startswith("# syntax=") for line in lines), name
        froms = [line.split()[1] for line in lines if line.upper().startswith("FROM ")]
        parent = entry.get("from")
        expected = f"{raw['namespace']}/{parent}:{raw['tag']}" if parent else "scratch"
        assert froms == [expected], name


def build_fixture(
    context: Path, platform: str, tag: str, *args: str
) -> subprocess.CompletedProcess[str]:
    return docker(
        "buildx",
        "build",
        "--progress",
        "plain",
        "--load",
        "--platform",
        platform,
        "--tag",
        tag,
        *args,
        str(context),
        check=False,
    )


@pytest.fixture
def staged_matrix(tmp_path: Path, busybox_binaries: dict[str, Path]) -> Path:
    """A private copy of the fixture matrix with busybox staged into the root contexts."""
    copy = tmp_path / "matrix"
    shutil.copytree(FIXTURE_MATRIX, copy, ignore=shutil.ignore_patterns("busybox-*"))
    for entry in fixture_images().values():
        if "from" not in entry:
            stage_busybox(copy / str(entry["context"]), busybox_binaries)
    return copy


def test_arm32v7_arch_answer_and_flaky_failure(staged_matrix: Path) -> None:
    """The flaky fixture relies on QEMU's arm/v7 answering `arch` with armv7l."""
    tag = f"xbuild-support-tmp/base:{uuid.uuid4().hex[:12]}"
    try:
        built = build_fixture(staged_matrix / "base", "linux/arm/v7", tag, "--build-arg", "VALUE=v")
        assert built.returncode == 0, built.stderr
        shown = docker(
            "run",
            "--rm",
            "--platform",
            "linux/arm/v7",
            tag,
            "cat",
            "/xbuild/base-arch",
            "/xbuild/base-value",
        )
        assert shown.stdout.split() == ["armv7l", "v"]
    finally:
        docker("image", "rm", "--force", tag, check=False)
    failed = build_fixture(staged_matrix / "flaky", "linux/arm/v7", tag)
    assert failed.returncode != 0
    assert "flaky: deliberately fails on arm32v7" in failed.stderr
