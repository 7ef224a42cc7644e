"""The run folder, `<log dir>/<UTC time>[-n]/` (`.xbuild/runs/` by default): every file a run
leaves there is named here, and only here.

    <target>.log              one per target: its build's output
    <image>-list.log          one per published manifest list
    <base>-<tag>-<arch>.log   one per bootstrapped base and arch (`xbuild bases`)
    downloads/                the downloads staged for the builds; removed when the run ends,
                              or by the next run when this one was killed
    timeline.md               the run as a mermaid Gantt chart
    summary.json              what happened, written even when the run fails midway
    build-record.json         with --push: per target its identity and pushed digest
    evidence/<target>.cdx.json   with --verify: each verified image's SBOM (CycloneDX 1.6)
    evidence/<target>.slsa.json  with --push: each staged image's provenance (SLSA v1)
    .pid                      the process that runs it (so a sweep leaves a live run alone)
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from xbuild.engine.signing import Evidence
from xbuild.host.paths import write_text_atomically

OWNER = ".pid"
DOWNLOADS = "downloads"
EVIDENCE = "evidence"
RECORD = "build-record.json"


@dataclass(frozen=True, slots=True, kw_only=True)
class RunFolder:
    """One run's folder; other modules ask it where a file goes."""

    path: Path
    cache: Path  # the cache root the run's downloads and probes come from (host/paths.py)

    @classmethod
    def create(cls, log_dir: Path, *, cache: Path) -> RunFolder:
        """A new run folder under `log_dir`, owned by this process; what killed runs staged
        there is swept first."""
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        path, suffix = log_dir / stamp, 1
        while path.exists():
            suffix += 1
            path = log_dir / f"{stamp}-{suffix}"
        sweep(log_dir)
        path.mkdir(parents=True)
        (path / OWNER).write_text(str(os.getpid()))
        return cls(path=path, cache=cache)

    def target_log(self, key: str) -> Path:
        return self.path / f"{key}.log"

    def list_log(self, image: str) -> Path:
        return self.path / f"{image}-list.log"

    def base_log(self, name: str, tag: str, arch: str) -> Path:
        return self.path / f"{name}-{tag}-{arch}.log"

    def evidence(self, key: str) -> Evidence:
        return evidence_beside(self.path / RECORD, key)

    @property
    def downloads(self) -> Path:
        return self.path / DOWNLOADS

    def write_timeline(self, text: str) -> Path:
        return write_text_atomically(self.path / "timeline.md", text)

    def write_summary(self, data: dict[str, Any]) -> Path:
        return _write_json(self.path / "summary.json", data)

    def write_build_record(self, data: dict[str, Any]) -> Path:
        return _write_json(self.path / RECORD, data)


def evidence_beside(record: Path, key: str) -> Evidence:
    """Where a target's SBOM and provenance lie in the run folder of the build record `record`
    (so `manifest --from` finds what another runner's run kept)."""
    folder = record.parent / EVIDENCE
    return Evidence(sbom=folder / f"{key}.cdx.json", provenance=folder / f"{key}.slsa.json")


def _write_json(path: Path, data: dict[str, Any]) -> Path:
    """Whole or not at all: a killed run leaves no half file."""
    return write_text_atomically(path, json.dumps(data, indent=2))


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's, alive
    return True


def sweep(log_dir: Path) -> list[Path]:
    """Remove what earlier runs staged (their `downloads` folders) when the run that made it
    is gone, e.g. killed: its logs and records stay. Returns what it removed."""
    removed = []
    for staged in log_dir.glob(f"*/{DOWNLOADS}"):
        try:
            pid = int((staged.parent / OWNER).read_text())
        except (OSError, ValueError):
            pid = 0
        if pid and alive(pid):
            continue
        shutil.rmtree(staged, ignore_errors=True)
        removed.append(staged)
    return removed
