"""Files a recipe needs from the internet: what matrix.yml declares, the lock, the mirror. Pure.

An image's `downloads` maps a file name (as its Dockerfile copies it from the `downloads`
build context) to a URL, or to one URL per arch (null where an arch needs no such file), with
an optional pinned sha256. When no
checksum is pinned, the first one seen is recorded in `downloads.lock` beside the recipe and
required from then on, as pip's hash-checking mode or Bazel's http_archive would.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from xbuild.core.bounded_read import read_bounded
from xbuild.core.errors import MatrixError
from xbuild.core.platforms import Arch, arch_named
from xbuild.core.text import quoted

LOCK_NAME = "downloads.lock"
MAX_LOCK_BYTES = 1 << 20  # some 7000 lines of `<sha256>  <url>`
CONTEXT_NAME = "downloads"  # the named build context: `COPY --from=downloads jboss.zip /opt/`
DOWNLOAD_KEYS = ("url", "sha256")
ANY_ARCH = "*"
_SHA256 = re.compile(r"[0-9a-f]{64}")
_FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]*")

ErrorAt = Callable[[str, str], MatrixError]  # (key, message) -> the error naming file and key


@dataclass(frozen=True, slots=True, kw_only=True)
class Source:
    url: str
    sha256: str | None  # None: not pinned, not yet locked; the first download records it
    pinned_in: str = ""  # "matrix.yml" or the lock file, for messages

    def with_lock(self, lock: Mapping[str, str], lock_path: Path) -> Source:
        if self.sha256 or self.url not in lock:
            return self
        return Source(url=self.url, sha256=lock[self.url], pinned_in=str(lock_path))


@dataclass(frozen=True, slots=True, kw_only=True)
class Download:
    name: str  # the file name inside the `downloads` context
    sources: tuple[tuple[str, Source], ...]  # arch name (or ANY_ARCH) -> source

    def source_for(self, arch: Arch) -> Source | None:
        by_arch = dict(self.sources)
        return by_arch.get(arch.name) or by_arch.get(ANY_ARCH)


@dataclass(frozen=True, slots=True, kw_only=True)
class ImageDownloads:
    """One image's downloads with their lock applied."""

    lock_path: Path
    files: tuple[Download, ...] = ()

    def for_arch(self, arch: Arch) -> tuple[tuple[str, Source], ...]:
        """(file name, source) pairs one arch's build needs."""
        pairs = ((d.name, d.source_for(arch)) for d in self.files)
        return tuple((name, source) for name, source in pairs if source is not None)


_HOST = re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*"
                   r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
_UNSAFE = re.compile(r"[\x00-\x1f\x7f\\]")


def url_problem(url: str) -> str | None:
    """Why `url` may not be downloaded, or None. Strict: http(s), a real host, no user or
    password, no fragment, and no `.`/`..` segment even when percent-encoded."""
    parts = _split(url)
    if parts is None or len(url) > 2048 or any(c.isspace() for c in url) \
            or parts.scheme not in ("http", "https"):
        return "is not an http(s) URL (one, with no whitespace, of at most 2048 characters)"
    if "@" in parts.netloc:
        return "carries a user or password: give credentials to no URL in matrix.yml"
    if parts.fragment:
        return "has a #fragment, which a server never sees"
    return _host_problem(parts) or _path_problem(parts.path)


def _split(url: str) -> urllib.parse.SplitResult | None:
    """urlsplit, or None where it raises (`https://[::1/x`: an unclosed IPv6 bracket)."""
    try:
        return urllib.parse.urlsplit(url)
    except ValueError:
        return None


def _host_problem(parts: urllib.parse.SplitResult) -> str | None:
    try:
        port = parts.port
    except ValueError:
        return "has an invalid port"
    if not parts.hostname or not _HOST.fullmatch(parts.hostname) or port == 0:
        return "has no valid host name"
    return None


def _path_problem(path: str) -> str | None:
    decoded = urllib.parse.unquote(path)
    if _UNSAFE.search(decoded):
        return "has control characters or backslashes in its path"
    if {".", ".."} & set(decoded.split("/")):
        return "has . or .. segments (percent-encoded or not): give the URL without them"
    return None


def mirror_path(url: str) -> Path:
    """The file a mirror tree holds a URL in, relative to its root: `<host>/<decoded path>`
    (a query becomes `%3F...` at the end), checked to stay inside it."""
    if problem := url_problem(url):
        raise MatrixError(f"{url}: {problem}")
    parts = urllib.parse.urlsplit(url)
    segments = [s for s in urllib.parse.unquote(parts.path).split("/") if s]
    if parts.query:
        tail = "%3F" + urllib.parse.quote(parts.query, safe="")
        segments = [*segments[:-1], (segments[-1] if segments else "") + tail]
    path = Path(parts.netloc, *segments)
    if path.is_absolute() or ".." in path.parts:
        raise MatrixError(f"{url}: has no place in a mirror tree")
    return path


def mirrored(url: str, mirror: str | None) -> str:
    """Where a mirror keeps a URL: `<mirror>/<host>/<path>`, the layout `xbuild fetch --into`
    writes, so any static web server can serve a closed network's copy."""
    if not mirror:
        return url
    host, *segments = mirror_path(url).parts
    query = urllib.parse.urlsplit(url).query
    if query:  # already encoded whole as `%3F...`: quote only what comes before it
        last, _, tail = segments[-1].rpartition("%3F")
        segments[-1] = urllib.parse.quote(last) + "%3F" + tail
        return "/".join([mirror.rstrip("/"), host, *map(urllib.parse.quote, segments[:-1]),
                         segments[-1]])
    return "/".join([mirror.rstrip("/"), host, *map(urllib.parse.quote, segments)])


def mirror_problem(mirror: str) -> str | None:
    parts = urllib.parse.urlsplit(mirror)
    if parts.scheme not in ("http", "https", "file") or (parts.scheme != "file"
                                                         and not parts.netloc):
        return f"{mirror!r} is not an http(s):// or file:// URL"
    return None


def parse_lock(text: str, path: Path) -> dict[str, str]:
    """`<sha256>  <url>` per line, as sha256sum writes (comments and blank lines allowed)."""
    entries: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        digest, _, url = line.strip().partition(" ")
        url = url.strip()
        if not _SHA256.fullmatch(digest) or not url:
            raise MatrixError(f"{path}:{number}: expected '<sha256>  <url>', got {line.strip()!r}")
        if entries.get(url, digest) != digest:
            raise MatrixError(f"{path}:{number}: {url} is locked twice with different checksums")
        entries[url] = digest
    return entries


def render_lock(entries: Mapping[str, str]) -> str:
    header = ("# sha256 of each download, recorded the first time xbuild fetched it and\n"
              "# required ever since. Commit this file; delete a line to accept a new file.\n")
    return header + "".join(f"{digest}  {url}\n" for url, digest in sorted(entries.items()))


def read_lock(path: Path) -> dict[str, str]:
    try:
        text = read_bounded(path, MAX_LOCK_BYTES).decode("utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise MatrixError(f"{path}: cannot read: {exc}") from None
    return parse_lock(text, path)


def parse_downloads(value: object, key: str, arches: Iterable[Arch], context: Path,
                    error_at: ErrorAt) -> ImageDownloads:
    lock_path = context / LOCK_NAME
    if value is None:
        return ImageDownloads(lock_path=lock_path)
    if not isinstance(value, dict) or not value:
        raise error_at(key, "must map a file name to {url, sha256}")
    lock = read_lock(lock_path)
    files = []
    for name, entry in value.items():
        where = f"{key}.{name}"
        if not isinstance(name, str) or not _FILE_NAME.fullmatch(name):
            raise error_at(where, "is not a plain file name (letters, digits, . _ + -)")
        sources = _sources(entry, where, tuple(arches), error_at)
        files.append(Download(name=name, sources=tuple(
            (arch, source.with_lock(lock, lock_path)) for arch, source in sources)))
    return ImageDownloads(lock_path=lock_path, files=tuple(files))


def _sources(entry: object, key: str, arches: tuple[Arch, ...],
             error_at: ErrorAt) -> list[tuple[str, Source]]:
    if isinstance(entry, str):
        entry = {"url": entry}
    if not isinstance(entry, dict) or "url" not in entry:
        raise error_at(key, "must be a URL, or a mapping with 'url' and optionally 'sha256'")
    for name in entry:
        if name not in DOWNLOAD_KEYS:
            raise error_at(f"{key}.{name}", f"unknown key; known keys: {', '.join(DOWNLOAD_KEYS)}")
    urls, digests = entry["url"], entry.get("sha256")
    if isinstance(urls, str):
        return [(ANY_ARCH, _source(urls, digests, (f"{key}.url", f"{key}.sha256"), error_at))]
    if not isinstance(urls, dict) or not urls:
        raise error_at(f"{key}.url", "must be a URL, or map each architecture to a URL")
    if digests is not None and not isinstance(digests, dict):
        raise error_at(f"{key}.sha256", "must map each architecture to a sha256, as url does")
    return _per_arch_sources(urls, digests or {}, key, arches, error_at)


def _per_arch_sources(urls: Mapping[object, object], digests: Mapping[object, object], key: str,
                      arches: tuple[Arch, ...], error_at: ErrorAt) -> list[tuple[str, Source]]:
    found, unneeded = {}, set()
    for name, url in urls.items():
        arch = arch_named(name) if isinstance(name, str) else None
        if arch is None or arch not in arches:
            built = ", ".join(a.name for a in arches)
            raise error_at(f"{key}.url.{name}", f"not an architecture this image builds ({built})")
        if arch.name in found or arch.name in unneeded:
            raise error_at(f"{key}.url.{name}", f"{arch.name} is given twice")
        if url is None:  # `arm64v8: null`: that arch's build needs no such file
            unneeded.add(arch.name)
            continue
        found[arch.name] = _source(url, digests.get(name), (f"{key}.url.{name}",
                                   f"{key}.sha256.{name}"), error_at)
    if lacking := [a.name for a in arches if a.name not in found and a.name not in unneeded]:
        raise error_at(f"{key}.url", f"no URL for {', '.join(lacking)} (write "
                                     f"`{lacking[0]}: null` if its build needs no such file)")
    if extra := [str(n) for n in digests if urls.get(n) is None]:
        raise error_at(f"{key}.sha256", f"no URL for {', '.join(extra)}")
    return list(found.items())


def _source(url: object, sha256: object, keys: tuple[str, str], error_at: ErrorAt) -> Source:
    url_key, sha_key = keys
    if not isinstance(url, str):
        raise error_at(url_key, f"{quoted(str(url))} is not an http(s) URL")
    if problem := url_problem(url):
        raise error_at(url_key, f"{quoted(url)} {problem}")
    if sha256 is None:
        return Source(url=url, sha256=None)
    if not isinstance(sha256, str) or not _SHA256.fullmatch(sha256.lower()):
        raise error_at(sha_key, f"{sha256!r} is not a sha256 (64 hex digits)")
    return Source(url=url, sha256=sha256.lower(), pinned_in="matrix.yml")


@dataclass(frozen=True, slots=True, kw_only=True)
class Need:
    """One URL to download this run, and every build that wants it."""

    source: Source  # pinned if any image pins it
    lock_paths: tuple[Path, ...]  # where a first-seen checksum is recorded
    users: tuple[tuple[str, str, str], ...]  # (image, target key, file name)


def needs(targets: Iterable[tuple[str, str, Arch]],
          downloads_of: Callable[[str], ImageDownloads | None]) -> tuple[Need, ...]:
    """Each URL once, however many images and arches use it. `targets`: (image, key, arch)."""
    sources: dict[str, Source] = {}
    locks: dict[str, list[Path]] = {}
    users: dict[str, list[tuple[str, str, str]]] = {}
    for image, key, arch in targets:
        downloads = downloads_of(image)
        if downloads is None:
            continue
        for name, source in downloads.for_arch(arch):
            sources[source.url] = _stricter(sources.get(source.url), source)
            if downloads.lock_path not in locks.setdefault(source.url, []):
                locks[source.url].append(downloads.lock_path)
            users.setdefault(source.url, []).append((image, key, name))
    return tuple(Need(source=source, lock_paths=tuple(locks[url]), users=tuple(users[url]))
                 for url, source in sources.items())


def unpinned(wanted: Iterable[Need], matrix_file: Path) -> list[str]:
    """`--locked`: one line per download whose checksum matrix.yml does not pin and no lock
    lists, naming the file and key (as cargo's and npm's --locked refuse a lock that would
    change). Checked before anything is fetched."""
    lines: dict[str, None] = {}
    for need in wanted:
        if need.source.sha256:
            continue
        locks = ", ".join(map(str, need.lock_paths))
        for image, _, name in need.users:
            lines[f"{matrix_file}: images.{image}.downloads.{name}: {need.source.url} is not "
                  f"pinned: no sha256 there and no line in {locks} (--locked)"] = None
    return list(lines)


def unlocked(need: Need) -> Need:
    """`need` with a checksum only matrix.yml pins: what the lock says is fetched afresh and
    recorded again (`xbuild fetch --update-lock`)."""
    if need.source.pinned_in == "matrix.yml":
        return need
    return Need(source=Source(url=need.source.url, sha256=None), lock_paths=need.lock_paths,
                users=need.users)


def _stricter(known: Source | None, other: Source) -> Source:
    if known is None or not other.sha256:
        return known or other
    if known.sha256 and known.sha256 != other.sha256:
        raise MatrixError(f"{other.url}: {known.pinned_in} requires sha256 {known.sha256} "
                          f"but {other.pinned_in} requires {other.sha256}")
    return known if known.sha256 and other.pinned_in != "matrix.yml" else other


Redirects = tuple[tuple[str, tuple[str, ...]], ...]  # host -> hosts it may redirect to


def parse_redirects(value: object, error_at: ErrorAt) -> Redirects:
    """matrix.yml's `redirects`: for a download host, the other hosts it may redirect to
    (`*.example.org` for any subdomain). Without an entry a download stays on its own host."""
    if value is None:
        return ()
    if not isinstance(value, dict):
        raise error_at("redirects", "must map a download host to the hosts it may redirect to")
    found = []
    for host, targets in value.items():
        if not _HOST.fullmatch(host) or not isinstance(targets, list) or not all(
                isinstance(t, str) and _HOST.fullmatch(t.removeprefix("*.")) for t in targets):
            raise error_at(f"redirects.{host}"[:200], "must be a host name mapped to a list of "
                                                      "host names (`*.` allowed in front)")
        found.append((host.lower(), tuple(t.lower() for t in targets)))
    return tuple(found)


def redirect_problem(origin: str, target: str, redirects: Redirects) -> str | None:
    """Why a download of `origin` may not follow a redirect to `target`, or None: it may not
    leave https, nor go to a host matrix.yml does not allow for the origin's host."""
    was, goes = _split(origin), _split(target)
    if was is None or goes is None:
        return "is not a URL"
    if goes.scheme != "https" and not (was.scheme == "http" and goes.scheme == "http"):
        return f"{was.scheme} may not be redirected to {goes.scheme or 'no scheme'}"
    if problem := url_problem(target):
        return problem
    host, new = (was.hostname or "").lower(), (goes.hostname or "").lower()
    allowed = dict(redirects).get(host, ())
    if new == host or any(new == a or (a.startswith("*.") and new.endswith(a[1:]))
                          for a in allowed):
        return None
    return (f"{new} is another host (allow it in matrix.yml: redirects: {{{host}: [{new}]}})")


_BRANCH = re.compile(r"/refs/heads/|/archive/(?!refs/tags/)(?![0-9a-f]{40}\.)(?!v?\d)[^/]+"
                     r"\.(?:tar\.gz|tgz|zip)$")


def names_a_branch(url: str) -> bool:
    """Whether a URL names a branch (`refs/heads/...`, or a GitHub-style `archive/<name>`
    that is neither a 40-hex commit nor a version-like tag): its content moves."""
    parts = _split(url)
    return parts is not None and bool(_BRANCH.search(parts.path))


def branch_warnings(image: str, downloads: ImageDownloads | None) -> list[str]:
    """One warning per download URL naming a branch: the lock breaks when the branch moves."""
    found = []
    for download in downloads.files if downloads else ():
        for _, source in download.sources:
            if names_a_branch(source.url):
                found.append(f"images.{image}.downloads.{download.name}: {source.url} names a "
                             "branch, which moves: pin a commit (.../archive/<sha>.tar.gz)")
    return found
