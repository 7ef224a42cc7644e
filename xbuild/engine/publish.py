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
from xbuild.engine.signing import MissingEvidence, Signing


def publish_one(manifest: ManifestList, good: Sequence[tuple[Arch, Reference]],
                lacking: Sequence[str], publisher: Publisher, tagger: Tagger | None, *,
                allow_partial: bool, dry_run: bool, current: Mapping[str, str],
                log: TextIO | None = None, signing: Signing | None = None,
                new: Sequence[tuple[str, Reference]] = ()) -> ListResult:
    """Publish `manifest` over `good` (arch, staged image pinned by digest); `lacking` names
    the arches missing; `current`: per-arch tag -> the digest it names now. `tagger` None:
    the images were pushed under their public tags (the bases), so no tag moves. `signing`:
    the images `new` (target key, pinned) are attested and signed before any tag moves, and
    the list before its tag does (engine/signing.py)."""
    result = functools.partial(ListResult, manifest=manifest,
                               available=tuple(str(arch.platform) for arch, _ in good))
    if lacking and (not allow_partial or not good):
        return result(status=ListStatus.WITHHELD,
                      detail=f"not published: no {', '.join(lacking)}; no tag moved")
    started = time.monotonic()
    signing = None if dry_run else signing
    try:
        if signing is not None:
            signing.images(new, log)
        if tagger is not None:
            move_tags(manifest, good, tagger, current, log)
        make_list(manifest.ref, [source for _, source in good], publisher=publisher,
                  tagger=tagger, signing=signing, log=log)
    except CommandFailed as exc:
        return result(status=ListStatus.FAILED, detail=short_error(exc.output))
    except MissingEvidence as exc:
        return result(status=ListStatus.FAILED, detail=f"not signed: {exc}; no tag moved")
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


def make_list(ref: Reference, sources: Sequence[Reference], *, publisher: Publisher,
              tagger: Tagger | None, signing: Signing | None, log: TextIO | None) -> None:
    """The list `ref` over `sources`; signed, it is made under its staging tag, signed there,
    then put under `ref`, so the public tag never names an unsigned list."""
    if signing is None or tagger is None:
        publisher.create_list(ref, sources, log)
        return
    staged = ref.staging()
    publisher.create_list(staged, sources, log)
    tagger.put(signing.list(staged, log), ref)
