"""All human output goes to stderr through rich; data (--json) goes to stdout, alone."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.console import Console as RichConsole
from rich.table import Table


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
        """Echo a docker command about to run (at -v), the way `set -x` would."""
        if self.verbose:
            self.say(f"+ {text}", style="cyan")

    def list_result(self, ref: str, status: str, detail: str, ok: bool) -> None:
        """One manifest list's outcome: `☰ <ref> <status>: <detail>`."""
        self.say(f"☰ {ref} {status}" + (f": {detail}" if detail else ""),
                 style=None if ok else "red")

    def table(self, table: Table) -> None:
        self.rich.print(table)

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


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2) + "\n")
    sys.stdout.flush()


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines)
