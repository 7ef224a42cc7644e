"""`xbuild qemu` and `xbuild doctor`: what this host can run."""

from __future__ import annotations

from collections.abc import Sequence

from xbuild.core.emulation import ArchStatus
from xbuild.core.matrix import Matrix
from xbuild.core.nodes import NodeMap
from xbuild.core.platforms import Arch
from xbuild.host import qemu
from xbuild.host.doctor import Row, diagnose
from xbuild.output.console import Console
from xbuild.output.views import doctor_grid, qemu_grid
from xbuild.pipeline.tools import tools


def check_qemu(arches: Sequence[Arch], nodes: NodeMap, *, install: bool,
               console: Console) -> list[ArchStatus]:
    """Each arch on the node that builds it: a probe container runs there."""
    kit = tools(console)
    if install:
        for line in qemu.install(arches, kit.shell):
            console.say(line)
    statuses: list[ArchStatus] = []
    for node in nodes.nodes(arches):
        docker = kit.engines.on(node.name)
        found = qemu.check_node(node.name, nodes.arches_on(node, arches), docker,
                                native=docker.native_platforms(), cache=kit.cache,
                                shell=kit.shell)
        console.grid(qemu_grid(found, str(node)))
        statuses += found
    return statuses


def doctor(matrix: Matrix, namespace: str | None, nodes: NodeMap,
           console: Console) -> list[Row]:
    kit = tools(console)
    rows = diagnose(matrix, namespace or matrix.namespace, nodes, kit.engines.on, kit.shell,
                    cache=kit.cache)
    console.grid(doctor_grid(rows))
    return rows
