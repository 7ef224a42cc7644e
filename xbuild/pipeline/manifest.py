"""`xbuild manifest`: the merge step, lists from per-arch tags already published."""

from __future__ import annotations

from collections.abc import Sequence

from xbuild.core.matrix import Matrix
from xbuild.core.plan import manifest_lists
from xbuild.core.results import ListResult
from xbuild.engine.publish import publish_lists
from xbuild.output.console import Console
from xbuild.pipeline.tools import tools


def manifest(matrix: Matrix, *, images: Sequence[str], namespace: str | None, tag: str | None,
             allow_partial: bool, dry_run: bool, console: Console) -> list[ListResult]:
    lists = manifest_lists(matrix, images=images, namespace=namespace, tag=tag)
    kit = tools(console, dry_run=dry_run)
    results = publish_lists(lists, kit.docker, allow_partial=allow_partial)
    for result in results:
        console.list_result(str(result.manifest.ref), result.status, result.detail,
                            result.status.ok)
    return results
