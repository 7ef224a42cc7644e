"""Static busybox binaries from Debian, for FROM-scratch test images that need a shell.

Nothing is pulled from an image registry: the binaries come from Debian's
``busybox-static`` package, fetched with ``apt-get download`` for each architecture
(the host has ``dpkg --add-architecture arm64 armhf`` done, see ci/host-setup.sh).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

# Docker TARGETARCH+TARGETVARIANT -> Debian architecture.
DEBIAN_ARCHES: dict[str, str] = {"amd64": "amd64", "arm64": "arm64", "armv7": "armhf"}

PACKAGE = "busybox-static"
CACHE_ENV = "XBUILD_BUSYBOX_CACHE"


def default_cache_dir() -> Path:
    """$XBUILD_BUSYBOX_CACHE, else a folder in the temp dir shared by test sessions."""
    configured = os.environ.get(CACHE_ENV)
    return Path(configured) if configured else Path(tempfile.gettempdir()) / "xbuild-busybox"


@contextlib.contextmanager
def _locked(cache_dir: Path) -> Iterator[None]:
    """Serialise test sessions that share a cache dir (apt writes the .deb in place)."""
    with (cache_dir / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _cached_deb(cache_dir: Path, deb_arch: str) -> Path | None:
    debs = sorted(cache_dir.glob(f"{PACKAGE}_*_{deb_arch}.deb"))
    return debs[-1] if debs else None


def _download_deb(cache_dir: Path, deb_arch: str) -> Path:
    cached = _cached_deb(cache_dir, deb_arch)
    if cached is not None:
        return cached
    proc = subprocess.run(
        ["apt-get", "download", f"{PACKAGE}:{deb_arch}"],
        cwd=cache_dir,
        capture_output=True,
        text=True,
        check=False,
    )
    # As root apt warns "Download is performed unsandboxed"; only the exit status matters.
    downloaded = _cached_deb(cache_dir, deb_arch)
    if proc.returncode != 0 or downloaded is None:
        raise RuntimeError(
            f"apt-get download {PACKAGE}:{deb_arch} failed (exit {proc.returncode}) "
            f"for Debian arch {deb_arch}: {proc.stderr.strip()}"
        )
    return downloaded


def _extract_busybox(deb: Path, root: Path, deb_arch: str) -> Path:
    """Extract the .deb into ``root`` once; an existing extraction is reused as it is.

    The extraction goes to a temporary folder renamed into place, so a binary another
    test session is copying is never removed or half written.
    """
    binary = root / "bin" / "busybox"
    if binary.is_file():
        return binary
    with tempfile.TemporaryDirectory(dir=root.parent, prefix=f".{root.name}-") as scratch:
        proc = subprocess.run(
            ["dpkg-deb", "-x", str(deb), scratch],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0 or not (Path(scratch) / "bin" / "busybox").is_file():
            raise RuntimeError(
                f"dpkg-deb -x {deb} did not yield bin/busybox for Debian arch {deb_arch} "
                f"(delete the file if it is damaged): {proc.stderr.strip()}"
            )
        Path(scratch).rename(root)
    return binary


def fetch_busybox(cache_dir: Path) -> dict[str, Path]:
    """Return static busybox binaries keyed by TARGETARCH+TARGETVARIANT (amd64, arm64, armv7).

    The .deb files are downloaded into ``cache_dir`` (see :func:`default_cache_dir`) only
    when not cached there yet; the binaries are extracted under it, in root-<debian arch>.
    Raises RuntimeError naming the architecture when apt or dpkg-deb fails.
    """
    cache_dir.mkdir(parents=True, exist_ok=True)
    binaries: dict[str, Path] = {}
    with _locked(cache_dir):
        for docker_arch, deb_arch in DEBIAN_ARCHES.items():
            deb = _download_deb(cache_dir, deb_arch)
            root = cache_dir / f"root-{deb_arch}"
            binaries[docker_arch] = _extract_busybox(deb, root, deb_arch)
    return binaries


def stage_busybox(context_dir: Path, binaries: dict[str, Path]) -> list[Path]:
    """Copy the binaries into a build context as busybox-<arch><variant>; return the copies."""
    staged: list[Path] = []
    for docker_arch, binary in sorted(binaries.items()):
        target = context_dir / f"busybox-{docker_arch}"
        shutil.copyfile(binary, target)
        target.chmod(0o755)
        staged.append(target)
    return staged
