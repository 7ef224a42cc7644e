"""Digest of a Docker build context: the files BuildKit would send, hashed without docker.

Which ignore file (docker/buildx v0.13 `build/build.go` and moby/buildkit
`frontend/dockerui/config.go` `ReadEntrypoint`/`MainContext`): `<Dockerfile>.dockerignore`
beside the Dockerfile when it exists, else `.dockerignore` at the context root, else none. The
other one is then an ordinary file of the context.

Which files (tonistiigi/fsutil `fs.go` and `filter.go` `filterFS.Walk`): every entry not excluded
by the ignore file (see `xbuild.core.dockerignore`), symlinks not followed, in fsutil's order
(depth first, each directory's names in byte order, as Go's filepath.WalkDir lists them);
an excluded directory holding a re-included entry is sent too (without its other contents);
the root directory itself is not. This is conservative: a file that no `COPY` reads still
counts, as BuildKit still sends it. The Dockerfile and the ignore file count like any file when
they lie in the context and are not ignored, since `COPY . .` copies them; the Dockerfile's
own text enters a build's identity separately, not here.

What counts, after BuildKit's cache key for a copy from the context (moby/buildkit
`cache/contenthash/filehash.go` `NewFromStat`, `tarsum.go` `v1TarHeaderSelect`): the path, the
kind, the permission bits with setuid, setgid and sticky (a symlink's are 0o777, as there), a
file's content, a symlink's target, a device's numbers, and the extended attributes that the
key keeps (`security.capability` but no other `security.*`, no `system.*`, and none of the
`com.apple.*` that fsutil `stat_unix.go` never sends). Not counted:
- mtimes: the key drops them, so after a `touch` BuildKit reuses the cached layer and the image
  is the same (a build without that cache would copy the new mtimes into the layer).
- owners: the client sends every uid and gid as 0 (moby/buildkit `client/solve.go`
  `prepareSyncedFiles` `resetUIDAndGID`).
- hardlinks (a departure): fsutil sends the second name of a hardlinked file as a link to the
  first; here both are hashed as files, so linking two equal files changes nothing.

Byte stream (sha256 of it is the digest): `FORMAT`, then per entry in walk order
`path NUL kind NUL mode-in-octal NUL payload NUL xattr-count NUL` followed, per attribute in
byte order of its name, by `name NUL value-length NUL value`. The payload is the hex sha256 of a
file's content, a symlink's target, `major,minor` for a device, empty otherwise.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from xbuild.core.bounded_read import read_bounded
from xbuild.core.dockerignore import IgnorePatternError, Matcher, MatchInfo, parse_ignore_file
from xbuild.core.errors import ConfigError

FORMAT = b"xbuild context digest v1\n"
_KINDS = {stat.S_IFREG: "file", stat.S_IFDIR: "dir", stat.S_IFLNK: "symlink",
          stat.S_IFIFO: "fifo", stat.S_IFSOCK: "socket", stat.S_IFCHR: "char",
          stat.S_IFBLK: "block"}
_NO_XATTRS = (errno.ENOTSUP, errno.EOPNOTSUPP)
_CHUNK = 1 << 20
# An ignore file's patterns all run against every path: time is O(patterns x path length).
# At this cap, 3000 patterns built to be slow take 0.25 s on a 200-character path (a real
# ignore file is a few hundred bytes; BuildKit sets no cap).
MAX_IGNORE_BYTES = 64 << 10


class ContextError(ConfigError):
    """A build context that cannot be digested; the message is one line naming the path."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ContextEntry:
    path: str  # POSIX, relative to the context root
    kind: str  # file, dir, symlink, fifo, socket, char, block
    mode: int  # permission bits with setuid, setgid and sticky
    target: str = ""  # of a symlink
    device: tuple[int, int] | None = None  # major and minor of a char or block device
    xattrs: tuple[tuple[str, bytes], ...] = ()


def ignore_file(context: Path, *, dockerfile: Path) -> Path | None:
    """The ignore file a build of `dockerfile` in `context` uses, or None (see module doc).
    One that exists but is no regular file (a FIFO, a folder) is returned, and refused when
    read, rather than passed over as if absent."""
    beside = dockerfile.with_name(dockerfile.name + ".dockerignore")
    for candidate in (beside, context / ".dockerignore"):
        if candidate.exists():
            return candidate
    return None


def load_matcher(context: Path, *, dockerfile: Path) -> Matcher:
    path = ignore_file(context, dockerfile=dockerfile)
    if path is None:
        return Matcher(patterns=())
    try:
        return Matcher.from_patterns(parse_ignore_file(read_bounded(path, MAX_IGNORE_BYTES)))
    except OSError as error:
        raise ContextError(f"{path}: cannot read: {error.strerror}") from error
    except IgnorePatternError as error:
        raise ContextError(f"{path}: {error}") from error


def context_entries(context: Path, *, dockerfile: Path) -> Iterator[ContextEntry]:
    """The entries BuildKit would send for `context`, in fsutil's walk order."""
    matcher = load_matcher(context, dockerfile=dockerfile)
    if not context.is_dir():
        raise ContextError(f"{context}: the build context is not a directory")
    yield from _walk(str(context), "", (), matcher, [])


def context_digest(context: Path, *, dockerfile: Path) -> str:
    """`sha256:<hex>` over `context_entries` (see the module doc for what counts)."""
    digest = hashlib.sha256(FORMAT)
    buffer = memoryview(bytearray(_CHUNK))
    for entry in context_entries(context, dockerfile=dockerfile):
        content = _file_sha256(context / entry.path, buffer) if entry.kind == "file" else ""
        digest.update(_record(entry, content))
    return "sha256:" + digest.hexdigest()


def _walk(directory: str, prefix: str, parent: MatchInfo, matcher: Matcher,
          pending: list[ContextEntry]) -> Iterator[ContextEntry]:
    """fsutil filterFS.Walk: `pending` holds the excluded directories above, not yet sent."""
    # `pending` is not empty exactly when `directory` itself is excluded.
    for item in _sorted_dir(directory, tolerate_denied=bool(pending)):
        path = prefix + item.name
        is_dir = _is_dir(item)
        excluded, info = matcher.matches_below(path, parent)
        if excluded and not (is_dir and matcher.must_walk_excluded_dir(path)):
            continue
        entry = _entry(item, path)
        if not excluded:
            yield from pending
            pending.clear()
            yield entry
        if is_dir:
            if excluded:
                pending.append(entry)
            yield from _walk(item.path, path + "/", info, matcher, pending)
            if pending and pending[-1] is entry:
                pending.pop()


def _sorted_dir(directory: str, *, tolerate_denied: bool) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(directory) as items:
            return sorted(items, key=lambda item: os.fsencode(item.name))
    except OSError as error:
        # fsutil ignores a permission error in a directory it only walks for exceptions.
        if tolerate_denied and isinstance(error, PermissionError):
            return []
        raise ContextError(f"{directory}: cannot list the directory: {error.strerror}") from error


def _is_dir(item: os.DirEntry[str]) -> bool:
    try:
        return item.is_dir(follow_symlinks=False)
    except OSError as error:
        raise ContextError(f"{item.path}: cannot stat: {error.strerror}") from error


def _entry(item: os.DirEntry[str], path: str) -> ContextEntry:
    try:
        st = item.stat(follow_symlinks=False)
        kind = _KINDS.get(stat.S_IFMT(st.st_mode))
        if kind is None:
            raise ContextError(f"{item.path}: unsupported file type {stat.S_IFMT(st.st_mode):o}")
        target = str(Path(item.path).readlink()) if kind == "symlink" else ""
        xattrs = _xattrs(item.path)
    except OSError as error:
        raise ContextError(f"{item.path}: cannot stat: {error.strerror}") from error
    device = (os.major(st.st_rdev), os.minor(st.st_rdev)) if kind in ("char", "block") else None
    mode = 0o777 if kind == "symlink" else stat.S_IMODE(st.st_mode)
    return ContextEntry(path=path, kind=kind, mode=mode, target=target, device=device,
                        xattrs=xattrs)


def _xattrs(path: str) -> tuple[tuple[str, bytes], ...]:
    if not hasattr(os, "listxattr"):  # not on macOS; nothing there but com.apple.* in practice
        return ()
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError as error:
        if error.errno in _NO_XATTRS:
            return ()
        raise
    kept: list[tuple[str, bytes]] = []
    for name in sorted(filter(_xattr_counts, names), key=os.fsencode):
        try:
            kept.append((name, os.getxattr(path, name, follow_symlinks=False)))
        except OSError:
            continue  # fsutil loadXattr drops an attribute it cannot read
    return tuple(kept)


def _xattr_counts(name: str) -> bool:
    if name.startswith("com.apple."):
        return False
    return name == "security.capability" or not name.startswith(("security.", "system."))


def _file_sha256(path: Path, buffer: memoryview) -> str:
    """Streamed through one reused buffer: hashlib.file_digest allocates 256 KiB per file."""
    digest = hashlib.sha256()
    try:
        with path.open("rb", buffering=0) as stream:
            while size := stream.readinto(buffer):
                digest.update(buffer[:size])
        return digest.hexdigest()
    except OSError as error:
        raise ContextError(f"{path}: cannot read: {error.strerror}") from error


def _record(entry: ContextEntry, content: str) -> bytes:
    payload = {"file": content, "symlink": entry.target}.get(entry.kind, "")
    if entry.device is not None:
        payload = f"{entry.device[0]},{entry.device[1]}"
    fields = [entry.path, entry.kind, f"{entry.mode:o}", payload, str(len(entry.xattrs))]
    out = b"".join(os.fsencode(field) + b"\0" for field in fields)
    for name, value in entry.xattrs:
        out += os.fsencode(name) + b"\0" + str(len(value)).encode() + b"\0" + value
    return out
