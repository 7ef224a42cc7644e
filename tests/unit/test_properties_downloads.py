"""Property tests of the downloads lock and the download declarations (core/downloads.py):
any lock text is entries or one MatrixError line; entries round-trip through the lock format;
any URL gets an answer, never an exception; any `downloads` value in matrix.yml is parsed or
refused naming its key; all within the bound (tests/unit/bounds.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from tests.unit.bounds import MAX_INPUT, timed, within_bounds
from xbuild.core.downloads import (
    mirror_path,
    mirrored,
    names_a_branch,
    parse_downloads,
    parse_lock,
    redirect_problem,
    render_lock,
    url_problem,
)
from xbuild.core.errors import MatrixError
from xbuild.core.platforms import ARCHES
from xbuild.core.yamlfile import Doc

LOCK = Path("images/x/downloads.lock")
HEX = "0123456789abcdef"


def lock_entries(text: str) -> dict[str, str] | None:
    try:
        return parse_lock(text, LOCK)
    except MatrixError as error:
        assert "\n" not in str(error) and str(error).startswith(f"{LOCK}:"), str(error)
        return None


LOCK_LINES = st.one_of(
    st.text(max_size=80),
    st.tuples(st.text(HEX, min_size=60, max_size=66), st.sampled_from([" ", "  ", "\t"]),
              st.text(max_size=40)).map("".join),
    st.sampled_from(["#", "", "   ", "\r"]))


@given(st.lists(LOCK_LINES, max_size=40).map("\n".join))
@example("0" * 64 + "  u\n" + "1" * 64 + "  u\n")
@example("0" * 64 + "\u2028u")
def test_any_text_is_a_lock_or_refused(text: str) -> None:
    timed("downloads.parse_lock", lambda: lock_entries(text))


URLS = st.one_of(
    st.text(max_size=120),
    st.tuples(st.sampled_from(["http://", "https://", "ftp://", "file://", "//", ""]),
              st.text("abc.-:@[]%2e/?#\\ \x00é", max_size=60)).map("".join))


GOOD_URLS = st.tuples(
    st.sampled_from(["http://", "https://"]), st.from_regex(r"[a-z0-9]{1,10}(\.[a-z]{2,5})?",
                                                           fullmatch=True),
    st.sampled_from(["", ":8080"]), st.text("abcé/%?=&~+-._1", max_size=60)).map(
    lambda p: f"{p[0]}{p[1]}{p[2]}/{p[3]}")


@given(st.dictionaries(GOOD_URLS, st.text(HEX, min_size=64, max_size=64), max_size=10))
def test_entries_round_trip_through_the_lock_format(entries: dict[str, str]) -> None:
    # every URL matrix.yml accepts is one the lock can hold
    accepted = {url: sha for url, sha in entries.items() if url_problem(url) is None}
    assert timed("downloads.parse_lock", lambda: lock_entries(render_lock(accepted))) \
        == accepted


@given(URLS)
@example("https://" + "a." * 1000 + "org/x")
@example("https://example.org:99999999999999999999/x")
@example("https://[::1/x")  # found by this test: urlsplit's ValueError escaped url_problem
@example("https://example.org/%2e%2e/x?q=1")
def test_any_url_gets_an_answer(url: str) -> None:
    def answer() -> None:
        problem = url_problem(url)
        assert problem is None or "\n" not in problem
        names_a_branch(url)
        redirect_problem("https://example.org/a", url, (("example.org", ("*.example.org",)),))
        if problem is None:
            mirrored(url, "http://127.0.0.1:1/m")
            assert not mirror_path(url).is_absolute()
    timed("downloads.urls", answer)


scalars = st.one_of(st.none(), st.booleans(), st.integers(), URLS,
                    st.text(HEX, min_size=64, max_size=64))
values: st.SearchStrategy[Any] = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3),
    st.dictionaries(st.one_of(st.sampled_from(["url", "sha256", "amd64", "arm64v8",
                                               "a.zip", "x y"]), st.text(max_size=8)),
                    inner, max_size=4)), max_leaves=15)


error_at = Doc(Path("matrix.yml")).error  # as imagespec.py hands it to parse_downloads


@given(values)
@example({"a.zip": {"url": {"amd64": "https://e.org/a", "arm64v8": None},
                    "sha256": {"arm64v8": "0" * 64}}})
@example({"a.zip": {"url": "https://e.org/a", "sha256": "Z" * 64}})
@example({"\n": None})  # found by this test (thorough profile): a key's newline split the line
def test_any_downloads_value_is_parsed_or_refused(value: Any) -> None:
    def parse() -> None:
        try:  # the context has no lock: LOCK's folder does not exist
            parse_downloads(value, "images.x.downloads", ARCHES[:3], LOCK.parent, error_at)
        except MatrixError as error:
            assert "\n" not in str(error), str(error)
            assert str(error).startswith("matrix.yml: images.x.downloads"), str(error)
    timed("downloads.parse_downloads", parse)


@pytest.mark.parametrize("text", [
    pytest.param(("0" * 64 + "  https://e.org/" + "a" * 40 + "\n") * (MAX_INPUT // 120),
                 id="many-lines"),
    pytest.param("0" * 64 + "  " + "u" * MAX_INPUT, id="one-long-url"),
    pytest.param("#" * MAX_INPUT, id="one-long-comment"),
    pytest.param(" " * MAX_INPUT + "x", id="blanks-then-garbage"),
    pytest.param("\n" * MAX_INPUT, id="empty-lines"),
])
def test_worst_locks_within_bounds(text: str) -> None:
    within_bounds("downloads.parse_lock", lambda: lock_entries(text), test=text[:12])
