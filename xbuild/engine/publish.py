"""Manifest lists: published only when every arch made it, unless partial lists are allowed."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import TextIO

from xbuild.core.errors import CommandFailed
from xbuild.core.plan import ManifestList
from xbuild.core.platforms import Arch
from xbuild.core.refs import Reference
from xbuild.core.results import ListResult, ListStatus
from xbuild.engine.engines import Publisher
from xbuild.engine.retry import short_error


def publish_one(manifest: ManifestList, good: Sequence[tuple[Arch, Reference]],
                lacking: Sequence[str], publisher: Publisher, *, allow_partial: bool,
                dry_run: bool, log: TextIO | None = None) -> ListResult:
    """Publish `manifest` over `good` (arch, source ref); `lacking` names the arches missing."""
    result = functools.partial(ListResult, manifest=manifest,
                               available=tuple(str(arch.platform) for arch, _ in good))
    if lacking and (not allow_partial or not good):
        return result(status=ListStatus.WITHHELD, detail=f"not published: no {', '.join(lacking)}")
    try:
        publisher.create_list(manifest.ref, [source for _, source in good], log)
    except CommandFailed as exc:
        return result(status=ListStatus.FAILED, detail=short_error(exc.output))
    platforms = tuple(str(arch.platform) for arch, _ in good)
    if dry_run:
        return result(status=ListStatus.DRY_RUN, platforms=platforms)
    if lacking:
        return result(status=ListStatus.PARTIAL, platforms=platforms,
                      detail=f"--allow-partial: without {', '.join(lacking)}")
    return result(status=ListStatus.PUBLISHED, platforms=platforms)
