"""The last step of a release: each arch's public tag moved to its staged image, then the list.

Nothing moves unless every arch made it (or partial lists are allowed): a withheld or refused
image leaves the previous release's per-arch tags and list exactly as they were. A tag that
already names the staged digest is not moved again."""

from __future__ import annotations

import functools
import time
from collections.abc import Mapping, Sequence
from typing import TextIO

from xbuild.core.errors import CommandFailed
from xbuild.core.plan import ManifestList
from xbuild.core.platforms import Arch
from xbuild.core.refs import Reference
from xbuild.core.results import ListResult, ListStatus
from xbuild.engine.engines import Publisher, Tagger
from xbuild.engine.retry import short_error


def publish_one(manifest: ManifestList, good: Sequence[tuple[Arch, Reference]],
                lacking: Sequence[str], publisher: Publisher, tagger: Tagger | None, *,
                allow_partial: bool, dry_run: bool, current: Mapping[str, str],
                log: TextIO | None = None) -> ListResult:
    """Publish `manifest` over `good` (arch, staged image pinned by digest); `lacking` names
    the arches missing; `current`: per-arch tag -> the digest it names now. `tagger` None:
    the images were pushed under their public tags (the bases), so no tag moves."""
    result = functools.partial(ListResult, manifest=manifest,
                               available=tuple(str(arch.platform) for arch, _ in good))
    if lacking and (not allow_partial or not good):
        return result(status=ListStatus.WITHHELD,
                      detail=f"not published: no {', '.join(lacking)}; no tag moved")
    started = time.monotonic()
    try:
        if tagger is not None:
            move_tags(manifest, good, tagger, current, log)
        publisher.create_list(manifest.ref, [source for _, source in good], log)
    except CommandFailed as exc:
        return result(status=ListStatus.FAILED, detail=short_error(exc.output))
    result = functools.partial(result, seconds=time.monotonic() - started)
    platforms = tuple(str(arch.platform) for arch, _ in good)
    if dry_run:
        return result(status=ListStatus.DRY_RUN, platforms=platforms)
    if lacking:
        return result(status=ListStatus.PARTIAL, platforms=platforms,
                      detail=f"--allow-partial: without {', '.join(lacking)}")
    return result(status=ListStatus.PUBLISHED, platforms=platforms)


def move_tags(manifest: ManifestList, good: Sequence[tuple[Arch, Reference]], tagger: Tagger,
              current: Mapping[str, str], log: TextIO | None = None) -> list[Reference]:
    """Each arch's public tag put on its staged image, unless it names that digest already;
    returns the tags moved."""
    public = dict(manifest.entries)
    moved = []
    for arch, source in good:
        tag = public[arch]
        if current.get(str(tag)) == source.digest:
            continue
        if log is not None:
            log.write(f"moving {tag} to {source.digest}\n")
            log.flush()
        tagger.put(source, tag)
        moved.append(tag)
    return moved
