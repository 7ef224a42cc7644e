"""Parity across arches: every arch of an image holds the same Debian packages (name and
version), the same Python distributions, and the same entries under the folders matrix.yml
declares; `parity.allow` names what one arch alone may have or lack. Pure.

Debian rebuilds a package for one arch at a time (a binNMU: 1.7+dfsg-6+b2 on amd64 and arm64,
+b1 on armhf, for bookworm's orthanc-dicomweb); the same source version rebuilt is the same
package here, so a version's trailing +bN is not compared (it is shown).

An item allowed for an arch is compared among the other arches only. Where arches differ, the
odd one out is named against the rest: the most common state is the reference (on a tie,
having the item beats lacking it, then the first arch in table order).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from xbuild.core.checks import ArchReport, Difference, Parity, Verdict
from xbuild.core.inventory import Inventory, normalise
from xbuild.core.platforms import Arch, UnknownArch, parse_arch
from xbuild.core.yamlfile import Doc, check_keys, kind

PARITY_KEYS = ("paths", "allow")
MAX_PATHS = 16
MAX_ALLOWED = 256  # items per arch
MAX_PATH_CHARS = 1024
MAX_DIFFERENCES = 200  # kept in a verdict; the rest are counted
KINDS = ("package", "python", "path")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9+._-]{0,127}")  # Debian's and PyPI's names
_PRINTABLE_PATH = re.compile(r"/[^\x00-\x1f\x7f]*")
_BINNMU = re.compile(r"\+b[0-9]+$")
# (kind, name or path) -> what the arch has: (as compared, as shown)
Items = dict[tuple[str, str], tuple[str, str]]


@dataclass(frozen=True, slots=True, kw_only=True)
class ParitySpec:
    """`images.<name>.parity` of matrix.yml."""

    paths: tuple[str, ...] = ()  # absolute folders whose entries must match across arches
    allow: tuple[tuple[str, tuple[str, ...]], ...] = ()  # arch name -> packages and paths

    def allows(self, arch: str, kind_: str, item: str) -> bool:
        """Whether `arch` may differ on `item`: a path allowed covers what lies under it."""
        allowed = dict(self.allow).get(arch, ())
        if kind_ == "path":
            return any(item == a or item.startswith(a + "/") for a in allowed)
        return any(not a.startswith("/") and (a == item or normalise(a) == item)
                   for a in allowed)


NO_PARITY = ParitySpec()  # packages and distributions compared, no folder, nothing allowed


# --- matrix.yml ------------------------------------------------------------------------


def parse_parity(value: object, key: str, arches: tuple[Arch, ...], doc: Doc) -> ParitySpec:
    if value is None:
        return ParitySpec()
    if not isinstance(value, dict):
        raise doc.error(key, f"must be a mapping with paths and allow (got {kind(value)})")
    check_keys(value, PARITY_KEYS, key, doc)
    raw_paths = value.get("paths", [])
    if not isinstance(raw_paths, list) or len(raw_paths) > MAX_PATHS:
        raise doc.error(f"{key}.paths", f"must be a list of at most {MAX_PATHS} folders")
    paths = tuple(dict.fromkeys(_path(p, f"{key}.paths", doc) for p in raw_paths))
    return ParitySpec(paths=paths, allow=_allow(value.get("allow"), f"{key}.allow", arches,
                                                paths, doc))


def _path(value: object, key: str, doc: Doc) -> str:
    if not isinstance(value, str) or len(value) > MAX_PATH_CHARS \
            or not _PRINTABLE_PATH.fullmatch(value):
        raise doc.error(key, f"{str(value)[:80]!r} is not an absolute path (/usr/share/...)")
    parts = value.rstrip("/").split("/")[1:]
    if not parts or any(p in ("", ".", "..") for p in parts):
        raise doc.error(key, f"{value[:80]!r}: name a folder below /, without '.', '..' or "
                             "'//'")
    return "/" + "/".join(parts)


def _allow(value: object, key: str, arches: tuple[Arch, ...], paths: tuple[str, ...],
           doc: Doc) -> tuple[tuple[str, tuple[str, ...]], ...]:
    if value is None:
        return ()
    if not isinstance(value, dict):
        raise doc.error(key, f"must map an architecture to packages and paths (got "
                             f"{kind(value)})")
    found = []
    for arch_name, items in value.items():
        where = f"{key}.{arch_name}"[:200]
        try:  # an arch the image is not built for (a narrowed matrix) is kept, and never met
            arch = parse_arch(arch_name)
        except UnknownArch as exc:
            raise doc.error(where, str(exc)) from None
        if not isinstance(items, list) or not items or len(items) > MAX_ALLOWED:
            raise doc.error(where, f"must be a list of 1 to {MAX_ALLOWED} package names or "
                                   "paths")
        found.append((arch.name, tuple(_allowed(i, where, paths, doc) for i in items)))
    return tuple(found)


def _allowed(item: object, key: str, paths: tuple[str, ...], doc: Doc) -> str:
    if isinstance(item, str) and _NAME.fullmatch(item):
        return item
    if not isinstance(item, str) or not item.startswith("/"):
        raise doc.error(key, f"{str(item)[:80]!r} is neither a package name nor an absolute "
                             "path")
    path = _path(item, key, doc)
    if not any(path == p or path.startswith(p + "/") for p in paths):
        raise doc.error(key, f"{path!r} is not under any folder of parity.paths "
                             f"({', '.join(paths) or 'none'}), so nothing compares it")
    return path


# --- the judgment ----------------------------------------------------------------------


def judge_parity(spec: ParitySpec, arches: Sequence[ArchReport]) -> Parity:
    """Compare the inventories of the arches verified (None when an image was not read)."""
    read = [(a.arch.name, a.inventory) for a in arches if a.inventory is not None]
    unread = [a.arch.name for a in arches if a.inventory is None]
    if len(read) < 2:
        return Parity(status=Verdict.NOT_CHECKED, observed=_why_not(read, unread))
    items = {a: _items(inv) for a, inv in read}
    found, allowed = _differences(spec, items)
    problems = [f"{a}: {p}, so it is not compared whole" for a, inv in read
                for p in inv.incomplete]
    problems += [f"{folder}: in no arch's image ({', '.join(items)})" for folder in spec.paths
                 if not any(("path", folder) in have for have in items.values())]
    counts = Counter(k for k, _ in {key for have in items.values() for key in have})
    alike = (f"{counts['package']} Debian packages, {counts['python']} Python distributions, "
             f"{counts['path']} paths")
    skipped = f"; {', '.join(unread)} not read" if unread else ""
    excused = f"; {len(allowed)} allowed" if allowed else ""
    if found or problems:
        observed = f"{len(found)} difference{'' if len(found) == 1 else 's'}{excused}{skipped}"
    else:
        observed = f"{len(items)} arches alike: {alike}{excused}{skipped}"
    return Parity(status=Verdict.FAIL if found or problems else Verdict.PASS,
                  observed=observed, arches=tuple(items), problems=tuple(problems),
                  differences=tuple(found[:MAX_DIFFERENCES]),
                  more=max(0, len(found) - MAX_DIFFERENCES),
                  allowed=tuple(allowed[:MAX_DIFFERENCES]))


def _why_not(read: Sequence[tuple[str, Inventory]], unread: Sequence[str]) -> str:
    if unread:
        return f"not checked: {', '.join(unread)} could not be read"
    if read:
        return f"not checked: only {read[0][0]} verified here, and parity compares arches"
    return "not checked: no arch verified"


def _items(inventory: Inventory) -> Items:
    versions: dict[tuple[str, str], set[str]] = {}
    for package in inventory.packages:
        versions.setdefault(("package", package.name), set()).add(package.version)
    for dist in inventory.distributions:
        versions.setdefault(("python", dist.key), set()).add(dist.version)
    found: Items = {}
    for key, have in versions.items():
        shown = ", ".join(sorted(have))
        found[key] = (", ".join(sorted({_BINNMU.sub("", v) for v in have}))
                      if key[0] == "package" else shown, shown)
    for listing in inventory.listings:
        if listing.entries is not None:
            found["path", listing.folder] = ("present", "present")
            found.update((("path", f"{listing.folder}/{e}"), ("present", "present"))
                         for e in listing.entries)
    return found


def _differences(spec: ParitySpec, items: Mapping[str, Items]
                 ) -> tuple[list[Difference], list[Difference]]:
    """(differences, those parity.allow excuses); a path under one already named for the
    same arch is not named again."""
    keys = sorted({k for have in items.values() for k in have},
                  key=lambda k: (KINDS.index(k[0]), k[1]))
    found: list[Difference] = []
    allowed: list[Difference] = []
    named: set[tuple[str, str]] = set()  # (arch, path) named already
    for kind_, item in keys:
        states = {a: have.get((kind_, item), ("", "")) for a, have in items.items()}
        judged = [a for a in states if not spec.allows(a, kind_, item)]
        if not judged:  # allowed on every arch: nothing to compare it with
            continue
        reference = _reference([states[a][0] for a in judged])
        others = tuple(a for a in judged if states[a][0] == reference)
        for arch, (state, shown) in states.items():
            if state == reference or (kind_ == "path" and _under_named(arch, item, named)):
                continue
            named.add((arch, item))
            difference = Difference(arch=arch, kind=kind_, item=item, observed=shown,
                                    others=others,
                                    others_have=states[others[0]][1] if others else "")
            (allowed if spec.allows(arch, kind_, item) else found).append(difference)
    return found, allowed


def _reference(states: Sequence[str]) -> str:
    """The most common state; on a tie, having beats lacking, then the earliest arch's."""
    counts = Counter(states)
    return max(counts, key=lambda s: (counts[s], s != "", -states.index(s)))


def _under_named(arch: str, path: str, named: set[tuple[str, str]]) -> bool:
    parts = path.split("/")
    return any((arch, "/".join(parts[:n])) in named for n in range(2, len(parts)))
