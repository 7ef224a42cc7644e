"""Which GitHub Actions runner builds each arch, and how the arch builds there. Pure.

Only runners that exist in 2026: amd64 on `ubuntu-24.04` (hosted) or a self-hosted `X64`;
arm64v8 on `ubuntu-24.04-arm` (hosted) or a self-hosted `ARM64`; arm32v7 on an ARM64 runner
(natively where the CPU has AArch32, else under QEMU), on an X64 runner under QEMU, or on any
runner whose matrix.yml `builders:` sends it to a docker context. Never on a 32-bit runner:
GitHub's runner dropped Linux ARM32 after 2026-09-16, and current actions run on Node 24,
which has no ARMv7 build. Arches that share a runner share one job.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from xbuild.core.emulation import may_run_directly
from xbuild.core.errors import SelectionError
from xbuild.core.nodes import DEFAULT, NodeMap
from xbuild.core.platforms import Arch, UnknownArch, arch_named, parse_arch, sort_key
from xbuild.core.text import quoted

HOSTED = {"amd64": ("ubuntu-24.04",), "arm64v8": ("ubuntu-24.04-arm",),
          "arm32v7": ("ubuntu-24.04-arm",)}
SELF_HOSTED = {"amd64": ("self-hosted", "linux", "X64"),
               "arm64v8": ("self-hosted", "linux", "ARM64"),
               "arm32v7": ("self-hosted", "linux", "ARM64")}
RUNNER_FORM = "ARCH=LABEL[,LABEL...], e.g. arm64v8=self-hosted,linux,ARM64"
_LABEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
# The CPU a label promises (GitHub compares labels case-insensitively).
_CPU_LABELS = {"x64": "amd64", "arm64": "arm64v8"}
_HOSTED_ARM = re.compile(r"ubuntu-[\w.]+-arm")
_HOSTED_X64 = re.compile(r"ubuntu-[\w.]+")
_WHY_NOT_32 = ("a 32-bit ARM runner cannot run the job: GitHub's runner dropped Linux ARM32 after "
               "2026-09-16 and Node 24 (every current action) has no ARMv7 build; build arm32v7 "
               "on an ARM64 runner (the default), under QEMU on X64, or on a docker context to "
               "a 32-bit board (matrix.yml builders:)")


@dataclass(frozen=True, slots=True, kw_only=True)
class Runner:
    labels: tuple[str, ...]
    cpu: Arch  # what the runner's own CPU is


@dataclass(frozen=True, slots=True, kw_only=True)
class Placement:
    """An arch on its runner: natively, under QEMU, or on a node that matrix.yml names."""

    arch: Arch
    runner: Runner
    node: str = DEFAULT  # matrix.yml's builders entry for the arch

    @property
    def how(self) -> str:
        if self.node != DEFAULT:
            return f"on docker context or builder {self.node} (matrix.yml builders)"
        if self.arch == self.runner.cpu:
            return "native"
        if may_run_directly(self.arch, self.runner.cpu):
            return "native where the CPU runs it (AArch32), else QEMU: the probe says which"
        return "under QEMU"


@dataclass(frozen=True, slots=True, kw_only=True)
class BuildJob:
    """The arches one runner builds in one job; the runner's own arch first."""

    runner: Runner
    placements: tuple[Placement, ...]

    @property
    def id(self) -> str:
        return "build-" + "-".join(p.arch.name for p in self.placements)

    @property
    def arches(self) -> tuple[Arch, ...]:
        return tuple(p.arch for p in self.placements)


def build_jobs(arches: Sequence[Arch], values: Sequence[str], *, hosted: bool,
               builders: NodeMap) -> tuple[BuildJob, ...]:
    """The jobs for `arches` (table order), given `--runner` values and `--hosted`."""
    given = parse_runners(values, arches)
    runners = {arch.name: given.get(arch.name) or _default(arch, given, hosted=hosted)
               for arch in arches}
    groups: dict[tuple[str, ...], list[Placement]] = {}
    for arch in arches:
        runner = runners[arch.name]
        groups.setdefault(runner.labels, []).append(
            Placement(arch=arch, runner=runner, node=builders.node_for(arch).name))
    return tuple(BuildJob(runner=group[0].runner,
                          placements=tuple(sorted(group, key=lambda p: (
                              p.arch != p.runner.cpu, sort_key(p.arch)))))
                 for group in groups.values())


def _default(arch: Arch, given: dict[str, Runner], *, hosted: bool) -> Runner:
    """An arch's runner when none is given: arm32v7 goes along with arm64v8's given runner."""
    if arch.name == "arm32v7" and "arm64v8" in given:
        return given["arm64v8"]
    table = HOSTED if hosted else SELF_HOSTED
    if arch.name not in table:
        raise SelectionError(f"{arch.name} has no default runner: pass --runner "
                             f"{arch.name}=LABEL[,LABEL...]")
    return Runner(labels=table[arch.name], cpu=_cpu(table[arch.name], arch, "") or arch)


def parse_runners(values: Sequence[str], arches: Sequence[Arch]) -> dict[str, Runner]:
    """`--runner ARCH=LABEL,LABEL` values -> arch name -> runner; each arch once, each one
    the matrix builds."""
    given: dict[str, Runner] = {}
    for value in values:
        arch, labels = _runner(value, arches)
        if arch.name in given:
            raise SelectionError(f"--runner {quoted(value)}: {arch.name} is given twice")
        cpu = _cpu(labels, arch, value)
        if cpu is None:  # only arm32v7 can leave its runner's CPU unsaid: it must not
            raise SelectionError(f"--runner {quoted(value)}: name the runner's CPU with ARM64 "
                                 f"or X64 (or a hosted image): {_WHY_NOT_32}")
        given[arch.name] = Runner(labels=labels, cpu=cpu)
    return given


def _runner(value: str, arches: Sequence[Arch]) -> tuple[Arch, tuple[str, ...]]:
    name, sep, rest = value.partition("=")
    if not sep or not name or not rest:
        raise SelectionError(f"--runner {quoted(value)}: expected {RUNNER_FORM}")
    try:
        arch = parse_arch(name)
    except UnknownArch as exc:
        raise SelectionError(f"--runner {quoted(value)}: {exc}") from None
    if arch not in arches:
        raise SelectionError(f"--runner {quoted(value)}: the matrix builds nothing for "
                             f"{arch.name} (its arches: {', '.join(a.name for a in arches)})")
    labels = tuple(rest.split(","))
    bad = next((label for label in labels if not _LABEL.fullmatch(label)), None)
    if bad is not None:
        raise SelectionError(f"--runner {quoted(value)}: {quoted(bad)} is not a runner label "
                             "(letters, digits, . _ -)")
    return arch, labels


def _cpu(labels: tuple[str, ...], arch: Arch, value: str) -> Arch | None:
    """The runner's CPU as its labels say it; without a CPU label, the arch it builds (but not
    for arm32v7: None). A 32-bit ARM label is refused."""
    cpus = set()
    for label in (label.lower() for label in labels):
        if label == "arm":
            raise SelectionError(f"--runner {quoted(value)}: {_WHY_NOT_32}")
        if label in _CPU_LABELS:
            cpus.add(_CPU_LABELS[label])
        elif _HOSTED_ARM.fullmatch(label):
            cpus.add("arm64v8")
        elif _HOSTED_X64.fullmatch(label):
            cpus.add("amd64")
    if len(cpus) > 1:
        raise SelectionError(f"--runner {quoted(value)}: its labels name two CPUs "
                             f"({', '.join(sorted(cpus))})")
    if cpus:
        return arch_named(cpus.pop())
    return None if arch.name == "arm32v7" else arch
