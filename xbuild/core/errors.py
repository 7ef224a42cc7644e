"""Every error a user can meet, each with the exit code the CLI returns for it, and the one
function that turns a command's outcome into its exit code."""

from __future__ import annotations

from collections.abc import Iterable
from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    UNEXPECTED = 1
    CONFIG = 2  # bad matrix.yml or command line
    NOTHING_TO_DO = 3  # the selection matched no image x arch
    ENVIRONMENT = 4  # engine, buildx, QEMU, registry or a host tool not usable
    PARTIAL = 5  # some of the work failed, the rest succeeded
    FAILED = 6  # all of the work failed
    VERIFY = 7  # an image is not what it claims


def exit_code(outcomes: Iterable[bool], *, lied: bool = False) -> ExitCode:
    """The exit code of any command, from whether each unit of its work (a target, a list, a
    base, a download, a node) succeeded, and whether verification caught a lie.

    A lie outranks everything else: it is the one outcome a user must never miss.
    """
    if lied:
        return ExitCode.VERIFY
    done = list(outcomes)
    if all(done):
        return ExitCode.OK
    return ExitCode.PARTIAL if any(done) else ExitCode.FAILED


class XbuildError(Exception):
    """A problem the user can act on: printed as one line, never as a traceback."""

    exit_code: ExitCode = ExitCode.UNEXPECTED


class ConfigError(XbuildError):
    """The user's input is wrong: matrix.yml or the command line. Nothing has run."""

    exit_code = ExitCode.CONFIG


class MatrixError(ConfigError):
    """matrix.yml is invalid; the message names the file and the key."""


class SelectionError(ConfigError):
    """The command line asks for something the matrix does not have, or is malformed."""


class InvalidReference(ConfigError):
    """Text that is not a Docker image reference; callers add where it came from."""


class NothingToDo(XbuildError):
    exit_code = ExitCode.NOTHING_TO_DO


class HostError(XbuildError):
    """The host cannot do what was asked."""

    exit_code = ExitCode.ENVIRONMENT


class EnvironmentProblem(HostError):
    """No engine, no buildx, no QEMU for an arch, a tool missing."""


class RegistryError(HostError):
    """A registry cannot be read or written (unreachable, refused, not logged in)."""


class NotAList(XbuildError):
    """`xbuild verify` was given a single image where a list over arches was expected."""

    exit_code = ExitCode.VERIFY


class CommandFailed(HostError):
    """A docker or host command failed; `output` holds what it said (the log keeps all)."""

    def __init__(self, command: str, output: str) -> None:
        lines = output.strip().splitlines()
        super().__init__(lines[-1] if lines else f"{command}: failed")
        self.command = command
        self.output = output


class DownloadError(XbuildError):
    """One download failed for good; the message is one line naming the URL."""

    exit_code = ExitCode.FAILED

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"{url}: {reason}")
        self.url, self.reason = url, reason
