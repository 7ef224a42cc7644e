"""`xbuild fetch`: the selected builds' downloads into the cache, and optionally a mirror."""

from __future__ import annotations

import tempfile
from pathlib import Path

from xbuild.core.matrix import Matrix
from xbuild.core.plan import Plan
from xbuild.host.paths import cache_dir
from xbuild.host.prefetch import Prefetched, write_mirror
from xbuild.output.console import Console
from xbuild.pipeline.build import downloads_wanted, fetch_downloads


def fetch(matrix: Matrix, plan: Plan, *, mirror: str | None, into: Path | None,
          console: Console) -> Prefetched:
    wanted = downloads_wanted(matrix, plan)
    with tempfile.TemporaryDirectory(prefix="xbuild-fetch-") as staging:
        fetched = fetch_downloads(wanted, mirror=mirror, dry_run=False, cache=cache_dir(),
                                  staging=Path(staging),
                                  console=console, redirects=matrix.redirects)
    if into is not None:
        for path in write_mirror(fetched.files, into):
            console.note(f"mirrored {path}")
    return fetched
