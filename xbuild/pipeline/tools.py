"""The effects a command works with, made once per command from the console and its options:
the engines (each node's docker adapter), the host shell, the registry reader, the cache."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from xbuild.engine.engines import Engines, Tagger
from xbuild.host.cmd import Shell
from xbuild.host.paths import cache_dir
from xbuild.host.published import PublishedReader, TagReader
from xbuild.host.retag import Retagger
from xbuild.output.console import Console


@dataclass(frozen=True, slots=True, kw_only=True)
class Tools:
    """What one command works with; tests pass fakes."""

    console: Console
    shell: Shell
    registry: TagReader
    engines: Engines
    tagger: Tagger  # moves public tags to staged images: host/retag.py's Retagger
    cache: Path  # downloads, probes: host/paths.py's cache_dir(), read once per command


def tools(console: Console, *, dry_run: bool = False) -> Tools:
    """A dry run prints every command it would run; -v echoes the ones it runs."""
    echo = console.say if dry_run else (console.command if console.verbose else None)
    shell = Shell(echo=echo, dry_run=dry_run)
    return Tools(console=console, shell=shell, registry=PublishedReader(shell),
                 engines=Engines(echo=echo, dry_run=dry_run), tagger=Retagger(shell),
                 cache=cache_dir())
