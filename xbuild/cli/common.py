"""What every command shares: the app, one-line errors, option types, loading a plan."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, ParamSpec, TypeVar

import typer

from xbuild import __version__, session
from xbuild.console import Console
from xbuild.downloads import mirror_problem
from xbuild.errors import ExitCode, SelectionError, XbuildError
from xbuild.matrix import Matrix, load_matrix
from xbuild.plan import Plan, make_plan
from xbuild.platforms import ARCH_NAMES, Arch, arch_named

app = typer.Typer(
    name="xbuild",
    help="Build, publish and verify one family of Docker images for several CPU architectures.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

P = ParamSpec("P")
R = TypeVar("R")


class State:
    console = Console()
    debug = False


def handles_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Turn an XbuildError into one line on stderr and its exit code; never a traceback."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except XbuildError as exc:
            if State.debug:
                raise
            State.console.error(str(exc))
            raise typer.Exit(int(exc.exit_code)) from None
        except KeyboardInterrupt:
            State.console.error("interrupted")
            raise typer.Exit(130) from None
        except (typer.Exit, typer.Abort):
            raise
        except Exception as exc:
            if State.debug:
                raise
            State.console.error(f"internal error: {type(exc).__name__}: {exc} "
                                "(run with --debug for the traceback, and please report it)")
            raise typer.Exit(int(ExitCode.UNEXPECTED)) from None

    return wrapper


def _version(value: bool) -> None:
    if value:
        typer.echo(f"xbuild {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Echo every docker command.")]
    = False,
    debug: Annotated[bool, typer.Option(help="Show tracebacks instead of one-line errors.")]
    = False,
    version: Annotated[bool | None, typer.Option("--version", callback=_version, is_eager=True,
                                                 help="Print the version and exit.")] = None,
) -> None:
    """Build, publish and verify one family of Docker images for several CPU architectures.

    The matrix of images x architectures lives in matrix.yml (see README.md).
    """
    State.console = Console(verbose=verbose)
    State.debug = debug


MatrixOpt = Annotated[Path, typer.Option("--matrix", "-f", help="The matrix file.",
                                         show_default=True)]
ImagesArg = Annotated[list[str] | None, typer.Argument(
    help="Images to act on (default: all). A child brings its in-matrix parents along.",
    show_default=False)]
ArchOpt = Annotated[list[str] | None, typer.Option(
    "--arch", "-a", help=f"Only these architectures (repeatable): {', '.join(ARCH_NAMES)}.",
    show_default=False)]
NamespaceOpt = Annotated[str | None, typer.Option(
    help="Publish under this namespace instead of the matrix's, e.g. 127.0.0.1:5000/team.",
    show_default=False)]
TagOpt = Annotated[str | None, typer.Option(help="Use this tag instead of the matrix's.",
                                            show_default=False)]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")]
ParentsOpt = Annotated[bool, typer.Option(
    "--parents/--published-parents",
    help="Build in-matrix parents of the selected images in this run, or take the parents' "
         "per-arch tags already published.")]


def parse_arches(names: list[str] | None) -> tuple[Arch, ...]:
    arches = []
    for name in names or ():
        arch = arch_named(name)
        if arch is None:
            raise SelectionError(f"--arch {name!r}: unknown architecture; "
                                 f"known: {', '.join(ARCH_NAMES)}")
        arches.append(arch)
    return tuple(arches)


def load_plan(matrix_path: Path, images: list[str] | None, arch: list[str] | None, *,
              namespace: str | None, tag: str | None,
              parents: bool = True) -> tuple[Matrix, Plan]:
    arches = parse_arches(arch)
    matrix = load_matrix(matrix_path)
    plan = make_plan(matrix, images=images or (), arches=arches, namespace=namespace, tag=tag,
                     build_parents=parents)
    return matrix, plan


DEFAULT_JOBS = session.default_jobs()
PushOpt = Annotated[bool, typer.Option(help="Push per-arch tags, then publish manifest lists.")]
JobsOpt = Annotated[int, typer.Option("--jobs", "-j", min=1, help="Targets built at once "
                                      "(default: the number of CPUs, at least 2).")]
DryRunOpt = Annotated[bool, typer.Option(help="Print the docker commands; run none.")]
PartialOpt = Annotated[bool, typer.Option(
    help="Publish a manifest list over the arches that succeeded even if some failed.")]
VerifyOpt = Annotated[bool, typer.Option(
    help="After publishing, verify each manifest list as `xbuild verify` does.")]
LogDirOpt = Annotated[Path, typer.Option(help="Where each run keeps its per-target build logs.")]
MirrorOpt = Annotated[str | None, typer.Option(
    envvar="XBUILD_MIRROR", show_default=False,
    help="Fetch downloads from this mirror, laid out as <mirror>/<host>/<path> "
         "(`xbuild fetch --into` writes that layout), instead of their own hosts.")]


def checked_mirror(mirror: str | None) -> str | None:
    if mirror and (problem := mirror_problem(mirror)):
        raise SelectionError(f"--mirror/XBUILD_MIRROR: {problem}")
    return mirror or None




def main() -> None:
    try:
        app()
    except XbuildError as exc:  # raised outside a command, e.g. from an option callback
        State.console.error(str(exc))
        raise SystemExit(int(exc.exit_code)) from None

