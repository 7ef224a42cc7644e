"""`xbuild qemu` and `xbuild doctor`: what this host can run."""

from __future__ import annotations

from collections.abc import Sequence

from xbuild.core.emulation import ArchStatus
from xbuild.core.matrix import Matrix
from xbuild.core.platforms import Arch
from xbuild.host import qemu
from xbuild.host.doctor import Row, diagnose
from xbuild.host.paths import cache_dir
from xbuild.output.console import Console
from xbuild.output.views import doctor_grid, qemu_grid
from xbuild.pipeline.tools import tools


def check_qemu(arches: Sequence[Arch], *, install: bool, console: Console) -> list[ArchStatus]:
    kit = tools(console)
    if install:
        for line in qemu.install(arches, kit.shell):
            console.say(line)
    statuses = qemu.check(arches, kit.docker, cache_dir(), kit.shell)
    console.grid(qemu_grid(statuses))
    return statuses


def doctor(matrix: Matrix, namespace: str | None, console: Console) -> list[Row]:
    kit = tools(console)
    rows = diagnose(matrix, namespace or matrix.namespace, kit.docker, kit.shell)
    console.grid(doctor_grid(rows))
    return rows
