"""Build identity: what changes it, what does not, and the FROM lines it depends on."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from tests.unit.fakes import arch
from xbuild.core import dockerfile as df
from xbuild.core.identity import (
    Inputs,
    SourceDigest,
    external_bases,
    identity,
    inputs_for,
    read_source,
)
from xbuild.core.plan import Target
from xbuild.core.refs import Reference

AMD64, ARM64 = arch("amd64"), arch("arm64v8")
BASE = "debian:bookworm-slim"
D1, D2 = "sha256:" + "1" * 64, "sha256:" + "2" * 64


def target(*, args: tuple[tuple[str, str], ...] = (("A", "1"), ("B", "2")),
           a: str = "amd64", parent: bool = False) -> Target:
    return Target(image="img", arch=arch(a), ref=Reference.parse(f"ns/img:t-{a}"), level=0,
                  context=Path("/ctx"), dockerfile=Path("/ctx/Dockerfile"), build_args=args,
                  parent="base" if parent else None,
                  parent_name=Reference.parse("ns/base:t") if parent else None)


SOURCE = SourceDigest(context="c" * 64, dockerfile="d" * 64, bases=(BASE,))


def inputs(**changes: object) -> Inputs:
    made = inputs_for(target(), SOURCE, downloads=[("jre.tar.gz", "e" * 64)],
                      bases={BASE: D1}, parent=None)
    return replace(made, **changes)  # type: ignore[arg-type]


def test_identity_is_a_sha256_of_the_written_down_inputs() -> None:
    expected = hashlib.sha256(json.dumps({
        "version": "xbuild identity v1", "context": "c" * 64, "dockerfile": "d" * 64,
        "platform": "linux/amd64", "build_args": [["A", "1"], ["B", "2"]],
        "downloads": [["jre.tar.gz", "e" * 64]], "bases": [[BASE, D1]], "parent": "",
        "description": "",
    }, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    assert identity(inputs()) == f"sha256:{expected}"


@pytest.mark.parametrize("change", [
    pytest.param({"source": replace(SOURCE, context="0" * 64)}, id="context-files"),
    pytest.param({"source": replace(SOURCE, dockerfile="0" * 64)}, id="dockerfile"),
    pytest.param({"platform": "linux/arm64/v8"}, id="platform"),
    pytest.param({"build_args": (("A", "1"), ("B", "3"))}, id="an-arg-value"),
    pytest.param({"downloads": (("jre.tar.gz", "f" * 64),)}, id="a-download-checksum"),
    pytest.param({"bases": ((BASE, D2),)}, id="a-freshly-bootstrapped-base"),
    pytest.param({"description": "new words"}, id="the-description"),
])
def test_what_changes_the_identity(change: dict[str, object]) -> None:
    assert identity(inputs(**change)) != identity(inputs())


def test_the_order_of_args_does_not_change_it() -> None:
    shuffled = inputs_for(target(args=(("B", "2"), ("A", "1"))), SOURCE,
                          downloads=[("jre.tar.gz", "e" * 64)], bases={BASE: D1}, parent=None)
    assert identity(shuffled) == identity(inputs())


def test_the_parent_identity_counts_only_for_a_child() -> None:
    child = inputs_for(target(parent=True), SOURCE, downloads=[], bases={BASE: D1}, parent=D1)
    other = inputs_for(target(parent=True), SOURCE, downloads=[], bases={BASE: D1}, parent=D2)
    assert identity(child) != identity(other)
    orphan = inputs_for(target(), SOURCE, downloads=[], bases={BASE: D1}, parent=D2)
    assert orphan.parent == ""


@pytest.mark.parametrize(("change", "unknown"), [
    pytest.param({"downloads": (("jre.tar.gz", None),)}, ("download jre.tar.gz",),
                 id="an-unlocked-download"),
    pytest.param({"bases": ((BASE, None),)}, (f"base {BASE}",), id="an-unresolved-base"),
    pytest.param({"parent": None}, ("the parent's identity",), id="an-unknown-parent"),
])
def test_an_unknown_input_gives_no_identity(change: dict[str, object],
                                            unknown: tuple[str, ...]) -> None:
    assert inputs(**change).unknown == unknown
    assert identity(inputs(**change)) is None


# --- from the files -----------------------------------------------------------------------

Write = Callable[[dict[str, str]], Path]


@pytest.fixture
def context(tmp_path: Path) -> Write:
    def write(files: dict[str, str]) -> Path:
        for name, text in files.items():
            (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / name).write_text(text)
        return tmp_path

    return write


FILES = {"Dockerfile": f"FROM {BASE}\nCOPY . /app\n", "app.py": "print(1)\n",
         ".dockerignore": "notes/\n", "notes/todo.txt": "later\n"}


def source_of(root: Path) -> SourceDigest:
    return read_source(root, root / "Dockerfile", None)


def test_an_ignored_file_does_not_change_the_source(context: Write) -> None:
    root = context(FILES)
    before = source_of(root)
    (root / "notes" / "todo.txt").write_text("much later\n")
    (root / "notes" / "new.txt").write_text("new\n")
    assert source_of(root) == before


def test_a_file_mode_changes_the_source_and_a_touch_does_not(context: Write) -> None:
    root = context(FILES)
    before = source_of(root)
    os.utime(root / "app.py", (1, 1))
    assert source_of(root) == before
    (root / "app.py").chmod(0o755)
    assert source_of(root) != before


def test_a_dockerfile_change_outside_the_context_still_counts(context: Write) -> None:
    root = context({**FILES, ".dockerignore": "Dockerfile\nnotes/\n"})
    before = source_of(root)
    (root / "Dockerfile").write_text(f"FROM {BASE}\nCOPY . /srv\n")
    assert source_of(root).dockerfile != before.dockerfile


@pytest.mark.parametrize(("text", "parent", "bases"), [
    pytest.param(f"FROM {BASE}\n", None, (BASE,), id="one-base"),
    pytest.param("FROM scratch\nCOPY x /\n", None, (), id="scratch"),
    pytest.param("FROM ns/orthanc:latest\n", "ns/orthanc:latest", (), id="the-parent"),
    pytest.param(f"FROM {BASE} AS build\nRUN make\nFROM build\nFROM --platform=$BUILDPLATFORM "
                 "alpine:3 AS tools\n", None, (BASE, "alpine:3"), id="stages-and-flags"),
    pytest.param(f"# FROM evil\nFROM {BASE}\nfrom {BASE}\n", None, (BASE,), id="comment-twice"),
])
def test_external_bases(text: str, parent: str | None, bases: tuple[str, ...]) -> None:
    assert external_bases(text, parent) == bases


def test_from_lines_name_each_image_and_the_stage_it_starts() -> None:
    text = ("FROM --platform=$BUILDPLATFORM golang:1 AS build\n# FROM commented:out\n"
            "FROM \\\n  scratch\nCOPY --from=build /x /x\nfrom base as Final\n")
    assert df.from_lines(text) == (df.From(image="golang:1", stage="build"),
                                   df.From(image="scratch"),
                                   df.From(image="base", stage="Final"))
