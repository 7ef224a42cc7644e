"""core/runners.py: which runner builds each arch, how it builds there, and which runners are
refused. The command line's view of the same is in test_workflow.py."""

from __future__ import annotations

import pytest

from tests.unit.fakes import arch
from xbuild.core.errors import SelectionError
from xbuild.core.nodes import Node, NodeMap
from xbuild.core.runners import build_jobs

AMD64, ARM32, ARM64 = arch("amd64"), arch("arm32v7"), arch("arm64v8")
THREE = (AMD64, ARM32, ARM64)  # table order, as the matrix gives them


def jobs(*values: str, hosted: bool = False,
         builders: NodeMap | None = None) -> list[tuple[str, tuple[str, ...], list[str]]]:
    """(job id, labels, how each arch builds) per job."""
    return [(job.id, job.runner.labels, [f"{p.arch}: {p.how}" for p in job.placements])
            for job in build_jobs(THREE, values, hosted=hosted, builders=builders or NodeMap())]


AARCH32 = "arm32v7: native where the CPU runs it (AArch32), else QEMU: the probe says which"


def test_self_hosted_by_default_arm32v7_with_arm64v8() -> None:
    assert jobs() == [
        ("build-amd64", ("self-hosted", "linux", "X64"), ["amd64: native"]),
        ("build-arm64v8-arm32v7", ("self-hosted", "linux", "ARM64"),
         ["arm64v8: native", AARCH32])]


def test_hosted() -> None:
    assert jobs(hosted=True) == [
        ("build-amd64", ("ubuntu-24.04",), ["amd64: native"]),
        ("build-arm64v8-arm32v7", ("ubuntu-24.04-arm",), ["arm64v8: native", AARCH32])]


def test_arm32v7_follows_a_runner_given_to_arm64v8() -> None:
    assert jobs("arm64v8=self-hosted,jetson")[1] == (
        "build-arm64v8-arm32v7", ("self-hosted", "jetson"), ["arm64v8: native", AARCH32])


@pytest.mark.parametrize(("value", "how"), [
    pytest.param("arm32v7=self-hosted,X64", "arm32v7: under QEMU", id="x64-label"),
    pytest.param("arm32v7=ubuntu-24.04", "arm32v7: under QEMU", id="hosted-x64"),
    pytest.param("arm32v7=Ubuntu-22.04-ARM", AARCH32, id="hosted-arm-any-case"),
    pytest.param("arm32v7=self-hosted,arm64,pi4", AARCH32, id="arm64-label-any-case"),
])
def test_the_runner_cpu_comes_from_its_labels(value: str, how: str) -> None:
    (own,) = [job for job in jobs(value) if job[0] == "build-arm32v7"]
    assert own[2] == [how]


def test_an_arch_on_a_node_builds_there_whatever_the_runner() -> None:
    builders = NodeMap(by_arch=(("arm32v7", Node(name="pi-armhf")),))
    assert jobs(builders=builders)[1][2] == [
        "arm64v8: native", "arm32v7: on docker context or builder pi-armhf (matrix.yml builders)"]


@pytest.mark.parametrize(("value", "fragment"), [
    pytest.param("arm32v7=self-hosted,linux,ARM", "a 32-bit ARM runner cannot run the job",
                 id="arm-label"),
    pytest.param("amd64=self-hosted,Arm", "a 32-bit ARM runner cannot run the job",
                 id="arm-label-for-another-arch"),
    pytest.param("arm32v7=self-hosted,pi", "name the runner's CPU with ARM64 or X64",
                 id="arm32v7-cpu-unsaid"),
])
def test_refused_runners(value: str, fragment: str) -> None:
    with pytest.raises(SelectionError) as caught:
        jobs(value)
    assert fragment in str(caught.value)
    assert "\n" not in str(caught.value)
