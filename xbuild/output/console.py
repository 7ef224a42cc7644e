"""All human output goes to stderr through rich; data (--json) goes to stdout, alone.

On a terminal, tables are rich tables. Elsewhere (CI logs, pipes) each row is one line, so
a log reader never sees a table wrapped to 80 columns.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console as RichConsole
from rich.table import Table


@dataclass(frozen=True, slots=True, kw_only=True)
class Grid:
    """A table as data: rendered as a rich table on a terminal, as lines elsewhere."""

    title: str
    headers: tuple[str, ...]
    rows: tuple[tuple[tuple[str, ...], str | None], ...]  # cells, style
    lines_between: bool = False
    sections: tuple[int, ...] = field(default_factory=tuple)  # rows after which a rule goes


class Console:
    def __init__(self, *, verbose: bool = False, color: bool | None = None) -> None:
        self.verbose = verbose
        self.rich = RichConsole(stderr=True, highlight=False, no_color=color is False,
                                force_terminal=color or None)
        self.github = os.environ.get("GITHUB_ACTIONS") == "true"

    @property
    def is_tty(self) -> bool:
        return self.rich.is_terminal

    def say(self, text: str, *, style: str | None = None) -> None:
        self.rich.print(text, style=style, markup=False, soft_wrap=True)

    def note(self, text: str) -> None:
        self.say(text, style="dim")

    def warn(self, text: str) -> None:
        self.say(f"xbuild: warning: {text}", style="yellow")

    def error(self, text: str) -> None:
        self.say(f"xbuild: error: {text}", style="bold red")

    def command(self, text: str) -> None:
        """Echo a command about to run (at -v), the way `set -x` would."""
        if self.verbose:
            self.say(f"+ {text}", style="cyan")

    def list_result(self, ref: str, status: str, detail: str, ok: bool) -> None:
        """One manifest list's outcome: `☰ <ref> <status>: <detail>`."""
        self.say(f"☰ {ref} {status}" + (f": {detail}" if detail else ""),
                 style=None if ok else "red")

    def grid(self, grid: Grid) -> None:
        if self.is_tty:
            self.rich.print(rich_table(grid))
            return
        self.say(grid.title, style="bold")
        for cells, style in grid.rows:
            self.say(plain_row(grid.headers, cells), style=style)

    @contextmanager
    def group(self, title: str) -> Iterator[None]:
        """A fold in GitHub Actions logs; a heading elsewhere."""
        if self.github:
            self.rich.file.write(f"::group::{title}\n")
        else:
            self.say(title, style="bold")
        try:
            yield
        finally:
            if self.github:
                self.rich.file.write("::endgroup::\n")

    def step_summary(self, markdown: str) -> None:
        path = os.environ.get("GITHUB_STEP_SUMMARY")
        if path:
            with Path(path).open("a", encoding="utf-8") as summary:
                summary.write(markdown.rstrip() + "\n")


def plain_row(headers: Sequence[str], cells: Sequence[str]) -> str:
    """`first  header: cell; header: cell`, empty cells left out, one line."""
    first, *rest = [" — ".join(c.splitlines()) for c in cells]
    pairs = [f"{h}: {c}" for h, c in zip(headers[1:], rest, strict=True) if c]
    return f"{first}  " + "; ".join(pairs) if pairs else first


def rich_table(grid: Grid) -> Table:
    table = Table(title=grid.title, title_justify="left", show_lines=grid.lines_between)
    for header in grid.headers:
        table.add_column(header, overflow="fold")
    for index, (cells, style) in enumerate(grid.rows):
        table.add_row(*cells, style=style)
        if index in grid.sections:
            table.add_section()
    return table


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2) + "\n")
    sys.stdout.flush()


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines)
