"""Reading an exported container filesystem (a tar) without running or extracting anything.

The tar is read once, front to back, in stream mode: each member's kind and link target are
kept, and the first bytes of the files that may matter (the candidates' names, and every
executable, since a candidate may reach one through symlinks). dpkg's status, the packages'
copyright files, the Debian release, Python's distribution metadata and the Java archives are
read in the same pass, into an inventory (core/inventory.py); a Java archive is held in memory
one at a time, up to MAX_ARCHIVE_BYTES. Memory stays bounded whatever the image holds
(MAX_MEMBERS, MAX_NAME_BYTES, MAX_LISTED and the caps of core/inventory.py), and nothing from
the image touches the disk outside the tar.
"""

from __future__ import annotations

import posixpath
import tarfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from xbuild.core.errors import CommandFailed
from xbuild.core.inventory import (
    DEBIAN_VERSION,
    MAX_METADATA_BYTES,
    MAX_RELEASE_BYTES,
    Inventory,
    InventoryBuilder,
    Listing,
    distro,
    is_copyright,
    is_dpkg_status,
    is_python_metadata,
    is_release_file,
)
from xbuild.core.java_archives import MAX_ARCHIVE_BYTES, is_java_archive
from xbuild.core.licences import MAX_COPYRIGHT_BYTES

MAX_LINKS = 40
# An image with more files, or longer names all told, is refused rather than indexed: each
# member costs about 140 bytes plus its name (measured: 200k members, 34 MiB), so at most
# about 130 MiB. A real image has 10k to 100k members.
MAX_MEMBERS = 500_000
MAX_NAME_BYTES = 64 << 20
MAX_LISTED = 200_000  # entries listed under the folders parity compares, all told
HEAD_BYTES = 64
SHELLS = ("/bin/sh", "/bin/busybox")
DPKG = "/usr/bin/dpkg"


@dataclass(frozen=True, slots=True)
class _Member:
    kind: str  # "file", "dir", "symlink", "hardlink", "other"
    link: str = ""


def _kind(member: tarfile.TarInfo) -> str:
    if member.issym():
        return "symlink"
    if member.islnk():
        return "hardlink"
    return "file" if member.isfile() else "dir" if member.isdir() else "other"


def _name(path: str) -> str:
    return path.removeprefix("./").strip("/")


class Rootfs:
    def __init__(self, members: dict[str, _Member], heads: dict[str, bytes],
                 found: InventoryBuilder | None = None) -> None:
        self.members, self.heads = members, heads
        self.found = found or InventoryBuilder()

    def resolve(self, path: str) -> str | None:
        """The member name `path` leads to once every link on the way is followed (usrmerge
        makes /bin itself a link), or None when it leads nowhere."""
        parts = [p for p in path.split("/") if p]
        done: list[str] = []
        hops = 0
        while parts:
            name = "/".join([*done, parts.pop(0)])
            member = self.members.get(name)
            if member is None:
                return None
            if member.kind in ("symlink", "hardlink"):
                hops += 1
                if hops > MAX_LINKS:
                    return None
                target = member.link if member.kind == "hardlink" else posixpath.normpath(
                    posixpath.join("/" + "/".join(done), member.link))
                parts = [p for p in target.split("/") if p and p != "."] + parts
                done = []
                continue
            done.append(name.rsplit("/", 1)[-1])
        return "/".join(done) if done else None

    def is_file(self, path: str) -> bool:
        name = self.resolve(path)
        return name is not None and self.members[name].kind == "file"

    def head(self, path: str) -> bytes:
        name = self.resolve(path)
        return self.heads.get(name, b"") if name is not None else b""

    def listing(self, folder: str, budget: int) -> Listing:
        """The entries under `folder` (links on the way followed), at most `budget`."""
        name = self.resolve(folder)
        if name is None or self.members[name].kind != "dir":
            return Listing(folder=folder, entries=None)
        prefix = name + "/"
        entries: list[str] = []
        for member in self.members:
            if member.startswith(prefix):
                if len(entries) >= budget:
                    break
                entries.append(member[len(prefix):])
        return Listing(folder=folder, entries=tuple(sorted(entries)))

    def inventory(self, folders: Sequence[str] = ()) -> Inventory:
        """What the image holds: packages, distributions, and the entries under `folders`."""
        listings, left = [], MAX_LISTED
        for folder in folders:
            listing = self.listing(folder, left + 1)
            left -= len(listing.entries or ())
            listings.append(listing)
        over = [f"more than {MAX_LISTED} entries under {', '.join(folders)}"] if left < 0 else []
        licences = {p.name: self.found.copyrights.get(
            self.resolve(f"/usr/share/doc/{p.name}/copyright") or "", ())
            for p in self.found.packages}
        return self.found.build(listings, over, licences=licences, release=self._release())

    def _release(self) -> str:
        def head(path: str) -> bytes:
            return self.found.release_files.get(self.resolve(path) or "", b"")
        return distro(head("/etc/os-release") or head("/usr/lib/os-release"),
                      head("/" + DEBIAN_VERSION))

    def first_elf(self, candidates: Sequence[str]) -> tuple[str, bytes]:
        """The first candidate path that is an ELF binary, with its header bytes."""
        for path in candidates:
            head = self.head(path)
            if head.startswith(b"\x7fELF"):
                return path, head
        return "", b""


def read_rootfs(archive: Path, candidates: Iterable[str]) -> Rootfs:
    """Index `archive` in one pass; CommandFailed when it holds more than the caps allow."""
    wanted = {_name(c) for c in candidates}
    members: dict[str, _Member] = {}
    heads: dict[str, bytes] = {}
    found = InventoryBuilder()
    name_bytes = 0
    with tarfile.open(archive, mode="r|") as tar:
        while (member := tar.next()) is not None:
            _forget_headers(tar)
            name = _name(member.name)
            name_bytes += len(name) + len(member.linkname)
            if len(members) >= MAX_MEMBERS or name_bytes > MAX_NAME_BYTES:
                raise CommandFailed("read the exported files", f"more than {MAX_MEMBERS} "
                                    f"files or {MAX_NAME_BYTES >> 20} MiB of names: not read")
            members[name] = _Member(kind=_kind(member), link=member.linkname)
            if member.isfile():
                _read_member(tar, member, name, wanted=wanted, heads=heads, found=found)
    return Rootfs(members, heads, found)


def _forget_headers(tar: tarfile.TarFile) -> None:
    """tarfile keeps every header it has read, even in stream mode (about 400 bytes each, in
    an attribute it does not document); nothing here needs them again (no hard link is
    followed through tar), so they are dropped as the pass goes."""
    kept = getattr(tar, "members", None)
    if isinstance(kept, list):
        kept.clear()


def _read_member(tar: tarfile.TarFile, member: tarfile.TarInfo, name: str, *,
                 wanted: set[str], heads: dict[str, bytes], found: InventoryBuilder) -> None:
    """What a regular file tells: what the inventory records of it, or its head."""
    status = is_dpkg_status(name)
    record = None if status else _recorder(name, member.size, found)
    if not (status or record or name in wanted or member.mode & 0o111):
        return
    handle = tar.extractfile(member)
    if handle is None:
        return
    if status:
        found.add_status(handle)  # line by line, never whole
    elif record:
        reader, limit = record
        reader(handle.read(limit), name)
    else:
        heads[name] = handle.read(HEAD_BYTES)


def _recorder(name: str, size: int, found: InventoryBuilder
              ) -> tuple[Callable[[bytes, str], None], int] | None:
    """The inventory's reader of the file `name` and how many of its bytes it reads, or None
    when it wants nothing of it; a Java archive over MAX_ARCHIVE_BYTES is noted and left."""
    if is_python_metadata(name):
        return found.add_metadata, MAX_METADATA_BYTES
    if is_copyright(name):
        return found.add_copyright, MAX_COPYRIGHT_BYTES
    if is_release_file(name):
        return found.add_release_file, MAX_RELEASE_BYTES
    if is_java_archive(name):
        if size <= MAX_ARCHIVE_BYTES:
            return found.add_java_archive, MAX_ARCHIVE_BYTES
        found.note(f"{name}: larger than {MAX_ARCHIVE_BYTES >> 20} MiB, not read")
    return None


def binary_candidates(entrypoint: Sequence[str] | None, cmd: Sequence[str] | None,
                      path_env: str) -> list[str]:
    """Where an image's main binary may be: its entrypoint or command, then its shell."""
    found = []
    for argv in (entrypoint or (), cmd or ()):
        if argv:
            program = argv[0]
            dirs = [""] if program.startswith("/") else path_env.split(":")
            found += [posixpath.join(d, program) if d else program for d in dirs if d or
                      program.startswith("/")]
    return [*found, *SHELLS, "/usr/bin/env"]
