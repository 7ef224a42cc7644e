"""The effects a command works with, made once per command from the console and its options:
the docker adapter, the host shell and the run folder."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from xbuild.engine.audit import Inspector
from xbuild.engine.docker import Docker
from xbuild.engine.retry import RetryPolicy
from xbuild.engine.runner import Engine
from xbuild.host.bases import BaseEngine
from xbuild.host.cmd import Shell
from xbuild.host.doctor import EngineFacts
from xbuild.output.console import Console

RECORD_NAME = "summary.json"


class Adapter(Engine, Inspector, BaseEngine, EngineFacts, Protocol):
    """Everything the pipeline asks of the engine: engine/docker.py's Docker, or a fake."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Tools:
    console: Console
    docker: Adapter
    shell: Shell


def tools(console: Console, *, dry_run: bool = False) -> Tools:
    """A dry run prints every command it would run; -v echoes the ones it runs."""
    echo = console.say if dry_run else (console.command if console.verbose else None)
    return Tools(console=console,
                 docker=Docker(echo=echo, dry_run=dry_run, retry=RetryPolicy()),
                 shell=Shell(echo=echo, dry_run=dry_run))


def new_run_dir(log_dir: Path) -> Path:
    """`<log_dir>/<UTC time>[-n]`, created: each run's logs and record."""
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    run_dir = log_dir / stamp
    suffix = 1
    while run_dir.exists():
        suffix += 1
        run_dir = log_dir / f"{stamp}-{suffix}"
    run_dir.mkdir(parents=True)
    return run_dir


def write_record(run_dir: Path, record: dict[str, Any]) -> Path:
    """The run record, written whole or not at all (a killed run leaves no half file)."""
    path = run_dir / RECORD_NAME
    partial = path.with_suffix(".json.partial")
    partial.write_text(json.dumps(record, indent=2), encoding="utf-8")
    partial.replace(path)
    return path
