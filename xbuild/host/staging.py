"""The run's downloads: every URL downloaded once, staged per build, locks updated.

A failed download fails only the targets (image x arch) that need it; the rest of the matrix
goes on.
"""

from __future__ import annotations

import shutil
from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from xbuild.core.downloads import CONTEXT_NAME, Need, mirror_path, read_lock, render_lock
from xbuild.core.errors import DownloadError, MatrixError
from xbuild.host.downloader import Downloaded, Downloader, stage_files
from xbuild.host.paths import write_text_atomically

Say = Callable[[str], None]


@dataclass(frozen=True, slots=True, kw_only=True)
class Staged:
    contexts: dict[str, tuple[tuple[str, str], ...]] = field(default_factory=dict)  # by key
    failed: dict[str, str] = field(default_factory=dict)  # URL -> one-line reason
    unbuildable: dict[str, str] = field(default_factory=dict)  # target key -> why not
    files: dict[str, Path] = field(default_factory=dict)  # URL -> the cached file
    recorded: tuple[Path, ...] = ()  # lock files that gained a first-seen checksum
    staging: Path | None = None  # remove after the run
    checksums: dict[str, dict[str, str]] = field(default_factory=dict)  # key -> file -> sha256

    def cleanup(self) -> None:
        if self.staging is not None:
            shutil.rmtree(self.staging, ignore_errors=True)


def stage_downloads(wanted: Sequence[Need], downloader: Downloader, staging: Path, say: Say,
                    *, dry_run: bool = False, jobs: int = 4) -> Staged:
    if not wanted:
        return Staged()
    if dry_run:
        for need in wanted:
            say(f"would fetch {need.source.url} for {_images(need)}")
        return Staged(contexts=_contexts(wanted, staging))
    outcomes = _download_all(wanted, downloader, say, jobs)
    failed = {need.source.url: str(outcome) for need, outcome in zip(wanted, outcomes, strict=True)
              if isinstance(outcome, DownloadError)}
    unbuildable = _unbuildable(wanted, failed)
    done = [(need, outcome) for need, outcome in zip(wanted, outcomes, strict=True)
            if isinstance(outcome, Downloaded)]
    files: dict[str, list[tuple[str, Path]]] = defaultdict(list)
    checksums: dict[str, dict[str, str]] = defaultdict(dict)
    for need, outcome in done:
        for _, key, name in need.users:
            checksums[key][name] = outcome.sha256
            if key not in unbuildable:
                files[key].append((name, outcome.path))
    for key, staged in files.items():
        stage_files(staged, staging / key)
    return Staged(contexts=_contexts(wanted, staging, only=set(files)), failed=failed,
                  unbuildable=unbuildable, checksums=dict(checksums),
                  files={need.source.url: outcome.path for need, outcome in done},
                  recorded=_record_first_seen(wanted, outcomes), staging=staging)


def _unbuildable(wanted: Sequence[Need], failed: dict[str, str]) -> dict[str, str]:
    """Each target that needs a failed URL, with the first such URL's reason."""
    why: dict[str, str] = {}
    for need in wanted:
        if need.source.url in failed:
            for _, key, _ in need.users:
                why.setdefault(key, f"download failed: {failed[need.source.url]}")
    return why


def write_mirror(files: dict[str, Path], root: Path) -> list[Path]:
    """Copy downloaded files into a mirror tree that XBUILD_MIRROR=<its URL> serves."""
    written = []
    for url, cached in sorted(files.items()):
        target = root / mirror_path(url)
        if not target.resolve().is_relative_to(root.resolve()):  # a symlink in the tree
            raise MatrixError(f"{url}: its place in the mirror, {target}, leads outside {root}")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(cached, target)
        written.append(target)
    return written


def _download_all(wanted: Sequence[Need], downloader: Downloader, say: Say,
                  jobs: int) -> list[Downloaded | DownloadError]:
    def one(need: Need) -> Downloaded | DownloadError:
        try:
            got = downloader.download(need.source)
        except DownloadError as exc:
            say(f"✗ {exc}")
            return exc
        how = "cached" if got.cached else f"fetched from {got.url}"
        size = got.path.stat().st_size / 1e6
        say(f"✓ {need.source.url} ({size:.1f} MB, {how}) for {_images(need)}")
        return got

    with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="xbuild-download") as pool:
        return list(pool.map(one, wanted))


def _record_first_seen(wanted: Sequence[Need],
                       outcomes: Sequence[Downloaded | DownloadError]) -> tuple[Path, ...]:
    """Write each checksum no pin or lock gave into the locks; the caller says so."""
    by_lock: dict[Path, dict[str, str]] = defaultdict(dict)
    for need, outcome in zip(wanted, outcomes, strict=True):
        if isinstance(outcome, Downloaded) and outcome.first_seen:
            for lock_path in need.lock_paths:
                by_lock[lock_path][need.source.url] = outcome.sha256
    for lock_path, entries in by_lock.items():
        write_text_atomically(lock_path, render_lock({**read_lock(lock_path), **entries}))
    return tuple(by_lock)


def _contexts(wanted: Sequence[Need], staging: Path,
              only: set[str] | None = None) -> dict[str, tuple[tuple[str, str], ...]]:
    keys = {key for need in wanted for _, key, _ in need.users}
    return {key: ((CONTEXT_NAME, str(staging / key)),) for key in sorted(keys)
            if only is None or key in only}


def _image_names(need: Need) -> list[str]:
    return list(dict.fromkeys(image for image, _, _ in need.users))


def _images(need: Need) -> str:
    return ", ".join(_image_names(need))
