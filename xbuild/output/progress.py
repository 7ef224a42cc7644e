"""Progress while a plan runs: a live view on a terminal, plain lines elsewhere, folds in CI."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from rich.live import Live
from rich.table import Table

from xbuild.core.plan import Target
from xbuild.core.results import ListResult, Status, TargetResult
from xbuild.output.console import Console

MARKS = {Status.BUILT: "✓", Status.PUSHED: "✓", Status.STAGED: "=", Status.UP_TO_DATE: "=",
         Status.DRY_RUN: "·",
         Status.FAILED: "✗", Status.SKIPPED: "-"}
STYLES = {Status.FAILED: "red", Status.SKIPPED: "yellow"}


class Progress:
    """Reports a run: a live table of what is building on a TTY, plain lines otherwise.

    In GitHub Actions each finished target's full log is printed inside a `::group::` fold.
    """

    def __init__(self, console: Console, total: int) -> None:
        self.console, self.total = console, total
        self._lock = threading.Lock()
        self._running: dict[str, tuple[Target, float, str]] = {}
        self._done = 0
        self._live: Live | None = None

    def __enter__(self) -> Progress:
        if self.console.is_tty and not self.console.github:
            self._live = Live(self._view(), console=self.console.rich, refresh_per_second=4,
                              transient=True, get_renderable=self._view)
            self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.__exit__(None, None, None)

    def _view(self) -> Table:
        table = Table(title=f"{self._done}/{self.total} done", title_justify="left", box=None)
        for column in ("target", "elapsed", "last line"):
            table.add_column(column, no_wrap=True, overflow="ellipsis")
        now = time.monotonic()
        for target, start, last in list(self._running.values()):
            table.add_row(str(target), f"{now - start:5.0f}s", last[-90:])
        return table

    def started(self, target: Target) -> None:
        with self._lock:
            self._running[target.key] = (target, time.monotonic(), "")
        if self._live is None:
            self.console.note(f"▶ {target}  ({target.ref})")

    def line(self, target: Target, text: str) -> None:
        with self._lock:
            if target.key in self._running:
                entry = self._running[target.key]
                self._running[target.key] = (entry[0], entry[1], text)

    def finished(self, result: TargetResult) -> None:
        with self._lock:
            self._running.pop(result.target.key, None)
            self._done += 1
        mark = MARKS[result.status]
        seconds = f" {result.seconds:.1f}s" if result.seconds else ""
        text = f"{mark} {result.target} {result.status}{seconds}"
        if result.detail:
            text += f": {result.detail.splitlines()[0]}"
        if self.console.github and result.log is not None:
            with self.console.group(text):
                log = _read(result.log)
                self.console.rich.file.write(log if log.endswith("\n") or not log else log + "\n")
            return
        self.console.say(text, style=STYLES.get(result.status))

    def list_finished(self, result: ListResult) -> None:
        self.console.list_result(str(result.manifest.ref), result.status, result.detail,
                                 result.status.ok)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
