"""Run reports to test with: a small plan (base, lone, child) and its results, every target
pushed and every list published but for the overrides a test gives."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from tests.unit.fakes import arch
from xbuild.core.imagespec import ImageSpec
from xbuild.core.matrix import Matrix
from xbuild.core.plan import ManifestList, Plan, make_plan
from xbuild.core.platforms import Arch
from xbuild.core.results import ListResult, ListStatus, RunReport, Status, TargetResult

AMD64, ARM32, ARM64 = arch("amd64"), arch("arm32v7"), arch("arm64v8")
RUN_DIR = Path("/runs/1")
DIGEST = "sha256:" + "cd" * 32
FAILED_RUN = 'process "/bin/sh -c false" did not complete successfully: exit code: 1'


def spec(name: str, parent: str | None = None,
         arches: Sequence[Arch] = (AMD64, ARM32, ARM64)) -> ImageSpec:
    context = Path("/ctx") / name
    return ImageSpec(name=name, context=context, dockerfile=context / "Dockerfile", parent=parent,
                     arches=tuple(arches), args=(), arch_args=())


PLAN: Plan = make_plan(Matrix(
    path=Path("/m/matrix.yml"), namespace="ns", tag="t", arches=(AMD64, ARM32, ARM64),
    images=(spec("base"), spec("lone", arches=(AMD64, ARM64)), spec("child", parent="base"))))
MANIFESTS = {m.image: m for m in PLAN.manifests}


def result(key: str, status: Status = Status.PUSHED, detail: str = "",
           seconds: float = 12.0) -> TargetResult:
    target = PLAN.target(key)
    built = status.ok
    return TargetResult(target=target, status=status, seconds=seconds if built else 0.0,
                        digest=DIGEST if built else "", detail=detail,
                        log=RUN_DIR / f"{key}.log" if status is not Status.SKIPPED else None)


def listed(image: str, status: ListStatus = ListStatus.PUBLISHED, detail: str = "") -> ListResult:
    manifest: ManifestList = MANIFESTS[image]
    every = tuple(str(a.platform) for a, _ in manifest.entries)
    return ListResult(manifest=manifest, status=status, detail=detail, platforms=every,
                      available=every)


def report(overrides: dict[str, TargetResult] | None = None,
           lists: dict[str, ListResult] | None = None, seconds: float = 61.0) -> RunReport:
    """Every target pushed and every list published, but for `overrides` and `lists`."""
    targets = {t.key: result(t.key) for t in PLAN.targets} | (overrides or {})
    manifests = {m.image: listed(m.image) for m in PLAN.manifests} | (lists or {})
    return RunReport(targets=tuple(targets[t.key] for t in PLAN.targets),
                     lists=tuple(manifests.values()), run_dir=RUN_DIR, seconds=seconds)


BASE_ARM64_FAILED = {
    "base-arm64v8": result("base-arm64v8", Status.FAILED, FAILED_RUN),
    "child-arm64v8": result("child-arm64v8", Status.SKIPPED, "parent base x arm64v8 failed"),
}
WITHHELD = {image: listed(image, ListStatus.WITHHELD, "not published: no arm64v8")
            for image in ("base", "child")}
ALL_FAILED = {t.key: result(t.key, Status.FAILED, "boom") for t in PLAN.targets}
