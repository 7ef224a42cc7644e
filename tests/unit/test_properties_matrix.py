"""Property tests of the matrix loader (core/yamlfile.py, core/matrix.py, core/imagespec.py)
and of the Dockerfile reader it uses (core/dockerfile.py): any document, and any value put
anywhere in a valid one, loads into a Matrix or fails with one MatrixError line, within the
bound; worst cases built on purpose (deep nesting, long lines, many keys, aliases, a FIFO or
a device for a file) too.

Written against `dockerfile.from_lines` / `labels_description`: the one Dockerfile reader."""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.unit.bounds import MAX_INPUT, timed, within_bounds
from tests.unit.conftest import valid_doc, write_matrix_file
from xbuild.core import dockerfile
from xbuild.core.errors import MatrixError
from xbuild.core.matrix import Matrix, load_matrix

# Hypothesis' function-scoped fixture check: each example writes into its own folder below
# tmp_path, so sharing tmp_path between examples is what is wanted.
_SHARED_TMP = settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
_counter = iter(range(10**9))


def load(path: Path) -> Matrix | None:
    return timed("matrix.load_matrix", lambda: loaded(path))


def loaded(path: Path) -> Matrix | None:
    """The matrix, or None when it is refused with one line naming the file."""
    try:
        return load_matrix(path)
    except MatrixError as error:
        assert "\n" not in str(error) and str(error).startswith(str(path)), str(error)
        return None


def fresh(tmp_path: Path) -> Path:
    folder = tmp_path / f"m{next(_counter)}"
    folder.mkdir()
    return folder


scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                    st.text(max_size=40))
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)),
    max_leaves=20)
KEY_PATHS = [(), ("namespace",), ("tag",), ("architectures",), ("images",),
             ("images", "orthanc"), ("images", "orthanc", "context"),
             ("images", "orthanc", "args"), ("images", "orthanc", "downloads"),
             ("images", "orthanc", "smoke"), ("images", "orthanc", "architectures"),
             ("images", "orthanc-plugins", "from"), ("images", "orthanc", "dockerfile"),
             ("images", "orthanc", "arch_args"), ("bases",), ("redirects",), ("builders",)]


@_SHARED_TMP
@given(st.sampled_from(KEY_PATHS), values)
@example(("images", "orthanc", "context"), "../../../etc")
@example(("images", "orthanc", "downloads"), {"a.zip": {"url": {"amd64": None}}})
@example(("images", "orthanc", "context"), "\x00")  # found by this test: resolve()'s ValueError
@example(("images", "orthanc", "dockerfile"), "a\x00")
@example(("images", "orthanc", "secrets"), {"s": {"file": "\x00"}})
def test_any_value_anywhere_in_a_matrix(tmp_path: Path, key: tuple[str, ...],
                                        value: Any) -> None:
    doc: Any = copy.deepcopy(valid_doc())
    if not key:
        doc = value
    else:
        parent = doc
        for part in key[:-1]:
            parent = parent[part]
        parent[key[-1]] = value
    folder = fresh(tmp_path)
    path = folder / "matrix.yml"
    path.write_text(yaml.safe_dump(doc))
    (folder / "images" / "orthanc").mkdir(parents=True)
    (folder / "images" / "orthanc" / "Dockerfile").write_text("FROM debian:bookworm-slim\n")
    (folder / "images" / "orthanc-plugins").mkdir(parents=True)
    (folder / "images" / "orthanc-plugins" / "Dockerfile").write_text(
        "FROM derekmerck/orthanc:latest\n")
    load(path)


@_SHARED_TMP
@given(st.text(max_size=2000))
@example("a: !!python/object/apply:os.system ['true']")
@example("a: &x [1]\nb: *x\n")
@example("\ufeff")
@example("? [a, b]\n: c\n")
@example("\x1f")  # found by this test: libyaml's ReaderError message ran over two lines
def test_any_text_is_a_matrix_or_refused(tmp_path: Path, text: str) -> None:
    path = fresh(tmp_path) / "matrix.yml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    load(path)


ALIAS_BOMB = "a: &a [x,x,x,x,x,x,x,x,x]\n" + "".join(
    f"{chr(98 + n)}: &{chr(98 + n)} [{','.join(['*' + chr(97 + n)] * 9)}]\n" for n in range(9))


@pytest.mark.parametrize("text", [
    pytest.param("a: " + "[" * 20000 + "]" * 20000, id="flow-nesting-20000"),
    pytest.param("".join(f"{' ' * n}a:\n" for n in range(1400)), id="block-nesting-1400"),
    pytest.param("a: " + "{a: " * 5000 + "1" + "}" * 5000, id="mapping-nesting-5000"),
    pytest.param("namespace: " + "x" * (MAX_INPUT - 20), id="long-line"),
    pytest.param("".join(f"k{n}: {n}\n" for n in range(90000)), id="many-keys"),
    pytest.param("a: [" + "1," * (MAX_INPUT // 2 - 10) + "]", id="many-items"),
    pytest.param(ALIAS_BOMB, id="alias-bomb"),
    pytest.param("a: '" + "\\x" * 100 + "'\n" + "b: \"\\U0010ffff\"\n" * 10000, id="escapes"),
])
def test_worst_documents_within_bounds(tmp_path: Path, text: str) -> None:
    path = tmp_path / "matrix.yml"
    path.write_text(text[:MAX_INPUT])
    assert within_bounds("matrix.load_matrix", lambda: loaded(path), test=text[:12]) is None


def test_a_fifo_as_the_matrix_is_refused_without_waiting(tmp_path: Path) -> None:
    path = tmp_path / "matrix.yml"
    os.mkfifo(path)
    with pytest.raises(MatrixError, match="not a regular file"):
        timed("matrix.load_matrix", lambda: load_matrix(path), test="a FIFO")


def test_a_device_as_the_matrix_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "matrix.yml"
    path.symlink_to("/dev/zero")  # st_size 0, and endless
    with pytest.raises(MatrixError, match="not a regular file"):
        timed("matrix.load_matrix", lambda: load_matrix(path), test="/dev/zero")


def test_a_fifo_as_a_lock_is_refused_without_waiting(tmp_path: Path) -> None:
    doc = valid_doc()
    doc["images"]["orthanc"]["downloads"] = {"a.zip": "https://example.org/a.zip"}
    path = write_matrix_file(tmp_path, doc)
    os.mkfifo(tmp_path / "images" / "orthanc" / "downloads.lock")
    with pytest.raises(MatrixError, match=r"downloads\.lock: cannot read: .*not a regular file"):
        timed("matrix.load_matrix", lambda: load_matrix(path), test="a FIFO lock")


def test_a_fifo_as_a_dockerfile_is_refused_without_waiting(tmp_path: Path) -> None:
    doc = valid_doc()
    doc["images"]["orthanc"]["dockerfile"] = "pipe"
    path = write_matrix_file(tmp_path, doc, without_dockerfile={"orthanc"})
    os.mkfifo(tmp_path / "images" / "orthanc" / "pipe")
    with pytest.raises(MatrixError, match=r"images\.orthanc\.dockerfile"):
        timed("matrix.load_matrix", lambda: load_matrix(path), test="a FIFO Dockerfile")


# --- the Dockerfile reader ---------------------------------------------------------------

DOCKERFILE_WORDS = st.sampled_from(["FROM", "from", "LABEL", "AS", "--platform=$X", "\\",
                                    "#", "a", "org.opencontainers.image.description", "\n",
                                    " ", "\t", "\r\n", "scratch", "${X}", "=", '"'])


def read(text: str) -> tuple[tuple[str, ...], bool]:
    return timed("dockerfile.from_lines+labels", lambda: reading(text))


def reading(text: str) -> tuple[tuple[str, ...], bool]:
    return (tuple(line.image for line in dockerfile.from_lines(text)),
            dockerfile.labels_description(text))


@given(st.one_of(st.text(max_size=3000),
                 st.lists(DOCKERFILE_WORDS, max_size=400).map(" ".join)))
@example("FROM a AS b\\\n\\\n\\\n")
@example("\\")
def test_any_text_is_read_as_a_dockerfile(text: str) -> None:
    found, _ = read(text)
    assert all(name and not name.startswith("--") and " " not in name for name in found)


@pytest.mark.parametrize(("text", "bases"), [
    pytest.param("FROM a:1\n" * (MAX_INPUT // 9), ("a:1",) * (MAX_INPUT // 9), id="many-froms"),
    pytest.param("FROM " + "x" * MAX_INPUT, ("x" * MAX_INPUT,), id="one-long-line"),
    # found by this test: 9 s, as each continuation copied the instruction so far
    pytest.param("RUN a \\\n" * (MAX_INPUT // 8) + "\nFROM b", ("b",), id="continuations"),
    pytest.param("# \\\n" * (MAX_INPUT // 4) + "FROM c", ("c",), id="comment-lines"),
    pytest.param("LABEL " + "a=b " * (MAX_INPUT // 4), (), id="long-label"),
])
def test_worst_dockerfiles_within_bounds(text: str, bases: tuple[str, ...]) -> None:
    found, _ = within_bounds("dockerfile.from_lines+labels", lambda: reading(text),
                             test=text[:12])
    assert found == bases
