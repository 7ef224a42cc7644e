"""The effects a command works with, made once per command from the console and its options:
the engines (each node's docker adapter), the host shell, the registry reader; and the run
folder."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from xbuild.engine.engines import Engines
from xbuild.host.cmd import Shell
from xbuild.host.paths import OWNER, sweep_runs, write_text_atomically
from xbuild.host.published import PublishedReader, TagReader
from xbuild.output.console import Console

RECORD_NAME = "summary.json"


@dataclass(frozen=True, slots=True, kw_only=True)
class Tools:
    """What one command works with; tests pass fakes."""

    console: Console
    shell: Shell
    registry: TagReader
    engines: Engines


def tools(console: Console, *, dry_run: bool = False) -> Tools:
    """A dry run prints every command it would run; -v echoes the ones it runs."""
    echo = console.say if dry_run else (console.command if console.verbose else None)
    shell = Shell(echo=echo, dry_run=dry_run)
    return Tools(console=console, shell=shell, registry=PublishedReader(shell),
                 engines=Engines(echo=echo, dry_run=dry_run))


def new_run_dir(log_dir: Path) -> Path:
    """`<log_dir>/<UTC time>[-n]`, created: each run's logs and record."""
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    run_dir = log_dir / stamp
    suffix = 1
    while run_dir.exists():
        suffix += 1
        run_dir = log_dir / f"{stamp}-{suffix}"
    sweep_runs(log_dir)  # what a killed run left staged
    run_dir.mkdir(parents=True)
    (run_dir / OWNER).write_text(str(os.getpid()))
    return run_dir


def write_json(path: Path, data: dict[str, Any]) -> Path:
    """A JSON file written whole or not at all (a killed run leaves no half file)."""
    return write_text_atomically(path, json.dumps(data, indent=2))


def write_record(run_dir: Path, summary: dict[str, Any]) -> Path:
    """The run's summary.json."""
    return write_json(run_dir / RECORD_NAME, summary)
