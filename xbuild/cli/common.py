"""What every command shares: the app, one-line errors, option types, loading a plan, and the
exit code. Commands import the pipeline inside their bodies, so `plan`, `--help` and
`--version` never load python-on-whales."""

from __future__ import annotations

import copy
import functools
import inspect
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Annotated, Any, ParamSpec, TypeVar

import typer
from typer.core import TyperCommand, TyperGroup, TyperOption

import xbuild
from xbuild.core.downloads import mirror_problem
from xbuild.core.errors import ExitCode, InvalidReference, SelectionError, XbuildError, exit_code
from xbuild.core.matrix import Matrix, load_matrix
from xbuild.core.nodes import NodeMap, parse_builder_options
from xbuild.core.plan import Plan, make_plan
from xbuild.core.platforms import Arch, UnknownArch, parse_arch
from xbuild.core.refs import Reference
from xbuild.core.settings import SigningSettings
from xbuild.core.text import quoted, suggest
from xbuild.output.console import Console

GLOBAL_OPTIONS = ("verbose", "debug")


def prose(text: str | None) -> str | None:
    """Help text as paragraphs of one line each: a docstring's own line breaks would reach
    the terminal mid-sentence; rich wraps a one-line paragraph at the terminal's width."""
    if text is None:
        return None
    return "\n\n".join(" ".join(p.split()) for p in inspect.cleandoc(text).split("\n\n"))


class XbuildGroup(TyperGroup):
    """The app's command tree, amended once as typer builds it: every help text wraps as
    prose, and every command also takes the global options after its name
    (`xbuild all --push -v` as well as `xbuild -v all --push`), listed in its --help."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.help = prose(self.help)
        after = [_after_command(p) for p in self.params
                 if isinstance(p, TyperOption) and p.name in GLOBAL_OPTIONS]
        _amend(self.commands.values(), after)


def _after_command(option: TyperOption) -> TyperOption:
    """A global option's copy for a command's own command line: given there, it turns the
    same setting on (State.set) and passes nothing to the command."""
    copied = copy.copy(option)
    copied.expose_value = False
    copied.callback = _given_after_command
    copied.rich_help_panel = "Global options"
    return copied


def _given_after_command(_ctx: object, param: object, value: bool) -> None:
    if value and isinstance(param, TyperOption) and param.name:
        State.set(param.name, value)


def _amend(commands: Iterable[object], after: list[TyperOption]) -> None:
    for command in commands:
        if isinstance(command, TyperGroup):
            command.help = prose(command.help)
            _amend(command.commands.values(), after)
        elif isinstance(command, TyperCommand):
            command.help = prose(command.help)
            command.params.extend(after)


app = typer.Typer(
    name="xbuild",
    help="Build, publish and verify one family of Docker images for several CPU architectures.",
    cls=XbuildGroup,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

P = ParamSpec("P")
R = TypeVar("R")


class State:
    console = Console()
    debug = False

    @classmethod
    def set(cls, name: str, value: bool) -> None:
        """Set a global option (GLOBAL_OPTIONS), given before or after the command."""
        if name == "verbose":
            cls.console.verbose = value
        else:
            cls.debug = value


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
    debug: Annotated[bool, typer.Option(
        "--debug", help="Show tracebacks instead of one-line errors.")] = False,
    version: Annotated[bool | None, typer.Option("--version", callback=_version, is_eager=True,
                                                 help="Print the version and exit.")] = None,
) -> None:
    """Build, publish and verify one family of Docker images for several CPU architectures.

    The matrix of images x architectures lives in matrix.yml (see README.md).
    """
    State.console = Console(verbose=verbose)
    State.debug = debug


def parse_arches(names: list[str] | None) -> tuple[Arch, ...]:
    try:
        return tuple(parse_arch(name) for name in names or ())
    except UnknownArch as exc:
        raise SelectionError(f"--arch: {exc}") from None


def load_plan(matrix_file: Path, images: list[str] | None, arch: list[str] | None, *,
              namespace: str | None = None, tag: str | None = None,
              parents: bool = True) -> tuple[Matrix, Plan]:
    """The matrix and the plan of the images x arches a command selects."""
    arches = parse_arches(arch)
    matrix = load_matrix(matrix_file)
    for warning in matrix.warnings():
        State.console.warn(warning)
    plan = make_plan(matrix, images=images or (), arches=arches, namespace=namespace, tag=tag,
                     build_parents=parents)
    return matrix, plan


def node_map(builder: list[str] | None, matrix: Matrix) -> NodeMap:
    """Where each arch builds: matrix.yml's builders, overridden by --builder."""
    return matrix.builders.overridden(parse_builder_options(builder or ()))


def signing_settings(key: Path | None, keyless: bool) -> SigningSettings:
    if key is not None and keyless:
        raise SelectionError("--sign-key signs with a key pair and --sign-keyless without "
                             "one: pass one of them")
    return SigningSettings(key=key, keyless=keyless)


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


def image_ref(text: str, matrix: Matrix | None) -> Reference:
    """An image named on the command line; without a tag, the matrix's (else latest)."""
    try:
        reference = Reference.parse(text)
    except InvalidReference as exc:
        raise SelectionError(f"not an image reference: {exc}") from None
    if not reference.tag and not reference.digest:
        return Reference(repository=reference.repository, tag=matrix.tag if matrix else "latest")
    return reference
