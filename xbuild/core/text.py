"""Strings from outside (an image's labels, a container's output, a registry's answer) made
safe to print: no control characters, so no terminal escapes and no GitHub workflow commands
(`::error::` only acts at the start of a line, and no line break survives)."""

from __future__ import annotations

import difflib
import re

_QUOTED = 80  # characters of a bad value a message repeats
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


def printable(text: str, limit: int = 200) -> str:
    """One line: control characters become a space, and at most `limit` characters."""
    flat = _CONTROL.sub(" ", text).strip()
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def quoted(text: str) -> str:
    """`text` as a message quotes it: repr'd, and cut at 80 characters."""
    shown = text if len(text) <= _QUOTED else text[:_QUOTED] + "…"
    return repr(shown)


def suggest(word: str, choices: tuple[str, ...]) -> str:
    """` (did you mean 'x'?)` for the choice closest to `word`, or ""."""
    close = difflib.get_close_matches(word[:100], choices, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""
