"""`.dockerignore` rules as Docker and BuildKit apply them; pure, standard library only.

Ported from upstream, rule for rule:
- moby/patternmatcher `ignorefile/ignorefile.go` `ReadAll`: reading the file (`parse_ignore_file`).
- moby/patternmatcher `patternmatcher.go`: `New` (`Matcher.from_patterns`), `Pattern.compile`
  and `Pattern.match` (`Pattern`), `MatchesOrParentMatches` (`Matcher.matches`) and
  `MatchesUsingParentResults` (`Matcher.matches_below`).
- tonistiigi/fsutil `filter.go` `NewFilterFS` and `filterFS.Walk`: when an excluded directory
  must still be walked because an exception could re-include something below it
  (`Matcher.must_walk_excluded_dir`).

Departures, all of which refuse a pattern rather than match differently:
- moby compiles a pattern to a Go regexp lazily, at the first match; a pattern that passes `New`
  but does not compile (e.g. the range `[l-O]`) fails the build there. Here it fails at once.
- moby turns `\\x` into the regexp escape `\\x`, so `\\d`, `\\w`, `\\s`, `\\x41`, `\\p{L}` and
  `[[:alpha:]]` mean regexp classes rather than letters. Those are refused
  (`IgnorePatternError`); escaping a punctuation character (`\\*`, `\\?`, `\\[`, `\\\\`, `\\#`,
  `\\ `) works as in Docker.

Time: Go runs these regexps in linear time and Python's `re` would not (a crafted pattern took
minutes on one path), so they run on `xbuild.core.linear_regexp`'s NFA instead.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

from xbuild.core.linear_regexp import LinearRegexp, UnsupportedRegexp, compile_go

# Go's unicode.IsSpace, which strings.TrimSpace uses (str.strip() would also strip \x1c-\x1f).
_GO_SPACE = "\t\n\v\f\r \x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000" + "".join(
    map(chr, range(0x2000, 0x200B)))
_UTF8_BOM = b"\xef\xbb\xbf"
_REGEXP_QUOTED = frozenset(".+()|{}$")  # patternmatcher.go shouldEscape
_PATTERN_CHARS = frozenset("*[]?^\\")  # fsutil filter.go NewFilterFS patternChars (not Windows)

MatchInfo = tuple[bool, ...]
"""Per pattern, whether it matched a directory; children inherit it (patternmatcher.MatchInfo)."""


class IgnorePatternError(ValueError):
    """A pattern that Docker refuses, or that xbuild cannot match as Docker would."""


class MatchType(Enum):
    EXACT = "exact"
    PREFIX = "prefix"
    SUFFIX = "suffix"
    REGEXP = "regexp"


def parse_ignore_file(data: bytes) -> list[str]:
    """The patterns of an ignore file's bytes, as moby/patternmatcher ignorefile.ReadAll reads it.

    A BOM is dropped from the first line; a line whose first character is `#` is a comment (an
    indented `#` is a pattern); lines are trimmed of whitespace, blank ones dropped; a pattern is
    cleaned (Go filepath.Clean) and loses one leading `/`; `!` is kept, the rest after it trimmed.
    """
    patterns: list[str] = []
    for number, raw in enumerate(data.split(b"\n")):
        line = raw.removesuffix(b"\r")
        if number == 0:
            line = line.removeprefix(_UTF8_BOM)
        text = line.decode("utf-8", "surrogateescape")
        if text.startswith("#"):
            continue
        pattern = text.strip(_GO_SPACE)
        if not pattern:
            continue
        invert = pattern.startswith("!")
        if invert:
            pattern = pattern[1:].strip(_GO_SPACE)
        if pattern:
            pattern = go_clean(pattern)
            if len(pattern) > 1 and pattern.startswith("/"):
                pattern = pattern[1:]
        patterns.append("!" + pattern if invert else pattern)
    return patterns


def go_clean(path: str) -> str:
    """Go's path.Clean (filepath.Clean on Unix); unlike posixpath.normpath, `//a` becomes `/a`."""
    rooted = path.startswith("/")
    parts: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part != "..":
            parts.append(part)
        elif parts and parts[-1] != "..":
            parts.pop()
        elif not rooted:
            parts.append(part)
    cleaned = "/" * rooted + "/".join(parts)
    return cleaned or "."


@dataclass(frozen=True, slots=True, kw_only=True)
class Pattern:
    """One compiled pattern (patternmatcher.Pattern): `text` is cleaned and without its `!`."""

    text: str
    exclusion: bool
    type: MatchType
    go_regexp: str  # what moby's Pattern.compile hands to Go's regexp; "" unless type is REGEXP
    regexp: LinearRegexp | None

    @classmethod
    def compile(cls, text: str, *, exclusion: bool) -> Pattern:
        if not _go_match_syntax_ok(text):
            raise IgnorePatternError(f"syntax error in pattern {text!r}")
        kind, go_regexp = translate(text)
        if kind is not MatchType.REGEXP:
            return cls(text=text, exclusion=exclusion, type=kind, go_regexp="", regexp=None)
        try:
            regexp = compile_go(go_regexp)
        except UnsupportedRegexp as error:
            raise IgnorePatternError(f"{error} in pattern {text!r}") from None
        return cls(text=text, exclusion=exclusion, type=kind, go_regexp=go_regexp, regexp=regexp)

    def match(self, path: str) -> bool:
        """patternmatcher.go Pattern.match: `path` is slash-separated, relative to the context."""
        if self.type is MatchType.EXACT:
            return path == self.text
        if self.type is MatchType.PREFIX:
            return path.startswith(self.text[:-2])
        if self.type is MatchType.SUFFIX:
            suffix = self.text[2:]
            return path.endswith(suffix) or (suffix[0] == "/" and path == suffix[1:])
        assert self.regexp is not None
        return self.regexp.fullmatch(path)


def translate(pattern: str) -> tuple[MatchType, str]:
    """The match type and Go regexp that patternmatcher.go Pattern.compile makes of `pattern`."""
    out, kind, i, step = ["^"], MatchType.EXACT, 0, 0
    while i < len(pattern):
        piece, kind, i = _translate_one(pattern, i, kind, step)
        out.append(piece)
        step += 1
    return kind, ("".join(out) + "$" if kind is MatchType.REGEXP else "")


def _translate_one(pattern: str, i: int, kind: MatchType, step: int) -> tuple[str, MatchType, int]:
    """One step of Pattern.compile's scanner loop from `i`: regexp piece, new type, next index."""
    ch, i = pattern[i], i + 1
    if ch == "*" and pattern[i:i + 1] == "*":
        return _double_star(pattern, i + 1, kind, step)
    if ch in "*?":
        return ("[^/]*" if ch == "*" else "[^/]"), MatchType.REGEXP, i
    if ch in _REGEXP_QUOTED:
        return "\\" + ch, kind, i
    if ch == "\\":
        if i < len(pattern):
            return "\\" + pattern[i], MatchType.REGEXP, i + 1
        return "\\", kind, i
    return ch, (MatchType.REGEXP if ch in "[]" else kind), i


def _double_star(pattern: str, i: int, kind: MatchType, step: int) -> tuple[str, MatchType, int]:
    """`**` ending before `i`: any number of directories, zero included; first, a suffix match."""
    if pattern[i:i + 1] == "/":
        i += 1  # `**/` is read as `**`
    if i < len(pattern):
        piece, kind = "(.*/)?", MatchType.REGEXP
    elif kind is MatchType.EXACT:
        piece, kind = "", MatchType.PREFIX
    else:
        piece, kind = ".*", MatchType.REGEXP
    return piece, (MatchType.SUFFIX if step == 0 else kind), i


def _go_match_syntax_ok(pattern: str) -> bool:
    """Whether Go's filepath.Match accepts `pattern`: `New` rejects the pattern otherwise."""
    i, n = 0, len(pattern)
    while i < n:
        if pattern[i] == "\\":
            if i + 1 >= n:
                return False
            i += 2
        elif pattern[i] == "[":
            i = _go_class_end(pattern, i + 1)
            if i < 0:
                return False
        else:
            i += 1
    return True


def _go_class_end(pattern: str, i: int) -> int:
    """Index after the `]` closing the class that starts at `i` (filepath matchChunk), or -1."""
    if pattern[i:i + 1] == "^":
        i += 1
    ranges = 0
    while not (pattern[i:i + 1] == "]" and ranges > 0):
        i = _go_get_esc(pattern, i)
        if i >= 0 and pattern[i] == "-":
            i = _go_get_esc(pattern, i + 1)
        if i < 0:
            return -1
        ranges += 1
    return i + 1


def _go_get_esc(pattern: str, i: int) -> int:
    """filepath.getEsc: one class character; -1 when missing, bare `-`/`]`, or last."""
    if i >= len(pattern) or pattern[i] in "-]":
        return -1
    if pattern[i] == "\\":
        i += 1
    i += 1
    return i if i < len(pattern) else -1


@dataclass(frozen=True, slots=True, kw_only=True)
class Matcher:
    """An ordered list of patterns where the last one that matches wins (PatternMatcher)."""

    patterns: tuple[Pattern, ...]

    @classmethod
    def from_patterns(cls, patterns: Iterable[str]) -> Matcher:
        """patternmatcher.go New: trim, Clean, split off `!`, check the syntax."""
        compiled: list[Pattern] = []
        for raw in patterns:
            text = raw.strip(_GO_SPACE)
            if not text:
                continue
            text = go_clean(text)
            exclusion = text.startswith("!")
            if exclusion:
                if len(text) == 1:
                    raise IgnorePatternError('illegal exclusion pattern: "!"')
                text = text[1:]
            compiled.append(Pattern.compile(text, exclusion=exclusion))
        return cls(patterns=tuple(compiled))

    @property
    def exclusions(self) -> bool:
        return any(p.exclusion for p in self.patterns)

    def matches(self, path: str) -> bool:
        """Whether `path` is excluded, its parent directories checked (MatchesOrParentMatches)."""
        return self.matches_below(path, ())[0]

    def matches_below(self, path: str, parent: MatchInfo) -> tuple[bool, MatchInfo]:
        """patternmatcher.go MatchesUsingParentResults, as fsutil's walk calls it for each entry.

        `parent` is what this returned for the parent directory, or `()` at the top (then every
        parent directory of `path` is matched instead). A pattern that matched a directory
        matches all below it; a pattern is only tried when it could flip the result so far.
        """
        matched, info = False, []
        for index, pattern in enumerate(self.patterns):
            match = bool(parent) and parent[index]
            if not match:
                if pattern.exclusion != matched:
                    info.append(False)
                    continue
                match = pattern.match(path) or (not parent and self._parent_matches(pattern, path))
            info.append(match)
            if match:
                matched = not pattern.exclusion
        return matched, tuple(info)

    @staticmethod
    def _parent_matches(pattern: Pattern, path: str) -> bool:
        parent = go_clean(path[: path.rfind("/") + 1])  # Go's filepath.Dir
        if parent == ".":
            return False
        dirs = parent.split("/")
        return any(pattern.match("/".join(dirs[:i + 1])) for i in range(len(dirs)))

    def must_walk_excluded_dir(self, path: str) -> bool:
        """Whether fsutil filterFS.Walk descends into the excluded directory `path`.

        It does when an exception could re-include something below: always when an exception
        has a wildcard (other than a trailing `/*` or `/**`), else when one names a path inside.
        """
        # fsutil patternWithoutTrailingGlob
        exceptions = [p.text.removesuffix("/**").removesuffix("/*")
                      for p in self.patterns if p.exclusion]
        if any(_PATTERN_CHARS.intersection(text) for text in exceptions):
            return True
        return any((text + "/").startswith(path + "/") for text in exceptions)
