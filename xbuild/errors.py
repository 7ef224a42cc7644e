"""Errors a user can act on. Each carries the exit code the CLI returns for it."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    UNEXPECTED = 1
    CONFIG = 2  # bad matrix.yml or command line
    NOTHING_TO_DO = 3  # the selection matched no image x arch
    ENVIRONMENT = 4  # engine, buildx, QEMU or registry not usable
    PARTIAL = 5  # some targets failed, the others succeeded
    FAILED = 6  # every target failed
    VERIFY = 7  # a published image is not what it claims


class XbuildError(Exception):
    exit_code: ExitCode = ExitCode.UNEXPECTED


class MatrixError(XbuildError):
    """matrix.yml is invalid; the message names the file and the key."""

    exit_code = ExitCode.CONFIG


class SelectionError(XbuildError):
    """The command line asks for something the matrix does not have."""

    exit_code = ExitCode.CONFIG


class NothingToDo(XbuildError):
    exit_code = ExitCode.NOTHING_TO_DO


class EnvironmentProblem(XbuildError):
    """The host cannot do what was asked: no engine, no buildx, no QEMU for an arch."""

    exit_code = ExitCode.ENVIRONMENT


class RegistryError(XbuildError):
    exit_code = ExitCode.ENVIRONMENT
