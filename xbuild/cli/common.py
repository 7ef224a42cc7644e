"""What every command shares: the app, one-line errors, option types, loading a plan, and the
exit code. Commands import the pipeline inside their bodies, so `plan`, `--help` and
`--version` never load python-on-whales."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Iterable
from typing import Annotated, ParamSpec, TypeVar

import typer

import xbuild
from xbuild.cli.options import Options
from xbuild.core.downloads import mirror_problem
from xbuild.core.errors import ExitCode, SelectionError, XbuildError, exit_code
from xbuild.core.matrix import Matrix, load_matrix
from xbuild.core.nodes import NodeMap, parse_builder_options
from xbuild.core.plan import Plan, make_plan
from xbuild.core.platforms import ARCH_NAMES, Arch, arch_named
from xbuild.core.refs import quoted
from xbuild.core.yamlfile import suggest
from xbuild.output.console import Console

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
            for line in str(exc).splitlines():  # one line per problem (--locked names each)
                State.console.error(line)
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


def finish(outcomes: Iterable[bool], *, lied: bool = False) -> None:
    """End the command with the exit code its outcome gives (core/errors.py: exit_code)."""
    code = exit_code(outcomes, lied=lied)
    if code != ExitCode.OK:
        raise typer.Exit(int(code))


def _version(value: bool) -> None:
    if value:
        typer.echo(f"xbuild {xbuild.__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    verbose: Annotated[bool, typer.Option(
        "--verbose", "-v", help="Echo every docker and host command before it runs.")] = False,
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


def parse_arches(names: list[str] | None) -> tuple[Arch, ...]:
    arches = []
    for name in names or ():
        arch = arch_named(name)
        if arch is None:
            raise SelectionError(f"--arch {quoted(name)}: unknown architecture; "
                                 f"known: {', '.join(ARCH_NAMES)}")
        arches.append(arch)
    return tuple(arches)


def load_plan(o: Options) -> tuple[Matrix, Plan]:
    arches = parse_arches(o.arch)
    matrix = load_matrix(o.matrix)
    for warning in matrix.warnings():
        State.console.warn(warning)
    plan = make_plan(matrix, images=o.images or (), arches=arches, namespace=o.namespace,
                     tag=o.tag, build_parents=o.parents)
    return matrix, plan


def node_map(o: Options, matrix: Matrix) -> NodeMap:
    """Where each arch builds: matrix.yml's builders, overridden by --builder."""
    return matrix.builders.overridden(parse_builder_options(o.builder or ()))


def checked_rebuild(names: list[str] | None, matrix: Matrix) -> frozenset[str]:
    for name in names or ():
        if name != "*" and name not in matrix.names:
            raise SelectionError(f"--rebuild {quoted(name)}: no such image"
                                 f"{suggest(name, matrix.names)}; images: "
                                 f"{', '.join(matrix.names)}")
    return frozenset(names or ())


def checked_mirror(mirror: str | None) -> str | None:
    if mirror and (problem := mirror_problem(mirror)):
        raise SelectionError(f"--mirror/XBUILD_MIRROR: {problem}")
    return mirror or None


def rebuild_alone(argv: list[str]) -> list[str]:
    """`--rebuild` with no image after it means every image (typer wants a value)."""
    return [f"{arg}=*" if arg == "--rebuild" and (i + 1 == len(argv)
                                                  or argv[i + 1].startswith("-")) else arg
            for i, arg in enumerate(argv)]


def main() -> None:
    sys.argv[1:] = rebuild_alone(sys.argv[1:])
    try:
        app()
    except XbuildError as exc:  # raised outside a command, e.g. from an option callback
        State.console.error(str(exc))
        raise SystemExit(int(exc.exit_code)) from None
