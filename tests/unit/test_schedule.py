"""Scheduling: critical-path weights, the order of ready targets, what a failure blocks."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from tests.unit.fakes import arch
from xbuild.core.imagespec import ImageSpec
from xbuild.core.matrix import Matrix
from xbuild.core.plan import Plan, make_plan
from xbuild.core.platforms import Arch
from xbuild.core.schedule import EMULATION_SLOWDOWN, blocked_by, by_priority, critical_path

AMD64, ARM32, ARM64 = arch("amd64"), arch("arm32v7"), arch("arm64v8")
ALL = (AMD64, ARM32, ARM64)


def spec(name: str, parent: str | None = None, arches: Sequence[Arch] = ALL) -> ImageSpec:
    context = Path("/ctx") / name
    return ImageSpec(name=name, context=context, dockerfile=context / "Dockerfile", parent=parent,
                     arches=tuple(arches), args=(), arch_args=())


# base -> child -> grandchild, base -> sibling; lone on two arches.
FAMILY = Matrix(path=Path("/m/matrix.yml"), namespace="ns", tag="t", arches=ALL, images=(
    spec("base"), spec("lone", arches=(AMD64, ARM64)), spec("child", parent="base"),
    spec("sibling", parent="base"), spec("grandchild", parent="child")))


@pytest.fixture
def plan() -> Plan:
    return make_plan(FAMILY)


def test_emulation_costs_ten_times_native() -> None:
    assert EMULATION_SLOWDOWN == 10.0


@pytest.mark.parametrize(("native", "expected"), [
    pytest.param((AMD64,), {
        "base-amd64": 3.0, "base-arm32v7": 30.0, "base-arm64v8": 30.0,
        "child-amd64": 2.0, "child-arm32v7": 20.0, "child-arm64v8": 20.0,
        "grandchild-amd64": 1.0, "grandchild-arm32v7": 10.0, "grandchild-arm64v8": 10.0,
        "sibling-amd64": 1.0, "sibling-arm32v7": 10.0, "sibling-arm64v8": 10.0,
        "lone-amd64": 1.0, "lone-arm64v8": 10.0}, id="amd64-host"),
    pytest.param((ARM64, ARM32), {
        "base-amd64": 30.0, "base-arm32v7": 3.0, "base-arm64v8": 3.0,
        "child-amd64": 20.0, "child-arm32v7": 2.0, "child-arm64v8": 2.0,
        "grandchild-amd64": 10.0, "grandchild-arm32v7": 1.0, "grandchild-arm64v8": 1.0,
        "sibling-amd64": 10.0, "sibling-arm32v7": 1.0, "sibling-arm64v8": 1.0,
        "lone-amd64": 10.0, "lone-arm64v8": 1.0}, id="arm64-host-runs-arm32"),
    pytest.param((), {
        "base-amd64": 30.0, "base-arm32v7": 30.0, "base-arm64v8": 30.0,
        "child-amd64": 20.0, "child-arm32v7": 20.0, "child-arm64v8": 20.0,
        "grandchild-amd64": 10.0, "grandchild-arm32v7": 10.0, "grandchild-arm64v8": 10.0,
        "sibling-amd64": 10.0, "sibling-arm32v7": 10.0, "sibling-arm64v8": 10.0,
        "lone-amd64": 10.0, "lone-arm64v8": 10.0}, id="nothing-native"),
])
def test_critical_path_weights(plan: Plan, native: tuple[Arch, ...],
                               expected: dict[str, float]) -> None:
    assert critical_path(plan, native) == expected


def test_chain_weight_takes_the_longest_child_not_the_sum(plan: Plan) -> None:
    weights = critical_path(plan, (AMD64,))
    # base has two children (child: 2, sibling: 1): its weight is its own plus the longer one.
    assert weights["base-amd64"] == 1.0 + max(weights["child-amd64"], weights["sibling-amd64"])


def test_published_parent_does_not_add_to_the_weight() -> None:
    plan = make_plan(FAMILY, images=["grandchild"], build_parents=False)
    assert critical_path(plan, (AMD64,)) == {
        "grandchild-amd64": 1.0, "grandchild-arm32v7": 10.0, "grandchild-arm64v8": 10.0}


def test_chains_do_not_cross_arches(plan: Plan) -> None:
    weights = critical_path(plan, (AMD64,))
    assert weights["base-amd64"] < weights["lone-arm64v8"] < weights["base-arm64v8"]


@pytest.mark.parametrize(("native", "expected"), [
    pytest.param((AMD64,), ["base-arm32v7", "base-arm64v8", "lone-arm64v8", "base-amd64",
                            "lone-amd64"], id="amd64-host"),
    pytest.param((ARM64,), ["base-amd64", "base-arm32v7", "lone-amd64", "base-arm64v8",
                            "lone-arm64v8"], id="arm64-host"),
])
def test_by_priority_puts_the_longest_chain_first(plan: Plan, native: tuple[Arch, ...],
                                                  expected: list[str]) -> None:
    ready = [t for t in plan.targets if t.level == 0]
    ordered = by_priority(ready, critical_path(plan, native))
    assert [t.key for t in ordered] == expected


def test_by_priority_breaks_ties_deepest_first_then_image_then_arch(plan: Plan) -> None:
    weights = dict.fromkeys((t.key for t in plan.targets), 1.0)
    ordered = by_priority(list(reversed(plan.targets)), weights)
    assert [t.key for t in ordered] == [
        "grandchild-amd64", "grandchild-arm32v7", "grandchild-arm64v8",
        "child-amd64", "child-arm32v7", "child-arm64v8",
        "sibling-amd64", "sibling-arm32v7", "sibling-arm64v8",
        "base-amd64", "base-arm32v7", "base-arm64v8", "lone-amd64", "lone-arm64v8"]


def test_a_child_whose_parent_is_done_goes_before_an_equal_root() -> None:
    """The cold bench's schedule: img1's arm32v7 finished; its child and another root (img4)
    both need one emulated build. The child goes first: its chain has already begun."""
    matrix = Matrix(path=Path("/m/matrix.yml"), namespace="ns", tag="t", arches=ALL, images=(
        spec("img1"), spec("img4"), spec("img1-kid", parent="img1")))
    bench = make_plan(matrix)
    weights = critical_path(bench, (AMD64,))
    ready = [t for t in bench.targets if t.key in {"img4-arm32v7", "img1-kid-arm32v7"}]
    assert [t.key for t in by_priority(ready, weights)] == ["img1-kid-arm32v7", "img4-arm32v7"]


def test_by_priority_of_nothing_is_empty() -> None:
    assert by_priority([], {}) == []


@pytest.mark.parametrize(("key", "failed", "expected"), [
    pytest.param("child-arm64v8", {"base-arm64v8": "failed"},
                 "parent base x arm64v8 failed", id="parent-failed"),
    pytest.param("grandchild-arm64v8", {"child-arm64v8": "skipped"},
                 "parent child x arm64v8 skipped", id="parent-skipped"),
    pytest.param("child-amd64", {"base-arm64v8": "failed"}, None, id="other-arch-failed"),
    pytest.param("grandchild-arm64v8", {"base-arm64v8": "failed"}, None,
                 id="only-the-direct-parent-counts"),
    pytest.param("sibling-arm32v7", {"child-arm32v7": "failed"}, None, id="sibling-failed"),
    pytest.param("base-amd64", {"lone-amd64": "failed"}, None, id="no-parent"),
    pytest.param("child-amd64", {}, None, id="nothing-failed"),
])
def test_blocked_by(plan: Plan, key: str, failed: dict[str, str], expected: str | None) -> None:
    assert blocked_by(plan.target(key), failed) == expected


def test_a_published_parent_never_blocks() -> None:
    plan = make_plan(FAMILY, images=["child"], build_parents=False)
    assert blocked_by(plan.target("child-amd64"), {"base-amd64": "failed"}) is None
