"""Download a file into the cache, once: by sha256, retried, optionally from a mirror.

The cache is content-addressed (`<cache>/downloads/sha256/<hex>`), so a file already there
under its pinned or locked checksum costs no network at all, which is what a closed network
needs on its second run.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import os
import shutil
import socket
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from http.client import HTTPMessage
from pathlib import Path
from typing import IO

from xbuild import __version__
from xbuild.core.downloads import Redirects, Source, mirrored, redirect_problem
from xbuild.core.errors import DownloadError
from xbuild.engine.retry import RetryPolicy

# SourceForge answers browsers with an HTML "your download will start" page and wget-like
# agents with the file itself; saying we are wget-compatible gets the file.
USER_AGENT = f"Wget/1.21 (compatible; xbuild/{__version__})"
_CHUNK = 1 << 20
_RETRIED_STATUS = {408, 429, 500, 502, 503, 504}


@dataclass(frozen=True, slots=True)
class Downloaded:
    url: str  # where it came from (the mirror's URL when a mirror is used)
    path: Path  # the cached file
    sha256: str
    cached: bool  # no network was needed
    first_seen: bool  # no checksum was pinned or locked: this one must be recorded


def _is_transient(exc: BaseException) -> bool:
    if isinstance(exc, urllib.error.HTTPError):
        return exc.code in _RETRIED_STATUS
    if isinstance(exc, urllib.error.URLError):
        return not isinstance(exc.reason, socket.gaierror)  # an unknown host stays unknown
    return isinstance(exc, TimeoutError | ConnectionError | http.client.IncompleteRead)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    if isinstance(exc, urllib.error.URLError):
        reason = exc.reason
        text = reason.strerror if isinstance(reason, OSError) and reason.strerror else reason
        return f"unreachable ({text})"
    return f"{type(exc).__name__}: {exc}"


class _Redirects(urllib.request.HTTPRedirectHandler):
    """Follows a redirect only where matrix.yml's policy lets it (core/downloads.py)."""

    def __init__(self, origin: str, policy: Redirects) -> None:
        self.origin, self.policy = origin, policy

    def redirect_request(self, req: urllib.request.Request, fp: IO[bytes], code: int,  # noqa: PLR0917
                         msg: str, headers: HTTPMessage,
                         newurl: str) -> urllib.request.Request | None:  # urllib's signature
        if problem := redirect_problem(req.full_url, newurl, self.policy):
            raise DownloadError(self.origin, f"redirected to {newurl[:200]}: {problem}")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


@dataclass(slots=True)
class Downloader:
    cache: Path  # xbuild's cache folder; downloads go under downloads/sha256
    mirror: str | None = None
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    timeout: float = 60.0  # seconds without a byte before an attempt is given up
    deadline: float = 1800.0  # seconds one attempt may take in all, however it trickles
    max_bytes: int = 4 << 30  # no download is larger
    redirects: Redirects = ()
    on_retry: Callable[[str], None] = lambda _line: None

    @property
    def store(self) -> Path:
        return self.cache / "downloads" / "sha256"

    def sweep(self, older_than: float = 3600.0) -> None:
        """Partial files a killed run left: no live download is that old (see deadline)."""
        limit = time.time() - max(older_than, self.deadline)
        for partial in self.store.glob(".partial-*"):
            with contextlib.suppress(OSError):
                if partial.stat().st_mtime < limit:
                    partial.unlink()

    def download(self, source: Source) -> Downloaded:
        if source.sha256 and (hit := self._cached(source.sha256)):
            return Downloaded(url=source.url, path=hit, sha256=source.sha256, cached=True,
                           first_seen=False)
        where = mirrored(source.url, self.mirror)
        partial, digest = self._download(where)
        if source.sha256 and digest != source.sha256:
            partial.unlink()
            raise DownloadError(where, f"checksum mismatch: got sha256 {digest}, but "
                                    f"{source.pinned_in} requires {source.sha256}")
        final = self.store / digest
        partial.replace(final)
        return Downloaded(url=where, path=final, sha256=digest, cached=False,
                       first_seen=source.sha256 is None)

    def _cached(self, sha256: str) -> Path | None:
        path = self.store / sha256
        if not path.is_file():
            return None
        if _sha256_of(path) == sha256:
            return path
        path.unlink()  # damaged on disk: download it again rather than build from it
        return None

    def _download(self, url: str) -> tuple[Path, str]:
        def note(attempt: int, exc: BaseException) -> None:
            self.on_retry(f"{url}: {_reason(exc)}; attempt {attempt + 1} of "
                          f"{self.retry.attempts}")

        try:
            for attempt in self.retry.retrying(_is_transient, note):
                with attempt:
                    return self._download_once(url)
        except (OSError, http.client.HTTPException, ValueError) as exc:
            raise DownloadError(url, _reason(exc)) from None
        raise AssertionError("unreachable: tenacity reraises the last error")

    def _open(self, url: str) -> IO[bytes]:
        if url.startswith("file:"):
            return self._open_mirrored_file(url)
        opener = urllib.request.build_opener(_Redirects(url, self.redirects))
        request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
        response: IO[bytes] = opener.open(request, timeout=self.timeout)
        kind = response.headers.get("Content-Type", "")  # type: ignore[attr-defined]
        size = response.headers.get("Content-Length", "")  # type: ignore[attr-defined]
        if kind.startswith("text/html"):
            response.close()
            raise DownloadError(url, "got an HTML page, not the file (a download site's "
                                  "landing page? give the file's direct URL)")
        if size.isdigit() and int(size) > self.max_bytes:
            response.close()
            raise DownloadError(url, f"is {int(size) >> 20} MiB, over the {self.max_bytes >> 20} "
                                  "MiB a download may be")
        return response

    def _open_mirrored_file(self, url: str) -> IO[bytes]:
        """A file:// mirror's file, which must lie inside the mirror, symlinks followed."""
        root = Path(urllib.request.url2pathname(urllib.parse.urlsplit(self.mirror or "").path))
        path = Path(urllib.request.url2pathname(urllib.parse.urlsplit(url).path)).resolve()
        if not path.is_relative_to(root.resolve()):
            raise DownloadError(url, f"leads outside the mirror {root}")
        return path.open("rb")

    def _download_once(self, url: str) -> tuple[Path, str]:
        self.store.mkdir(parents=True, exist_ok=True)
        self.sweep()
        ends = time.monotonic() + self.deadline
        with self._open(url) as response:
            handle, name = tempfile.mkstemp(dir=self.store, prefix=".partial-")
            digest, size = hashlib.sha256(), 0
            try:
                with os.fdopen(handle, "wb") as out:
                    # read1: what has arrived, so the deadline is checked as bytes trickle
                    while chunk := response.read1(_CHUNK):  # type: ignore[attr-defined]
                        size += len(chunk)
                        if size > self.max_bytes:
                            raise DownloadError(url, f"is over the {self.max_bytes >> 20} MiB a "
                                                  "download may be")
                        if time.monotonic() > ends:
                            raise DownloadError(url, f"took over {self.deadline:.0f} s")
                        digest.update(chunk)
                        out.write(chunk)
            except BaseException:
                Path(name).unlink(missing_ok=True)
                raise
        return Path(name), digest.hexdigest()


def _sha256_of(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def stage_files(files: list[tuple[str, Path]], folder: Path) -> Path:
    """A build context holding each cached file under the name its Dockerfile copies."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, cached in files:
        target = folder / name
        target.unlink(missing_ok=True)
        try:
            os.link(cached, target)  # no copy of a large zip per arch when one filesystem
        except OSError:
            shutil.copyfile(cached, target)
    return folder
