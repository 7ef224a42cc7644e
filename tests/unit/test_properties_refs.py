"""Property tests of image references (core/refs.py): any text is a Reference or an
InvalidReference, fast; the grammar's names round-trip up to its limits and not past them.

The grammar below is distribution/reference's regexp.go, written down here rather than taken
from xbuild: a name is at most 255 characters counting the registry host, a tag 128.
"""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from tests.unit.bounds import MAX_INPUT, timed, within_bounds
from xbuild.core.errors import InvalidReference
from xbuild.core.platforms import ARCHES
from xbuild.core.refs import Reference, per_arch_tag_problem

# path-component: [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*
# domain: label(\.label)*(:[0-9]+)?, label: [a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]
# tag: [\w][\w.-]{0,127}
DIGEST = "sha256:" + "0123456789abcdef" * 4


def parse(text: str) -> Reference | None:
    """The parsed reference, or None when it is refused with one line naming the problem."""
    return timed("refs.Reference.parse", lambda: parsed(text))


def parsed(text: str) -> Reference | None:
    try:
        return Reference.parse(text)
    except InvalidReference as error:
        assert "\n" not in str(error)
        return None


@given(st.text(max_size=600))
@example("a" * 256)
@example(":" * 300)
@example("a/" * 200 + "a:" + "b" * 200)
@example("localhost:99999999999999999999/a")
@example("[::1]:5000/a")
def test_any_text_is_a_reference_or_refused(text: str) -> None:
    parse(text)


ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789"
_components = st.tuples(
    st.text(ALNUM, min_size=1, max_size=30),
    st.lists(st.tuples(st.sampled_from([".", "_", "__", "-", "---"]),
                       st.text(ALNUM, min_size=1, max_size=10)), max_size=3),
).map(lambda c: c[0] + "".join(sep + part for sep, part in c[1]))
_label = st.text(ALNUM + "ABC", min_size=1, max_size=20).map(
    lambda t: t if len(t) < 3 else t[0] + t[1:-1].replace("b", "-") + t[-1])
_hosts = st.one_of(
    st.just("localhost"),
    st.lists(_label, min_size=2, max_size=4).map(".".join),
    st.tuples(st.lists(_label, min_size=1, max_size=3).map(".".join),
              st.integers(0, 99999)).map(lambda hp: f"{hp[0]}:{hp[1]}"))
_tags = st.tuples(st.sampled_from("abcXYZ019_"),
                  st.text("abcXYZ019_.-", max_size=127)).map("".join)


@st.composite
def references(draw: st.DrawFn) -> str:
    """Names of the grammar above (built from its parts, which is far faster than
    Hypothesis' from_regex), long ones included: up to 4 components of up to 64 characters."""
    host = draw(st.one_of(st.just(""), _hosts.map(lambda h: h + "/")))
    parts = draw(st.lists(_components, min_size=1, max_size=4))
    parts[-1] += draw(st.sampled_from(["", "a" * 64]))
    parts += draw(st.sampled_from([[], ["b" * 200]]))
    if not host and len(parts) > 1:  # docker reads a first part with a dot as a host
        parts[0] = parts[0].replace(".", "_")
    path = "/".join(parts)
    tag = draw(st.one_of(st.just(""), _tags.map(lambda t: ":" + t)))
    digest = draw(st.sampled_from(["", "@" + DIGEST]))
    return host + path + tag + digest


@given(references())
@example("0_0.0")  # found by this test: one component with a dot was read as a registry host
@example("0_0_0/" + "b" * 200)  # over 255 with its second component
@example("localhost")
def test_names_of_the_grammar_round_trip(text: str) -> None:
    name = text.partition("@")[0]
    name = name[:name.rfind(":")] if name.rfind(":") > name.rfind("/") else name
    parsed = parse(text)
    if len(name) <= 255:
        assert parsed is not None and str(parsed) == text
    else:
        assert parsed is None


HOST = "registry.example.org:5000/"  # 26 characters, counted in the name's 255


@pytest.mark.parametrize(("text", "accepted"), [
    pytest.param(HOST + "a" * 229, True, id="name-255-with-host"),
    pytest.param(HOST + "a" * 230, False, id="name-256-with-host"),
    pytest.param("a" * 255, True, id="name-255"),
    pytest.param("a" * 256, False, id="name-256"),
    pytest.param("a" * 255 + ":" + "t" * 128 + "@" + DIGEST, True, id="name-and-tag-at-limits"),
    pytest.param("a:" + "t" * 128, True, id="tag-128"),
    pytest.param("a:" + "t" * 129, False, id="tag-129"),
    pytest.param("a:-t", False, id="tag-starts-with-dash"),
    pytest.param("a" * 63 + "." + "b" * 63 + "/x", True, id="host-labels-63"),
    pytest.param("A/x", False, id="uppercase-path"),
    pytest.param("0.0_0/x", False, id="dotted-first-part-is-a-host"),  # docker's rule
    pytest.param("0.0_0", True, id="dotted-single-part-is-a-path"),
    pytest.param("Example.org/x", True, id="uppercase-host"),
    pytest.param("a@sha256:" + "0" * 63, False, id="digest-63"),
    pytest.param("a@sha256:" + "0" * 65, False, id="digest-65"),
])
def test_limits_of_the_grammar(text: str, accepted: bool) -> None:
    assert (parse(text) is not None) is accepted


@pytest.mark.parametrize(("tag", "accepted"), [  # the staging tag is the longest pushed
    pytest.param("t" * 112, True, id="staging-plus-112-plus-arm64v8-is-128"),
    pytest.param("t" * 113, False, id="staging-plus-113-plus-arm64v8-is-129"),
])
def test_per_arch_tags_fit_the_tag_limit(tag: str, accepted: bool) -> None:
    assert (per_arch_tag_problem(tag, ARCHES) is None) is accepted


@pytest.mark.parametrize("text", [
    pytest.param("a" * MAX_INPUT, id="one-long-component"),
    pytest.param("a-" * (MAX_INPUT // 2) + "!", id="separators-then-bad"),
    pytest.param("a." * (MAX_INPUT // 2) + "/x", id="long-host"),
    pytest.param("x:" + "t" * MAX_INPUT, id="long-tag"),
    pytest.param("a/" * (MAX_INPUT // 2), id="many-components"),
])
def test_worst_cases_within_bounds(text: str) -> None:
    assert within_bounds("refs.Reference.parse", lambda: parsed(text), test=text[:8]) is None
