"""The step `build`, `all` and `fetch` share: what the selected builds need downloaded, each
file downloaded once into the cache and staged for the builds that use it."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from xbuild.core.downloads import Need, Redirects, needs
from xbuild.core.matrix import Matrix
from xbuild.core.plan import Plan, Target
from xbuild.host.staging import Staged, stage_downloads
from xbuild.output.console import Console


def downloads_wanted(matrix: Matrix, plan: Plan,
                     targets: Sequence[Target] | None = None) -> tuple[Need, ...]:
    """What `targets` (default: the plan's) need downloaded; raises MatrixError on conflicting
    pins. Pure."""
    chosen = plan.targets if targets is None else targets
    return needs(((t.image, t.key, t.arch) for t in chosen),
                 lambda image: matrix.image(image).downloads)


def download(wanted: Sequence[Need], *, mirror: str | None, dry_run: bool, cache: Path,
             staging: Path, console: Console, redirects: Redirects = ()) -> Staged:
    """Every file in `wanted`, downloaded once for all arches and staged under `staging`."""
    if not wanted:
        return Staged()
    from xbuild.host.downloader import Downloader  # only a run with downloads pays for it

    downloader = Downloader(cache=cache, mirror=mirror, redirects=redirects,
                            on_retry=lambda line: console.warn(f"retrying {line}"))
    where = f" from mirror {mirror}" if mirror else ""
    with console.group(f"downloads: {len(wanted)} file(s){where}"):
        return stage_downloads(wanted, downloader, staging, console.say, dry_run=dry_run)
