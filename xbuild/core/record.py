"""The build record: what one run published, arch by arch (target, identity, digest), the
input of the merge step (`xbuild manifest --from`). Pure: rendering, parsing, merging."""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xbuild.core.errors import ConfigError
from xbuild.core.refs import DIGEST_RE
from xbuild.core.results import RunReport
from xbuild.core.text import printable, quoted

MAX_BYTES = 4 << 20  # some 10000 targets
VERSION = 1
_FIELDS = ("target", "image", "arch", "ref", "identity", "digest")


@dataclass(frozen=True, slots=True, kw_only=True)
class Entry:
    target: str  # orthanc-arm64v8
    image: str
    arch: str
    ref: str  # the per-arch tag it was pushed under
    identity: str
    digest: str


def render(namespace: str, tag: str, report: RunReport, identities: Mapping[str, str | None],
           refused: Collection[str] = ()) -> dict[str, Any]:
    """What this run published (built or found up to date), with each target's identity;
    never a target whose image failed verification (`refused`)."""
    entries = [{"target": r.target.key, "image": r.target.image, "arch": r.target.arch.name,
                "ref": str(r.target.ref), "identity": identities.get(r.target.key) or "",
                "digest": r.digest, "status": str(r.status)}
               for r in report.targets if r.status.ok and r.digest.startswith("sha256:")
               and r.target.key not in refused]
    return {"version": VERSION, "namespace": namespace, "tag": tag, "targets": entries}


def parse(path: Path, text: str) -> tuple[str, str, tuple[Entry, ...]]:
    """(namespace, tag, entries) of a record; ConfigError naming the file when it is not one."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: nested deeper than json can read
        raise ConfigError(f"{path}: not a build record (not JSON)") from None
    if not isinstance(data, dict) or data.get("version") != VERSION \
            or not isinstance(data.get("targets"), list):
        raise ConfigError(f"{path}: not a build record of version {VERSION}")
    namespace, tag = data.get("namespace"), data.get("tag")
    if not isinstance(namespace, str) or not isinstance(tag, str):
        raise ConfigError(f"{path}: a build record names its namespace and tag")
    return namespace, tag, tuple(_entry(path, n, e) for n, e in enumerate(data["targets"]))


def _entry(path: Path, number: int, raw: object) -> Entry:
    where = f"{path}: targets[{number}]"
    if not isinstance(raw, dict) or not all(isinstance(raw.get(f), str) for f in _FIELDS):
        raise ConfigError(f"{where}: needs {', '.join(_FIELDS)}, as strings")
    for name in ("identity", "digest"):
        if not DIGEST_RE.fullmatch(raw[name]):
            raise ConfigError(f"{where}.{name}: {quoted(raw[name])} is not a sha256 digest")
    return Entry(**{f: raw[f] for f in _FIELDS})


def merge(records: Iterable[tuple[Path, Sequence[Entry]]]) -> dict[str, Entry]:
    """One entry per target from several records; records that disagree are refused."""
    merged: dict[str, tuple[Path, Entry]] = {}
    for path, entries in records:
        for entry in entries:
            seen = merged.get(entry.target)
            if seen is not None and (seen[1].identity, seen[1].digest) != (entry.identity,
                                                                           entry.digest):
                raise ConfigError(f"{printable(entry.target)}: {seen[0]} and {path} disagree "
                                  f"(identity {seen[1].identity[:19]} vs "
                                  f"{entry.identity[:19]}); records of different runs cannot "
                                  "be merged")
            merged[entry.target] = (path, entry)
    return {target: entry for target, (_, entry) in merged.items()}
