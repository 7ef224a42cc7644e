"""The step `build`, `all` and `fetch` share: what the selected builds need downloaded, each
file downloaded once into the cache and staged for the builds that use it."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from xbuild.core.downloads import Need, Redirects, needs, unpinned
from xbuild.core.errors import MatrixError
from xbuild.core.matrix import Matrix
from xbuild.core.plan import Plan, Target
from xbuild.host.staging import Staged, stage_downloads
from xbuild.output.console import Console


def downloads_wanted(matrix: Matrix, plan: Plan, targets: Sequence[Target] | None = None,
                     *, locked: bool = False) -> tuple[Need, ...]:
    """What `targets` (default: the plan's) need downloaded; raises MatrixError on conflicting
    pins and, `locked`, naming each download neither pinned nor locked. Pure."""
    chosen = plan.targets if targets is None else targets
    wanted = needs(((t.image, t.key, t.arch) for t in chosen),
                   lambda image: matrix.image(image).downloads)
    if locked and (lines := unpinned(wanted, matrix.path)):
        raise MatrixError("\n".join(lines))
    return wanted


def download(wanted: Sequence[Need], *, mirror: str | None, dry_run: bool, cache: Path,
             staging: Path, console: Console, redirects: Redirects = (),
             updating: bool = False) -> Staged:
    """Every file in `wanted`, downloaded once for all arches and staged under `staging`. A
    lock that changed is a warning, unless `updating` it is what was asked (--update-lock)."""
    if not wanted:
        return Staged()
    from xbuild.host.downloader import Downloader  # only a run with downloads pays for it

    downloader = Downloader(cache=cache, mirror=mirror, redirects=redirects,
                            on_retry=lambda line: console.warn(f"retrying {line}"))
    where = f" from mirror {mirror}" if mirror else ""
    with console.group(f"downloads: {len(wanted)} file(s){where}"):
        staged = stage_downloads(wanted, downloader, staging, console.say, dry_run=dry_run)
    for lock in staged.recorded:
        (console.note if updating else console.warn)(
            f"{lock} changed: it now holds the checksums of downloads nothing pinned, as "
            "first fetched; review and commit it (--locked refuses such downloads)")
    return staged
