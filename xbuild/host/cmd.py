"""The one place xbuild starts a process that is not docker: echoed at -v, always under a
timeout, failing with one error type (CommandFailed) that names the command."""

from __future__ import annotations

import shlex
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from xbuild.core.errors import CommandFailed, EnvironmentProblem

LineSink = Callable[[str], None]
DEFAULT_TIMEOUT = 600.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Completed:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return (self.stdout + self.stderr).strip()


class Background:
    """A process left running on purpose (the local registry), in its own session."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self._process = process

    @property
    def pid(self) -> int:
        return self._process.pid

    def alive(self) -> bool:
        return self._process.poll() is None

    def terminate(self) -> None:
        self._process.terminate()


class Shell:
    """Runs host commands. `echo` receives each command before it runs (None: silent); a dry
    run echoes the commands that change the host and runs none of them."""

    def __init__(self, *, echo: LineSink | None = None, dry_run: bool = False) -> None:
        self.echo = echo
        self.dry_run = dry_run

    def _announce(self, argv: Sequence[str]) -> str:
        command = shlex.join(argv)
        if self.echo is not None:
            self.echo(command)
        return command

    def run(self, argv: Sequence[str], *, cwd: Path | None = None, check: bool = True,
            timeout: float = DEFAULT_TIMEOUT, output: Path | None = None,
            env: Mapping[str, str] | None = None, reads_only: bool = False) -> Completed:
        """Run `argv` to the end. With `output`, what it prints is appended to that file
        (with the command first) instead of being kept; else it is captured. A dry run runs
        only what `reads_only`."""
        command = self._announce(argv)
        if self.dry_run and not reads_only:
            return Completed(exit_code=0, stdout="", stderr="")
        try:
            if output is not None:
                return self._run_into(argv, command, output, cwd=cwd, timeout=timeout,
                                      check=check, env=env)
            done = subprocess.run(list(argv), cwd=cwd, capture_output=True, text=True,
                                  errors="replace", timeout=timeout, check=False, env=env)
        except FileNotFoundError:
            raise EnvironmentProblem(f"{argv[0]} is not installed (ci/host-setup.sh installs "
                                     "what xbuild needs)") from None
        except subprocess.TimeoutExpired:
            raise CommandFailed(command, f"{command}: timed out after {timeout:.0f}s") from None
        result = Completed(exit_code=done.returncode, stdout=done.stdout, stderr=done.stderr)
        if check and result.exit_code != 0:
            raise CommandFailed(command, result.output or f"exit {result.exit_code}")
        return result

    def _run_into(self, argv: Sequence[str], command: str, output: Path, *, cwd: Path | None,
                  timeout: float, check: bool, env: Mapping[str, str] | None) -> Completed:
        with output.open("a", encoding="utf-8") as log:
            log.write(f"+ {command}\n")
            log.flush()
            done = subprocess.run(list(argv), cwd=cwd, stdout=log, stderr=subprocess.STDOUT,
                                  timeout=timeout, check=False, env=env)
        if check and done.returncode != 0:
            raise CommandFailed(command, f"{argv[0]} failed (exit {done.returncode}); "
                                         f"see {output}")
        return Completed(exit_code=done.returncode, stdout="", stderr="")

    def spawn(self, argv: Sequence[str], *, output: Path) -> Background:
        """Start `argv` in the background, in its own session, output appended to `output`."""
        self._announce(argv)
        try:
            with output.open("ab") as log:
                process = subprocess.Popen(list(argv), stdout=log, stderr=log,
                                           stdin=subprocess.DEVNULL, start_new_session=True)
        except FileNotFoundError:
            raise EnvironmentProblem(f"{argv[0]} is not installed") from None
        return Background(process)
