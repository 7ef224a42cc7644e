"""Strings from outside (an image's labels, a container's output, a registry's answer) made
safe to print: no control characters, so no terminal escapes and no GitHub workflow commands
(`::error::` only acts at the start of a line, and no line break survives)."""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


def printable(text: str, limit: int = 200) -> str:
    """One line: control characters become a space, and at most `limit` characters."""
    flat = _CONTROL.sub(" ", text).strip()
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
