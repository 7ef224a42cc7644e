"""Running xbuild and docker as a user would, for the integration and e2e tiers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class FixtureMatrix:
    path: Path
    value: str  # the build arg base writes; unique per test session


@dataclass(frozen=True)
class Cli:
    exit_code: int
    stdout: str
    stderr: str

    def json(self) -> dict[str, object]:
        data = json.loads(self.stdout)
        assert isinstance(data, dict)
        return data


def xbuild(*args: str | Path, cwd: Path | None = None,
           env: dict[str, str] | None = None) -> Cli:
    """The real command line, in a child process, as a user runs it.

    ``env`` is merged over the current environment, e.g. {"XDG_CACHE_HOME": ...}.
    """
    done = subprocess.run([sys.executable, "-m", "xbuild", *map(str, args)], cwd=cwd,
                          env={**os.environ, **env} if env is not None else None,
                          capture_output=True, text=True, check=False, timeout=1800)
    return Cli(exit_code=done.returncode, stdout=done.stdout, stderr=done.stderr)


def docker(*args: str) -> subprocess.CompletedProcess[str]:
    """The docker CLI directly: an independent reading of what xbuild did."""
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=False)
