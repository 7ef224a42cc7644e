"""`xbuild bases`: bootstrap the matrix's Debian bases per arch and publish them as lists."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from xbuild.core.errors import NothingToDo
from xbuild.core.matrix import Matrix
from xbuild.core.nodes import NodeMap
from xbuild.core.platforms import Arch
from xbuild.core.results import ListResult
from xbuild.host import mmdebstrap
from xbuild.host.run_folder import RunFolder
from xbuild.host.vcs import provenance
from xbuild.output.console import Console
from xbuild.pipeline.tools import Tools, tools


def publish_bases(matrix: Matrix, *, arches: Sequence[Arch], namespace: str | None, jobs: int,
                  dry_run: bool, log_dir: Path, console: Console, nodes: NodeMap | None = None,
                  kit: Tools | None = None) -> list[ListResult]:
    if not matrix.bases:
        raise NothingToDo(f"{matrix.path}: declares no bases (see README.md, matrix.yml)")
    kit = kit or tools(console, dry_run=dry_run)
    where = nodes or matrix.builders
    run = RunFolder.create(log_dir, cache=kit.cache)
    origin = provenance(matrix.path.parent, kit.shell)
    results = []
    arches = arches or matrix.all_arches
    for base in matrix.bases:
        console.note(f"bootstrapping {base.name} for {', '.join(a.name for a in arches)} "
                     f"(logs in {run.path})")
        result = mmdebstrap.publish_base(
            base, arches, namespace or matrix.namespace,
            builder_for=lambda a: kit.engines.on(where.node_for(a).name),
            publisher=kit.engines.on(), shell=kit.shell, provenance=origin, run=run,
            jobs=jobs, dry_run=dry_run)
        console.list_result(str(result.manifest.ref), result.status, result.detail,
                            result.status.ok)
        results.append(result)
    return results
