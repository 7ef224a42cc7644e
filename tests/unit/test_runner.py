"""run_plan with a fake engine: order, named contexts, failures, lists, exit codes, logs."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import Any

import pytest

from tests.unit.fakes import (
    RUN_FAILURE,
    FakeEngine,
    RecordingReporter,
    arch,
    digest_for,
    run_folder,
    run_guarded,
)
from xbuild.core.buildspec import Pairs, Provenance
from xbuild.core.errors import ExitCode
from xbuild.core.matrix import Matrix, load_matrix
from xbuild.core.plan import Plan, make_plan
from xbuild.core.platforms import Arch
from xbuild.core.results import ListStatus, RunReport, Status
from xbuild.core.settings import BuildSettings
from xbuild.engine.runner import RunOptions

WriteMatrix = Callable[..., Path]  # the write_matrix fixture: (doc, **options) -> Path

AMD64, ARM32, ARM64 = arch("amd64"), arch("arm32v7"), arch("arm64v8")
CREATED = "2026-01-01T00:00:00Z"
PROVENANCE = Provenance(created=CREATED)
FAILED_RUN = 'process "/bin/sh -c false" did not complete successfully: exit code: 1'

# base -> child -> grandchild on three arches; lone on two, with no family.
FAMILY: dict[str, Any] = {
    "namespace": "ns",
    "tag": "t",
    "architectures": ["amd64", "arm32v7", "arm64v8"],
    "images": {
        "base": {"context": "base", "args": {"A": "common", "B": 2},
                 "arch_args": {"arm64v8": {"A": "arm"}}},
        "child": {"context": "child", "from": "base"},
        "grandchild": {"context": "grandchild", "from": "child"},
        "lone": {"context": "lone", "architectures": ["amd64", "arm64v8"]},
    },
}
# base -> child on a native and an emulated arch.
PAIR: dict[str, Any] = {
    "namespace": "ns",
    "tag": "t",
    "architectures": ["amd64", "arm64v8"],
    "images": {"base": {"context": "base"}, "child": {"context": "child", "from": "base"}},
}
# Two independent images, each on a native and an emulated arch.
TWO: dict[str, Any] = {
    "namespace": "ns",
    "tag": "t",
    "architectures": ["amd64", "arm64v8"],
    "images": {"one": {"context": "one"}, "two": {"context": "two"}},
}
DOCS = {"family": FAMILY, "pair": PAIR, "two": TWO}


@pytest.fixture
def load(write_matrix: WriteMatrix) -> Callable[[str], Matrix]:
    def load_doc(name: str) -> Matrix:
        return load_matrix(write_matrix(DOCS[name], name=f"{name}.yml"))

    return load_doc


def options(tmp_path: Path, *, push: bool = True, jobs: int = 2, allow_partial: bool = False,
            native: tuple[Arch, ...] = (AMD64,), provenance: Provenance = PROVENANCE,
            base_contexts: Mapping[str, Pairs] | None = None,
            dry_run: bool = False) -> RunOptions:
    settings = BuildSettings(push=push, dry_run=dry_run, jobs=jobs, allow_partial=allow_partial)
    return RunOptions(settings=settings, logs=run_folder(tmp_path), provenance=provenance,
                      native=native, base_contexts=base_contexts or {})


def run(plan: Plan, tmp_path: Path, *, fail: Collection[str] = (),
        fail_lists: Collection[str] = (), dry_run: bool = False, delay: float = 0.0,
        **kwargs: Any) -> tuple[RunReport, FakeEngine, RecordingReporter]:
    engine = FakeEngine(fail=fail, fail_lists=fail_lists, delay=delay)
    reporter = RecordingReporter()
    report = run_guarded(plan, engine, reporter, options(tmp_path, dry_run=dry_run, **kwargs))
    return report, engine, reporter


def statuses(report: RunReport) -> dict[str, Status]:
    return {r.target.key: r.status for r in report.targets}


def list_statuses(report: RunReport) -> dict[str, ListStatus]:
    return {r.manifest.image: r.status for r in report.lists}


def contexts(engine: FakeEngine, key: str) -> dict[str, str]:
    return dict(engine.request(key).contexts)


JOBS = [pytest.param(1, id="jobs1"), pytest.param(2, id="jobs2"), pytest.param(4, id="jobs4")]
PUSH = [pytest.param(True, id="push"), pytest.param(False, id="load")]


# --- order -------------------------------------------------------------------------------


@pytest.mark.parametrize("push", PUSH)
@pytest.mark.parametrize("jobs", JOBS)
def test_parents_finish_before_their_children_start(load: Callable[[str], Matrix],
                                                    tmp_path: Path, jobs: int,
                                                    push: bool) -> None:
    plan = make_plan(load("family"))
    _, engine, _ = run(plan, tmp_path, jobs=jobs, push=push, delay=0.005)
    assert sorted(engine.built_keys) == sorted(t.key for t in plan.targets)
    position = {event: i for i, event in enumerate(engine.events)}
    for target in plan.targets:
        parent = plan.parent_of(target)
        if parent is not None:
            assert parent.arch == target.arch
            assert position["end", parent.key] < position["start", target.key], target.key


@pytest.mark.parametrize(("native", "first"), [
    pytest.param((AMD64,), "two-arm64v8", id="amd64-host"),
    pytest.param((ARM64,), "two-amd64", id="arm64-host"),
])
def test_emulated_target_starts_before_a_native_one(load: Callable[[str], Matrix],
                                                    tmp_path: Path, native: tuple[Arch, ...],
                                                    first: str) -> None:
    plan = make_plan(load("two"), images=["two"])
    assert plan.targets[0].key == "two-amd64"  # plan order puts the native arch first
    _, _, reporter = run(plan, tmp_path, jobs=1, native=native)
    assert reporter.started_keys[0] == first


def test_longest_chain_starts_first(load: Callable[[str], Matrix], tmp_path: Path) -> None:
    _, _, reporter = run(make_plan(load("family")), tmp_path, jobs=1, native=(AMD64,))
    # Two emulated three-image chains (weight 30) come before everything else.
    assert reporter.started_keys[:2] == ["base-arm32v7", "base-arm64v8"]
    assert reporter.started_keys.index("lone-arm64v8") < reporter.started_keys.index("base-amd64")


def test_dry_run_builds_one_at_a_time(load: Callable[[str], Matrix], tmp_path: Path) -> None:
    _, engine, _ = run(make_plan(load("two")), tmp_path, jobs=4, dry_run=True, delay=0.005)
    assert [what for what, _ in engine.events] == ["start", "end"] * 4


# --- every target ends once --------------------------------------------------------------


@pytest.mark.parametrize("fail", [
    pytest.param((), id="all-ok"),
    pytest.param(("base-arm64v8",), id="one-parent-fails"),
    pytest.param(("base-amd64", "base-arm32v7", "base-arm64v8", "lone-amd64", "lone-arm64v8"),
                 id="everything-fails"),
    pytest.param(("grandchild-amd64", "lone-arm64v8"), id="leaves-fail"),
])
@pytest.mark.parametrize("push", PUSH)
@pytest.mark.parametrize("jobs", JOBS)
def test_every_target_ends_with_exactly_one_result(load: Callable[[str], Matrix],
                                                   tmp_path: Path, jobs: int, push: bool,
                                                   fail: tuple[str, ...]) -> None:
    plan = make_plan(load("family"))
    report, engine, reporter = run(plan, tmp_path, jobs=jobs, push=push, fail=fail)
    keys = [t.key for t in plan.targets]
    assert [r.target.key for r in report.targets] == keys
    assert Counter(r.target.key for r in reporter.results) == Counter(keys)
    assert Counter(engine.built_keys) == Counter(reporter.started_keys)
    assert len(set(engine.built_keys)) == len(engine.built_keys)
    skipped = {k for k, s in statuses(report).items() if s is Status.SKIPPED}
    assert skipped.isdisjoint(engine.built_keys)
    assert skipped | set(engine.built_keys) == set(keys)


# --- named contexts ----------------------------------------------------------------------


@pytest.mark.parametrize("namespace", [
    pytest.param(None, id="matrix-namespace"),
    pytest.param("127.0.0.1:5000/team", id="registry-with-port"),
])
@pytest.mark.parametrize("target_arch", [AMD64, ARM32, ARM64], ids=lambda a: a.name)
def test_child_context_is_the_parent_digest_when_pushing(load: Callable[[str], Matrix],
                                                         tmp_path: Path, target_arch: Arch,
                                                         namespace: str | None) -> None:
    plan = make_plan(load("family"), namespace=namespace)
    ns = namespace or "ns"
    _, engine, _ = run(plan, tmp_path, push=True)
    a = target_arch.name
    assert contexts(engine, f"child-{a}") == {
        "ns/base:t": f"docker-image://{ns}/base@{digest_for(f'{ns}/base:staging-t-{a}')}"}
    assert contexts(engine, f"grandchild-{a}") == {
        "ns/child:t": f"docker-image://{ns}/child@{digest_for(f'{ns}/child:staging-t-{a}')}"}
    assert contexts(engine, f"base-{a}") == {}


@pytest.mark.parametrize("target_arch", [AMD64, ARM32, ARM64], ids=lambda a: a.name)
def test_child_context_is_the_parent_tag_when_not_pushing(load: Callable[[str], Matrix],
                                                          tmp_path: Path,
                                                          target_arch: Arch) -> None:
    plan = make_plan(load("family"), tag="v2")
    _, engine, _ = run(plan, tmp_path, push=False)
    a = target_arch.name
    # The key is how the Dockerfile names the parent: the matrix tag, not --tag.
    assert contexts(engine, f"child-{a}") == {"ns/base:t": f"docker-image://ns/base:v2-{a}"}
    assert contexts(engine, f"grandchild-{a}") == {
        "ns/child:t": f"docker-image://ns/child:v2-{a}"}


@pytest.mark.parametrize("push", PUSH)
def test_published_parent_is_taken_from_its_per_arch_tag(load: Callable[[str], Matrix],
                                                         tmp_path: Path, push: bool) -> None:
    plan = make_plan(load("family"), images=["grandchild"], build_parents=False, tag="v1")
    report, engine, _ = run(plan, tmp_path, push=push)
    assert sorted(engine.built_keys) == ["grandchild-amd64", "grandchild-arm32v7",
                                         "grandchild-arm64v8"]
    for a in ("amd64", "arm32v7", "arm64v8"):
        assert contexts(engine, f"grandchild-{a}") == {
            "ns/child:t": f"docker-image://ns/child:v1-{a}"}
    assert report.exit_code == ExitCode.OK


def test_base_contexts_reach_the_requests_of_their_arch(load: Callable[[str], Matrix],
                                                        tmp_path: Path) -> None:
    base = "debian:bookworm-slim"
    per_arch = {"amd64": ((base, "docker-image://ns/debian:bookworm-slim-amd64"),),
                "arm64v8": ((base, "docker-image://ns/debian:bookworm-slim-arm64v8"),)}
    _, engine, _ = run(make_plan(load("pair")), tmp_path, base_contexts=per_arch)
    for a in ("amd64", "arm64v8"):
        assert contexts(engine, f"base-{a}") == dict(per_arch[a])
        assert contexts(engine, f"child-{a}") == {
            **dict(per_arch[a]),
            "ns/base:t": f"docker-image://ns/base@{digest_for(f'ns/base:staging-t-{a}')}"}


def test_an_arch_without_base_contexts_gets_none(load: Callable[[str], Matrix],
                                                 tmp_path: Path) -> None:
    per_arch = {"arm64v8": (("debian:bookworm-slim", "docker-image://x/debian:b-arm64v8"),)}
    _, engine, _ = run(make_plan(load("pair")), tmp_path, base_contexts=per_arch)
    assert contexts(engine, "base-amd64") == {}
    assert contexts(engine, "base-arm64v8") == dict(per_arch["arm64v8"])


# --- what each request carries -----------------------------------------------------------


@pytest.mark.parametrize(("key", "args"), [
    pytest.param("base-amd64", {"A": "common", "B": "2"}, id="common"),
    pytest.param("base-arm32v7", {"A": "common", "B": "2"}, id="common-arm32v7"),
    pytest.param("base-arm64v8", {"A": "arm", "B": "2"}, id="arch-override"),
    pytest.param("child-arm64v8", {}, id="child-has-none"),
])
def test_per_arch_build_args_reach_the_request(load: Callable[[str], Matrix], tmp_path: Path,
                                               key: str, args: dict[str, str]) -> None:
    _, engine, _ = run(make_plan(load("family")), tmp_path)
    assert dict(engine.request(key).build_args) == args


@pytest.mark.parametrize("push", PUSH)
def test_request_names_platform_tag_and_push(load: Callable[[str], Matrix], tmp_path: Path,
                                             push: bool) -> None:
    plan = make_plan(load("family"))
    _, engine, _ = run(plan, tmp_path, push=push)
    for target in plan.targets:
        request = engine.request(target.key)
        assert (request.platform, request.tag, request.push) == (
            target.arch.platform, target.staging_ref if push else target.ref, push)
        assert (request.context, request.dockerfile) == (target.context, target.dockerfile)


@pytest.mark.parametrize(("provenance", "extra"), [
    pytest.param(PROVENANCE, {}, id="no-git"),
    pytest.param(Provenance(created=CREATED, revision="abc123",
                            source="https://github.com/o/r"),
                 {"org.opencontainers.image.revision": "abc123",
                  "org.opencontainers.image.source": "https://github.com/o/r"}, id="git"),
])
def test_labels(load: Callable[[str], Matrix], tmp_path: Path, provenance: Provenance,
                extra: dict[str, str]) -> None:
    plan = make_plan(load("family"), tag="v3")
    _, engine, _ = run(plan, tmp_path, provenance=provenance)
    for target in plan.targets:
        assert dict(engine.request(target.key).labels) == {
            "architecture": target.arch.name,
            "org.opencontainers.image.created": CREATED,
            "org.opencontainers.image.title": target.image,
            "org.opencontainers.image.version": "v3",
            "org.opencontainers.image.description": "",
            **extra,
        }


# --- results, logs -----------------------------------------------------------------------


@pytest.mark.parametrize(("push", "status"), [
    pytest.param(True, Status.PUSHED, id="push"), pytest.param(False, Status.BUILT, id="load")])
def test_success_status_and_digest(load: Callable[[str], Matrix], tmp_path: Path, push: bool,
                                   status: Status) -> None:
    plan = make_plan(load("family"))
    report, _, _ = run(plan, tmp_path, push=push)
    for result in report.targets:
        assert result.status is status
        pushed_to = result.target.staging_ref if push else result.target.ref
        assert result.digest == digest_for(str(pushed_to))
        assert result.detail == ""


@pytest.mark.parametrize("fail", [pytest.param((), id="all-ok"),
                                  pytest.param(("base-arm32v7",), id="one-fails")])
def test_a_log_file_per_target(load: Callable[[str], Matrix], tmp_path: Path,
                               fail: tuple[str, ...]) -> None:
    plan = make_plan(load("family"))
    report, _, _ = run(plan, tmp_path, fail=fail)
    run_dir = tmp_path / "run"
    assert report.run_dir == run_dir
    for result in report.targets:
        if result.status is Status.SKIPPED:
            continue
        assert result.log == run_dir / f"{result.target.key}.log"
        assert result.log.is_file()
        text = result.log.read_text(encoding="utf-8")
        assert f"#1 building {result.target.staging_ref}" in text
        assert (RUN_FAILURE in text) == (result.status is Status.FAILED)


def test_reporter_hears_lines_of_each_build(load: Callable[[str], Matrix],
                                            tmp_path: Path) -> None:
    plan = make_plan(load("pair"))
    _, _, reporter = run(plan, tmp_path)
    assert sorted(reporter.lines) == sorted(
        (t.key, f"#1 building {t.staging_ref} for {t.arch.platform}") for t in plan.targets)


# --- failures ----------------------------------------------------------------------------


@pytest.mark.parametrize("jobs", JOBS)
def test_failed_parent_skips_only_its_own_dependents(load: Callable[[str], Matrix],
                                                     tmp_path: Path, jobs: int) -> None:
    plan = make_plan(load("family"))
    report, engine, _ = run(plan, tmp_path, jobs=jobs, fail=("base-arm64v8",))
    assert statuses(report) == {
        **{t.key: Status.PUSHED for t in plan.targets},
        "base-arm64v8": Status.FAILED,
        "child-arm64v8": Status.SKIPPED,
        "grandchild-arm64v8": Status.SKIPPED,
    }
    details = {r.target.key: r.detail for r in report.targets if r.detail}
    assert details == {
        "base-arm64v8": FAILED_RUN,
        "child-arm64v8": "parent base x arm64v8 failed",
        "grandchild-arm64v8": "parent child x arm64v8 skipped",
    }
    assert "child-arm64v8" not in engine.built_keys
    assert "grandchild-arm64v8" not in engine.built_keys


def test_skipped_targets_are_never_started(load: Callable[[str], Matrix],
                                           tmp_path: Path) -> None:
    _, _, reporter = run(make_plan(load("family")), tmp_path, fail=("base-amd64",))
    assert "child-amd64" not in reporter.started_keys
    skipped = [r for r in reporter.results if r.status is Status.SKIPPED]
    assert sorted(r.target.key for r in skipped) == ["child-amd64", "grandchild-amd64"]
    assert all(r.log is None and r.digest == "" for r in skipped)


# --- manifest lists ----------------------------------------------------------------------


@pytest.mark.parametrize("jobs", JOBS)
def test_lists_over_exactly_the_image_arches_by_digest(load: Callable[[str], Matrix],
                                                       tmp_path: Path, jobs: int) -> None:
    plan = make_plan(load("family"), namespace="127.0.0.1:5000/team")
    report, engine, reporter = run(plan, tmp_path, jobs=jobs)
    assert sorted(engine.list_refs()) == sorted(str(m.ref) for m in plan.manifests)
    calls = {c.ref: c.sources for c in engine.lists}
    for manifest in plan.manifests:
        repo = f"127.0.0.1:5000/team/{manifest.image}"
        assert calls[str(manifest.ref)] == tuple(f"{repo}@{digest_for(str(ref.staging()))}"
                                                 for _, ref in manifest.entries)
    assert list_statuses(report) == {m.image: ListStatus.PUBLISHED for m in plan.manifests}
    published = {r.manifest.image: r.platforms for r in report.lists}
    assert published["lone"] == ("linux/amd64", "linux/arm64/v8")
    assert published["base"] == ("linux/amd64", "linux/arm/v7", "linux/arm64/v8")
    assert Counter(r.manifest.ref for r in reporter.list_results) == Counter(
        m.ref for m in plan.manifests)
    assert all((tmp_path / "run" / f"{m.image}-list.log").is_file() for m in plan.manifests)


def test_list_waits_for_its_own_arches_only(load: Callable[[str], Matrix],
                                            tmp_path: Path) -> None:
    """A list is created as soon as its image is done, not at the end of the run (each build
    takes a moment, so the list, in its own slot, is done before the last build is)."""
    plan = make_plan(load("family"))
    _, _, reporter = run(plan, tmp_path, jobs=1, delay=0.05)
    calls = reporter.calls
    last_build = max(i for i, (event, _) in enumerate(calls) if event == "finished")
    listed = {str(m.ref): calls.index(("list_finished", str(m.ref))) for m in plan.manifests}
    assert min(listed.values()) < last_build  # not held back to the end of the run
    for manifest in plan.manifests:
        own = [calls.index(("finished", t.key)) for t in plan.targets
               if t.image == manifest.image]
        assert max(own) < listed[str(manifest.ref)]


@pytest.mark.parametrize("dry_run", [pytest.param(False, id="real"),
                                     pytest.param(True, id="dry-run")])
def test_no_lists_without_push(load: Callable[[str], Matrix], tmp_path: Path,
                               dry_run: bool) -> None:
    report, engine, reporter = run(make_plan(load("family")), tmp_path, push=False,
                                   dry_run=dry_run)
    assert report.lists == ()
    assert engine.lists == []
    assert reporter.list_results == []


@pytest.mark.parametrize("jobs", JOBS)
def test_list_of_an_image_with_a_failed_arch_is_withheld(load: Callable[[str], Matrix],
                                                         tmp_path: Path, jobs: int) -> None:
    report, engine, _ = run(make_plan(load("family")), tmp_path, jobs=jobs,
                            fail=("base-arm64v8",), delay=0.01)
    assert list_statuses(report) == {"base": ListStatus.WITHHELD, "child": ListStatus.WITHHELD,
                                     "grandchild": ListStatus.WITHHELD,
                                     "lone": ListStatus.PUBLISHED}
    assert engine.list_refs() == ["ns/lone:t"]
    withheld = {r.manifest.image: r.detail for r in report.lists
                if r.status is ListStatus.WITHHELD}
    assert withheld == {image: "not published: no arm64v8; no tag moved"
                        for image in ("base", "child", "grandchild")}
    assert sorted(tag for tag, _ in engine.moved) == ["ns/lone:t-amd64", "ns/lone:t-arm64v8"]


# Scenarios whose failing target has dependents, run one at a time. In `pair` with an amd64
# host the order is base-arm64v8, child-arm64v8, base-amd64: the failure is the last build,
# and its dependent child-amd64 is skipped after it.
LIST_SCENARIOS = [
    pytest.param("family", ("base-arm64v8",), id="family-failure-mid-run"),
    pytest.param("family", ("base-amd64",), id="family-native-parent-fails"),
    pytest.param("pair", ("base-amd64",), id="pair-failure-is-the-last-build"),
    pytest.param("pair", ("child-amd64",), id="pair-leaf-fails-last"),
]


@pytest.mark.parametrize("allow_partial", [pytest.param(False, id="strict"),
                                           pytest.param(True, id="allow-partial")])
@pytest.mark.parametrize(("doc", "fail"), LIST_SCENARIOS)
def test_every_list_ends_with_exactly_one_result(load: Callable[[str], Matrix],
                                                 tmp_path: Path, doc: str,
                                                 fail: tuple[str, ...],
                                                 allow_partial: bool) -> None:
    plan = make_plan(load(doc))
    report, _, reporter = run(plan, tmp_path, jobs=1, fail=fail, allow_partial=allow_partial)
    assert sorted(r.manifest.ref for r in report.lists) == sorted(m.ref for m in plan.manifests)
    assert sorted(r.manifest.ref for r in reporter.list_results) == sorted(
        m.ref for m in plan.manifests)


@pytest.mark.parametrize("jobs", JOBS)
def test_allow_partial_publishes_the_good_arches(load: Callable[[str], Matrix],
                                                 tmp_path: Path, jobs: int) -> None:
    plan = make_plan(load("family"))
    report, engine, _ = run(plan, tmp_path, jobs=jobs, fail=("base-arm64v8",),
                            allow_partial=True, delay=0.01)
    lists = {r.manifest.image: r for r in report.lists}
    for image in ("base", "child", "grandchild"):
        assert lists[image].status is ListStatus.PARTIAL
        assert lists[image].platforms == ("linux/amd64", "linux/arm/v7")
        assert lists[image].detail == "--allow-partial: without arm64v8"
    calls = {c.ref: c.sources for c in engine.lists}
    assert calls["ns/base:t"] == tuple(f"ns/base@{digest_for(f'ns/base:staging-t-{a}')}"
                                       for a in ("amd64", "arm32v7"))
    assert lists["lone"].status is ListStatus.PUBLISHED
    assert report.exit_code == ExitCode.PARTIAL


def test_allow_partial_withholds_a_list_with_no_good_arch(load: Callable[[str], Matrix],
                                                          tmp_path: Path) -> None:
    report, engine, _ = run(make_plan(load("two")), tmp_path, fail=("one-amd64", "one-arm64v8"),
                            allow_partial=True)
    assert list_statuses(report) == {"one": ListStatus.WITHHELD, "two": ListStatus.PUBLISHED}
    assert engine.list_refs() == ["ns/two:t"]


def test_failed_list_creation(load: Callable[[str], Matrix], tmp_path: Path) -> None:
    report, _, _ = run(make_plan(load("two")), tmp_path, fail_lists=("ns/one:t",))
    lists = {r.manifest.image: r for r in report.lists}
    assert lists["one"].status is ListStatus.FAILED
    assert lists["one"].detail == "failed to push: 401 Unauthorized"
    assert lists["two"].status is ListStatus.PUBLISHED
    assert all(r.status is Status.PUSHED for r in report.targets)
    assert report.exit_code == ExitCode.PARTIAL


# --- exit codes, dry run -----------------------------------------------------------------


@pytest.mark.parametrize(("failures", "code"), [
    pytest.param(((), ()), ExitCode.OK, id="all-ok"),
    pytest.param((("lone-amd64",), ()), ExitCode.PARTIAL, id="one-target-fails"),
    pytest.param((("base-arm32v7",), ()), ExitCode.PARTIAL, id="parent-fails"),
    pytest.param(((), ("ns/lone:t",)), ExitCode.PARTIAL, id="one-list-fails"),
    pytest.param((("base-amd64", "base-arm32v7", "base-arm64v8", "lone-amd64", "lone-arm64v8"),
                  ()), ExitCode.FAILED, id="all-fail-or-skipped"),
])
@pytest.mark.parametrize("push", PUSH)
def test_exit_code(load: Callable[[str], Matrix], tmp_path: Path, push: bool,
                   failures: tuple[tuple[str, ...], tuple[str, ...]], code: ExitCode) -> None:
    fail, fail_lists = failures
    if fail_lists and not push:
        code = ExitCode.OK  # no list is made without --push
    report, _, _ = run(make_plan(load("family")), tmp_path, push=push, fail=fail,
                       fail_lists=fail_lists)
    assert report.exit_code == code
    assert int(report.exit_code) == {ExitCode.OK: 0, ExitCode.PARTIAL: 5, ExitCode.FAILED: 6}[code]


@pytest.mark.parametrize("push", PUSH)
def test_dry_run(load: Callable[[str], Matrix], tmp_path: Path, push: bool) -> None:
    plan = make_plan(load("family"))
    report, engine, _ = run(plan, tmp_path, push=push, dry_run=True)
    assert set(statuses(report).values()) == {Status.DRY_RUN}
    assert sorted(engine.built_keys) == sorted(t.key for t in plan.targets)
    if push:
        assert list_statuses(report) == {m.image: ListStatus.DRY_RUN for m in plan.manifests}
        assert all(r.platforms for r in report.lists)
    else:
        assert report.lists == ()
    assert report.exit_code == ExitCode.OK


def test_partial_list_of_a_child_skipped_after_the_last_build(load: Callable[[str], Matrix],
                                                              tmp_path: Path) -> None:
    """One at a time on an amd64 host: base-arm64v8, child-arm64v8, then base-amd64 fails.

    child-amd64 is skipped only after that last build; child's list must still be made.
    """
    plan = make_plan(load("pair"))
    report, engine, reporter = run(plan, tmp_path, jobs=1, fail=("base-amd64",),
                                   allow_partial=True)
    assert reporter.started_keys == ["base-arm64v8", "child-arm64v8", "base-amd64"]
    lists = {r.manifest.image: r for r in report.lists}
    assert lists["base"].status is ListStatus.PARTIAL
    assert lists["child"].status is ListStatus.PARTIAL
    assert lists["child"].platforms == ("linux/arm64/v8",)
    assert "ns/child:t" in engine.list_refs()
