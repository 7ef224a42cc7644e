"""The licences a Debian package's copyright file states, when it is machine-readable (DEP-5:
https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/). Pure; the file's bytes
come capped from the export (MAX_COPYRIGHT_BYTES), and a free-form file states nothing."""

from __future__ import annotations

import re

from xbuild.core.text import printable

MAX_COPYRIGHT_BYTES = 256 << 10  # of each copyright file; the licence names come early
MAX_LICENCES = 50  # distinct names kept of one file
MAX_NAME = 200
# The format's URL as its versions wrote it (dep.debian.net is DEP-5's draft address).
_FORMAT = re.compile(rb"\A\s*Format:\s*\S*(copyright-format/1\.0|dep\.debian\.net/deps/dep5)",
                     re.IGNORECASE)
_LICENSE = re.compile(rb"^License:[ \t]*(\S[^\r\n]*)", re.IGNORECASE | re.MULTILINE)


def dep5_licences(head: bytes) -> tuple[str, ...]:
    """The distinct licence short names or expressions of a DEP-5 file, sorted; () when the
    file is not machine-readable or names none."""
    if not _FORMAT.match(head):
        return ()
    found: set[str] = set()
    for match in _LICENSE.finditer(head[:MAX_COPYRIGHT_BYTES]):
        name = printable(match.group(1).decode("utf-8", "replace").strip(), MAX_NAME)
        if name:
            found.add(name)
            if len(found) >= MAX_LICENCES:
                break
    return tuple(sorted(found))
