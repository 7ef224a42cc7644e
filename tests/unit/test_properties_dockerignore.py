"""Property tests of the `.dockerignore` reader and matcher (core/dockerignore.py,
core/linear_regexp.py) and of a context's walk (core/context_digest.py).

- Any bytes are an ignore file; any patterns compile or are refused with IgnorePatternError;
  a compiled matcher answers any path with a bool, within the bound (tests/unit/bounds.py).
- The linear-time matcher agrees with Python's backtracking `re` reading the same Go regexp,
  on inputs short enough for backtracking to finish (the upstream cases are in
  test_dockerignore.py).
- Time grows linearly with the path on patterns built to make a backtracking matcher explode.
- A context with a deep tree, wide folders, FIFOs or a FIFO for its ignore file is digested
  (or refused) without hanging.
"""

from __future__ import annotations

import os
import re
import time
import warnings
from pathlib import Path

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from tests.unit.bounds import (
    BOUND_BYTES,
    BOUND_SECONDS,
    FIGURES,
    MAX_INPUT,
    peak_bytes,
    timed,
    within_bounds,
)
from xbuild.core.context_digest import MAX_IGNORE_BYTES, ContextError, context_digest
from xbuild.core.dockerignore import IgnorePatternError, Matcher, MatchType, parse_ignore_file

PATTERN_CHARS = "ab./*?[]^-!\\ #"
PATH_CHARS = "ab./\n-^*"


def compiled(patterns: list[str]) -> Matcher | None:
    try:
        return timed("dockerignore.Matcher", lambda: Matcher.from_patterns(patterns))
    except IgnorePatternError as error:
        assert "\n" not in str(error)
        return None


@given(st.binary(max_size=4000))
@example(b"\xef\xbb\xbf" + b"a\\\n" * 1000)
@example(b"\r\n" * 2000)
def test_any_bytes_are_an_ignore_file(data: bytes) -> None:
    patterns = timed("dockerignore.parse_ignore_file", lambda: parse_ignore_file(data))
    assert all(isinstance(p, str) and "\n" not in p for p in patterns)


@given(st.lists(st.text(PATTERN_CHARS, max_size=30), max_size=8),
       st.lists(st.text(PATH_CHARS, max_size=60), max_size=8))
@example(["[Local-Only]/"], ["x"])
@example(["[", "!"], [""])
@example(["**/" * 40 + "a"], ["x/" * 200 + "b"])
def test_any_patterns_compile_or_are_refused(patterns: list[str], paths: list[str]) -> None:
    matcher = compiled(patterns)
    if matcher is None:
        return
    for path in paths:
        answer = timed("dockerignore.Matcher", lambda p=path: (  # type: ignore[misc]
            matcher.matches(p), matcher.matches_below(p, ())[0], matcher.must_walk_excluded_dir(p)))
        assert answer[0] is answer[1]


def python_reading(go_regexp: str) -> re.Pattern[str] | None:
    """What Python's `re` makes of the Go regexp (its `$` is Go's `\\z`), or None."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Python's FutureWarning on `[[` and `--` in classes
        try:
            return re.compile(go_regexp.removesuffix("$") + r"\Z")
        except re.error:
            return None


@given(st.text(PATTERN_CHARS.replace("!", "").replace("#", ""), min_size=1, max_size=12),
       st.lists(st.text(PATH_CHARS, max_size=16), min_size=1, max_size=10))
@example("**/x*", ["a\n/xy", "a/xy"])
@example("a^b*", ["a^bc"])
@example("[^a]*b", ["\nb", "ab", "/b"])
@example("*a*a*b", ["aaab", "aa/ab"])
def test_linear_matcher_agrees_with_backtracking_re(pattern: str, paths: list[str]) -> None:
    matcher = compiled([pattern])
    assume(matcher is not None and matcher.patterns)
    assert matcher is not None
    compiled_pattern = matcher.patterns[0]
    assume(compiled_pattern.type is MatchType.REGEXP)
    oracle = python_reading(compiled_pattern.go_regexp)
    assume(oracle is not None)
    assert oracle is not None
    for path in paths:
        assert compiled_pattern.match(path) is (oracle.match(path) is not None), path


def seconds_for(pattern: str, path: str) -> float:
    """The best of three matches of one path, as the walk matches each entry (its parents'
    answers inherited); `Matcher.matches` would also match every parent folder, as
    MatchesOrParentMatches does."""
    best = float("inf")
    for _ in range(3):
        compiled = Matcher.from_patterns([pattern]).patterns[0]
        start = time.perf_counter()
        compiled.match(path)
        best = min(best, time.perf_counter() - start)
    return best


GROWTH = [
    pytest.param("**/" * 16 + "a", lambda n: "x/" * (n // 2) + "b", id="nested-double-stars"),
    pytest.param("*a" * 16 + "b", lambda n: "a" * n, id="many-stars"),
    pytest.param("**/*a" * 8 + "b", lambda n: "a/" * (n // 2) + "c", id="stars-and-dirs"),
]


@pytest.mark.parametrize(("pattern", "path_of"), GROWTH)
def test_time_grows_linearly_with_the_path(pattern: str, path_of: object) -> None:
    # Backtracking took 42 s for `*a*a*a*ab` on 500 characters; linear time grows 8x when the
    # path grows 8x. Asserted: under 24x (3x slack for a noisy machine; quadratic is 64x).
    assert callable(path_of)
    small, large = (seconds_for(pattern, path_of(n)) for n in (4000, 32000))
    timed("dockerignore.Matcher", lambda: Matcher.from_patterns([pattern]).patterns[0].match(
        path_of(MAX_INPUT // 16)), test=f"64 KiB path, {pattern[:12]}...")
    growth = f"4000 chars {small * 1e3:.1f} ms, 32000 {large * 1e3:.1f} ms"
    FIGURES.append(f"dockerignore growth, {pattern[:12]}...: {growth} ({large / small:.1f}x)")
    assert large / small < 24, growth
    assert large < BOUND_SECONDS


def test_the_largest_ignore_file_against_a_long_path() -> None:
    # 64 KiB (the cap) of distinct patterns, each with wildcards that a backtracking matcher
    # explodes on and that never match, so every one runs over the whole path.
    lines = [f"{'**/' * (n % 6 + 1)}{'*a' * (n % 5 + 1)}b{n}\n" for n in range(6000)]
    data = "".join(lines).encode()[:MAX_IGNORE_BYTES].rpartition(b"\n")[0]
    path = "a/" * 100 + "c"

    def run() -> None:
        matcher = Matcher.from_patterns(parse_ignore_file(data))
        assert not matcher.matches_below(path, (False,) * len(matcher.patterns))[0]

    within_bounds("dockerignore.Matcher", run, test="64 KiB ignore file, 201-character path")


def test_names_of_many_distinct_characters_stay_cheap() -> None:
    # Steps are cached by what a character does, not by the character: 4000 characters no
    # pattern names cost what one does, and the caches stay small.
    patterns = [f"**/*{chr(0x4E00 + n)}*z{n}" for n in range(150)]
    names = ["".join(chr(0x3400 + 200 * k + n) for n in range(200)) for k in range(20)]
    matcher = Matcher.from_patterns(patterns)
    nothing = (False,) * len(patterns)
    for name in names:
        timed("dockerignore.Matcher", lambda n=name: matcher.matches_below(  # type: ignore[misc]
            n, nothing), test="150 patterns, a name of 200 characters none of them names")

    def run() -> None:
        fresh = Matcher.from_patterns(patterns)
        for name in names:
            fresh.matches_below(name, nothing)

    assert peak_bytes(run) < BOUND_BYTES


def _deep_tree(root: Path, depth: int) -> Path:
    folder = root / "/".join(["d"] * depth)
    folder.mkdir(parents=True)
    (folder / "leaf.txt").write_text("x")
    return folder


@pytest.fixture
def context(tmp_path: Path) -> Path:
    root = tmp_path / "ctx"
    root.mkdir()
    (root / "Dockerfile").write_text("FROM scratch\n")
    return root


def digest(context: Path, test: str) -> str:
    return timed("context_digest", lambda: context_digest(context, dockerfile=context
                                                          / "Dockerfile"), test=test)


def test_nested_wildcards_against_a_deep_tree(context: Path) -> None:
    _deep_tree(context, 120)
    (context / ".dockerignore").write_text(
        "**/**/**/**/**/**/**/**/leaf*\n!" + "*/" * 60 + "**\n" + "*d*d*d*d*d*x\n")
    assert digest(context, "120 folders deep").startswith("sha256:")


def test_a_wide_folder_of_small_files(context: Path) -> None:
    for number in range(3000):
        (context / f"f{number:05}").write_bytes(b"")
    (context / ".dockerignore").write_text("*1*2*3*\n!**/f0*9\n")
    assert digest(context, "3000 files").startswith("sha256:")


def test_a_fifo_in_the_context_is_not_read(context: Path) -> None:
    os.mkfifo(context / "pipe")
    assert digest(context, "a FIFO in the context").startswith("sha256:")


@pytest.mark.parametrize("name", [".dockerignore", "Dockerfile.dockerignore"])
def test_a_fifo_for_the_ignore_file_is_refused(context: Path, name: str) -> None:
    os.mkfifo(context / name)
    with pytest.raises(ContextError, match="not a regular file"):
        digest(context, "a FIFO for the ignore file")


def test_an_ignore_file_over_the_cap_is_refused(context: Path) -> None:
    (context / ".dockerignore").write_bytes(b"a\n" * (MAX_IGNORE_BYTES // 2) + b"b")
    with pytest.raises(ContextError, match="larger than 64 KiB"):
        digest(context, "ignore file over 1 MiB")
