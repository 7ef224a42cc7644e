"""The options of `xbuild workflow github`, checked into a WorkflowSpec. Pure.

Every value that reaches the workflow comes from the validated matrix or is checked here: a
malformed option is a SelectionError (one line, exit 2), so none can inject a key, an
expression or a shell word.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, replace

from xbuild.core.errors import SelectionError
from xbuild.core.matrix import Matrix
from xbuild.core.refs import namespace_problem
from xbuild.core.runners import BuildJob, build_jobs
from xbuild.core.text import quoted

DEFAULT_MATRIX = "matrix.yml"
DEFAULT_BRANCHES = ("main",)
DEFAULT_SCHEDULE = "23 4 * * 1"  # Mondays 04:23 UTC: off the hour, when GitHub is busiest
_BRANCH = re.compile(r"[A-Za-z0-9_*][A-Za-z0-9._/*-]{0,199}")
_MATRIX_FILE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._/-]{0,199}")
_CRON_FIELD = re.compile(r"[0-9A-Za-z*/,-]{1,40}")
# How the merge job signs what it publishes: cosign keyless (GitHub's OIDC token), with a key
# from the repository's secrets, or not at all.
SIGNING = ("keyless", "key", "none")
DEFAULT_SIGNING = "keyless"


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkflowSpec:
    """What the workflow is made from besides the matrix; checked by `workflow_spec`."""

    namespace: str
    jobs: tuple[BuildJob, ...]  # every arch of the matrix, on its runner
    branches: tuple[str, ...] = DEFAULT_BRANCHES
    matrix_file: str = DEFAULT_MATRIX  # the matrix as the checkout names it
    schedule: str | None = DEFAULT_SCHEDULE  # cron; None: no scheduled runs
    bases: bool = False  # the matrix declares bases: refresh runs bootstrap them first
    signing: str = DEFAULT_SIGNING  # one of SIGNING
    command: str = "xbuild workflow github"  # the command line that regenerates the file


def workflow_spec(matrix: Matrix, *, namespace: str | None = None, runners: Sequence[str] = (),
                  hosted: bool = False, branches: Sequence[str] = (),
                  matrix_file: str = DEFAULT_MATRIX, schedule: str | None = None,
                  no_schedule: bool = False, signing: str = DEFAULT_SIGNING) -> WorkflowSpec:
    """The checked options; SelectionError (one line, exit 2) for anything malformed."""
    _check(namespace, branches, matrix_file)
    if signing not in SIGNING:
        raise SelectionError(f"--signing {quoted(signing)}: expected one of "
                             f"{', '.join(SIGNING)}")
    spec = WorkflowSpec(
        namespace=namespace or matrix.namespace, branches=tuple(branches) or DEFAULT_BRANCHES,
        matrix_file=matrix_file, bases=bool(matrix.bases), signing=signing,
        schedule=_schedule(schedule, no_schedule),
        jobs=build_jobs(matrix.all_arches, runners, hosted=hosted, builders=matrix.builders))
    return replace(spec, command=_command(matrix, spec, runners, hosted=hosted))


def _check(namespace: str | None, branches: Sequence[str], matrix_file: str) -> None:
    if namespace is not None and (problem := namespace_problem(namespace)):
        raise SelectionError(f"--namespace {quoted(namespace)}: {problem}")
    for branch in branches:
        if not _BRANCH.fullmatch(branch) or ".." in branch:
            raise SelectionError(f"--branch {quoted(branch)}: not a branch name or pattern "
                                 "(letters, digits, . _ / - and *)")
    if not _MATRIX_FILE.fullmatch(matrix_file) or ".." in matrix_file.split("/"):
        raise SelectionError(f"-f {quoted(matrix_file)}: the matrix must lie inside the "
                             "checkout the workflow runs in")


def _schedule(cron: str | None, no_schedule: bool) -> str | None:
    if cron is not None and no_schedule:
        raise SelectionError("--schedule and --no-schedule contradict each other: give one")
    if no_schedule:
        return None
    if cron is None:
        return DEFAULT_SCHEDULE
    fields = cron.split(" ")
    if len(fields) != 5 or not all(_CRON_FIELD.fullmatch(f) for f in fields):
        raise SelectionError(f"--schedule {quoted(cron)}: expected five cron fields separated "
                             "by single spaces (minute hour day month weekday), e.g. "
                             f"{quoted(DEFAULT_SCHEDULE)}")
    return cron


def _command(matrix: Matrix, spec: WorkflowSpec, runners: Sequence[str], *,
             hosted: bool) -> str:
    """The command line that writes this workflow again: the options that are not defaults."""
    words = ["xbuild", "workflow", "github"]
    if spec.matrix_file != DEFAULT_MATRIX:
        words += ["-f", spec.matrix_file]
    if spec.namespace != matrix.namespace:
        words += ["--namespace", spec.namespace]
    if hosted:
        words.append("--hosted")
    for value in sorted(runners):
        words += ["--runner", value]
    if spec.branches != DEFAULT_BRANCHES:
        for branch in spec.branches:
            words += ["--branch", branch]
    if spec.schedule is None:
        words.append("--no-schedule")
    elif spec.schedule != DEFAULT_SCHEDULE:
        words += ["--schedule", spec.schedule]
    if spec.signing != DEFAULT_SIGNING:
        words += ["--signing", spec.signing]
    return shlex.join(words)
