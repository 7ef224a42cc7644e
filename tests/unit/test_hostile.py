"""Hostile matrices stop at validation: exit 2, one line, no traceback, and nothing run.
(The loader's messages for each case: conftest.py HOSTILE_CASES, shared by test_matrix.py and
test_cli_plan.py.)"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.unit.conftest import HOSTILE_CASES, write_matrix_file
from xbuild.cli import app
from xbuild.core.errors import MatrixError
from xbuild.core.matrix import load_matrix

runner = CliRunner(env={"COLUMNS": "250", "GITHUB_ACTIONS": None})
CANARY = Path("/tmp/xbuild-canary")


@pytest.fixture(autouse=True)
def no_canary() -> None:
    CANARY.unlink(missing_ok=True)


@pytest.mark.parametrize("command", [["bases"], ["bases", "--dry-run"], ["all", "--push"],
                                     ["plan"], ["fetch"], ["doctor"], ["qemu"]],
                         ids="-".join)
def test_a_hook_in_a_suite_runs_nothing_whatever_the_command(
        write_matrix: Callable[..., Path], matrix_doc: dict[str, Any],
        command: list[str]) -> None:
    matrix_doc["bases"] = {"debian:bookworm-slim": {
        "suite": f"--customize-hook=touch {CANARY}", "mirror": "http://deb.debian.org/debian"}}
    path = write_matrix(matrix_doc)
    # the unit tier's guard fails the test if any process starts (exit 1, not 2)
    result = runner.invoke(app, [*command, "-f", str(path)])
    assert result.exit_code == 2, result.output
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert "bases.debian:bookworm-slim.suite" in result.stderr
    assert not CANARY.exists()


def test_a_dockerfile_symlinked_out_of_the_tree_is_refused(
        write_matrix: Callable[..., Path], matrix_doc: dict[str, Any], tmp_path: Path) -> None:
    path = write_matrix(matrix_doc, without_dockerfile=("orthanc",))
    (tmp_path / "images" / "orthanc" / "Dockerfile").symlink_to("/etc/passwd")
    result = runner.invoke(app, ["plan", "-f", str(path)])
    assert result.exit_code == 2
    assert "images.orthanc.dockerfile: 'Dockerfile' leads outside" in result.stderr


def test_a_context_symlinked_out_of_the_tree_is_refused(
        write_matrix: Callable[..., Path], matrix_doc: dict[str, Any], tmp_path: Path) -> None:
    matrix_doc["images"]["orthanc"]["context"] = "docker-home"
    path = write_matrix(matrix_doc, without_context=("orthanc",))
    (tmp_path / "docker-home").symlink_to(Path.home())
    result = runner.invoke(app, ["plan", "-f", str(path)])
    assert result.exit_code == 2
    assert "images.orthanc.context: 'docker-home' leads outside" in result.stderr


def test_the_alias_bomb_is_refused_before_it_expands(tmp_path: Path) -> None:
    (bomb,) = [c for c in HOSTILE_CASES if c.id == "alias-bomb"]
    text = bomb.doc({})
    assert isinstance(text, str) and len(text) < 500  # 9**7 strings once expanded
    path = tmp_path / "matrix.yml"
    path.write_text(text)
    started = time.monotonic()
    with pytest.raises(MatrixError, match="aliases"):
        load_matrix(path)
    assert time.monotonic() - started < 1  # it took 10 s and a MemoryError before


def test_messages_quote_at_most_80_characters_of_a_value(
        write_matrix: Callable[..., Path], matrix_doc: dict[str, Any]) -> None:
    matrix_doc["tag"] = "-" + "x" * 5000
    result = runner.invoke(app, ["plan", "-f", str(write_matrix(matrix_doc))])
    assert result.exit_code == 2
    assert len(result.stderr) < 400


@pytest.mark.parametrize("field, value", [("context", "../.."), ("context", "/"),
                                          ("dockerfile", "../../../victim")])
def test_the_fixture_writes_no_hostile_path(tmp_path: Path, matrix_doc: dict[str, Any],
                                            field: str, value: str) -> None:
    """These tests run as root: a hostile case's path must never be created or written.
    (The fixture once wrote its default Dockerfile over /etc/passwd.)"""
    root = tmp_path / "a" / "b"
    root.mkdir(parents=True)
    matrix_doc["images"]["orthanc"][field] = value
    before = set(Path("/").iterdir())
    write_matrix_file(root, matrix_doc)
    assert {q for q in tmp_path.rglob("*") if not q.is_relative_to(root)} == {root.parent}
    assert set(Path("/").iterdir()) == before
    assert (root / "images" / "orthanc-plugins" / "Dockerfile").is_file()  # sane ones still are
