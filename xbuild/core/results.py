"""What a run did, target by target and list by list; the exit code follows from it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from xbuild.core.errors import ExitCode, exit_code
from xbuild.core.plan import ManifestList, Target


class Status(StrEnum):
    BUILT = "built"
    PUSHED = "pushed"  # to its staging tag; public once its image's release is verified
    STAGED = "staged"  # staged by an earlier run with this run's identity: not built again
    UP_TO_DATE = "up to date"  # published with this run's identity: not built, not pushed
    FAILED = "failed"
    SKIPPED = "skipped"
    DRY_RUN = "dry-run"

    @property
    def ok(self) -> bool:
        return self in (Status.BUILT, Status.PUSHED, Status.STAGED, Status.UP_TO_DATE,
                        Status.DRY_RUN)

    @property
    def staged(self) -> bool:
        """Waiting under its staging tag: verified (with --verify) before any tag moves."""
        return self in (Status.PUSHED, Status.STAGED)


class ListStatus(StrEnum):
    PUBLISHED = "published"
    UP_TO_DATE = "up to date"  # already lists exactly these images: nothing pushed
    PARTIAL = "published (partial)"
    WITHHELD = "withheld"  # an arch is missing
    REFUSED = "refused"  # an arch failed verification
    FAILED = "failed"
    DRY_RUN = "dry-run"

    @property
    def ok(self) -> bool:
        return self in (ListStatus.PUBLISHED, ListStatus.UP_TO_DATE, ListStatus.DRY_RUN)

    @property
    def published(self) -> bool:
        return self.ok or self is ListStatus.PARTIAL


@dataclass(frozen=True, slots=True, kw_only=True)
class TargetResult:
    target: Target
    status: Status
    seconds: float = 0.0
    digest: str = ""
    detail: str = ""  # the first lines of the error, or why it was skipped
    log: Path | None = None
    started: float = 0.0  # when its build began (seconds since the epoch); 0: not built
    node: str = ""  # the node it built on ("" the default one)


@dataclass(frozen=True, slots=True, kw_only=True)
class ListResult:
    manifest: ManifestList
    status: ListStatus
    detail: str = ""
    platforms: tuple[str, ...] = ()  # what the published list holds
    available: tuple[str, ...] = ()  # the arches whose images were there to list
    seconds: float = 0.0  # the final step: public per-arch tags moved, then the list


@dataclass(frozen=True, slots=True, kw_only=True)
class RunReport:
    targets: tuple[TargetResult, ...]
    lists: tuple[ListResult, ...]
    run_dir: Path
    seconds: float
    verified: bool | None = None  # None: not asked to verify

    @property
    def exit_code(self) -> ExitCode:
        outcomes = [r.status.ok for r in self.targets] + [r.status.ok for r in self.lists]
        refused = any(r.status is ListStatus.REFUSED for r in self.lists)
        return exit_code(outcomes, lied=self.verified is False or refused)

    def counts(self) -> dict[str, int]:
        """How many targets ended in each status, in Status order, none left out."""
        return {str(s): sum(r.status is s for r in self.targets) for s in Status}

    def tally(self) -> str:
        """`2 built/pushed, 13 up to date, 1 failed`: the statuses that occurred."""
        return ", ".join(f"{n} {s}" for s, n in self.counts().items() if n)

    def as_dict(self) -> dict[str, Any]:
        return {
            "exit_code": int(self.exit_code),
            "seconds": round(self.seconds, 1),
            "run_dir": str(self.run_dir),
            "verified": self.verified,
            "counts": self.counts(),
            "targets": [
                {"image": r.target.image, "arch": r.target.arch.name, "tag": str(r.target.ref),
                 "status": str(r.status), "seconds": round(r.seconds, 1), "digest": r.digest,
                 "node": r.node,
                 "detail": r.detail, "log": str(r.log) if r.log else None}
                for r in self.targets
            ],
            "lists": [
                {"image": r.manifest.image, "ref": str(r.manifest.ref), "status": str(r.status),
                 "platforms": list(r.platforms), "detail": r.detail,
                 "seconds": round(r.seconds, 2)}
                for r in self.lists
            ],
        }


def list_outcomes(results: Iterable[ListResult]) -> list[bool]:
    """For the merge step's exit code: each list published, and published whole."""
    return [outcome for r in results for outcome in (r.status.published, r.status.ok)]


def push_outcomes(results: Iterable[ListResult]) -> list[bool]:
    """For `bases`, which pushes what it lists: each arch's image pushed, each list published."""
    return [outcome for r in results
            for outcome in (*(str(a.platform) in r.available for a, _ in r.manifest.entries),
                            r.status.ok)]
