"""RunReport: its exit code and its record (summary.json); the one exit-code function."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.unit.reports import (
    ALL_FAILED,
    BASE_ARM64_FAILED,
    FAILED_RUN,
    PLAN,
    RUN_DIR,
    WITHHELD,
    listed,
    report,
    result,
)
from xbuild.core.errors import ExitCode, exit_code
from xbuild.core.results import (
    ListResult,
    ListStatus,
    RunReport,
    Status,
    TargetResult,
    list_outcomes,
    push_outcomes,
)


@pytest.mark.parametrize(("targets", "lists", "code"), [
    pytest.param({}, {}, ExitCode.OK, id="all-ok"),
    pytest.param({t.key: result(t.key, Status.BUILT) for t in PLAN.targets}, {}, ExitCode.OK,
                 id="built-not-pushed"),
    pytest.param({t.key: result(t.key, Status.DRY_RUN) for t in PLAN.targets},
                 {m.image: listed(m.image, ListStatus.DRY_RUN) for m in PLAN.manifests},
                 ExitCode.OK, id="dry-run"),
    pytest.param(BASE_ARM64_FAILED, WITHHELD, ExitCode.PARTIAL, id="one-failed"),
    pytest.param({"lone-amd64": result("lone-amd64", Status.SKIPPED, "why")}, {},
                 ExitCode.PARTIAL, id="one-skipped"),
    pytest.param({}, {"lone": listed("lone", ListStatus.FAILED, "401")}, ExitCode.PARTIAL,
                 id="list-failed"),
    pytest.param({}, {"lone": listed("lone", ListStatus.PARTIAL, "without x")},
                 ExitCode.PARTIAL, id="list-partial"),
    pytest.param({}, {"lone": listed("lone", ListStatus.WITHHELD, "no x")}, ExitCode.PARTIAL,
                 id="list-withheld"),
    pytest.param(ALL_FAILED, {m.image: listed(m.image, ListStatus.WITHHELD)
                              for m in PLAN.manifests}, ExitCode.FAILED, id="all-failed"),
    pytest.param({**ALL_FAILED, "child-amd64": result("child-amd64", Status.SKIPPED)},
                 {m.image: listed(m.image, ListStatus.WITHHELD) for m in PLAN.manifests},
                 ExitCode.FAILED, id="all-failed-or-skipped"),
])
def test_exit_code(targets: dict[str, TargetResult], lists: dict[str, ListResult],
                   code: ExitCode) -> None:
    assert report(targets, lists).exit_code == code


def test_exit_code_without_lists() -> None:
    assert RunReport(targets=report().targets, lists=(), run_dir=RUN_DIR,
                     seconds=1.0).exit_code == ExitCode.OK


def strings(data: Any) -> Iterator[str]:
    if isinstance(data, str):
        yield data
    elif isinstance(data, dict):
        for value in data.values():
            yield from strings(value)
    elif isinstance(data, list):
        for value in data:
            yield from strings(value)


def test_as_dict_is_json(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    base = report(BASE_ARM64_FAILED, WITHHELD, seconds=61.26)
    logged = RunReport(targets=tuple(
        TargetResult(target=r.target, status=r.status, seconds=r.seconds, digest=r.digest,
                     detail=r.detail, log=run_dir / f"{r.target.key}.log" if r.log else None)
        for r in base.targets), lists=base.lists, run_dir=run_dir, seconds=base.seconds)
    data = logged.as_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["exit_code"] == 5
    assert data["seconds"] == 61.3
    assert data["run_dir"] == str(run_dir)
    given = {str(run_dir)} | {str(run_dir / f"{t.key}.log") for t in PLAN.targets}
    absolute = {s for s in strings(data) if s.startswith("/") or str(tmp_path) in s}
    assert absolute <= given
    assert [t["tag"] for t in data["targets"]] == [str(t.ref) for t in PLAN.targets]
    failed = next(t for t in data["targets"] if t["status"] == "failed")
    assert failed == {"image": "base", "arch": "arm64v8", "tag": "ns/base:t-arm64v8",
                      "status": "failed", "seconds": 0.0, "digest": "", "node": "",
                      "detail": FAILED_RUN, "log": str(run_dir / "base-arm64v8.log")}
    skipped = next(t for t in data["targets"] if t["status"] == "skipped")
    assert skipped["log"] is None
    assert {entry["image"]: entry["status"] for entry in data["lists"]} == {
        "base": "withheld", "lone": "published", "child": "withheld"}
    lone = next(entry for entry in data["lists"] if entry["image"] == "lone")
    assert lone == {"image": "lone", "ref": "ns/lone:t", "status": "published",
                    "platforms": ["linux/amd64", "linux/arm64/v8"], "detail": "",
                    "seconds": 0.0}




@pytest.mark.parametrize(("outcomes", "lied", "code"), [
    pytest.param([True, True], False, ExitCode.OK, id="all"),
    pytest.param([], False, ExitCode.OK, id="nothing-to-judge"),
    pytest.param([True, False], False, ExitCode.PARTIAL, id="some"),
    pytest.param([False, False], False, ExitCode.FAILED, id="none"),
    pytest.param([True, True], True, ExitCode.VERIFY, id="a-lie"),
    pytest.param([True, False], True, ExitCode.VERIFY, id="a-lie-outranks-a-failure"),
])
def test_the_one_exit_code_function(outcomes: list[bool], lied: bool, code: ExitCode) -> None:
    assert exit_code(outcomes, lied=lied) == code


def test_a_failed_verification_gives_exit_7_even_when_a_target_failed() -> None:
    from dataclasses import replace
    assert replace(report(BASE_ARM64_FAILED, WITHHELD), verified=False).exit_code == 7


def test_push_outcomes_count_each_arch_image_and_each_list() -> None:
    lone = listed("lone")  # published over amd64 and arm64v8
    withheld = ListResult(manifest=listed("base").manifest, status=ListStatus.WITHHELD,
                          available=("linux/amd64", "linux/arm/v7"))
    failed = ListResult(manifest=listed("child").manifest, status=ListStatus.FAILED,
                        available=("linux/amd64", "linux/arm/v7", "linux/arm64/v8"))
    assert push_outcomes([lone, withheld, failed]) == [
        True, True, True,  # lone: both images, and the list
        True, True, False, False,  # base: no arm64 image, so no list
        True, True, True, False]  # child: every image, but the list failed


@pytest.mark.parametrize(("statuses", "code"), [
    pytest.param([ListStatus.PUBLISHED, ListStatus.PUBLISHED], ExitCode.OK, id="all"),
    pytest.param([ListStatus.PUBLISHED, ListStatus.WITHHELD], ExitCode.PARTIAL, id="some"),
    pytest.param([ListStatus.PARTIAL], ExitCode.PARTIAL, id="a-partial-list"),
    pytest.param([ListStatus.WITHHELD, ListStatus.FAILED], ExitCode.FAILED, id="none"),
])
def test_list_outcomes_say_what_the_merge_step_published(statuses: list[ListStatus],
                                                         code: ExitCode) -> None:
    results = [ListResult(manifest=listed("lone").manifest, status=s) for s in statuses]
    assert exit_code(list_outcomes(results)) == code
