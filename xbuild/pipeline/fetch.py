"""`xbuild fetch`: the selected builds' downloads into the cache, and optionally a mirror.
`--update-lock` is the one deliberate way to accept new files under unpinned URLs."""

from __future__ import annotations

import tempfile
from pathlib import Path

from xbuild.core.downloads import unlocked
from xbuild.core.matrix import Matrix
from xbuild.core.plan import Plan
from xbuild.host.paths import cache_dir
from xbuild.host.staging import Staged, write_mirror
from xbuild.output.console import Console
from xbuild.pipeline.download_step import download, downloads_wanted


def fetch(matrix: Matrix, plan: Plan, *, mirror: str | None, into: Path | None,
          console: Console, locked: bool = False, update_lock: bool = False) -> Staged:
    """`locked`: refuse before downloading anything neither pinned nor locked. `update_lock`:
    what the locks list is downloaded afresh and recorded again (matrix.yml's pins hold)."""
    wanted = downloads_wanted(matrix, plan, locked=locked)
    if update_lock:
        wanted = tuple(map(unlocked, wanted))
    with tempfile.TemporaryDirectory(prefix="xbuild-fetch-") as staging:
        downloaded = download(wanted, mirror=mirror, dry_run=False, cache=cache_dir(),
                              staging=Path(staging), console=console,
                              redirects=matrix.redirects, updating=update_lock)
    if into is not None:
        for path in write_mirror(downloaded.files, into):
            console.note(f"mirrored {path}")
    return downloaded
