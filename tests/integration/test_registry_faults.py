"""Registry faults injected by a proxy in front of the local registry: retried or not."""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from pathlib import Path

import pytest

from tests.support.faultproxy import Fault, RandomFaults, fault_proxy
from tests.support.run import FixtureMatrix, xbuild
from xbuild.host.local_registry import LocalRegistry

pytestmark = pytest.mark.integration
MANIFESTS = r"/manifests/"


@pytest.mark.parametrize("fault", [
    Fault(method="PUT", path_regex=MANIFESTS, status=503, times=2),
    Fault(method="PUT", path_regex=MANIFESTS, status=429, retry_after=1),
    Fault(method="PUT", path_regex=MANIFESTS, reset=True),
], ids=["503-twice", "429", "connection-reset"])
def test_transient_registry_failure_is_retried_and_the_run_completes(
        registry: LocalRegistry, fixture_matrix: FixtureMatrix, tmp_path: Path,
        fault: Fault) -> None:
    with fault_proxy(registry.address, [fault]) as proxy:
        # a namespace of its own: an image already pushed would be up to date, not pushed
        run = xbuild("build", "duo", "--push", "-f", fixture_matrix.path, "--json",
                     "--namespace", f"{proxy.host}/retried-{uuid.uuid4().hex[:8]}",
                     "--log-dir", tmp_path)
        injected = proxy.injected
    assert run.exit_code == 0, run.stderr
    assert injected == fault.times
    report = json.loads(run.stdout)
    assert {t["status"] for t in report["targets"]} == {"pushed"}
    assert [entry["status"] for entry in report["lists"]] == ["published"]
    logs = "".join(p.read_text() for p in tmp_path.rglob("*.log"))
    assert "transient registry error, retrying" in logs


def test_not_found_is_not_retried(registry: LocalRegistry, fixture_matrix: FixtureMatrix,
                                  tmp_path: Path) -> None:
    not_found = Fault(method="PUT", path_regex=MANIFESTS, status=404, times=10)
    with fault_proxy(registry.address, [not_found]) as proxy:
        run = xbuild("build", "duo", "--arch", "amd64", "--push", "-f", fixture_matrix.path,
                     "--namespace", f"{proxy.host}/permanent", "--log-dir", tmp_path)
        injected = proxy.injected
    assert run.exit_code == 6, run.stderr
    assert injected == 1  # one attempt: a 404 is not worth another


# --- faults at scale ----------------------------------------------------------------------
FIVE = ("base", "child", "grandchild", "alpha", "beta")


@pytest.fixture
def five_by_three(fixture_matrix: FixtureMatrix, tmp_path: Path) -> Path:
    """5 images x 3 arches that all build: the fixture's chain and two more roots like base."""
    root = tmp_path / "five"
    shutil.copytree(fixture_matrix.path.parent, root)
    for name in ("alpha", "beta"):
        shutil.copytree(root / "base", root / name)
    (root / "matrix.yml").write_text(
        "namespace: xbuild-test\ntag: latest\narchitectures: [amd64, arm32v7, arm64v8]\n"
        "images:\n"
        f"  base: {{context: base, args: {{VALUE: {fixture_matrix.value}}}}}\n"
        "  child: {context: child, from: base}\n"
        "  grandchild: {context: grandchild, from: child}\n"
        "  alpha: {context: alpha, args: {VALUE: alpha}}\n"
        "  beta: {context: beta, args: {VALUE: beta}}\n")
    return root / "matrix.yml"


@pytest.mark.slow
def test_all_push_completes_through_20_percent_random_faults(
        registry: LocalRegistry, five_by_three: Path, tmp_path: Path) -> None:
    """Every request, any method and path, fails 20% of the time (503, or the connection cut
    before or after the registry saw it). The release must complete, and no list may ever
    be visible with fewer arches than the plan gives it."""
    seed = os.environ.get("XBUILD_FAULT_SEED", "2024")
    namespace_path = f"faults-{uuid.uuid4().hex[:8]}"
    with fault_proxy(registry.address, random_faults=RandomFaults(rate=0.2, seed=seed)) as proxy:
        started = time.monotonic()
        run = xbuild("all", "--push", "-f", five_by_three, "--json", "--log-dir", tmp_path,
                     "--namespace", f"{proxy.host}/{namespace_path}")
        seconds = time.monotonic() - started
        seen, injected, kinds = proxy.seen, proxy.injected, proxy.faults_by_kind()
        lists = [a for a in proxy.manifests(rf"/{namespace_path}/[^/]+/manifests/latest$")
                 if a.is_index]
    print(f"\n20% faults, seed {seed}: {seen} requests, {injected} faults injected and "
          f"survived ({dict(kinds)}), {seconds:.0f} s")
    assert run.exit_code == 0, run.stderr[-3000:]
    published: list[dict[str, str]] = run.json()["lists"]  # type: ignore[assignment]
    assert [entry["status"] for entry in published] == ["published"] * 5
    assert injected > 0
    assert lists and all(answer.entries == 3 for answer in lists)
