"""What xbuild reads in a Dockerfile without building it: its FROM lines and its labels."""

from __future__ import annotations

from dataclasses import dataclass

DESCRIPTION_LABEL = "org.opencontainers.image.description"


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) per instruction, continuation lines joined, comments dropped."""
    found: list[tuple[str, str]] = []
    pending = ""
    for line in text.splitlines():
        if not pending and line.lstrip().startswith("#"):
            continue
        pending += line.rstrip()
        if pending.endswith("\\"):
            pending = pending[:-1] + " "
            continue
        word, _, rest = pending.strip().partition(" ")
        if word:
            found.append((word.upper(), rest.strip()))
        pending = ""
    return found


@dataclass(frozen=True, slots=True, kw_only=True)
class From:
    image: str  # what the line builds on: an image, an earlier stage or scratch
    stage: str | None = None  # the stage it starts (`AS name`)


def from_lines(text: str) -> tuple[From, ...]:
    """A Dockerfile's FROM lines, in order (flags such as --platform dropped): the one FROM
    parser."""
    found: list[From] = []
    for word, rest in instructions(text):
        words = [w for w in rest.split() if not w.startswith("--")] if word == "FROM" else []
        if words:
            stage = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
            found.append(From(image=words[0], stage=stage))
    return tuple(found)


def labels_description(text: str) -> bool:
    """Whether the Dockerfile sets its own `org.opencontainers.image.description`."""
    return any(word == "LABEL" and DESCRIPTION_LABEL in rest for word, rest in instructions(text))
