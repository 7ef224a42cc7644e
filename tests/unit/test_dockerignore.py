"""`.dockerignore` rules: tables ported from upstream with their expected values written down.

- `MATCHES`, `MULTI`: moby/patternmatcher patternmatcher_test.go TestMatches (all cases).
- `FILEPATH_MATCH`: the filepath.Match cases of patternmatcher_test.go TestMatch.
- `COMPILE`: patternmatcher_test.go TestCompile (the `/` column).
- `READ_ALL`: ignorefile/ignorefile_test.go TestReadAll, then ReadAll's documented rules.
- `MUST_WALK`: tonistiigi/fsutil filter.go, when filterFS.Walk descends into an excluded dir.
- `DOCS`: the examples of Docker's `.dockerignore` reference.
"""

from __future__ import annotations

import posixpath

import pytest

from xbuild.core.dockerignore import (
    IgnorePatternError,
    Matcher,
    MatchType,
    go_clean,
    parse_ignore_file,
    translate,
)


def walked(matcher: Matcher, path: str) -> bool:
    """Match `path` as fsutil's walk does: each parent directory first, its results inherited."""
    info: tuple[bool, ...] = ()
    parent = posixpath.dirname(path)
    if parent not in ("", "."):
        dirs = parent.split("/")
        for i in range(len(dirs)):
            _, info = matcher.matches_below("/".join(dirs[:i + 1]), info)
    return matcher.matches_below(path, info)[0]


MATCHES = [
    ("**", "file", True), ("**", "file/", True), ("**/", "file", True), ("**/", "file/", True),
    ("**", "/", True), ("**/", "/", True), ("**", "dir/file", True), ("**/", "dir/file", True),
    ("**", "dir/file/", True), ("**/", "dir/file/", True), ("**/**", "dir/file", True),
    ("**/**", "dir/file/", True), ("dir/**", "dir/file", True), ("dir/**", "dir/file/", True),
    ("dir/**", "dir/dir2/file", True), ("dir/**", "dir/dir2/file/", True),
    ("**/dir", "dir", True), ("**/dir", "dir/file", True), ("**/dir2/*", "dir/dir2/file", True),
    ("**/dir2/*", "dir/dir2/file/", True), ("**/dir2/**", "dir/dir2/dir3/file", True),
    ("**/dir2/**", "dir/dir2/dir3/file/", True), ("**file", "file", True),
    ("**file", "dir/file", True), ("**/file", "dir/file", True), ("**file", "dir/dir/file", True),
    ("**/file", "dir/dir/file", True), ("**/file*", "dir/dir/file", True),
    ("**/file*", "dir/dir/file.txt", True), ("**/file*txt", "dir/dir/file.txt", True),
    ("**/file*.txt", "dir/dir/file.txt", True), ("**/file*.txt*", "dir/dir/file.txt", True),
    ("**/**/*.txt", "dir/dir/file.txt", True), ("**/**/*.txt2", "dir/dir/file.txt", False),
    ("**/*.txt", "file.txt", True), ("**/**/*.txt", "file.txt", True),
    ("a**/*.txt", "a/file.txt", True), ("a**/*.txt", "a/dir/file.txt", True),
    ("a**/*.txt", "a/dir/dir/file.txt", True), ("a/*.txt", "a/dir/file.txt", False),
    ("a/*.txt", "a/file.txt", True), ("a/*.txt**", "a/file.txt", True),
    ("a[b-d]e", "ae", False), ("a[b-d]e", "ace", True), ("a[b-d]e", "aae", False),
    ("a[^b-d]e", "aze", True), (".*", ".foo", True), (".*", "foo", False),
    ("abc.def", "abcdef", False), ("abc.def", "abc.def", True), ("abc.def", "abcZdef", False),
    ("abc?def", "abcZdef", True), ("abc?def", "abcdef", False), ("a\\\\", "a\\", True),
    ("**/foo/bar", "foo/bar", True), ("**/foo/bar", "dir/foo/bar", True),
    ("**/foo/bar", "dir/dir2/foo/bar", True), ("abc/**", "abc", False),
    ("abc/**", "abc/def", True), ("abc/**", "abc/def/ghi", True), ("**/.foo", ".foo", True),
    ("**/.foo", "bar.foo", False), ("a(b)c/def", "a(b)c/def", True),
    ("a(b)c/def", "a(b)c/xyz", False), ("a.|)$(}+{bc", "a.|)$(}+{bc", True),
    ("dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
     "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", True),
    ("dist/*.whl", "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", True),
    ("a\\*b", "a*b", True),
]

MULTI = [
    (["**", "!util/docker/web"], "util/docker/web/foo", False),
    (["**", "!util/docker/web", "util/docker/web/foo"], "util/docker/web/foo", True),
    (["**", "!dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl"],
     "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", False),
    (["**", "!dist/*.whl"], "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", False),
]


@pytest.mark.parametrize(("pattern", "path", "expected"), MATCHES)
def test_single_pattern(pattern: str, path: str, expected: bool) -> None:
    matcher = Matcher.from_patterns([pattern])
    assert matcher.matches(path) is expected
    assert walked(matcher, path) is expected
    assert matcher.matches_below(path, ())[0] is expected


@pytest.mark.parametrize(("patterns", "path", "expected"), MULTI)
def test_several_patterns(patterns: list[str], path: str, expected: bool) -> None:
    matcher = Matcher.from_patterns(patterns)
    assert matcher.matches(path) is expected
    assert walked(matcher, path) is expected


FILEPATH_MATCH = [
    ("abc", "abc", True), ("*", "abc", True), ("*c", "abc", True), ("a*", "a", True),
    ("a*", "abc", True), ("a*", "ab/c", True), ("a*/b", "abc/b", True),
    ("a*/b", "a/c/b", False), ("a*b*c*d*e*/f", "axbxcxdxe/f", True),
    ("a*b*c*d*e*/f", "axbxcxdxexxx/f", True), ("a*b*c*d*e*/f", "axbxcxdxe/xxx/f", False),
    ("a*b*c*d*e*/f", "axbxcxdxexxx/fff", False), ("a*b?c*x", "abxbbxdbxebxczzx", True),
    ("a*b?c*x", "abxbbxdbxebxczzy", False), ("ab[c]", "abc", True), ("ab[b-d]", "abc", True),
    ("ab[e-g]", "abc", False), ("ab[^c]", "abc", False), ("ab[^b-d]", "abc", False),
    ("ab[^e-g]", "abc", True), ("a\\*b", "a*b", True), ("a\\*b", "ab", False),
    ("a?b", "a☺b", True), ("a[^a]b", "a☺b", True), ("a???b", "a☺b", False),
    ("a[^a][^a][^a]b", "a☺b", False), ("[a-ζ]*", "α", True), ("*[a-ζ]", "A", False),
    ("a?b", "a/b", False), ("a*b", "a/b", False), ("[\\]a]", "]", True), ("[\\-]", "-", True),
    ("[x\\-]", "x", True), ("[x\\-]", "-", True), ("[x\\-]", "z", False),
    ("[\\-x]", "x", True), ("[\\-x]", "-", True), ("[\\-x]", "a", False), ("*x", "xxx", True),
]

BAD_PATTERNS = ["[]a]", "[-]", "[x-]", "[-x]", "\\", "[a-b-c]", "[", "[^", "[^bc", "a[", "!",
                "a/[!b"]


@pytest.mark.parametrize(("pattern", "path", "expected"), FILEPATH_MATCH)
def test_filepath_match_cases(pattern: str, path: str, expected: bool) -> None:
    assert Matcher.from_patterns([pattern]).matches(path) is expected


@pytest.mark.parametrize("pattern", BAD_PATTERNS)
def test_docker_refuses(pattern: str) -> None:
    with pytest.raises(IgnorePatternError):
        Matcher.from_patterns(["ok", pattern])


COMPILE = [
    ("*", MatchType.REGEXP, "^[^/]*$"), ("file*", MatchType.REGEXP, "^file[^/]*$"),
    ("*file", MatchType.REGEXP, "^[^/]*file$"), ("a*/b", MatchType.REGEXP, "^a[^/]*/b$"),
    ("**", MatchType.SUFFIX, ""), ("**/**", MatchType.REGEXP, "^(.*/)?.*$"),
    ("dir/**", MatchType.PREFIX, ""), ("**/dir", MatchType.SUFFIX, ""),
    ("**/dir2/*", MatchType.REGEXP, "^(.*/)?dir2/[^/]*$"),
    ("**/dir2/**", MatchType.REGEXP, "^(.*/)?dir2/.*$"), ("**file", MatchType.SUFFIX, ""),
    ("**/file*txt", MatchType.REGEXP, "^(.*/)?file[^/]*txt$"),
    ("**/**/*.txt", MatchType.REGEXP, "^(.*/)?(.*/)?[^/]*\\.txt$"),
    ("a[b-d]e", MatchType.REGEXP, "^a[b-d]e$"), (".*", MatchType.REGEXP, "^\\.[^/]*$"),
    ("abc.def", MatchType.EXACT, ""), ("abc?def", MatchType.REGEXP, "^abc[^/]def$"),
    ("**/foo/bar", MatchType.SUFFIX, ""), ("a(b)c/def", MatchType.EXACT, ""),
    ("a.|)$(}+{bc", MatchType.EXACT, ""),
    ("dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", MatchType.EXACT, ""),
]


@pytest.mark.parametrize(("pattern", "kind", "regexp"), COMPILE)
def test_compile(pattern: str, kind: MatchType, regexp: str) -> None:
    assert translate(pattern) == (kind, regexp)
    compiled = Matcher.from_patterns([pattern]).patterns[0]
    assert (compiled.type, compiled.go_regexp) == (kind, regexp)


def test_suffix_match_is_a_plain_suffix() -> None:
    # Pattern.match's suffixMatch: `**file` is a string suffix, not a whole path component.
    assert Matcher.from_patterns(["**file"]).matches("dir/myfile")
    assert not Matcher.from_patterns(["**/file"]).matches("dir/myfile")


READ_ALL = [
    pytest.param(b"test1\n/test2\n/a/file/here\n\nlastfile\n# this is a comment\n"
                 b"! /inverted/abs/path\n!\n! ",
                 ["test1", "test2", "a/file/here", "lastfile", "!inverted/abs/path", "!", "!"],
                 id="upstream"),
    pytest.param(b"", [], id="empty"),
    pytest.param(b"  # indented\n#comment\n", ["# indented"], id="only-column-0-comments"),
    pytest.param(b"\t foo \t\n\n   \nbar", ["foo", "bar"], id="trim-blank"),
    pytest.param(b"foo\r\nbar\r\n", ["foo", "bar"], id="crlf"),
    pytest.param(b"\xef\xbb\xbf# c\nfoo\n\xef\xbb\xbfbar", ["foo", "\ufeffbar"],
                 id="bom-first-line"),
    pytest.param(b"a/./b/../c//d/\n./x\na/..\n../up\n", ["a/c/d", "x", ".", "../up"],
                 id="clean"),
    pytest.param(b"/\n//foo\n/../bar\n", ["/", "foo", "bar"], id="leading-slash"),
    pytest.param(b"!/foo/\n!  bar\n", ["!foo", "!bar"], id="exception-cleaned"),
    pytest.param("\u00a0foo\u0085\u3000\n\x1cbar".encode(), ["foo", "\x1cbar"],
                 id="go-whitespace"),
]


@pytest.mark.parametrize(("data", "expected"), READ_ALL)
def test_parse_ignore_file(data: bytes, expected: list[str]) -> None:
    assert parse_ignore_file(data) == expected


@pytest.mark.parametrize(("path", "expected"), [
    ("", "."), (".", "."), ("a//b/./c/", "a/b/c"), ("/../a", "/a"), ("../../a/..", "../.."),
    ("//a", "/a"), ("a/b/../../..", ".."), ("/", "/"),
])
def test_go_clean(path: str, expected: str) -> None:
    assert go_clean(path) == expected


def test_new_trims_cleans_and_drops_empty() -> None:
    matcher = Matcher.from_patterns(["docs", "  !docs/README.md  ", "", "   ", "a/../config/"])
    assert [(p.text, p.exclusion) for p in matcher.patterns] == [
        ("docs", False), ("docs/README.md", True), ("config", False)]
    assert matcher.exclusions


def test_leading_slash_is_stripped_by_the_file_reader_only() -> None:
    assert Matcher.from_patterns(parse_ignore_file(b"/docs")).matches("docs/a.md")
    assert not Matcher.from_patterns(["/docs"]).matches("docs/a.md")


def test_exclusion_of_root_slash_is_refused() -> None:
    # ReadAll keeps "!/" (a lone "/" is not stripped); New cleans "!/" to "!" and refuses it.
    assert parse_ignore_file(b"!/") == ["!/"]
    with pytest.raises(IgnorePatternError, match="illegal exclusion"):
        Matcher.from_patterns(["!/"])


@pytest.mark.parametrize(("patterns", "path", "expected"), [
    pytest.param(["docs"], "docs/a/b.md", True, id="dir-excludes-below"),
    pytest.param(["docs/"], "docs/a.md", True, id="trailing-slash"),
    pytest.param(["docs", "!docs/README.md"], "docs/README.md", False, id="exception"),
    pytest.param(["docs/*", "!docs/README.md"], "docs/README.md", False, id="exception-glob"),
    pytest.param(["!docs/README.md", "docs"], "docs/README.md", True, id="last-wins"),
    pytest.param(["*.go", "!fileutils.go"], "fileutils.go", False, id="later-exception"),
    pytest.param(["!fileutils.go", "*.go"], "fileutils.go", True, id="earlier-exception"),
    pytest.param(["a", "!a/b", "a/b/c"], "a/b/c/d", True, id="re-exclude-below-exception"),
    pytest.param(["a", "!a/b", "a/b/c"], "a/b/x", False, id="exception-dir-keeps-others"),
    pytest.param([], "anything", False, id="no-patterns"),
    pytest.param(["*"], "a/b", True, id="star-matches-top-dir"),
    pytest.param(["*/b"], "a/b/c", True, id="parent-matches"),
    pytest.param(["b"], "a/b", False, id="anchored-at-root"),
    pytest.param(["\\#notes", "\\ lead"], "#notes", True, id="escaped-hash"),
    pytest.param(["\\ lead"], " lead", True, id="escaped-space"),
    pytest.param(["\\[x\\]", "y\\?"], "[x]", True, id="escaped-bracket"),
    pytest.param(["y\\?"], "y?", True, id="escaped-question"),
    pytest.param(["y\\?"], "ya", False, id="escaped-question-literal"),
    pytest.param(["[*]"], "]", True, id="star-in-class-is-go-regexp"),
    pytest.param(["a^b"], "a^b", True, id="caret-exact"),
    pytest.param(["a^b*"], "a^bc", False, id="caret-is-an-anchor-in-regexp"),
    pytest.param(["*"], "new\nline", True, id="star-matches-newline"),
    pytest.param(["**/x*"], "a\n/xy", False, id="double-star-not-newline"),
    pytest.param(["**/x"], "a\n/x", True, id="suffix-match-is-a-string-suffix"),
])
def test_rules(patterns: list[str], path: str, expected: bool) -> None:
    matcher = Matcher.from_patterns(patterns)
    assert matcher.matches(path) is expected
    assert walked(matcher, path) is expected


DOCS = [
    (["*/temp*"], "somedir/temporary.txt", True), (["*/temp*"], "somedir/temp", True),
    (["*/temp*"], "temp", False), (["*/temp*"], "a/b/temp", False),
    (["*/*/temp*"], "somedir/subdir/temporary.txt", True), (["temp?"], "tempa", True),
    (["temp?"], "temp", False), (["temp?"], "tempab", False), (["**/*.go"], "x.go", True),
    (["**/*.go"], "a/b/x.go", True), (["*.md", "!README.md"], "README.md", False),
    (["*.md", "!README.md"], "CHANGES.md", True),
    (["*.md", "!README*.md", "README-secret.md"], "README-secret.md", True),
    (["*.md", "!README*.md", "README-secret.md"], "README-public.md", False),
    (["*.md", "README-secret.md", "!README*.md"], "README-secret.md", False),
]


@pytest.mark.parametrize(("patterns", "path", "expected"), DOCS)
def test_docker_reference_examples(patterns: list[str], path: str, expected: bool) -> None:
    assert walked(Matcher.from_patterns(patterns), path) is expected


MUST_WALK = [
    pytest.param(["docs"], "docs", False, id="no-exceptions"),
    pytest.param(["docs", "!docs/README.md"], "docs", True, id="exception-inside"),
    pytest.param(["docs", "!README.md"], "docs", False, id="exception-elsewhere"),
    pytest.param(["docs", "!other/x"], "docs", False, id="exception-other-dir"),
    pytest.param(["docs", "!**/README.md"], "docs", True, id="wildcard-exception"),
    pytest.param(["docs", "!docs/*"], "docs", True, id="trailing-star"),
    pytest.param(["docs", "!docs/**"], "docs", True, id="trailing-double-star"),
    pytest.param(["docs", "!doc[s]/x"], "docs", True, id="class-exception"),
    pytest.param(["docs", "!x\\.y"], "docs", True, id="backslash-is-a-pattern-char"),
    pytest.param(["a/b", "!a/b/c/d"], "a/b", True, id="deep-exception"),
    pytest.param(["a*", "!a/b/c/d"], "ab", False, id="prefix-is-per-component"),
    pytest.param(["a*", "!a"], "a", True, id="exception-is-the-dir"),
]


@pytest.mark.parametrize(("patterns", "path", "expected"), MUST_WALK)
def test_must_walk_excluded_dir(patterns: list[str], path: str, expected: bool) -> None:
    assert Matcher.from_patterns(patterns).must_walk_excluded_dir(path) is expected


@pytest.mark.parametrize("pattern", [
    pytest.param("[Local-Only]/", id="bad-range-found-at-compile"),
    pytest.param("[z-a]", id="reversed-range"),
    pytest.param("a\\d", id="perl-class"),
    pytest.param("[\\w]", id="perl-class-in-class"),
    pytest.param("a\\é", id="non-ascii-escape"),
    pytest.param("[[:alpha:]]", id="posix-class"),
])
def test_refused_at_once(pattern: str) -> None:
    # Docker fails these at the first match (or reads a regexp escape); xbuild at load.
    with pytest.raises(IgnorePatternError):
        Matcher.from_patterns([pattern])


def test_error_message_is_one_line() -> None:
    with pytest.raises(IgnorePatternError) as caught:
        Matcher.from_patterns(["a["])
    assert str(caught.value) == "syntax error in pattern 'a['"
