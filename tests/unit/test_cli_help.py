"""The command line as the README documents it: the global options (-v, --debug) after the
command as well as before it, and every --help text wrapped as prose, not at the docstring's
own line breaks."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner, Result

from xbuild.cli import app
from xbuild.cli.common import State

REPO = Path(__file__).resolve().parents[2]
MATRIX = str(REPO / "tests" / "fixtures" / "matrix" / "matrix.yml")
WIDE = CliRunner(env={"COLUMNS": "1000", "FORCE_COLOR": None, "TTY_COMPATIBLE": None,
                      "GITHUB_ACTIONS": None})

# Every command, written down: a new command must be added here to be checked.
COMMANDS = [
    (), ("plan",), ("build",), ("all",), ("manifest",), ("fetch",), ("qemu",), ("doctor",),
    ("bases",), ("verify",), ("sbom",), ("registry",), ("registry", "start"),
    ("registry", "stop"), ("registry", "status"), ("workflow",), ("workflow", "dependabot"),
    ("workflow", "github"),
]


def xbuild(*args: str) -> Result:
    return WIDE.invoke(app, list(args))


def raw_helps(typer_app: typer.Typer, path: tuple[str, ...] = ()) -> Iterator[
        tuple[tuple[str, ...], str]]:
    """(command path, help as written in the source) for the app, its groups and commands."""
    own = typer_app.info.help
    yield path, own if isinstance(own, str) else ""
    for command in typer_app.registered_commands:
        assert command.callback is not None
        name = command.name or command.callback.__name__
        yield (*path, name), command.help or inspect.getdoc(command.callback) or ""
    for group in typer_app.registered_groups:
        assert group.typer_instance is not None and isinstance(group.name, str)
        yield from raw_helps(group.typer_instance, (*path, group.name))


def one_line(paragraph: str) -> str:
    return " ".join(paragraph.split())


def rendered_lines(result: Result) -> list[str]:
    """The help's lines without rich's padding and panel borders."""
    return [line.strip(" │") for line in result.stdout.splitlines()]


RAW = dict(raw_helps(app))


def test_every_command_is_checked() -> None:
    assert sorted(RAW) == sorted(COMMANDS)


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p) or "xbuild")
def test_help_paragraphs_are_not_broken_at_the_docstrings_line_breaks(
        path: tuple[str, ...]) -> None:
    """At 1000 columns every paragraph of a command's help fits on one line: a line break
    written in the docstring must not reach the terminal."""
    result = xbuild(*path, "--help")
    assert result.exit_code == 0, result.output
    lines = rendered_lines(result)
    paragraphs = [one_line(p) for p in inspect.cleandoc(RAW[path]).split("\n\n") if p.strip()]
    assert paragraphs, f"{path} has no help text"
    for paragraph in paragraphs:
        assert any(paragraph in line for line in lines), (paragraph, result.stdout)


@pytest.mark.parametrize("group", [(), ("registry",), ("workflow",)],
                         ids=["xbuild", "registry", "workflow"])
def test_command_lists_show_each_first_paragraph_on_one_line(group: tuple[str, ...]) -> None:
    lines = rendered_lines(xbuild(*group, "--help"))
    subcommands = [p for p in COMMANDS if len(p) == len(group) + 1 and p[:-1] == group]
    assert subcommands
    for path in subcommands:
        first = one_line(inspect.cleandoc(RAW[path]).split("\n\n")[0])
        assert any(line.startswith(path[-1]) and line.endswith(first) for line in lines), (
            path, first)


def test_known_sentences_read_as_one_line() -> None:
    build = rendered_lines(xbuild("build", "--help"))
    assert any("pinned by digest. With --push, a target whose published image carries the "
               "identity this checkout gives it (see README, Incremental releases) is up to "
               "date: not built, not pushed." in line for line in build)
    github = rendered_lines(xbuild("workflow", "github", "--help"))
    assert any("(`xbuild all --push --arch`, skipping what is up to date)" in line
               for line in github)


@pytest.mark.parametrize("args", [
    pytest.param(("-v", "plan", "-f", MATRIX), id="before"),
    pytest.param(("plan", "-v", "-f", MATRIX), id="after"),
    pytest.param(("plan", "-f", MATRIX, "--verbose"), id="after-long"),
    pytest.param(("workflow", "github", "-f", MATRIX, "-o", "-", "-v"), id="after-nested"),
])
def test_verbose_is_taken_before_or_after_the_command(args: tuple[str, ...]) -> None:
    result = xbuild(*args)
    assert result.exit_code == 0, result.output
    assert State.console.verbose is True
    assert State.debug is False


@pytest.mark.parametrize("args", [
    pytest.param(("--debug", "plan", "-f", MATRIX), id="before"),
    pytest.param(("plan", "-f", MATRIX, "--debug"), id="after"),
])
def test_debug_is_taken_before_or_after_the_command(args: tuple[str, ...]) -> None:
    result = xbuild(*args)
    assert result.exit_code == 0, result.output
    assert State.debug is True
    assert State.console.verbose is False


def test_without_global_options_both_are_off() -> None:
    xbuild("-v", "--debug", "plan", "-f", MATRIX)
    result = xbuild("plan", "-f", MATRIX)
    assert result.exit_code == 0, result.output
    assert (State.console.verbose, State.debug) == (False, False)


@pytest.mark.parametrize("path", [("build",), ("all",), ("registry", "start")],
                         ids=["build", "all", "registry-start"])
def test_a_commands_help_lists_the_global_options(path: tuple[str, ...]) -> None:
    lines = rendered_lines(xbuild(*path, "--help"))
    panel = lines.index(next(line for line in lines if "Global options" in line))
    assert lines[panel + 1].split()[:2] == ["--verbose", "-v"]
    assert lines[panel + 2].split()[:1] == ["--debug"]

