"""The arch -> node map: matrix.yml and --builder, emulation flags, routing and caps per node."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

import pytest

from tests.unit.fakes import (
    FakeDocker,
    FakeEngine,
    FakeImage,
    RecordingReporter,
    arch,
    run_folder,
    run_guarded,
)
from xbuild.core.answers import Built
from xbuild.core.buildspec import BuildRequest, Provenance
from xbuild.core.errors import MatrixError, SelectionError
from xbuild.core.matrix import load_matrix
from xbuild.core.nodes import (
    DEFAULT,
    Node,
    NodeMap,
    cross_node_problem,
    emulated,
    parse_builder_options,
)
from xbuild.core.plan import make_plan
from xbuild.core.settings import BuildSettings
from xbuild.engine.runner import RunOptions
from xbuild.host.cmd import Shell
from xbuild.host.doctor import node_rows

AMD64, ARM32, ARM64 = arch("amd64"), arch("arm32v7"), arch("arm64v8")


def matrix_with(write_matrix: Callable[..., Path], doc: dict[str, Any],
                builders: object) -> Path:
    doc["builders"] = builders
    return write_matrix(doc)


def test_matrix_builders_map_arches_to_nodes(write_matrix: Callable[..., Path],
                                             matrix_doc: dict[str, Any]) -> None:
    matrix = load_matrix(matrix_with(write_matrix, matrix_doc, {
        "arm64v8": "jetson", "linux/arm/v7": {"name": "pi-farm", "jobs": 1}}))
    assert matrix.builders.node_for(ARM64) == Node(name="jetson")
    assert matrix.builders.node_for(ARM32) == Node(name="pi-farm", jobs=1)
    assert matrix.builders.node_for(AMD64) == Node(name=DEFAULT)


@pytest.mark.parametrize(("builders", "key", "fragment"), [
    pytest.param({"sparc": "x"}, "builders.sparc", "not an architecture the matrix builds",
                 id="unknown-arch"),
    pytest.param({"i386": "x"}, "builders.i386", "not an architecture the matrix builds",
                 id="arch-not-built"),
    pytest.param({"arm64v8": "x", "linux/arm64": "y"}, "builders.linux/arm64",
                 "arm64v8 is given twice", id="duplicate-arch"),
    pytest.param({"arm64v8": "bad name"}, "builders.arm64v8.name", "must be a docker context",
                 id="bad-name"),
    pytest.param({"arm64v8": {"name": "x", "jobs": 0}}, "builders.arm64v8.jobs",
                 "at least 1", id="zero-jobs"),
    pytest.param({"arm64v8": {"name": "x", "job": 2}}, "builders.arm64v8.job",
                 "did you mean 'jobs'", id="typo"),
    pytest.param(["arm64v8"], "builders", "must map an architecture", id="a-list"),
])
def test_bad_builders_get_one_line(write_matrix: Callable[..., Path],
                                   matrix_doc: dict[str, Any], builders: object, key: str,
                                   fragment: str) -> None:
    with pytest.raises(MatrixError) as caught:
        load_matrix(matrix_with(write_matrix, matrix_doc, builders))
    assert f": {key}: " in str(caught.value) and fragment in str(caught.value)
    assert "\n" not in str(caught.value)


def test_builder_options() -> None:
    assert parse_builder_options(["arm64v8=jetson", "linux/arm/v7=pi"]).node_for(ARM32) == \
        Node(name="pi")
    everything = parse_builder_options(["multi"])
    assert {everything.node_for(a) for a in (AMD64, ARM32, ARM64)} == {Node(name="multi")}


@pytest.mark.parametrize(("values", "fragment"), [
    pytest.param(["sparc=x"], "unknown architecture 'sparc'", id="unknown-arch"),
    pytest.param(["arm64v8=a", "linux/arm64=b"], "arm64v8 is given twice", id="duplicate"),
    pytest.param(["arm64v8=no space"], "is not a docker context", id="bad-name"),
    pytest.param(["multi", "arm64v8=x"], "give it alone", id="both-forms"),
])
def test_bad_builder_options(values: list[str], fragment: str) -> None:
    with pytest.raises(SelectionError, match=fragment):
        parse_builder_options(values)


def test_the_command_line_overrides_the_matrix() -> None:
    matrix = NodeMap(by_arch=(("arm32v7", Node(name="pi", jobs=1)),
                              ("arm64v8", Node(name="jetson"))))
    merged = matrix.overridden(parse_builder_options(["arm64v8=ampere"]))
    assert (merged.node_for(ARM64), merged.node_for(ARM32)) == (Node(name="ampere"),
                                                                Node(name="pi", jobs=1))
    assert matrix.overridden(parse_builder_options(["one"])).node_for(ARM32) == Node(name="one")


def test_the_arches_on_a_node_keep_the_order_given() -> None:
    nodes = NodeMap(by_arch=(("arm32v7", Node(name="pi")), ("arm64v8", Node(name="pi"))))
    assert nodes.arches_on(Node(name="pi"), (ARM64, AMD64, ARM32)) == (ARM64, ARM32)
    assert nodes.arches_on(Node(name=""), (ARM64, AMD64, ARM32)) == (AMD64,)


@pytest.mark.parametrize(("target", "native", "expected"), [
    pytest.param(ARM64, [ARM64.platform], False, id="arm64-on-arm64"),
    pytest.param(ARM32, [ARM64.platform], True, id="arm-v7-on-arm64-may-lack-aarch32"),
    pytest.param(ARM64, [AMD64.platform], True, id="arm64-on-amd64"),
    pytest.param(AMD64, [AMD64.platform], False, id="amd64-on-amd64"),
    pytest.param(ARM32, [ARM64.platform, ARM32.platform], False, id="a-node-that-runs-both"),
])
def test_emulation_flag(target: object, native: list[Any], expected: bool) -> None:
    assert emulated(target, native) is expected  # type: ignore[arg-type]


def test_a_child_on_another_node_than_its_parent_is_named_with_both_nodes() -> None:
    assert cross_node_problem(("base-arm64v8", Node(name="a")),
                              ("child-arm64v8", Node(name="a"))) is None
    problem = cross_node_problem(("base-arm64v8", Node(name="a")),
                                 ("child-arm64v8", Node(name="b")))
    assert problem == ("child-arm64v8 builds on node b but its parent base-arm64v8 on a: "
                       "without --push the parent never leaves a (use --push)")


class MeetingEngine(FakeEngine):
    """A fake node that records the most builds it ran at once (`most`). A build there does
    not return before a second build starts beside it, or before `alone` seconds pass without
    one: a node that runs two builds at once therefore shows it whatever the threads' timing
    (the pair meets at once), while a node that keeps to one build at a time makes only its
    first build wait out `alone` (a barrier that timed out stays broken)."""

    def __init__(self, *, alone: float) -> None:
        super().__init__()
        self._pair = threading.Barrier(2, timeout=alone)
        self._running = 0
        self.most = 0

    def build(self, request: BuildRequest, log: TextIO,
              on_line: Callable[[str], None]) -> Built:
        with self._lock:
            self._running += 1
            self.most = max(self.most, self._running)
        try:
            with contextlib.suppress(threading.BrokenBarrierError):  # none came beside it
                self._pair.wait()
            return super().build(request, log, on_line)
        finally:
            with self._lock:
                self._running -= 1


def test_each_target_builds_on_its_node_within_the_node_s_cap(
        write_matrix: Callable[..., Path], matrix_doc: dict[str, Any], tmp_path: Path) -> None:
    plan = make_plan(load_matrix(write_matrix(matrix_doc)))
    here, there = FakeEngine(), MeetingEngine(alone=1.0)
    nodes = {t.key: ("there" if t.arch != AMD64 else DEFAULT) for t in plan.targets}
    elsewhere = sorted({t.arch.name for t in plan.targets if t.arch != AMD64})
    options = RunOptions(settings=BuildSettings(push=True, jobs=4), logs=run_folder(tmp_path),
                         provenance=Provenance(created="x"), native=(AMD64,),
                         nodes=NodeMap(by_arch=tuple((a, Node(name="there", jobs=1))
                                                     for a in elsewhere)))
    report = run_guarded(plan, {DEFAULT: here, "there": there}, RecordingReporter(), options)
    assert sorted(here.built_keys) == ["orthanc-amd64", "orthanc-plugins-amd64"]
    assert sorted(there.built_keys) == sorted(k for k, n in nodes.items() if n == "there")
    assert {r.node for r in report.targets} == {DEFAULT, "there"}
    # orthanc-arm32v7 and orthanc-arm64v8 are ready together: a cap of 2 or more would run
    # them at once, and they would meet on `there`.
    assert there.most == 1  # its cap
    assert all(r.started > time.time() - 60 for r in report.targets)


def test_a_node_row_names_its_emulated_arches_and_probes_on_that_node(tmp_path: Path) -> None:
    docker = FakeDocker()
    docker.native = ARM64.platform
    rows = node_rows(Node(name="jetson"), (ARM64,), lambda _name: docker, Shell(),
                     cache=tmp_path)
    assert rows[0] == ("node jetson", True, "engine 26.1.5, buildx v0.13.1, driver docker; "
                                            "runs linux/arm64/v8; builds arm64v8")
    assert rows[1] == ("qemu arm64v8 on jetson", True, "native")
    docker.local.add("xbuild-probe:busybox-arm32v7")  # the probe image is there already
    docker.images["xbuild-probe:busybox-arm32v7"] = FakeImage(platform=ARM32.platform,
                                                              answers={"arch": (0, "armv7l")})
    arm32 = node_rows(Node(name="jetson"), (ARM32,), lambda _name: docker, Shell(),
                      cache=tmp_path)
    assert "builds arm32v7 emulated (qemu-arm version 7.2.22)" in arm32[0][2]
    assert arm32[1] == ("qemu arm32v7 on jetson", True,
                        "answers 'armv7l'; emulated (qemu-arm version 7.2.22)")
    assert [probe.image for probe in docker.runs] == ["xbuild-probe:busybox-arm32v7"] * 2
    # the probes ran on the node, not here


def test_a_node_row_says_arm32v7_runs_natively_where_the_probe_found_aarch32(
        tmp_path: Path) -> None:
    docker = FakeDocker()
    docker.native = ARM64.platform
    docker.local.add("xbuild-probe:busybox-arm32v7")
    docker.images["xbuild-probe:busybox-arm32v7"] = FakeImage(
        platform=ARM32.platform, answers={"arch": (0, "armv8l"), "QEMU_VERSION": (0, "armv8l")})
    rows = node_rows(Node(name="pi4"), (ARM64, ARM32), lambda _name: docker, Shell(),
                      cache=tmp_path)
    assert rows == [
        ("node pi4", True, "engine 26.1.5, buildx v0.13.1, driver docker; runs linux/arm64/v8; "
                           "builds arm64v8, arm32v7 native (AArch32 at EL0)"),
        ("qemu arm32v7 on pi4", True, "answers 'armv8l'; native (AArch32 at EL0)"),
        ("qemu arm64v8 on pi4", True, "native")]
