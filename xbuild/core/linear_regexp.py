"""The Go regular expressions that `.dockerignore` patterns compile to, matched in linear time.

moby/patternmatcher hands each pattern's regexp to Go's `regexp` (RE2), whose time is linear in
the path. Python's `re` backtracks: `**/**/**/**/a` (`^(.*/)?(.*/)?(.*/)?(.*/)?a$`) or
`*a*a*a*b` took seconds to minutes on a path of a few hundred characters, so a context folder's
`.dockerignore` could hang a runner. Here the regexp is read into steps and run as an NFA (one
set of states per character, Thompson's construction), with the state sets cached as a DFA
would, so each character costs one lookup once the cache is warm: O(len(path) x steps) at worst.

The grammar is only what `dockerignore.translate` produces: literals and `\\x` escapes, classes
`[...]` / `[^...]` (Go's syntax, ranges), `[^/]`, `[^/]*`, `.*`, `(.*/)?`, and `^` (an anchor:
a pattern's own `^` never matches after the start). Go's `.` matches anything but a newline, as
Python's does; a class (`[^/]` too) matches a newline. Match is whole-string.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from enum import Enum

_CLASS_SPECIAL = frozenset("\\]^-[&~|")  # chars that need a backslash inside a Python class
_COMPILED = 256  # regexps kept compiled, shared by equal patterns
_CACHE_LIMIT = 512  # cached steps per regexp, cleared beyond: with _COMPILED, ~30 MB at most


class UnsupportedRegexp(ValueError):
    """A regexp Go would read as something other than literal text (`\\d`, `[[:alpha:]]`)."""


class Kind(Enum):
    CHAR = "char"  # one character the class accepts, once or (repeat) any number of times
    ANCHOR = "anchor"  # `^`: matches only at the start
    DIRS = "dirs"  # `(.*/)?`: nothing, or anything up to and including a slash


@dataclass(frozen=True, slots=True)
class Step:
    kind: Kind
    accepts: re.Pattern[str] | str | None = None  # one character (a str: that one), for CHAR
    repeat: bool = False

    def takes(self, ch: str) -> bool:
        if isinstance(self.accepts, str):
            return ch == self.accepts
        return self.accepts is not None and self.accepts.fullmatch(ch) is not None


_NOT_SLASH = re.compile("[^/]")
_NOT_NEWLINE = re.compile(".")
_ANY_DIRS = Step(Kind.DIRS)
_ANY = Step(Kind.CHAR, _NOT_NEWLINE, repeat=True)


class LinearRegexp:
    """States 0..len(steps) (the last accepts), and len(steps)+1+i inside the `(.*/)?` of step
    i. Each state's closure (what it reaches without reading) is computed once. Steps are
    cached by what a character does, not by the character: every one that is no literal of
    the pattern, no `/` and no newline does the same unless a class tells them apart, so a
    name of thousands of distinct characters costs a few steps, not thousands."""

    __slots__ = ("_cache", "_classes", "_closures", "_special", "_start", "steps")

    def __init__(self, steps: tuple[Step, ...]) -> None:
        self.steps = steps
        self._closures = tuple(self._closure({state}, at_start=False)
                               for state in range(2 * len(steps) + 1))
        self._start = self._closure({0}, at_start=True)
        self._special = frozenset({"/", "\n"}.union(
            s.accepts for s in steps if isinstance(s.accepts, str)))
        self._classes = tuple(dict.fromkeys(
            s.accepts for s in steps if isinstance(s.accepts, re.Pattern)
            and s.accepts not in (_NOT_SLASH, _NOT_NEWLINE)))
        self._cache: dict[tuple[frozenset[int], object], frozenset[int]] = {}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LinearRegexp) and other.steps == self.steps

    def __hash__(self) -> int:
        return hash(self.steps)

    def fullmatch(self, text: str) -> bool:
        states = self._start
        for ch in text:
            key = (states, self._what(ch))
            following = self._cache.get(key)
            if following is None:
                if len(self._cache) >= _CACHE_LIMIT:
                    self._cache.clear()
                following = self._cache[key] = self._advance(states, ch)
            if not following:
                return False
            states = following
        return len(self.steps) in states

    def _what(self, ch: str) -> object:
        """What `ch` does in this pattern: itself if special, else which classes take it."""
        if ch in self._special:
            return ch
        if not self._classes:
            return ""
        return tuple(c.fullmatch(ch) is not None for c in self._classes)

    def _advance(self, states: frozenset[int], ch: str) -> frozenset[int]:
        reached: set[int] = set()
        count = len(self.steps)
        for state in states:
            if state > count:  # inside a `(.*/)?`
                if ch != "\n":
                    reached.add(state)
                if ch == "/":
                    reached.add(state - count)  # the step after that `(.*/)?`
            elif state < count and (step := self.steps[state]).kind is Kind.CHAR \
                    and step.takes(ch):
                reached.add(state if step.repeat else state + 1)
        return frozenset().union(*(self._closures[state] for state in reached))

    def _closure(self, states: set[int], *, at_start: bool) -> frozenset[int]:
        """`states` and every state reached from them without reading a character."""
        todo, seen = list(states), set(states)
        count = len(self.steps)
        while todo:
            state = todo.pop()
            if state >= count:
                continue
            step = self.steps[state]
            following: list[int] = []
            if step.kind is Kind.DIRS:
                following = [state + 1, count + 1 + state]
            elif step.repeat or (step.kind is Kind.ANCHOR and at_start):
                following = [state + 1]
            for new in following:
                if new not in seen:
                    seen.add(new)
                    todo.append(new)
        return frozenset(seen)


@functools.lru_cache(maxsize=_COMPILED)
def compile_go(go_regexp: str) -> LinearRegexp:
    """Read `^...$` as `dockerignore.translate` writes it; UnsupportedRegexp if Go would read
    something there that is not a literal, a class or one of the wildcard forms. Runs of
    wildcards that match the same strings are one step (`(.*/)?(.*/)?` is `(.*/)?`)."""
    body = go_regexp.removeprefix("^").removesuffix("$")
    steps: list[Step] = []
    i = 0
    while i < len(body):
        if body.startswith("(.*/)?", i):
            step, i = _ANY_DIRS, i + 6
        elif body.startswith(".*", i):
            step, i = _ANY, i + 2
        elif body[i] == "^":
            step, i = Step(Kind.ANCHOR), i + 1
        else:
            accepts, i = _one_char(body, i)
            repeat = body[i:i + 1] == "*"
            step, i = Step(Kind.CHAR, accepts, repeat=repeat), i + repeat
        _append(steps, step)
    return LinearRegexp(tuple(steps))


def _append(steps: list[Step], step: Step) -> None:
    """Add `step`, merged with the last one where the two match what one of them does."""
    last = steps[-1] if steps else None
    if last is not None and step.repeat and last == step:
        return  # X*X* is X*; (.*/)?(.*/)? is (.*/)?
    if last is not None and step == _ANY and last == _ANY_DIRS:
        steps[-1] = _ANY  # (.*/)?.* is .*
        return
    if last is not None and step == _ANY_DIRS and last == _ANY_DIRS:
        return
    steps.append(step)


def _one_char(body: str, i: int) -> tuple[re.Pattern[str] | str, int]:
    if body.startswith("[^/]", i):
        return _NOT_SLASH, i + 4
    if body[i] == "[":
        python, i = _python_class(body, i + 1)
        return re.compile(python), i
    if body[i] == "\\":
        return _escaped(body, i), i + 2
    return body[i], i + 1


def _python_class(go_regexp: str, i: int) -> tuple[str, int]:
    """The Python form of the Go class starting after `[` at `i`, and the index after it."""
    parts = ["["]
    if go_regexp[i:i + 1] == "^":
        parts.append("^")
        i += 1
    first = True  # Go reads a `]` right after `[` or `[^` as a literal
    while first or go_regexp[i:i + 1] != "]":
        if i >= len(go_regexp):
            raise UnsupportedRegexp("missing ]")
        if go_regexp.startswith("[:", i) and ":]" in go_regexp[i + 2:]:
            raise UnsupportedRegexp("POSIX class is not supported")
        first = False
        lo, i = _class_char(go_regexp, i)
        hi = lo
        if go_regexp[i:i + 1] == "-" and go_regexp[i + 1:i + 2] not in ("", "]"):
            hi, i = _class_char(go_regexp, i + 1)
            if hi < lo:
                raise UnsupportedRegexp(f"invalid range {lo}-{hi}")
        parts.append(_in_class(lo) if hi == lo else f"{_in_class(lo)}-{_in_class(hi)}")
    return "".join(parts) + "]", i + 1


def _class_char(go_regexp: str, i: int) -> tuple[str, int]:
    if go_regexp[i] == "\\":
        return _escaped(go_regexp, i), i + 2
    return go_regexp[i], i + 1


def _in_class(ch: str) -> str:
    return "\\" + ch if ch in _CLASS_SPECIAL else ch


def _escaped(go_regexp: str, i: int) -> str:
    """The literal that Go's regexp reads for the escape at `i`, if it is one (parseEscape)."""
    ch = go_regexp[i + 1:i + 2]
    if ch and ch.isascii() and not ch.isalnum():
        return ch
    raise UnsupportedRegexp(f"escape \\{ch} is not supported")
