"""Reading an exported container filesystem (a tar) without running or extracting anything.

The tar is read once, front to back, in stream mode: each member's kind and link target are
kept, and the first bytes of the files that may matter (the candidates' names, and every
executable, since a candidate may reach one through symlinks). Memory stays small whatever the
image's size, and nothing from the image touches the disk outside the tar.
"""

from __future__ import annotations

import posixpath
import tarfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

MAX_LINKS = 40
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
    return path.lstrip("./").rstrip("/")


class Rootfs:
    def __init__(self, members: dict[str, _Member], heads: dict[str, bytes]) -> None:
        self.members, self.heads = members, heads

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

    def first_elf(self, candidates: Sequence[str]) -> tuple[str, bytes]:
        """The first candidate path that is an ELF binary, with its header bytes."""
        for path in candidates:
            head = self.head(path)
            if head.startswith(b"\x7fELF"):
                return path, head
        return "", b""


def read_rootfs(archive: Path, candidates: Iterable[str]) -> Rootfs:
    wanted = {_name(c) for c in candidates}
    members: dict[str, _Member] = {}
    heads: dict[str, bytes] = {}
    with tarfile.open(archive, mode="r|") as tar:
        for member in tar:
            name = _name(member.name)
            members[name] = _Member(kind=_kind(member), link=member.linkname)
            if member.isfile() and (name in wanted or member.mode & 0o111):
                handle = tar.extractfile(member)
                heads[name] = handle.read(HEAD_BYTES) if handle else b""
    return Rootfs(members, heads)


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
