"""Incremental, verify-gated releases on the real engine and registry: a no-op rerun pushes
nothing and keeps every digest; a change moves exactly its image and children; the merge step
refuses a stale arch; --from publishes recorded digests; a lying arch gets no list."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.faultproxy import FaultProxy, fault_proxy
from tests.support.run import Cli, FixtureMatrix, xbuild
from xbuild.host.local_registry import LocalRegistry

pytestmark = pytest.mark.integration
CHAIN = ("base", "child", "grandchild", "duo")
MANIFEST_PUT = r"/v2/.+/manifests/"


@pytest.fixture(scope="module")
def proxy(registry: LocalRegistry) -> Iterator[FaultProxy]:
    """A pass-through proxy in front of the registry: it only counts."""
    with fault_proxy(registry.address) as running:
        yield running


@pytest.fixture(scope="module")
def matrix(fixture_matrix: FixtureMatrix, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This module's own copy of the fixture matrix: its tests change a context."""
    root = tmp_path_factory.mktemp("incremental") / "matrix"
    shutil.copytree(fixture_matrix.path.parent, root)
    return root / "matrix.yml"


def build(matrix: Path, namespace: str, logs: Path, *args: str) -> Cli:
    return xbuild("build", *CHAIN, "--push", "-f", matrix, "--namespace", namespace,
                  "--log-dir", logs, "--json", *args)


def digests(run: Cli) -> dict[str, str]:
    report = run.json()
    targets: list[dict[str, Any]] = report["targets"]  # type: ignore[assignment]
    return {f"{t['image']}-{t['arch']}": t["digest"] for t in targets}


def statuses(run: Cli) -> dict[str, str]:
    targets: list[dict[str, Any]] = run.json()["targets"]  # type: ignore[assignment]
    return {f"{t['image']}-{t['arch']}": t["status"] for t in targets}


def skopeo_raw(ref: str) -> bytes:
    """The manifest a tag serves now, read independently of xbuild."""
    done = subprocess.run(["skopeo", "inspect", "--raw", "--tls-verify=false",
                           f"docker://{ref}"], capture_output=True, check=True)
    return done.stdout


def list_digests(namespace: str) -> dict[str, str]:
    return {image: "sha256:" + hashlib.sha256(skopeo_raw(f"{namespace}/{image}:latest"))
            .hexdigest() for image in CHAIN}


def list_entries(ref: str) -> set[str]:
    return {m["digest"] for m in json.loads(skopeo_raw(ref))["manifests"]}


@pytest.fixture(scope="module")
def first(matrix: Path, proxy: FaultProxy, tmp_path_factory: pytest.TempPathFactory) -> Cli:
    run = build(matrix, f"{proxy.host}/inc", tmp_path_factory.mktemp("first"))
    assert run.exit_code == 0, run.stderr
    return run


def test_a_no_op_rerun_pushes_no_manifest_and_keeps_every_digest(
        first: Cli, matrix: Path, proxy: FaultProxy, tmp_path: Path) -> None:
    namespace = f"{proxy.host}/inc"
    lists_before = list_digests(namespace)
    puts_before = proxy.count("PUT", MANIFEST_PUT)
    assert puts_before >= 11 + 4  # the first run pushed every per-arch image and every list
    again = build(matrix, namespace, tmp_path)
    assert again.exit_code == 0, again.stderr
    assert proxy.count("PUT", MANIFEST_PUT) == puts_before  # not one manifest pushed
    assert set(statuses(again).values()) == {"up to date"}
    assert digests(again) == digests(first)
    assert list_digests(namespace) == lists_before
    lists: list[dict[str, Any]] = again.json()["lists"]  # type: ignore[assignment]
    assert {entry["status"] for entry in lists} == {"up to date"}


def test_a_change_moves_exactly_that_image_and_its_children(
        first: Cli, matrix: Path, proxy: FaultProxy, tmp_path: Path) -> None:
    namespace = f"{proxy.host}/inc"
    (matrix.parent / "child" / "extra.txt").write_text("a new file in child's context\n")
    changed = build(matrix, namespace, tmp_path)
    assert changed.exit_code == 0, changed.stderr
    moved = {key for key, digest in digests(changed).items() if digest != digests(first)[key]}
    assert moved == {f"{image}-{arch}" for image in ("child", "grandchild")
                     for arch in ("amd64", "arm32v7", "arm64v8")}
    assert {k: s for k, s in statuses(changed).items() if k.startswith(("base", "duo"))} == {
        k: "up to date" for k in digests(changed) if k.startswith(("base", "duo"))}


def test_the_merge_step_refuses_a_stale_arch_and_from_publishes_the_records(
        matrix: Path, registry: LocalRegistry, tmp_path: Path) -> None:
    namespace = f"{registry.address}/merge"
    one = xbuild("build", "duo", "--push", "-f", matrix, "--namespace", namespace,
                 "--log-dir", tmp_path / "both", "--json")  # a whole release: tags public
    assert one.exit_code == 0, one.stderr
    (matrix.parent / "duo" / "changed.txt").write_text("duo changed after amd64 was built\n")
    two = xbuild("build", "duo", "--arch", "arm64v8", "--push", "-f", matrix, "--namespace",
                 namespace, "--log-dir", tmp_path / "arm64", "--json")  # staged only
    assert two.exit_code == 0, two.stderr
    stale = xbuild("manifest", "duo", "-f", matrix, "--namespace", namespace)
    assert stale.exit_code == 6, stale.stderr
    assert "no amd64 (stale: its image was not built from this checkout's sources), arm64v8 " \
           "(staged, but nothing here says it passed verification" in stale.stderr
    records = [next((tmp_path / run).glob("*/build-record.json")) for run in ("both", "arm64")]
    refused = xbuild("manifest", "duo", "-f", matrix, "--namespace", namespace,
                     f"--from={records[0]}")
    assert "amd64 (its record's identity is not this checkout's)" in refused.stderr
    again = xbuild("build", "duo", "--arch", "amd64", "--push", "-f", matrix, "--namespace",
                   namespace, "--log-dir", tmp_path / "amd64-again", "--json")
    assert again.exit_code == 0, again.stderr
    fresh = next((tmp_path / "amd64-again").glob("*/build-record.json"))
    merged = xbuild("manifest", "duo", "-f", matrix, "--namespace", namespace, "--json",
                    f"--from={fresh}", f"--from={records[1]}")
    assert merged.exit_code == 0, merged.stderr
    expected = {f"{namespace}/duo@{t['digest']}" for r in (fresh, records[1])
                for t in json.loads(r.read_text())["targets"]}
    listed = list_entries(f"{namespace}/duo:latest")
    assert {f"{namespace}/duo@{d}" for d in listed} == expected


def test_verify_refuses_the_list_of_an_arm64_image_holding_amd64_binaries(
        fixture_matrix: FixtureMatrix, registry: LocalRegistry, tmp_path: Path) -> None:
    liar = tmp_path / "liar"
    liar.mkdir()
    shutil.copy2(fixture_matrix.path.parent / "base" / "busybox-amd64", liar / "busybox-amd64")
    (liar / "Dockerfile").write_text("FROM scratch\nCOPY busybox-amd64 /bin/busybox\n"
                                     'RUN ["/bin/busybox", "--install", "-s", "/bin"]\n')
    (tmp_path / "matrix.yml").write_text(
        "namespace: x\ntag: latest\narchitectures: [amd64, arm64v8]\n"
        "images:\n  liar: {context: liar}\n")
    run = xbuild("build", "--push", "--verify", "-f", tmp_path / "matrix.yml", "--namespace",
                 f"{registry.address}/liars-gate", "--log-dir", tmp_path / "logs", "--json")
    assert run.exit_code == 7, run.stderr
    lists: list[dict[str, str]] = run.json()["lists"]  # type: ignore[assignment]
    (listed,) = lists
    assert listed["status"] == "refused"
    assert listed["detail"].startswith("not published: verification failed: arm64v8 ")
    assert "elf" in listed["detail"]
    absent = xbuild("verify", f"{registry.address}/liars-gate/liar:latest", cwd=tmp_path)
    assert absent.exit_code == 4  # no list was ever published


def test_a_run_killed_midway_blocks_nothing_and_the_rerun_builds_only_what_was_not_pushed(
        fixture_matrix: FixtureMatrix, registry: LocalRegistry, tmp_path: Path) -> None:
    root = tmp_path / "matrix"
    shutil.copytree(fixture_matrix.path.parent, root)
    namespace = f"{registry.address}/killed"
    argv = [sys.executable, "-m", "xbuild", "build", *CHAIN, "--push", "-f",
            str(root / "matrix.yml"), "--namespace", namespace, "--log-dir", str(tmp_path / "logs"),
            "--jobs", "2"]
    victim = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    deadline = time.monotonic() + 300
    while not pushed_any(namespace) and victim.poll() is None and time.monotonic() < deadline:
        time.sleep(0.5)
    assert victim.poll() is None, "the run ended before anything could be killed midway"
    os.killpg(victim.pid, signal.SIGKILL)
    victim.wait()
    first_pushed = {key for key in TARGETS if pushed(f"{namespace}/{key}")}
    assert first_pushed and first_pushed != set(TARGETS)
    rerun = build(root / "matrix.yml", namespace, tmp_path / "logs")
    assert rerun.exit_code == 0, rerun.stderr
    done = statuses(rerun)
    assert {k for k, s in done.items() if s == "up to date"} >= {
        f"{image}-{arch}" for image, arch in (k.rsplit(":latest-", 1) for k in first_pushed)}
    assert not list((tmp_path / "logs").rglob("*.partial"))


TARGETS = [f"{image}:latest-{arch}" for image in CHAIN
           for arch in ("amd64", "arm32v7", "arm64v8") if (image, arch) != ("duo", "arm32v7")]


def pushed(ref: str) -> bool:
    return subprocess.run(["skopeo", "inspect", "--raw", "--tls-verify=false", f"docker://{ref}"],
                          capture_output=True, check=False).returncode == 0


def pushed_any(namespace: str) -> bool:
    return any(pushed(f"{namespace}/{key}") for key in TARGETS)
