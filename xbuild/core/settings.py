"""What the command line asks of a build (`build`, `all`), made once by the CLI and handed
down whole: the pipeline and the runner read it, nobody copies it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from xbuild.core.nodes import NodeMap


@dataclass(frozen=True, slots=True, kw_only=True)
class SigningSettings:
    """How a verified release is signed with cosign (README: Trust): with a key pair (`key`,
    the private half's path; its password from COSIGN_PASSWORD, never argv) or keyless
    (GitHub Actions' OIDC identity). Neither: nothing is signed."""

    key: Path | None = None
    keyless: bool = False

    @property
    def on(self) -> bool:
        return self.key is not None or self.keyless


@dataclass(frozen=True, slots=True, kw_only=True)
class BuildSettings:
    push: bool = False
    jobs: int = 2  # builds at once on a node that sets no jobs of its own
    dry_run: bool = False  # builds and lists only say what they would do
    allow_partial: bool = False
    verify: bool = False  # each image built is verified before its list is published
    log_dir: Path = Path(".xbuild/runs")
    mirror: str | None = None  # downloads come from here instead of their own hosts
    rebuild: frozenset[str] = frozenset()  # images to build even if up to date; "*": all
    builders: NodeMap | None = None  # where each arch builds; None: matrix.yml's builders
    locked: bool = False  # every download pinned or locked, or nothing runs (--locked)
    signing: SigningSettings = field(default_factory=SigningSettings)  # off: matrix.yml's
