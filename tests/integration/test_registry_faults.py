"""Registry faults injected by a proxy in front of the local registry: retried or not."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from tests.support.faultproxy import Fault, fault_proxy
from tests.support.run import FixtureMatrix, xbuild
from xbuild.host.registry import LocalRegistry

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
