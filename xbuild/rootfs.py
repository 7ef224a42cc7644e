"""Reading an exported container filesystem (a tar) without running anything from it."""

from __future__ import annotations

import posixpath
import tarfile
from collections.abc import Sequence

MAX_LINKS = 40
SHELLS = ("/bin/sh", "/bin/busybox")
DPKG = "/usr/bin/dpkg"


class Rootfs:
    def __init__(self, archive: tarfile.TarFile) -> None:
        self.archive = archive
        self.members = {m.name.lstrip("./").rstrip("/"): m for m in archive.getmembers()}

    def resolve(self, path: str) -> tarfile.TarInfo | None:
        """The member `path` names once every symlink on the way is followed (usrmerge
        makes /bin itself a link), or None when it leads nowhere."""
        parts = [p for p in path.split("/") if p]
        done: list[str] = []
        hops = 0
        while parts:
            name = "/".join([*done, parts.pop(0)])
            member = self.members.get(name)
            if member is None:
                return None
            if member.issym() or member.islnk():
                hops += 1
                if hops > MAX_LINKS:
                    return None
                target = member.linkname if member.islnk() else posixpath.normpath(
                    posixpath.join("/" + "/".join(done), member.linkname))
                parts = [p for p in target.split("/") if p and p != "."] + parts
                done = []
                continue
            done.append(name.rsplit("/", 1)[-1])
        return self.members.get("/".join(done)) if done else None

    def is_file(self, path: str) -> bool:
        member = self.resolve(path)
        return member is not None and member.isfile()

    def head(self, path: str, size: int = 64) -> bytes:
        member = self.resolve(path)
        if member is None or not member.isfile():
            return b""
        handle = self.archive.extractfile(member)
        return handle.read(size) if handle else b""


def first_elf(rootfs: Rootfs, candidates: Sequence[str]) -> tuple[str, bytes]:
    """The first candidate path that is an ELF binary, with its header bytes."""
    for path in candidates:
        head = rootfs.head(path)
        if head.startswith(b"\x7fELF"):
            return path, head
    return "", b""


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
